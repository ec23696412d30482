/**
 * Reading the two runtime weight files back (the consumer side of export.ts): the effect, the
 * CPU reference and the tools load them through here, with their size checks.
 */
import { fileError } from '../errors.js';
import type { ModelConfig } from '../model/config.js';
import { FILM_HIDDEN } from '../model/config.js';
import { MAX_CONFIG_WIDTH, describeConfig } from '../checkpoint/checkpoint.js';
import { buildParamTable } from '../model/params.js';
import { fromHalfBits } from '../util/half.js';
import { TRAILER_BYTES, TRAILER_FLAG_RESIDUAL, TRAILER_MAGIC, expectedFilmBytes, expectedWeightBytes } from './export.js';

function bytesOf(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  return data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * The model a weights file was exported from: the config its extension trailer records (see
 * export.ts), else `fallback` (the defaults, or what the user's flags say). A file with a trailer
 * whose widths disagree with an explicit `fallback` is refused, naming both.
 */
export function weightsFileConfig(data: ArrayBuffer | ArrayBufferView, name: string, fallback: ModelConfig, explicit = false): ModelConfig {
  const bytes = bytesOf(data);
  const n = bytes.byteLength;
  if (n < TRAILER_BYTES) return fallback;
  const t = bytes.subarray(n - TRAILER_BYTES);
  if (String.fromCharCode(t[0]!, t[1]!, t[2]!, t[3]!) !== TRAILER_MAGIC) return fallback;
  const dv = new DataView(t.buffer, t.byteOffset, TRAILER_BYTES);
  const flags = dv.getUint32(4, true);
  const c0 = dv.getUint16(8, true), c1 = dv.getUint16(10, true), d = dv.getUint16(12, true);
  const width = (v: number) => v >= 1 && v <= MAX_CONFIG_WIDTH;
  if ((flags & ~TRAILER_FLAG_RESIDUAL) !== 0 || dv.getUint16(14, true) !== 0 || !width(c0) || !width(c1) || !width(d)) {
    throw fileError(name, `unknown extension trailer (flags ${flags}, widths ${c0},${c1},${d}): written by a newer cnnv3?`);
  }
  const config: ModelConfig = { encChannels: [c0, c1], filmCondDim: d };
  if (flags & TRAILER_FLAG_RESIDUAL) config.output = 'residual';
  if (n !== expectedWeightBytes(config)) return fallback; // halves that happen to spell the magic
  const same = fallback.encChannels[0] === c0 && fallback.encChannels[1] === c1 && fallback.filmCondDim === d;
  if (explicit && !same) throw fileError(name, `holds a model with ${describeConfig(config)}, but ${describeConfig(fallback)} was asked for`);
  return config;
}

/** cnn_v3_weights.bin → the conv values as floats (each exactly a half), in parameter-table order. */
export function readWeightsBin(config: ModelConfig, data: ArrayBuffer | ArrayBufferView, name: string): Float32Array {
  const bytes = bytesOf(data);
  const expected = expectedWeightBytes(config);
  if (bytes.byteLength !== expected) throw fileError(name, `expected ${expected} bytes, got ${bytes.byteLength}`);
  const n = buildParamTable(config).convCount;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = fromHalfBits(dv.getUint16(2 * i, true));
  return out;
}

/** The FiLM MLP of cnn_v3_film_mlp.bin, evaluated on the CPU per frame. */
export interface FilmMlp {
  config: ModelConfig;
  /** L0 weight [16][D], L0 bias, L1 weight [F][16], L1 bias (F = γ/β count). */
  w0: Float32Array;
  b0: Float32Array;
  w1: Float32Array;
  b1: Float32Array;
}

export function readFilmMlpBin(config: ModelConfig, data: ArrayBuffer | ArrayBufferView, name: string): FilmMlp {
  const bytes = bytesOf(data);
  const expected = expectedFilmBytes(config);
  if (bytes.byteLength !== expected) throw fileError(name, `expected ${expected} bytes, got ${bytes.byteLength}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const all = Float32Array.from({ length: expected / 4 }, (_, i) => dv.getFloat32(4 * i, true));
  const D = config.filmCondDim;
  const F = buildParamTable(config).filmOut;
  let o = 0;
  const take = (n: number) => all.subarray(o, (o += n));
  const mlp = { config, w0: take(FILM_HIDDEN * D), b0: take(FILM_HIDDEN), w1: take(F * FILM_HIDDEN), b1: take(F) };
  if (!all.every(Number.isFinite)) throw fileError(name, 'holds NaN or infinite values');
  return mlp;
}

/** γ/β for every FiLM layer: `out = W1·relu(W0·cond + b0) + b1`. */
export function evalFilmMlp(mlp: FilmMlp, cond: ArrayLike<number>): Float64Array {
  const D = mlp.config.filmCondDim;
  const h = new Float64Array(FILM_HIDDEN);
  for (let j = 0; j < FILM_HIDDEN; j++) {
    let acc = mlp.b0[j]!;
    for (let i = 0; i < D; i++) acc += mlp.w0[j * D + i]! * (cond[i] ?? 0);
    h[j] = acc > 0 ? acc : 0;
  }
  const out = new Float64Array(mlp.b1.length);
  for (let o = 0; o < out.length; o++) {
    let acc = mlp.b1[o]!;
    for (let j = 0; j < FILM_HIDDEN; j++) acc += mlp.w1[o * FILM_HIDDEN + j]! * h[j]!;
    out[o] = acc;
  }
  return out;
}

/** γ = 1, β = 0 for every layer: FiLM without an MLP. */
export function identityFilm(config: ModelConfig): Float64Array {
  const table = buildParamTable(config);
  const out = new Float64Array(table.filmOut);
  for (const f of Object.values(table.film)) out.fill(1, f.gamma, f.gamma + f.channels);
  return out;
}
