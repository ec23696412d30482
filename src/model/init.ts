/**
 * PyTorch's default initialisation (SPEC §4): every weight and bias uniform in ±1/√fan_in
 * (Conv2d and Linear's kaiming_uniform(a=√5) reduce to that), except film_mlp.2.bias, which
 * starts at γ = 1, β = 0 so that FiLM begins as the identity. With the opt-in residual output,
 * dec0 and the MLP rows that make dec0's β start at zero, so the output starts as the identity.
 */
import { Rng } from '../util/rng.js';
import { FILM_HIDDEN, outputMode } from './config.js';
import type { ParamTable } from './params.js';

export function initParams(table: ParamTable, seed: number): Float32Array {
  const rng = new Rng(seed);
  const flat = new Float32Array(table.total);
  for (const p of table.params) {
    const bound = 1 / Math.sqrt(p.fanIn);
    for (let i = 0; i < p.size; i++) flat[p.offset + i] = rng.uniform(-bound, bound);
  }
  const bias = table.byName.get('film_mlp.2.bias')!;
  for (const { gamma, beta, channels } of Object.values(table.film)) {
    for (let c = 0; c < channels; c++) {
      flat[bias.offset + gamma + c] = 1;
      flat[bias.offset + beta + c] = 0;
    }
  }
  if (outputMode(table.config) === 'residual') {
    // Zero dec0 so the residual output starts as the identity (y = base); its gradient is still
    // non-zero, so it learns from the first step (the "zero-init the last layer" of residual nets).
    for (const name of ['dec0.weight', 'dec0.bias']) {
      const p = table.byName.get(name)!;
      flat.fill(0, p.offset, p.offset + p.size);
    }
    // …and dec0's β rows of the MLP's last layer, so β3 = its bias = 0 for every condition.
    const w2 = table.byName.get('film_mlp.2.weight')!;
    const { beta, channels } = table.film.dec0;
    flat.fill(0, w2.offset + beta * FILM_HIDDEN, w2.offset + (beta + channels) * FILM_HIDDEN);
  }
  return flat;
}
