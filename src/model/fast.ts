/**
 * The fast CPU forward/backward used by the trainer, checked against reference.ts.
 *
 * Layout in this file: one image at a time, HWC (`t[(y·W + x)·C + c]`, channel fastest),
 * activations float32, gradient accumulators float64. Every convolution reads a zero-bordered
 * ("padded") copy of its input, so its inner loops need no bounds checks, and its weights are
 * repacked per step as [ky][kx][in][out]: for one kernel row the K·Cin inputs are contiguous in
 * memory and each meets its Cout weights side by side.
 */
import { FILM_HIDDEN, IN_CHANNELS, OUT_CHANNELS } from './config.js';
import type { ConvShape, ParamTable } from './params.js';

type FilmLayer = keyof ParamTable['film'];

interface ConvPlan {
  shape: ConvShape;
  wOffset: number;
  bOffset: number;
  packed: Float32Array; // [ky][kx][in][out]
  bias: Float32Array;
  gPacked: Float64Array;
  gBias: Float64Array;
}

/** Buffers for one image size, allocated once and reused. */
interface Workspace {
  H: number; W: number; H1: number; W1: number; H2: number; W2: number;
  xP: Float32Array; // padded input, 20 ch
  c0: Float32Array; e0: Float32Array;
  p0P: Float32Array; // padded pool(e0)
  c1: Float32Array; e1: Float32Array;
  p1: Float32Array; // pool(e1), 1×1 conv needs no border
  b: Float32Array;
  cat1P: Float32Array; cd1: Float32Array; d1: Float32Array;
  cat0P: Float32Array; cd0: Float32Array; y: Float32Array;
  // gradients of activations
  g4: Float32Array; dCat0P: Float32Array; dD1: Float32Array; dCat1P: Float32Array;
  dB: Float32Array; dP1: Float32Array; dE1: Float32Array; dP0P: Float32Array; dE0: Float32Array;
}

const padded = (h: number, w: number, c: number, k: number) => new Float32Array((h + k - 1) * (w + k - 1) * c);

// ---------------------------------------------------------------- convolution kernels

function convForward(inP: Float32Array, H: number, W: number, Cin: number, K: number, w: Float32Array, bias: Float32Array, Cout: number, out: Float32Array): void {
  const Wp = W + K - 1;
  const rowLen = K * Cin;
  if (Cout === 4) {
    const b0 = bias[0]!, b1 = bias[1]!, b2 = bias[2]!, b3 = bias[3]!;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let a0 = b0, a1 = b1, a2 = b2, a3 = b3;
        for (let ky = 0; ky < K; ky++) {
          const base = ((y + ky) * Wp + x) * Cin;
          let wi = ky * rowLen * 4;
          for (let j = 0; j < rowLen; j++, wi += 4) {
            const v = inP[base + j]!;
            a0 += v * w[wi]!;
            a1 += v * w[wi + 1]!;
            a2 += v * w[wi + 2]!;
            a3 += v * w[wi + 3]!;
          }
        }
        const o = (y * W + x) * 4;
        out[o] = a0;
        out[o + 1] = a1;
        out[o + 2] = a2;
        out[o + 3] = a3;
      }
    }
    return;
  }
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const o = (y * W + x) * Cout;
      for (let co = 0; co < Cout; co++) out[o + co] = bias[co]!;
      for (let ky = 0; ky < K; ky++) {
        const base = ((y + ky) * Wp + x) * Cin;
        let wi = ky * rowLen * Cout;
        for (let j = 0; j < rowLen; j++) {
          const v = inP[base + j]!;
          for (let co = 0; co < Cout; co++, wi++) out[o + co]! += v * w[wi]!;
        }
      }
    }
  }
}

