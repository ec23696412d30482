/** What `cnnv3 infer` and `cnnv3 parity` share: model flags, weight files, inputs, conditions. */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SAMPLE_MARKER } from '../dataset/layout.js';
import { loadSampleDir } from '../dataset/sample-node.js';
import { CnnV3Error, fileError } from '../errors.js';
import { readFilmMlpBin, readWeightsBin, weightsFileConfig } from '../export/read.js';
import { planesFromPhoto, planesFromSample, type FeaturePlanes } from '../effect/feature-pass.js';
import type { RunnerChoice } from '../jobs/runner-node.js';
import { PRECISIONS, type Precision } from '../effect/precision.js';
import { decodeImage } from '../image/decode.js';
import { DEFAULT_MODEL_CONFIG, FILM_COND_NAMES, STYLE_COND_INDEX, makeModelConfig, parseEncChannels, parseFilmCondDim, type ModelConfig } from '../model/config.js';
import { readInputFile } from '../util/read-node.js';
import { pairFlag, stringFlag, valueFlags, type OptionSpec } from './args.js';

export const GPU_INPUT_FLAGS = {
  ...valueFlags('weights', 'film', 'photo', 'sample', 'cond', 'style', 'strength', 'enc-channels', 'film-cond-dim', 'gpu'),
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

/**
 * The FiLM condition: --cond (every entry; default 0.5 each, and 1 for a model's strength knob),
 * then --style P0,P1 (style_p0/p1) and --strength S (the entry the model was trained with
 * --strength-cond on) as readable overrides.
 */
export function parseCond(command: string, values: Record<string, unknown>, config: ModelConfig): number[] {
  const dim = config.filmCondDim;
  const raw = stringFlag(values, 'cond');
  let cond: number[];
  if (raw === undefined) {
    cond = new Array<number>(dim).fill(0.5);
    if (config.strengthCond !== undefined) cond[config.strengthCond] = 1;
  } else {
    cond = raw.split(',').map((s) => (s.trim() === '' ? NaN : Number(s)));
    if (cond.length !== dim || !cond.every((x) => Number.isFinite(x))) {
      throw new CnnV3Error(`cnnv3 ${command}: --cond must be ${dim} numbers like 0,0,0,0.5,0.5 (${FILM_COND_NAMES.slice(0, dim).join(',')}), got ${JSON.stringify(raw)}`, 2);
    }
  }
  const style = pairFlag(command, values, 'style');
  if (style) {
    if (dim <= STYLE_COND_INDEX[1]) throw new CnnV3Error(`cnnv3 ${command}: --style needs a condition with style_p0/style_p1; this model's has ${dim} entries`, 2);
    [cond[STYLE_COND_INDEX[0]], cond[STYLE_COND_INDEX[1]]] = style;
  }
  const strength = stringFlag(values, 'strength');
  if (strength !== undefined) {
    if (config.strengthCond === undefined) throw new CnnV3Error(`cnnv3 ${command}: --strength: this model has no strength knob (it was trained without --strength-cond); use --cond`, 2);
    const s = strength.trim() === '' ? NaN : Number(strength);
    if (!(s >= 0 && s <= 1)) throw new CnnV3Error(`cnnv3 ${command}: --strength must be a number in [0, 1], got ${JSON.stringify(strength)}`, 2);
    cond[config.strengthCond] = s;
  }
  return cond;
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

/** --precision: the effect's arithmetic (effect/precision.ts); the device decides 'auto'. */
export function precisionChoice(command: string, values: Record<string, unknown>): Precision {
  const p = stringFlag(values, 'precision') ?? 'auto';
  if (!(PRECISIONS as readonly string[]).includes(p)) throw new CnnV3Error(`cnnv3 ${command}: --precision must be ${PRECISIONS.join(', ')}, got ${JSON.stringify(p)}`, 2);
  return p as Precision;
}

export function runnerChoice(command: string, values: Record<string, unknown>): RunnerChoice {
  const g = stringFlag(values, 'gpu') ?? 'auto';
  if (g !== 'auto' && g !== 'dawn' && g !== 'chromium') throw new CnnV3Error(`cnnv3 ${command}: --gpu must be auto, dawn or chromium`, 2);
  return g;
}
