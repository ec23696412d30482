/**
 * `cnnv3 eval`: the trained network on every sample of a dataset, scored against target.png —
 * PSNR and SSIM over RGB, alpha PSNR on its own — next to the identity baseline (albedo vs
 * target), so a user sees what the network added. CPU: the float64 reference; GPU: the effect.
 */
import { computeFeatures, NUM_FEATURES } from '../dataset/features.js';
import type { InputMode } from '../dataset/layout.js';
import { discoverSamples, loadSampleDir, sampleName } from '../dataset/sample-node.js';
import { decodeMotion, MOTION_FILE, type MotionField } from '../dataset/motion.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sample } from '../dataset/sample.js';
import { evalFilmMlp, identityFilm, readFilmMlpBin, readWeightsBin } from '../export/read.js';
import { planesFromSample } from '../effect/feature-pass.js';
import { decodeRgba, inferJob } from '../jobs/jobs.js';
import type { GpuRunner } from '../jobs/runner-node.js';
import { FILM_COND_NAMES, type ModelConfig } from '../model/config.js';
import { buildParamTable } from '../model/params.js';
import { forward, tensor } from '../model/reference.js';
import { psnr, ssim } from '../image/metrics.js';
import { measureAblation, type Ablation } from './ablate.js';
import { measureSequence, type SequenceFrameScore, type SequenceReport } from './sequence.js';
import { CnnV3Error, fileError } from '../errors.js';
import { loadCheckpoint } from '../checkpoint/checkpoint-node.js';
import { diagnose, type Diagnosis, type DiagnoseOptions } from './diagnose.js';

export { CHANNEL_GROUPS, type AblationRow } from './ablate.js';

export interface SampleScore {
  name: string;
  width: number;
  height: number;
  psnr: number;
  ssim: number;
  alpha_psnr: number;
  identity_psnr: number;
  identity_ssim: number;
  /** The output against the input itself (albedo, 1 − transp): how much the network changed it. */
  input_psnr: number;
}

export interface EvalReport {
  device: string;
  /** The FiLM condition every sample ran with, by name. */
  cond: Record<string, number>;
  samples: SampleScore[];
  mean: { psnr: number; ssim: number; alpha_psnr: number };
  identity: { psnr: number; ssim: number };
}

export interface EvalInput {
  config: ModelConfig;
  weights: Uint8Array;
  film?: Uint8Array;
  cond: number[];
}

/** The float64 reference's weights and FiLM for one `EvalInput`, read once for every sample it scores. */
export interface CpuModel {
  table: ReturnType<typeof buildParamTable>;
  params: Float64Array;
  film: ReturnType<typeof identityFilm>;
  cond: number[];
}

export function prepareCpuModel(input: EvalInput): CpuModel {
  const table = buildParamTable(input.config);
  const params = new Float64Array(table.total);
  params.set(readWeightsBin(input.config, input.weights, 'weights'));
  const film = input.film ? evalFilmMlp(readFilmMlpBin(input.config, input.film, 'film'), input.cond) : identityFilm(input.config);
  return { table, params, film, cond: input.cond };
}

/**
 * The network's RGBA output for a sample on the CPU, float64 reference, f16 weights as exported;
 * `zeroed` channels fed as 0; `prev` (RGB, 3 floats a pixel) as prev.rgb, else 0. Pass a
 * `prepareCpuModel` result when scoring many samples with one model.
 */
export function cpuOutput(model: EvalInput | CpuModel, s: Sample, zeroed: readonly number[] = [], prev?: Float32Array): Float64Array {
  const { table, params, film, cond } = 'table' in model ? model : prepareCpuModel(model);
  const f = computeFeatures(s, prev);
  const { width: W, height: H } = s;
  const x = tensor(NUM_FEATURES, H, W);
  for (let p = 0; p < W * H; p++) for (let c = 0; c < NUM_FEATURES; c++) x.data[c * W * H + p] = zeroed.includes(c) ? 0 : f[p * NUM_FEATURES + c]!;
  const y = forward(table, params, x, cond, film).y;
  const out = new Float64Array(W * H * 4);
  for (let p = 0; p < W * H; p++) for (let c = 0; c < 4; c++) out[p * 4 + c] = y.data[c * W * H + p]!;
  return out;
}

