/**
 * The kernels of fast.ts (convolutions, their gradients, the pointwise passes), twice: the
 * WebAssembly SIMD build of kernels.as, and a plain JS twin (kernels-js.ts) with the same
 * arguments that runs where WebAssembly SIMD is missing and checks the wasm in the tests. Both
 * work on one memory, the Arena, that holds all of a FastModel's buffers; a buffer is named by
 * its element index into the arena's f32 (or f64, i32) view.
 *
 * Layouts (kernels.as has the long version):
 *   activations HWC float32, pixel = C floats, rows `row` floats apart (dense or padded interior;
 *   a conv's input, and the output gradient its weight gradient reads, with a border of (K−1)/2);
 *   conv weights float32 [g][ky][kx][ci][4], output channels in groups of 4, zero past Cout;
 *   weight gradients float64 [ky][kx][ci][4·G] and bias gradients float64 [4·G], added into.
 */
import { KERNELS_WASM_BASE64 } from './kernels.generated.js';

/** Output channels rounded up to whole groups of 4: the lane count of weights and gradients. */
export const lanes4 = (c: number) => (c + 3) & ~3;

/**
 * One WebAssembly.Memory handed out bump-style (nothing is freed: a model allocates its buffers
 * once per image size). Buffers are 16-byte aligned and zeroed, with 32 bytes of slack after
 * each: the wasm kernels may read up to 7 floats past a buffer (and drop what they read).
 *
 * When it runs out, the arena moves to a new, larger memory rather than calling memory.grow():
 * growing detaches the old ArrayBuffer, and the first detach in a thread makes V8 check for
 * detachment on every typed-array access from then on, which slows all of that thread's typed-array
 * code (the trainer's too) by up to 2×. Views and wasm instances are remade after a move.
 */
export class Arena {
  memory = new WebAssembly.Memory({ initial: 16 });
  f32!: Float32Array;
  f64!: Float64Array;
  i32!: Int32Array;
  private top = 16; // offset 0 stays unused so that 0 can mean "no buffer"
  private readonly onMove: Array<() => void> = [];

  constructor() {
    this.views();
  }

  /** Calls `f` after every move to a new memory (wasm instances import the memory). */
  whenMoved(f: () => void): void {
    this.onMove.push(f);
  }

  /** n float32s; returns the index into f32. */
  allocF32(n: number): number {
    return this.alloc(n * 4) / 4; // offsets are multiples of 16 (and may pass 2³¹: no >>)
  }

  /** n float64s; returns the index into f64. */
  allocF64(n: number): number {
    return this.alloc(n * 8) / 8;
  }

  /** n int32s; returns the index into i32. */
  allocI32(n: number): number {
    return this.alloc(n * 4) / 4;
  }

  private alloc(bytes: number): number {
    const off = this.top;
    this.top = Math.ceil((off + bytes + 32) / 16) * 16;
    const size = this.memory.buffer.byteLength;
    if (this.top > size) {
      // Double (up to wasm32's 4 GiB of 64 KiB pages), or more if one buffer needs it.
      const pages = Math.max(Math.ceil(this.top / 65536), Math.min((2 * size) / 65536, 65536));
      const old = new Uint8Array(this.memory.buffer, 0, off);
      this.memory = new WebAssembly.Memory({ initial: pages });
      new Uint8Array(this.memory.buffer).set(old);
      this.views();
      for (const f of this.onMove) f();
    }
    return off;
  }

  private views(): void {
    const b = this.memory.buffer;
    this.f32 = new Float32Array(b);
    this.f64 = new Float64Array(b);
    this.i32 = new Int32Array(b);
  }
}

/**
 * The kernels, on an arena's buffers: arguments that name buffers are indices into the arena's
 * f32 view, except FiLM's γ, β, dγ, dβ and the gradients gw, gb (f64 view) and `flags`, `runs`
 * (i32 view); strides in floats.
 */
