/**
 * The training loop, the one every trainer runs (`cnnv3 train`, the HTML tool's train panel,
 * `bench:train:*`): epochs of shuffled (image, patch) pairs, the learning-rate schedule,
 * validation on held-out images, checkpoints through the caller's `save`, the NaN stop (back
 * to the state the epoch started from) and progress events. The engine (engine.ts) does the
 * steps; this file decides what happens between them. Browser-safe: files are the caller's.
 */
import { CnnV3Error } from '../errors.js';
import { FastModel } from '../model/fast.js';
import type { ParamTable } from '../model/params.js';
import { Rng } from '../util/rng.js';
import type { TrainImage } from './data.js';
import { EngineLostError, stepsOf, type TrainEngine, type TrainState } from './engine.js';
import type { LossKind } from '../model/loss.js';
import { learningRate, type LrSchedule } from './options.js';
import { validate } from './validate.js';

export interface EpochRecord {
  epoch: number;
  loss: number;
  patches_per_s: number;
  lr: number;
  seconds: number;
  step: number;
  /** With a validation set: the run's loss (MSE over RGBA by default) and mean RGB PSNR of the held-out images. */
  val_loss?: number;
  val_psnr?: number;
}

/** Everything a checkpoint needs to continue the run bit for bit. */
export interface Snapshot {
  epoch: number;
  loss: number;
  state: TrainState;
  rng: number[];
  /** Best validation loss so far (Infinity before the first). */
  bestValLoss: number;
}

export type TrainEvent =
  | { type: 'epoch-start'; epoch: number; epochs: number; steps: number }
  | { type: 'progress'; epoch: number; done: number; steps: number }
  | { type: 'epoch'; record: EpochRecord; epochs: number; stepLosses: Float64Array; best: boolean };

export interface LoopSettings {
  epochs: number;
  batchSize: number;
  lr: number;
  lrSchedule: LrSchedule;
  /** Epochs of linear learning-rate warm-up before the schedule (options.ts learningRate; default 0). */
  lrWarmup?: number;
  /** The loss the validation reports (default mse; the engine trains on it). */
  loss?: LossKind;
  /** Epochs between `save('epoch')` calls, 0 = only the last epoch's. */
  checkpointEvery: number;
  seed: number;
}

/** Where a run continues from (a resumed checkpoint); absent: epoch 0 from `initial`. */
export interface LoopStart {
  epoch: number;
  state: TrainState;
  rng: number[];
  bestValLoss: number;
  /** The checkpoint it came from (the last good one until this run writes another). */
  checkpoint: string;
}

export interface LoopHooks {
  onEvent?(e: TrainEvent): void;
  /** Awaited after each epoch's event, before its checkpoints (e.g. appending the run's log). */
  afterEpoch?(record: EpochRecord, best: boolean): Promise<void>;
  /**
   * Writes a checkpoint: `epoch` every `checkpointEvery` epochs, at the end and as the last good
   * state when a run diverges; `best` when validation improves. Returns its name for messages.
   */
  save?(kind: 'epoch' | 'best', snap: Snapshot): Promise<string>;
  /** Polled between epochs: true ends the run early (the state so far is returned). */
  shouldStop?(): boolean;
  /**
   * Aborts the run (Ctrl-C in the CLI): checked before each epoch and by the engine between
   * steps; the loop then throws the signal's reason, writing nothing more.
   */
  signal?: AbortSignal;
}

export interface LoopResult {
  records: EpochRecord[];
  state: TrainState;
  /** The last checkpoint written by `save('epoch')` (or the resumed one; '' when none). */
  checkpoint: string;
}

