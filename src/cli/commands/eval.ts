import { CnnV3Error } from '../../errors.js';
import { formatStability, stabilityJson } from '../../demo/stability.js';
import { ablateDataset, diagnoseDataset, evaluateDataset, evaluateSequence, type SampleScore } from '../../eval/evaluate-node.js';
import type { SequenceFrameScore } from '../../eval/sequence.js';
import { openGpuRunner, type GpuRunner } from '../../jobs/runner-node.js';
import { INPUT_MODES, type InputMode } from '../../dataset/layout.js';
import { STYLE_COND_INDEX, type ModelConfig } from '../../model/config.js';
import { helpAsked, intFlag, parseFlags, stringFlag } from '../args.js';
import { formatDiagnosis } from '../../eval/diagnose.js';
import { TRAIN_DEFAULTS } from '../../train/options.js';
import { GPU_INPUT_FLAGS, modelConfig, parseCond, readWeightFiles } from '../gpu-inputs.js';
import type { CliIO } from '../io.js';

export const EVAL_HELP = `Usage: cnnv3 eval --weights W [--film F] --input DATASET [--input-mode simple|full]
                  [--cond b,n,a,s0,s1] [--style P0,P1] [--strength S] [--sweep | --ablate | --sequence | --diagnose] [--device cpu|gpu] [--json]
                  [--checkpoint CKPT.safetensors] [--patch-size N] [--patches-per-image N] [--seed S]

Runs the trained network on every sample and prints per-sample and mean PSNR and SSIM (RGB)
against target.png, alpha PSNR separately, and the identity baseline (albedo vs target).
--device cpu (default) uses the float64 reference; gpu runs CNNv3Effect through WebGPU.
The condition: --cond sets every entry (default 0.5 each, strength 1 for a model trained with
--strength-cond); --style P0,P1 and --strength S set style_p0/p1 and the strength knob. --json
reports it with the scores. --sweep scores a grid instead: styles (1,0), (0.5,0.5), (0,1) by
strength 0, 0.5, 1 (strength only for models that have the knob), mean PSNR of each against
the targets and against the input photos. --ablate (CPU) shows the PSNR lost when each input
channel group is zeroed (albedo, normal, depth, material, prev, mips, shadow, transparency):
which inputs the model relies on.
--sequence (CPU) takes the samples, sorted by name (numbers as numbers: pack-blender's
sample_0001, sample_0002, …), as consecutive frames of one clip and runs them as the demo does:
prev.rgb = the model's previous output, black on the first frame. It prints per-frame PSNR
against the targets with that feedback and without it (prev = 0, each frame alone) and their
means, then the figures of cnnv3 demo --stability with a row per frame: the mean |Δ| of the
output and of the albedo from the frame before, the flicker ratio (output Δ / albedo Δ) over the
clip, and the drift over runs of frames whose albedo does not change; then the flicker ratio
without feedback. When every sample carries motion.bin (pack-blender of a render with Blender's
Vector pass), it also prints the warping error E_warp of Lai et al. 2018 per frame and over the
clip, with and without feedback and of the targets (the floor): the mean squared RGB difference
between each frame and the one before carried along the motion (bilinear), over the pixels whose
source is in the frame and not occluded (forward-backward check); otherwise it says why not.
The frames must share one size, and there must be at least 2.
--diagnose (CPU) shows why the model scores what it does: per layer (enc0, enc1, bottleneck,
dec1) the fraction of pixels where each ReLU channel is exactly 0 (dead channels), its mean
and max; dec0's pre-activation; the output's saturation (sigmoid |x| > 4.6, residual tanh
|x| > 2) and how far it moves from the albedo (mean |y − albedo|) against how far the target
is (|t − albedo|). Then what the export costs: PSNR with the float32 weights of --checkpoint
(the one the files were exported from) against the f16 weights; what the GPU's feature packing
(f16 and 8-bit, SPEC §3) costs, alone and with every GPU rounding; and the albedo's gradient,
edge density and the identity's and model's PSNR inside the patches training would cut around
Harris corners and around uniform random centres (--patch-size, --patches-per-image: train's
defaults 64 and 256; --seed, default 1, as train --seed).
`;

