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
    // @gltf-transform/core (GBufferEffect's glTF reader) holds a lazy `import('node:fs')` inside
    // its NodeIO class, which nothing here constructs; left external, checked below.
    external: ['node:fs', 'node:path'],
  });
  const inputs = Object.keys(result.metafile.inputs);
  const nodeOnly = inputs.filter((f) => /-node\.ts$|\/cli\//.test(f));
  assert.deepEqual(nodeOnly, [], 'Node-only modules in the browser bundle');
  const externals = Object.entries(result.metafile.inputs).flatMap(([file, info]) => info.imports.filter((i) => i.external).map((i) => `${file} → ${i.path}`));
  assert.deepEqual(externals.sort(), ['node_modules/@gltf-transform/core/dist/index.js → node:fs', 'node_modules/@gltf-transform/core/dist/index.js → node:path']);
  for (const m of ['demo/seq.ts', 'effect/cnn-effect.ts', 'train/loop.ts', 'train/gpu/gpu-engine.ts', 'train/cpu/cpu-engine.ts', 'exr/exr.ts', 'demo/engine.ts', 'demo/effects.ts', 'demo/gbuffer/gbuffer-effect.ts']) {
    assert.ok(inputs.some((f) => f.includes(m)), `${m} is in the bundle`);
  }
  assert.ok(result.outputFiles[0]!.text.length > 1000);
});

test('cnn-v3/effect reaches no other package and no Node built-in: a page loads it from dist/ by import map', async () => {
  const result = await build({
    entryPoints: [`${REPO}src/embed.ts`],
    bundle: true,
    platform: 'neutral',
    format: 'esm',
    write: false,
    logLevel: 'silent',
    metafile: true,
  });
  const inputs = Object.keys(result.metafile.inputs);
  assert.deepEqual(inputs.filter((f) => !f.startsWith('src/')), [], 'files from outside src/ (other packages)');
  assert.deepEqual(inputs.filter((f) => /-node\.ts$|\/cli\/|\/train\//.test(f)), [], 'Node-only or trainer modules');
  assert.ok(inputs.includes('src/effect/cnn-effect.ts') && inputs.includes('src/effect/photo-planes-pass.ts'));
});
