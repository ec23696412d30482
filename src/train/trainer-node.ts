/**
 * The CPU training loop (SPEC §5): data in memory, patch batches, Adam, per-epoch log lines,
 * train_log.jsonl, atomic safetensors checkpoints, --resume that continues bit for bit, and a
 * loss-curve PNG at the end.
 */
import { randomInt } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadCheckpoint, saveCheckpoint } from '../checkpoint/checkpoint-node.js';
import { describeConfig, type Checkpoint } from '../checkpoint/checkpoint.js';
import type { CliIO } from '../cli/io.js';
import { ProgressBar } from '../cli/progress.js';
import { NUM_FEATURES } from '../dataset/features.js';
import { discoverSamples, loadSampleDir, sampleName } from '../dataset/sample-node.js';
import { CnnV3Error, fileError } from '../errors.js';
import { OUT_CHANNELS, sameModelConfig, type ModelConfig } from '../model/config.js';
import { initParams } from '../model/init.js';
import { FastModel } from '../model/fast.js';
import { buildParamTable, describeModel } from '../model/params.js';
import { appendWhole, fsReason, makeDirs, writeFileAtomic } from '../util/atomic-node.js';
import { Rng } from '../util/rng.js';
import { Adam } from './adam.js';
import { prepareImage, type TrainImage } from './data.js';
import { DeviceLostError, GpuTrainingSession } from './gpu/session.js';
import type { GpuContext } from '../gpu/context.js';
import { openTrainGpu } from './gpu/device-node.js';
import { createEngine, defaultThreads } from './cpu/engine-node.js';
import { learningRate, type TrainOptions } from './options.js';
import { applyChannelDropout, cropHwc, patchOrigin, randomCondition } from './patches.js';
import { lossCurvePng } from './plot.js';

export interface EpochRecord {
  epoch: number;
  loss: number;
  patches_per_s: number;
  lr: number;
  seconds: number;
  step: number;
  /** With a validation set: MSE over RGBA and mean RGB PSNR of the held-out images. */
  val_loss?: number;
  val_psnr?: number;
}

export interface TrainResult {
  epochs: EpochRecord[];
  /** The final checkpoint written. */
  checkpoint: string;
  seed: number;
}

export const checkpointPath = (dir: string, epoch: number) => join(dir, `checkpoint_epoch_${epoch}.safetensors`);


/** The training images and the held-out ones (--val-split of the samples, or --val DIR). */
async function loadImages(opts: TrainOptions, seed: number, io: CliIO): Promise<{ train: TrainImage[]; val: TrainImage[] }> {
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
  const bar = new ProgressBar(io, 'load', trainDirs.length + valDirs.length);
  const load = async (list: typeof dirs, forVal: boolean) => {
    const out: TrainImage[] = [];
    for (const [i, { dir, root }] of list.entries()) {
      const sample = await loadSampleDir(dir, sampleName(root, dir));
      // Held-out images are scored whole: they need no patch centres.
      out.push(prepareImage(sample, forVal ? { ...opts, seed, detector: 'random', patchesPerImage: 1 } : { ...opts, seed }, i));
      bar.tick(sample.name);
    }
    return out;
  };
  return { train: await load(trainDirs, false), val: await load(valDirs, true) };
}

