/**
 * The training losses (`cnnv3 train --loss`), per image over its RGBA output against its target,
 * the channels and normalisation of the playbook's MSE: every loss is a sum over the image's
 * 4·H·W values that the trainer divides by the batch's count of values, so the batch loss is
 * the mean over every value of every patch.
 *
 *   mse       (y − t)²                                    d/dy = 2(y − t)
 *   l1        |y − t|                                      d/dy = sign(y − t) (0 at equality)
 *   l1+ssim   (1 − α)·|y − t| + α·(1 − SSIM), α = 0.84
 *
 * l1+ssim is Zhao et al. 2017 ("Loss Functions for Image Restoration with Neural Networks"),
 * who mix L1 with MS-SSIM at α = 0.84. Our patches are 32–64 px, too small for five scales, so
 * the SSIM here is single-scale: a 7×7 Gaussian window with σ = 1.5 (Wang et al.'s σ, truncated
 * at ±3 px, which keeps 97 % of its 2-D mass, instead of their 11×11 — on a 32×32 patch an 11×11
 * valid window leaves only 22×22 centres and weighs the fine detail we train for at a wider
 * scale), C1 = 0.01², C2 = 0.03² for values in [0, 1], per channel on all four (R, G, B, A,
 * as the MSE), over "valid" windows only (every window inside the image: no padding, so no
 * invented edges at the patch border). Each channel's SSIM term is the mean of 1 − SSIM over its
 * window centres times H·W, so that divided by the count it is the mean of the batch. An image
 * smaller than the window in either direction has no SSIM term (its loss is the L1 part only).
 *
 * This file is the definition, in two forms: `referenceImageLoss` (CHW, float64, every window
 * summed directly: written to be read, used by reference.ts) and `fastImageLoss` (HWC, the
 * separable windows, used by the fast path and validation), checked against each other.
 */
import { OUT_CHANNELS } from './config.js';

export type LossKind = 'mse' | 'l1' | 'l1+ssim';
export const LOSS_KINDS: readonly LossKind[] = ['mse', 'l1', 'l1+ssim'];

/** One line per loss, as the training header prints it. */
export const LOSS_DESCRIPTIONS: Record<LossKind, string> = {
  mse: 'mean squared error over RGBA',
  l1: 'mean |y − t| over RGBA',
  'l1+ssim': '0.16·|y − t| + 0.84·(1 − SSIM) over RGBA (7×7 Gaussian σ 1.5, valid windows)',
};

export const SSIM = { alpha: 0.84, window: 7, sigma: 1.5, c1: 0.01 ** 2, c2: 0.03 ** 2 } as const;

/** The 1-D window (normalised to sum 1); the 2-D window is its outer product. */
export function ssimWindow(): Float64Array {
  const r = (SSIM.window - 1) / 2;
  const g = Float64Array.from({ length: SSIM.window }, (_, k) => Math.exp(-((k - r) ** 2) / (2 * SSIM.sigma ** 2)));
  const sum = g.reduce((s, v) => s + v, 0);
  return g.map((v) => v / sum);
}

/** The window every SSIM term uses, computed once. */
const SSIM_WINDOW = ssimWindow();

/** SSIM of one window from its five statistics, and the coefficients of its gradient (see below). */
function ssimOfWindow(ma: number, mb: number, vaa: number, vbb: number, vab: number): { s: number; ka: number; kb: number; k0: number } {
  const { c1, c2 } = SSIM;
  const a1 = 2 * ma * mb + c1;
  const a2 = 2 * vab + c2;
  const b1 = ma * ma + mb * mb + c1;
  const b2 = vaa + vbb + c2;
  const s = (a1 * a2) / (b1 * b2);
  // dS/da_k = 2·w_k·S·(μb/A1 + (b_k − μb)/A2 − μa/B1 − (a_k − μa)/B2) = 2·w_k·(k0 + kb·b_k − ka·a_k)
  return { s, ka: s / b2, kb: s / a2, k0: s * (mb / a1 - mb / a2 - ma / b1 + ma / b2) };
}

