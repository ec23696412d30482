import { CnnV3Error } from '../../errors.js';
import { INPUT_MODES, type InputMode } from '../../dataset/layout.js';
import { DETECTORS, type Detector } from '../../train/keypoints.js';
import { LOSS_KINDS, type LossKind } from '../../model/loss.js';
import { parseEncChannels, parseFilmCondDim, parseOutputMode, parseStrengthCond } from '../../model/config.js';
import { TRAIN_DEFAULTS, TRAIN_PRESET_NAMES, TRAIN_PRESETS, type Device, type LrSchedule, type TrainOptions } from '../../train/options.js';
import { train } from '../../train/trainer-node.js';
import { choiceFlag, fitFlag, intFlag, numberFlag, parseFlags, stringFlag, valueFlags } from '../args.js';
import { interruptExitCode, onInterrupt } from '../interrupt.js';
import type { CliIO } from '../io.js';
import { ProgressBar } from '../progress.js';

const D = TRAIN_DEFAULTS;

export const TRAIN_HELP = `Usage: cnnv3 train --input DIR [options]

Trains the U-Net + FiLM jointly on the samples under DIR (playbook §2).

  --input DIR               dataset root (default ${D.input}); simple/ or full/ inside it per --input-mode
  --input-mode MODE         simple (photos) | full (Blender G-buffer) (default ${D.inputMode})
  --epochs N                (default ${D.epochs}; 500 recommended with --full-image)
  --batch-size N            (default ${D.batchSize})
  --lr F                    Adam learning rate (default ${D.lr}; 1e-4 if the loss oscillates or turns NaN)
  --lr-schedule S           constant | cosine (default ${D.lrSchedule})
  --lr-warmup N             ramp the learning rate up linearly over the first N epochs, lr·(e+1)/(N+1),
                            then the schedule (cosine over the remaining epochs) (default 0)
  --weight-decay W          decoupled weight decay (AdamW, p ← p·(1 − lr·W) each step) of the conv
                            weights; biases and the FiLM MLP are not decayed (default 0)
  --loss L                  mse | l1 | l1+ssim: the training loss over RGBA (default mse). l1+ssim:
                            0.16·|y − t| + 0.84·(1 − SSIM), 7×7 Gaussian windows (CPU engine only).
                            The epoch lines' loss and val report it; val PSNR stays PSNR
  --patch-size N            (default ${D.patchSize})
  --patches-per-image N     (default ${D.patchesPerImage})
  --detector D              harris | shi-tomasi | random (default ${D.detector})
  --channel-dropout-p F     geometric group p, context p·0.67, temporal 0.5 (default ${D.channelDropoutP})
  --full-image              train on whole images resized to --image-size² instead of patches
  --image-size N            (default ${D.imageSize})
  --fit F                   how --full-image makes a non-square image square: stretch | contain
                            (letterbox, black bars) | cover (centre crop) (default ${D.fit}; warns
                            when it changes an image's aspect)
  --enc-channels C0,C1      (default ${D.encChannels.join(',')})
  --film-cond-dim N         (default ${D.filmCondDim})
  --output-mode M           sigmoid (the playbook's network) | residual: y = clamp(albedo + tanh(·)),
                            for styles close to the photo (default ${D.outputMode}; see the README)
  --feedback-p F            train the previous-frame feedback: this fraction of the patches get as
                            prev.rgb the network's own output for the view one or two frames
                            earlier (shifted a few pixels, exposure ±5 %), not 0 (default 0)
  --temporal-weight W       with --feedback-p: also penalise the output's change from that earlier
                            view beyond its target's change, W·‖Δoutput − Δtarget‖² (default 0)
  --feedback-noise S        with --feedback-p: noise of up to ±S on the albedo of those patches and of
                            their earlier views (the target stays clean): learn to average it away
  --feedback-still S        with --feedback-p: the fraction of those patches whose earlier views
                            do not move (a still camera: prev.rgb aligned), default 0
  --preset P                near-identity: the settings for looks close to the photo (--output-mode
                            residual --detector random --channel-dropout-p 0 --enc-channels 16,16
                            --loss l1), printed at the start; flags given win
  --checkpoint-dir DIR      (default ${D.checkpointDir})
  --checkpoint-every N      epochs between checkpoints, 0 = only the final one (default ${D.checkpointEvery})
  --device D                auto | cpu | gpu (default ${D.device})
  --threads N               CPU worker threads (default: all cores)
  --seed N                  make the run reproducible (default: random, printed)
  --resume CKPT             continue a run from its checkpoint (same losses as an uninterrupted run)
  --val-split F             hold out this fraction of the samples: scored every epoch, best kept as best.safetensors
  --val DIR                 a separate validation dataset instead of --val-split
  --strength-cond NAME      train that condition entry as a strength knob: drawn in [0, 1], it moves
                            the target from the input (0) to the style (1); one of beat_phase,
                            beat_norm, audio_intensity, style_p0, style_p1. Samples with style.json
                            (pack-photo --style) condition style_p0/style_p1 on their coordinates
`;

