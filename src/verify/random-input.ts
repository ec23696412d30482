/** Seeded random inputs and weights for parity runs (every plane and every FiLM path exercised). */
import { exportWeights } from '../export/export.js';
import type { ModelConfig } from '../model/config.js';
import { initParams } from '../model/init.js';
import { buildParamTable } from '../model/params.js';
import { Rng } from '../util/rng.js';
import type { FeaturePlanes } from '../effect/feature-pass.js';

export function randomPlanes(width: number, height: number, seed: number): FeaturePlanes {
  const rng = new Rng(seed);
  const n = width * height;
  const u8 = (k: number) => Uint8Array.from({ length: n * k }, () => rng.int(256));
  return {
    width,
    height,
    albedo: u8(3),
    normal: u8(2),
    depth: Uint16Array.from({ length: n }, () => rng.int(65536)),
    matid: u8(1),
    shadow: u8(1),
    transp: u8(1),
  };
}

/** PyTorch-style init, with the FiLM output layer's bias spread so γ/β are far from identity. */
export function randomWeights(config: ModelConfig, seed: number): { weights: Uint8Array; film: Uint8Array } {
  // Initialised as the sigmoid network even for the residual output, whose init zeroes dec0:
  // random weights should exercise every layer.
  const table = buildParamTable({ encChannels: config.encChannels, filmCondDim: config.filmCondDim });
  const params = initParams(table, seed);
  const rng = new Rng(seed ^ 0x5bd1e995);
  const bias = table.byName.get('film_mlp.2.bias')!;
  for (const f of Object.values(table.film)) {
    for (let c = 0; c < f.channels; c++) {
      params[bias.offset + f.gamma + c] = rng.uniform(0.5, 1.5);
      params[bias.offset + f.beta + c] = rng.uniform(-0.2, 0.3);
    }
  }
  const { weights, film } = exportWeights(config, params);
  return { weights, film };
}
