// The fast path's staged weights (CNNv3Effect.uploadWeights): read back the way the shaders index
// them (conv3_common.wgsl, dec0.wgsl, enc1.wgsl), they must give the direct convolutions of the weights file.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stageConv3, stageEnc1, stageFoldedUp } from '../src/effect/cnn-effect.js';
import { readWeightsBin } from '../src/export/read.js';
import { buildParamTable } from '../src/model/params.js';
import type { ModelConfig } from '../src/model/config.js';
import { randomWeights } from '../src/verify/random-input.js';
import { Rng } from '../src/util/rng.js';

const CONFIGS: ModelConfig[] = [
  { encChannels: [4, 8], filmCondDim: 5 },
  { encChannels: [3, 5], filmCondDim: 5 },
  { encChannels: [1, 2], filmCondDim: 3 },
];

function setup(config: ModelConfig, seed: number) {
  const table = buildParamTable(config);
  const values = readWeightsBin(config, randomWeights(config, seed).weights, 'weights');
  const weight = (layer: string, co: number, ci: number, tap: number) => {
    const c = table.convs.find((x) => x.name === layer)!;
    return values[table.byName.get(`${layer}.weight`)!.offset + (co * c.in + ci) * c.k * c.k + tap]!;
  };
  const bias = (layer: string, co: number) => values[table.byName.get(`${layer}.bias`)!.offset + co]!;
  return { table, values, weight, bias };
}

test('stageConv3: w[tap·STRIDE + ci][co] is weight (co, ci, tap), zero lanes past the outputs, biases last', () => {
  for (const config of CONFIGS) {
    const { table, values, weight, bias } = setup(config, 11);
    for (const [layer, stride] of [['enc0', 20], ['dec1', 16], ['dec0', 8]] as const) {
      const conv = table.convs.find((c) => c.name === layer)!;
      const w = stageConv3(table, values, layer, stride);
      assert.equal(w.length, 4 * (9 * stride + 1));
      for (let tap = 0; tap < 9; tap++) {
        for (let ci = 0; ci < stride; ci++) {
          for (let co = 0; co < 4; co++) {
            const want = ci < conv.in && co < conv.out ? weight(layer, co, ci, tap) : 0;
            assert.equal(w[4 * (tap * stride + ci) + co], Math.fround(want), `${layer} enc=[${config.encChannels}] (${co}, ${ci}, ${tap})`);
          }
        }
      }
      for (let co = 0; co < 4; co++) assert.equal(w[4 * 9 * stride + co], co < conv.out ? Math.fround(bias(layer, co)) : 0);
    }
    assert.throws(() => stageConv3(table, values, 'enc0', 16), /does not fit/);
  }
});