/** Held-out score: MSE over RGBA and mean RGB PSNR of whole images, FiLM condition 0.5 everywhere. */
function validate(model: FastModel, params: Float32Array, images: TrainImage[], condDim: number): { loss: number; psnr: number } {
  model.setParams(params);
  const cond = new Array<number>(condDim).fill(0.5);
  let se = 0;
  let n = 0;
  let psnrSum = 0;
  for (const im of images) {
    const y = model.forward(im.features, im.height, im.width, cond);
    let rgbSe = 0;
    for (let i = 0; i < y.length; i++) {
      const d = y[i]! - im.target[i]!;
      se += d * d;
      if (i % 4 !== 3) rgbSe += d * d;
    }
    n += y.length;
    psnrSum += 10 * Math.log10((0.75 * y.length) / Math.max(rgbSe, 1e-20));
  }
  return { loss: se / n, psnr: psnrSum / images.length };
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

/** Observers of a run's resources, for callers that embed the trainer (and for its tests). */
export interface TrainHooks {
  /** The WebGPU context the run trains on, once it is open. */
  onGpu?: (ctx: GpuContext) => void;
}

export async function train(opts: TrainOptions, io: CliIO, hooks: TrainHooks = {}): Promise<TrainResult> {
  const config: ModelConfig = { encChannels: opts.encChannels, filmCondDim: opts.filmCondDim };
  if (opts.outputMode !== 'sigmoid') config.output = opts.outputMode;
  const table = buildParamTable(config);

  // Resume: the checkpoint fixes the architecture, the seed and the random stream.
  let resumed: Checkpoint | undefined;
  if (opts.resume !== undefined) {
    resumed = await loadCheckpoint(opts.resume);
    if (!sameModelConfig(resumed.config, config)) {
      throw fileError(
        opts.resume,
        `checkpoint has ${describeConfig(resumed.config)} but this run has ${describeConfig(config)}: pass matching --enc-channels / --film-cond-dim / --output-mode`,
      );
    }
    if (!resumed.optim || resumed.extra['rng'] === undefined || resumed.extra['seed'] === undefined) {
      throw fileError(opts.resume, 'checkpoint has no optimiser or random-stream state (not written by cnnv3 train), so it cannot be resumed');
    }
    if (resumed.epoch >= opts.epochs) {
      throw fileError(opts.resume, `checkpoint is at epoch ${resumed.epoch}; pass --epochs greater than that to continue`);
    }
  }
  const seed = resumed ? Number(resumed.extra['seed']) : (opts.seed ?? randomInt(0, 2 ** 31));
  if (resumed && opts.seed !== undefined && opts.seed !== seed) {
    io.stderr(`note: --seed ${opts.seed} ignored: the resumed run keeps its seed ${seed}\n`);
  }

  io.stdout(`${describeModel(table)}\n`);
  const { train: images, val: valImages } = await loadImages(opts, seed, io);
  const side = opts.fullImage ? opts.imageSize : opts.patchSize;
  const small = images.filter((im) => im.width < side || im.height < side);
  if (!opts.fullImage && small.length > 0) {
    const ex = small[0]!;
    io.stderr(
      `note: --patch-size ${side} is larger than ${small.length} image(s) (e.g. ${ex.name}, ${ex.width}×${ex.height}); their patches are zero-padded\n`,
    );
  }
  const threads = opts.threads ?? defaultThreads();
  // GPU: the training set goes up once, refused before training when it cannot fit.
  const gpu = opts.device === 'cpu' ? undefined : await openTrainGpu(opts.device);
  if (gpu) hooks.onGpu?.(gpu);
  const session = gpu
    ? await GpuTrainingSession.create(gpu, table, images, { batchSize: opts.batchSize, side, channelDropoutP: opts.channelDropoutP, seed }).catch((e: unknown) => {
        gpu.device.destroy();
        throw e;
      })
    : undefined;
  const engine = session ? undefined : await createEngine(table, opts.batchSize, side, threads);
  try {
    if (gpu) {
      io.stdout(`Device: gpu (${gpu.adapterName})\n`);
      if (gpu.software) io.stderr(`note: ${gpu.adapterName} is a software rasteriser: training runs, but slowly (--device auto would use the CPU)\n`);
    } else io.stdout(`Device: cpu (${engine!.threads} thread${engine!.threads === 1 ? '' : 's'})\n`);
    const patchesPerEpoch = images.reduce((s, im) => s + im.centres.length, 0);
    io.stdout(
      `Data: ${images.length} samples from ${opts.input} (${opts.inputMode}), ${patchesPerEpoch} ${opts.fullImage ? `images of ${side}×${side}` : `patches of ${side}×${side}`} per epoch, seed ${seed}\n`,
    );
    if (valImages.length > 0) io.stdout(`Validation: ${valImages.length} held-out sample${valImages.length === 1 ? '' : 's'} (${valImages.map((v) => v.name).join(', ')}), scored each epoch; best kept as best.safetensors\n`);
    const valModel = valImages.length > 0 ? new FastModel(table) : undefined;
    let bestVal = resumed?.extra['best_val_loss'] !== undefined ? Number(resumed.extra['best_val_loss']) : Infinity;

    const params = resumed ? Float32Array.from(resumed.params) : initParams(table, seed);
    const adam = new Adam(table.total);
    const rng = new Rng(seed);
    let startEpoch = 0;
    if (resumed) {
      adam.expAvg.set(resumed.optim!.expAvg);
      adam.expAvgSq.set(resumed.optim!.expAvgSq);
      adam.step = resumed.step;
      rng.setState(JSON.parse(resumed.extra['rng']!) as number[]);
      startEpoch = resumed.epoch;
      io.stdout(`Resuming from ${opts.resume} at epoch ${startEpoch}\n`);
    }

    await makeDirs(opts.checkpointDir).catch((e: unknown) => {
      throw fileError(opts.checkpointDir, `cannot create the checkpoint directory (${fsReason(e)})`);
    });
    if ((await stat(opts.checkpointDir)).isFile()) throw fileError(opts.checkpointDir, 'checkpoint directory is a file');
    // The log holds one line per finished epoch; a resumed run drops lines past its checkpoint.
    const logPath = join(opts.checkpointDir, 'train_log.jsonl');
    const earlier = resumed ? (await readLog(logPath)).filter((r) => r.epoch <= startEpoch) : [];
    await writeFileAtomic(logPath, earlier.map((r) => `${JSON.stringify(r)}\n`).join(''));

    const save = async (
      epoch: number,
      loss: number,
      state: { params: Float32Array; m: Float32Array; v: Float32Array; step: number; rng: number[] },
      path = checkpointPath(opts.checkpointDir, epoch),
    ) => {
      await saveCheckpoint(path, {
        config,
        inputMode: opts.inputMode,
        params: state.params,
        optim: { expAvg: state.m, expAvgSq: state.v },
        epoch,
        loss,
        step: state.step,
        extra: { seed: String(seed), rng: JSON.stringify(state.rng), ...(Number.isFinite(bestVal) ? { best_val_loss: String(bestVal) } : {}) },
      });
      return path;
    };

    const D = config.filmCondDim;
    const px = side * side;
    const grad = new Float64Array(table.total);
    const records: EpochRecord[] = [];
    let lastCheckpoint = opts.resume ?? '';
    const buf = engine?.buffers;
    session?.setState(params, adam.expAvg, adam.expAvgSq);
    for (let epoch = startEpoch + 1; epoch <= opts.epochs; epoch++) {
      // Keep the state the epoch starts from: if it diverges, that state is the last good one.
      const before = { params: params.slice(), m: adam.expAvg.slice(), v: adam.expAvgSq.slice(), step: adam.step, rng: rng.getState() };
      const lr = learningRate(opts, epoch - 1);
      const order: Array<[number, number]> = [];
      images.forEach((im, i) => im.centres.forEach((_, k) => order.push([i, k])));
      rng.shuffle(order);
      const steps = Math.ceil(order.length / opts.batchSize);
      const bar = new ProgressBar(io, `epoch ${epoch}/${opts.epochs}`, steps);
      const t0 = performance.now();
      let lossSum = 0;
      const stopDiverged = async (step: number) => {
        let kept = lastCheckpoint;
        if (epoch - 1 > startEpoch) kept = await save(epoch - 1, records.at(-1)!.loss, before);
        return new CnnV3Error(
          `Loss became NaN in epoch ${epoch} (step ${step}); ${kept ? `the last good checkpoint is ${kept}` : 'no checkpoint was written'}. Try a lower learning rate: --lr 1e-4`,
        );
      };
      if (session) {
        // The whole epoch runs on the GPU; losses and state come back at its end.
        const result = await session.epoch(order, lr, adam.step, (k) => {
          for (let i = 0; i < k; i++) bar.tick();
        }).catch(async (e: unknown) => {
          if (!(e instanceof DeviceLostError)) throw e;
          let kept = lastCheckpoint;
          if (epoch - 1 > startEpoch) kept = await save(epoch - 1, records.at(-1)!.loss, before);
          throw new CnnV3Error(
            `The GPU was lost in epoch ${epoch} (${e.reason}); ${kept ? `the last good checkpoint is ${kept}: continue with --resume ${kept}` : 'no checkpoint was written'}`,
          );
        });
        const bad = result.losses.findIndex((l) => !Number.isFinite(l));
        if (bad >= 0 || !result.state.params.every(Number.isFinite)) throw await stopDiverged(adam.step + (bad >= 0 ? bad : steps - 1) + 1);
        for (const l of result.losses) lossSum += l;
        params.set(result.state.params);
        adam.expAvg.set(result.state.m);
        adam.expAvgSq.set(result.state.v);
        adam.step += steps;
      } else for (let s = 0; s < steps; s++) {
        const items = order.slice(s * opts.batchSize, (s + 1) * opts.batchSize);
        items.forEach(([i, k], j) => {
          const im = images[i]!;
          const c = im.centres[k]!;
          const x0 = patchOrigin(c.x, side, im.width);
          const y0 = patchOrigin(c.y, side, im.height);
          const input = buf!.inputs.subarray(j * px * NUM_FEATURES, (j + 1) * px * NUM_FEATURES);
          cropHwc(im.features, im.width, im.height, NUM_FEATURES, x0, y0, side, input);
          cropHwc(im.target, im.width, im.height, OUT_CHANNELS, x0, y0, side, buf!.targets.subarray(j * px * OUT_CHANNELS, (j + 1) * px * OUT_CHANNELS));
          applyChannelDropout(input, px, opts.channelDropoutP, rng);
          randomCondition(D, rng, buf!.conds.subarray(j * D, (j + 1) * D));
        });
        buf!.params.set(params);
        const sse = await engine!.compute(items.length, side, grad);
        const batchLoss = sse / (items.length * px * OUT_CHANNELS);
        if (!Number.isFinite(batchLoss) || !grad.every(Number.isFinite)) throw await stopDiverged(adam.step + 1);
        lossSum += batchLoss;
        adam.update(params, grad, lr);
        bar.tick();
      }
      const seconds = (performance.now() - t0) / 1000;
      const record: EpochRecord = {
        epoch,
        loss: lossSum / steps,
        patches_per_s: order.length / seconds,
        lr,
        seconds,
        step: adam.step,
      };
      let valNote = '';
      let isBest = false;
      if (valModel) {
        const v = validate(valModel, params, valImages, D);
        record.val_loss = v.loss;
        record.val_psnr = v.psnr;
        isBest = v.loss < bestVal;
        if (isBest) bestVal = v.loss;
        valNote = `  val ${v.loss.toFixed(6)} (${v.psnr.toFixed(2)} dB)${isBest ? ' best' : ''}`;
      }
      records.push(record);
      io.stdout(
        `Epoch ${epoch}/${opts.epochs}  loss ${record.loss.toFixed(6)}${valNote}  ${record.patches_per_s.toFixed(0)} patches/s  lr ${lr.toExponential(2)}  ${seconds.toFixed(1)}s\n`,
      );
      await appendWhole(logPath, `${JSON.stringify(record)}\n`);
      if (isBest) await save(epoch, record.loss, { params, m: adam.expAvg, v: adam.expAvgSq, step: adam.step, rng: rng.getState() }, join(opts.checkpointDir, 'best.safetensors'));
      if (epoch === opts.epochs || (opts.checkpointEvery > 0 && epoch % opts.checkpointEvery === 0)) {
        lastCheckpoint = await save(epoch, record.loss, { params, m: adam.expAvg, v: adam.expAvgSq, step: adam.step, rng: rng.getState() });
        io.stdout(`Saved ${lastCheckpoint}\n`);
      }
    }
    const curve = join(opts.checkpointDir, 'loss_curve.png');
    const all = [...earlier, ...records];
    const valCurve = all.some((r) => r.val_loss !== undefined) ? all.map((r) => r.val_loss ?? NaN) : [];
    await writeFileAtomic(curve, lossCurvePng(all.map((r) => r.loss), all[0]?.epoch ?? 1, 640, 360, valCurve));
    io.stdout(`Wrote ${logPath} and ${curve}\n`);
    return { epochs: records, checkpoint: lastCheckpoint, seed };
  } finally {
    await engine?.close();
    session?.destroy();
    gpu?.device.destroy();
  }
}
