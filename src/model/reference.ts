/**
 * The reference network (SPEC §4) in plain float64: one forward/backward pair per layer,
 * written to be read, not to be fast. It is the spec in code: the fast CPU path and the WGSL
 * kernels are checked against it.
 *
 * Layout in this file: one image at a time, tensors CHW (`t.data[(c·H + y)·W + x]`).
 * Parameters and gradients are flat vectors in parameter-table order (params.ts).
 */
import { filmMlpForward } from './film.js';
import { FILM_HIDDEN, IN_CHANNELS, OUT_CHANNELS, RESIDUAL_BASE_CHANNELS, outputMode } from './config.js';
import { referenceImageLoss, type LossKind } from './loss.js';
import type { ConvShape, ParamTable } from './params.js';

export interface Tensor {
  c: number;
  h: number;
  w: number;
  data: Float64Array;
}

export function tensor(c: number, h: number, w: number, data?: Float64Array): Tensor {
  return { c, h, w, data: data ?? new Float64Array(c * h * w) };
}

type Vec = ArrayLike<number>;

// ---------------------------------------------------------------- conv2d (stride 1, zero pad (k−1)/2)

/**
 * The window of output pixel (yy, xx) of output channel o: every (weight index, input index)
 * pair whose input lies inside the image (zero padding contributes nothing). The one definition
 * of the convolution's indexing, shared by the forward and the backward pass.
 */
function forEachTap(x: Tensor, k: number, o: number, yy: number, xx: number, visit: (wi: number, xi: number) => void): void {
  const pad = (k - 1) / 2;
  for (let i = 0; i < x.c; i++) {
    for (let ky = 0; ky < k; ky++) {
      const sy = yy + ky - pad;
      if (sy < 0 || sy >= x.h) continue;
      for (let kx = 0; kx < k; kx++) {
        const sx = xx + kx - pad;
        if (sx < 0 || sx >= x.w) continue;
        visit(((o * x.c + i) * k + ky) * k + kx, (i * x.h + sy) * x.w + sx);
      }
    }
  }
}

export function conv2dForward(x: Tensor, weight: Vec, bias: Vec, outC: number, k: number): Tensor {
  const y = tensor(outC, x.h, x.w);
  for (let o = 0; o < outC; o++) {
    for (let yy = 0; yy < x.h; yy++) {
      for (let xx = 0; xx < x.w; xx++) {
        let acc = bias[o]!;
        forEachTap(x, k, o, yy, xx, (wi, xi) => {
          acc += weight[wi]! * x.data[xi]!;
        });
        y.data[(o * x.h + yy) * x.w + xx] = acc;
      }
    }
  }
  return y;
}

/** Accumulates dW and db; returns dx (unless the input needs no gradient). */
export function conv2dBackward(
  x: Tensor,
  weight: Vec,
  dy: Tensor,
  k: number,
  dW: Float64Array,
  db: Float64Array,
  needDx = true,
): Tensor | undefined {
  const dx = needDx ? tensor(x.c, x.h, x.w) : undefined;
  for (let o = 0; o < dy.c; o++) {
    for (let yy = 0; yy < x.h; yy++) {
      for (let xx = 0; xx < x.w; xx++) {
        const g = dy.data[(o * x.h + yy) * x.w + xx]!;
        db[o]! += g;
        forEachTap(x, k, o, yy, xx, (wi, xi) => {
          dW[wi]! += g * x.data[xi]!;
          if (dx) dx.data[xi]! += g * weight[wi]!;
        });
      }
    }
  }
  return dx;
}

// ---------------------------------------------------------------- FiLM: γ ⊙ x + β per channel

export function filmForward(x: Tensor, gamma: Vec, beta: Vec): Tensor {
  const y = tensor(x.c, x.h, x.w);
  const hw = x.h * x.w;
  for (let c = 0; c < x.c; c++) for (let p = 0; p < hw; p++) y.data[c * hw + p] = gamma[c]! * x.data[c * hw + p]! + beta[c]!;
  return y;
}

