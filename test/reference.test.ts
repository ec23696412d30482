import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildParamTable, convHalfOffsets, describeModel } from '../src/model/params.js';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../src/model/config.js';
import { initParams } from '../src/model/init.js';
import { forward, tensor, type Tensor } from '../src/model/reference.js';
import { Rng } from '../src/util/rng.js';
import { checkGradients } from './grad-check.js';

test('the default parameter table: 1964 conv + 776 MLP = 2740, playbook offsets and model line', () => {
  const t = buildParamTable(DEFAULT_MODEL_CONFIG);
  assert.equal(t.convCount, 1964);
  assert.equal(t.mlpCount, 776);
  assert.equal(t.total, 2740);
  assert.deepEqual(convHalfOffsets(t), { enc0: 0, enc1: 724, bottleneck: 1020, dec1: 1092, dec0: 1672 });
  assert.equal(describeModel(t), 'Model: enc=[4, 8] film_cond_dim=5 params=2740 (~5.4 KB f16)');
  assert.deepEqual(t.byName.get('dec1.weight')!.shape, [4, 16, 3, 3]);
  assert.deepEqual(t.byName.get('film_mlp.2.weight')!.shape, [40, 16]);
  assert.deepEqual(t.film, {
    enc0: { gamma: 0, beta: 4, channels: 4 },
    enc1: { gamma: 8, beta: 16, channels: 8 },
    dec1: { gamma: 24, beta: 28, channels: 4 },
    dec0: { gamma: 32, beta: 36, channels: 4 },
  });
  const wide = buildParamTable({ encChannels: [8, 16], filmCondDim: 3 });
  assert.equal(wide.filmOut, 2 * (8 + 16 + 8 + 4));
  assert.equal(wide.byName.get('film_mlp.0.weight')!.shape[1], 3);
});

test('init: uniform ±1/√fan_in, FiLM output bias γ = 1, β = 0, reproducible by seed', () => {
  const t = buildParamTable(DEFAULT_MODEL_CONFIG);
  const a = initParams(t, 1);
  assert.deepEqual(a, initParams(t, 1));
  assert.notDeepEqual(a, initParams(t, 2));
  for (const p of t.params) {
    if (p.name === 'film_mlp.2.bias') continue;
    const bound = 1 / Math.sqrt(p.fanIn);
    const v = a.subarray(p.offset, p.offset + p.size);
    assert.ok(v.every((x) => Math.abs(x) <= bound), p.name);
  }
  const enc0 = a.subarray(0, 720);
  assert.ok(Math.max(...enc0) > 0.8 / Math.sqrt(180), 'spans the range');
  const bias = a.subarray(t.byName.get('film_mlp.2.bias')!.offset);
  assert.deepEqual(Array.from(bias.subarray(0, 8)), [1, 1, 1, 1, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(bias.subarray(32, 40)), [1, 1, 1, 1, 0, 0, 0, 0]);
});

function randomTensor(rng: Rng, c: number, h: number, w: number, lo = 0, hi = 1): Tensor {
  const t = tensor(c, h, w);
  for (let i = 0; i < t.data.length; i++) t.data[i] = rng.uniform(lo, hi);
  return t;
}

function randomBatch(rng: Rng, cfg: ModelConfig, sizes: Array<[number, number]>) {
  return sizes.map(([h, w]) => ({
    x: randomTensor(rng, 20, h, w),
    cond: Array.from({ length: cfg.filmCondDim }, () => rng.next()),
    target: randomTensor(rng, 4, h, w),
  }));
}

test('reference gradients match central finite differences on tiny odd shapes', () => {
  const cfg: ModelConfig = { encChannels: [2, 3], filmCondDim: 2 };
  const table = buildParamTable(cfg);
  const rng = new Rng(42);
  const params = Float64Array.from(initParams(table, 7));
  // Push FiLM away from identity so every γ/β path carries signal.
  const mlpBias = table.byName.get('film_mlp.2.bias')!;
  for (let i = 0; i < mlpBias.size; i++) params[mlpBias.offset + i] = rng.uniform(0.5, 1.5);
  const batch = randomBatch(rng, cfg, [[5, 3], [3, 6]]);
  const { worst, where } = checkGradients(table, params, batch);
  assert.ok(worst < 1e-4, `worst relative error ${worst} at ${where}`);
});

test('forward: 1×1 and odd sizes keep the input size; zero conv weights give 0.5 gray', () => {
  const table = buildParamTable(DEFAULT_MODEL_CONFIG);
  const rng = new Rng(3);
  const params = initParams(table, 3);
  for (const [h, w] of [[1, 1], [7, 5], [2, 9]] as const) {
    const y = forward(table, params, randomTensor(rng, 20, h, w), [0.5, 0.5, 0.5, 0.5, 0.5]).y;
    assert.deepEqual([y.c, y.h, y.w], [4, h, w]);
    assert.ok(y.data.every((v) => v > 0 && v < 1));
  }
  // All conv weights 0 and identity FiLM (γ = 1, β = 0): every output is sigmoid(0).
  const identity = new Float64Array(table.filmOut);
  for (const f of Object.values(table.film)) identity.fill(1, f.gamma, f.gamma + f.channels);
  const gray = forward(table, new Float32Array(table.total), randomTensor(rng, 20, 3, 3), [0, 0, 0, 0, 0], identity).y;
  assert.ok(gray.data.every((v) => v === 0.5));
});
