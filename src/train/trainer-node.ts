/**
 * `train()` in Node (SPEC §5): the samples from disk, the engine the device asks for, and the
 * files of a run around the one training loop (loop.ts): per-epoch log lines, train_log.jsonl,
 * atomic safetensors checkpoints, --resume that continues bit for bit, and a loss-curve PNG.
 */
import { randomInt } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadCheckpoint, saveCheckpoint } from '../checkpoint/checkpoint-node.js';
import type { Checkpoint } from '../checkpoint/checkpoint.js';
import { discoverSamples, loadSampleDir, sampleName } from '../dataset/sample-node.js';
import { CnnV3Error, fileError } from '../errors.js';
import { aspectDiffers, formatAspect } from '../image/fit.js';
import type { GpuContext } from '../gpu/context.js';
import { FILM_COND_NAMES, STYLE_COND_INDEX, describeConfig, makeModelConfig, sameModelConfig, sameNetwork, type ModelConfig } from '../model/config.js';
import { initParams } from '../model/init.js';
import { LOSS_DESCRIPTIONS, LOSS_KINDS, type LossKind } from '../model/loss.js';
import { buildParamTable, describeModel, type ParamTable } from '../model/params.js';
import { appendWhole, fsReason, makeDirs, writeFileAtomic } from '../util/atomic-node.js';
import { Rng } from '../util/rng.js';
import { CpuTrainEngine } from './cpu/cpu-engine.js';
import { createEngine, defaultThreads } from './cpu/engine-node.js';
import { prepareImage, type TrainImage } from './data.js';
import type { TrainEngine } from './engine.js';
import { openTrainGpu } from './gpu/device-node.js';
import { GpuTrainEngine } from './gpu/gpu-engine.js';
import { runTrainingLoop, type EpochRecord, type LoopStart, type Snapshot, type TrainEvent } from './loop.js';
import { presetFlags, type TrainOptions } from './options.js';
import { lossCurvePng } from '../image/plot.js';
import { identityPsnr } from './validate.js';

export type { EpochRecord };

export interface TrainResult {
  epochs: EpochRecord[];
  /** The final checkpoint written. */
  checkpoint: string;
  seed: number;
}

export const checkpointPath = (dir: string, epoch: number) => join(dir, `checkpoint_epoch_${epoch}.safetensors`);


/** The training images and the held-out ones (--val-split of the samples, or --val DIR). */
async function loadImages(opts: TrainOptions, seed: number, onEvent: (e: TrainRunEvent) => void, signal: AbortSignal | undefined): Promise<{ train: TrainImage[]; val: TrainImage[]; stretched: Stretched[] }> {
  const dirs = (await discoverSamples(opts.input, opts.inputMode)).map((d) => ({ dir: d, root: opts.input }));
  let valDirs: typeof dirs = [];
  let trainDirs = dirs;
  if (opts.val !== undefined) {
    valDirs = (await discoverSamples(opts.val, opts.inputMode)).map((d) => ({ dir: d, root: opts.val! }));
  } else if (opts.valSplit > 0) {
    if (dirs.length < 2) throw new CnnV3Error(`cnnv3 train: --val-split needs at least 2 samples; ${opts.input} has ${dirs.length}`, 2);
    const k = Math.min(dirs.length - 1, Math.max(1, Math.round(dirs.length * opts.valSplit)));
    // Its own stream, so the split depends on the seed only, not on the training draws.
    const held = new Set(new Rng((seed ^ 0x7a11d) >>> 0).shuffle(dirs.map((_, i) => i)).slice(0, k));
    valDirs = dirs.filter((_, i) => held.has(i));
    trainDirs = dirs.filter((_, i) => !held.has(i));
  }
  const total = trainDirs.length + valDirs.length;
  let done = 0;
  const stretched: Stretched[] = [];
  const load = async (list: typeof dirs, forVal: boolean) => {
    const out: TrainImage[] = [];
    for (const [i, { dir, root }] of list.entries()) {
      signal?.throwIfAborted();
      const sample = await loadSampleDir(dir, sampleName(root, dir));
      if (opts.fullImage && opts.fit === 'stretch' && aspectDiffers(sample.width, sample.height, opts.imageSize, opts.imageSize)) {
        stretched.push({ dir, width: sample.width, height: sample.height });
      }
      // Held-out images are scored whole: they need no patch centres.
      out.push(prepareImage(sample, forVal ? { ...opts, seed, detector: 'random', patchesPerImage: 1 } : { ...opts, seed }, i));
      onEvent({ type: 'load', done: ++done, total, name: sample.name });
    }
    return out;
  };
  return { train: await load(trainDirs, false), val: await load(valDirs, true), stretched };
}

