/**
 * The two runtime weight files (SPEC §6), browser-safe.
 *
 * `cnn_v3_weights.bin`: the conv values (enc0, enc1, bottleneck, dec1, dec0; each layer's OIHW
 * weights then its bias) as IEEE half, round to nearest even, two halves per little-endian u32:
 * `u32[k] = h[2k] | h[2k+1] << 16`, the last high half 0 when the count is odd. This is what
 * WGSL's `get_w(buf, base, idx)` reads with `pair = buf[(base+idx)/2]`.
 *
 * `cnn_v3_film_mlp.bin`: the FiLM MLP (L0 weight, L0 bias, L1 weight, L1 bias; row-major
 * `[out][in]`) as float32 little-endian.
 *
 * Extension trailer: a model other than the playbook's (another width, condition size or output)
 * gets 16 more bytes after the halves, so every consumer builds the right network from the file
 * alone (layout: config.ts, `encodeTrailer`). The playbook's model has none.
 *
 * The parameter table already orders the flat vector this way (conv layers first, then the
 * MLP), so both files are straight conversions of two slices of it.
 */
import { TRAILER_BYTES, describeConfig, encodeTrailer, hasTrailer, type ModelConfig } from '../model/config.js';
import { buildParamTable, type ParamTable } from '../model/params.js';
import { toHalfBits } from '../util/half.js';

export const WEIGHTS_FILE = 'cnn_v3_weights.bin';
export const FILM_MLP_FILE = 'cnn_v3_film_mlp.bin';

export interface ExportedWeights {
  /** Contents of cnn_v3_weights.bin. */
  weights: Uint8Array;
  /** Contents of cnn_v3_film_mlp.bin. */
  film: Uint8Array;
  /** Conv values that were finite in f32 but beyond the f16 range (|x| ≥ 65520): now ±Inf. */
  halfOverflow: number;
}

/** Bytes of the packed halves: the conv values rounded up to whole u32s (what the GPU reads). */
export function weightHalvesBytes(config: ModelConfig): number {
  return Math.ceil(buildParamTable(config).convCount / 2) * 4;
}

/** Size of cnn_v3_weights.bin: the packed halves, plus the trailer for an extended model. */
export function expectedWeightBytes(config: ModelConfig): number {
  return weightHalvesBytes(config) + (hasTrailer(config) ? TRAILER_BYTES : 0);
}

/** Size of cnn_v3_film_mlp.bin: the FiLM MLP values as f32. */
export function expectedFilmBytes(config: ModelConfig): number {
  return buildParamTable(config).mlpCount * 4;
}

export function exportWeights(config: ModelConfig, params: Float32Array): ExportedWeights {
  const table = buildParamTable(config);
  if (params.length !== table.total) {
    throw new Error(`exportWeights: ${params.length} parameters given, ${describeConfig(config)} has ${table.total}`);
  }
  const n = table.convCount;
  const weights = new Uint8Array(expectedWeightBytes(config));
  if (hasTrailer(config)) weights.set(encodeTrailer(config), weightHalvesBytes(config));
  const wv = new DataView(weights.buffer);
  let halfOverflow = 0;
  for (let i = 0; i < n; i++) {
    const h = toHalfBits(params[i]!);
    if ((h & 0x7fff) === 0x7c00 && Number.isFinite(params[i]!)) halfOverflow++;
    // Half i at byte 2i, little-endian: within each u32 the even half is the low 16 bits and
    // the odd half the high 16 bits, i.e. exactly `h[2k] | h[2k+1] << 16` stored LE. The
    // padding half of an odd count stays 0 from the zero-filled buffer.
    wv.setUint16(2 * i, h, true);
  }
  const film = new Uint8Array(table.mlpCount * 4);
  const fv = new DataView(film.buffer);
  for (let i = 0; i < table.mlpCount; i++) fv.setFloat32(4 * i, params[n + i]!, true);
  return { weights, film, halfOverflow };
}

/**
 * `x` with `digits` decimals the way Python's `f"{x:.6f}"` writes it (the playbook's report):
 * an exact tie goes to the even digit, where Number#toFixed goes away from zero; NaN / ±Inf
 * read `nan` / `inf`.
 */
export function formatFixedLikePython(x: number, digits: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const s = x.toFixed(digits);
  if (Math.abs(x) >= 1e21) return s;
  // toFixed(100) spells out the exact binary value of any double that is a tie at `digits`
  // decimals (such a value has few decimals), so a tie reads "…kept|5000…0".
  const exact = Math.abs(x).toFixed(100);
  const cut = exact.indexOf('.') + 1 + digits;
  if (!/^50*$/.test(exact.slice(cut))) return s; // not a tie: toFixed is already right
  const kept = exact.slice(0, digits === 0 ? cut - 1 : cut);
  if (Number(kept[kept.length - 1]) % 2 === 1) return s; // rounding away from zero lands on even
  return (x < 0 ? '-' : '') + kept;
}

const tuple = (shape: readonly number[]) => (shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`);

/** What the export prints (playbook §3 "Expected output"); numbers come from the table. */
export function exportReport(info: { epoch: number; loss: number }, table: ParamTable): string {
  const words = Math.ceil(table.convCount / 2);
  const shape = (name: string) => tuple(table.byName.get(name)!.shape);
  return [
    `Checkpoint: epoch=${info.epoch} loss=${formatFixedLikePython(info.loss, 6)}`,
    describeConfig(table.config),
    WEIGHTS_FILE,
    `  ${table.convCount} f16 values → ${words} u32 → ${words * 4} bytes` +
      (hasTrailer(table.config) ? ` + ${TRAILER_BYTES}-byte extension trailer (${describeConfig(table.config)})` : ''),
    `  Upload via CNNv3Effect.uploadWeights(queue, data, ${expectedWeightBytes(table.config)})`,
    FILM_MLP_FILE,
    `  L0: weight ${shape('film_mlp.0.weight')} + bias ${shape('film_mlp.0.bias')}`,
    `  L1: weight ${shape('film_mlp.2.weight')} + bias ${shape('film_mlp.2.bias')}`,
    `  ${table.mlpCount} f32 values → ${table.mlpCount * 4} bytes`,
    '',
  ].join('\n');
}