export interface Kernels {
  readonly kind: 'wasm' | 'js';
  /**
   * out[y][x][co] = bias[co] + Σ in[y+ky][x+kx][ci]·w[co][ci][ky][kx] for y < H, x < W. `inP` is the
   * top-left of an input with a border of (K−1)/2; `bias` −1 for none. Overwrites `out`.
   */
  conv(inP: number, inRow: number, H: number, W: number, Cin: number, K: number, w: number, bias: number, Cout: number, out: number, outRow: number): void;
  /**
   * Adds Σ in·d into gw and Σ d into gb (see the layouts above). Like the input, the output
   * gradient `dP` has a zero border of (K−1)/2 and is given by its top-left corner; for K = 3 the
   * wasm also reads one pixel past each end of a padded row, so any gap between rows (dRow wider
   * than (W + 2)·Cout) must be zero too.
   */
  convWeightGrad(inP: number, inRow: number, H: number, W: number, Cin: number, K: number, dP: number, dRow: number, Cout: number, gw: number, gb: number): void;
  /** out = relu(γ⊙c + β) per channel, over n pixels of C channels. */
  filmRelu(c: number, n: number, C: number, gamma: number, beta: number, out: number): void;
  /**
   * Through relu (mask from its output e) and FiLM: dc = relu'·dE·γ, written into the interior of
   * `out` (border `pad`; `out` may be dE itself when pad is 0); accumulates dγ, dβ.
   */
  filmReluBackward(c: number, e: number, dE: number, H: number, W: number, C: number, gamma: number, dGamma: number, dBeta: number, out: number, pad: number): void;
  /** 2×2 mean (partial blocks average what they have) into the interior of a buffer with border `pad`. */
  avgpool(src: number, H: number, W: number, C: number, dst: number, pad: number): void;
  /** Adds the pool's input gradient (dPool dense, ceil(H/2)×ceil(W/2)) into dSrc (H×W). */
  avgpoolBackward(dPool: number, H: number, W: number, C: number, dSrc: number): void;
  /** Writes cat(up(low), skip) into the interior of a padded (border 1) buffer of Cl + Cs channels. */
  upsampleConcat(low: number, Wl: number, Cl: number, skip: number, H: number, W: number, Cs: number, dstP: number): void;
  /** Splits d(cat) (dense): sets dLow (Hl×Wl, summing the 2×2 copies) and dSkip. */
  upsampleConcatBackward(dCat: number, H: number, W: number, Cl: number, Cs: number, dLow: number, Hl: number, Wl: number, dSkip: number): void;
  /** v = max(v, 0) over n floats (NaN → 0). */
  relu(p: number, n: number): void;
  /** d = 0 wherever the relu output y is not positive, over n floats. */
  reluMask(y: number, d: number, n: number): void;
  /** y = sigmoid(γ⊙z + β) over n RGBA pixels. */
  filmSigmoid(z: number, n: number, gamma: number, beta: number, y: number): void;
  /**
   * Σ (y − t)² over H×W RGBA pixels (returned) and its gradient through the sigmoid and FiLM:
   * g = scale·(y − t)·y(1 − y); dγ += g·z, dβ += g; γ·g into the interior of gP (border 1).
   */
  lossGrad(y: number, t: number, z: number, H: number, W: number, gamma: number, dGamma: number, dBeta: number, scale: number, gP: number): number;
  /** flags[c] = 1 where channel c of the n-pixel, C-channel image x has a nonzero bit somewhere (−0 too), else 0. */
  activeChannels(x: number, n: number, C: number, flags: number): void;
  /**
   * Packs channels of the H×W×C image x into dstP (nA channels), zeroing its border of 1. What
   * goes where: nRuns triples at `runs` (first source channel, first packed channel, length).
   */
  gatherChannels(x: number, H: number, W: number, C: number, runs: number, nRuns: number, nA: number, dstP: number): void;
}

// ---------------------------------------------------------------- WebAssembly

/** The module's exports: the same kernels, on byte offsets. */
type WasmExports = { [K in Exclude<keyof Kernels, 'kind'>]: Kernels[K] };

let compiled: WebAssembly.Module | null | undefined;

/**
 * The compiled module, or null where this engine lacks WebAssembly SIMD. Compiled synchronously
 * on first use (a few KB, about a millisecond) so that FastModel's constructor stays synchronous.
 */
export function kernelsModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      const text = atob(KERNELS_WASM_BASE64);
      const bytes = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
      compiled = new WebAssembly.Module(bytes);
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** The WebAssembly kernels on this arena's memory, or null where they cannot run. */
export function wasmKernels(arena: Arena): Kernels | null {
  const module = kernelsModule();
  if (!module) return null;
  const instantiate = () => new WebAssembly.Instance(module, { env: { memory: arena.memory } }).exports as unknown as WasmExports;
  let e = instantiate();
  arena.whenMoved(() => (e = instantiate()));
  // The wasm takes byte offsets: 4× an f32 or i32 index, 8× an f64 index.
  return {
    kind: 'wasm',
    conv: (inP, inRow, H, W, Cin, K, w, bias, Cout, out, outRow) =>
      e.conv(inP * 4, inRow, H, W, Cin, K, w * 4, bias < 0 ? 0 : bias * 4, Cout, out * 4, outRow),
    convWeightGrad: (inP, inRow, H, W, Cin, K, dP, dRow, Cout, gw, gb) =>
      e.convWeightGrad(inP * 4, inRow, H, W, Cin, K, dP * 4, dRow, Cout, gw * 8, gb * 8),
    filmRelu: (c, n, C, gamma, beta, out) => e.filmRelu(c * 4, n, C, gamma * 8, beta * 8, out * 4),
    filmReluBackward: (c, el, dE, H, W, C, gamma, dGamma, dBeta, out, pad) =>
      e.filmReluBackward(c * 4, el * 4, dE * 4, H, W, C, gamma * 8, dGamma * 8, dBeta * 8, out * 4, pad),
    avgpool: (src, H, W, C, dst, pad) => e.avgpool(src * 4, H, W, C, dst * 4, pad),
    avgpoolBackward: (dPool, H, W, C, dSrc) => e.avgpoolBackward(dPool * 4, H, W, C, dSrc * 4),
    upsampleConcat: (low, Wl, Cl, skip, H, W, Cs, dstP) => e.upsampleConcat(low * 4, Wl, Cl, skip * 4, H, W, Cs, dstP * 4),
    upsampleConcatBackward: (dCat, H, W, Cl, Cs, dLow, Hl, Wl, dSkip) =>
      e.upsampleConcatBackward(dCat * 4, H, W, Cl, Cs, dLow * 4, Hl, Wl, dSkip * 4),
    relu: (p, n) => e.relu(p * 4, n),
    reluMask: (y, d, n) => e.reluMask(y * 4, d * 4, n),
    filmSigmoid: (z, n, gamma, beta, y) => e.filmSigmoid(z * 4, n, gamma * 8, beta * 8, y * 4),
    lossGrad: (y, t, z, H, W, gamma, dGamma, dBeta, scale, gP) =>
      e.lossGrad(y * 4, t * 4, z * 4, H, W, gamma * 8, dGamma * 8, dBeta * 8, scale, gP * 4),
    activeChannels: (x, n, C, flags) => e.activeChannels(x * 4, n, C, flags * 4),
    gatherChannels: (x, H, W, C, runs, nRuns, nA, dstP) => e.gatherChannels(x * 4, H, W, C, runs * 4, nRuns, nA, dstP * 4),
  };
}
