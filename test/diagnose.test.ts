// cnnv3 eval --diagnose (src/eval/diagnose.ts): models with known structure whose numbers are
// predictable, and the CLI's errors.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeCheckpoint } from '../src/checkpoint/checkpoint.js';
import { computeFeatures } from '../src/dataset/features.js';
import { quantiseFeatures } from '../src/dataset/gpu-pack.js';
import type { Sample } from '../src/dataset/sample.js';
import { diagnose, formatDiagnosis, trainingCentres, type DiagnoseModel } from '../src/eval/diagnose.js';
import { exportWeights } from '../src/export/export.js';
import { psnr } from '../src/image/metrics.js';
import { DEFAULT_MODEL_CONFIG, makeModelConfig, type ModelConfig } from '../src/model/config.js';
import { initParams } from '../src/model/init.js';
import { buildParamTable } from '../src/model/params.js';
import { prepareImage } from '../src/train/data.js';
import { roundToHalf } from '../src/util/half.js';
import { Rng } from '../src/util/rng.js';
import { runCli, tempDir } from './helpers.js';
import { sampleFiles, writeSample } from './sample-fixtures.js';

const OPTS = { patchSize: 8, patchesPerImage: 4, seed: 1 };

/** A photo-like sample (neutral geometry) from an albedo function and a target function. */
function makeSample(name: string, W: number, H: number, albedo: (x: number, y: number, c: number) => number, target: (x: number, y: number, c: number) => number): Sample {
  const n = W * H;
  const a = new Uint8Array(n * 3);
  const t = new Uint8Array(n * 4);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < 3; c++) {
        a[(y * W + x) * 3 + c] = albedo(x, y, c);
        t[(y * W + x) * 4 + c] = target(x, y, c);
      }
      t[(y * W + x) * 4 + 3] = 255;
    }
  }
  return { name, width: W, height: H, albedo: a, normal: new Uint8Array(n * 2).fill(255), depth: new Uint16Array(n), matid: new Uint8Array(n), shadow: new Uint8Array(n).fill(255), transp: new Uint8Array(n), target: t, targetWidth: W, targetHeight: H, kind: 'simple' };
}

const noisy = (seed: number) => {
  const rng = new Rng(seed);
  return () => Math.floor(rng.next() * 256);
};

function model(config: ModelConfig, params: Float32Array, withCheckpoint: boolean, withFilm = true): DiagnoseModel {
  const { weights, film } = exportWeights(config, params);
  return { config, weights, ...(withFilm ? { film } : {}), cond: [0.5, 0.5, 0.5, 0.5, 0.5], ...(withCheckpoint ? { checkpoint: { config, params, name: 'ckpt' } } : {}) };
}

test('layer activity: zero weights but one enc0 bias give dead channels at 100 %, exact means, sigmoid saturation only where |x| > 4.6', () => {
  const config = DEFAULT_MODEL_CONFIG;
  const table = buildParamTable(config);
  const params = new Float32Array(table.total);
  const at = (name: string) => table.params.find((p) => p.name === name)!.offset;
  params[at('enc0.bias') + 1] = 0.5;
  params.set([1, -2, 0.5, 5], at('dec0.bias'));
  const s = makeSample('s', 12, 10, noisy(1), noisy(2));
  const d = diagnose([s], model(config, params, false, false), OPTS);
  const [enc0, enc1, bott, dec1, dec0] = d.activity.layers;
  assert.deepEqual(enc0!.dead, [0, 2, 3]);
  assert.deepEqual(enc0!.channels.map((c) => c.zero), [1, 0, 1, 1]);
  assert.equal(enc0!.channels[1]!.mean, 0.5);
  assert.equal(enc0!.max, 0.5);
  for (const l of [enc1!, bott!, dec1!]) assert.deepEqual(l.dead, l.channels.map((_, c) => c), l.layer);
  assert.deepEqual(dec0!.channels.map((c) => c.mean), [1, -2, 0.5, 5]);
  const o = d.activity.output;
  assert.equal(o.mode, 'sigmoid');
  assert.deepEqual(o.saturated, [0, 0, 0, 1], 'only alpha (x = 5) is beyond 4.6');
  // The output is the constant σ(bias): its distance from the albedo is known.
  const y = [1, -2, 0.5].map((b) => 1 / (1 + Math.exp(-b)));
  let moved = 0;
  for (let p = 0; p < 120; p++) for (let c = 0; c < 3; c++) moved += Math.abs(y[c]! - s.albedo[p * 3 + c]! / 255);
  assert.ok(Math.abs(o.moved - moved / 360) < 1e-7, `${o.moved} vs ${moved / 360}`);
  assert.match(formatDiagnosis(d), /dec1 +mean +0 max +0 +dead ch 0,1,2,3 \(zero at 100 % of pixels\)/);
});