/** A sample whose aspect --full-image --fit stretch changes. */
interface Stretched {
  dir: string;
  width: number;
  height: number;
}

/** One line for the samples --fit stretch distorts (more than 1% of aspect), naming the first. */
function stretchWarning(stretched: Stretched[], total: number, size: number): string {
  const ex = stretched[0]!;
  const example = `${ex.dir} (${ex.width}×${ex.height}, aspect ${formatAspect(ex.width, ex.height)})`;
  const what = stretched.length === 1 ? example : `${stretched.length} of ${total} samples, e.g. ${example},`;
  return `warning: --full-image stretches ${what} to ${size}×${size} (aspect ${formatAspect(size, size)}); --fit contain (letterbox) or --fit cover (centre crop) keeps the shape\n`;
}

async function readLog(path: string): Promise<EpochRecord[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return [];
  }
  const out: EpochRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as EpochRecord);
    } catch {
      break; // a torn last line from a killed run
    }
  }
  return out;
}

/** Where a run's lines go: the user-facing facts and epoch lines, and notes and warnings. */
export interface TrainOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

export type TrainRunEvent = TrainEvent | { type: 'load'; done: number; total: number; name: string };

/** Observers of a run, for callers that embed the trainer (a progress bar, its tests). */
export interface TrainHooks {
  /** The WebGPU context the run trains on, once it is open. */
  onGpu?: (ctx: GpuContext) => void;
  /** Loading and step progress, and each finished epoch. */
  onEvent?: (e: TrainRunEvent) => void;
  /**
   * Stops the run (the CLI's Ctrl-C): checked between samples while loading and between steps
   * while training; train() then closes its engine (a GPU device is destroyed with no work in
   * flight) and throws the signal's reason. Checkpoints already written stay.
   */
  signal?: AbortSignal;
}

/** The training objective's settings: --loss, --lr-warmup, --weight-decay. */
interface Objective {
  loss: LossKind;
  lrWarmup: number;
  weightDecay: number;
}

/** How each is kept in a checkpoint's extra metadata (absent at its default, so default checkpoints are as before). */
const OBJECTIVE_KEYS = { loss: 'loss_function', lrWarmup: 'lr_warmup', weightDecay: 'weight_decay' } as const;
const OBJECTIVE_FLAGS = { loss: 'loss', lrWarmup: 'lr-warmup', weightDecay: 'weight-decay' } as const;
const OBJECTIVE_DEFAULTS: Objective = { loss: 'mse', lrWarmup: 0, weightDecay: 0 };

function objectiveExtra(o: Objective): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(OBJECTIVE_KEYS) as Array<keyof Objective>) if (o[k] !== OBJECTIVE_DEFAULTS[k]) out[OBJECTIVE_KEYS[k]] = String(o[k]);
  return out;
}

/**
 * The run's objective: the flags, or a resumed checkpoint's recorded values (a flag left out
 * takes the checkpoint's; a flag that contradicts it is refused, so a resumed run trains on what
 * it started with).
 */