/**
 * The loss of one image summed over its values (see above), y and t CHW with 4 channels; with
 * `dSum`, adds d(sum)/dy into it (CHW).
 */
export function referenceImageLoss(kind: LossKind, y: ArrayLike<number>, t: ArrayLike<number>, H: number, W: number, dSum?: Float64Array): number {
  const n = OUT_CHANNELS * H * W;
  let sum = 0;
  if (kind === 'mse') {
    for (let i = 0; i < n; i++) {
      const diff = y[i]! - t[i]!;
      sum += diff * diff;
      if (dSum) dSum[i]! += 2 * diff;
    }
    return sum;
  }
  const l1Weight = kind === 'l1' ? 1 : 1 - SSIM.alpha;
  for (let i = 0; i < n; i++) {
    const diff = y[i]! - t[i]!;
    sum += l1Weight * Math.abs(diff);
    if (dSum) dSum[i]! += l1Weight * Math.sign(diff);
  }
  if (kind === 'l1' || H < SSIM.window || W < SSIM.window) return sum;

  const g = SSIM_WINDOW;
  const K = SSIM.window;
  const centres = (H - K + 1) * (W - K + 1);
  // Each channel: α·(H·W / centres)·Σ over windows of (1 − SSIM).
  const scale = (SSIM.alpha * H * W) / centres;
  for (let c = 0; c < OUT_CHANNELS; c++) {
    const at = (yy: number, xx: number) => (c * H + yy) * W + xx;
    // (y0, x0): the window's top-left; tap (ky, kx) has weight g[ky]·g[kx].
    for (let y0 = 0; y0 + K <= H; y0++) {
      for (let x0 = 0; x0 + K <= W; x0++) {
        let ma = 0, mb = 0, saa = 0, sbb = 0, sab = 0;
        for (let ky = 0; ky < K; ky++) {
          for (let kx = 0; kx < K; kx++) {
            const w = g[ky]! * g[kx]!;
            const a = y[at(y0 + ky, x0 + kx)]!;
            const b = t[at(y0 + ky, x0 + kx)]!;
            ma += w * a;
            mb += w * b;
            saa += w * a * a;
            sbb += w * b * b;
            sab += w * a * b;
          }
        }
        const { s, ka, kb, k0 } = ssimOfWindow(ma, mb, saa - ma * ma, sbb - mb * mb, sab - ma * mb);
        sum += scale * (1 - s);
        if (!dSum) continue;
        for (let ky = 0; ky < K; ky++) {
          for (let kx = 0; kx < K; kx++) {
            const i = at(y0 + ky, x0 + kx);
            dSum[i]! -= scale * 2 * g[ky]! * g[kx]! * (k0 + kb * t[i]! - ka * y[i]!);
          }
        }
      }
    }
  }
  return sum;
}

/**
 * `referenceImageLoss` for l1 and l1+ssim on HWC images (4 channels, e.g. the fast path's
 * float32 output), the SSIM windows as two 1-D passes; with `dSum`, writes d(sum)/dy (HWC).
 * (mse stays in the kernels, wasm/kernels.ts lossGrad.)
 */
export function fastImageLoss(kind: Exclude<LossKind, 'mse'>, y: ArrayLike<number>, t: ArrayLike<number>, H: number, W: number, dSum?: Float64Array): number {
  const n = OUT_CHANNELS * H * W;
  const l1Weight = kind === 'l1' ? 1 : 1 - SSIM.alpha;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const diff = y[i]! - t[i]!;
    sum += Math.abs(diff);
    if (dSum) dSum[i] = diff > 0 ? l1Weight : diff < 0 ? -l1Weight : 0;
  }
  sum *= l1Weight;
  if (kind === 'l1' || H < SSIM.window || W < SSIM.window) return sum;
  return sum + fastSsimTerm(y, t, H, W, dSum);
}

/** Scratch buffers of fastSsimTerm, grown as needed. */
let scratch = new Float64Array(0);

