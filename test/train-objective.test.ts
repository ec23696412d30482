// The training objective's tools: --loss, --lr-warmup, --weight-decay (AdamW) — the optimiser
// and schedule by hand, the flags' bad input, and a run that records them and resumes with them.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { loadCheckpoint } from '../src/checkpoint/checkpoint-node.js';
import { DEFAULT_MODEL_CONFIG } from '../src/model/config.js';
import { buildParamTable } from '../src/model/params.js';
import { Adam, ADAM, decayedParams } from '../src/train/adam.js';
import { learningRate } from '../src/train/options.js';
import { REPO, runCli, tempDir } from './helpers.js';

test('AdamW: two steps match PyTorch’s AdamW computed by hand; undecayed entries and W = 0 are plain Adam', () => {
  // PyTorch AdamW(lr=0.1, weight_decay=0.01), one parameter 0.5, gradients 0.2 then −0.1, in float64:
  // p ← p·(1 − lr·wd); m, v as Adam; p ← p − lr/bc1 · m / (√v/√bc2 + ε).
  const expected = [0.39950000499999966, 0.37246680271367566];
  const adam = new Adam(2);
  const params = new Float32Array([0.5, 0.5]);
  const mask = new Uint8Array([1, 0]);
  const plain = new Adam(1);
  const plainParams = new Float32Array([0.5]);
  [0.2, -0.1].forEach((g, k) => {
    adam.update(params, new Float64Array([g, g]), 0.1, 0.01, mask);
    assert.ok(Math.abs(params[0]! - expected[k]!) <= 1e-7 * expected[k]!, `step ${k + 1}: ${params[0]} vs ${expected[k]}`);
    plain.update(plainParams, new Float64Array([g]), 0.1);
    assert.equal(params[1], plainParams[0], 'an entry outside the mask is not decayed');
  });
  // W = 0 is the Adam update as it always was, bit for bit.
  const a = new Adam(1);
  const p = new Float32Array([0.25]);
  a.update(p, new Float64Array([0.3]), 1e-3, 0, new Uint8Array([1]));
  const m = (1 - ADAM.beta1) * 0.3;
  const v = (1 - ADAM.beta2) * 0.09;
  assert.equal(p[0], Math.fround(Math.fround(0.25) - (1e-3 * (m / (1 - ADAM.beta1))) / (Math.sqrt(v / (1 - ADAM.beta2)) + ADAM.eps)));
});

test('--weight-decay decays the five conv weights only: not their biases, not the FiLM MLP', () => {
  const table = buildParamTable(DEFAULT_MODEL_CONFIG);
  const mask = decayedParams(table);
  for (const p of table.params) {
    const want = p.name.endsWith('.weight') && !p.name.startsWith('film_mlp') ? 1 : 0;
    assert.ok(mask.subarray(p.offset, p.offset + p.size).every((b) => b === want), p.name);
  }
});

test('--lr-warmup: lr·(e+1)/(N+1) over the first N epochs, then the schedule over the rest; N = 0 is the schedule as before', () => {
  const o = { lr: 0.01, epochs: 10, lrSchedule: 'cosine' as const };
  assert.deepEqual([0, 1, 2].map((e) => learningRate({ ...o, lrWarmup: 3 }, e)), [0.01 / 4, 0.02 / 4, 0.03 / 4]);
  assert.equal(learningRate({ ...o, lrWarmup: 3 }, 3), 0.01, 'the cosine starts at lr after the warm-up');
  assert.ok(Math.abs(learningRate({ ...o, lrWarmup: 3 }, 3 + 3.5) - 0.005) < 1e-15, 'half-way through the remaining 7 epochs: lr/2');
  assert.equal(learningRate({ ...o, lrSchedule: 'constant', lrWarmup: 2 }, 2), 0.01);
  for (let e = 0; e < 10; e++) {
    assert.equal(learningRate({ ...o, lrWarmup: 0 }, e), o.lr * 0.5 * (1 + Math.cos((Math.PI * e) / o.epochs)));
    assert.equal(learningRate(o, e), learningRate({ ...o, lrWarmup: 0 }, e));
  }
});

