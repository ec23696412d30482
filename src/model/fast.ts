/**
 * The fast CPU forward/backward used by the trainer, checked against reference.ts.
 *
 * Layout in this file: one image at a time, HWC (`t[(y·W + x)·C + c]`, channel fastest),
 * activations float32, gradient accumulators float64. Every buffer lives in one Arena
 * (wasm/kernels.ts) and is named by its index into the arena's Float32Array or Float64Array. All
 * the per-pixel work runs in kernels on that memory: WebAssembly SIMD (wasm/kernels.as), or
 * their plain JS twin (wasm/kernels-js.ts) where WebAssembly SIMD is missing. What stays here is
 * the order of the layers, the FiLM MLP (a few hundred numbers) and the weight (un)packing.
 *
 * Every convolution reads a zero-bordered ("padded") copy of its input, so its inner loops need
 * no bounds checks. Its weights are repacked per step as [g][ky][kx][ci][4]: output channels in
 * groups of 4, so that one input meets its 4 weights in one vector. The input gradient of a
 * convolution is itself a forward convolution, of the padded output gradient with the kernel
 * flipped and in/out swapped (`wT`): a gather that needs no zeroing and no scattered adds. The
 * weight gradient reads the output gradient with a border too.
 *
 * enc0 sees only the input channels that are not zero throughout the image: photos leave about a
 * third of the 20 feature channels at zero and channel dropout zeroes more, so skipping them is
 * free speed. Their weight gradients are exactly zero, as in the reference.
 *
 * Results depend only on the parameters and the image, never on what the model computed before
 * (the trainer's thread count and --resume rely on it): every buffer a kernel reads is either
 * fully rewritten per image or a border that stays zero.
 */
import { filmMlpForward } from './film.js';
import { FILM_HIDDEN, IN_CHANNELS, OUT_CHANNELS, RESIDUAL_BASE_CHANNELS, outputMode } from './config.js';
import { fastImageLoss, type LossKind } from './loss.js';
import type { ConvShape, ParamTable } from './params.js';
import { jsKernels } from './wasm/kernels-js.js';
import { Arena, lanes4, wasmKernels, type Kernels } from './wasm/kernels.js';

type FilmLayer = keyof ParamTable['film'];

/** One conv layer's packed weights and gradients: f32 / f64 indices into the arena. */
interface ConvPlan {
  shape: ConvShape;
  wOffset: number;
  bOffset: number;
  w: number; // f32 [g][ky][kx][ci][4]
  wT: number; // f32 [g][ky][kx][co][4] over groups of input channels, kernel flipped: the input gradient
  bias: number; // f32 [lanes4(out)]
  gW: number; // f64 [ky][kx][ci][lanes4(out)]
  gB: number; // f64 [lanes4(out)]
}

/** Buffers for one image size (f32 indices into the arena), allocated once. */
interface Workspace {
  H: number; W: number; H1: number; W1: number; H2: number; W2: number;
  x: number; target: number; // the caller's input and target, copied in
  xP: number; // padded input, enc0's active channels only
  c0: number; e0: number;
  p0P: number; // padded pool(e0)
  c1: number; e1: number;
  p1: number; // pool(e1), 1×1 conv needs no border
  b: number;
  cat1P: number; cd1: number; d1: number;
  cat0P: number; cd0: number; y: number;
  // gradients of activations; a 3×3 conv's output gradient is padded (its weight and input
  // gradients read it with a border)
  g4P: number; dCat0: number; dD1: number; dD1P: number; dCat1: number;
  dB: number; dP1: number; dE1: number; dE1P: number; dP0: number; dE0: number; dE0P: number;
}

export interface FastModelOptions {
  /** 'js' forces the plain JS kernels (the tests compare the two); default: wasm where available. */
  kernels?: 'wasm' | 'js';
  /** trainImage's loss (loss.ts; default mse, the playbook's). */
  loss?: LossKind;
}

// ---------------------------------------------------------------- the model