function resolveObjective(opts: TrainOptions, resumed: Checkpoint | undefined): Objective {
  const given: Partial<Objective> = {
    ...(opts.loss !== undefined ? { loss: opts.loss } : {}),
    ...(opts.lrWarmup !== undefined ? { lrWarmup: opts.lrWarmup } : {}),
    ...(opts.weightDecay !== undefined ? { weightDecay: opts.weightDecay } : {}),
  };
  if (!resumed) return { ...OBJECTIVE_DEFAULTS, ...given };
  const raw = (k: keyof Objective) => resumed.extra[OBJECTIVE_KEYS[k]];
  const num = (k: 'lrWarmup' | 'weightDecay') => {
    const v = raw(k) === undefined ? OBJECTIVE_DEFAULTS[k] : Number(raw(k));
    if (!(Number.isFinite(v) && v >= 0)) throw fileError(opts.resume!, `checkpoint has an invalid ${OBJECTIVE_KEYS[k]} (${JSON.stringify(raw(k))})`);
    return v;
  };
  const loss = raw('loss') ?? OBJECTIVE_DEFAULTS.loss;
  if (!(LOSS_KINDS as readonly string[]).includes(loss)) throw fileError(opts.resume!, `checkpoint has an unknown loss ${JSON.stringify(loss)}`);
  const recorded: Objective = { loss: loss as LossKind, lrWarmup: num('lrWarmup'), weightDecay: num('weightDecay') };
  for (const k of Object.keys(given) as Array<keyof Objective>) {
    if (given[k] !== recorded[k]) {
      throw fileError(
        opts.resume!,
        `checkpoint was trained with --${OBJECTIVE_FLAGS[k]} ${recorded[k]} but this run asks for --${OBJECTIVE_FLAGS[k]} ${given[k]}: leave the flag out to continue with the checkpoint's, or start a new run`,
      );
    }
  }
  return recorded;
}

/** The header line of a run whose objective is not the playbook's (nothing for the default). */
function describeObjective(o: Objective): string | undefined {
  const parts: string[] = [];
  if (o.loss !== 'mse') parts.push(`loss ${o.loss} (${LOSS_DESCRIPTIONS[o.loss]}; the epoch lines' loss and val are this loss)`);
  if (o.lrWarmup > 0) parts.push(`lr warm-up ${o.lrWarmup} epoch${o.lrWarmup === 1 ? '' : 's'} (linear, lr·(e+1)/${o.lrWarmup + 1})`);
  if (o.weightDecay > 0) parts.push(`weight decay ${o.weightDecay} (AdamW, decoupled; conv weights only)`);
  return parts.length > 0 ? `Objective: ${parts.join('; ')}\n` : undefined;
}

