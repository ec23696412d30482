/** `cnnv3 train` options: the playbook's flags (same names, same defaults) and this port's additions. */
import type { InputMode } from '../dataset/layout.js';
import type { FitMode } from '../image/fit.js';
import type { OutputMode } from '../model/config.js';
import type { LossKind } from '../model/loss.js';
import type { Detector } from './keypoints.js';

export type Device = 'auto' | 'cpu' | 'gpu';
export type LrSchedule = 'constant' | 'cosine';

export interface TrainOptions {
  input: string;
  inputMode: InputMode;
  epochs: number;
  batchSize: number;
  lr: number;
  patchSize: number;
  patchesPerImage: number;
  detector: Detector;
  channelDropoutP: number;
  fullImage: boolean;
  imageSize: number;
  /**
   * How --full-image brings each image to imageSize²: stretch (the aspect changes), contain
   * (letterbox: opaque black bars, see train/data.ts) or cover (centre crop).
   */
  fit: FitMode;
  encChannels: [number, number];
  filmCondDim: number;
  /** dec0's output: the playbook's sigmoid, or the opt-in residual (ModelConfig.output). */
  outputMode: OutputMode;
  checkpointDir: string;
  checkpointEvery: number;
  device: Device;
  /** Undefined: a random seed, printed so the run can be repeated. */
  seed: number | undefined;
  resume: string | undefined;
  lrSchedule: LrSchedule;
  /** CPU worker threads (default: the machine's available parallelism). */
  threads: number | undefined;
  /** Fraction of the samples held out for validation (0 = none). */
  valSplit: number;
  /** A separate validation dataset (instead of --val-split). */
  val: string | undefined;
  /** The condition entry trained as a strength knob (index into FILM_COND_NAMES), or none. */
  strengthCond: number | undefined;
  /** `--feedback-p`: the fraction of patches trained with their own earlier output as prev.rgb (0: the playbook's zero). */
  feedbackP?: number;
  /** `--temporal-weight`: the flow-free temporal term on feedback patches (CpuEngineOptions.temporalWeight). */
  temporalWeight?: number;
  /** `--feedback-noise`: the largest σ of the albedo noise on feedback patches (CpuEngineOptions.feedbackNoise). */
  feedbackNoise?: number;
  /** `--feedback-still`: the fraction of feedback patches whose earlier views do not move (CpuEngineOptions.feedbackStill). */
  feedbackStill?: number;
  /** `--loss` (model/loss.ts); undefined: not given (mse, or a resumed run's). */
  loss?: LossKind | undefined;
  /** `--lr-warmup N`: epochs of linear warm-up before the schedule (learningRate); undefined: not given (0). */
  lrWarmup?: number | undefined;
  /**
   * `--weight-decay W`: decoupled weight decay (AdamW) on the conv weights (adam.ts
   * decayedParams); undefined: not given (0).
   */
  weightDecay?: number | undefined;
  /** The `--preset` the options came from (already applied to them; printed at the start). */
  preset?: TrainPreset | undefined;
}

export const TRAIN_DEFAULTS: TrainOptions = {
  input: 'training/dataset',
  inputMode: 'simple',
  epochs: 200,
  batchSize: 16,
  lr: 1e-3,
  patchSize: 64,
  patchesPerImage: 256,
  detector: 'harris',
  channelDropoutP: 0.3,
  fullImage: false,
  imageSize: 256,
  fit: 'stretch',
  encChannels: [4, 8],
  filmCondDim: 5,
  outputMode: 'sigmoid',
  checkpointDir: 'checkpoints/',
  checkpointEvery: 50,
  device: 'auto',
  seed: undefined,
  resume: undefined,
  lrSchedule: 'constant',
  threads: undefined,
  valSplit: 0,
  val: undefined,
  strengthCond: undefined,
};

/**
 * Named bundles of settings (`--preset`), so a user need not know them; flags given explicitly
 * win. near-identity: looks close to the photo (smoothing, outlines, grades) — the residual output
 * starts at the identity (README, "Near-identity styles"), and uniform patch centres score the
 * flat areas such looks must leave alone as often as the edges a corner detector prefers. No
 * channel dropout: on photos the geometric channels are constants, and zeroing them asks the
 * network to answer alike for inputs it never meets at run time (posterize +0.67 → +1.29 dB at
 * 16,16). 16 channels at full resolution give a staircase like posterize enough ReLUs, and L1
 * fits its steps better than MSE (+1.29 → +1.56 dB); README, "Near-identity styles".
 */
export const TRAIN_PRESETS = {
  'near-identity': { outputMode: 'residual', detector: 'random', channelDropoutP: 0, encChannels: [16, 16], loss: 'l1' },
} as const satisfies Record<string, Partial<TrainOptions>>;

export type TrainPreset = keyof typeof TRAIN_PRESETS;
export const TRAIN_PRESET_NAMES = Object.keys(TRAIN_PRESETS) as TrainPreset[];

const FLAG_OF: Partial<Record<keyof TrainOptions, string>> = { outputMode: 'output-mode', detector: 'detector', channelDropoutP: 'channel-dropout-p', encChannels: 'enc-channels', loss: 'loss' };

/** A preset as the flags it stands for, e.g. `--output-mode residual --detector random`. */
export function presetFlags(name: TrainPreset): string {
  return Object.entries(TRAIN_PRESETS[name]).map(([k, v]) => `--${FLAG_OF[k as keyof TrainOptions] ?? k} ${String(v)}`).join(' ');
}

/**
 * Learning rate of a (0-based) epoch: with `lrWarmup` N, a linear ramp lr·(e + 1)/(N + 1) over
 * epochs e < N; then constant, or cosine annealing to 0 over the remaining epochs.
 */
export function learningRate(opts: Pick<TrainOptions, 'lr' | 'lrSchedule' | 'epochs' | 'lrWarmup'>, epoch: number): number {
  const warm = opts.lrWarmup ?? 0;
  if (epoch < warm) return (opts.lr * (epoch + 1)) / (warm + 1);
  if (opts.lrSchedule === 'constant') return opts.lr;
  return opts.lr * 0.5 * (1 + Math.cos((Math.PI * (epoch - warm)) / (opts.epochs - warm)));
}
