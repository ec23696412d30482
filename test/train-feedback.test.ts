// --feedback-p: patches whose prev.rgb is the network's own output for one or two earlier views
// (no gradient through it), the views' draws, and the CLI's rules (recorded in the checkpoint).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { NUM_FEATURES, CH } from '../src/dataset/features.js';
import { OUT_CHANNELS, makeModelConfig } from '../src/model/config.js';
import { FastModel } from '../src/model/fast.js';
import { initParams } from '../src/model/init.js';
import { buildParamTable } from '../src/model/params.js';
import { CpuTrainEngine } from '../src/train/cpu/cpu-engine.js';
import { localEngine } from '../src/train/cpu/engine.js';
import { addAlbedoNoise, cropHwc, drawFeedbackViews, exposePatch, FEEDBACK_MAX_EXPOSURE, FEEDBACK_MAX_SHIFT, patchOrigin, setPrev } from '../src/train/patches.js';
import { Rng } from '../src/util/rng.js';
import { REPO, runCli, tempDir } from './helpers.js';

test('feedback views: one or two earlier frames, shifts growing by at most 3 px a frame, exposure within ±5 %', () => {
  const rng = new Rng(5);
  const counts = [0, 0, 0];
  for (let i = 0; i < 2000; i++) {
    const views = drawFeedbackViews(rng);
    counts[views.length]!++;
    views.forEach((v, k) => {
      const frames = views.length - k; // the oldest view is the furthest away
      assert.ok(Math.abs(v.dx) <= FEEDBACK_MAX_SHIFT * frames && Math.abs(v.dy) <= FEEDBACK_MAX_SHIFT * frames, JSON.stringify(views));
      assert.ok(Math.abs(v.exposure - 1) <= FEEDBACK_MAX_EXPOSURE);
    });
  }
  assert.ok(counts[1]! > 800 && counts[2]! > 800, `unrolls of one and two steps both occur: ${counts.join(', ')}`);

  const x = new Float32Array(2 * NUM_FEATURES).fill(0.9);
  x[CH.mip1] = 0.99;
  exposePatch(x, 2, 1.05);
  assert.equal(x[CH.albedo], Math.fround(Math.fround(0.9) * 1.05));
  assert.equal(x[CH.mip1], 1, 'clamped to 1');
  assert.equal(x[CH.normal], Math.fround(0.9), 'geometry is not exposed');
  setPrev(x, 2, [0.1, 0.2, 0.3, 1, 0.4, 0.5, 0.6, 1]);

  // Noise: albedo only, within ±σ, clamped, and different per pixel.
  const n = 500;
  const y = new Float32Array(n * NUM_FEATURES).fill(0.5);
  for (let p = 0; p < 10; p++) y[p * NUM_FEATURES + CH.albedo] = 0.99;
  addAlbedoNoise(y, n, 0.04, new Rng(9));
  const albedo = Array.from({ length: n }, (_, p) => y[p * NUM_FEATURES + CH.albedo + 1]!);
  assert.ok(albedo.every((v) => Math.abs(v - 0.5) <= 0.04 + 1e-6) && new Set(albedo).size > n / 2);
  assert.ok(Array.from({ length: 10 }, (_, p) => y[p * NUM_FEATURES + CH.albedo]!).every((v) => v <= 1));
  assert.ok(Array.from({ length: n }, (_, p) => y[p * NUM_FEATURES + CH.mip1]!).every((v) => v === 0.5), 'the means and geometry are left alone');
  assert.deepEqual(Array.from(x.subarray(NUM_FEATURES + CH.prev, NUM_FEATURES + CH.prev + 3)), [0.4, 0.5, 0.6].map(Math.fround));
});