function fastSsimTerm(y: ArrayLike<number>, t: ArrayLike<number>, H: number, W: number, dSum: Float64Array | undefined): number {
  const g = SSIM_WINDOW;
  const K = SSIM.window;
  const Hv = H - K + 1;
  const Wv = W - K + 1;
  const scale = (SSIM.alpha * H * W) / (Hv * Wv);
  // Row pass: 5 maps H×Wv (Σ_kx of a, b, a², b², ab); then the window maps Hv×Wv: k0, kb, ka.
  const need = 5 * H * Wv + 3 * Hv * Wv + 3 * H * Wv;
  if (scratch.length < need) scratch = new Float64Array(need);
  const rows = scratch.subarray(0, 5 * H * Wv);
  const coef = scratch.subarray(5 * H * Wv, 5 * H * Wv + 3 * Hv * Wv);
  const cols = scratch.subarray(5 * H * Wv + 3 * Hv * Wv, need);
  let sum = 0;
  for (let c = 0; c < OUT_CHANNELS; c++) {
    for (let yy = 0; yy < H; yy++) {
      for (let x0 = 0; x0 < Wv; x0++) {
        let a1 = 0, b1 = 0, aa = 0, bb = 0, ab = 0;
        for (let k = 0; k < K; k++) {
          const i = (yy * W + x0 + k) * 4 + c;
          const w = g[k]!;
          const a = y[i]!;
          const b = t[i]!;
          a1 += w * a;
          b1 += w * b;
          aa += w * a * a;
          bb += w * b * b;
          ab += w * a * b;
        }
        const o = 5 * (yy * Wv + x0);
        rows[o] = a1; rows[o + 1] = b1; rows[o + 2] = aa; rows[o + 3] = bb; rows[o + 4] = ab;
      }
    }
    for (let y0 = 0; y0 < Hv; y0++) {
      for (let x0 = 0; x0 < Wv; x0++) {
        let ma = 0, mb = 0, saa = 0, sbb = 0, sab = 0;
        for (let k = 0; k < K; k++) {
          const o = 5 * ((y0 + k) * Wv + x0);
          const w = g[k]!;
          ma += w * rows[o]!;
          mb += w * rows[o + 1]!;
          saa += w * rows[o + 2]!;
          sbb += w * rows[o + 3]!;
          sab += w * rows[o + 4]!;
        }
        const { s, ka, kb, k0 } = ssimOfWindow(ma, mb, saa - ma * ma, sbb - mb * mb, sab - ma * mb);
        sum += 1 - s;
        const o = 3 * (y0 * Wv + x0);
        coef[o] = k0; coef[o + 1] = kb; coef[o + 2] = ka;
      }
    }
    if (!dSum) continue;
    // The gradient gathers every window over a pixel: first down the columns (into H×Wv) ...
    for (let yy = 0; yy < H; yy++) {
      for (let x0 = 0; x0 < Wv; x0++) {
        let s0 = 0, sb = 0, sa = 0;
        for (let y0 = Math.max(0, yy - K + 1); y0 <= Math.min(Hv - 1, yy); y0++) {
          const w = g[yy - y0]!;
          const o = 3 * (y0 * Wv + x0);
          s0 += w * coef[o]!;
          sb += w * coef[o + 1]!;
          sa += w * coef[o + 2]!;
        }
        const o = 3 * (yy * Wv + x0);
        cols[o] = s0; cols[o + 1] = sb; cols[o + 2] = sa;
      }
    }
    // ... then along the rows, at each pixel.
    for (let yy = 0; yy < H; yy++) {
      for (let xx = 0; xx < W; xx++) {
        let s0 = 0, sb = 0, sa = 0;
        for (let x0 = Math.max(0, xx - K + 1); x0 <= Math.min(Wv - 1, xx); x0++) {
          const w = g[xx - x0]!;
          const o = 3 * (yy * Wv + x0);
          s0 += w * cols[o]!;
          sb += w * cols[o + 1]!;
          sa += w * cols[o + 2]!;
        }
        const i = (yy * W + xx) * 4 + c;
        dSum[i]! -= scale * 2 * (s0 + sb * t[i]! - sa * y[i]!);
      }
    }
  }
  return scale * sum;
}