const choice = <T extends string>(values: Record<string, unknown>, name: string, allowed: readonly T[], fallback: T): T => choiceFlag('train', values, name, allowed, fallback);

export function parseTrainOptions(argv: string[]): TrainOptions | 'help' {
  const { values, positionals } = parseFlags('train', argv, {
    ...valueFlags('input', 'input-mode', 'epochs', 'batch-size', 'lr', 'lr-schedule', 'lr-warmup', 'weight-decay', 'loss', 'patch-size', 'patches-per-image', 'detector', 'channel-dropout-p'),
    'full-image': { type: 'boolean' },
    ...valueFlags('image-size', 'fit', 'enc-channels', 'film-cond-dim', 'output-mode', 'preset', 'feedback-p', 'temporal-weight', 'feedback-noise', 'feedback-still', 'checkpoint-dir', 'checkpoint-every', 'device', 'threads', 'seed', 'resume', 'val-split', 'val', 'strength-cond'),
  });
  if (values['help']) return 'help';
  if (positionals.length > 0) throw new CnnV3Error(`cnnv3 train: unexpected argument ${JSON.stringify(positionals[0])} (see cnnv3 train --help)`, 2);
  const enc = stringFlag(values, 'enc-channels');
  const dim = stringFlag(values, 'film-cond-dim');
  const mode = stringFlag(values, 'output-mode');
  const strength = stringFlag(values, 'strength-cond');
  if (values['val'] !== undefined && values['val-split'] !== undefined) {
    throw new CnnV3Error('cnnv3 train: give --val-split or --val, not both', 2);
  }
  if (values['fit'] !== undefined && values['full-image'] !== true) {
    throw new CnnV3Error('cnnv3 train: --fit needs --full-image (patches are cut from each image at its own size)', 2);
  }
  for (const f of ['temporal-weight', 'feedback-noise', 'feedback-still']) {
    if (values[f] !== undefined && values['feedback-p'] === undefined) {
      throw new CnnV3Error(`cnnv3 train: --${f} needs --feedback-p (it acts on a patch and its earlier views)`, 2);
    }
  }
  const seedRaw = stringFlag(values, 'seed');
  const threadsRaw = stringFlag(values, 'threads');
  const presetName = values['preset'] === undefined ? undefined : choiceFlag('train', values, 'preset', TRAIN_PRESET_NAMES, TRAIN_PRESET_NAMES[0]!);
  const preset: Partial<TrainOptions> = presetName ? TRAIN_PRESETS[presetName] : {};
  const P = { ...D, ...preset };
  const epochs = intFlag('train', values, 'epochs', D.epochs, 1);
  const lr = numberFlag('train', values, 'lr', D.lr, 0, 1e6);
  const loss = values['loss'] === undefined ? P.loss : choice<LossKind>(values, 'loss', LOSS_KINDS, 'mse');
  const lrWarmup = values['lr-warmup'] === undefined ? undefined : intFlag('train', values, 'lr-warmup', 0, 0);
  const weightDecay = values['weight-decay'] === undefined ? undefined : numberFlag('train', values, 'weight-decay', 0, 0, 1e6);
  if (weightDecay !== undefined && lr * weightDecay >= 1) {
    throw new CnnV3Error(`cnnv3 train: --weight-decay ${weightDecay} with --lr ${lr} would shrink every weight to 0 or past it in one step (lr·W must be below 1; AdamW's usual W is 1e-4 to 0.1)`, 2);
  }
  return {
    loss,
    lrWarmup,
    weightDecay,
    preset: presetName,
    feedbackP: numberFlag('train', values, 'feedback-p', 0, 0, 1),
    temporalWeight: numberFlag('train', values, 'temporal-weight', 0, 0, 1e6),
    feedbackNoise: numberFlag('train', values, 'feedback-noise', 0, 0, 1),
    feedbackStill: numberFlag('train', values, 'feedback-still', 0, 0, 1),
    input: stringFlag(values, 'input') ?? D.input,
    inputMode: choice<InputMode>(values, 'input-mode', INPUT_MODES, D.inputMode),
    epochs,
    batchSize: intFlag('train', values, 'batch-size', D.batchSize, 1, 4096),
    lr,
    lrSchedule: choice<LrSchedule>(values, 'lr-schedule', ['constant', 'cosine'], D.lrSchedule),
    patchSize: intFlag('train', values, 'patch-size', D.patchSize, 1, 4096),
    patchesPerImage: intFlag('train', values, 'patches-per-image', D.patchesPerImage, 1),
    detector: choice<Detector>(values, 'detector', DETECTORS, P.detector),
    channelDropoutP: numberFlag('train', values, 'channel-dropout-p', P.channelDropoutP, 0, 1),
    fullImage: values['full-image'] === true,
    imageSize: intFlag('train', values, 'image-size', D.imageSize, 1, 8192),
    fit: fitFlag('train', values, D.fit),
    encChannels: enc === undefined ? P.encChannels : parseEncChannels('train', enc),
    filmCondDim: dim === undefined ? D.filmCondDim : parseFilmCondDim('train', dim),
    outputMode: mode === undefined ? P.outputMode : parseOutputMode('train', mode),
    checkpointDir: stringFlag(values, 'checkpoint-dir') ?? D.checkpointDir,
    checkpointEvery: intFlag('train', values, 'checkpoint-every', D.checkpointEvery, 0),
    device: choice<Device>(values, 'device', ['auto', 'cpu', 'gpu'], D.device),
    threads: threadsRaw === undefined ? undefined : intFlag('train', values, 'threads', 1, 1, 256),
    seed: seedRaw === undefined ? undefined : intFlag('train', values, 'seed', 0, 0, 2 ** 32 - 1),
    resume: stringFlag(values, 'resume'),
    valSplit: numberFlag('train', values, 'val-split', D.valSplit, 0, 0.9),
    val: stringFlag(values, 'val'),
    strengthCond: strength === undefined ? undefined : parseStrengthCond('train', strength, dim === undefined ? D.filmCondDim : parseFilmCondDim('train', dim)),
  };
}