const f = (v: number, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : v === Infinity ? 'inf' : 'n/a');

export async function evalCommand(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags('eval', argv, { ...GPU_INPUT_FLAGS, input: { type: 'string' }, 'input-mode': { type: 'string' }, device: { type: 'string' }, json: { type: 'boolean' }, sweep: { type: 'boolean' }, ablate: { type: 'boolean' }, sequence: { type: 'boolean' }, diagnose: { type: 'boolean' }, checkpoint: { type: 'string' }, 'patch-size': { type: 'string' }, 'patches-per-image': { type: 'string' }, seed: { type: 'string' } });
  if (helpAsked(values, io, EVAL_HELP)) return 0;
  const weightsPath = stringFlag(values, 'weights');
  const input = stringFlag(values, 'input');
  if (weightsPath === undefined) throw new CnnV3Error('cnnv3 eval: --weights cnn_v3_weights.bin is required', 2);
  if (input === undefined) throw new CnnV3Error('cnnv3 eval: --input DATASET is required', 2);
  const modeRaw = stringFlag(values, 'input-mode');
  if (modeRaw !== undefined && !(INPUT_MODES as readonly string[]).includes(modeRaw)) throw new CnnV3Error('cnnv3 eval: --input-mode must be simple or full', 2);
  const device = stringFlag(values, 'device') ?? 'cpu';
  if (device !== 'cpu' && device !== 'gpu') throw new CnnV3Error('cnnv3 eval: --device must be cpu or gpu', 2);
  const files = await readWeightFiles(modelConfig('eval', values), weightsPath, stringFlag(values, 'film'));
  const config = files.config;
  const cond = parseCond('eval', values, config);
  const json = values['json'] === true;
  let runner: GpuRunner | undefined;
  if (values['ablate'] && device !== 'cpu') throw new CnnV3Error('cnnv3 eval: --ablate runs on the CPU reference: leave out --device gpu', 2);
  if (values['sequence'] && device !== 'cpu') throw new CnnV3Error('cnnv3 eval: --sequence runs on the CPU reference: leave out --device gpu', 2);
  if (values['diagnose'] && device !== 'cpu') throw new CnnV3Error('cnnv3 eval: --diagnose runs on the CPU reference: leave out --device gpu', 2);
  if ([values['sequence'], values['sweep'], values['ablate'], values['diagnose']].filter(Boolean).length > 1) throw new CnnV3Error('cnnv3 eval: give one of --sweep, --ablate, --sequence, --diagnose', 2);
  for (const flag of ['checkpoint', 'patch-size', 'patches-per-image', 'seed']) {
    if (values[flag] !== undefined && !values['diagnose']) throw new CnnV3Error(`cnnv3 eval: --${flag} goes with --diagnose`, 2);
  }
  if (device === 'gpu') runner = await openGpuRunner('auto');
  try {
    if (values['sequence']) {
      const evalInput = { config, weights: files.weights, ...(files.film ? { film: files.film } : {}), cond };
      // The header waits for the first frame: its E_warp columns appear only when the frames carry motion.
      let header = false;
      const row = (s: Pick<SequenceFrameScore, 'name' | 'psnr' | 'psnr_no_feedback' | 'e_warp'>) => {
        const w = s.e_warp;
        if (!header) {
          header = true;
          io.stdout(`  ${'frame'.padEnd(36)} ${'PSNR fed back'.padStart(13)} ${'PSNR alone'.padStart(11)}${w ? ` ${'E_warp fed back'.padStart(15)} ${'E_warp alone'.padStart(12)} ${'E_warp target'.padStart(13)} ${'mask'.padStart(5)}` : ''}\n`);
        }
        const warpCols = w ? ` ${f(w.feedback, 5).padStart(15)} ${f(w.no_feedback, 5).padStart(12)} ${f(w.target, 5).padStart(13)} ${(Number.isFinite(w.valid) ? `${Math.round(w.valid * 100)}%` : '-').padStart(5)}` : '';
        io.stdout(`  ${s.name.padEnd(36)} ${f(s.psnr).padStart(13)} ${f(s.psnr_no_feedback).padStart(11)}${warpCols}\n`);
      };
      const report = await evaluateSequence(input, modeRaw as InputMode | undefined, evalInput, json ? undefined : row);
      if (json) io.stdout(`${stabilityJson(report)}\n`);
      else {
        const wp = report.warp;
        row({ name: 'mean', psnr: report.mean.psnr, psnr_no_feedback: report.mean.psnr_no_feedback, ...(wp ? { e_warp: { feedback: wp.feedback, no_feedback: wp.no_feedback, target: wp.target, valid: wp.valid } } : {}) });
        io.stdout(`${report.frames.length} frames ${report.width}×${report.height}, prev.rgb = the previous output (black on the first frame). Device: ${report.device}.\n`);
        io.stdout(formatStability(report.stability.feedback, 'frame'));
        const alone = report.stability.no_feedback.total;
        io.stdout(`Without feedback (prev = 0): output Δ ${alone.output.toFixed(5)}, ratio ${alone.albedo > 0 ? (alone.output / alone.albedo).toFixed(3) : '—'}\n`);
        io.stdout(
          wp
            ? `Warping error E_warp (Lai et al. 2018; RGB 0..1, squared, over ${wp.pairs} frame pairs, ${Math.round(wp.valid * 100)}% of pixels in frame and not occluded by forward-backward check): fed back ${f(wp.feedback, 5)}, alone ${f(wp.no_feedback, 5)}, targets ${f(wp.target, 5)} (the floor: the rendered frames' own)\n`
            : `Warping error E_warp: not available (${report.warp_unavailable ?? 'no motion'})\n`,
        );
      }
      return 0;
    }
    if (values['diagnose']) {
      const opts = {
        patchSize: intFlag('eval', values, 'patch-size', TRAIN_DEFAULTS.patchSize, 1),
        patchesPerImage: intFlag('eval', values, 'patches-per-image', TRAIN_DEFAULTS.patchesPerImage, 1),
        seed: intFlag('eval', values, 'seed', 1, 0, 0xffffffff),
      };
      const evalInput = { config, weights: files.weights, ...(files.film ? { film: files.film } : {}), cond };
      const report = await diagnoseDataset(input, modeRaw as InputMode | undefined, evalInput, stringFlag(values, 'checkpoint'), opts);
      io.stdout(json ? `${JSON.stringify(report, (_k, v) => (v === Infinity ? 'inf' : v), 2)}\n` : formatDiagnosis(report));
      return 0;
    }
    if (values['ablate']) {
      const { full, rows } = await ablateDataset(input, modeRaw as InputMode | undefined, { config, weights: files.weights, ...(files.film ? { film: files.film } : {}), cond });
      if (json) io.stdout(`${JSON.stringify({ full_psnr: full, groups: rows }, (_k, v) => (v === Infinity ? 'inf' : v), 2)}\n`);
      else {
        io.stdout(`  every input: ${f(full)} dB PSNR. Zeroing one channel group at a time:\n`);
        const widest = Math.max(0.01, ...rows.map((r) => r.drop));
        for (const r of rows) io.stdout(`  ${r.group.padEnd(13)} ch ${r.channels.join(',').padEnd(17)} ${f(r.psnr).padStart(7)} dB  −${f(r.drop)} ${'#'.repeat(Math.max(0, Math.round((24 * r.drop) / widest)))}\n`);
      }
      return 0;
    }
    if (values['sweep']) {
      const rows = await sweep(input, modeRaw as InputMode | undefined, config, files, runner);
      if (json) io.stdout(`${JSON.stringify(rows, (_k, v) => (v === Infinity ? 'inf' : v), 2)}\n`);
      else {
        io.stdout(`  ${'style_p0,style_p1'.padEnd(18)} ${'strength'.padStart(8)} ${'PSNR vs target'.padStart(15)} ${'PSNR vs input'.padStart(14)}\n`);
        for (const r of rows) io.stdout(`  ${r.style.join(',').padEnd(18)} ${(r.strength === undefined ? '-' : String(r.strength)).padStart(8)} ${f(r.psnr).padStart(15)} ${f(r.input_psnr).padStart(14)}\n`);
        io.stdout(`Identity baseline (the input against the targets): ${f(rows[0]!.identity_psnr)} dB PSNR.\n`);
      }
      return 0;
    }
    if (!json) io.stdout(`  ${'sample'.padEnd(36)} ${'PSNR'.padStart(7)} ${'SSIM'.padStart(6)} ${'alpha'.padStart(7)}   identity PSNR / SSIM\n`);
    const line = (s: SampleScore) =>
      io.stdout(`  ${s.name.padEnd(36)} ${f(s.psnr).padStart(7)} ${f(s.ssim, 4).padStart(6)} ${f(s.alpha_psnr).padStart(7)}   ${f(s.identity_psnr)} / ${f(s.identity_ssim, 4)}\n`);
    const report = await evaluateDataset(input, modeRaw as InputMode | undefined, { config, weights: files.weights, ...(files.film ? { film: files.film } : {}), cond }, runner, json ? undefined : line);
    if (json) io.stdout(`${JSON.stringify(report, (_k, v) => (v === Infinity ? 'inf' : v), 2)}\n`);
    else {
      io.stdout(`  ${'mean'.padEnd(36)} ${f(report.mean.psnr).padStart(7)} ${f(report.mean.ssim, 4).padStart(6)} ${f(report.mean.alpha_psnr).padStart(7)}   ${f(report.identity.psnr)} / ${f(report.identity.ssim, 4)}\n`);
      const gain = report.mean.psnr - report.identity.psnr;
      io.stdout(`Device: ${report.device}. The network ${gain > 0 ? `beats the identity baseline by ${f(gain)}` : `falls short of the identity baseline by ${f(-gain)}`} dB PSNR.\n`);
    }
    return 0;
  } finally {
    await runner?.close();
  }
}