export function filmBackward(x: Tensor, gamma: Vec, dy: Tensor, dGamma: Float64Array, dBeta: Float64Array): Tensor {
  const dx = tensor(x.c, x.h, x.w);
  const hw = x.h * x.w;
  for (let c = 0; c < x.c; c++) {
    for (let p = 0; p < hw; p++) {
      const g = dy.data[c * hw + p]!;
      dGamma[c]! += g * x.data[c * hw + p]!;
      dBeta[c]! += g;
      dx.data[c * hw + p] = g * gamma[c]!;
    }
  }
  return dx;
}

// ---------------------------------------------------------------- activations (backward from the output)

export function reluForward(x: Tensor): Tensor {
  return tensor(x.c, x.h, x.w, x.data.map((v) => (v > 0 ? v : 0)));
}

export function reluBackward(y: Tensor, dy: Tensor): Tensor {
  return tensor(y.c, y.h, y.w, dy.data.map((g, i) => (y.data[i]! > 0 ? g : 0)));
}

export function sigmoidForward(x: Tensor): Tensor {
  return tensor(x.c, x.h, x.w, x.data.map((v) => 1 / (1 + Math.exp(-v))));
}

export function sigmoidBackward(y: Tensor, dy: Tensor): Tensor {
  return tensor(y.c, y.h, y.w, dy.data.map((g, i) => g * y.data[i]! * (1 - y.data[i]!)));
}

/** The residual output's base: (albedo.rgb, 1 − transp) of the input features, 4×H×W. */
export function residualBase(x: Tensor): Tensor {
  const n = x.h * x.w;
  const base = tensor(OUT_CHANNELS, x.h, x.w);
  RESIDUAL_BASE_CHANNELS.forEach((ch, k) => {
    for (let i = 0; i < n; i++) base.data[k * n + i] = k === 3 ? 1 - x.data[ch * n + i]! : x.data[ch * n + i]!;
  });
  return base;
}

/** y = clamp(base + tanh(z), 0, 1); also returns tanh(z) for the backward pass. */
export function residualForward(z: Tensor, base: Tensor): { y: Tensor; th: Tensor } {
  const th = tensor(z.c, z.h, z.w, z.data.map(Math.tanh));
  const y = tensor(z.c, z.h, z.w, th.data.map((t, i) => Math.min(1, Math.max(0, base.data[i]! + t))));
  return { y, th };
}

/** dL/dz: through tanh, and zero where the clamp was active (base + tanh(z) outside (0, 1)). */
export function residualBackward(th: Tensor, base: Tensor, dy: Tensor): Tensor {
  return tensor(th.c, th.h, th.w, dy.data.map((g, i) => {
    const pre = base.data[i]! + th.data[i]!;
    return pre > 0 && pre < 1 ? g * (1 - th.data[i]! * th.data[i]!) : 0;
  }));
}

// ---------------------------------------------------------------- 2×2 average pool, ceil size, partial blocks

export function avgpoolForward(x: Tensor): Tensor {
  const h = Math.ceil(x.h / 2);
  const w = Math.ceil(x.w / 2);
  const y = tensor(x.c, h, w);
  for (let c = 0; c < x.c; c++) {
    for (let yy = 0; yy < h; yy++) {
      for (let xx = 0; xx < w; xx++) {
        let sum = 0;
        let n = 0;
        for (let dy = 0; dy < 2; dy++) {
          for (let dx = 0; dx < 2; dx++) {
            const sy = 2 * yy + dy;
            const sx = 2 * xx + dx;
            if (sy < x.h && sx < x.w) {
              sum += x.data[(c * x.h + sy) * x.w + sx]!;
              n++;
            }
          }
        }
        y.data[(c * h + yy) * w + xx] = sum / n;
      }
    }
  }
  return y;
}

export function avgpoolBackward(x: Tensor, dy: Tensor): Tensor {
  const dx = tensor(x.c, x.h, x.w);
  for (let c = 0; c < x.c; c++) {
    for (let sy = 0; sy < x.h; sy++) {
      for (let sx = 0; sx < x.w; sx++) {
        const yy = sy >> 1;
        const xx = sx >> 1;
        const n = (Math.min(2 * yy + 2, x.h) - 2 * yy) * (Math.min(2 * xx + 2, x.w) - 2 * xx);
        dx.data[(c * x.h + sy) * x.w + sx] = dy.data[(c * dy.h + yy) * dy.w + xx]! / n;
      }
    }
  }
  return dx;
}