/** Accumulates weight/bias gradients; adds the input gradient into dInP (padded) when given. */
function convBackward(
  inP: Float32Array, H: number, W: number, Cin: number, K: number, w: Float32Array, dOut: Float32Array, Cout: number,
  gW: Float64Array, gB: Float64Array, dInP: Float32Array | null,
): void {
  const Wp = W + K - 1;
  const rowLen = K * Cin;
  if (Cout === 4) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const o = (y * W + x) * 4;
        const d0 = dOut[o]!, d1 = dOut[o + 1]!, d2 = dOut[o + 2]!, d3 = dOut[o + 3]!;
        if (d0 === 0 && d1 === 0 && d2 === 0 && d3 === 0) continue; // common after relu
        s0 += d0; s1 += d1; s2 += d2; s3 += d3;
        for (let ky = 0; ky < K; ky++) {
          const base = ((y + ky) * Wp + x) * Cin;
          let wi = ky * rowLen * 4;
          if (dInP) {
            for (let j = 0; j < rowLen; j++, wi += 4) {
              const v = inP[base + j]!;
              gW[wi]! += v * d0;
              gW[wi + 1]! += v * d1;
              gW[wi + 2]! += v * d2;
              gW[wi + 3]! += v * d3;
              dInP[base + j]! += w[wi]! * d0 + w[wi + 1]! * d1 + w[wi + 2]! * d2 + w[wi + 3]! * d3;
            }
          } else {
            for (let j = 0; j < rowLen; j++, wi += 4) {
              const v = inP[base + j]!;
              if (v === 0) continue; // zero feature channels (photos, dropout) add nothing
              gW[wi]! += v * d0;
              gW[wi + 1]! += v * d1;
              gW[wi + 2]! += v * d2;
              gW[wi + 3]! += v * d3;
            }
          }
        }
      }
    }
    gB[0]! += s0; gB[1]! += s1; gB[2]! += s2; gB[3]! += s3;
    return;
  }
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const o = (y * W + x) * Cout;
      let any = false;
      for (let co = 0; co < Cout; co++) {
        const d = dOut[o + co]!;
        if (d !== 0) any = true;
        gB[co]! += d;
      }
      if (!any) continue;
      for (let ky = 0; ky < K; ky++) {
        const base = ((y + ky) * Wp + x) * Cin;
        let wi = ky * rowLen * Cout;
        for (let j = 0; j < rowLen; j++) {
          const v = inP[base + j]!;
          let back = 0;
          for (let co = 0; co < Cout; co++, wi++) {
            const d = dOut[o + co]!;
            gW[wi]! += v * d;
            back += w[wi]! * d;
          }
          if (dInP) dInP[base + j]! += back;
        }
      }
    }
  }
}

// ---------------------------------------------------------------- pointwise, pooling, upsampling

/** out = relu(γ⊙c + β) per channel. */
function filmRelu(c: Float32Array, C: number, gamma: Float64Array, beta: Float64Array, out: Float32Array): void {
  for (let i = 0; i < c.length; i += C) {
    for (let k = 0; k < C; k++) {
      const v = gamma[k]! * c[i + k]! + beta[k]!;
      out[i + k] = v > 0 ? v : 0;
    }
  }
}

/** Through relu (mask from its output e) and FiLM: writes dc in place of dE, accumulates dγ, dβ. */
function filmReluBackward(c: Float32Array, e: Float32Array, dE: Float32Array, C: number, gamma: Float64Array, dGamma: Float64Array, dBeta: Float64Array): void {
  for (let i = 0; i < c.length; i += C) {
    for (let k = 0; k < C; k++) {
      const g = e[i + k]! > 0 ? dE[i + k]! : 0;
      dGamma[k]! += g * c[i + k]!;
      dBeta[k]! += g;
      dE[i + k] = g * gamma[k]!;
    }
  }
}

/** 2×2 mean (partial blocks average what they have) into the interior of a buffer with border `pad`. */
function avgpool(src: Float32Array, H: number, W: number, C: number, dst: Float32Array, pad: number): void {
  const H1 = (H + 1) >> 1;
  const W1 = (W + 1) >> 1;
  const Wd = W1 + 2 * pad;
  for (let y = 0; y < H1; y++) {
    const y0 = 2 * y;
    const y1 = Math.min(y0 + 1, H - 1);
    for (let x = 0; x < W1; x++) {
      const x0 = 2 * x;
      const x1 = Math.min(x0 + 1, W - 1);
      const inv = 1 / ((y1 - y0 + 1) * (x1 - x0 + 1));
      const o = ((y + pad) * Wd + x + pad) * C;
      const a = (y0 * W + x0) * C, b = (y0 * W + x1) * C, c = (y1 * W + x0) * C, d = (y1 * W + x1) * C;
      for (let k = 0; k < C; k++) {
        // Duplicated taps at a clipped edge are counted once.
        let s = src[a + k]!;
        if (x1 !== x0) s += src[b + k]!;
        if (y1 !== y0) s += src[c + k]!;
        if (x1 !== x0 && y1 !== y0) s += src[d + k]!;
        dst[o + k] = s * inv;
      }
    }
  }
}

