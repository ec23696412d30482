/**
 * An independent-autodiff check of the float64 reference network (src/model/reference.ts).
 *
 * The same network (SPEC §4) is rebuilt here from the flat parameter vector in TF.js (pure-JS
 * CPU backend, NHWC, float32) and differentiated by TF's own autodiff; its loss and every
 * parameter gradient must agree with `lossAndGrad`. Only the parameter table's names, offsets
 * and shapes are shared with the reference: the FiLM split is recomputed here from SPEC §4, and
 * pooling / upsampling are built from TF primitives whose semantics are hand-checked below.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import type * as TfCore from '@tensorflow/tfjs-core';
import type { Scalar, Tensor as TfTensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { build } from 'esbuild';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../src/model/config.js';
import { initParams } from '../src/model/init.js';
import { buildParamTable, type ParamTable } from '../src/model/params.js';
import { forward, lossAndGrad, tensor, type Tensor } from '../src/model/reference.js';
import { Rng } from '../src/util/rng.js';

/*
 * Loading TF.js. tfjs-core's Node entry (dist/tf-core.node.js) registers no gradients: they live
 * in the ESM-only side-effect module `dist/register_all_gradients.js` (what the `@tensorflow/tfjs`
 * umbrella package bundles in), whose extensionless imports Node cannot load directly. So esbuild
 * bundles core (ESM build, one copy), its gradients and the CPU backend into one CommonJS file.
 */
let tf: typeof TfCore;
let bundleDir: string | undefined;

before(async () => {
  bundleDir = mkdtempSync(join(tmpdir(), 'cnnv3-tfjs-'));
  const file = join(bundleDir, 'tfjs.cjs');
  await build({
    stdin: {
      contents: [
        "export * from '@tensorflow/tfjs-core';",
        "import '@tensorflow/tfjs-core/dist/register_all_gradients';",
        "import '@tensorflow/tfjs-backend-cpu';",
      ].join('\n'),
      resolveDir: fileURLToPath(new URL('..', import.meta.url)),
    },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    mainFields: ['module', 'main'], // core's ESM build everywhere, so a single copy of it
    outfile: file,
    logLevel: 'error',
  });
  tf = createRequire(import.meta.url)(file) as typeof TfCore;
  tf.enableProdMode(); // silences the "install tfjs-node" banner; no effect on results
  await tf.setBackend('cpu');
  await tf.ready();
});

