import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  pack2x16float,
  pack4x8unorm,
  packFeatures,
  quantiseFeatures,
  unpack2x16float,
  unpack4x8unorm,
  unpackFeatures,
  zeroPackedChannels,
} from '../src/dataset/gpu-pack.js';
import { CHANNEL_GROUPS } from '../src/eval/ablate.js';
import { NUM_FEATURES } from '../src/dataset/features.js';
import { roundToHalf } from '../src/util/half.js';

test('pack4x8unorm follows WGSL: floor(0.5 + 255·clamp(e)), first component in the low byte', () => {
  assert.equal(pack4x8unorm(0, 1, 0.5, 2), (0 | (255 << 8) | (128 << 16) | (255 << 24)) >>> 0);
  assert.equal(pack4x8unorm(-1, 1 / 255, 0.5 / 255, 0.4999 / 255), (0 | (1 << 8) | (1 << 16) | (0 << 24)) >>> 0);
  assert.deepEqual(unpack4x8unorm(0xff800100), [0, 1 / 255, 128 / 255, 1]);
});

test('unorm8 values round-trip exactly', () => {
  for (let v = 0; v < 256; v++) {
    const [a, b, c, d] = unpack4x8unorm(pack4x8unorm(v / 255, (255 - v) / 255, v / 255, 0));
    assert.equal(a * 255, v);
    assert.equal(b * 255, 255 - v);
    assert.equal(c, v / 255);
    assert.equal(d, 0);
  }
});

test('pack2x16float puts a in the low half and rounds to nearest even', () => {
  assert.equal(pack2x16float(1, -2), (0x3c00 | (0xc000 << 16)) >>> 0);
  assert.deepEqual(unpack2x16float(pack2x16float(1 + 2 ** -11, 1 + 3 * 2 ** -11)), [1, 1 + 2 * 2 ** -10]);
});

test('feature packing round trip: f16 channels rounded, unorm channels exact on /255 values', () => {
  const w = 3;
  const h = 2;
  const f = new Float32Array(w * h * NUM_FEATURES);
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let p = 0; p < w * h; p++) {
    for (let c = 0; c < NUM_FEATURES; c++) {
      // f16 channels get arbitrary values in [-1,1]; unorm channels get exact k/255 values.
      f[p * NUM_FEATURES + c] = c < 8 ? rnd() * 2 - 1 : Math.round(rnd() * 255) / 255;
    }
  }
  const packed = packFeatures(f, w, h);
  assert.equal(packed.feat0.length, w * h * 4);
  for (let p = 0; p < w * h; p++) assert.equal(packed.feat1[p * 4 + 3], 0);
  const back = unpackFeatures(packed);
  for (let i = 0; i < f.length; i++) {
    const c = i % NUM_FEATURES;
    if (c < 8) assert.equal(back[i], Math.fround(roundToHalf(f[i]!)), `ch ${c}`);
    else assert.equal(back[i], f[i], `ch ${c}`);
  }
  assert.deepEqual(quantiseFeatures(back, w, h), back, 'quantising twice changes nothing');
});

test('zeroPackedChannels: the packed features with a group zeroed are the packing of the features with it zeroed, for every ablation group', () => {
  const W = 5;
  const H = 3;
  const f = Float32Array.from({ length: W * H * NUM_FEATURES }, (_, i) => 0.05 + ((i * 37) % 91) / 100);
  const packed = packFeatures(f, W, H);
  for (const [group, channels] of Object.entries(CHANNEL_GROUPS)) {
    const zeroedF = f.map((v, i) => ((channels as readonly number[]).includes(i % NUM_FEATURES) ? 0 : v));
    const want = packFeatures(zeroedF, W, H);
    const got = zeroPackedChannels(packed.feat0, packed.feat1, channels);
    assert.deepEqual([got.feat0, got.feat1], [want.feat0, want.feat1], group);
  }
  assert.deepEqual(zeroPackedChannels(packed.feat0, packed.feat1, []), { feat0: packed.feat0, feat1: packed.feat1 }, 'nothing zeroed: a copy');
  assert.throws(() => zeroPackedChannels(packed.feat0, packed.feat1, [20]), /no channel 20/);
});
