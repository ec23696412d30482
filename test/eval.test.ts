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
import { formatStability } from '../src/demo/stability.js';
import { measureSequence } from '../src/eval/sequence.js';
import { exportWeights } from '../src/export/export.js';
import { encodeMotion } from '../src/dataset/motion.js';
import { makeModelConfig } from '../src/model/config.js';
import { buildParamTable } from '../src/model/params.js';
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

test('eval --sequence core: prev is the previous output (black first), per-frame change, drift and PSNR with and without feedback', () => {
  // Two pixels, albedo 0.4 throughout; the model averages albedo and prev: fed back it walks
  // 0.2 → 0.3 → 0.35, alone it stays at 0.2. Target 0.25.
  const n = 2;
  const albedo = new Float32Array(n * 4).fill(0.4);
  const target = new Float64Array(n * 4).fill(0.25);
  const frames = ['f0', 'f1', 'f2'].map((name) => ({ name, width: n, height: 1, albedo, psnr: (o: ArrayLike<number>) => psnr(Float64Array.from(o), target, 4, [0, 1, 2]) }));
  const prevs: Array<number[] | undefined> = [];
  const r = measureSequence(frames, (_i, prev) => {
    prevs.push(prev && Array.from(prev));
    return Float32Array.from({ length: n * 4 }, (_, k) => (k % 4 === 3 ? 1 : 0.5 * 0.4 + 0.5 * (prev ? prev[(k >> 2) * 3 + (k % 4)]! : 0)));
  });
  const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-4, `${what}: ${a} vs ${b}`);
  // Calls: frame 0 once (black prev), then for each later frame fed back, then alone.
  assert.deepEqual(prevs.map((p) => p?.map((v) => +v.toFixed(4))), [undefined, [0.2, 0.2, 0.2, 0.2, 0.2, 0.2], undefined, [0.3, 0.3, 0.3, 0.3, 0.3, 0.3], undefined]);
  const fed = r.stability.feedback;
  assert.ok(Number.isNaN(fed.frames[0]!.output), 'the first frame has no pair');
  near(fed.frames[1]!.output, 0.1, 'Δ frame 1');
  near(fed.frames[2]!.output, 0.05, 'Δ frame 2');
  assert.deepEqual(fed.frames.map((f) => f.albedo).slice(1), [0, 0]);
  near(fed.total.output, 0.075, 'mean output Δ');
  assert.equal(r.stability.no_feedback.total.output, 0);
  assert.equal(fed.still.length, 1);
  near(fed.still[0]!.lastPsnr, 20 * Math.log10(1 / 0.15), 'drift: last vs first');
  near(fed.still[0]!.lastVsSecondPsnr, 20 * Math.log10(1 / 0.05), 'drift: last vs second');
  assert.equal(r.stability.no_feedback.still[0]!.lastPsnr, Infinity);
  const p20 = 20 * Math.log10(1 / 0.05);
  assert.deepEqual(r.frames.map((f) => f.name), ['f0', 'f1', 'f2']);
  near(r.frames[2]!.psnr, 20, 'frame 2 fed back (0.35 vs 0.25)');
  near(r.mean.psnr, (2 * p20 + 20) / 3, 'mean fed back');
  near(r.mean.psnr_no_feedback, p20, 'mean alone');
  assert.match(formatStability(fed, 'frame'), /^ +frame +pairs +output Δ/m);
  assert.match(formatStability(fed, 'frame'), /^ +2 +1 +0\.05000 +0\.00000 +—$/m);
  assert.match(formatStability(fed, 'frame'), /Drift on a still shot from frame 0 \(3 frames/);
});