export interface SweepRow {
  style: [number, number];
  /** Absent for a model without a strength knob. */
  strength?: number;
  cond: number[];
  /** Mean PSNR of the output against the targets, and against the input (albedo, 1 − transp). */
  psnr: number;
  input_psnr: number;
  identity_psnr: number;
}

/** The model over a grid of style × strength: is it controllable? */
async function sweep(dir: string, mode: InputMode | undefined, config: ModelConfig, files: { weights: Uint8Array; film?: Uint8Array }, runner: GpuRunner | undefined): Promise<SweepRow[]> {
  if (config.filmCondDim <= STYLE_COND_INDEX[1]) throw new CnnV3Error(`cnnv3 eval: --sweep varies style_p0/style_p1; this model's condition has ${config.filmCondDim} entries`, 2);
  const styles: Array<[number, number]> = [[1, 0], [0.5, 0.5], [0, 1]];
  const strengths = config.strengthCond === undefined ? [undefined] : [0, 0.5, 1];
  const rows: SweepRow[] = [];
  for (const style of styles) {
    for (const strength of strengths) {
      const cond = new Array<number>(config.filmCondDim).fill(0.5);
      [cond[STYLE_COND_INDEX[0]], cond[STYLE_COND_INDEX[1]]] = style;
      if (strength !== undefined) cond[config.strengthCond!] = strength;
      const report = await evaluateDataset(dir, mode, { config, weights: files.weights, ...(files.film ? { film: files.film } : {}), cond }, runner);
      const inputPsnr = report.samples.reduce((a, s) => a + s.input_psnr, 0) / Math.max(1, report.samples.length);
      rows.push({ style, ...(strength !== undefined ? { strength } : {}), cond, psnr: report.mean.psnr, input_psnr: inputPsnr, identity_psnr: report.identity.psnr });
    }
  }
  return rows;
}