export class FastModel {
  /** Which kernels run: 'wasm' (WebAssembly SIMD) or 'js'. */
  readonly kernelKind: 'wasm' | 'js';
  private readonly arena = new Arena();
  private readonly kernels: Kernels;
  private readonly convs: ConvPlan[];
  /** enc0's weights over this image's active input channels only ([g][ky][kx][ci'][4]). */
  private readonly enc0Active: number;
  /**
   * i32: per input channel, 1 if it is active in the current image; the active channels in order
   * (nActive); and the same as runs of consecutive channels (nRuns triples: from, to, length).
   */
  private readonly flags: number;
  private readonly list: number;
  private readonly runs: number;
  private nActive = 0;
  /** f64: the FiLM MLP's output (γ, β of every layer, table.film order) and its gradient. */
  private readonly filmOut: number;
  private readonly dFilm: number;
  /** f64: all conv gradient accumulators, one run zeroed per image. */
  private readonly gradStart: number;
  private readonly gradEnd: number;
  private readonly workspaces = new Map<string, Workspace>();
  private readonly mlp: { w0: Float64Array; b0: Float64Array; w2: Float64Array; b2: Float64Array };
  private readonly gMlp: { w0: Float64Array; b0: Float64Array; w2: Float64Array; b2: Float64Array };
  private readonly hidden = new Float64Array(FILM_HIDDEN);
  private readonly cond: Float64Array;
  private readonly residual: boolean;
  private readonly loss: LossKind;
  /** d(loss sum)/dy of the image, HWC, for the losses other than mse. */
  private dLoss = new Float64Array(0);

  constructor(readonly table: ParamTable, options: FastModelOptions = {}) {
    const arena = this.arena;
    this.residual = outputMode(table.config) === 'residual';
    this.loss = options.loss ?? 'mse';
    this.kernels = (options.kernels !== 'js' && wasmKernels(arena)) || jsKernels(arena);
    this.kernelKind = this.kernels.kind;
    this.convs = table.convs.map((shape) => {
      const { out: O, in: I, k: K } = shape;
      return {
        shape,
        wOffset: table.byName.get(`${shape.name}.weight`)!.offset,
        bOffset: table.byName.get(`${shape.name}.bias`)!.offset,
        w: arena.allocF32(lanes4(O) * K * K * I),
        wT: arena.allocF32(lanes4(I) * K * K * O),
        bias: arena.allocF32(lanes4(O)),
        gW: 0,
        gB: 0,
      };
    });
    this.enc0Active = arena.allocF32(lanes4(this.convs[0]!.shape.out) * 9 * IN_CHANNELS);
    this.flags = arena.allocI32(IN_CHANNELS);
    this.list = arena.allocI32(IN_CHANNELS);
    this.runs = arena.allocI32(3 * IN_CHANNELS);
    this.filmOut = arena.allocF64(table.filmOut);
    this.dFilm = arena.allocF64(table.filmOut);
    this.gradStart = arena.allocF64(0);
    for (const p of this.convs) {
      const { out: O, in: I, k: K } = p.shape;
      p.gW = arena.allocF64(K * K * I * lanes4(O));
      p.gB = arena.allocF64(lanes4(O));
    }
    this.gradEnd = arena.allocF64(0);
    const D = table.config.filmCondDim;
    const F = table.filmOut;
    const mk = () => ({ w0: new Float64Array(FILM_HIDDEN * D), b0: new Float64Array(FILM_HIDDEN), w2: new Float64Array(F * FILM_HIDDEN), b2: new Float64Array(F) });
    this.mlp = mk();
    this.gMlp = mk();
    this.cond = new Float64Array(D);
  }