test('a residual model with zero weights is the identity: it moves 0, |t − base| is the identity error, tanh never saturates', () => {
  const config = makeModelConfig([4, 8], 5, 'residual');
  const params = new Float32Array(buildParamTable(config).total);
  const s = makeSample('s', 20, 14, noisy(3), noisy(4));
  const d = diagnose([s], model(config, params, true, false), OPTS);
  const o = d.activity.output;
  assert.equal(o.mode, 'residual');
  assert.equal(o.moved, 0);
  assert.equal(o.saturated_rgb, 0);
  assert.equal(o.clamped_rgb, 0);
  let dist = 0;
  for (let p = 0; p < 280; p++) for (let c = 0; c < 3; c++) dist += Math.abs(s.target[p * 4 + c]! - s.albedo[p * 3 + c]!) / 255;
  assert.ok(Math.abs(o.target_distance - dist / 280 / 3) < 1e-7);
  assert.equal(o.error, o.target_distance);
  // The model's PSNR is the identity's, everywhere: whole image and inside either patch set.
  const identity = psnr(Float64Array.from({ length: 280 * 4 }, (_, i) => (i % 4 === 3 ? 1 : s.albedo[(i >> 2) * 3 + (i % 4)]! / 255)), Float64Array.from(s.target, (v) => v / 255), 4, [0, 1, 2]);
  assert.ok(Math.abs(d.export.f16_psnr - identity) < 1e-5);
  // (to the float32 rounding of albedo/255, which the network's base carries and eval's identity does not)
  for (const set of [d.patches.harris, d.patches.random, d.patches.whole]) assert.ok(Math.abs(set.model_psnr - set.identity_psnr) < 1e-5, `${set.model_psnr} vs ${set.identity_psnr}`);
  assert.ok(Math.abs(d.patches.whole.identity_psnr - identity) < 1e-9, 'the identity as eval scores it');
  assert.equal(d.export.cost, 0);
});

test('export cost: a checkpoint exactly representable in f16 costs 0 dB; one that is not costs something', () => {
  const config = DEFAULT_MODEL_CONFIG;
  const table = buildParamTable(config);
  const s = makeSample('s', 16, 12, noisy(5), noisy(6));
  const raw = initParams(table, 7);
  // The conv weights rounded to halves; the FiLM MLP (exported as f32) left as it is.
  const halves = raw.map((v, i) => (i < table.convCount ? roundToHalf(v) : v));
  assert.ok(raw.some((v, i) => v !== halves[i]), 'the init is not already f16');
  const exact = diagnose([s], model(config, halves, true), OPTS);
  assert.equal(exact.export.f32_psnr, exact.export.f16_psnr);
  assert.equal(exact.export.cost, 0);
  const rounded = diagnose([s], model(config, raw, true), OPTS);
  assert.notEqual(rounded.export.cost, 0);
  assert.equal(rounded.export.f16_psnr, exact.export.f16_psnr, 'the f16 file is the same either way');
  const none = diagnose([s], model(config, raw, false), OPTS);
  assert.equal(none.export.f32_psnr, undefined);
});

test('feature cost: features exactly representable in f16 and 8 bits cost 0 dB; an albedo of 100/255 does not', () => {
  const config = DEFAULT_MODEL_CONFIG;
  const params = initParams(buildParamTable(config), 9);
  // Albedo 0 or 255, constant over aligned 4×4 tiles: the mips are 0 or 1 too.
  const exactSample = makeSample('exact', 16, 8, (x, y, c) => (((x >> 2) + (y >> 2) + c) % 2 ? 255 : 0), noisy(8));
  const f = computeFeatures(exactSample);
  assert.deepEqual(quantiseFeatures(f, 16, 8), f, 'the features survive the packing');
  const exact = diagnose([exactSample], model(config, params, false), OPTS);
  assert.equal(exact.features.packed_psnr, exact.features.float_psnr);
  assert.equal(exact.features.cost, 0);
  const grey = makeSample('grey', 16, 8, (x, y, c) => (((x >> 2) + (y >> 2) + c) % 2 ? 100 : 37), noisy(8));
  assert.notDeepEqual(quantiseFeatures(computeFeatures(grey), 16, 8), computeFeatures(grey));
  assert.notEqual(diagnose([grey], model(config, params, false), OPTS).features.cost, 0);
});

