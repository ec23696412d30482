import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { decodeImage } from '../src/image/decode.js';
import { toRgba8 } from '../src/image/image.js';
import { psnr, ssim } from '../src/image/metrics.js';
import { encodePng } from '../src/image/png.js';
import { resizeLanczos3 } from '../src/image/resize.js';
import { Rng } from '../src/util/rng.js';
import { closeRunners, testRunner } from './gpu-helpers.js';
import { REPO, requireTool, runCli, SKIMAGE_DATA, SYSTEM_PYTHON, tempDir } from './helpers.js';

after(closeRunners);

test('PSNR of a known error; SSIM agrees with scikit-image (gaussian window, σ 1.5)', (t) => {
  const a = Float64Array.from({ length: 12 }, (_, i) => i / 12);
  const b = a.map((v, i) => (i % 4 === 3 ? 0 : v + 0.1)); // RGB off by 0.1, alpha off by anything
  assert.ok(Math.abs(psnr(a, b, 4, [0, 1, 2]) - 20) < 1e-9);
  assert.equal(psnr(a, a, 4, [0, 1, 2]), Infinity);
  if (!requireTool(t, SKIMAGE_DATA, 'python3-skimage')) return;
  const rng = new Rng(3);
  const W = 31;
  const H = 23;
  const x = Float64Array.from({ length: W * H * 3 }, () => rng.next());
  const y = x.map((v) => Math.min(1, Math.max(0, v + (rng.next() - 0.5) * 0.3)));
  const py = `
import sys, json, numpy as np
from skimage.metrics import structural_similarity
d = json.load(sys.stdin); a = np.array(d['a']).reshape(${H}, ${W}, 3); b = np.array(d['b']).reshape(${H}, ${W}, 3)
print(structural_similarity(a, b, channel_axis=2, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0))`;
  const ref = Number(execFileSync(SYSTEM_PYTHON, ['-c', py], { input: JSON.stringify({ a: Array.from(x), b: Array.from(y) }) }).toString());
  const mine = ssim(x, y, W, H, 3, [0, 1, 2]);
  assert.ok(Math.abs(mine - ref) < 1e-9, `ssim ${mine} vs scikit-image ${ref}`);
  assert.ok(Math.abs(ssim(x, x, W, H, 3, [0, 1, 2]) - 1) < 1e-12);
  assert.ok(Number.isNaN(ssim(x, y, 10, 10, 3, [0])), 'smaller than the window');
});

test('cnnv3 eval on real photos: per-sample and mean scores, identity baseline, JSON; CPU and GPU agree', async (t) => {
  const dir = tempDir(t);
  const ds = join(dir, 'ds');
  for (const name of ['cat', 'coffee']) {
    const r = await runCli(['pack-photo', '--photo', join(REPO, `examples/photos/${name}.png`), '--target', join(REPO, `examples/targets/${name}_styled.png`), '--output', join(ds, `sample_${name}`)]);
    assert.equal(r.code, 0, r.err);
  }
  const w = ['--weights', join(REPO, 'examples/weights/cnn_v3_weights.bin'), '--film', join(REPO, 'examples/weights/cnn_v3_film_mlp.bin'), '--input', ds, '--cond', '0,0,0,0.5,0.5'];
  const text = await runCli(['eval', ...w]);
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /sample_cat +\d+\.\d\d 0\.\d{4} +\d+\.\d\d +\d+\.\d\d \/ 0\.\d{4}\n/);
  assert.match(text.out, /The network beats the identity baseline by \d+\.\d\d dB PSNR/);
  const r = await runCli(['eval', ...w, '--json']);
  const cpu = JSON.parse(r.out) as { samples: Array<{ name: string; psnr: number; ssim: number }>; mean: { psnr: number; ssim: number }; identity: { psnr: number; ssim: number } };
  assert.deepEqual(cpu.samples.map((s) => s.name), ['sample_cat', 'sample_coffee']);
  assert.ok(cpu.mean.psnr > cpu.identity.psnr + 5, `the example model adds ${cpu.mean.psnr - cpu.identity.psnr} dB`);
  assert.ok(cpu.identity.ssim > 0 && cpu.identity.ssim < 1);
  if (!(await testRunner(t, 'dawn'))) return;
  const g = await runCli(['eval', ...w, '--json', '--device', 'gpu']);
  assert.equal(g.code, 0, g.err);
  const gpu = JSON.parse(g.out) as typeof cpu;
  // The GPU quantises features and stores f16 nodes: a small, bounded difference in PSNR.
  for (let i = 0; i < 2; i++) assert.ok(Math.abs(gpu.samples[i]!.psnr - cpu.samples[i]!.psnr) < 0.5, `${gpu.samples[i]!.psnr} vs ${cpu.samples[i]!.psnr}`);
  const bad = await runCli(['eval', '--weights', join(REPO, 'examples/weights/cnn_v3_film_mlp.bin'), '--input', ds]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /cnn_v3_film_mlp\.bin: expected 3928 bytes, got 3104/);
  const none = await runCli(['eval', ...w.slice(0, 4), '--input', dir + '/empty']);
  assert.match(none.err, /no such directory/);
});

test('cnnv3 eval --ablate: the bundled photo model needs its albedo; prev (always 0 in photos) costs nothing; GPU refused', async (t) => {
  // Two real photos shrunk to 80 px wide (with their targets): nine float64 passes each stay quick.
  const data = tempDir(t);
  const small = (src: string, dst: string) => {
    const r = decodeImage(readFileSync(src), src);
    const rgba = toRgba8(r);
    const h = Math.round((r.height * 80) / r.width);
    writeFileSync(dst, encodePng({ width: 80, height: h, channels: 4, depth: 8, data: resizeLanczos3(rgba, r.width, r.height, 4, 80, h) }));
  };
  for (const name of ['cat', 'coffee']) {
    small(join(REPO, `examples/photos/${name}.png`), join(data, `${name}.png`));
    small(join(REPO, `examples/targets/${name}_styled.png`), join(data, `${name}_styled.png`));
    const packed = await runCli(['pack-photo', join(data, `${name}.png`), join(data, `${name}_styled.png`), join(data, 'set', `sample_${name}`)]);
    assert.equal(packed.code, 0, packed.err);
  }
  const w = ['--weights', join(REPO, 'examples/weights/cnn_v3_weights.bin'), '--film', join(REPO, 'examples/weights/cnn_v3_film_mlp.bin'), '--input', join(data, 'set')];
  const r = await runCli(['eval', ...w, '--ablate', '--json']);
  assert.equal(r.code, 0, r.err);
  const report = JSON.parse(r.out) as { full_psnr: number; groups: Array<{ group: string; drop: number; psnr: number }> };
  const drop = (g: string) => report.groups.find((x) => x.group === g)!.drop;
  assert.equal(report.groups.length, 8);
  assert.equal(report.groups[0]!.group, 'albedo', 'the largest loss comes first');
  assert.ok(drop('albedo') > 3, `albedo: −${drop('albedo')} dB`);
  assert.equal(drop('prev'), 0, 'a group that is zero anyway');
  const text = await runCli(['eval', ...w, '--ablate']);
  assert.match(text.out, /every input: \S+ dB PSNR\. Zeroing one channel group at a time:\n {2}albedo +ch 0,1,2 /);
  const gpu = await runCli(['eval', ...w, '--ablate', '--device', 'gpu']);
  assert.equal(gpu.code, 2);
  assert.match(gpu.err, /--ablate runs on the CPU reference/);
});
