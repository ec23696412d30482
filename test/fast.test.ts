import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../src/model/config.js';
import { FastModel } from '../src/model/fast.js';
import { initParams } from '../src/model/init.js';
import { buildParamTable } from '../src/model/params.js';
import { forward, lossAndGrad, tensor, type Tensor } from '../src/model/reference.js';
import { Rng } from '../src/util/rng.js';
import { assertClose } from './assert-close.js';

function toHwc(t: Tensor): Float32Array {
  const out = new Float32Array(t.c * t.h * t.w);
  for (let c = 0; c < t.c; c++) for (let p = 0; p < t.h * t.w; p++) out[p * t.c + c] = t.data[c * t.h * t.w + p]!;
  return out;
}


function case_(cfg: ModelConfig, sizes: Array<[number, number]>, seed: number, zeroChannels: number[] = []) {
  const table = buildParamTable(cfg);
  const rng = new Rng(seed);
  const params = initParams(table, seed);
  const bias = table.byName.get('film_mlp.2.bias')!;
  for (let i = 0; i < bias.size; i++) params[bias.offset + i] = rng.uniform(-0.5, 1.5);
  const batch = sizes.map(([h, w]) => {
    const x = tensor(20, h, w);
    for (let i = 0; i < x.data.length; i++) x.data[i] = Math.fround(rng.next());
    for (const c of zeroChannels) x.data.fill(0, c * h * w, (c + 1) * h * w);
    const target = tensor(4, h, w);
    for (let i = 0; i < target.data.length; i++) target.data[i] = Math.fround(rng.next());
    return { x, target, cond: Array.from({ length: cfg.filmCondDim }, () => Math.fround(rng.next())) };
  });
  return { table, params, batch };
}

const nameOf = (table: ReturnType<typeof buildParamTable>) => (i: number) => {
  const p = table.params.find((q) => i >= q.offset && i < q.offset + q.size)!;
  return `${p.name}[${i - p.offset}]`;
};

for (const { label, cfg, sizes, zero } of [
  { label: 'default config, 16×16 and odd 9×7', cfg: DEFAULT_MODEL_CONFIG, sizes: [[16, 16], [9, 7]] as Array<[number, number]>, zero: [] },
  { label: 'default config, 1×1, 2×3 and photo-like zero channels', cfg: DEFAULT_MODEL_CONFIG, sizes: [[1, 1], [2, 3], [5, 11]] as Array<[number, number]>, zero: [5, 6, 7, 8, 9, 10, 11] },
  { label: 'wide config enc [8, 16], D = 3', cfg: { encChannels: [8, 16], filmCondDim: 3 } as ModelConfig, sizes: [[10, 6]] as Array<[number, number]>, zero: [] },
  { label: 'narrow config enc [3, 5], D = 2', cfg: { encChannels: [3, 5], filmCondDim: 2 } as ModelConfig, sizes: [[7, 13]] as Array<[number, number]>, zero: [] },
]) {
  test(`fast path matches the float64 reference: ${label}`, () => {
    const { table, params, batch } = case_(cfg, sizes, 11, zero);
    const refGrad = new Float64Array(table.total);
    const refLoss = lossAndGrad(table, params, batch, refGrad);
    const fast = new FastModel(table);
    fast.setParams(params);
    const count = batch.reduce((s, b) => s + 4 * b.x.h * b.x.w, 0);
    const grad = new Float64Array(table.total);
    const one = new Float64Array(table.total);
    let sse = 0;
    for (const b of batch) {
      // Outputs first (forward only), then the training step's gradient.
      const y = fast.forward(toHwc(b.x), b.x.h, b.x.w, b.cond);
      assertClose(y, toHwc(forward(table, params, b.x, b.cond).y), 1e-6, 1e-5, 'output');
      sse += fast.trainImage(toHwc(b.x), b.x.h, b.x.w, b.cond, toHwc(b.target), count, one);
      for (let i = 0; i < grad.length; i++) grad[i]! += one[i]!;
    }
    // float32 activations against float64: relative 1e-4 of the value, plus an absolute floor
    // at 1e-5 of the largest gradient for entries that cancel to near zero.
    const scale = Math.max(...Array.from(refGrad, Math.abs));
    assert.ok(Math.abs(sse / count - refLoss) <= 1e-6 * refLoss, `loss ${sse / count} vs ${refLoss}`);
    assertClose(grad, refGrad, 1e-5 * scale, 1e-4, 'gradient', nameOf(table));
  });
}