test('with --feedback-p 1 every patch\'s prev.rgb is the model\'s own output for the earlier view(s), computed with the step\'s weights', async () => {
  // A still, black, flat image: every earlier view is the same patch whatever its shift and
  // exposure, so prev must be out(view, prev = 0) after one step of unroll, or
  // out(view, prev = out(view, prev = 0)) after two.
  const side = 8;
  const table = buildParamTable(makeModelConfig([4, 8], 5));
  const features = new Float32Array(side * side * NUM_FEATURES);
  for (let p = 0; p < side * side; p++) features[p * NUM_FEATURES + CH.shadow] = 1;
  const image = { name: 'flat', width: side, height: side, features, target: new Float32Array(side * side * OUT_CHANNELS).fill(0.5), centres: [{ x: 4, y: 4 }] };
  const gradients = localEngine(table, 1, side);
  const engine = new CpuTrainEngine(table, [image], gradients, { batchSize: 1, side, channelDropoutP: 0, feedbackP: 1 });
  const params = initParams(table, 3);
  engine.setState({ params, m: new Float32Array(table.total), v: new Float32Array(table.total), step: 0 });
  await engine.epoch({ order: [[0, 0]], lr: 0, rng: new Rng(11) }, () => {});

  const input = gradients.buffers.inputs.subarray(0, side * side * NUM_FEATURES);
  const cond = Array.from(gradients.buffers.conds.subarray(0, 5));
  const model = new FastModel(table);
  model.setParams(params);
  const view = features.slice();
  const once = model.forward(view, side, side, cond).slice();
  setPrev(view, side * side, once);
  const twice = model.forward(view, side, side, cond).slice();
  const prevOf = (rgba: Float32Array) => Array.from({ length: side * side * 3 }, (_, i) => rgba[Math.floor(i / 3) * 4 + (i % 3)]!);
  const got = Array.from({ length: side * side * 3 }, (_, i) => input[Math.floor(i / 3) * NUM_FEATURES + CH.prev + (i % 3)]!);
  const same = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]!) < 1e-6);
  assert.ok(got.some((v) => v > 0.01), 'prev.rgb is no longer zero');
  assert.ok(same(got, prevOf(once)) || same(got, prevOf(twice)), `prev.rgb ${got.slice(0, 3).join(', ')} is neither unroll (${prevOf(once).slice(0, 3).join(', ')} / ${prevOf(twice).slice(0, 3).join(', ')})`);
  await engine.close();
});

test('--feedback-still 1: the earlier views are the same view (no shift, no exposure change), so prev.rgb is the output there', async () => {
  // A textured image, so any shift or exposure change would show in prev.rgb.
  const side = 8;
  const W = 24;
  const table = buildParamTable(makeModelConfig([4, 8], 5));
  const features = new Float32Array(W * W * NUM_FEATURES);
  for (let p = 0; p < W * W; p++) {
    for (let c = 0; c < 3; c++) features[p * NUM_FEATURES + CH.albedo + c] = ((p * (c + 3)) % 17) / 17;
    features[p * NUM_FEATURES + CH.shadow] = 1;
  }
  const image = { name: 'texture', width: W, height: W, features, target: new Float32Array(W * W * OUT_CHANNELS).fill(0.5), centres: [{ x: 12, y: 12 }] };
  const run = async (feedbackStill: number) => {
    const gradients = localEngine(table, 1, side);
    const engine = new CpuTrainEngine(table, [image], gradients, { batchSize: 1, side, channelDropoutP: 0, feedbackP: 1, feedbackStill });
    const params = initParams(table, 5);
    engine.setState({ params, m: new Float32Array(table.total), v: new Float32Array(table.total), step: 0 });
    await engine.epoch({ order: [[0, 0]], lr: 0, rng: new Rng(13) }, () => {});
    const input = gradients.buffers.inputs.subarray(0, side * side * NUM_FEATURES);
    const got = Array.from({ length: side * side * 3 }, (_, i) => input[Math.floor(i / 3) * NUM_FEATURES + CH.prev + (i % 3)]!);
    const cond = Array.from(gradients.buffers.conds.subarray(0, 5));
    await engine.close();
    const model = new FastModel(table);
    model.setParams(params);
    const view = new Float32Array(side * side * NUM_FEATURES);
    const o = patchOrigin(12, side, W);
    cropHwc(features, W, W, NUM_FEATURES, o, o, side, view);
    const once = model.forward(view, side, side, cond).slice();
    setPrev(view, side * side, once);
    const twice = model.forward(view, side, side, cond).slice();
    const prevOf = (rgba: Float32Array) => Array.from({ length: side * side * 3 }, (_, i) => rgba[Math.floor(i / 3) * 4 + (i % 3)]!);
    const same = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]!) < 1e-6);
    return same(got, prevOf(once)) || same(got, prevOf(twice));
  };
  assert.equal(await run(1), true, 'still: prev.rgb is the output of the same view');
  // Moved views (the default): with this seed the earlier view is shifted, and prev.rgb differs.
  assert.equal(await run(0), false, 'moved: prev.rgb comes from another place');
});