/** Adds the pool's input gradient (from the interior of dPool, border `pad`) into dSrc. */
function avgpoolBackward(dPool: Float32Array, H: number, W: number, C: number, pad: number, dSrc: Float32Array): void {
  const W1 = (W + 1) >> 1;
  const Wd = W1 + 2 * pad;
  for (let y = 0; y < H; y++) {
    const py = y >> 1;
    const ny = Math.min(2 * py + 2, H) - 2 * py;
    for (let x = 0; x < W; x++) {
      const px = x >> 1;
      const inv = 1 / (ny * (Math.min(2 * px + 2, W) - 2 * px));
      const o = ((py + pad) * Wd + px + pad) * C;
      const s = (y * W + x) * C;
      for (let k = 0; k < C; k++) dSrc[s + k]! += dPool[o + k]! * inv;
    }
  }
}

/** Writes cat(up(low), skip) into the interior of a padded (border 1) buffer of Cl + Cs channels. */
function upsampleConcat(low: Float32Array, Wl: number, Cl: number, skip: Float32Array, H: number, W: number, Cs: number, dstP: Float32Array): void {
  const C = Cl + Cs;
  const Wp = W + 2;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const o = ((y + 1) * Wp + x + 1) * C;
      const l = ((y >> 1) * Wl + (x >> 1)) * Cl;
      const s = (y * W + x) * Cs;
      for (let k = 0; k < Cl; k++) dstP[o + k] = low[l + k]!;
      for (let k = 0; k < Cs; k++) dstP[o + Cl + k] = skip[s + k]!;
    }
  }
}

/** Splits d(cat) from a padded buffer: sets dLow (summing the 2×2 copies) and adds into dSkip. */
function upsampleConcatBackward(dCatP: Float32Array, H: number, W: number, Cl: number, Cs: number, dLow: Float32Array, Wl: number, dSkip: Float32Array): void {
  const C = Cl + Cs;
  const Wp = W + 2;
  dLow.fill(0);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const o = ((y + 1) * Wp + x + 1) * C;
      const l = ((y >> 1) * Wl + (x >> 1)) * Cl;
      const s = (y * W + x) * Cs;
      for (let k = 0; k < Cl; k++) dLow[l + k]! += dCatP[o + k]!;
      for (let k = 0; k < Cs; k++) dSkip[s + k]! += dCatP[o + Cl + k]!;
    }
  }
}

/** Copies the interior of a padded buffer (border `pad`) into a dense one. */
function unpad(srcP: Float32Array, H: number, W: number, C: number, pad: number, dst: Float32Array): void {
  const Wp = W + 2 * pad;
  for (let y = 0; y < H; y++) {
    const from = ((y + pad) * Wp + pad) * C;
    dst.set(srcP.subarray(from, from + W * C), y * W * C);
  }
}

// ---------------------------------------------------------------- the model

export class FastModel {
  private readonly convs: ConvPlan[];
  private readonly workspaces = new Map<string, Workspace>();
  private readonly mlp: { w0: Float64Array; b0: Float64Array; w2: Float64Array; b2: Float64Array };
  private readonly gMlp: { w0: Float64Array; b0: Float64Array; w2: Float64Array; b2: Float64Array };
  private readonly filmOut: Float64Array;
  private readonly dFilm: Float64Array;
  private readonly hidden = new Float64Array(FILM_HIDDEN);
  private readonly cond: Float64Array;

