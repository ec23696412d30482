/**
 * The training checkpoint (SPEC §5.6), browser-safe: one safetensors file holding
 *
 *   - the model's tensors under their PyTorch state-dict names (`enc0.weight`, …,
 *     `film_mlp.2.bias`), so `safetensors.torch.load_file` + a filter gives a state dict;
 *   - optionally Adam's moments, `optim.<name>.exp_avg` and `optim.<name>.exp_avg_sq`;
 *   - `__metadata__`: `epoch`, `loss`, `step` (decimal strings) and `config` =
 *     `{"enc_channels":[C0,C1],"film_cond_dim":D,"input_mode":"simple"|"full"}`, plus any
 *     other string entries (kept in `extra`, written back unchanged).
 *
 * Reading is strict about what the model needs (every model tensor, with the shape its config
 * implies) and lenient about the rest (unknown tensors are ignored; a file without `config`
 * is read with the defaults, as the playbook's export script does for old checkpoints).
 */
import { fileError } from '../errors.js';
import { INPUT_MODES, type InputMode } from '../dataset/layout.js';
import { DEFAULT_MODEL_CONFIG, configFromJson, configToJson, describeConfig, type ModelConfig } from '../model/config.js';

export { describeConfig };
import { buildParamTable, type ParamTable } from '../model/params.js';
import { decodeSafetensors, encodeSafetensors, type SafetensorsTensorIn } from './safetensors.js';

export interface AdamMoments {
  /** First moments, flat, in parameter-table order. */
  expAvg: Float32Array;
  /** Second moments, flat, in parameter-table order. */
  expAvgSq: Float32Array;
}

export interface Checkpoint {
  config: ModelConfig;
  inputMode: InputMode;
  /** All parameters, flat, in parameter-table order (conv layers, then the FiLM MLP). */
  params: Float32Array;
  optim?: AdamMoments;
  epoch: number;
  loss: number;
  /** Optimiser steps taken (Adam's bias correction needs it on resume). */
  step: number;
  /** Any other `__metadata__` entries, round-tripped unchanged. */
  extra: Record<string, string>;
  /** False when the file had no `config` metadata and the defaults were assumed. */
  hadConfig: boolean;
}

/** What a checkpoint without `config` metadata is read as (playbook §3 "Pitfalls"). */
export const CHECKPOINT_DEFAULT_INPUT_MODE: InputMode = 'simple';

/** The metadata keys this module owns; everything else is `extra`. */
const RESERVED_METADATA = ['epoch', 'loss', 'step', 'config'] as const;

export const optimTensorNames = (param: string) => ({ expAvg: `optim.${param}.exp_avg`, expAvgSq: `optim.${param}.exp_avg_sq` });

/** The `config` metadata value: the model's keys (config.ts) and the input mode. */
export function configJson(config: ModelConfig, inputMode: InputMode): string {
  return JSON.stringify(configToJson(config, { input_mode: inputMode }));
}

export function encodeCheckpoint(ckpt: Omit<Checkpoint, 'hadConfig'>): Uint8Array {
  const table = buildParamTable(ckpt.config);
  const check = (what: string, a: Float32Array) => {
    if (a.length !== table.total) throw new Error(`checkpoint ${what} has ${a.length} values, the model has ${table.total}`);
  };
  check('params', ckpt.params);
  if (ckpt.optim) {
    check('optim.expAvg', ckpt.optim.expAvg);
    check('optim.expAvgSq', ckpt.optim.expAvgSq);
  }
  for (const [k, v] of [['epoch', ckpt.epoch], ['step', ckpt.step]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`checkpoint ${k} must be a non-negative integer, got ${v}`);
  }
  for (const k of RESERVED_METADATA) {
    if (Object.hasOwn(ckpt.extra, k)) throw new Error(`checkpoint extra metadata may not use the reserved key ${JSON.stringify(k)}`);
  }

  const slice = (flat: Float32Array, p: ParamTable['params'][number]) => flat.subarray(p.offset, p.offset + p.size);
  const tensors: SafetensorsTensorIn[] = table.params.map((p) => ({ name: p.name, dtype: 'F32', shape: p.shape, data: slice(ckpt.params, p) }));
  if (ckpt.optim) {
    for (const p of table.params) {
      const n = optimTensorNames(p.name);
      tensors.push({ name: n.expAvg, dtype: 'F32', shape: p.shape, data: slice(ckpt.optim.expAvg, p) });
      tensors.push({ name: n.expAvgSq, dtype: 'F32', shape: p.shape, data: slice(ckpt.optim.expAvgSq, p) });
    }
  }
  return encodeSafetensors(tensors, {
    epoch: String(ckpt.epoch),
    // String(x) is the shortest decimal that reads back as the same double: exact round trip.
    loss: String(ckpt.loss),
    step: String(ckpt.step),
    config: configJson(ckpt.config, ckpt.inputMode),
    ...ckpt.extra,
  });
}

type Fail = (problem: string) => Error;