test('--temporal-weight W trains a feedback patch on t + W/(1+W)·(y_prev − t_prev): the output changes as much as its target does', async () => {
  // The flat black image again, its target black with alpha 0.5 (the previous view's is the same,
  // exposure leaves black black): t′ = (W/(1+W))·y_prev for RGB, 0.5 + (W/(1+W))·(y_prev.a − 0.5) for alpha.
  const side = 8;
  const px = side * side;
  const table = buildParamTable(makeModelConfig([4, 8], 5));
  const features = new Float32Array(px * NUM_FEATURES);
  const target = new Float32Array(px * OUT_CHANNELS);
  for (let p = 0; p < px; p++) {
    features[p * NUM_FEATURES + CH.shadow] = 1;
    target[p * OUT_CHANNELS + 3] = 0.5;
  }
  const image = { name: 'flat', width: side, height: side, features, target, centres: [{ x: 4, y: 4 }] };
  const gradients = localEngine(table, 1, side);
  const W = 3;
  const engine = new CpuTrainEngine(table, [image], gradients, { batchSize: 1, side, channelDropoutP: 0, feedbackP: 1, temporalWeight: W });
  const params = initParams(table, 4);
  engine.setState({ params, m: new Float32Array(table.total), v: new Float32Array(table.total), step: 0 });
  await engine.epoch({ order: [[0, 0]], lr: 0, rng: new Rng(12) }, () => {});
  const cond = Array.from(gradients.buffers.conds.subarray(0, 5));
  const model = new FastModel(table);
  model.setParams(params);
  const view = features.slice();
  const once = model.forward(view, side, side, cond).slice();
  setPrev(view, px, once);
  const twice = model.forward(view, side, side, cond).slice();
  const a = W / (1 + W);
  const expected = (y: Float32Array) => Array.from(y, (v, i) => (i % 4 === 3 ? 0.5 + a * (v - 0.5) : a * v));
  const got = Array.from(gradients.buffers.targets.subarray(0, px * OUT_CHANNELS));
  const same = (u: number[], v: number[]) => u.every((x, i) => Math.abs(x - v[i]!) < 1e-6);
  assert.ok(same(got, expected(once)) || same(got, expected(twice)), `target ${got.slice(0, 4).join(', ')}`);
  assert.ok(got.some((v, i) => i % 4 !== 3 && v > 0.01), 'the RGB target moved off black towards the earlier output');
  await engine.close();
});

test('cnnv3 train --feedback-p: said at the start, recorded in the checkpoint, 0..1 only (the GPU run: train-gpu.test.ts)', async (t) => {
  const root = tempDir(t);
  const r0 = await runCli(['pack-photo', '--photos', join(REPO, 'examples/photos'), '--targets', join(REPO, 'examples/targets'), '--output', join(root, 'simple')]);
  assert.equal(r0.code, 0, r0.err);
  const small = ['--input', root, '--patch-size', '16', '--patches-per-image', '8', '--batch-size', '4', '--seed', '2', '--epochs', '1'];
  const r = await runCli(['train', ...small, '--feedback-p', '0.5', '--device', 'cpu', '--checkpoint-dir', join(root, 'ck')]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^Feedback: 0\.5 of the patches see as prev\.rgb their own output/m);
  const { loadCheckpoint } = await import('../src/checkpoint/checkpoint-node.js');
  assert.equal((await loadCheckpoint(join(root, 'ck', 'checkpoint_epoch_1.safetensors'))).extra['feedback_p'], '0.5');
  const bad = await runCli(['train', ...small, '--feedback-p', '1.5']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--feedback-p/);
  const still = await runCli(['train', ...small, '--feedback-p', '0.5', '--feedback-still', '0.5', '--device', 'cpu', '--checkpoint-dir', join(root, 'ck3')]);
  assert.equal(still.code, 0, still.err);
  assert.match(still.out, /; 0\.5 of them still \(no shift, no exposure change\)/);
  assert.equal((await loadCheckpoint(join(root, 'ck3', 'checkpoint_epoch_1.safetensors'))).extra['feedback_still'], '0.5');
  const stillAlone = await runCli(['train', ...small, '--feedback-still', '0.5']);
  assert.equal(stillAlone.code, 2);
  assert.equal(stillAlone.err, 'cnnv3 train: --feedback-still needs --feedback-p (it acts on a patch and its earlier views)\n');
  const alone = await runCli(['train', ...small, '--temporal-weight', '1']);
  assert.equal(alone.code, 2);
  assert.equal(alone.err, 'cnnv3 train: --temporal-weight needs --feedback-p (it acts on a patch and its earlier views)\n');
});
