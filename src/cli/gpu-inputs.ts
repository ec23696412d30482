/** What `cnnv3 infer` and `cnnv3 parity` share: model flags, weight files, inputs, conditions. */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SAMPLE_MARKER } from '../dataset/layout.js';
import { loadSampleDir } from '../dataset/sample-node.js';
import { CnnV3Error, fileError } from '../errors.js';
import { readFilmMlpBin, readWeightsBin, weightsFileConfig } from '../export/read.js';
import { planesFromPhoto, planesFromSample, type FeaturePlanes } from '../effect/feature-pass.js';
import { encodePlanes, type InferJob } from '../jobs/jobs.js';
import type { RunnerChoice } from '../jobs/runner-node.js';
import { toBase64 } from '../util/base64.js';
import { decodeImage } from '../image/decode.js';
import { DEFAULT_MODEL_CONFIG, makeModelConfig, parseEncChannels, parseFilmCondDim, type ModelConfig } from '../model/config.js';
import { readInputFile } from '../util/read-node.js';
import { stringFlag, type OptionSpec } from './args.js';

export const GPU_INPUT_FLAGS = {
  weights: { type: 'string' },
  film: { type: 'string' },
  photo: { type: 'string' },
  sample: { type: 'string' },
  cond: { type: 'string' },
  'enc-channels': { type: 'string' },
  'film-cond-dim': { type: 'string' },
  gpu: { type: 'string' },
} as const satisfies OptionSpec;

/**
 * The model the user's --enc-channels / --film-cond-dim describe, when given: the weights file
 * carries its config, so these only check that it holds the model the user expects.
 */
export function modelConfig(command: string, values: Record<string, unknown>): ModelConfig | undefined {
  const enc = stringFlag(values, 'enc-channels');
  const dim = stringFlag(values, 'film-cond-dim');
  if (enc === undefined && dim === undefined) return undefined;
  return makeModelConfig(
    enc === undefined ? DEFAULT_MODEL_CONFIG.encChannels : parseEncChannels(command, enc),
    dim === undefined ? DEFAULT_MODEL_CONFIG.filmCondDim : parseFilmCondDim(command, dim),
  );
}

/**
 * The weight files, size-checked here so the message names the file before any GPU starts, and
 * the model they hold (the weights file's own config; `asked`, from flags, must agree).
 */
export async function readWeightFiles(
  asked: ModelConfig | undefined,
  weightsPath: string,
  filmPath?: string,
): Promise<{ weights: Uint8Array; film?: Uint8Array; config: ModelConfig }> {
  const weights = await readInputFile(weightsPath, 'weights file');
  const config = weightsFileConfig(weights, weightsPath, asked);
  readWeightsBin(config, weights, weightsPath);
  if (filmPath === undefined) return { weights, config };
  const film = await readInputFile(filmPath, 'FiLM MLP file');
  readFilmMlpBin(config, film, filmPath);
  return { weights, film, config };
}

export function parseCond(command: string, raw: string | undefined, dim: number): number[] {
  if (raw === undefined) return new Array<number>(dim).fill(0.5);
  const v = raw.split(',').map((s) => Number(s.trim()));
  if (v.length !== dim || !v.every((x) => Number.isFinite(x))) {
    throw new CnnV3Error(`cnnv3 ${command}: --cond must be ${dim} numbers like 0,0,0,0.5,0.5 (beat_phase,beat_norm,audio_intensity,style_p0,style_p1), got ${JSON.stringify(raw)}`, 2);
  }
  return v;
}

/** --photo (simple mode) or --sample (a sample directory, full mode): the planes to pack on the GPU. */
export async function readInputPlanes(command: string, values: Record<string, unknown>): Promise<{ planes: FeaturePlanes; label: string } | undefined> {
  const photo = stringFlag(values, 'photo');
  const sample = stringFlag(values, 'sample');
  if (photo !== undefined && sample !== undefined) throw new CnnV3Error(`cnnv3 ${command}: give --photo or --sample, not both`, 2);
  if (photo !== undefined) {
    const bytes = await readInputFile(photo, 'photo');
    return { planes: planesFromPhoto(decodeImage(bytes, photo)), label: photo };
  }
  if (sample !== undefined) {
    const isSample = await stat(join(sample, SAMPLE_MARKER)).then((s) => s.isFile(), () => false);
    if (!isSample) {
      const exists = await stat(sample).then(() => true, () => false);
      throw fileError(sample, exists ? `not a sample directory (no ${SAMPLE_MARKER}) and not an image` : 'sample directory not found');
    }
    return { planes: planesFromSample(await loadSampleDir(sample)), label: sample };
  }
  return undefined;
}

export function runnerChoice(command: string, values: Record<string, unknown>): RunnerChoice {
  const g = stringFlag(values, 'gpu') ?? 'auto';
  if (g !== 'auto' && g !== 'dawn' && g !== 'chromium') throw new CnnV3Error(`cnnv3 ${command}: --gpu must be auto, dawn or chromium`, 2);
  return g;
}

/** The job infer and parity send to the GPU: the model's files, the planes to pack, the condition. */
export function gpuJob(files: { weights: Uint8Array; film?: Uint8Array; config: ModelConfig }, planes: FeaturePlanes, cond: number[]): InferJob {
  return { config: files.config, planes: encodePlanes(planes), weights: toBase64(files.weights), ...(files.film ? { film: toBase64(files.film) } : {}), cond };
}
