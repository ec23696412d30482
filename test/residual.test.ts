// The opt-in residual output (ModelConfig.output = 'residual'): y = clamp(base + tanh(z), 0, 1)
// with base = (albedo.rgb, 1 − transp). Checked like the default network: finite differences
// on the reference, the fast path against the reference, the file formats, and the CLI end to end.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { configJson, decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint/checkpoint.js';
import { expectedWeightBytes, exportReport, exportWeights } from '../src/export/export.js';
import { readWeightsBin, weightsFileConfig } from '../src/export/read.js';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../src/model/config.js';
import { FastModel } from '../src/model/fast.js';
import { initParams } from '../src/model/init.js';
import { buildParamTable, describeModel } from '../src/model/params.js';
import { forward, lossAndGrad, residualBase, tensor, type Tensor } from '../src/model/reference.js';
import { Rng } from '../src/util/rng.js';
import { checkGradients } from './grad-check.js';
import { runCli, tempDir } from './helpers.js';
import { sampleFiles, writeSample } from './sample-fixtures.js';

const RESIDUAL: ModelConfig = { ...DEFAULT_MODEL_CONFIG, output: 'residual' };

function randomInput(rng: Rng, h: number, w: number): Tensor {
  const x = tensor(20, h, w);
  for (let i = 0; i < x.data.length; i++) x.data[i] = Math.fround(rng.next());
  return x;
}

/** Parameters with every layer non-zero (the residual init zeroes dec0) and FiLM off identity. */
function liveParams(cfg: ModelConfig, seed: number): Float64Array {
  const table = buildParamTable(cfg);
  const params = Float64Array.from(initParams(buildParamTable({ encChannels: cfg.encChannels, filmCondDim: cfg.filmCondDim }), seed));
  const rng = new Rng(seed + 1);
  const bias = table.byName.get('film_mlp.2.bias')!;
  for (let i = 0; i < bias.size; i++) params[bias.offset + i] = rng.uniform(0.5, 1.5);
  return params;
}

const toHwc = (t: Tensor): Float32Array => {
  const out = new Float32Array(t.c * t.h * t.w);
  for (let c = 0; c < t.c; c++) for (let p = 0; p < t.h * t.w; p++) out[p * t.c + c] = t.data[c * t.h * t.w + p]!;
  return out;
};

test('residual init: dec0 starts at zero, so the output is exactly the base (albedo, 1 − transp)', () => {
  const table = buildParamTable(RESIDUAL);
  const params = initParams(table, 3);
  const dec0 = table.byName.get('dec0.weight')!;
  assert.ok(params.subarray(dec0.offset, dec0.offset + dec0.size).every((v) => v === 0));
  // Every other layer is the sigmoid network's init, value for value.
  const plain = initParams(buildParamTable(DEFAULT_MODEL_CONFIG), 3);
  assert.deepEqual(params.subarray(0, dec0.offset), plain.subarray(0, dec0.offset));
  const x = randomInput(new Rng(5), 7, 5);
  const y = forward(table, params, x, [0.1, 0.2, 0.3, 0.4, 0.5]).y;
  assert.deepEqual(Array.from(y.data), Array.from(residualBase(x).data));
  const n = 35;
  assert.equal(residualBase(x).data[3 * n + 4], 1 - x.data[19 * n + 4]!);
  assert.equal(describeModel(table), 'Model: enc=[4, 8] film_cond_dim=5 output=residual params=2740 (~5.4 KB f16)');
});

test('residual reference gradients match central finite differences', () => {
  const cfg: ModelConfig = { encChannels: [2, 3], filmCondDim: 2, output: 'residual' };
  const table = buildParamTable(cfg);
  const rng = new Rng(8);
  const params = liveParams(cfg, 9);
  const batch = [[5, 3], [3, 4]].map(([h, w]) => ({ x: randomInput(rng, h!, w!), cond: [rng.next(), rng.next()], target: randomInput(rng, h!, w!) }));
  for (const b of batch) b.target = tensor(4, b.x.h, b.x.w, b.target.data.slice(0, 4 * b.x.h * b.x.w));
  const { worst, where, reached } = checkGradients(table, params, batch);
  assert.ok(worst < 1e-4, `worst relative error ${worst} at ${where}`);
  assert.deepEqual([...reached].sort(), table.params.map((p) => p.name).sort(), 'every tensor gets a gradient');
});

