/**
 * Adam (β1 0.9, β2 0.999, ε 1e-8) as PyTorch computes it, with bias correction, and with
 * `--weight-decay` W > 0 AdamW's decoupled decay (Loshchilov & Hutter; PyTorch's AdamW:
 * p ← p·(1 − lr·W), then the Adam step) on the parameters `decayedParams` marks. Parameters and
 * moments are float32 (what a checkpoint stores, so a resumed run continues bit for bit); the
 * update itself is computed in float64 (the decay and the step rounded to float32 once).
 */
import type { ParamTable } from '../model/params.js';

export const ADAM = { beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;

export class Adam {
  readonly expAvg: Float32Array;
  readonly expAvgSq: Float32Array;
  /** Number of updates taken so far (PyTorch's `step`). */
  step = 0;

  constructor(size: number) {
    this.expAvg = new Float32Array(size);
    this.expAvgSq = new Float32Array(size);
  }

  /** With `weightDecay` > 0, `decayed[i]` = 1 marks the parameters it shrinks (decayedParams). */
  update(params: Float32Array, grad: Float64Array, lr: number, weightDecay = 0, decayed?: Uint8Array): void {
    this.step++;
    const { beta1, beta2, eps } = ADAM;
    const bc1 = 1 - beta1 ** this.step;
    const bc2 = 1 - beta2 ** this.step;
    const shrink = 1 - lr * weightDecay;
    for (let i = 0; i < params.length; i++) {
      const g = grad[i]!;
      const m = (this.expAvg[i] = beta1 * this.expAvg[i]! + (1 - beta1) * g);
      const v = (this.expAvgSq[i] = beta2 * this.expAvgSq[i]! + (1 - beta2) * g * g);
      const p = weightDecay > 0 && decayed![i] ? params[i]! * shrink : params[i]!;
      params[i] = p - (lr * (m / bc1)) / (Math.sqrt(v / bc2) + eps);
    }
  }
}

/**
 * The parameters --weight-decay shrinks: the five conv layers' weights. Not their biases, and not
 * the FiLM MLP. PyTorch's AdamW decays whatever it is given, but leaving biases and the affine
 * scales of normalisation layers out is the usual practice, and the MLP makes exactly such
 * per-channel scales and shifts: its output bias holds every FiLM γ = 1, so decaying it would pull
 * the layers' scales towards 0 rather than keep the weights small. The WGSL Adam
 * (train_reduce.wgsl) decays the same set.
 */
export function decayedParams(table: ParamTable): Uint8Array {
  const mask = new Uint8Array(table.total);
  for (const c of table.convs) {
    const w = table.byName.get(`${c.name}.weight`)!;
    mask.fill(1, w.offset, w.offset + w.size);
  }
  return mask;
}