export function scoreSample(name: string, s: Sample, output: ArrayLike<number>): SampleScore {
  const n = s.width * s.height;
  const target = Float64Array.from(s.target, (v) => v / 255);
  const identity = new Float64Array(n * 4);
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) identity[p * 4 + c] = s.albedo[p * 3 + c]! / 255;
    identity[p * 4 + 3] = 1 - s.transp[p]! / 255;
  }
  const clamped = Float64Array.from(output, (v) => Math.min(1, Math.max(0, v)));
  const rgb = [0, 1, 2];
  return {
    name,
    width: s.width,
    height: s.height,
    psnr: psnr(clamped, target, 4, rgb),
    ssim: ssim(clamped, target, s.width, s.height, 4, rgb),
    alpha_psnr: psnr(clamped, target, 4, [3]),
    identity_psnr: psnr(identity, target, 4, rgb),
    identity_ssim: ssim(identity, target, s.width, s.height, 4, rgb),
    input_psnr: psnr(clamped, identity, 4, rgb),
  };
}

/**
 * scoreSample's PSNR alone, the target converted once: a sequence scores every frame twice (fed
 * back and alone) and needs neither SSIM nor the identity baseline.
 */
function targetPsnr(s: Sample): (output: ArrayLike<number>) => number {
  const target = Float64Array.from(s.target, (v) => v / 255);
  return (output) => psnr(Float64Array.from(output, (v) => Math.min(1, Math.max(0, v))), target, 4, [0, 1, 2]);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

export async function evaluateDataset(
  dir: string,
  mode: InputMode | undefined,
  input: EvalInput,
  runner: GpuRunner | undefined,
  onSample: (score: SampleScore) => void = () => {},
): Promise<EvalReport> {
  const scores: SampleScore[] = [];
  const model = runner ? undefined : prepareCpuModel(input);
  for (const d of await discoverSamples(dir, mode)) {
    const name = sampleName(dir, d);
    const s = await loadSampleDir(d, name);
    let out: ArrayLike<number>;
    if (runner) {
      const r = await runner.infer(inferJob(input, planesFromSample(s), input.cond));
      out = decodeRgba(r);
    } else out = cpuOutput(model!, s);
    const score = scoreSample(name, s, out);
    scores.push(score);
    onSample(score);
  }
  // PSNR is averaged in dB per sample, as the per-sample lines read.
  return {
    device: runner ? runner.description : 'cpu (float64 reference)',
    cond: Object.fromEntries(input.cond.map((v, i) => [FILM_COND_NAMES[i] ?? `cond_${i}`, v])),
    samples: scores,
    mean: { psnr: mean(scores.map((s) => s.psnr)), ssim: mean(scores.map((s) => s.ssim)), alpha_psnr: mean(scores.map((s) => s.alpha_psnr)) },
    identity: { psnr: mean(scores.map((s) => s.identity_psnr)), ssim: mean(scores.map((s) => s.identity_ssim)) },
  };
}

/** PSNR lost on the dataset when each input channel group is zeroed (CPU reference), largest loss first. */
export async function ablateDataset(dir: string, mode: InputMode | undefined, input: EvalInput): Promise<Ablation> {
  const samples: Array<{ name: string; s: Sample }> = [];
  for (const d of await discoverSamples(dir, mode)) samples.push({ name: sampleName(dir, d), s: await loadSampleDir(d, sampleName(dir, d)) });
  const model = prepareCpuModel(input);
  const meanPsnr = (zeroed: readonly number[]) => mean(samples.map(({ name, s }) => scoreSample(name, s, cpuOutput(model, s, zeroed)).psnr));
  return measureAblation(meanPsnr);
}

/**
 * `eval --diagnose`: the dataset's samples through diagnose.ts (CPU reference), with the float32
 * checkpoint the weights were exported from when `checkpointPath` is given.
 */
export async function diagnoseDataset(dir: string, mode: InputMode | undefined, input: EvalInput, checkpointPath: string | undefined, opts: DiagnoseOptions, onSample?: (done: number, total: number, name: string) => void): Promise<Diagnosis> {
  const samples: Sample[] = [];
  for (const d of await discoverSamples(dir, mode)) samples.push(await loadSampleDir(d, sampleName(dir, d)));
  const ckpt = checkpointPath === undefined ? undefined : await loadCheckpoint(checkpointPath);
  return diagnose(samples, { ...input, ...(ckpt ? { checkpoint: { config: ckpt.config, params: ckpt.params, name: checkpointPath! } } : {}) }, opts, onSample);
}

export interface SequenceEvalReport extends SequenceReport {
  device: string;
  /** Why there is no E_warp (`warp` null): the first sample without motion.bin. */
  warp_unavailable?: string;
  cond: Record<string, number>;
  width: number;
  height: number;
}

/** A file's bytes, or undefined where there is none; any other failure names the file. */
async function readOptional(path: string): Promise<Uint8Array | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw fileError(path, `cannot read (${code ?? (e as Error).message})`);
  }
}