export async function train(opts: TrainOptions, io: TrainOutput, hooks: TrainHooks = {}): Promise<TrainResult> {
  const network = makeModelConfig(opts.encChannels, opts.filmCondDim, opts.outputMode);
  const onEvent = hooks.onEvent ?? (() => {});

  // Resume: the checkpoint fixes the architecture, the seed and the random stream.
  let resumed: Checkpoint | undefined;
  if (opts.resume !== undefined) {
    resumed = await loadCheckpoint(opts.resume);
    if (!sameNetwork(resumed.config, network)) {
      throw fileError(
        opts.resume,
        `checkpoint has ${describeConfig(resumed.config)} but this run has ${describeConfig(network)}: pass matching --enc-channels / --film-cond-dim / --output-mode`,
      );
    }
    if (!resumed.optim || resumed.extra['rng'] === undefined || resumed.extra['seed'] === undefined) {
      throw fileError(opts.resume, 'checkpoint has no optimiser or random-stream state (not written by cnnv3 train), so it cannot be resumed');
    }
    if (resumed.epoch >= opts.epochs) {
      throw fileError(opts.resume, `checkpoint is at epoch ${resumed.epoch}; pass --epochs greater than that to continue`);
    }
  }
  const objective = resolveObjective(opts, resumed);
  if (objective.lrWarmup >= opts.epochs) {
    throw new CnnV3Error(`cnnv3 train: --lr-warmup ${objective.lrWarmup} must be less than --epochs ${opts.epochs} (the warm-up ramps the learning rate up to --lr over its first epochs)`, 2);
  }
  if (objective.loss === 'l1+ssim' && opts.device === 'gpu') {
    throw new CnnV3Error('cnnv3 train: --loss l1+ssim runs on the CPU engine only for now (the WebGPU trainer has no SSIM pass): use --device cpu or auto, or --loss l1 on the GPU', 2);
  }
  const seed = resumed ? Number(resumed.extra['seed']) : (opts.seed ?? randomInt(0, 2 ** 31));
  if (resumed && opts.seed !== undefined && opts.seed !== seed) {
    io.stderr(`note: --seed ${opts.seed} ignored: the resumed run keeps its seed ${seed}\n`);
  }

  if ((opts.feedbackP ?? 0) > 0) {
    io.stdout(`Feedback: ${opts.feedbackP} of the patches see as prev.rgb their own output one or two frames earlier (a few pixels away, exposure ±5 %)${(opts.temporalWeight ?? 0) > 0 ? `; temporal weight ${opts.temporalWeight}` : ''}${(opts.feedbackNoise ?? 0) > 0 ? `; albedo noise up to ±${opts.feedbackNoise}` : ''}${(opts.feedbackStill ?? 0) > 0 ? `; ${opts.feedbackStill} of them still (no shift, no exposure change)` : ''}\n`);
  }
  if (opts.preset) io.stdout(`Preset: ${opts.preset} (${presetFlags(opts.preset)}; flags given explicitly win)\n`);
  const objectiveLine = describeObjective(objective);
  if (objectiveLine) io.stdout(objectiveLine);
  io.stdout(`${describeModel(buildParamTable(network))}\n`);
  const { train: images, val: valImages, stretched } = await loadImages(opts, seed, onEvent, hooks.signal);
  if (stretched.length > 0) io.stderr(stretchWarning(stretched, images.length + valImages.length, opts.imageSize));
  const config = withControls(network, opts, images, io);
  if (resumed && !sameModelConfig(resumed.config, config)) {
    throw fileError(opts.resume!, `checkpoint has ${describeConfig(resumed.config)} but this run has ${describeConfig(config)}: pass the same --strength-cond and samples with the same style.json`);
  }
  const table = buildParamTable(config);
  const side = opts.fullImage ? opts.imageSize : opts.patchSize;
  const small = images.filter((im) => im.width < side || im.height < side);
  if (!opts.fullImage && small.length > 0) {
    const ex = small[0]!;
    io.stderr(
      `note: --patch-size ${side} is larger than ${small.length} image(s) (e.g. ${ex.name}, ${ex.width}×${ex.height}); their patches are zero-padded\n`,
    );
  }
  const engine = await openEngine(opts, objective, table, images, side, seed, hooks);
  try {
    io.stdout(`Device: ${engine.description}\n`);
    if (engine instanceof GpuTrainEngine && engine.ctx.software) {
      io.stderr(`note: ${engine.ctx.adapterName} is a software rasteriser: training runs, but slowly (--device auto would use the CPU)\n`);
    }
    const patchesPerEpoch = images.reduce((s, im) => s + im.centres.length, 0);
    io.stdout(
      `Data: ${images.length} samples from ${opts.input} (${opts.inputMode}), ${patchesPerEpoch} ${opts.fullImage ? `images of ${side}×${side}` : `patches of ${side}×${side}`} per epoch, seed ${seed}\n`,
    );
    const identity = valImages.length > 0 ? identityPsnr(valImages) : NaN;
    if (valImages.length > 0) {
      io.stdout(`Validation: ${valImages.length} held-out sample${valImages.length === 1 ? '' : 's'} (${valImages.map((v) => v.name).join(', ')}), scored each epoch; best kept as best.safetensors; the input itself scores ${identity.toFixed(2)} dB\n`);
    }
    if (resumed) io.stdout(`Resuming from ${opts.resume} at epoch ${resumed.epoch}\n`);

    await makeDirs(opts.checkpointDir).catch((e: unknown) => {
      throw fileError(opts.checkpointDir, `cannot create the checkpoint directory (${fsReason(e)})`);
    });
    if ((await stat(opts.checkpointDir)).isFile()) throw fileError(opts.checkpointDir, 'checkpoint directory is a file');
    // The log holds one line per finished epoch; a resumed run drops lines past its checkpoint.
    const logPath = join(opts.checkpointDir, 'train_log.jsonl');
    const earlier = resumed ? (await readLog(logPath)).filter((r) => r.epoch <= resumed.epoch) : [];
    await writeFileAtomic(logPath, earlier.map((r) => `${JSON.stringify(r)}\n`).join(''));

    const save = async (kind: 'epoch' | 'best', snap: Snapshot): Promise<string> => {
      const path = kind === 'best' ? join(opts.checkpointDir, 'best.safetensors') : checkpointPath(opts.checkpointDir, snap.epoch);
      await saveCheckpoint(path, {
        config,
        inputMode: opts.inputMode,
        params: snap.state.params,
        optim: { expAvg: snap.state.m, expAvgSq: snap.state.v },
        epoch: snap.epoch,
        loss: snap.loss,
        step: snap.state.step,
        extra: { seed: String(seed), rng: JSON.stringify(snap.rng), ...((opts.feedbackP ?? 0) > 0 ? { feedback_p: String(opts.feedbackP) } : {}), ...((opts.temporalWeight ?? 0) > 0 ? { temporal_weight: String(opts.temporalWeight) } : {}), ...((opts.feedbackNoise ?? 0) > 0 ? { feedback_noise: String(opts.feedbackNoise) } : {}), ...((opts.feedbackStill ?? 0) > 0 ? { feedback_still: String(opts.feedbackStill) } : {}), ...objectiveExtra(objective), ...(Number.isFinite(snap.bestValLoss) ? { best_val_loss: String(snap.bestValLoss) } : {}) },
      });
      return path;
    };
    const start: LoopStart | undefined = resumed && {
      epoch: resumed.epoch,
      state: { params: Float32Array.from(resumed.params), m: Float32Array.from(resumed.optim!.expAvg), v: Float32Array.from(resumed.optim!.expAvgSq), step: resumed.step },
      rng: JSON.parse(resumed.extra['rng']!) as number[],
      bestValLoss: resumed.extra['best_val_loss'] !== undefined ? Number(resumed.extra['best_val_loss']) : Infinity,
      checkpoint: opts.resume!,
    };
    const result = await runTrainingLoop(
      engine,
      { table, images, valImages, initial: initParams(table, seed) },
      { epochs: opts.epochs, batchSize: opts.batchSize, lr: opts.lr, lrSchedule: opts.lrSchedule, lrWarmup: objective.lrWarmup, loss: objective.loss, checkpointEvery: opts.checkpointEvery, seed },
      start,
      {
        onEvent,
        ...(hooks.signal ? { signal: hooks.signal } : {}),
        afterEpoch: async (r, best) => {
          const val = r.val_loss === undefined ? '' : `  val ${r.val_loss.toFixed(6)} (${r.val_psnr!.toFixed(2)} dB)${best ? ' best' : ''}`;
          const kind = objective.loss === 'mse' ? '' : ` (${objective.loss})`;
          io.stdout(`Epoch ${r.epoch}/${opts.epochs}  loss ${r.loss.toFixed(6)}${kind}${val}  ${r.patches_per_s.toFixed(0)} patches/s  lr ${r.lr.toExponential(2)}  ${r.seconds.toFixed(1)}s\n`);
          await appendWhole(logPath, `${JSON.stringify(r)}\n`);
        },
        save: async (kind, snap) => {
          const path = await save(kind, snap);
          if (kind === 'epoch') io.stdout(`Saved ${path}\n`);
          return path;
        },
      },
    );
    const curve = join(opts.checkpointDir, 'loss_curve.png');
    const all = [...earlier, ...result.records];
    const valCurve = all.some((r) => r.val_loss !== undefined) ? all.map((r) => r.val_loss ?? NaN) : [];
    await writeFileAtomic(curve, lossCurvePng(all.map((r) => r.loss), all[0]?.epoch ?? 1, 640, 360, valCurve));
    io.stdout(`Wrote ${logPath} and ${curve}\n`);
    const scored = all.filter((r) => r.val_psnr !== undefined);
    if (scored.length > 0) {
      const best = scored.reduce((a, b) => (b.val_loss! < a.val_loss! ? b : a));
      if (best.val_psnr! < identity) {
        io.stderr(
          `warning: the best held-out score (${best.val_psnr!.toFixed(2)} dB, epoch ${best.epoch}) is below returning the input untouched (${identity.toFixed(2)} dB): ` +
            'this model makes the held-out images worse than no effect. For looks close to the photo try --output-mode residual\n',
        );
      }
    }
    return { epochs: result.records, checkpoint: result.checkpoint, seed };
  } finally {
    await engine.close();
  }
}

