/** Hand-built checkpoints shared by the checkpoint and export tests. */
import type { Checkpoint } from '../src/checkpoint/checkpoint.js';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../src/model/config.js';
import { buildParamTable } from '../src/model/params.js';

/** Distinct, reproducible values (no NaN: a checkpoint refuses them). */
export function pattern(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 43.758);
}

export function makeCheckpoint(config: ModelConfig = DEFAULT_MODEL_CONFIG, withOptim = true): Omit<Checkpoint, 'hadConfig'> {
  const n = buildParamTable(config).total;
  return {
    config,
    inputMode: 'simple',
    params: pattern(n, 1),
    ...(withOptim ? { optim: { expAvg: pattern(n, 2), expAvgSq: pattern(n, 3).map(Math.abs) } } : {}),
    epoch: 200,
    loss: 0.012345,
    step: 4000,
    extra: {},
  };
}

/** Bit patterns, so NaN and −0 compare exactly. */
export const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/** A safetensors file from a header (object or raw JSON text), data bytes, and optionally a forged header length. */
export function craftSafetensors(header: unknown, data: Uint8Array | number = 0, headerLen?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, headerLen ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}