  /** Loads a flat parameter vector (table order): repacks conv weights, copies the MLP. */
  setParams(params: ArrayLike<number>): void {
    const f = this.arena.f32;
    for (const p of this.convs) {
      const { out: O, in: I, k: K } = p.shape;
      for (let o = 0; o < O; o++) {
        for (let i = 0; i < I; i++) {
          for (let ky = 0; ky < K; ky++) {
            for (let kx = 0; kx < K; kx++) {
              const v = params[p.wOffset + ((o * I + i) * K + ky) * K + kx]!;
              f[p.w + ((((o >> 2) * K + ky) * K + kx) * I + i) * 4 + (o & 3)] = v;
              // Input gradient: input i is an output, output o an input, the kernel turned 180°.
              f[p.wT + ((((i >> 2) * K + K - 1 - ky) * K + K - 1 - kx) * O + o) * 4 + (i & 3)] = v;
            }
          }
        }
      }
      for (let o = 0; o < O; o++) f[p.bias + o] = params[p.bOffset + o]!;
    }
    const at = (name: string) => this.table.byName.get(name)!.offset;
    const copy = (dst: Float64Array, name: string) => {
      const off = at(name);
      for (let i = 0; i < dst.length; i++) dst[i] = params[off + i]!;
    };
    copy(this.mlp.w0, 'film_mlp.0.weight');
    copy(this.mlp.b0, 'film_mlp.0.bias');
    copy(this.mlp.w2, 'film_mlp.2.weight');
    copy(this.mlp.b2, 'film_mlp.2.bias');
  }

  private workspace(H: number, W: number): Workspace {
    const key = `${H}x${W}`;
    let ws = this.workspaces.get(key);
    if (ws) return ws;
    const [C0, C1] = this.table.config.encChannels;
    const H1 = (H + 1) >> 1, W1 = (W + 1) >> 1, H2 = (H1 + 1) >> 1, W2 = (W1 + 1) >> 1;
    const a = (n: number) => this.arena.allocF32(n);
    const padded = (h: number, w: number, c: number) => a((h + 2) * (w + 2) * c);
    ws = {
      H, W, H1, W1, H2, W2,
      x: a(H * W * IN_CHANNELS), target: a(H * W * OUT_CHANNELS),
      xP: padded(H, W, IN_CHANNELS),
      c0: a(H * W * C0), e0: a(H * W * C0),
      p0P: padded(H1, W1, C0),
      c1: a(H1 * W1 * C1), e1: a(H1 * W1 * C1),
      p1: a(H2 * W2 * C1), b: a(H2 * W2 * C1),
      cat1P: padded(H1, W1, 2 * C1), cd1: a(H1 * W1 * C0), d1: a(H1 * W1 * C0),
      cat0P: padded(H, W, 2 * C0), cd0: a(H * W * OUT_CHANNELS), y: a(H * W * OUT_CHANNELS),
      g4P: padded(H, W, OUT_CHANNELS), dCat0: a(H * W * 2 * C0), dD1: a(H1 * W1 * C0), dD1P: padded(H1, W1, C0),
      dCat1: a(H1 * W1 * 2 * C1), dB: a(H2 * W2 * C1), dP1: a(H2 * W2 * C1),
      dE1: a(H1 * W1 * C1), dE1P: padded(H1, W1, C1), dP0: a(H1 * W1 * C0), dE0: a(H * W * C0), dE0P: padded(H, W, C0),
    };
    this.workspaces.set(key, ws);
    return ws;
  }

  /** f64 indices of a FiLM layer's γ, β and of their gradients. */
  private film(layer: FilmLayer): [number, number, number, number] {
    const { gamma, beta } = this.table.film[layer];
    return [this.filmOut + gamma, this.filmOut + beta, this.dFilm + gamma, this.dFilm + beta];
  }

  private runMlp(cond: ArrayLike<number>): void {
    const D = this.table.config.filmCondDim;
    const { w0, b0, w2, b2 } = this.mlp;
    for (let i = 0; i < D; i++) this.cond[i] = cond[i]!;
    const out = this.arena.f64.subarray(this.filmOut, this.filmOut + this.table.filmOut);
    filmMlpForward({ w0, b0, w1: w2, b1: b2 }, cond, D, this.hidden, out);
  }