function parseConfig(raw: string, name: string, fail: Fail): { config: ModelConfig; inputMode: InputMode } {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw fail(`config metadata is not JSON: ${JSON.stringify(raw.slice(0, 80))}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw fail(`config metadata is not a JSON object: ${JSON.stringify(raw.slice(0, 80))}`);
  const o = v as Record<string, unknown>;
  const config = configFromJson(o, name);
  const mode = o['input_mode'] ?? CHECKPOINT_DEFAULT_INPUT_MODE;
  if (!(INPUT_MODES as readonly unknown[]).includes(mode)) {
    throw fail(`config metadata: input_mode must be ${INPUT_MODES.join(' or ')}, got ${JSON.stringify(mode)}`);
  }
  return { config, inputMode: mode as InputMode };
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** epoch / step: a non-negative integer; absent (a converted PyTorch file) reads as 0. */
function parseCount(meta: Record<string, string>, key: string, fail: Fail): number {
  const raw = meta[key];
  if (raw === undefined) return 0;
  const v = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(v)) throw fail(`${key} metadata must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return v;
}

/** loss: any decimal, or NaN / ±Infinity as String() writes them; absent reads as NaN (unknown). */
function parseLoss(meta: Record<string, string>, fail: Fail): number {
  const raw = meta['loss'];
  if (raw === undefined) return NaN;
  if (!(DECIMAL.test(raw) || /^(NaN|[+-]?Infinity)$/.test(raw))) throw fail(`loss metadata is not a number: ${JSON.stringify(raw)}`);
  return Number(raw);
}

const shapeText = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/**
 * Reads a checkpoint. `name` (the file's path) starts every error message. Refuses a file
 * whose model tensors are missing, have the wrong shape for its config, or hold NaN/Inf.
 */
export function decodeCheckpoint(bytes: Uint8Array, name: string): Checkpoint {
  const fail: Fail = (problem) => fileError(name, problem);
  const { tensors, metadata } = decodeSafetensors(bytes, name);

  const hadConfig = metadata['config'] !== undefined;
  const { config, inputMode } = hadConfig
    ? parseConfig(metadata['config']!, name, fail)
    : { config: { encChannels: [...DEFAULT_MODEL_CONFIG.encChannels] as [number, number], filmCondDim: DEFAULT_MODEL_CONFIG.filmCondDim }, inputMode: CHECKPOINT_DEFAULT_INPUT_MODE };
  const table = buildParamTable(config);
  const forConfig = `for ${describeConfig(config)}${hadConfig ? '' : ' (the defaults: the checkpoint has no config metadata)'}`;

  // Copies one tensor into its slot of a flat vector, checking shape and values.
  const place = (tensorName: string, p: ParamTable['params'][number], flat: Float32Array) => {
    const t = tensors.get(tensorName)!;
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      throw fail(`tensor ${tensorName} has shape ${shapeText(t.shape)}, expected ${shapeText(p.shape)} ${forConfig}`);
    }
    let bad = 0;
    for (const x of t.data) if (!Number.isFinite(x)) bad++;
    // A NaN/Inf weight renders black or garbage on the GPU and poisons a resumed run.
    if (bad > 0) throw fail(`tensor ${tensorName} holds ${bad} non-finite value${bad === 1 ? '' : 's'} (NaN or ±Inf)`);
    flat.set(t.data, p.offset);
  };

  const params = new Float32Array(table.total);
  for (const p of table.params) {
    if (!tensors.has(p.name)) throw fail(`missing tensor ${p.name} (shape ${shapeText(p.shape)} ${forConfig})`);
    place(p.name, p, params);
  }

  // Optimiser state is all or nothing: an export-only file may drop it entirely, but a partial
  // set cannot be resumed from and means the file was damaged or hand-edited.
  let optim: AdamMoments | undefined;
  const optimNames = table.params.flatMap((p) => {
    const n = optimTensorNames(p.name);
    return [n.expAvg, n.expAvgSq];
  });
  const present = optimNames.filter((n) => tensors.has(n)).length;
  if (present === optimNames.length) {
    optim = { expAvg: new Float32Array(table.total), expAvgSq: new Float32Array(table.total) };
    for (const p of table.params) {
      const n = optimTensorNames(p.name);
      place(n.expAvg, p, optim.expAvg);
      place(n.expAvgSq, p, optim.expAvgSq);
    }
  } else if (present > 0) {
    const missing = optimNames.find((n) => !tensors.has(n))!;
    throw fail(`incomplete optimiser state: ${present} of ${optimNames.length} optim.* tensors, ${missing} is missing`);
  }

  const extra = Object.fromEntries(Object.entries(metadata).filter(([k]) => !(RESERVED_METADATA as readonly string[]).includes(k)));
  return {
    config,
    inputMode,
    params,
    ...(optim ? { optim } : {}),
    epoch: parseCount(metadata, 'epoch', fail),
    loss: parseLoss(metadata, fail),
    step: parseCount(metadata, 'step', fail),
    extra,
    hadConfig,
  };
}