// ---------------------------------------------------------------- nearest ×2 upsample, cropped to the skip's size

export function upsampleForward(x: Tensor, h: number, w: number): Tensor {
  const y = tensor(x.c, h, w);
  for (let c = 0; c < x.c; c++) {
    for (let yy = 0; yy < h; yy++) {
      for (let xx = 0; xx < w; xx++) y.data[(c * h + yy) * w + xx] = x.data[(c * x.h + (yy >> 1)) * x.w + (xx >> 1)]!;
    }
  }
  return y;
}

export function upsampleBackward(x: Tensor, dy: Tensor): Tensor {
  const dx = tensor(x.c, x.h, x.w);
  for (let c = 0; c < dy.c; c++) {
    for (let yy = 0; yy < dy.h; yy++) {
      for (let xx = 0; xx < dy.w; xx++) dx.data[(c * x.h + (yy >> 1)) * x.w + (xx >> 1)]! += dy.data[(c * dy.h + yy) * dy.w + xx]!;
    }
  }
  return dx;
}

// ---------------------------------------------------------------- channel concat (first tensor first)

export function concatForward(a: Tensor, b: Tensor): Tensor {
  const y = tensor(a.c + b.c, a.h, a.w);
  y.data.set(a.data, 0);
  y.data.set(b.data, a.data.length);
  return y;
}

export function concatBackward(a: Tensor, dy: Tensor): [Tensor, Tensor] {
  const n = a.data.length;
  return [tensor(a.c, a.h, a.w, dy.data.slice(0, n)), tensor(dy.c - a.c, a.h, a.w, dy.data.slice(n))];
}

// ---------------------------------------------------------------- FiLM MLP: Linear(D→16) → relu → Linear(16→F)

export interface MlpCache {
  cond: Float64Array;
  hidden: Float64Array; // after relu
  out: Float64Array;
}

function linearBackward(x: Vec, weight: Vec, dy: Vec, dW: Float64Array, db: Float64Array): Float64Array {
  const inN = x.length;
  const dx = new Float64Array(inN);
  for (let o = 0; o < dy.length; o++) {
    db[o]! += dy[o]!;
    for (let i = 0; i < inN; i++) {
      dW[o * inN + i]! += dy[o]! * x[i]!;
      dx[i]! += dy[o]! * weight[o * inN + i]!;
    }
  }
  return dx;
}

// ---------------------------------------------------------------- the whole model

/** Named slices of a flat vector, following the parameter table. */
function slices<T extends Float64Array | Float32Array>(table: ParamTable, flat: T): Record<string, T> {
  const out: Record<string, T> = {};
  for (const p of table.params) out[p.name] = flat.subarray(p.offset, p.offset + p.size) as T;
  return out;
}

export function mlpForward(table: ParamTable, params: Vec, cond: Vec): MlpCache {
  const P = slices(table, Float64Array.from(params));
  const hidden = new Float64Array(FILM_HIDDEN);
  const out = new Float64Array(table.filmOut);
  const D = table.config.filmCondDim;
  filmMlpForward({ w0: P['film_mlp.0.weight']!, b0: P['film_mlp.0.bias']!, w1: P['film_mlp.2.weight']!, b1: P['film_mlp.2.bias']! }, cond, D, hidden, out);
  return { cond: Float64Array.from({ length: D }, (_, i) => cond[i] ?? 0), hidden, out };
}

/** Everything the backward pass needs from the forward pass. */
export interface ForwardCache {
  x: Tensor;
  mlp: MlpCache;
  c0: Tensor; e0: Tensor; p0: Tensor;
  c1: Tensor; e1: Tensor; p1: Tensor;
  b: Tensor;
  cat1: Tensor; cd1: Tensor; d1: Tensor;
  cat0: Tensor; cd0: Tensor; y: Tensor;
  /** Residual output only: tanh of dec0's FiLM output, and the base it was added to. */
  residual?: { th: Tensor; base: Tensor };
}