  /**
   * Copies the image in, finds the input channels that are not zero everywhere, packs them into
   * the padded input's interior, and gathers enc0's weights for them.
   */
  private loadInput(x: Float32Array, ws: Workspace): void {
    const { H, W } = ws;
    const C = IN_CHANNELS;
    const { f32: f, i32 } = this.arena;
    f.set(x.subarray(0, H * W * C), ws.x);
    this.kernels.activeChannels(ws.x, H * W, C, this.flags);
    let nA = 0;
    let nRuns = 0;
    for (let c = 0; c < C; c++) {
      if (!i32[this.flags + c]) continue;
      const r = this.runs + 3 * (nRuns - 1);
      if (nRuns > 0 && i32[r]! + i32[r + 2]! === c) i32[r + 2]!++;
      else {
        i32[r + 3] = c;
        i32[r + 4] = nA;
        i32[r + 5] = 1;
        nRuns++;
      }
      i32[this.list + nA++] = c;
    }
    this.nActive = nA;
    this.kernels.gatherChannels(ws.x, H, W, C, this.runs, nRuns, nA, ws.xP);
    const enc0 = this.convs[0]!;
    const G = lanes4(enc0.shape.out) >> 2;
    for (let t = 0; t < G * 9; t++) {
      // t runs over [g][ky][kx]: the 4 lanes of each active channel.
      for (let k = 0; k < nA; k++) {
        const from = enc0.w + (t * C + i32[this.list + k]!) * 4;
        const to = this.enc0Active + (t * nA + k) * 4;
        f[to] = f[from]!;
        f[to + 1] = f[from + 1]!;
        f[to + 2] = f[from + 2]!;
        f[to + 3] = f[from + 3]!;
      }
    }
  }

  /**
   * Forward pass of one image. `x` is H×W×20 (HWC). FiLM γ/β come from the MLP on `cond`, or
   * from `film` directly when given. Returns the H×W×4 output: a view into the model's memory,
   * valid until the next call.
   */
  forward(x: Float32Array, H: number, W: number, cond: ArrayLike<number>, film?: ArrayLike<number>): Float32Array {
    const ws = this.workspace(H, W); // first: it may move the arena to a new memory
    if (film) this.arena.f64.set(film, this.filmOut);
    else this.runMlp(cond);
    const k = this.kernels;
    const [C0, C1] = this.table.config.encChannels;
    const { H1, W1, H2, W2 } = ws;
    const [enc0, enc1, bott, dec1, dec0] = this.convs as [ConvPlan, ConvPlan, ConvPlan, ConvPlan, ConvPlan];
    this.loadInput(x, ws);
    const nA = this.nActive;

    k.conv(ws.xP, (W + 2) * nA, H, W, nA, 3, this.enc0Active, enc0.bias, C0, ws.c0, W * C0);
    const [g0, b0] = this.film('enc0');
    k.filmRelu(ws.c0, H * W, C0, g0, b0, ws.e0);
    k.avgpool(ws.e0, H, W, C0, ws.p0P, 1);
    k.conv(ws.p0P, (W1 + 2) * C0, H1, W1, C0, 3, enc1.w, enc1.bias, C1, ws.c1, W1 * C1);
    const [g1, b1] = this.film('enc1');
    k.filmRelu(ws.c1, H1 * W1, C1, g1, b1, ws.e1);
    k.avgpool(ws.e1, H1, W1, C1, ws.p1, 0);
    k.conv(ws.p1, W2 * C1, H2, W2, C1, 1, bott.w, bott.bias, C1, ws.b, W2 * C1);
    k.relu(ws.b, H2 * W2 * C1);
    k.upsampleConcat(ws.b, W2, C1, ws.e1, H1, W1, C1, ws.cat1P);
    k.conv(ws.cat1P, (W1 + 2) * 2 * C1, H1, W1, 2 * C1, 3, dec1.w, dec1.bias, C0, ws.cd1, W1 * C0);
    const [g2, b2] = this.film('dec1');
    k.filmRelu(ws.cd1, H1 * W1, C0, g2, b2, ws.d1);
    k.upsampleConcat(ws.d1, W1, C0, ws.e0, H, W, C0, ws.cat0P);
    k.conv(ws.cat0P, (W + 2) * 2 * C0, H, W, 2 * C0, 3, dec0.w, dec0.bias, OUT_CHANNELS, ws.cd0, W * OUT_CHANNELS);
    const [g3, b3] = this.film('dec0');
    if (this.residual) this.residualOutput(ws, g3, b3);
    else k.filmSigmoid(ws.cd0, H * W, g3, b3, ws.y);
    return this.arena.f32.subarray(ws.y, ws.y + H * W * OUT_CHANNELS);
  }

