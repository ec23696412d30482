/**
 * PyTorch's default initialisation (SPEC §4): every weight and bias uniform in ±1/√fan_in
 * (Conv2d and Linear's kaiming_uniform(a=√5) reduce to that), except film_mlp.2.bias, which
 * starts at γ = 1, β = 0 so that FiLM begins as the identity.
 */
import { Rng } from '../util/rng.js';
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
  return flat;
}