test('stageEnc1: the Winograd blocks give the direct 3×3 convolution of a 4×4 window; the bottleneck blocks its 1×1 conv', () => {
  const rng = new Rng(5);
  for (const config of CONFIGS) {
    const [c0, c1] = config.encChannels;
    const { table, values, weight, bias } = setup(config, 12);
    const u = stageEnc1(table, values);
    // mat m, column col, row row (column-major mat4x4f, as WGSL reads a uniform array of them).
    const mat = (m: number, col: number, row: number) => u[16 * m + 4 * col + row]!;
    for (let trial = 0; trial < 5; trial++) {
      // d[ci][y][x]: a 4×4 window per input channel (4 lanes, zero past C0 as the pooled e0 is).
      const d = Array.from({ length: 4 }, (_, ci) => Array.from({ length: 4 }, () => Array.from({ length: 4 }, () => (ci < c0 ? rng.uniform(-1, 1) : 0))));
      // enc1.wgsl: V = Bᵀ d B per lane, M = U ⊙ V over the input lanes, Y = Aᵀ M A.
      const bt = (a: number, b: number, c: number, e: number) => [a - c, b + c, c - b, b - e];
      for (let h = 0; h < 2; h++) {
        const m = Array.from({ length: 16 }, () => [0, 0, 0, 0]);
        for (let ci = 0; ci < 4; ci++) {
          const rows = d[ci]!.map((r) => bt(r[0]!, r[1]!, r[2]!, r[3]!));
          const v = [0, 1, 2, 3].flatMap((nu) => [rows[0]![nu]! - rows[2]![nu]!, rows[1]![nu]! + rows[2]![nu]!, rows[2]![nu]! - rows[1]![nu]!, rows[1]![nu]! - rows[3]![nu]!]);
          // v above is ν-major; index it as ξ·4 + ν.
          for (let xi = 0; xi < 4; xi++) for (let nu = 0; nu < 4; nu++) for (let r = 0; r < 4; r++) m[xi * 4 + nu]![r]! += mat(16 * h + xi * 4 + nu, ci, r) * v[nu * 4 + xi]!;
        }
        const s = (k: number, r: number) => m[k]![r]!;
        for (let r = 0; r < 4; r++) {
          const co = 4 * h + r;
          const s0 = [0, 1, 2, 3].map((nu) => s(nu, r) + s(4 + nu, r) + s(8 + nu, r));
          const s1 = [0, 1, 2, 3].map((nu) => s(4 + nu, r) - s(8 + nu, r) - s(12 + nu, r));
          const y = [s0[0]! + s0[1]! + s0[2]!, s0[1]! - s0[2]! - s0[3]!, s1[0]! + s1[1]! + s1[2]!, s1[1]! - s1[2]! - s1[3]!];
          for (let py = 0; py < 2; py++) {
            for (let px = 0; px < 2; px++) {
              let want = 0;
              if (co < c1) for (let ci = 0; ci < c0; ci++) for (let tap = 0; tap < 9; tap++) want += weight('enc1', co, ci, tap) * d[ci]![py + Math.floor(tap / 3)]![px + (tap % 3)]!;
              assert.ok(Math.abs(y[py * 2 + px]! - want) < 1e-5, `enc=[${config.encChannels}] co ${co} pixel (${px}, ${py}): ${y[py * 2 + px]} vs ${want}`);
            }
          }
          assert.equal(mat(36, h, r), co < c1 ? Math.fround(bias('enc1', co)) : 0);
          assert.equal(mat(36, 2 + h, r), co < c1 ? Math.fround(bias('bottleneck', co)) : 0);
        }
      }
    }
    for (let co = 0; co < 8; co++) {
      for (let ci = 0; ci < 8; ci++) {
        const want = co < c1 && ci < c1 ? weight('bottleneck', co, ci, 0) : 0;
        assert.equal(mat(32 + 2 * (co >> 2) + (ci >> 2), ci & 3, co & 3), Math.fround(want));
      }
    }
  }
});

test('stageFoldedUp: each pixel of a 2×2 block, from its 2×2 window of source texels, gives the 3×3 convolution of the nearest-upsampled source', () => {
  const rng = new Rng(6);
  for (const config of CONFIGS) {
    const { table, values, weight } = setup(config, 14);
    for (const [layer, ups] of [['dec1', 8], ['dec0', 4]] as const) {
      const conv = table.convs.find((c) => c.name === layer)!;
      const inUp = conv.in / 2;
      const f = stageFoldedUp(table, values, layer, ups);
      assert.equal(f.length, 4 * 16 * ups);
      for (let trial = 0; trial < 3; trial++) {
        // x[ci][Y][X]: the block's 3×3 source texels around its own (1, 1).
        const x = Array.from({ length: inUp }, () => Array.from({ length: 3 }, () => Array.from({ length: 3 }, () => rng.uniform(-1, 1))));
        for (let phase = 0; phase < 4; phase++) {
          const [i, j] = [phase >> 1, phase & 1];
          for (let co = 0; co < 4; co++) {
            let got = 0;
            for (let tap = 0; tap < 4; tap++) {
              const [a, b] = [tap >> 1, tap & 1];
              for (let ci = 0; ci < ups; ci++) got += f[4 * ((phase * 4 + tap) * ups + ci) + co]! * (ci < inUp ? x[ci]![i + a]![j + b]! : 1);
            }
            // Pixel (2 + j, 2 + i) of the upsampled window: tap (ky, kx) reads up(x) at (1 + j + kx, 1 + i + ky), source texel ⌊·/2⌋.
            let want = 0;
            if (co < conv.out) {
              for (let ci = 0; ci < inUp; ci++) for (let tap = 0; tap < 9; tap++) want += weight(layer, co, ci, tap) * x[ci]![(1 + i + Math.floor(tap / 3)) >> 1]![(1 + j + (tap % 3)) >> 1]!;
            }
            assert.ok(Math.abs(got - want) < 1e-5, `${layer} enc=[${config.encChannels}] phase ${phase} co ${co}: ${got} vs ${want}`);
          }
        }
      }
    }
    assert.throws(() => stageFoldedUp(table, values, 'dec1', config.encChannels[1] - 1), /does not fit/);
  }
});