test('residual fast path matches the float64 reference (outputs, loss, gradients), 1×1 to odd sizes', () => {
  const table = buildParamTable(RESIDUAL);
  const params = liveParams(RESIDUAL, 21);
  const rng = new Rng(22);
  const batch = [[1, 1], [9, 7], [16, 16]].map(([h, w]) => ({ x: randomInput(rng, h!, w!), cond: Array.from({ length: 5 }, () => Math.fround(rng.next())), target: tensor(4, h!, w!, Float64Array.from({ length: 4 * h! * w! }, () => Math.fround(rng.next()))) }));
  const refGrad = new Float64Array(table.total);
  const refLoss = lossAndGrad(table, params, batch, refGrad);
  const fast = new FastModel(table);
  fast.setParams(Float32Array.from(params));
  const count = batch.reduce((s, b) => s + 4 * b.x.h * b.x.w, 0);
  const grad = new Float64Array(table.total);
  const one = new Float64Array(table.total);
  let sse = 0;
  let clamped = 0;
  for (const b of batch) {
    const ref = forward(table, params, b.x, b.cond).y;
    const y = fast.forward(toHwc(b.x), b.x.h, b.x.w, b.cond);
    const r = toHwc(ref);
    let maxErr = 0;
    for (let i = 0; i < r.length; i++) {
      maxErr = Math.max(maxErr, Math.abs(y[i]! - r[i]!));
      if (r[i] === 0 || r[i] === 1) clamped++;
    }
    assert.ok(maxErr < 1e-5, `output max |err| ${maxErr}`);
    sse += fast.trainImage(toHwc(b.x), b.x.h, b.x.w, b.cond, toHwc(b.target), count, one);
    for (let i = 0; i < grad.length; i++) grad[i]! += one[i]!;
  }
  assert.ok(clamped > 0, 'the inputs exercise the clamp');
  assert.ok(Math.abs(sse / count - refLoss) <= 1e-6 * refLoss, `loss ${sse / count} vs ${refLoss}`);
  const scale = Math.max(...Array.from(refGrad, Math.abs));
  let worst = 0;
  for (let i = 0; i < grad.length; i++) worst = Math.max(worst, Math.abs(grad[i]! - refGrad[i]!) / (1e-5 * scale + 1e-4 * Math.abs(refGrad[i]!)));
  assert.ok(worst <= 1, `gradient beyond atol 1e-5·max + rtol 1e-4 (worst ratio ${worst})`);
});

test('files: checkpoint config records output=residual (default JSON unchanged); weights carry a 16-byte trailer', () => {
  assert.equal(configJson(DEFAULT_MODEL_CONFIG, 'simple'), '{"enc_channels":[4,8],"film_cond_dim":5,"input_mode":"simple"}');
  assert.equal(configJson(RESIDUAL, 'full'), '{"enc_channels":[4,8],"film_cond_dim":5,"input_mode":"full","output":"residual"}');
  const table = buildParamTable(RESIDUAL);
  const params = initParams(table, 1);
  const zeros = new Float32Array(table.total);
  const ckpt = encodeCheckpoint({ config: RESIDUAL, inputMode: 'simple', epoch: 3, loss: 0.5, step: 9, params, optim: { expAvg: zeros, expAvgSq: zeros }, extra: {} });
  const back = decodeCheckpoint(ckpt, 'r.safetensors');
  assert.equal(back.config.output, 'residual');
  const plainCkpt = encodeCheckpoint({ config: DEFAULT_MODEL_CONFIG, inputMode: 'simple', epoch: 3, loss: 0.5, step: 9, params, extra: {} });
  assert.equal(decodeCheckpoint(plainCkpt, 'd.safetensors').config.output, undefined);

  const { weights } = exportWeights(RESIDUAL, params);
  assert.equal(weights.byteLength, 3928 + 16);
  assert.equal(expectedWeightBytes(RESIDUAL), 3944);
  assert.equal(Buffer.from(weights.subarray(3928, 3932)).toString('latin1'), 'CNX1');
  assert.deepEqual(Array.from(weights.subarray(3932)), [1, 0, 0, 0, 4, 0, 8, 0, 5, 0, 0, 0]);
  // The halves are the default export's, byte for byte.
  assert.deepEqual(weights.subarray(0, 3928), exportWeights(DEFAULT_MODEL_CONFIG, params).weights);
  assert.equal(exportWeights(DEFAULT_MODEL_CONFIG, params).weights.byteLength, 3928);
  assert.deepEqual(weightsFileConfig(weights, 'w.bin', DEFAULT_MODEL_CONFIG), RESIDUAL);
  assert.equal(readWeightsBin(RESIDUAL, weights, 'w.bin').length, 1964);
  assert.match(exportReport({ epoch: 3, loss: 0.5 }, table), /3928 bytes \+ 16-byte extension trailer \(enc_channels=\[4, 8\] film_cond_dim=5 output=residual\)\n {2}Upload via CNNv3Effect.uploadWeights\(queue, data, 3944\)/);

  // A default file is read as the default; flags that disagree with a trailer are refused.
  assert.deepEqual(weightsFileConfig(exportWeights(DEFAULT_MODEL_CONFIG, params).weights, 'd.bin', DEFAULT_MODEL_CONFIG), DEFAULT_MODEL_CONFIG);
  assert.throws(() => weightsFileConfig(weights, 'w.bin', { encChannels: [3, 5], filmCondDim: 5 }), /w\.bin: holds a model with enc_channels=\[4, 8\] film_cond_dim=5 output=residual, but enc_channels=\[3, 5\]/);
  // The condition controls travel in flag bits 1–8; bit 31 is nobody's.
  const controlled = { ...RESIDUAL, strengthCond: 2, styleConds: true };
  assert.deepEqual(weightsFileConfig(exportWeights(controlled, params).weights, 'c.bin'), controlled);
  const unknown = weights.slice();
  unknown[3928 + 7] = 0x80;
  assert.throws(() => weightsFileConfig(unknown, 'u.bin', DEFAULT_MODEL_CONFIG), /u\.bin: unknown extension trailer/);
  assert.throws(() => readWeightsBin(RESIDUAL, weights.subarray(0, 3943), 'short.bin'), /short\.bin: expected 3944 bytes, got 3943/);
});

