import assert from 'node:assert/strict';
import { test } from 'node:test';
import { build } from 'esbuild';
import { REPO } from './helpers.js';

test('the library entry bundles for the browser with no Node built-in reachable', async () => {
  const result = await build({
    entryPoints: [`${REPO}src/index.ts`],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    logLevel: 'silent',
    metafile: true,
  });
  const inputs = Object.keys(result.metafile.inputs);
  const nodeOnly = inputs.filter((f) => /-node\.ts$|\/cli\//.test(f));
  assert.deepEqual(nodeOnly, [], 'Node-only modules in the browser bundle');
  assert.ok(inputs.some((f) => f.includes('dataset/features.ts')));
  assert.ok(inputs.some((f) => f.includes('demo/seq.ts')) && inputs.some((f) => f.includes('gpu/cnn-effect.ts')) && inputs.some((f) => f.includes('exr/exr.ts')));
  assert.ok(result.outputFiles[0]!.text.length > 1000);
});