async function exampleDataset(t: TestContext): Promise<string> {
  const root = tempDir(t);
  const r = await runCli(['pack-photo', '--photos', join(REPO, 'examples/photos'), '--targets', join(REPO, 'examples/targets'), '--output', join(root, 'simple')]);
  assert.equal(r.code, 0, r.err);
  return root;
}

const SMALL = ['--patch-size', '32', '--patches-per-image', '24', '--batch-size', '8', '--seed', '7', '--device', 'cpu'];
const epochLosses = (out: string) => [...out.matchAll(/^Epoch \d+\/\d+ {2}loss (\S+)/gm)].map((m) => Number(m[1]));

test('bad --loss, --weight-decay, --lr-warmup: one clear line, exit 2, nothing written', async (t) => {
  const data = await exampleDataset(t);
  const ck = join(tempDir(t), 'ck');
  const cases: Array<{ argv: string[]; err: RegExp }> = [
    { argv: ['--loss', 'foo'], err: /^cnnv3 train: --loss must be one of mse, l1, l1\+ssim, got "foo"/ },
    { argv: ['--loss', 'l1ssim'], err: /did you mean l1\+ssim\?/ },
    { argv: ['--weight-decay=-1'], err: /^cnnv3 train: --weight-decay must be a number in \[0, .*got "-1"/ },
    { argv: ['--weight-decay', '-1'], err: /^cnnv3 train: --weight-decay "-1": a value that starts with '-' is written --weight-decay=-1/ },
    { argv: ['--weight-decay', 'lots'], err: /^cnnv3 train: --weight-decay must be a number/ },
    { argv: ['--weight-decay', '2000'], err: /^cnnv3 train: --weight-decay 2000 with --lr 0\.001 would shrink every weight to 0/ },
    { argv: ['--lr-warmup', 'x'], err: /^cnnv3 train: --lr-warmup must be an integer ≥ 0, got "x"/ },
    { argv: ['--lr-warmup', '1.5'], err: /^cnnv3 train: --lr-warmup must be an integer/ },
    { argv: ['--lr-warmup', '3', '--epochs', '3'], err: /^cnnv3 train: --lr-warmup 3 must be less than --epochs 3/ },
    // Refused before a GPU is looked for, so this holds on any machine.
    { argv: ['--loss', 'l1+ssim', '--device', 'gpu'], err: /^cnnv3 train: --loss l1\+ssim runs on the CPU engine only for now .*use --device cpu/ },
  ];
  for (const { argv, err } of cases) {
    const r = await runCli(['train', '--input', data, '--epochs', '2', '--checkpoint-dir', ck, ...argv]);
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.err}`);
    assert.match(r.err, err, argv.join(' '));
    assert.equal(r.err.trim().split('\n').length, 1, `${argv.join(' ')}: one line: ${r.err}`);
    assert.doesNotMatch(r.err, /\n\s+at /);
    assert.ok(!existsSync(ck), `${argv.join(' ')}: nothing written`);
  }
});

test('--loss l1 --lr-warmup --weight-decay: printed, in the epoch lines and the checkpoint; --resume keeps them (same losses as one run) and refuses a contradicting flag', async (t) => {
  const data = await exampleDataset(t);
  const dir = tempDir(t);
  const flags = ['--loss', 'l1', '--lr-warmup', '1', '--weight-decay', '0.05', '--lr-schedule', 'cosine'];
  const whole = await runCli(['train', '--input', data, ...SMALL, ...flags, '--epochs', '3', '--checkpoint-dir', join(dir, 'whole')]);
  assert.equal(whole.code, 0, whole.err);
  assert.match(whole.out, /^Objective: loss l1 \(mean \|y − t\| over RGBA; .*\); lr warm-up 1 epoch \(linear, lr·\(e\+1\)\/2\); weight decay 0\.05 \(AdamW, decoupled; conv weights only\)$/m);
  assert.match(whole.out, /^Epoch 1\/3 {2}loss \S+ \(l1\) .* lr 5\.00e-4 /m);
  assert.match(whole.out, /^Epoch 2\/3 {2}loss \S+ \(l1\) .* lr 1\.00e-3 /m);
  const ckpt = await loadCheckpoint(join(dir, 'whole', 'checkpoint_epoch_3.safetensors'));
  assert.deepEqual([ckpt.extra['loss_function'], ckpt.extra['lr_warmup'], ckpt.extra['weight_decay']], ['l1', '1', '0.05']);

  // Two epochs, then --resume to three without the flags: the checkpoint's values, the same losses.
  const part = join(dir, 'part');
  const first = await runCli(['train', '--input', data, ...SMALL, ...flags, '--epochs', '2', '--checkpoint-dir', part, '--checkpoint-every', '1']);
  assert.equal(first.code, 0, first.err);
  const resumed = await runCli(['train', '--input', data, ...SMALL, '--lr-schedule', 'cosine', '--epochs', '3', '--checkpoint-dir', part, '--resume', join(part, 'checkpoint_epoch_2.safetensors')]);
  assert.equal(resumed.code, 0, resumed.err);
  assert.match(resumed.out, /^Objective: loss l1 /m);
  assert.deepEqual([...epochLosses(first.out), ...epochLosses(resumed.out)], epochLosses(whole.out));

  for (const [flag, value, recorded] of [['--loss', 'mse', 'l1'], ['--weight-decay', '0', '0.05'], ['--lr-warmup', '0', '1']] as const) {
    const r = await runCli(['train', '--input', data, ...SMALL, '--epochs', '3', '--checkpoint-dir', join(dir, 'other'), '--resume', join(part, 'checkpoint_epoch_2.safetensors'), flag, value]);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, new RegExp(`checkpoint_epoch_2\\.safetensors: checkpoint was trained with ${flag} ${recorded} but this run asks for ${flag} ${value}: leave the flag out`));
    assert.ok(!existsSync(join(dir, 'other')), 'nothing written');
  }
  // The defaults are recorded by absence: a default run's checkpoint has none of the keys.
  const plain = await runCli(['train', '--input', data, ...SMALL, '--epochs', '1', '--checkpoint-dir', join(dir, 'plain')]);
  assert.equal(plain.code, 0, plain.err);
  assert.doesNotMatch(plain.out, /Objective:/);
  const extra = (await loadCheckpoint(join(dir, 'plain', 'checkpoint_epoch_1.safetensors'))).extra;
  assert.deepEqual(['loss_function', 'lr_warmup', 'weight_decay'].filter((k) => k in extra), []);
});

test('--loss l1+ssim trains on the CPU (auto picks it) and reports the loss it trains on; PSNR stays PSNR', async (t) => {
  const data = await exampleDataset(t);
  const dir = tempDir(t);
  const r = await runCli(['train', '--input', data, ...SMALL.filter((a) => a !== '--device' && a !== 'cpu'), '--device', 'auto', '--loss', 'l1+ssim', '--epochs', '2', '--val-split', '0.25', '--checkpoint-dir', dir]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^Device: cpu /m);
  const lines = [...r.out.matchAll(/^Epoch \d\/2 {2}loss (\S+) \(l1\+ssim\) {2}val (\S+) \((\S+) dB\)/gm)];
  assert.equal(lines.length, 2, r.out);
  for (const [, loss, val, psnr] of lines) {
    // 0.16·L1 + 0.84·(1 − SSIM) of outputs in [0, 1] lies in [0, 1.84]; PSNR is in dB, far above that.
    for (const v of [Number(loss), Number(val)]) assert.ok(v > 0 && v < 1.84, `${v}`);
    assert.ok(Number(psnr) > 5, psnr);
  }
});