  /**
   * Forward + backward of one training image against its RGBA target (H×W×4). The loss is a
   * mean over `count` values (the whole batch), so for mse dL/dy = 2(y − t)/count. Writes this
   * image's parameter gradient (flat, table order) into `grad` and returns its loss summed over
   * its values (mse: its sum of squared errors; loss.ts).
   */
  trainImage(x: Float32Array, H: number, W: number, cond: ArrayLike<number>, target: Float32Array, count: number, grad: Float64Array): number {
    this.forward(x, H, W, cond);
    const ws = this.workspace(H, W);
    const k = this.kernels;
    const [C0, C1] = this.table.config.encChannels;
    const { H1, W1, H2, W2 } = ws;
    const [enc0, enc1, bott, dec1, dec0] = this.convs as [ConvPlan, ConvPlan, ConvPlan, ConvPlan, ConvPlan];
    const { f32, f64 } = this.arena;
    f64.fill(0, this.gradStart, this.gradEnd);
    f64.fill(0, this.dFilm, this.dFilm + this.table.filmOut);
    f32.set(target.subarray(0, H * W * OUT_CHANNELS), ws.target);

    // Loss, and its gradient through the sigmoid and dec0's FiLM, into the padded g4P.
    const [g3, b3, dg3, db3] = this.film('dec0');
    const sse =
      this.loss !== 'mse'
        ? this.otherLossGrad(ws, g3, b3, dg3, db3, count)
        : this.residual
          ? this.residualLossGrad(ws, g3, b3, dg3, db3, 2 / count)
          : k.lossGrad(ws.y, ws.target, ws.cd0, H, W, g3, dg3, db3, 2 / count, ws.g4P);
    k.convWeightGrad(ws.cat0P, (W + 2) * 2 * C0, H, W, 2 * C0, 3, ws.g4P, (W + 2) * 4, OUT_CHANNELS, dec0.gW, dec0.gB);
    k.conv(ws.g4P, (W + 2) * 4, H, W, OUT_CHANNELS, 3, dec0.wT, -1, 2 * C0, ws.dCat0, W * 2 * C0);
    k.upsampleConcatBackward(ws.dCat0, H, W, C0, C0, ws.dD1, H1, W1, ws.dE0);

    const [g2, , dg2, db2] = this.film('dec1');
    k.filmReluBackward(ws.cd1, ws.d1, ws.dD1, H1, W1, C0, g2, dg2, db2, ws.dD1P, 1);
    k.convWeightGrad(ws.cat1P, (W1 + 2) * 2 * C1, H1, W1, 2 * C1, 3, ws.dD1P, (W1 + 2) * C0, C0, dec1.gW, dec1.gB);
    k.conv(ws.dD1P, (W1 + 2) * C0, H1, W1, C0, 3, dec1.wT, -1, 2 * C1, ws.dCat1, W1 * 2 * C1);
    k.upsampleConcatBackward(ws.dCat1, H1, W1, C1, C1, ws.dB, H2, W2, ws.dE1);

    k.reluMask(ws.b, ws.dB, H2 * W2 * C1);
    k.convWeightGrad(ws.p1, W2 * C1, H2, W2, C1, 1, ws.dB, W2 * C1, C1, bott.gW, bott.gB);
    k.conv(ws.dB, W2 * C1, H2, W2, C1, 1, bott.wT, -1, C1, ws.dP1, W2 * C1);
    k.avgpoolBackward(ws.dP1, H1, W1, C1, ws.dE1);

    const [g1, , dg1, db1] = this.film('enc1');
    k.filmReluBackward(ws.c1, ws.e1, ws.dE1, H1, W1, C1, g1, dg1, db1, ws.dE1P, 1);
    k.convWeightGrad(ws.p0P, (W1 + 2) * C0, H1, W1, C0, 3, ws.dE1P, (W1 + 2) * C1, C1, enc1.gW, enc1.gB);
    k.conv(ws.dE1P, (W1 + 2) * C1, H1, W1, C1, 3, enc1.wT, -1, C0, ws.dP0, W1 * C0);
    k.avgpoolBackward(ws.dP0, H, W, C0, ws.dE0);

    const [g0, , dg0, db0] = this.film('enc0');
    k.filmReluBackward(ws.c0, ws.e0, ws.dE0, H, W, C0, g0, dg0, db0, ws.dE0P, 1);
    const nA = this.nActive;
    k.convWeightGrad(ws.xP, (W + 2) * nA, H, W, nA, 3, ws.dE0P, (W + 2) * C0, C0, enc0.gW, enc0.gB);

    this.writeGrad(grad);
    return sse;
  }

