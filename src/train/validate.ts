/**
 * The held-out score of a training run: whole images, FiLM condition 0.5 everywhere, except what
 * the run's controls give a meaning: the strength entry at 1 (the full style) and an image's own
 * style coordinates.
 */
import { NUM_FEATURES } from '../dataset/features.js';
import { psnr } from '../image/metrics.js';
import { STYLE_COND_INDEX, type ModelConfig } from '../model/config.js';
import type { FastModel } from '../model/fast.js';
import { fastImageLoss, type LossKind } from '../model/loss.js';
import type { TrainImage } from './data.js';

/** The condition a held-out image is scored with (see above). */
export function validationCondition(config: ModelConfig, style?: readonly [number, number]): number[] {
  const cond = new Array<number>(config.filmCondDim).fill(0.5);
  if (config.strengthCond !== undefined) cond[config.strengthCond] = 1;
  if (config.styleConds && style && cond.length > STYLE_COND_INDEX[1]) [cond[STYLE_COND_INDEX[0]], cond[STYLE_COND_INDEX[1]]] = style;
  return cond;
}

/**
 * The loss (MSE over RGBA by default, or the run's --loss, each a mean over every value of the
 * images) and the mean RGB PSNR (capped at 200 dB for a perfect image) of `images`.
 */
export function validate(model: FastModel, params: Float32Array, images: ReadonlyArray<TrainImage>, config: ModelConfig, loss: LossKind = 'mse'): { loss: number; psnr: number } {
  model.setParams(params);
  let se = 0;
  let n = 0;
  let psnrSum = 0;
  for (const im of images) {
    const cond = validationCondition(config, im.style);
    const y = model.forward(im.features, im.height, im.width, cond);
    if (loss === 'mse') for (let i = 0; i < y.length; i++) se += (y[i]! - im.target[i]!) ** 2;
    else se += fastImageLoss(loss, y, im.target, im.height, im.width);
    n += y.length;
    psnrSum += Math.min(200, psnr(y, im.target, 4, [0, 1, 2]));
  }
  return { loss: se / n, psnr: psnrSum / images.length };
}

/** Mean RGB PSNR of returning the input untouched (the albedo) against the targets: the bar a model must clear. */
export function identityPsnr(images: ReadonlyArray<TrainImage>): number {
  let sum = 0;
  for (const im of images) {
    const n = im.width * im.height;
    const plain = new Float32Array(n * 4);
    for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) plain[p * 4 + c] = im.features[p * NUM_FEATURES + c]!;
    sum += Math.min(200, psnr(plain, im.target, 4, [0, 1, 2]));
  }
  return sum / images.length;
}
