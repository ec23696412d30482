/**
 * The FiLM MLP's forward pass (SPEC §4), the one implementation the float64 reference, the fast
 * trainer and the effect (per frame, on the CPU) all run:
 * `hidden = relu(W0·cond + b0)`, `out = W1·hidden + b1`, weights row-major `[out][in]`.
 * Accumulation is in float64 in a fixed order, so every caller gets the same bits.
 */
import { FILM_HIDDEN } from './config.js';

export interface FilmMlpWeights {
  /** L0 weight [16][D], L0 bias [16], L1 weight [F][16], L1 bias [F] (F = γ/β count). */
  w0: ArrayLike<number>;
  b0: ArrayLike<number>;
  w1: ArrayLike<number>;
  b1: ArrayLike<number>;
}

/** Writes the hidden layer (after relu) into `hidden` and γ/β into `out` (length F). */
export function filmMlpForward(mlp: FilmMlpWeights, cond: ArrayLike<number>, condDim: number, hidden: Float64Array, out: Float64Array): void {
  for (let h = 0; h < FILM_HIDDEN; h++) {
    let acc = mlp.b0[h]!;
    for (let i = 0; i < condDim; i++) acc += mlp.w0[h * condDim + i]! * (cond[i] ?? 0);
    hidden[h] = acc > 0 ? acc : 0;
  }
  for (let o = 0; o < out.length; o++) {
    let acc = mlp.b1[o]!;
    for (let h = 0; h < FILM_HIDDEN; h++) acc += mlp.w1[o * FILM_HIDDEN + h]! * hidden[h]!;
    out[o] = acc;
  }
}
