// bench:infer (dist/bench/infer.js) at a tiny size: Dawn's GPU times per precision and the frame
// time in headless Chromium through the browser's WebGPU (SwiftShader here), in its JSON.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { SWIFTSHADER_ICD } from '../src/gpu/device-node.js';
import { CHROMIUM } from '../src/jobs/runner-node.js';
import { REPO, requireTool } from './helpers.js';

const BENCH = join(REPO, 'dist/bench/infer.js');
const run = (args: string[]) =>
  promisify(execFile)(process.execPath, [BENCH, ...args], { cwd: REPO, maxBuffer: 1 << 24 }).then(
    (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
  );

interface Spread {
  median: number;
  p10: number;
  p90: number;
}

test('bench:infer times every precision the adapter offers, and the frame in headless Chromium', async (t) => {
  if (!existsSync(BENCH)) return t.skip('dist/bench/infer.js not built: npm run build');
  if (!requireTool(t, SWIFTSHADER_ICD, 'chromium') || !requireTool(t, CHROMIUM, 'chromium')) return;
  const r = await run(['--sizes=32x18', '--frames=3', '--json']);
  assert.equal(r.code, 0, r.err);
  const report = JSON.parse(r.out) as {
    shaderF16: boolean;
    results: Array<{ precision: string; total: Spread }>;
    chromium: { adapter: string; results: Array<{ width: number; height: number; precision: string; samples: number; frame: Spread }> };
  };
  assert.deepEqual(report.results.map((x) => x.precision), report.shaderF16 ? ['f32', 'f16'] : ['f32']);
  const c = report.chromium.results;
  assert.equal(c.length, report.results.length, JSON.stringify(report.chromium));
  assert.deepEqual([c[0]!.width, c[0]!.height, c[0]!.precision, c[0]!.samples], [32, 18, 'f32', 3]);
  assert.ok(c[0]!.frame.median > 0 && c[0]!.frame.p10 <= c[0]!.frame.median && c[0]!.frame.median <= c[0]!.frame.p90);

  // f16 arithmetic on an adapter without shader-f16: one line naming the feature, no stack.
  if (report.shaderF16) return;
  const f16 = await run(['--sizes=32x18', '--frames=3', '--precision=f16', '--no-chromium']);
  assert.equal(f16.code, 1);
  assert.match(f16.err, /^bench:infer: precision f16 needs the WebGPU feature 'shader-f16'/m);
  assert.doesNotMatch(f16.err, /\n\s+at /);
});
