// Central finite differences of the reference loss against its analytic gradient, shared by the
// reference tests of every output mode.
import type { ParamTable } from '../src/model/params.js';
import type { LossKind } from '../src/model/loss.js';
import { lossAndGrad } from '../src/model/reference.js';

type Batch = Parameters<typeof lossAndGrad>[2];

export interface GradCheck {
  /** Largest |fd − analytic| / (1e-7 + |fd| + |analytic|) over every parameter. */
  worst: number;
  /** Where the worst one is, with both values. */
  where: string;
  /** Tensors with at least one non-zero analytic gradient entry. */
  reached: Set<string>;
}

export function checkGradients(table: ParamTable, params: Float64Array, batch: Batch, eps = 1e-6, loss: LossKind = 'mse'): GradCheck {
  const grad = new Float64Array(table.total);
  lossAndGrad(table, params, batch, grad, loss);
  const result: GradCheck = { worst: 0, where: '', reached: new Set() };
  for (const p of table.params) {
    for (let i = 0; i < p.size; i++) {
      const k = p.offset + i;
      const keep = params[k]!;
      params[k] = keep + eps;
      const up = lossAndGrad(table, params, batch, undefined, loss);
      params[k] = keep - eps;
      const down = lossAndGrad(table, params, batch, undefined, loss);
      params[k] = keep;
      const fd = (up - down) / (2 * eps);
      if (grad[k] !== 0) result.reached.add(p.name);
      const err = Math.abs(fd - grad[k]!) / (1e-7 + Math.abs(fd) + Math.abs(grad[k]!));
      if (err > result.worst) [result.worst, result.where] = [err, `${p.name}[${i}] fd=${fd} analytic=${grad[k]}`];
    }
  }
  return result;
}