export async function trainCommand(argv: string[], io: CliIO): Promise<number> {
  const opts = parseTrainOptions(argv);
  if (opts === 'help') {
    io.stdout(TRAIN_HELP);
    return 0;
  }
  let bar: ProgressBar | undefined;
  let epoch = 0;
  // Ctrl-C stops the run between steps and unwinds (worker threads ended, a GPU device destroyed
  // with nothing in flight) instead of ending the process under Dawn's running threads.
  const abort = new AbortController();
  const unregister = onInterrupt(() =>
    abort.abort(new CnnV3Error(`cnnv3 train: interrupted${epoch > 0 ? ` in epoch ${epoch}` : ''}; checkpoints already written stay in ${opts.checkpointDir}`, interruptExitCode())),
  );
  try {
    await train(opts, io, {
      signal: abort.signal,
      onEvent: (e) => {
        if (e.type === 'load') {
          if (e.done === 1) bar = new ProgressBar(io, 'load', e.total);
          bar?.tick(e.name);
        } else if (e.type === 'epoch-start') {
          epoch = e.epoch;
          bar = new ProgressBar(io, `epoch ${e.epoch}/${e.epochs}`, e.steps);
        } else if (e.type === 'progress') bar?.advance(e.done);
      },
    });
  } finally {
    unregister();
  }
  return 0;
}
