/**
 * Adam (β1 0.9, β2 0.999, ε 1e-8) as PyTorch computes it, with bias correction. Parameters and
 * moments are float32 (what a checkpoint stores, so a resumed run continues bit for bit); the
 * update itself is computed in float64.
 */
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

  update(params: Float32Array, grad: Float64Array, lr: number): void {
    this.step++;
    const { beta1, beta2, eps } = ADAM;
    const bc1 = 1 - beta1 ** this.step;
    const bc2 = 1 - beta2 ** this.step;
    for (let i = 0; i < params.length; i++) {
      const g = grad[i]!;
      const m = (this.expAvg[i] = beta1 * this.expAvg[i]! + (1 - beta1) * g);
      const v = (this.expAvgSq[i] = beta2 * this.expAvgSq[i]! + (1 - beta2) * g * g);
      params[i] = params[i]! - (lr * (m / bc1)) / (Math.sqrt(v / bc2) + eps);
    }
  }
}
