/// <reference types="@webgpu/types" preserve="true" />
/**
 * `cnn-v3/effect`: just the effect, for an app that brings its own WebGPU renderer. Everything
 * reachable from here is this package's own ESM (no other package, no Node built-in), so a page
 * can load it straight from `dist/` with an import map, without a bundler.
 */
export { CnnV3Error, isCnnV3Error } from './errors.js';
export {
  CNNv3Effect,
  OUTPUT_FORMAT,
  type CnnEffectInit,
  type CnnEffectOptions,
  type CnnInput,
  type CnnRenderArgs,
  type EffectPath,
  type FilmParams,
  type GBufferTextures,
} from './effect/cnn-effect.js';
export { PRECISIONS, resolvePrecision, type Arithmetic, type Precision } from './effect/precision.js';
export { DEFAULT_MODEL_CONFIG, FILM_COND_NAMES, describeConfig, type ModelConfig } from './model/config.js';
export { FILM_MLP_FILE, WEIGHTS_FILE } from './export/export.js';
