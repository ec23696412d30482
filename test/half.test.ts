import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromHalfBits, roundToHalf, toHalfBits } from '../src/util/half.js';

test('every finite half round-trips exactly through f32', () => {
  for (let h = 0; h < 0x10000; h++) {
    const v = fromHalfBits(h);
    if (Number.isNaN(v)) continue;
    assert.equal(toHalfBits(v), h, `half 0x${h.toString(16)}`);
  }
});

test('ties round to even, in normals and subnormals', () => {
  // 1 + 2^-11 lies halfway between 1 (0x3c00, even) and 1 + 2^-10 (0x3c01): goes down.
  assert.equal(toHalfBits(1 + 2 ** -11), 0x3c00);
  // 1 + 3·2^-11 lies halfway between 0x3c01 (odd) and 0x3c02: goes up.
  assert.equal(toHalfBits(1 + 3 * 2 ** -11), 0x3c02);
  // Just above a tie rounds up.
  assert.equal(toHalfBits(1 + 2 ** -11 + 2 ** -20), 0x3c01);
  // Subnormal ties: 2^-25 (half the smallest subnormal) → 0; 3·2^-25 → 2·2^-24 (even).
  assert.equal(toHalfBits(2 ** -25), 0x0000);
  assert.equal(toHalfBits(3 * 2 ** -25), 0x0002);
  assert.equal(toHalfBits(2 ** -25 + 2 ** -35), 0x0001);
  assert.equal(toHalfBits(-(2 ** -26)), 0x8000);
});

test('signed zero, subnormals, overflow, infinities, NaN', () => {
  assert.equal(toHalfBits(0), 0x0000);
  assert.equal(toHalfBits(-0), 0x8000);
  assert.equal(toHalfBits(2 ** -24), 0x0001);
  assert.equal(toHalfBits(2 ** -14), 0x0400); // smallest normal
  assert.equal(toHalfBits(2 ** -14 - 2 ** -25), 0x0400); // subnormal rounding up into the normals
  assert.equal(toHalfBits(65504), 0x7bff); // largest finite
  assert.equal(toHalfBits(65519.99), 0x7bff);
  assert.equal(toHalfBits(65520), 0x7c00); // the tie above 65504 rounds to Inf
  assert.equal(toHalfBits(-1e6), 0xfc00);
  assert.equal(toHalfBits(Infinity), 0x7c00);
  assert.equal(toHalfBits(-Infinity), 0xfc00);
  assert.equal(toHalfBits(NaN), 0x7e00);
  assert.equal(fromHalfBits(0x7c00), Infinity);
  assert.ok(Number.isNaN(fromHalfBits(0x7e01)));
  assert.equal(roundToHalf(0.1), 0.0999755859375);
  assert.equal(toHalfBits(1e-10), 0);
});