  constructor(readonly table: ParamTable) {
    this.convs = table.convs.map((shape) => {
      const wN = shape.out * shape.in * shape.k * shape.k;
      return {
        shape,
        wOffset: table.byName.get(`${shape.name}.weight`)!.offset,
        bOffset: table.byName.get(`${shape.name}.bias`)!.offset,
        packed: new Float32Array(wN),
        bias: new Float32Array(shape.out),
        gPacked: new Float64Array(wN),
        gBias: new Float64Array(shape.out),
      };
    });
    const D = table.config.filmCondDim;
    const F = table.filmOut;
    const mk = () => ({ w0: new Float64Array(FILM_HIDDEN * D), b0: new Float64Array(FILM_HIDDEN), w2: new Float64Array(F * FILM_HIDDEN), b2: new Float64Array(F) });
    this.mlp = mk();
    this.gMlp = mk();
    this.filmOut = new Float64Array(F);
    this.dFilm = new Float64Array(F);
    this.cond = new Float64Array(D);
  }

  /** Loads a flat parameter vector (table order): repacks conv weights, copies the MLP. */
  setParams(params: ArrayLike<number>): void {
    for (const p of this.convs) {
      const { out: O, in: I, k: K } = p.shape;
      for (let o = 0; o < O; o++) {
        for (let i = 0; i < I; i++) {
          for (let ky = 0; ky < K; ky++) {
            for (let kx = 0; kx < K; kx++) p.packed[((ky * K + kx) * I + i) * O + o] = params[p.wOffset + ((o * I + i) * K + ky) * K + kx]!;
          }
        }
      }
      for (let o = 0; o < O; o++) p.bias[o] = params[p.bOffset + o]!;
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
    ws = {
      H, W, H1, W1, H2, W2,
      xP: padded(H, W, IN_CHANNELS, 3),
      c0: new Float32Array(H * W * C0), e0: new Float32Array(H * W * C0),
      p0P: padded(H1, W1, C0, 3),
      c1: new Float32Array(H1 * W1 * C1), e1: new Float32Array(H1 * W1 * C1),
      p1: new Float32Array(H2 * W2 * C1), b: new Float32Array(H2 * W2 * C1),
      cat1P: padded(H1, W1, 2 * C1, 3), cd1: new Float32Array(H1 * W1 * C0), d1: new Float32Array(H1 * W1 * C0),
      cat0P: padded(H, W, 2 * C0, 3), cd0: new Float32Array(H * W * OUT_CHANNELS), y: new Float32Array(H * W * OUT_CHANNELS),
      g4: new Float32Array(H * W * OUT_CHANNELS), dCat0P: padded(H, W, 2 * C0, 3), dD1: new Float32Array(H1 * W1 * C0),
      dCat1P: padded(H1, W1, 2 * C1, 3), dB: new Float32Array(H2 * W2 * C1), dP1: new Float32Array(H2 * W2 * C1),
      dE1: new Float32Array(H1 * W1 * C1), dP0P: padded(H1, W1, C0, 3), dE0: new Float32Array(H * W * C0),
    };
    this.workspaces.set(key, ws);
    return ws;
  }

  private film(layer: FilmLayer): [Float64Array, Float64Array, Float64Array, Float64Array] {
    const f = this.table.film[layer];
    const g = this.filmOut.subarray(f.gamma, f.gamma + f.channels);
    const b = this.filmOut.subarray(f.beta, f.beta + f.channels);
    return [g, b, this.dFilm.subarray(f.gamma, f.gamma + f.channels), this.dFilm.subarray(f.beta, f.beta + f.channels)];
  }

  private runMlp(cond: ArrayLike<number>): void {
    const D = this.table.config.filmCondDim;
    const { w0, b0, w2, b2 } = this.mlp;
    for (let i = 0; i < D; i++) this.cond[i] = cond[i]!;
    for (let h = 0; h < FILM_HIDDEN; h++) {
      let acc = b0[h]!;
      for (let i = 0; i < D; i++) acc += w0[h * D + i]! * cond[i]!;
      this.hidden[h] = acc > 0 ? acc : 0;
    }
    for (let o = 0; o < this.filmOut.length; o++) {
      let acc = b2[o]!;
      for (let h = 0; h < FILM_HIDDEN; h++) acc += w2[o * FILM_HIDDEN + h]! * this.hidden[h]!;
      this.filmOut[o] = acc;
    }
  }

  /**
   * Forward pass of one image. `x` is H×W×20 (HWC). FiLM γ/β come from the MLP on `cond`, or
   * from `film` directly when given. Returns the H×W×4 output (a view into the workspace).
   */
  forward(x: Float32Array, H: number, W: number, cond: ArrayLike<number>, film?: ArrayLike<number>): Float32Array {
    if (film) this.filmOut.set(film);
    else this.runMlp(cond);
    const ws = this.workspace(H, W);
    const [C0, C1] = this.table.config.encChannels;
    const [enc0, enc1, bott, dec1, dec0] = this.convs as [ConvPlan, ConvPlan, ConvPlan, ConvPlan, ConvPlan];
    // Copy the input into the padded buffer's interior (its border stays zero).
    const Wp = W + 2;
    for (let y = 0; y < H; y++) ws.xP.set(x.subarray(y * W * IN_CHANNELS, (y + 1) * W * IN_CHANNELS), ((y + 1) * Wp + 1) * IN_CHANNELS);

    convForward(ws.xP, H, W, IN_CHANNELS, 3, enc0.packed, enc0.bias, C0, ws.c0);
    const [g0, b0] = this.film('enc0');
    filmRelu(ws.c0, C0, g0, b0, ws.e0);
    avgpool(ws.e0, H, W, C0, ws.p0P, 1);
    convForward(ws.p0P, ws.H1, ws.W1, C0, 3, enc1.packed, enc1.bias, C1, ws.c1);
    const [g1, b1] = this.film('enc1');
    filmRelu(ws.c1, C1, g1, b1, ws.e1);
    avgpool(ws.e1, ws.H1, ws.W1, C1, ws.p1, 0);
    convForward(ws.p1, ws.H2, ws.W2, C1, 1, bott.packed, bott.bias, C1, ws.b);
    for (let i = 0; i < ws.b.length; i++) if (!(ws.b[i]! > 0)) ws.b[i] = 0;
    upsampleConcat(ws.b, ws.W2, C1, ws.e1, ws.H1, ws.W1, C1, ws.cat1P);
    convForward(ws.cat1P, ws.H1, ws.W1, 2 * C1, 3, dec1.packed, dec1.bias, C0, ws.cd1);
    const [g2, b2] = this.film('dec1');
    filmRelu(ws.cd1, C0, g2, b2, ws.d1);
    upsampleConcat(ws.d1, ws.W1, C0, ws.e0, H, W, C0, ws.cat0P);
    convForward(ws.cat0P, H, W, 2 * C0, 3, dec0.packed, dec0.bias, OUT_CHANNELS, ws.cd0);
    const [g3, b3] = this.film('dec0');
    for (let i = 0; i < ws.cd0.length; i += 4) {
      for (let k = 0; k < 4; k++) ws.y[i + k] = 1 / (1 + Math.exp(-(g3[k]! * ws.cd0[i + k]! + b3[k]!)));
    }
    return ws.y;
  }

  /**
   * Forward + backward of one training image against its RGBA target (H×W×4). The loss is a
   * mean over `count` values (the whole batch), so dL/dy = 2(y − t)/count. Writes this image's
   * parameter gradient (flat, table order) into `grad` and returns its sum of squared errors.
   */
  trainImage(x: Float32Array, H: number, W: number, cond: ArrayLike<number>, target: Float32Array, count: number, grad: Float64Array): number {
    const y = this.forward(x, H, W, cond);
    const ws = this.workspace(H, W);
    const [C0, C1] = this.table.config.encChannels;
    const [enc0, enc1, bott, dec1, dec0] = this.convs as [ConvPlan, ConvPlan, ConvPlan, ConvPlan, ConvPlan];
    for (const p of this.convs) {
      p.gPacked.fill(0);
      p.gBias.fill(0);
    }
    this.dFilm.fill(0);

    // Loss and dL/d(pre-sigmoid), through dec0's FiLM.
    let sse = 0;
    const [g3, , dg3, db3] = this.film('dec0');
    const scale = 2 / count;
    for (let i = 0; i < y.length; i += 4) {
      for (let k = 0; k < 4; k++) {
        const yv = y[i + k]!;
        const diff = yv - target[i + k]!;
        sse += diff * diff;
        const g = scale * diff * yv * (1 - yv);
        dg3[k]! += g * ws.cd0[i + k]!;
        db3[k]! += g;
        ws.g4[i + k] = g * g3[k]!;
      }
    }
    ws.dCat0P.fill(0);
    convBackward(ws.cat0P, H, W, 2 * C0, 3, dec0.packed, ws.g4, OUT_CHANNELS, dec0.gPacked, dec0.gBias, ws.dCat0P);
    ws.dE0.fill(0);
    upsampleConcatBackward(ws.dCat0P, H, W, C0, C0, ws.dD1, ws.W1, ws.dE0);

    const [g2, , dg2, db2] = this.film('dec1');
    filmReluBackward(ws.cd1, ws.d1, ws.dD1, C0, g2, dg2, db2);
    ws.dCat1P.fill(0);
    convBackward(ws.cat1P, ws.H1, ws.W1, 2 * C1, 3, dec1.packed, ws.dD1, C0, dec1.gPacked, dec1.gBias, ws.dCat1P);
    ws.dE1.fill(0);
    upsampleConcatBackward(ws.dCat1P, ws.H1, ws.W1, C1, C1, ws.dB, ws.W2, ws.dE1);

    for (let i = 0; i < ws.b.length; i++) if (!(ws.b[i]! > 0)) ws.dB[i] = 0;
    ws.dP1.fill(0);
    convBackward(ws.p1, ws.H2, ws.W2, C1, 1, bott.packed, ws.dB, C1, bott.gPacked, bott.gBias, ws.dP1);
    avgpoolBackward(ws.dP1, ws.H1, ws.W1, C1, 0, ws.dE1);

    const [g1, , dg1, db1] = this.film('enc1');
    filmReluBackward(ws.c1, ws.e1, ws.dE1, C1, g1, dg1, db1);
    ws.dP0P.fill(0);
    convBackward(ws.p0P, ws.H1, ws.W1, C0, 3, enc1.packed, ws.dE1, C1, enc1.gPacked, enc1.gBias, ws.dP0P);
    avgpoolBackward(ws.dP0P, H, W, C0, 1, ws.dE0);

    const [g0, , dg0, db0] = this.film('enc0');
    filmReluBackward(ws.c0, ws.e0, ws.dE0, C0, g0, dg0, db0);
    convBackward(ws.xP, H, W, IN_CHANNELS, 3, enc0.packed, ws.dE0, C0, enc0.gPacked, enc0.gBias, null);

    this.writeGrad(grad);
    return sse;
  }

  /** Unpacks this image's gradients into flat table order, including the MLP's. */
  private writeGrad(grad: Float64Array): void {
    for (const p of this.convs) {
      const { out: O, in: I, k: K } = p.shape;
      for (let o = 0; o < O; o++) {
        for (let i = 0; i < I; i++) {
          for (let ky = 0; ky < K; ky++) {
            for (let kx = 0; kx < K; kx++) grad[p.wOffset + ((o * I + i) * K + ky) * K + kx] = p.gPacked[((ky * K + kx) * I + i) * O + o]!;
          }
        }
      }
      for (let o = 0; o < O; o++) grad[p.bOffset + o] = p.gBias[o]!;
    }
    // MLP backward: out = W2·h + b2, h = relu(W0·cond + b0); the cond is still in runMlp's input.
    const D = this.table.config.filmCondDim;
    const F = this.filmOut.length;
    const { w2 } = this.mlp;
    const g = this.gMlp;
    g.w0.fill(0); g.b0.fill(0);
    const dHidden = new Float64Array(FILM_HIDDEN);
    for (let o = 0; o < F; o++) {
      const d = this.dFilm[o]!;
      g.b2[o] = d;
      for (let h = 0; h < FILM_HIDDEN; h++) {
        g.w2[o * FILM_HIDDEN + h] = d * this.hidden[h]!;
        dHidden[h]! += d * w2[o * FILM_HIDDEN + h]!;
      }
    }
    for (let h = 0; h < FILM_HIDDEN; h++) {
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