  /** The residual output base (reference.ts residualBase) at pixel p, channel k. */
  private residualBase(ws: Workspace, p: number, k: number): number {
    const v = this.arena.f32[ws.x + p * IN_CHANNELS + RESIDUAL_BASE_CHANNELS[k]!]!;
    return k === 3 ? 1 - v : v;
  }

  // The residual output runs in plain JS, float64 inside: it is pointwise over 4 channels, a few
  // percent of a step, and keeping it out of the wasm keeps the default path's kernels untouched.
  private residualOutput(ws: Workspace, gamma: number, beta: number): void {
    const { f32: f, f64: g64 } = this.arena;
    const n = ws.H * ws.W;
    for (let p = 0; p < n; p++) {
      for (let k = 0; k < 4; k++) {
        const th = Math.tanh(g64[gamma + k]! * f[ws.cd0 + p * 4 + k]! + g64[beta + k]!);
        f[ws.y + p * 4 + k] = Math.min(1, Math.max(0, this.residualBase(ws, p, k) + th));
      }
    }
  }

  /** lossGrad's twin for the residual output: g = scale·(y − t)·(1 − tanh²), 0 where clamped. */
  private residualLossGrad(ws: Workspace, gamma: number, beta: number, dGamma: number, dBeta: number, scale: number): number {
    const { f32: f, f64: g64 } = this.arena;
    const { H, W } = ws;
    const sse = [0, 0, 0, 0];
    for (let yy = 0; yy < H; yy++) {
      for (let xx = 0; xx < W; xx++) {
        const p = yy * W + xx;
        const o = ws.g4P + ((yy + 1) * (W + 2) + xx + 1) * 4;
        for (let k = 0; k < 4; k++) {
          const i = p * 4 + k;
          const diff = f[ws.y + i]! - f[ws.target + i]!;
          sse[k]! += diff * diff;
          const z = f[ws.cd0 + i]!;
          const th = Math.tanh(g64[gamma + k]! * z + g64[beta + k]!);
          const pre = this.residualBase(ws, p, k) + th;
          const g = pre > 0 && pre < 1 ? scale * diff * (1 - th * th) : 0;
          g64[dGamma + k]! += g * z;
          g64[dBeta + k]! += g;
          f[o + k] = g * g64[gamma + k]!;
        }
      }
    }
    return sse[0]! + sse[1]! + (sse[2]! + sse[3]!);
  }

