/** The held-out score of a training run: whole images, FiLM condition 0.5 everywhere. */
import { psnr } from '../image/metrics.js';
import type { FastModel } from '../model/fast.js';
import type { TrainImage } from './data.js';

/** MSE over RGBA and mean RGB PSNR (capped at 200 dB for a perfect image) of `images`. */
export function validate(model: FastModel, params: Float32Array, images: ReadonlyArray<TrainImage>, condDim: number): { loss: number; psnr: number } {
  model.setParams(params);
  const cond = new Array<number>(condDim).fill(0.5);
  let se = 0;
  let n = 0;
  let psnrSum = 0;
  for (const im of images) {
    const y = model.forward(im.features, im.height, im.width, cond);
    for (let i = 0; i < y.length; i++) se += (y[i]! - im.target[i]!) ** 2;
    n += y.length;
    psnrSum += Math.min(200, psnr(y, im.target, 4, [0, 1, 2]));
  }
  return { loss: se / n, psnr: psnrSum / images.length };
}