after(() => {
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- TF.js building blocks (NHWC)

/**
 * 2×2 average pool, output ceil(n/2), a partial block at the right/bottom averaging only the
 * pixels it has. Built as zero-pad to even → block sum → divide by the per-block pixel count
 * (itself obtained by pooling a mask of ones), so that TF differentiates plain pad/reshape/sum/div.
 * We do not use `tf.avgPool(x, 2, 2, 'same')`: its forward pass has these semantics, but the CPU
 * backend's AvgPoolGrad divides every block by 2·2, so its gradient is wrong for partial blocks
 * (shown by the hand check below).
 */
function blockSum(x: Tensor4D): Tensor4D {
  const [n, h, w, c] = x.shape;
  const H = Math.ceil(h / 2);
  const W = Math.ceil(w / 2);
  const padded = tf.pad(x, [[0, 0], [0, 2 * H - h], [0, 2 * W - w], [0, 0]]);
  return tf.sum(tf.reshape(padded, [n, H, 2, W, 2, c]), [2, 4]) as Tensor4D;
}

function avgpool(x: Tensor4D): Tensor4D {
  const [, h, w] = x.shape;
  const counts = blockSum(tf.ones([1, h, w, 1]) as Tensor4D);
  return tf.div(blockSum(x), counts);
}

/**
 * Nearest ×2 (`out(x, y) = in(⌊x/2⌋, ⌊y/2⌋)`) by reshape + tile, then cropped to h×w. Rows and
 * columns are doubled in two rank-3 tiles (TF.js's tile gradient stops at rank 4).
 */
function upsample(x: Tensor4D, h: number, w: number): Tensor4D {
  const [n, hh, ww, c] = x.shape;
  const rows = tf.reshape(tf.tile(tf.reshape(x, [n * hh, 1, ww * c]), [1, 2, 1]), [n * 2 * hh * ww, 1, c]);
  const both = tf.reshape(tf.tile(rows, [1, 2, 1]), [n, 2 * hh, 2 * ww, c]) as Tensor4D;
  return tf.slice(both, [0, 0, 0, 0], [n, h, w, c]);
}

/** Conv, stride 1, zero pad (k−1)/2 ('same' for odd k and stride 1); weight OIHW → HWIO. */
function conv(x: Tensor4D, weightOIHW: TfTensor, bias: TfTensor): Tensor4D {
  const hwio = tf.transpose(weightOIHW, [2, 3, 1, 0]) as Tensor4D;
  return tf.add(tf.conv2d(x, hwio, 1, 'same'), bias);
}

/** PyTorch Linear: y = x·Wᵀ + b with W [out, in]; x is [1, in]. */
function linear(x: Tensor2D, weight: TfTensor, bias: TfTensor): Tensor2D {
  return tf.add(tf.matMul(x, weight as Tensor2D, false, true), bias);
}

interface Sample {
  x: Tensor; // CHW, 20 channels
  cond: number[];
  target: Tensor; // CHW, RGBA
}

function chwToNhwc(t: Tensor): Tensor4D {
  return tf.expandDims(tf.transpose(tf.tensor3d(Float32Array.from(t.data), [t.c, t.h, t.w]), [1, 2, 0]), 0) as Tensor4D;
}

type ParamLookup = (name: string) => TfTensor;

/**
 * The network's forward pass for one image in TF.js: `p` gives the parameters in table shapes
 * (weights OIHW, Linear [out, in]). The FiLM output is split in SPEC §4's order, recomputed here.
 */
function tfForward(cfg: ModelConfig, p: ParamLookup, x: Tensor4D, cond: Tensor2D): Tensor4D {
  const [c0, c1] = cfg.encChannels;
  const [, h, w] = x.shape;
  const hidden = tf.relu(linear(cond, p('film_mlp.0.weight'), p('film_mlp.0.bias')));
  const film = tf.reshape(linear(hidden, p('film_mlp.2.weight'), p('film_mlp.2.bias')), [-1]);
  // γ0[C0] β0[C0] γ1[C1] β1[C1] γ2[C0] β2[C0] γ3[4] β3[4]
  const [g0, b0, g1, b1, g2, b2, g3, b3] = tf.split(film, [c0, c0, c1, c1, c0, c0, 4, 4]) as [
    TfTensor, TfTensor, TfTensor, TfTensor, TfTensor, TfTensor, TfTensor, TfTensor,
  ];
  const filmOp = (t: Tensor4D, g: TfTensor, b: TfTensor) => tf.add(tf.mul(t, g), b) as Tensor4D;
  const convOf = (name: string, t: Tensor4D) => conv(t, p(`${name}.weight`), p(`${name}.bias`));

  const e0 = tf.relu(filmOp(convOf('enc0', x), g0, b0));
  const e1 = tf.relu(filmOp(convOf('enc1', avgpool(e0)), g1, b1));
  const bt = tf.relu(convOf('bottleneck', avgpool(e1)));
  const d1 = tf.relu(filmOp(convOf('dec1', tf.concat([upsample(bt, e1.shape[1], e1.shape[2]), e1], 3)), g2, b2));
  return tf.sigmoid(filmOp(convOf('dec0', tf.concat([upsample(d1, h, w), e0], 3)), g3, b3));
}

interface TfSample {
  x: Tensor4D;
  cond: Tensor2D;
  target: Tensor4D;
}

/** Mean squared error over all RGBA outputs of the batch. */
function tfLoss(cfg: ModelConfig, p: ParamLookup, batch: TfSample[]): Scalar {
  const sums = batch.map(({ x, cond, target }) => tf.sum(tf.square(tf.sub(tfForward(cfg, p, x, cond), target))));
  const count = batch.reduce((s, { x }) => s + 4 * x.shape[1] * x.shape[2], 0);
  return tf.div(tf.addN(sums), count);
}

// ---------------------------------------------------------------- fixtures

/** Values TF will see exactly: both sides then start from the same float32 numbers. */
function randomTensor(rng: Rng, c: number, h: number, w: number, lo: number): Tensor {
  const t = tensor(c, h, w);
  for (let i = 0; i < t.data.length; i++) t.data[i] = Math.fround(rng.uniform(lo, 1));
  return t;
}

function fixture(cfg: ModelConfig, sizes: Array<[number, number]>, seed: number) {
  const table = buildParamTable(cfg);
  const params = initParams(table, seed);
  const rng = new Rng(seed + 1000);
  // FiLM away from the identity: γ ∈ [0.5, 1.5), β ∈ [−0.2, 0.5).
  const fb = table.byName.get('film_mlp.2.bias')!;
  for (const { gamma, beta, channels } of Object.values(table.film)) {
    for (let c = 0; c < channels; c++) {
      params[fb.offset + gamma + c] = rng.uniform(0.5, 1.5);
      params[fb.offset + beta + c] = rng.uniform(-0.2, 0.5);
    }
  }
  // Biases nudged positive so that few relu channels are dead over a whole (tiny) image: a dead
  // channel only contributes exact zeros to both sides and tests nothing.
  for (const [name, lo, hi] of [['enc0.bias', -0.1, 0.5], ['enc1.bias', -0.1, 0.5], ['bottleneck.bias', -0.1, 0.5], ['dec1.bias', -0.1, 0.5], ['film_mlp.0.bias', 0, 0.6]] as const) {
    const p = table.byName.get(name)!;
    for (let i = 0; i < p.size; i++) params[p.offset + i] = rng.uniform(lo, hi);
  }
  const batch: Sample[] = sizes.map(([h, w]) => ({
    x: randomTensor(rng, 20, h, w, -1), // centred: enc0's relus see both signs within an image
    cond: Array.from({ length: cfg.filmCondDim }, () => Math.fround(rng.next())),
    target: randomTensor(rng, 4, h, w, 0),
  }));
  return { table, params, batch };
}

/** Where flat index i lives: `dec1.weight[2,5,0,1]`. */
function describeIndex(table: ParamTable, i: number): string {
  const p = table.params.find((q) => i >= q.offset && i < q.offset + q.size)!;
  let r = i - p.offset;
  const idx: number[] = [];
  for (let d = p.shape.length - 1; d >= 0; d--) {
    idx.unshift(r % p.shape[d]!);
    r = Math.floor(r / p.shape[d]!);
  }
  return `${p.name}[${idx.join(',')}]`;
}

/*
 * Tolerances. TF.js computes in float32 (unit roundoff 6e-8); the reference in float64 from the
 * very same float32 inputs and parameters, so the difference is TF's rounding alone. Gradients
 * here are at most ~4e-2 with median ~4e-4, and float32 rounding through five layers leaves
 * them off by ≤ 5e-9 absolute (measured; relative ~1e-7 typical, ≤ 1e-4 only on entries below
 * 1e-6, where cancellation eats the digits). So:
 *  - RTOL 1e-3: ≥ 10× float32's worst relative error on any entry that matters, yet 100× below
 *    what a real mistake does (a wrong pool divisor, a swapped γ/β or concat half, a missing
 *    skip gradient or relu mask all move entries by ≥ 1 %, mostly ≥ 10 %);
 *  - ATOL 1e-7: 20× the largest measured absolute error, so it only ever excuses the relative
 *    noise of entries ≲ 1e-4 of the largest gradient, while entries of 1e-5 are still checked to
 *    1 %. (1e-5 would leave the smallest ~10 % of the gradients effectively unchecked.)
 *  - loss: float32 sums of ~1e3 squares, measured ~5e-8 relative, LOSS_RTOL 1e-6.
 * Measured worst |tf − ref| / (ATOL + RTOL·|ref|) is ~4e-3 (see the diagnostics). A relu whose
 * float32 and float64 pre-activations straddle 0 would show up as a kink mismatch; with these
 * fixed seeds none comes within float32 noise of 0.
 */
const ATOL = 1e-7;
const RTOL = 1e-3;
const LOSS_RTOL = 1e-6;

async function checkAgainstTf(cfg: ModelConfig, sizes: Array<[number, number]>, seed: number, diag: (m: string) => void) {
  const { table, params, batch } = fixture(cfg, sizes, seed);

  // Reference: float64 loss and gradients (and outputs, to localise a failure).
  const refGrad = new Float64Array(table.total);
  const refLoss = lossAndGrad(table, params, batch, refGrad);

  const names = table.params.map((p) => p.name);
  const tfParams = table.params.map((p) => tf.tensor(params.subarray(p.offset, p.offset + p.size), p.shape));
  const lookup = (P: TfTensor[]): ParamLookup => (name) => P[names.indexOf(name)]!;
  const tfBatch: TfSample[] = batch.map((b) => ({
    x: chwToNhwc(b.x),
    cond: tf.tensor2d(Float32Array.from(b.cond), [1, b.cond.length]),
    target: chwToNhwc(b.target),
  }));
  const { value, grads } = tf.tidy(() => tf.valueAndGrads((...P: TfTensor[]) => tfLoss(cfg, lookup(P), tfBatch))(tfParams));
  const tfLossValue = (await value.data())[0]!;
  const tfGrad = new Float64Array(table.total);
  for (let k = 0; k < grads.length; k++) tfGrad.set(await grads[k]!.data(), table.params[k]!.offset);

  // Forward outputs agree too (a failure here points at the forward pass, not the backward).
  let maxOutErr = 0;
  for (let n = 0; n < batch.length; n++) {
    const refY = forward(table, params, batch[n]!.x, batch[n]!.cond).y;
    const tfY = tf.tidy(() => tf.transpose(tf.squeeze(tfForward(cfg, lookup(tfParams), tfBatch[n]!.x, tfBatch[n]!.cond), [0]), [2, 0, 1]));
    const tfYd = await tfY.data();
    tfY.dispose();
    refY.data.forEach((v, i) => (maxOutErr = Math.max(maxOutErr, Math.abs(v - tfYd[i]!))));
  }

  const lossRel = Math.abs(tfLossValue - refLoss) / Math.abs(refLoss);
  let maxAbs = 0;
  let maxRel = 0; // over entries with |ref| > 1e-6
  let worst = 0; // max of |tf − ref| / (ATOL + RTOL·|ref|)
  const bad: string[] = [];
  let badCount = 0;
  for (let i = 0; i < table.total; i++) {
    const err = Math.abs(tfGrad[i]! - refGrad[i]!);
    const allowed = ATOL + RTOL * Math.abs(refGrad[i]!);
    maxAbs = Math.max(maxAbs, err);
    if (Math.abs(refGrad[i]!) > 1e-6) maxRel = Math.max(maxRel, err / Math.abs(refGrad[i]!));
    worst = Math.max(worst, err / allowed);
    if (!(err <= allowed) && badCount++ < 8) {
      bad.push(`${describeIndex(table, i)}: tf ${tfGrad[i]!.toExponential(6)} ref ${refGrad[i]!.toExponential(6)}`);
    }
  }
  const nonzero = refGrad.filter((g) => g !== 0).length;
  const zeros = table.params
    .map((p) => [p.name, refGrad.subarray(p.offset, p.offset + p.size).filter((g) => g === 0).length] as const)
    .filter(([, z]) => z > 0)
    .map(([n, z]) => `${n} ${z}`);
  const gmax = refGrad.reduce((m, g) => Math.max(m, Math.abs(g)), 0);
  diag(
    `enc=[${cfg.encChannels.join(',')}] D=${cfg.filmCondDim} sizes=${sizes.map(([h, w]) => `${h}x${w}`).join(',')}: ` +
      `max output err ${maxOutErr.toExponential(2)}; loss ref ${refLoss.toPrecision(10)} tf ${tfLossValue.toPrecision(10)} rel ${lossRel.toExponential(2)}; ` +
      `${table.total} grads (${nonzero} nonzero; zeros: ${zeros.join(', ') || 'none'}; max |g| ${gmax.toExponential(2)}): max abs err ${maxAbs.toExponential(2)}, ` +
      `max rel err (|g|>1e-6) ${maxRel.toExponential(2)}, worst err/allowed ${worst.toExponential(2)}`,
  );

  tf.dispose([value, ...grads, ...tfParams, ...tfBatch.flatMap((b) => [b.x, b.cond, b.target])]);

  assert.ok(maxOutErr <= 1e-5, `forward outputs differ by up to ${maxOutErr}`);
  assert.ok(lossRel <= LOSS_RTOL, `loss: tf ${tfLossValue} vs ref ${refLoss} (rel ${lossRel})`);
  assert.equal(
    badCount,
    0,
    `${badCount} gradient mismatches (|tf − ref| > ${ATOL} + ${RTOL}·|ref|), max abs err ${maxAbs.toExponential(3)}; first ones:\n  ${bad.join('\n  ')}`,
  );
  // Dead relu channels give exact zeros on both sides and test nothing: keep most entries live.
  assert.ok(nonzero >= 0.85 * table.total, `too few nonzero gradients to be a real test (${nonzero}/${table.total})`);
}

// ---------------------------------------------------------------- hand checks of the TF building blocks

test('TF building blocks: avgpool partial blocks, nearest ×2 upsample + crop', async (t) => {
  // 3×3 input 1..9: blocks {1,2,4,5}/4 = 3, {3,6}/2 = 4.5, {7,8}/2 = 7.5, {9}/1 = 9.
  const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
  assert.deepEqual(Array.from(await avgpool(x).data()), [3, 4.5, 7.5, 9]);
  // The claim about tf.avgPool 'same': its forward pass divides by the count of valid pixels.
  assert.deepEqual(Array.from(await tf.avgPool(x, 2, 2, 'same').data()), [3, 4.5, 7.5, 9]);
  // Gradient of Σ avgpool(x): each pixel gets 1/(pixels in its block).
  const expected = [1 / 4, 1 / 4, 1 / 2, 1 / 4, 1 / 4, 1 / 2, 1 / 2, 1 / 2, 1];
  assert.deepEqual(Array.from(await tf.grad((v: TfTensor) => tf.sum(avgpool(v as Tensor4D)))(x).data()), expected);
  const tfPoolGrad = Array.from(await tf.grad((v: TfTensor) => tf.sum(tf.avgPool(v as Tensor4D, 2, 2, 'same')))(x).data());
  t.diagnostic(
    `tf.avgPool 'same' gradient on 3×3: [${tfPoolGrad.join(', ')}] ` +
      (tfPoolGrad.every((g, i) => g === expected[i]) ? '(correct)' : '(wrong for partial blocks: why avgpool() above is hand-built)'),
  );

  // Random odd shapes: hand-built pool matches tf.avgPool's forward pass, several channels.
  const rng = new Rng(7);
  for (const [h, w] of [[7, 5], [6, 9], [1, 1], [1, 4], [5, 1]] as const) {
    const r = tf.tensor4d(Array.from({ length: 2 * h * w * 3 }, () => rng.next()), [2, h, w, 3]);
    const a = await avgpool(r).data();
    const b = await tf.avgPool(r, 2, 2, 'same').data();
    assert.equal(a.length, 2 * Math.ceil(h / 2) * Math.ceil(w / 2) * 3);
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < 1e-6, `avgpool ${h}x${w} at ${i}: ${v} vs ${b[i]}`));
  }

  // Upsample 2×3 → crop 3×5: out(x, y) = in(⌊x/2⌋, ⌊y/2⌋).
  const u = tf.tensor4d([1, 2, 3, 4, 5, 6], [1, 2, 3, 1]);
  assert.deepEqual(Array.from(await upsample(u, 3, 5).data()), [1, 1, 2, 2, 3, 1, 1, 2, 2, 3, 4, 4, 5, 5, 6]);
  // …and agrees with tf.image.resizeNearestNeighbor at exactly 2× (then cropped), several channels.
  const v = tf.tensor4d(Array.from({ length: 2 * 3 * 4 * 2 }, () => rng.next()), [2, 3, 4, 2]);
  const viaResize = tf.slice(tf.image.resizeNearestNeighbor(v, [6, 8]), [0, 0, 0, 0], [2, 5, 7, 2]);
  assert.deepEqual(Array.from(await upsample(v, 5, 7).data()), Array.from(await viaResize.data()));
  // Gradient of Σ w ⊙ up(x): each input pixel sums the weights of the outputs it feeds.
  // (u(0,0) feeds rows 0–1 × cols 0–1: 1 + 10 + 2 + 20; u(1,2) feeds row 2 × col 4 only.)
  const wts = tf.tensor4d([1, 10, 100, 1000, 10000, 2, 20, 200, 2000, 20000, 4, 40, 400, 4000, 40000], [1, 3, 5, 1]);
  const du = await tf.grad((q: TfTensor) => tf.sum(tf.mul(upsample(q as Tensor4D, 3, 5), wts)))(u).data();
  assert.deepEqual(Array.from(du), [33, 3300, 30000, 44, 4400, 40000]);

  // OIHW → HWIO conv agrees with a direct sum at one interior and one corner pixel.
  const xi = tf.tensor4d(Array.from({ length: 4 * 5 * 2 }, () => rng.next()), [1, 4, 5, 2]);
  const wOIHW = Array.from({ length: 3 * 2 * 3 * 3 }, () => rng.uniform(-1, 1));
  const out = await conv(xi, tf.tensor(wOIHW, [3, 2, 3, 3]), tf.tensor1d([0.1, 0.2, 0.3])).data();
  const xd = await xi.data();
  for (const [yy, xx, o] of [[2, 2, 1], [0, 0, 2], [3, 4, 0]] as const) {
    let acc = [0.1, 0.2, 0.3][o]!;
    for (let i = 0; i < 2; i++) {
      for (let ky = 0; ky < 3; ky++) {
        for (let kx = 0; kx < 3; kx++) {
          const sy = yy + ky - 1;
          const sx = xx + kx - 1;
          if (sy >= 0 && sy < 4 && sx >= 0 && sx < 5) acc += wOIHW[((o * 2 + i) * 3 + ky) * 3 + kx]! * xd[(sy * 5 + sx) * 2 + i]!;
        }
      }
    }
    assert.ok(Math.abs(out[(yy * 5 + xx) * 3 + o]! - acc) < 1e-5, `conv at (${yy},${xx},${o})`);
  }
});

// ---------------------------------------------------------------- the gradient checks

test('autodiff: reference lossAndGrad matches TF.js, enc=[3,5] D=2, odd sizes 7×5, 6×9, 1×3', async (t) => {
  await checkAgainstTf({ encChannels: [3, 5], filmCondDim: 2 }, [[7, 5], [6, 9], [1, 3]], 11, (m) => t.diagnostic(m));
});

test('autodiff: reference lossAndGrad matches TF.js, default config, one 9×7 image', async (t) => {
  await checkAgainstTf(DEFAULT_MODEL_CONFIG, [[9, 7]], 5, (m) => t.diagnostic(m));
});
