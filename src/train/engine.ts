/**
 * What the training loop (loop.ts) drives: one epoch at a time over a shuffled order of
 * (image, patch) pairs, with the optimiser state handed in and out. Two implementations: the CPU
 * engine (cpu/cpu-engine.ts: gradients on worker threads, Adam in TypeScript) and the WebGPU
 * engine (gpu/gpu-engine.ts: the whole epoch on the GPU). Browser-safe.
 */
import type { Rng } from '../util/rng.js';

/** Parameters and Adam's moments (flat, in parameter-table order) after `step` updates. */
export interface TrainState {
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
  step: number;
}

export interface EpochPlan {
  /** (image index, patch index) pairs, already shuffled: one patch each, batches in order. */
  order: ReadonlyArray<readonly [number, number]>;
  lr: number;
  /**
   * The run's random stream, after the shuffle: an engine that draws per-sample dropout and
   * conditions on the host takes them from here, so a run is the same for the same seed.
   */
  rng: Rng;
  /**
   * Polled between steps (CPU) or chunks of steps (GPU, with nothing left in flight): once
   * aborted, the epoch throws the signal's reason (an interrupted run ends there).
   */
  signal?: AbortSignal;
}

export interface EpochOutcome {
  /** One loss per finished step (mean squared error over the batch), in order. */
  losses: Float64Array;
  /** The state after the epoch (undefined when it diverged). */
  state: TrainState | undefined;
  /** 0-based step of the epoch at which the loss or a parameter stopped being finite. */
  divergedAt?: number;
}

export interface TrainEngine {
  /** `gpu (<adapter>)` or `cpu (N threads)`, as the start-up line prints it. */
  readonly description: string;
  setState(state: TrainState): void;
  /** `progress(k)` after every k finished steps. */
  epoch(plan: EpochPlan, progress: (steps: number) => void): Promise<EpochOutcome>;
  close(): Promise<void>;
}

/** The engine's device went away mid-epoch (a GPU reset, say); `reason` is the driver's word. */
export class EngineLostError extends Error {
  constructor(readonly reason: string) {
    super(`the GPU device was lost: ${reason}`);
  }
}

/** Steps of an epoch: batches of `batchSize` over the order, the last one short. */
export const stepsOf = (patches: number, batchSize: number): number => Math.ceil(patches / batchSize);
