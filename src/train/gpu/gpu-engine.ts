/**
 * The WebGPU TrainEngine: the training set goes up once (GpuTrainingSession), then each epoch
 * runs on the GPU (patch cut, dropout, conditions, forward, backward, Adam) with the losses and
 * state read back at its end. Browser-safe.
 */
import type { ParamTable } from '../../model/params.js';
import type { GpuContext } from '../../gpu/context.js';
import { stepsOf, type EpochOutcome, type EpochPlan, type TrainEngine, type TrainState } from '../engine.js';
import type { GpuImageSource } from './data.js';
import { GpuTrainingSession, type SessionOptions } from './session.js';

export class GpuTrainEngine implements TrainEngine {
  readonly description: string;
  private step = 0;

  private constructor(
    readonly ctx: GpuContext,
    readonly session: GpuTrainingSession,
    private readonly ownsDevice: boolean,
  ) {
    this.description = `gpu (${ctx.adapterName})`;
  }

  /**
   * Uploads the training set; refused (with a message) when it does not fit the GPU. With
   * `ownsDevice`, the device is the engine's: destroyed by `close`, or when creation fails.
   */
  static async create(ctx: GpuContext, table: ParamTable, images: ReadonlyArray<GpuImageSource>, opts: SessionOptions, ownsDevice = false): Promise<GpuTrainEngine> {
    try {
      return new GpuTrainEngine(ctx, await GpuTrainingSession.create(ctx, table, images, opts), ownsDevice);
    } catch (e) {
      if (ownsDevice) ctx.device.destroy();
      throw e;
    }
  }

  setState(s: TrainState): void {
    this.session.setState(s.params, s.m, s.v);
    this.step = s.step;
  }

  async epoch({ order, lr, signal }: EpochPlan, progress: (steps: number) => void): Promise<EpochOutcome> {
    const steps = stepsOf(order.length, this.session.opts.batchSize);
    const r = await this.session.epoch(order, lr, this.step, progress, signal);
    const losses = Float64Array.from(r.losses);
    const bad = losses.findIndex((l) => !Number.isFinite(l));
    if (bad >= 0 || !r.state.params.every(Number.isFinite)) return { losses: losses.subarray(0, Math.max(0, bad)), state: undefined, divergedAt: bad >= 0 ? bad : steps - 1 };
    this.step += steps;
    return { losses, state: { params: r.state.params, m: r.state.m, v: r.state.v, step: this.step } };
  }

  async close(): Promise<void> {
    this.session.destroy();
    if (this.ownsDevice) this.ctx.device.destroy();
  }
}
