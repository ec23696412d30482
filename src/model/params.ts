/**
 * The one parameter table (name, shape, offset) that init, checkpoints, export and the GPU
 * weight offsets all read. Parameters live in one flat Float32Array in table order: the five
 * conv layers first (weights OIHW, then bias), which is exactly the export order of
 * `cnn_v3_weights.bin` (SPEC §6), then the FiLM MLP.
 */
import { FILM_HIDDEN, IN_CHANNELS, OUT_CHANNELS, type ModelConfig } from './config.js';

export const CONV_LAYERS = ['enc0', 'enc1', 'bottleneck', 'dec1', 'dec0'] as const;
export type ConvLayerName = (typeof CONV_LAYERS)[number];

export interface ConvShape {
  name: ConvLayerName;
  out: number;
  in: number;
  /** Kernel size (3 or 1). */
  k: number;
}

export interface ParamSpec {
  /** PyTorch state-dict name, e.g. `enc0.weight`, `film_mlp.2.bias`. */
  name: string;
  shape: number[];
  /** Offset in the flat parameter vector (floats). */
  offset: number;
  size: number;
  /** Inputs feeding one output (PyTorch's init bound is 1/√fanIn). */
  fanIn: number;
}

export interface ParamTable {
  config: ModelConfig;
  params: ParamSpec[];
  byName: Map<string, ParamSpec>;
  convs: ConvShape[];
  /** Number of conv values (weights + biases): the halves in cnn_v3_weights.bin. */
  convCount: number;
  /** Number of FiLM MLP values: the floats in cnn_v3_film_mlp.bin. */
  mlpCount: number;
  total: number;
  /** FiLM output size: 2·(C0 + C1 + C0 + 4). */
  filmOut: number;
  /** Offsets of each FiLM layer's γ and β within the MLP output (SPEC §4 order). */
  film: Record<'enc0' | 'enc1' | 'dec1' | 'dec0', { gamma: number; beta: number; channels: number }>;
}

export function convShapes(cfg: ModelConfig): ConvShape[] {
  const [c0, c1] = cfg.encChannels;
  return [
    { name: 'enc0', out: c0, in: IN_CHANNELS, k: 3 },
    { name: 'enc1', out: c1, in: c0, k: 3 },
    { name: 'bottleneck', out: c1, in: c1, k: 1 },
    { name: 'dec1', out: c0, in: 2 * c1, k: 3 },
    { name: 'dec0', out: OUT_CHANNELS, in: 2 * c0, k: 3 },
  ];
}

export function buildParamTable(cfg: ModelConfig): ParamTable {
  const [c0, c1] = cfg.encChannels;
  if (!(Number.isInteger(c0) && Number.isInteger(c1) && c0 >= 1 && c1 >= 1)) {
    throw new Error(`enc_channels must be two positive integers, got [${cfg.encChannels.join(', ')}]`);
  }
  if (!(Number.isInteger(cfg.filmCondDim) && cfg.filmCondDim >= 1)) {
    throw new Error(`film_cond_dim must be a positive integer, got ${cfg.filmCondDim}`);
  }
  const convs = convShapes(cfg);
  const params: ParamSpec[] = [];
  let offset = 0;
  const add = (name: string, shape: number[], fanIn: number) => {
    const size = shape.reduce((a, b) => a * b, 1);
    params.push({ name, shape, offset, size, fanIn });
    offset += size;
  };
  for (const c of convs) {
    add(`${c.name}.weight`, [c.out, c.in, c.k, c.k], c.in * c.k * c.k);
    add(`${c.name}.bias`, [c.out], c.in * c.k * c.k);
  }
  const convCount = offset;
  const filmOut = 2 * (c0 + c1 + c0 + OUT_CHANNELS);
  add('film_mlp.0.weight', [FILM_HIDDEN, cfg.filmCondDim], cfg.filmCondDim);
  add('film_mlp.0.bias', [FILM_HIDDEN], cfg.filmCondDim);
  add('film_mlp.2.weight', [filmOut, FILM_HIDDEN], FILM_HIDDEN);
  add('film_mlp.2.bias', [filmOut], FILM_HIDDEN);
  const film = {} as ParamTable['film'];
  let f = 0;
  for (const [layer, channels] of [['enc0', c0], ['enc1', c1], ['dec1', c0], ['dec0', OUT_CHANNELS]] as const) {
    film[layer] = { gamma: f, beta: f + channels, channels };
    f += 2 * channels;
  }
  return {
    config: cfg,
    params,
    byName: new Map(params.map((p) => [p.name, p])),
    convs,
    convCount,
    mlpCount: offset - convCount,
    total: offset,
    filmOut,
    film,
  };
}

/** A named view into the flat parameter (or gradient) vector. */
export function view(table: ParamTable, flat: Float32Array | Float64Array, name: string): Float32Array | Float64Array {
  const p = table.byName.get(name);
  if (!p) throw new Error(`no parameter ${name}`);
  return flat.subarray(p.offset, p.offset + p.size);
}

/** Offsets in halves of each conv layer within cnn_v3_weights.bin (its weights, then bias). */
export function convHalfOffsets(table: ParamTable): Record<ConvLayerName, number> {
  const out = {} as Record<ConvLayerName, number>;
  for (const c of table.convs) out[c.name] = table.byName.get(`${c.name}.weight`)!.offset;
  return out;
}

/** `Model: enc=[4, 8] film_cond_dim=5 params=2740 (~5.4 KB f16)` (playbook §2). */
export function describeModel(table: ParamTable): string {
  const kb = ((table.total * 2) / 1024).toFixed(1);
  return `Model: enc=[${table.config.encChannels.join(', ')}] film_cond_dim=${table.config.filmCondDim}${table.config.output === 'residual' ? ' output=residual' : ''} params=${table.total} (~${kb} KB f16)`;
}
