/**
 * The gradient engine: given a batch laid out in its buffers, the summed gradient of the batch
 * loss (mean squared error, or another --loss: model/loss.ts). Each image's gradient goes to its own slot and the slots are summed in
 * image order, so the result does not depend on how many threads computed it.
 * Buffer layout: image i of a batch of S×S patches at inputs[i·S·S·20], targets[i·S·S·4],
 * conds[i·D]; gradient slot i at grads[i·P] (P = parameter count).
 */
import { NUM_FEATURES } from '../../dataset/features.js';
import { OUT_CHANNELS } from '../../model/config.js';
import { FastModel } from '../../model/fast.js';
import type { LossKind } from '../../model/loss.js';
import type { ParamTable } from '../../model/params.js';

export interface BatchBuffers {
  params: Float32Array;
  inputs: Float32Array;
  targets: Float32Array;
  conds: Float32Array;
  grads: Float64Array;
  sse: Float64Array;
}

export function allocBatchBuffers(table: ParamTable, maxBatch: number, maxSide: number, shared: boolean): BatchBuffers {
  const mk = <T extends Float32Array | Float64Array>(Ctor: { new (b: ArrayBufferLike): T; BYTES_PER_ELEMENT: number }, n: number): T =>
    new Ctor(shared ? new SharedArrayBuffer(n * Ctor.BYTES_PER_ELEMENT) : new ArrayBuffer(n * Ctor.BYTES_PER_ELEMENT));
  const px = maxSide * maxSide;
  return {
    params: mk(Float32Array, table.total),
    inputs: mk(Float32Array, maxBatch * px * NUM_FEATURES),
    targets: mk(Float32Array, maxBatch * px * OUT_CHANNELS),
    conds: mk(Float32Array, maxBatch * table.config.filmCondDim),
    grads: mk(Float64Array, maxBatch * table.total),
    sse: mk(Float64Array, maxBatch),
  };
}

/** Runs images [from, to) of the batch on one model: the work of one thread. */
export function runImages(model: FastModel, buf: BatchBuffers, from: number, to: number, side: number, count: number): void {
  const px = side * side;
  const P = model.table.total;
  const D = model.table.config.filmCondDim;
  model.setParams(buf.params);
  for (let i = from; i < to; i++) {
    buf.sse[i] = model.trainImage(
      buf.inputs.subarray(i * px * NUM_FEATURES, (i + 1) * px * NUM_FEATURES),
      side,
      side,
      buf.conds.subarray(i * D, (i + 1) * D),
      buf.targets.subarray(i * px * OUT_CHANNELS, (i + 1) * px * OUT_CHANNELS),
      count,
      buf.grads.subarray(i * P, (i + 1) * P),
    );
  }
}

/** Sums the first n gradient slots in order into `grad`; returns the batch's summed loss (mse: squared error). */
export function reduceSlots(buf: BatchBuffers, n: number, P: number, grad: Float64Array): number {
  grad.fill(0);
  let sse = 0;
  for (let i = 0; i < n; i++) {
    const slot = buf.grads.subarray(i * P, (i + 1) * P);
    for (let k = 0; k < P; k++) grad[k]! += slot[k]!;
    sse += buf.sse[i]!;
  }
  return sse;
}

export interface GradientEngine {
  readonly buffers: BatchBuffers;
  readonly threads: number;
  /** Gradient of the mean over n images of side×side into `grad`; returns the summed loss (mse: squared error). */
  compute(n: number, side: number, grad: Float64Array): Promise<number>;
  close(): Promise<void>;
}

/** The single-threaded engine (also what each worker runs). */
export function localEngine(table: ParamTable, maxBatch: number, maxSide: number, loss: LossKind = 'mse'): GradientEngine {
  const buffers = allocBatchBuffers(table, maxBatch, maxSide, false);
  const model = new FastModel(table, { loss });
  return {
    buffers,
    threads: 1,
    async compute(n, side, grad) {
      runImages(model, buffers, 0, n, side, n * side * side * OUT_CHANNELS);
      return reduceSlots(buffers, n, table.total, grad);
    },
    async close() {},
  };
}
