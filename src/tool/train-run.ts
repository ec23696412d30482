/**
 * A short training run in the page: the samples loaded in the tool go through the same steps
 * as `cnnv3 train --device gpu` (prepareImage's features and keypoints, initParams, the
 * seeded shuffle, GpuTrainingSession's kernels), so a run here with a seed matches the CLI's
 * run with that seed on the same sample. One epoch is awaited at a time, so the page stays
 * responsive and can stop between epochs.
 */
import { CnnV3Error } from '../errors.js';
import type { Sample } from '../dataset/sample.js';
import { exportWeights, type ExportedWeights } from '../export/export.js';
import { trainContext } from '../train/gpu/context.js';
import { GpuTrainingSession } from '../train/gpu/session.js';
import { DEFAULT_MODEL_CONFIG, type ModelConfig, type OutputMode } from '../model/config.js';
import { initParams } from '../model/init.js';
import { buildParamTable } from '../model/params.js';
import { prepareImage } from '../train/data.js';
import { TRAIN_DEFAULTS } from '../train/options.js';
import { Rng } from '../util/rng.js';

export interface PageTrainOptions {
  epochs: number;
  patchSize: number;
  patchesPerImage: number;
  batchSize: number;
  lr: number;
  seed: number;
  outputMode: OutputMode;
}

export interface EpochReport {
  epoch: number;
  epochs: number;
  /** Mean of the epoch's step losses. */
  loss: number;
  /** Every step's loss, in order. */
  stepLosses: Float32Array;
  patchesPerSecond: number;
}

export interface TrainCallbacks {
  /** Steps finished so far in the current epoch (of `steps`). */
  progress(epoch: number, done: number, steps: number): void;
  epoch(report: EpochReport): void;
  /** Polled between epochs. */
  shouldStop(): boolean;
}

export interface PageTrainResult {
  config: ModelConfig;
  params: Float32Array;
  /** Epochs finished (fewer than asked when stopped). */
  epochs: number;
  exported: ExportedWeights;
  adapterName: string;
}

/** Integer options within the range the CLI accepts; a bad field names itself. */
export function checkOptions(o: PageTrainOptions): void {
  const int = (name: string, v: number, lo: number, hi: number) => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new CnnV3Error(`train: ${name} must be a whole number from ${lo} to ${hi}; got ${v}`);
  };
  int('epochs', o.epochs, 1, 100_000);
  int('patch size', o.patchSize, 4, 512);
  int('patches per image', o.patchesPerImage, 1, 65_536);
  int('batch size', o.batchSize, 1, 4096);
  int('seed', o.seed, 0, 2 ** 31 - 1);
  if (!(o.lr > 0 && o.lr < 1)) throw new CnnV3Error(`train: learning rate must be in (0, 1); got ${o.lr}`);
}

export async function trainInPage(gpu: GPU | undefined, samples: ReadonlyArray<Sample>, o: PageTrainOptions, cb: TrainCallbacks): Promise<PageTrainResult> {
  checkOptions(o);
  if (samples.length === 0) throw new CnnV3Error('train: nothing to train on: load a photo with a target, a sample or an EXR');
  if (!gpu) throw new CnnV3Error('train: WebGPU is not available in this browser: use a recent Chrome or Edge (or Chromium with --enable-unsafe-webgpu)');
  // A device of its own, with the adapter's buffer and workgroup limits (the viewer's device
  // has the defaults), so a lost training device leaves the viewer running.
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new CnnV3Error('train: no WebGPU adapter found in this browser');
  const ctx = await trainContext(adapter);
  const config: ModelConfig = { ...DEFAULT_MODEL_CONFIG, ...(o.outputMode === 'sigmoid' ? {} : { output: o.outputMode }) };
  const table = buildParamTable(config);
  const images = samples.map((s, i) =>
    prepareImage(s, { fullImage: false, imageSize: TRAIN_DEFAULTS.imageSize, patchSize: o.patchSize, patchesPerImage: o.patchesPerImage, detector: TRAIN_DEFAULTS.detector, seed: o.seed }, i),
  );
  let session: GpuTrainingSession | undefined;
  try {
    // Chunks of a few steps: the progress line moves within an epoch at a small cost per submit.
    session = await GpuTrainingSession.create(ctx, table, images, { batchSize: o.batchSize, side: o.patchSize, channelDropoutP: TRAIN_DEFAULTS.channelDropoutP, seed: o.seed, chunk: 16 });
    const params = initParams(table, o.seed);
    session.setState(params, new Float32Array(table.total), new Float32Array(table.total));
    const rng = new Rng(o.seed);
    let step = 0;
    let finished = 0;
    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      const order: Array<[number, number]> = [];
      images.forEach((im, i) => im.centres.forEach((_, k) => order.push([i, k])));
      rng.shuffle(order);
      const steps = Math.ceil(order.length / o.batchSize);
      let done = 0;
      cb.progress(epoch, 0, steps);
      const t0 = performance.now();
      const result = await session.epoch(order, o.lr, step, (k) => {
        done += k;
        cb.progress(epoch, done, steps);
      });
      const seconds = (performance.now() - t0) / 1000;
      const bad = result.losses.findIndex((l) => !Number.isFinite(l));
      if (bad >= 0 || !result.state.params.every(Number.isFinite)) {
        throw new CnnV3Error(`train: the loss became NaN in epoch ${epoch} (step ${step + (bad >= 0 ? bad : steps - 1) + 1}); try a lower learning rate`);
      }
      params.set(result.state.params);
      step += steps;
      finished = epoch;
      cb.epoch({
        epoch,
        epochs: o.epochs,
        loss: result.losses.reduce((s, l) => s + l, 0) / steps,
        stepLosses: result.losses,
        patchesPerSecond: order.length / Math.max(seconds, 1e-6),
      });
      if (cb.shouldStop()) break;
    }
    return { config, params, epochs: finished, exported: exportWeights(config, params), adapterName: ctx.adapterName };
  } finally {
    session?.destroy();
    ctx.device.destroy();
  }
}