function filmOf(table: ParamTable, mlpOut: Float64Array, layer: keyof ParamTable['film']): [Float64Array, Float64Array] {
  const f = table.film[layer];
  return [mlpOut.subarray(f.gamma, f.gamma + f.channels), mlpOut.subarray(f.beta, f.beta + f.channels)];
}

function conv(table: ParamTable, P: Record<string, Float64Array>, shape: ConvShape, x: Tensor): Tensor {
  return conv2dForward(x, P[`${shape.name}.weight`]!, P[`${shape.name}.bias`]!, shape.out, shape.k);
}

/** The activations a GPU stores in a texture between passes (and may round on the way). */
export type StoredNode = 'e0' | 'e1' | 'b' | 'd1' | 'y';

/**
 * Forward pass for one image: x is 20×H×W features, cond the D-vector.
 * `film` overrides the MLP's γ/β output (the GPU effect without an MLP uses identity FiLM).
 * `store` sees each stored activation right after it is computed and may change it in place,
 * e.g. round it to f16 as the GPU's node textures do; later layers read what it leaves.
 */
export function forward(
  table: ParamTable,
  params: ArrayLike<number>,
  x: Tensor,
  cond: ArrayLike<number>,
  film?: ArrayLike<number>,
  store: (node: StoredNode, t: Tensor) => void = () => {},
): ForwardCache {
  if (x.c !== IN_CHANNELS) throw new Error(`forward: expected ${IN_CHANNELS} input channels, got ${x.c}`);
  const P = slices(table, Float64Array.from(params));
  const mlp = mlpForward(table, params, cond);
  const filmOut = film ? Float64Array.from(film) : mlp.out;
  const [enc0, enc1, bott, dec1, dec0] = table.convs as [ConvShape, ConvShape, ConvShape, ConvShape, ConvShape];

  const c0 = conv(table, P, enc0, x);
  const e0 = reluForward(filmForward(c0, ...filmOf(table, filmOut, 'enc0')));
  store('e0', e0);
  const p0 = avgpoolForward(e0);
  const c1 = conv(table, P, enc1, p0);
  const e1 = reluForward(filmForward(c1, ...filmOf(table, filmOut, 'enc1')));
  store('e1', e1);
  const p1 = avgpoolForward(e1);
  const b = reluForward(conv(table, P, bott, p1));
  store('b', b);
  const cat1 = concatForward(upsampleForward(b, e1.h, e1.w), e1);
  const cd1 = conv(table, P, dec1, cat1);
  const d1 = reluForward(filmForward(cd1, ...filmOf(table, filmOut, 'dec1')));
  store('d1', d1);
  const cat0 = concatForward(upsampleForward(d1, e0.h, e0.w), e0);
  const cd0 = conv(table, P, dec0, cat0);
  const z = filmForward(cd0, ...filmOf(table, filmOut, 'dec0'));
  const cache: ForwardCache = { x, mlp: { ...mlp, out: filmOut }, c0, e0, p0, c1, e1, p1, b, cat1, cd1, d1, cat0, cd0, y: z };
  if (outputMode(table.config) === 'residual') {
    const base = residualBase(x);
    const { y, th } = residualForward(z, base);
    cache.y = y;
    cache.residual = { th, base };
  } else {
    cache.y = sigmoidForward(z);
  }
  store('y', cache.y);
  return cache;
}

/**
 * Backward pass for one image from dL/dy (4×H×W); accumulates into `grad` (flat, table order).
 * The input features need no gradient.
 */