export async function runTrainingLoop(
  engine: TrainEngine,
  run: { table: ParamTable; images: ReadonlyArray<TrainImage>; valImages: ReadonlyArray<TrainImage>; initial: Float32Array },
  settings: LoopSettings,
  start: LoopStart | undefined,
  hooks: LoopHooks = {},
): Promise<LoopResult> {
  const { table, images, valImages } = run;
  const rng = new Rng(settings.seed);
  let state: TrainState = start?.state ?? { params: run.initial, m: new Float32Array(table.total), v: new Float32Array(table.total), step: 0 };
  if (start) rng.setState(start.rng);
  let bestVal = start?.bestValLoss ?? Infinity;
  let lastCheckpoint = start?.checkpoint ?? '';
  const startEpoch = start?.epoch ?? 0;
  const valModel = valImages.length > 0 ? new FastModel(table) : undefined;
  const records: EpochRecord[] = [];
  engine.setState(state);

  for (let epoch = startEpoch + 1; epoch <= settings.epochs; epoch++) {
    hooks.signal?.throwIfAborted();
    // The state the epoch starts from: if it diverges or the device is lost, the last good one.
    const before: Snapshot = { epoch: epoch - 1, loss: records.at(-1)?.loss ?? NaN, state, rng: rng.getState(), bestValLoss: bestVal };
    const keepLastGood = async () => (epoch - 1 > startEpoch && hooks.save ? await hooks.save('epoch', before) : lastCheckpoint);
    const lr = learningRate(settings, epoch - 1);
    const order: Array<[number, number]> = [];
    images.forEach((im, i) => im.centres.forEach((_, k) => order.push([i, k])));
    rng.shuffle(order);
    const steps = stepsOf(order.length, settings.batchSize);
    hooks.onEvent?.({ type: 'epoch-start', epoch, epochs: settings.epochs, steps });
    const t0 = performance.now();
    let done = 0;
    const outcome = await engine
      .epoch({ order, lr, rng, ...(hooks.signal ? { signal: hooks.signal } : {}) }, (k) => {
        done += k;
        hooks.onEvent?.({ type: 'progress', epoch, done, steps });
      })
      .catch(async (e: unknown) => {
        if (!(e instanceof EngineLostError)) throw e;
        const kept = await keepLastGood();
        throw new CnnV3Error(`The GPU was lost in epoch ${epoch} (${e.reason}); ${kept ? `the last good checkpoint is ${kept}: continue with --resume ${kept}` : 'no checkpoint was written'}`);
      });
    if (!outcome.state) {
      const kept = await keepLastGood();
      throw new CnnV3Error(
        `Loss became NaN in epoch ${epoch} (step ${state.step + outcome.divergedAt! + 1}); ${kept ? `the last good checkpoint is ${kept}` : 'no checkpoint was written'}. Try a lower learning rate: --lr 1e-4`,
      );
    }
    state = outcome.state;
    const seconds = (performance.now() - t0) / 1000;
    const record: EpochRecord = {
      epoch,
      loss: outcome.losses.reduce((s, l) => s + l, 0) / steps,
      patches_per_s: order.length / seconds,
      lr,
      seconds,
      step: state.step,
    };
    let best = false;
    if (valModel) {
      const v = validate(valModel, state.params, valImages, table.config, settings.loss);
      record.val_loss = v.loss;
      record.val_psnr = v.psnr;
      best = v.loss < bestVal;
      if (best) bestVal = v.loss;
    }
    records.push(record);
    hooks.onEvent?.({ type: 'epoch', record, epochs: settings.epochs, stepLosses: outcome.losses, best });
    await hooks.afterEpoch?.(record, best);
    const snap = (): Snapshot => ({ epoch, loss: record.loss, state, rng: rng.getState(), bestValLoss: bestVal });
    if (best && hooks.save) await hooks.save('best', snap());
    const stop = epoch < settings.epochs && (hooks.shouldStop?.() ?? false);
    if (hooks.save && (epoch === settings.epochs || stop || (settings.checkpointEvery > 0 && epoch % settings.checkpointEvery === 0))) {
      lastCheckpoint = await hooks.save('epoch', snap());
    }
    if (stop) break;
  }
  return { records, state, checkpoint: lastCheckpoint };
}
