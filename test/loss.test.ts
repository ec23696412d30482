// --loss: the losses of model/loss.ts — their gradients by finite differences, the fast (HWC,
// separable) form against the reference (CHW, direct), and the fast model's training step against
// the float64 reference for each loss and output mode.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../src/model/config.js';
import { FastModel } from '../src/model/fast.js';
import { initParams } from '../src/model/init.js';
import { fastImageLoss, referenceImageLoss, SSIM, ssimWindow, type LossKind } from '../src/model/loss.js';
import { buildParamTable } from '../src/model/params.js';
import { lossAndGrad, tensor, type Tensor } from '../src/model/reference.js';
import { Rng } from '../src/util/rng.js';
import { assertClose } from './assert-close.js';
import { checkGradients } from './grad-check.js';


function toHwc(t: Tensor): Float32Array {
  const out = new Float32Array(t.c * t.h * t.w);
  for (let c = 0; c < t.c; c++) for (let p = 0; p < t.h * t.w; p++) out[p * t.c + c] = t.data[c * t.h * t.w + p]!;
  return out;
}

/** CHW → HWC, keeping float64. */
function chwToHwc(a: ArrayLike<number>, H: number, W: number): Float64Array {
  const out = new Float64Array(4 * H * W);
  for (let c = 0; c < 4; c++) for (let p = 0; p < H * W; p++) out[p * 4 + c] = a[c * H * W + p]!;
  return out;
}

test('loss definitions: mse and l1 by hand; SSIM of an image with itself is 1, its window sums to 1', () => {
  const y = Float64Array.from({ length: 4 * 2 * 3 }, (_, i) => (i % 7) / 7);
  const t = Float64Array.from({ length: y.length }, (_, i) => (i % 5) / 5);
  let sq = 0;
  let ab = 0;
  for (let i = 0; i < y.length; i++) {
    sq += (y[i]! - t[i]!) ** 2;
    ab += Math.abs(y[i]! - t[i]!);
  }
  assert.equal(referenceImageLoss('mse', y, t, 2, 3), sq);
  assert.equal(referenceImageLoss('l1', y, t, 2, 3), ab);
  // Smaller than the window: l1+ssim is its L1 part alone.
  assert.ok(Math.abs(referenceImageLoss('l1+ssim', y, t, 2, 3) - (1 - SSIM.alpha) * ab) < 1e-12);
  const g = ssimWindow();
  assert.ok(Math.abs(g.reduce((s, v) => s + v, 0) - 1) < 1e-15);
  const rng = new Rng(3);
  const img = Float64Array.from({ length: 4 * 9 * 10 }, () => rng.next());
  assert.ok(Math.abs(referenceImageLoss('l1+ssim', img, img, 9, 10)) < 1e-12, 'identical images: no loss');
  // The l1 gradient is 0 where y = t.
  const d = new Float64Array(img.length);
  referenceImageLoss('l1', img, img, 9, 10, d);
  assert.ok(d.every((v) => v === 0));
});

test('loss gradients with respect to the output match central finite differences (l1+ssim, 9×11 and 7×7)', () => {
  const rng = new Rng(8);
  for (const [H, W] of [[9, 11], [7, 7], [12, 8]] as const) {
    const y = Float64Array.from({ length: 4 * H * W }, () => rng.next());
    const t = Float64Array.from({ length: y.length }, () => rng.next());
    // A constant alpha target, as photos have: σ_t = 0 in every window of that channel.
    t.fill(1, 3 * H * W);
    const d = new Float64Array(y.length);
    referenceImageLoss('l1+ssim', y, t, H, W, d);
    let worst = 0;
    for (let i = 0; i < y.length; i++) {
      const keep = y[i]!;
      const eps = 1e-6;
      y[i] = keep + eps;
      const up = referenceImageLoss('l1+ssim', y, t, H, W);
      y[i] = keep - eps;
      const down = referenceImageLoss('l1+ssim', y, t, H, W);
      y[i] = keep;
      const fd = (up - down) / (2 * eps);
      worst = Math.max(worst, Math.abs(fd - d[i]!) / (1e-7 + Math.abs(fd) + Math.abs(d[i]!)));
    }
    // Central differences of a sum of ~4·H·W terms at ε = 1e-6: a few 1e-6 of truncation and rounding.
    assert.ok(worst < 1e-5, `${H}×${W}: worst relative error ${worst}`);
  }
});

