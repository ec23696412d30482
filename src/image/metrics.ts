/**
 * Image quality against a target: PSNR and SSIM (Wang et al. 2004: 11×11 Gaussian window,
 * σ = 1.5, K1 = 0.01, K2 = 0.03, data range 1, population covariance, mean over the pixels
 * whose window fits inside the image — as scikit-image's structural_similarity computes it
 * with gaussian_weights=True, use_sample_covariance=False).
 * Inputs are interleaved float images in [0, 1] with `channels` per pixel; `use` picks which.
 */

export function psnr(a: ArrayLike<number>, b: ArrayLike<number>, channels: number, use: number[]): number {
  let se = 0;
  let n = 0;
  for (let p = 0; p < a.length / channels; p++) {
    for (const c of use) {
      const d = a[p * channels + c]! - b[p * channels + c]!;
      se += d * d;
      n++;
    }
  }
  return se === 0 ? Infinity : 10 * Math.log10(n / se);
}

const SIGMA = 1.5;
const RADIUS = 5;
const KERNEL = (() => {
  const k = Array.from({ length: 2 * RADIUS + 1 }, (_, i) => Math.exp(-((i - RADIUS) ** 2) / (2 * SIGMA * SIGMA)));
  const s = k.reduce((x, y) => x + y, 0);
  return k.map((v) => v / s);
})();

/** Gaussian-weighted local mean of a plane at every pixel whose 11×11 window fits. */
function blur(x: Float64Array, W: number, H: number): Float64Array {
  const tmp = new Float64Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let xx = RADIUS; xx < W - RADIUS; xx++) {
      let s = 0;
      for (let k = -RADIUS; k <= RADIUS; k++) s += KERNEL[k + RADIUS]! * x[y * W + xx + k]!;
      tmp[y * W + xx] = s;
    }
  }
  const out = new Float64Array(W * H);
  for (let y = RADIUS; y < H - RADIUS; y++) {
    for (let xx = RADIUS; xx < W - RADIUS; xx++) {
      let s = 0;
      for (let k = -RADIUS; k <= RADIUS; k++) s += KERNEL[k + RADIUS]! * tmp[(y + k) * W + xx]!;
      out[y * W + xx] = s;
    }
  }
  return out;
}

/** Mean SSIM over the chosen channels (NaN when the image is smaller than the 11×11 window). */
export function ssim(a: ArrayLike<number>, b: ArrayLike<number>, width: number, height: number, channels: number, use: number[]): number {
  if (width < 2 * RADIUS + 1 || height < 2 * RADIUS + 1) return NaN;
  const C1 = (0.01 * 1) ** 2;
  const C2 = (0.03 * 1) ** 2;
  const n = width * height;
  let total = 0;
  for (const c of use) {
    const x = new Float64Array(n);
    const y = new Float64Array(n);
    for (let p = 0; p < n; p++) {
      x[p] = a[p * channels + c]!;
      y[p] = b[p * channels + c]!;
    }
    const mx = blur(x, width, height);
    const my = blur(y, width, height);
    const xx = blur(x.map((v) => v * v), width, height);
    const yy = blur(y.map((v) => v * v), width, height);
    const xy = blur(x.map((v, i) => v * y[i]!), width, height);
    let sum = 0;
    let count = 0;
    for (let yy0 = RADIUS; yy0 < height - RADIUS; yy0++) {
      for (let x0 = RADIUS; x0 < width - RADIUS; x0++) {
        const i = yy0 * width + x0;
        const vx = xx[i]! - mx[i]! * mx[i]!;
        const vy = yy[i]! - my[i]! * my[i]!;
        const cov = xy[i]! - mx[i]! * my[i]!;
        sum += ((2 * mx[i]! * my[i]! + C1) * (2 * cov + C2)) / ((mx[i]! ** 2 + my[i]! ** 2 + C1) * (vx + vy + C2));
        count++;
      }
    }
    total += sum / count;
  }
  return total / use.length;
}
