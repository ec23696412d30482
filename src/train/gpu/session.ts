/**
 * A training run's GPU side: the training set uploaded once, the trainer, and one epoch at a
 * time: the epoch's shuffled order goes up (a few KB), its steps are submitted in growing chunks
 * with one chunk in flight while the next is encoded, and the per-step losses and the new state come
 * back once at the end of the epoch. Browser-safe.
 */
import { CnnV3Error } from '../../errors.js';
import { EngineLostError } from '../engine.js';
import type { LossKind } from '../../model/loss.js';
import type { ParamTable } from '../../model/params.js';
import type { GpuContext } from '../../gpu/context.js';
import { destroyTrainingSet, uploadTrainingSet, writeOrder, type GpuImageSource, type GpuTrainingSet } from './data.js';
import { GpuTrainer, type FeedbackOptions, type StepSpec, type TrainState } from './gpu-trainer.js';

const FIRST_CHUNK = 4;

export interface SessionOptions {
  batchSize: number;
  side: number;
  channelDropoutP: number;
  seed: number;
  /** Steps per submit. */
  chunk?: number;
  /** `--loss` (mse or l1; GpuTrainerConfig.loss). */
  loss?: LossKind;
  /** `--weight-decay` (GpuTrainerConfig.weightDecay). */
  weightDecay?: number;
  /** `--feedback-p` and its companions (GpuTrainerConfig.feedback). */
  feedback?: FeedbackOptions;
}

export interface EpochResult {
  /** One loss per step, in order. */
  losses: Float32Array;
  state: TrainState;
}

/** The device went away (driver reset, GPU removed, out of memory); `reason` says what Dawn said. */
export class DeviceLostError extends EngineLostError {}

export class GpuTrainingSession {
  /** Set once the device is lost; every later call fails with it. */
  lost: DeviceLostError | undefined;
  private readonly chunk: number;

  private constructor(
    readonly ctx: GpuContext,
    readonly images: ReadonlyArray<GpuImageSource>,
    readonly set: GpuTrainingSet,
    readonly trainer: GpuTrainer,
    readonly opts: SessionOptions,
  ) {
    this.chunk = opts.chunk ?? 256;
    void ctx.device.lost.then((info) => {
      if (info.reason !== 'destroyed' || !this.closed) this.lost = new DeviceLostError(info.message || info.reason);
    });
  }

  private closed = false;

  static async create(ctx: GpuContext, table: ParamTable, images: ReadonlyArray<GpuImageSource>, opts: SessionOptions): Promise<GpuTrainingSession> {
    const patches = images.reduce((s, im) => s + im.centres.length, 0);
    const steps = Math.ceil(patches / opts.batchSize);
    ctx.device.pushErrorScope('out-of-memory');
    const set = uploadTrainingSet(ctx.device, images, patches);
    if (await ctx.device.popErrorScope()) {
      destroyTrainingSet(set);
      throw new CnnV3Error(`The training set (${images.length} images, ${(set.bytes / 2 ** 20).toFixed(0)} MB) does not fit in the GPU's memory: train on fewer or smaller samples, or use --device cpu`);
    }
    try {
      const trainer = await GpuTrainer.create(
        ctx.device,
        { table, side: opts.side, maxBatch: Math.min(opts.batchSize, Math.max(1, patches)), channelDropoutP: opts.channelDropoutP, seed: opts.seed, lossSlots: steps, ...(opts.chunk ? { chunk: opts.chunk } : {}), ...(opts.loss ? { loss: opts.loss } : {}), ...(opts.weightDecay ? { weightDecay: opts.weightDecay } : {}), ...(opts.feedback ? { feedback: opts.feedback } : {}) },
        set,
      );
      return new GpuTrainingSession(ctx, images, set, trainer, opts);
    } catch (e) {
      destroyTrainingSet(set);
      throw e;
    }
  }

  setState(params: Float32Array, m: Float32Array, v: Float32Array): void {
    this.trainer.writeState(params, m, v);
  }

  private check(): void {
    if (this.lost) throw this.lost;
  }

  /** Waits for a GPU promise, or fails as soon as the device is lost. */
  private async guard<T>(p: Promise<T>): Promise<T> {
    const lost = this.ctx.device.lost.then((info) => {
      throw this.lost ?? new DeviceLostError(info.message || info.reason);
    });
    return Promise.race([p, lost]);
  }

  /**
   * One epoch over `order` (pairs of image index and keypoint index, already shuffled), Adam
   * steps `firstStep + 1 …`; `progress(k)` after every k finished steps. Once `signal` is
   * aborted it throws its reason at the next chunk, after the chunk in flight has finished (so
   * the device can be destroyed with no work queued).
   */
  async epoch(order: ReadonlyArray<readonly [number, number]>, lr: number, firstStep: number, progress: (steps: number) => void, signal?: AbortSignal): Promise<EpochResult> {
    this.check();
    const B = this.opts.batchSize;
    writeOrder(
      this.ctx.device,
      this.set,
      order.map(([i, k]) => {
        const c = this.images[i]!.centres[k]!;
        return [i, c.x, c.y] as const;
      }),
    );
    const steps: StepSpec[] = [];
    for (let s = 0; s * B < order.length; s++) {
      steps.push({ n: Math.min(B, order.length - s * B), first: s * B, step: firstStep + s + 1, lr, lossSlot: s });
    }
    let inFlight: { done: Promise<void>; count: number } | undefined;
    // Chunks grow from FIRST_CHUNK steps, doubling up to `chunk`: the GPU starts after a few
    // steps are encoded, and each later chunk is encoded while the one before it runs.
    let size = Math.min(FIRST_CHUNK, this.chunk);
    for (let c = 0; c < steps.length; c += size, size = Math.min(2 * size, this.chunk)) {
      if (signal?.aborted) {
        if (inFlight) await this.guard(inFlight.done);
        signal.throwIfAborted();
      }
      const part = steps.slice(c, c + size);
      this.trainer.run(part);
      const done = this.trainer.done();
      if (inFlight) {
        await this.guard(inFlight.done);
        progress(inFlight.count);
      }
      this.check();
      inFlight = { done, count: part.length };
    }
    if (inFlight) {
      await this.guard(inFlight.done);
      progress(inFlight.count);
    }
    return this.guard(this.trainer.readStateAndLosses(steps.length));
  }

  destroy(): void {
    this.closed = true;
    this.trainer.destroy();
    destroyTrainingSet(this.set);
  }
}