test('fastImageLoss (HWC, separable windows) matches referenceImageLoss (CHW, direct): values and gradients', () => {
  const rng = new Rng(12);
  for (const [H, W] of [[7, 7], [9, 16], [32, 32], [5, 20]] as const) {
    const y = Float64Array.from({ length: 4 * H * W }, () => Math.fround(rng.next()));
    const t = Float64Array.from({ length: y.length }, () => Math.fround(rng.next()));
    for (const kind of ['l1', 'l1+ssim'] as const) {
      const dRef = new Float64Array(y.length);
      const ref = referenceImageLoss(kind, y, t, H, W, dRef);
      const dFast = new Float64Array(y.length);
      const fast = fastImageLoss(kind, chwToHwc(y, H, W), chwToHwc(t, H, W), H, W, dFast);
      assert.ok(Math.abs(fast - ref) <= 1e-12 + 1e-10 * ref, `${kind} ${H}×${W}: ${fast} vs ${ref}`);
      assert.equal(fastImageLoss(kind, chwToHwc(y, H, W), chwToHwc(t, H, W), H, W), fast, 'the same without the gradient');
      assertClose(dFast, chwToHwc(dRef, H, W), 1e-12, 1e-9, `${kind} ${H}×${W} gradient`);
    }
  }
});

function randomCase(cfg: ModelConfig, sizes: Array<[number, number]>, seed: number) {
  const table = buildParamTable(cfg);
  const rng = new Rng(seed);
  const params = Float64Array.from(initParams(table, seed));
  const bias = table.byName.get('film_mlp.2.bias')!;
  for (let i = 0; i < bias.size; i++) params[bias.offset + i] = rng.uniform(0.5, 1.5);
  const batch = sizes.map(([h, w]) => {
    const x = tensor(20, h, w);
    for (let i = 0; i < x.data.length; i++) x.data[i] = Math.fround(rng.next());
    const target = tensor(4, h, w);
    for (let i = 0; i < target.data.length; i++) target.data[i] = Math.fround(rng.next());
    return { x, target, cond: Array.from({ length: cfg.filmCondDim }, () => Math.fround(rng.next())) };
  });
  return { table, params, batch };
}

for (const loss of ['l1', 'l1+ssim'] as const) {
  for (const output of ['sigmoid', 'residual'] as const) {
    test(`reference network gradients under --loss ${loss} (${output} output) match central finite differences`, () => {
      const cfg: ModelConfig = { encChannels: [2, 3], filmCondDim: 2, ...(output === 'residual' ? { output } : {}) };
      const { table, params, batch } = randomCase(cfg, [[8, 7], [3, 5]], 42);
      if (output === 'residual') {
        // dec0 starts at zero in residual mode; move it so every path carries signal.
        const rng = new Rng(1);
        const dec0 = table.byName.get('dec0.weight')!;
        for (let i = 0; i < dec0.size; i++) params[dec0.offset + i] = rng.uniform(-0.3, 0.3);
        for (const b of batch) for (const c of [0, 1, 2, 19]) for (let i = 0; i < b.x.h * b.x.w; i++) b.x.data[c * b.x.h * b.x.w + i] = 0.2 + 0.6 * b.x.data[c * b.x.h * b.x.w + i]!;
      }
      const { worst, where, reached } = checkGradients(table, params, batch, 1e-6, loss);
      // Central differences carry ~1e-10 of noise here, so an entry of 1e-6 is good to ~1e-4 only.
      assert.ok(worst < 3e-4, `worst relative error ${worst} at ${where}`);
      assert.ok(reached.has('enc0.weight') && reached.has('film_mlp.0.weight'), 'the gradient reaches the first layers');
    });
  }
}

for (const loss of ['mse', 'l1', 'l1+ssim'] as LossKind[]) {
  for (const output of ['sigmoid', 'residual'] as const) {
    test(`fast path matches the float64 reference under --loss ${loss} (${output} output; 16×16, 9×7, 3×5)`, () => {
      const cfg: ModelConfig = { ...DEFAULT_MODEL_CONFIG, ...(output === 'residual' ? { output } : {}) };
      const { table, params, batch } = randomCase(cfg, [[16, 16], [9, 7], [3, 5]], 11);
      if (output === 'residual') {
        const rng = new Rng(2);
        const dec0 = table.byName.get('dec0.weight')!;
        for (let i = 0; i < dec0.size; i++) params[dec0.offset + i] = rng.uniform(-0.3, 0.3);
      }
      const refGrad = new Float64Array(table.total);
      const refLoss = lossAndGrad(table, params, batch, refGrad, loss);
      const fast = new FastModel(table, { loss });
      fast.setParams(params);
      const count = batch.reduce((s, b) => s + 4 * b.x.h * b.x.w, 0);
      const grad = new Float64Array(table.total);
      const one = new Float64Array(table.total);
      let sum = 0;
      for (const b of batch) {
        sum += fast.trainImage(toHwc(b.x), b.x.h, b.x.w, b.cond, toHwc(b.target), count, one);
        for (let i = 0; i < grad.length; i++) grad[i]! += one[i]!;
      }
      const scale = Math.max(...Array.from(refGrad, Math.abs));
      assert.ok(Math.abs(sum / count - refLoss) <= 1e-6 * refLoss, `loss ${sum / count} vs ${refLoss}`);
      // As fast.test.ts: float32 activations against float64. (An l1 term whose y − t is within
      // float32 rounding of 0 could flip sign; random targets keep every |y − t| far from that.)
      assertClose(grad, refGrad, 1e-5 * scale, 1e-4, 'gradient');
    });
  }
}