test('cnnv3 eval --sequence: frames in numeric order; a model whose output is its albedo has flicker ratio 1; one sample or mixed sizes refused', async (t) => {
  const dir = tempDir(t);
  // A residual model with zero weights: y = clamp(albedo + tanh(0)) = the albedo, whatever prev holds.
  const config = makeModelConfig([4, 8], 5, 'residual');
  const wPath = join(dir, 'w.bin');
  writeFileSync(wPath, exportWeights(config, new Float32Array(buildParamTable(config).total)).weights);
  const photo = (name: string, w: number, h: number, v: (i: number) => number) => {
    const p = join(dir, `${name}.png`);
    writeFileSync(p, encodePng({ width: w, height: h, channels: 3, depth: 8, data: Uint8Array.from({ length: w * h * 3 }, (_, i) => v(i)) }));
    return p;
  };
  const a = photo('a', 8, 6, (i) => (i * 37) % 256);
  const b = photo('b', 8, 6, (i) => (i * 53 + 100) % 256);
  const seq = join(dir, 'seq');
  // sample_10 (the changed frame) sorts last by number, between 1 and 2 by letters.
  for (const [name, p] of [['sample_1', a], ['sample_2', a], ['sample_10', b]] as const) {
    const r = await runCli(['pack-photo', p, a, join(seq, name)]);
    assert.equal(r.code, 0, r.err);
  }
  const r = await runCli(['eval', '--weights', wPath, '--input', seq, '--sequence', '--json']);
  assert.equal(r.code, 0, r.err);
  type Report = { frames: Array<{ name: string; psnr: number | null; psnr_no_feedback: number | null }>; stability: Record<'feedback' | 'no_feedback', { total: { output: number; albedo: number; pairs: number }; frames: Array<{ output: number | null; albedo: number | null }>; still: Array<{ frames: number; lastPsnr: number | null }> }> };
  const rep = JSON.parse(r.out) as Report;
  assert.deepEqual(rep.frames.map((f) => f.name), ['sample_1', 'sample_2', 'sample_10']);
  const fed = rep.stability.feedback;
  assert.equal(fed.total.pairs, 2);
  assert.deepEqual(fed.frames.map((f) => f.output === null ? null : f.output > 0), [null, false, true], 'A, A, B: still, then a change');
  assert.ok(fed.total.albedo > 0.05);
  assert.ok(Math.abs(fed.total.output / fed.total.albedo - 1) < 1e-6, `ratio ${fed.total.output / fed.total.albedo}`);
  assert.deepEqual(fed.still.map((s) => [s.frames, s.lastPsnr]), [[2, null]], 'frames 1–2: identical output');
  for (const f of rep.frames) assert.equal(f.psnr, f.psnr_no_feedback, 'prev does not reach this model');
  const text = await runCli(['eval', '--weights', wPath, '--input', seq, '--sequence']);
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /^ +frame +PSNR fed back +PSNR alone$/m);
  assert.match(text.out, /^ +all +2 +[\d.]+ +[\d.]+ +1\.000$/m);
  assert.match(text.out, /ratio = output Δ \/ albedo Δ: 1\.000/);
  assert.match(text.out, /Without feedback \(prev = 0\): output Δ [\d.]+, ratio 1\.000/);
  assert.match(text.out, /^Warping error E_warp: not available \(sample_1 has no motion\.bin/m);
  assert.equal((JSON.parse(r.out) as { warp: unknown }).warp, null);

  const one = join(dir, 'one');
  assert.equal((await runCli(['pack-photo', a, a, join(one, 'sample_1')])).code, 0);
  const few = await runCli(['eval', '--weights', wPath, '--input', one, '--sequence']);
  assert.equal(few.code, 1);
  assert.match(few.err, /--sequence: .*one holds 1 sample; a sequence needs at least 2 frames/);
  assert.equal((await runCli(['pack-photo', photo('c', 4, 4, () => 9), photo('c', 4, 4, () => 9), join(seq, 'sample_11')])).code, 0);
  const mixed = await runCli(['eval', '--weights', wPath, '--input', seq, '--sequence']);
  assert.equal(mixed.code, 1);
  assert.match(mixed.err, /--sequence: sample_11 is 4×4 but sample_1 is 8×6: the frames of a sequence must share one size/);
  const gpu = await runCli(['eval', '--weights', wPath, '--input', seq, '--sequence', '--device', 'gpu']);
  assert.equal(gpu.code, 2);
  assert.match(gpu.err, /--sequence runs on the CPU reference/);
});