export function backward(table: ParamTable, params: ArrayLike<number>, cache: ForwardCache, dy: Tensor, grad: Float64Array): void {
  const P = slices(table, Float64Array.from(params));
  const G = slices(table, grad);
  const dFilm = new Float64Array(table.filmOut);
  const filmOut = cache.mlp.out;
  const dFilmOf = (layer: keyof ParamTable['film']): [Float64Array, Float64Array] => {
    const f = table.film[layer];
    return [dFilm.subarray(f.gamma, f.gamma + f.channels), dFilm.subarray(f.beta, f.beta + f.channels)];
  };
  const gammaOf = (layer: keyof ParamTable['film']) => filmOf(table, filmOut, layer)[0];
  const convBack = (name: string, x: Tensor, d: Tensor, k: number, needDx = true) =>
    conv2dBackward(x, P[`${name}.weight`]!, d, k, G[`${name}.weight`]!, G[`${name}.bias`]!, needDx);

  // dec0: sigmoid (or the residual output) ∘ FiLM ∘ conv over cat(up(d1), e0)
  const dFd0 = cache.residual ? residualBackward(cache.residual.th, cache.residual.base, dy) : sigmoidBackward(cache.y, dy);
  const dCd0 = filmBackward(cache.cd0, gammaOf('dec0'), dFd0, ...dFilmOf('dec0'));
  const [dUp0, dE0Skip] = concatBackward(upsampleForward(cache.d1, cache.e0.h, cache.e0.w), convBack('dec0', cache.cat0, dCd0, 3)!);
  // dec1: relu ∘ FiLM ∘ conv over cat(up(b), e1)
  const dD1 = upsampleBackward(cache.d1, dUp0);
  const dCd1 = filmBackward(cache.cd1, gammaOf('dec1'), reluBackward(cache.d1, dD1), ...dFilmOf('dec1'));
  const [dUp1, dE1Skip] = concatBackward(upsampleForward(cache.b, cache.e1.h, cache.e1.w), convBack('dec1', cache.cat1, dCd1, 3)!);
  // bottleneck: relu ∘ conv1x1 over avgpool(e1)
  const dB = upsampleBackward(cache.b, dUp1);
  const dP1 = convBack('bottleneck', cache.p1, reluBackward(cache.b, dB), 1)!;
  // enc1: its output feeds both the pool and the skip
  const dE1 = avgpoolBackward(cache.e1, dP1);
  for (let i = 0; i < dE1.data.length; i++) dE1.data[i]! += dE1Skip.data[i]!;
  const dC1 = filmBackward(cache.c1, gammaOf('enc1'), reluBackward(cache.e1, dE1), ...dFilmOf('enc1'));
  const dP0 = convBack('enc1', cache.p0, dC1, 3)!;
  // enc0
  const dE0 = avgpoolBackward(cache.e0, dP0);
  for (let i = 0; i < dE0.data.length; i++) dE0.data[i]! += dE0Skip.data[i]!;
  const dC0 = filmBackward(cache.c0, gammaOf('enc0'), reluBackward(cache.e0, dE0), ...dFilmOf('enc0'));
  convBack('enc0', cache.x, dC0, 3, false);

  // FiLM MLP: out = W2·relu(W0·cond + b0) + b2
  const dHidden = linearBackward(cache.mlp.hidden, P['film_mlp.2.weight']!, dFilm, G['film_mlp.2.weight']!, G['film_mlp.2.bias']!);
  const dPre = dHidden.map((g, i) => (cache.mlp.hidden[i]! > 0 ? g : 0));
  linearBackward(cache.mlp.cond, P['film_mlp.0.weight']!, dPre, G['film_mlp.0.weight']!, G['film_mlp.0.bias']!);
}

/**
 * The batch loss and its gradient: the training objective (SPEC §5.1). Mean squared error over
 * RGBA by default, or another `--loss` (loss.ts): each image's summed loss divided by the batch's
 * count of values. `grad` receives the summed parameter gradients of the batch mean.
 */
export function lossAndGrad(
  table: ParamTable,
  params: ArrayLike<number>,
  batch: Array<{ x: Tensor; cond: ArrayLike<number>; target: Tensor }>,
  grad?: Float64Array,
  loss: LossKind = 'mse',
): number {
  const count = batch.reduce((s, b) => s + OUT_CHANNELS * b.x.h * b.x.w, 0);
  let sum = 0;
  for (const item of batch) {
    const cache = forward(table, params, item.x, item.cond);
    const dy = tensor(OUT_CHANNELS, item.x.h, item.x.w);
    sum += referenceImageLoss(loss, cache.y.data, item.target.data, item.x.h, item.x.w, grad ? dy.data : undefined);
    if (!grad) continue;
    for (let i = 0; i < dy.data.length; i++) dy.data[i] = dy.data[i]! / count;
    backward(table, params, cache, dy, grad);
  }
  return sum / count;
}