test('CLI: train --output-mode residual → export → eval and parity follow the file', async (t) => {
  const dir = tempDir(t);
  const rng = new Rng(4);
  for (const name of ['a', 'b']) {
    const w = 24, h = 20;
    const albedo = Uint8Array.from({ length: w * h * 3 }, () => Math.floor(rng.next() * 256));
    // A near-identity target: the albedo, slightly darkened.
    const target = { width: w, height: h, data: new Uint8Array(w * h * 4) };
    for (let p = 0; p < w * h; p++) {
      for (let c = 0; c < 3; c++) target.data[p * 4 + c] = Math.round(albedo[p * 3 + c]! * 0.9);
      target.data[p * 4 + 3] = 255;
    }
    writeSample(join(dir, 'data', name), sampleFiles({ width: w, height: h, albedo, target }));
  }
  const ck = join(dir, 'ck');
  const r = await runCli(['train', '--input', join(dir, 'data'), '--epochs', '2', '--patch-size', '8', '--patches-per-image', '4', '--seed', '1', '--device', 'cpu', '--threads', '1', '--output-mode', 'residual', '--checkpoint-dir', ck]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /Model: enc=\[4, 8\] film_cond_dim=5 output=residual params=2740/);
  const bad = await runCli(['train', '--input', join(dir, 'data'), '--epochs', '1', '--output-mode', 'tanh', '--checkpoint-dir', ck]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--output-mode must be one of sigmoid, residual, got "tanh"/);
  // Resuming without the flag names the mismatch instead of silently training another network.
  const mismatch = await runCli(['train', '--input', join(dir, 'data'), '--epochs', '3', '--device', 'cpu', '--resume', join(ck, 'checkpoint_epoch_2.safetensors'), '--checkpoint-dir', ck]);
  assert.notEqual(mismatch.code, 0);
  assert.match(mismatch.err, /output=residual/);

  const e = await runCli(['export', join(ck, 'checkpoint_epoch_2.safetensors'), '--output', join(dir, 'export')]);
  assert.equal(e.code, 0, e.err);
  const wPath = join(dir, 'export', 'cnn_v3_weights.bin');
  assert.equal(readFileSync(wPath).byteLength, 3944);
  const ev = await runCli(['eval', '--weights', wPath, '--film', join(dir, 'export', 'cnn_v3_film_mlp.bin'), '--input', join(dir, 'data'), '--json']);
  assert.equal(ev.code, 0, ev.err);
  const report = JSON.parse(ev.out) as { mean: { psnr: number }; identity: { psnr: number } };
  // Two epochs from the identity init: the output is still close to the albedo.
  assert.ok(Math.abs(report.mean.psnr - report.identity.psnr) < 6, `${report.mean.psnr} vs identity ${report.identity.psnr}`);
  const p = await runCli(['parity', '--weights', wPath, '--film', join(dir, 'export', 'cnn_v3_film_mlp.bin'), '--sample', join(dir, 'data', 'a'), '--json']);
  assert.equal(p.code, 0, p.err + p.out);
  // The same halves without the trailer are a different (sigmoid) network, and parity says so by its numbers.
  const plain = join(dir, 'plain.bin');
  writeFileSync(plain, readFileSync(wPath).subarray(0, 3928));
  const ev2 = await runCli(['eval', '--weights', plain, '--input', join(dir, 'data'), '--json']);
  assert.equal(ev2.code, 0, ev2.err);
  assert.notEqual((JSON.parse(ev2.out) as { mean: { psnr: number } }).mean.psnr, report.mean.psnr);
});