test('patch centres: the trainer\'s own; Harris patches sit on the edges of a square, random ones mostly on flat ground', () => {
  const W = 64;
  const square = (x: number, y: number) => (x >= 20 && x < 44 && y >= 20 && y < 44 ? 230 : 20);
  const s = makeSample('sq', W, W, square, (x, y) => Math.min(255, square(x, y) + 10));
  const opts = { patchSize: 8, patchesPerImage: 4, seed: 3 };
  for (const detector of ['harris', 'random'] as const) {
    const trained = prepareImage(s, { fullImage: false, imageSize: 256, patchSize: opts.patchSize, patchesPerImage: opts.patchesPerImage, detector, seed: opts.seed }, 2).centres;
    assert.deepEqual(trainingCentres(s, detector, 2, opts), trained, detector);
  }
  const d = diagnose([s], model(DEFAULT_MODEL_CONFIG, initParams(buildParamTable(DEFAULT_MODEL_CONFIG), 1), false), opts);
  const { harris, random, whole } = d.patches;
  assert.equal(harris.patches, 4);
  assert.equal(harris.pixels, 4 * 64);
  assert.ok(harris.edge_density > 0.2 && harris.edge_density > 2 * whole.edge_density, `Harris ${harris.edge_density} vs whole ${whole.edge_density}`);
  assert.ok(harris.gradient > random.gradient, `${harris.gradient} vs ${random.gradient}`);
  // The target is the albedo + 10 everywhere but where it clips: the identity error is the same inside and out.
  assert.ok(Math.abs(harris.identity_psnr - whole.identity_psnr) < 0.01);
});

test('cnnv3 eval --diagnose: text and JSON on a dataset, --checkpoint for the f32 line; errors are one line, exit 2', async (t) => {
  const dir = tempDir(t);
  const config = DEFAULT_MODEL_CONFIG;
  const params = initParams(buildParamTable(config), 4);
  const { weights, film } = exportWeights(config, params);
  writeFileSync(join(dir, 'w.bin'), weights);
  writeFileSync(join(dir, 'f.bin'), film);
  writeFileSync(join(dir, 'ckpt.safetensors'), encodeCheckpoint({ config, inputMode: 'simple', params, epoch: 1, loss: 0, step: 1, extra: {} }));
  const other = makeModelConfig([8, 8], 5);
  writeFileSync(join(dir, 'other.safetensors'), encodeCheckpoint({ config: other, inputMode: 'simple', params: new Float32Array(buildParamTable(other).total), epoch: 1, loss: 0, step: 1, extra: {} }));
  const rng = new Rng(2);
  for (const name of ['a', 'b']) {
    const data = Uint8Array.from({ length: 24 * 16 * 4 }, () => Math.floor(rng.next() * 256));
    writeSample(join(dir, 'set', `sample_${name}`), sampleFiles({ width: 24, height: 16, albedo: Uint8Array.from({ length: 24 * 16 * 3 }, () => Math.floor(rng.next() * 256)), target: { width: 24, height: 16, data } }));
  }
  const w = ['eval', '--weights', join(dir, 'w.bin'), '--film', join(dir, 'f.bin'), '--input', join(dir, 'set'), '--diagnose', '--patch-size', '8', '--patches-per-image', '4'];
  const text = await runCli(w);
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /^Layer activity \(2 samples, 768 pixels/);
  assert.match(text.out, /enc0 +mean/);
  assert.match(text.out, /float32 checkpoint: needs --checkpoint CKPT\.safetensors/);
  assert.match(text.out, /Harris +\d\.\d{4} +\d+\.\d %/);
  const json = await runCli([...w, '--json', '--checkpoint', join(dir, 'ckpt.safetensors')]);
  assert.equal(json.code, 0, json.err);
  const d = JSON.parse(json.out) as { samples: number; export: { f32_psnr: number; f16_psnr: number; cost: number }; patches: { harris: { patches: number } } };
  assert.equal(d.samples, 2);
  assert.ok(Math.abs(d.export.cost) < 0.1 && d.export.cost === d.export.f32_psnr - d.export.f16_psnr);
  assert.equal(d.patches.harris.patches, 8);
  const gpu = await runCli([...w, '--device', 'gpu']);
  assert.equal(gpu.code, 2);
  assert.match(gpu.err, /--diagnose runs on the CPU reference/);
  assert.equal(gpu.err.trim().split('\n').length, 1);
  const stray = await runCli(['eval', '--weights', join(dir, 'w.bin'), '--input', join(dir, 'set'), '--checkpoint', join(dir, 'ckpt.safetensors')]);
  assert.equal(stray.code, 2);
  assert.match(stray.err, /--checkpoint goes with --diagnose/);
  const both = await runCli([...w, '--ablate']);
  assert.equal(both.code, 2);
  const mismatch = await runCli([...w, '--checkpoint', join(dir, 'other.safetensors')]);
  assert.equal(mismatch.code, 1);
  assert.match(mismatch.err, /other\.safetensors: holds a model with enc_channels=\[8, 8\]/);
});