/**
 * The run's condition controls: --strength-cond, and style conditions when any training sample
 * carries style.json (printed, so a user sees what the sliders will mean).
 */
function withControls(network: ModelConfig, opts: TrainOptions, images: TrainImage[], io: TrainOutput): ModelConfig {
  const styled = images.filter((im) => im.style).length;
  if (styled > 0 && network.filmCondDim <= STYLE_COND_INDEX[1]) {
    throw new CnnV3Error(`cnnv3 train: ${styled} sample(s) carry style.json, but --film-cond-dim ${network.filmCondDim} has no style_p0/style_p1 entries (needs at least ${STYLE_COND_INDEX[1] + 1})`, 2);
  }
  if (styled > 0 && opts.strengthCond !== undefined && (STYLE_COND_INDEX as readonly number[]).includes(opts.strengthCond)) {
    throw new CnnV3Error(`cnnv3 train: --strength-cond ${FILM_COND_NAMES[opts.strengthCond]} is a style entry, and ${styled} sample(s) carry style.json: pick another entry (e.g. audio_intensity)`, 2);
  }
  const config = makeModelConfig(network.encChannels, network.filmCondDim, network.output, {
    ...(opts.strengthCond !== undefined ? { strengthCond: opts.strengthCond } : {}),
    styleConds: styled > 0,
  });
  if (styled > 0) {
    const styles = [...new Set(images.filter((im) => im.style).map((im) => im.style!.join(',')))];
    io.stdout(`Styles: ${styled} of ${images.length} samples carry style.json (${styles.map((s) => `(${s})`).join(' ')}): style_p0/style_p1 are theirs, the others draw them at random\n`);
  }
  if (opts.strengthCond !== undefined) io.stdout(`Strength: ${FILM_COND_NAMES[opts.strengthCond]} drawn in [0, 1] moves each target from the input (0) to the style (1)\n`);
  return config;
}