test('cnnv3 eval --sequence with motion.bin: E_warp per frame and over the clip, fed back, alone and of the targets; a damaged motion.bin named in one line', async (t) => {
  const dir = tempDir(t);
  // Output = albedo (a zero residual model), and the albedo slides by (2, 1) pixels a frame
  // exactly as its motion says: E_warp 0. The targets slide the same way but brighten by 20
  // levels a frame: their E_warp is (20/255)² · 3 over the pixels that stay in the frame.
  const config = makeModelConfig([4, 8], 5, 'residual');
  const wPath = join(dir, 'w.bin');
  writeFileSync(wPath, exportWeights(config, new Float32Array(buildParamTable(config).total)).weights);
  const [w, h, vx, vy] = [12, 9, 2, 1];
  const pattern = (x: number, y: number) => (x * 37 + y * 91 + x * y * 5 + 10_000) % 200;
  const seq = join(dir, 'seq');
  for (let i = 0; i < 3; i++) {
    const img = (lift: number) => {
      const p = join(dir, `f${i}-${lift}.png`);
      const data = new Uint8Array(w * h * 3);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = pattern(x - vx * i + c, y - vy * i) + lift;
      writeFileSync(p, encodePng({ width: w, height: h, channels: 3, depth: 8, data }));
      return p;
    };
    const sample = join(seq, `sample_${i + 1}`);
    assert.equal((await runCli(['pack-photo', img(0), img(20 * i), sample])).code, 0);
    const motion = new Float32Array(w * h * 4);
    for (let p = 0; p < w * h; p++) motion.set([-vx, -vy, vx, vy], p * 4);
    writeFileSync(join(sample, 'motion.bin'), encodeMotion({ width: w, height: h, data: motion }));
  }
  const r = await runCli(['eval', '--weights', wPath, '--input', seq, '--sequence', '--json']);
  assert.equal(r.code, 0, r.err);
  type Warp = { feedback: number | null; no_feedback: number | null; target: number | null; valid: number | null };
  const rep = JSON.parse(r.out) as { frames: Array<{ e_warp: Warp }>; warp: Warp & { pairs: number; occlusion: string } };
  const floor = 3 * (20 / 255) ** 2;
  const valid = ((w - vx) * (h - vy)) / (w * h);
  assert.deepEqual(rep.frames[0]!.e_warp, { feedback: null, no_feedback: null, target: null, valid: null }, 'no pair on the first frame');
  for (const f of rep.frames.slice(1)) {
    assert.ok(f.e_warp.feedback! < 1e-12 && f.e_warp.no_feedback! < 1e-12, JSON.stringify(f.e_warp));
    assert.ok(Math.abs(f.e_warp.target! - floor) < 1e-9, `target ${f.e_warp.target} vs ${floor}`);
    assert.equal(f.e_warp.valid, valid);
  }
  assert.equal(rep.warp.pairs, 2);
  assert.equal(rep.warp.occlusion, 'forward-backward');
  assert.ok(Math.abs(rep.warp.target! - floor) < 1e-9);

  const text = await runCli(['eval', '--weights', wPath, '--input', seq, '--sequence']);
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /^ +frame +PSNR fed back +PSNR alone +E_warp fed back +E_warp alone +E_warp target +mask$/m);
  assert.match(text.out, /^ +sample_1 +[\d.]+ +[\d.]+ +n\/a +n\/a +n\/a +-$/m);
  assert.match(text.out, /^ +sample_2 +[\d.]+ +[\d.]+ +0\.00000 +0\.00000 +0\.01845 +74%$/m);
  assert.match(text.out, /^ +mean +[\d.]+ +[\d.]+ +0\.00000 +0\.00000 +0\.01845 +74%$/m);
  assert.match(text.out, /^Warping error E_warp \(Lai et al\. 2018.*over 2 frame pairs.*fed back 0\.00000, alone 0\.00000, targets 0\.01845/m);

  // Damaged files: one line naming the file, exit 1, no stack.
  const motionPath = join(seq, 'sample_2', 'motion.bin');
  const good = readFileSync(motionPath);
  const bad: Array<[Uint8Array, RegExp]> = [
    [good.subarray(0, good.length - 7), /^cnnv3: .*sample_2\/motion\.bin: truncated: \d+ bytes, but a 12×9 motion field takes 1744\n$/],
    [encodeMotion({ width: 6, height: 9, data: new Float32Array(6 * 9 * 4) }), /^cnnv3: .*sample_2\/motion\.bin: is 6×9 but its sample is 12×9\n$/],
  ];
  for (const [bytes, re] of bad) {
    writeFileSync(motionPath, bytes);
    const e = await runCli(['eval', '--weights', wPath, '--input', seq, '--sequence']);
    assert.equal(e.code, 1, e.err);
    assert.match(e.err, re);
    assert.doesNotMatch(e.err, /\n {4}at /, 'no stack trace');
  }
});
