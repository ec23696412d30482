/**
 * Reading the two runtime weight files back (the consumer side of export.ts): the effect, the
 * CPU reference and the tools load them through here, with their size checks.
 */
import { fileError } from '../errors.js';
import { DEFAULT_MODEL_CONFIG, FILM_HIDDEN, TRAILER_BYTES, decodeTrailer, describeConfig, type ModelConfig } from '../model/config.js';
import { filmMlpForward } from '../model/film.js';
import { buildParamTable } from '../model/params.js';
import { fromHalfBits } from '../util/half.js';
import { expectedFilmBytes, expectedWeightBytes } from './export.js';

function bytesOf(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  return data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * The model a weights file was exported from: the config its extension trailer records (config.ts),
 * else the playbook's network. With `asked` (what the user's flags say), a file that holds
 * another model is refused, naming both.
 */
export function weightsFileConfig(data: ArrayBuffer | ArrayBufferView, name: string, asked?: ModelConfig): ModelConfig {
  const bytes = bytesOf(data);
  const n = bytes.byteLength;
  let config = DEFAULT_MODEL_CONFIG;
  if (n >= TRAILER_BYTES) {
    const found = decodeTrailer(bytes.subarray(n - TRAILER_BYTES), name);
    // Halves that happen to spell the magic are no trailer: the size says which it is.
    if (found && n === expectedWeightBytes(found)) config = found;
  }
  if (asked && !(asked.encChannels[0] === config.encChannels[0] && asked.encChannels[1] === config.encChannels[1] && asked.filmCondDim === config.filmCondDim)) {
    throw fileError(name, `holds a model with ${describeConfig(config)}, but ${describeConfig(asked)} was asked for`);
  }
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
  const out = new Float64Array(mlp.b1.length);
  filmMlpForward(mlp, cond, mlp.config.filmCondDim, new Float64Array(FILM_HIDDEN), out);
  return out;
}

/** γ = 1, β = 0 for every layer: FiLM without an MLP. */
export function identityFilm(config: ModelConfig): Float64Array {
  const table = buildParamTable(config);
  const out = new Float64Array(table.filmOut);
  for (const f of Object.values(table.film)) out.fill(1, f.gamma, f.gamma + f.channels);
  return out;
}