/** The engine --device asks for: the GPU's (training set uploaded once) or the CPU's thread pool. */
async function openEngine(opts: TrainOptions, objective: Objective, table: ParamTable, images: TrainImage[], side: number, seed: number, hooks: TrainHooks): Promise<TrainEngine> {
  const ssim = objective.loss === 'l1+ssim';
  const gpu = opts.device === 'cpu' || ssim ? undefined : await openTrainGpu(opts.device);
  const { loss, weightDecay } = objective;
  if (!gpu) {
    const gradients = await createEngine(table, opts.batchSize, side, opts.threads ?? defaultThreads(), loss);
    return new CpuTrainEngine(table, images, gradients, { batchSize: opts.batchSize, side, channelDropoutP: opts.channelDropoutP, feedbackP: opts.feedbackP ?? 0, temporalWeight: opts.temporalWeight ?? 0, feedbackNoise: opts.feedbackNoise ?? 0, feedbackStill: opts.feedbackStill ?? 0, weightDecay });
  }
  hooks.onGpu?.(gpu);
  const feedback = (opts.feedbackP ?? 0) > 0 ? { feedbackP: opts.feedbackP!, temporalWeight: opts.temporalWeight ?? 0, feedbackNoise: opts.feedbackNoise ?? 0, feedbackStill: opts.feedbackStill ?? 0 } : undefined;
  return GpuTrainEngine.create(gpu, table, images, { batchSize: opts.batchSize, side, channelDropoutP: opts.channelDropoutP, seed, loss, weightDecay, ...(feedback ? { feedback } : {}) }, true);
}