  /**
   * The losses other than mse (loss.ts fastImageLoss, plain JS in float64): dL/dy, then through
   * the output (sigmoid, or the residual's tanh and clamp) and dec0's FiLM into g4P, as lossGrad
   * and residualLossGrad do for mse. Returns the image's loss sum.
   */
  private otherLossGrad(ws: Workspace, gamma: number, beta: number, dGamma: number, dBeta: number, count: number): number {
    const { f32: f, f64: g64 } = this.arena;
    const { H, W } = ws;
    const n = H * W * OUT_CHANNELS;
    if (this.dLoss.length < n) this.dLoss = new Float64Array(n);
    const dy = this.dLoss.subarray(0, n);
    const sum = fastImageLoss(this.loss as Exclude<LossKind, 'mse'>, f.subarray(ws.y, ws.y + n), f.subarray(ws.target, ws.target + n), H, W, dy);
    for (let yy = 0; yy < H; yy++) {
      for (let xx = 0; xx < W; xx++) {
        const p = yy * W + xx;
        const o = ws.g4P + ((yy + 1) * (W + 2) + xx + 1) * 4;
        for (let k = 0; k < 4; k++) {
          const i = p * 4 + k;
          const z = f[ws.cd0 + i]!;
          let dout: number;
          if (this.residual) {
            const th = Math.tanh(g64[gamma + k]! * z + g64[beta + k]!);
            const pre = this.residualBase(ws, p, k) + th;
            dout = pre > 0 && pre < 1 ? 1 - th * th : 0;
          } else {
            const yv = f[ws.y + i]!;
            dout = yv * (1 - yv);
          }
          const g = (dy[i]! / count) * dout;
          g64[dGamma + k]! += g * z;
          g64[dBeta + k]! += g;
          f[o + k] = g * g64[gamma + k]!;
        }
      }
    }
    return sum;
  }

  /** Unpacks this image's gradients into flat table order, including the MLP's. */
  private writeGrad(grad: Float64Array): void {
    const { f64, i32 } = this.arena;
    for (const [l, p] of this.convs.entries()) {
      const { out: O, in: I, k: K } = p.shape;
      const O4 = lanes4(O);
      // enc0's gradient covers its active input channels only, in order; the others are zero.
      const nI = l === 0 ? this.nActive : I;
      if (l === 0) grad.fill(0, p.wOffset, p.wOffset + O * I * K * K);
      for (let i = 0; i < nI; i++) {
        const ci = l === 0 ? i32[this.list + i]! : i;
        for (let t = 0; t < K * K; t++) {
          // t = ky·K + kx, the same in both layouts
          const from = p.gW + (t * nI + i) * O4;
          for (let o = 0; o < O; o++) grad[p.wOffset + (o * I + ci) * K * K + t] = f64[from + o]!;
        }
      }
      for (let o = 0; o < O; o++) grad[p.bOffset + o] = f64[p.gB + o]!;
    }
    // MLP backward: out = W2·h + b2, h = relu(W0·cond + b0); the cond is still in runMlp's input.
    const D = this.table.config.filmCondDim;
    const F = this.table.filmOut;
    const Hd = FILM_HIDDEN;
    const { w2 } = this.mlp;
    const g = this.gMlp;
    g.w0.fill(0); g.b0.fill(0);
    const dHidden = new Float64Array(Hd);
    for (let o = 0; o < F; o++) {
      const d = f64[this.dFilm + o]!;
      g.b2[o] = d;
      for (let h = 0; h < Hd; h++) {
        g.w2[o * Hd + h] = d * this.hidden[h]!;
        dHidden[h]! += d * w2[o * Hd + h]!;
      }
    }
    for (let h = 0; h < Hd; h++) {
      const d = this.hidden[h]! > 0 ? dHidden[h]! : 0;
      g.b0[h] = d;
      for (let i = 0; i < D; i++) g.w0[h * D + i] = d * this.cond[i]!;
    }
    const put = (src: Float64Array, name: string) => grad.set(src, this.table.byName.get(name)!.offset);
    put(g.w0, 'film_mlp.0.weight');
    put(g.b0, 'film_mlp.0.bias');
    put(g.w2, 'film_mlp.2.weight');
    put(g.b2, 'film_mlp.2.bias');
  }
}