/** Frame order: by sample name, numbers compared as numbers (sample_9 before sample_10). */
const byFrame = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

/**
 * `eval --sequence`: the samples of `dir` (sorted by name, numbers as numbers: pack-blender's
 * sample_0001, sample_0002, …) as consecutive frames, on the CPU reference (measureSequence).
 */
export async function evaluateSequence(dir: string, mode: InputMode | undefined, input: EvalInput, onFrame?: (score: SequenceFrameScore) => void): Promise<SequenceEvalReport> {
  const found = (await discoverSamples(dir, mode)).map((d) => ({ d, name: sampleName(dir, d) })).sort((a, b) => byFrame(a.name, b.name));
  if (found.length < 2) throw new CnnV3Error(`cnnv3 eval --sequence: ${dir} holds ${found.length} sample; a sequence needs at least 2 frames`);
  const samples: Sample[] = [];
  const motions: (MotionField | undefined)[] = [];
  for (const { d, name } of found) {
    const s = await loadSampleDir(d, name);
    const motionPath = join(d, MOTION_FILE);
    const motionBytes = await readOptional(motionPath);
    motions.push(motionBytes === undefined ? undefined : decodeMotion(motionBytes, motionPath, s));
    const first = samples[0];
    if (first && (s.width !== first.width || s.height !== first.height)) {
      throw new CnnV3Error(`cnnv3 eval --sequence: ${name} is ${s.width}×${s.height} but ${first.name} is ${first.width}×${first.height}: the frames of a sequence must share one size`);
    }
    samples.push(s);
  }
  const frames = samples.map((s, i) => ({
    name: s.name,
    width: s.width,
    height: s.height,
    albedo: Float32Array.from({ length: s.width * s.height * 4 }, (_, i) => (i % 4 === 3 ? 0 : s.albedo[(i >> 2) * 3 + (i % 4)]! / 255)),
    psnr: targetPsnr(s),
    ...(motions[i] ? { motion: motions[i], target: Float32Array.from(s.target, (v) => v / 255) } : {}),
  }));
  const model = prepareCpuModel(input);
  const report = measureSequence(frames, (i, prev) => cpuOutput(model, samples[i]!, [], prev), onFrame);
  const without = motions.findIndex((m) => m === undefined);
  return {
    device: 'cpu (float64 reference)',
    ...(without >= 0 ? { warp_unavailable: `${samples[without]!.name} has no ${MOTION_FILE} (pack-blender writes it from a render with the Vector pass)` } : {}),
    cond: Object.fromEntries(input.cond.map((v, i) => [FILM_COND_NAMES[i] ?? `cond_${i}`, v])),
    width: samples[0]!.width,
    height: samples[0]!.height,
    ...report,
  };
}
