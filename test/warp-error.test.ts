/**
 * E_warp (src/demo/warp-error.ts) on synthetic clips with a known answer: a pattern translated by
 * a known shift scores 0 with the right motion and clearly more with none or the reversed one;
 * pixels whose source leaves the frame and pixels a moving square uncovers are masked out, by the
 * forward-backward check (Blender's motion) or by the depth test (the demo's G-buffer motion).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { depthWarpMask, warpBack, warpMask, warpPairError, type MotionPlanes, type RasterMotion } from '../src/demo/warp-error.js';
import { decodeMotion, encodeMotion } from '../src/dataset/motion.js';

const W = 40;
const H = 30;

/** A smooth colour pattern, defined everywhere, so a shifted copy has no edge. */
const pattern = (x: number, y: number): [number, number, number] => [
  0.5 + 0.4 * Math.sin(0.31 * x) * Math.cos(0.23 * y),
  0.5 + 0.3 * Math.cos(0.17 * x + 0.11 * y),
  0.5 + 0.45 * Math.sin(0.07 * x * y * 0.1 + 0.2 * y),
];

/** The pattern moved by (vx, vy): what sat at (x, y) now sits at (x + vx, y + vy). */
function frame(vx: number, vy: number, paint: (x: number, y: number) => [number, number, number] = pattern): Float32Array {
  const out = new Float32Array(W * H * 4);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const [r, g, b] = paint(x - vx, y - vy);
      out.set([r, g, b, 1], (y * W + x) * 4);
    }
  }
  return out;
}

/** Every pixel moving by (vx, vy) a frame: prev = (−vx, −vy), next = (vx, vy). */
function uniformMotion(vx: number, vy: number): MotionPlanes {
  const data = new Float32Array(W * H * 4);
  for (let p = 0; p < W * H; p++) data.set([-vx, -vy, vx, vy], p * 4);
  return { width: W, height: H, data };
}

test('a pattern translated by an integer shift: E_warp 0 with its motion, > 0 with none or reversed; the out-of-frame band is masked', () => {
  const [vx, vy] = [3, -2];
  const before = frame(0, 0);
  const now = frame(vx, vy);
  const m = uniformMotion(vx, vy);
  const right = warpPairError(now, before, m, m);
  assert.ok(right.error < 1e-12, `right motion: ${right.error}`);
  // Sources x − 3 < 0 (3 columns) and y + 2 > H − 1 (2 rows) fall outside.
  assert.equal(right.valid, ((W - 3) * (H - 2)) / (W * H));
  const mask = warpMask(m);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) assert.equal(mask[y * W + x], x >= 3 && y < H - 2 ? 1 : 0, `mask at ${x},${y}`);

  const still = uniformMotion(0, 0);
  const none = warpPairError(now, before, still, still);
  const reversed = uniformMotion(-vx, -vy);
  const back = warpPairError(now, before, reversed, reversed);
  assert.equal(none.valid, 1);
  assert.ok(none.error > 0.01, `zero motion: ${none.error}`);
  assert.ok(back.error > 0.01, `reversed motion: ${back.error}`);
});

test('a fractional shift: bilinear warping follows it (exact on a linear ramp, near 0 on a smooth pattern)', () => {
  const [vx, vy] = [1.5, 0.25];
  const ramp = (x: number, y: number): [number, number, number] => [0.01 * x + 0.2, 0.02 * y + 0.1, 0.005 * (x + y) + 0.3];
  const m = uniformMotion(vx, vy);
  const onRamp = warpPairError(frame(vx, vy, ramp), frame(0, 0, ramp), m, m);
  assert.ok(onRamp.error < 1e-12, `ramp: ${onRamp.error}`);
  const smooth = warpPairError(frame(vx, vy), frame(0, 0), m, m);
  const none = warpPairError(frame(vx, vy), frame(0, 0), uniformMotion(0, 0));
  assert.ok(smooth.error < 2e-4, `smooth pattern, right motion: ${smooth.error}`);
  assert.ok(none.error > 50 * smooth.error, `zero motion ${none.error} vs right ${smooth.error}`);
  // The warped picture itself: sampled at (x − 1.5, y − 0.25).
  const warped = warpBack(frame(0, 0, ramp), m);
  const p = 12 * W + 20;
  assert.ok(Math.abs(warped[p * 4]! - (0.01 * 18.5 + 0.2)) < 1e-6);
  assert.ok(Math.abs(warped[p * 4 + 1]! - (0.02 * 11.75 + 0.1)) < 1e-6);
});

test('occlusion: the background a moving square uncovers is masked by the forward-backward check', () => {
  const [x0, size, step] = [10, 8, 4];
  const paint = (sx: number) => (x: number, y: number): [number, number, number] =>
    x >= sx && x < sx + size && y >= 10 && y < 10 + size ? [1, 0, 0] : [0, 0, 0.2 + 0.01 * x];
  const before = frame(0, 0, paint(x0));
  const now = frame(0, 0, paint(x0 + step));
  const motionNow = uniformMotion(0, 0);
  const motionBefore = uniformMotion(0, 0);
  for (let y = 10; y < 10 + size; y++) {
    for (let x = 0; x < W; x++) {
      if (x >= x0 + step && x < x0 + step + size) motionNow.data.set([-step, 0], (y * W + x) * 4);
      if (x >= x0 && x < x0 + size) motionBefore.data.set([step, 0], (y * W + x) * 4 + 2);
    }
  }
  const pair = warpPairError(now, before, motionNow, motionBefore);
  assert.ok(pair.error < 1e-12, `with the occlusion mask: ${pair.error}`);
  assert.equal(pair.valid, (W * H - size * step) / (W * H), 'the uncovered strip (4 × 8 pixels) is left out');
  const mask = warpMask(motionNow, motionBefore);
  assert.equal(mask[12 * W + x0], 0, 'uncovered background');
  assert.equal(mask[12 * W + x0 + step], 1, 'the square');
  // Without the previous frame's motion only the frame test applies: the uncovered strip counts.
  const frameOnly = warpPairError(now, before, motionNow);
  assert.ok(frameOnly.error > 0.01, `frame test only: ${frameOnly.error}`);
});

test('occlusion by depth (G-buffer motion): background a near square uncovers, a point that was behind an occluder or behind the camera, are masked', () => {
  // A square 2 m away slides 4 pixels right over a wall 5 m away; the camera does not move.
  const [x0, size, step] = [10, 8, 4];
  const raster = (sx: number): RasterMotion => {
    const data = new Float32Array(W * H * 4);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const inSquare = x >= sx && x < sx + size && y >= 10 && y < 10 + size;
        data.set(inSquare ? [sx === x0 ? 0 : -step, 0, 2, 2] : [0, 0, 5, 5], (y * W + x) * 4);
      }
    }
    return { width: W, height: H, data };
  };
  const before = raster(x0);
  const now = raster(x0 + step);
  const mask = depthWarpMask(now, before);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const uncovered = y >= 10 && y < 10 + size && x >= x0 && x < x0 + step;
      assert.equal(mask[y * W + x], uncovered ? 0 : 1, `mask at ${x},${y}`);
    }
  }
  const paint = (sx: number) => (x: number, y: number): [number, number, number] =>
    x >= sx && x < sx + size && y >= 10 && y < 10 + size ? [1, 0, 0] : [0, 0, 0.2 + 0.01 * x];
  const pair = warpPairError(frame(0, 0, paint(x0 + step)), frame(0, 0, paint(x0)), now, undefined, mask);
  assert.ok(pair.error < 1e-12, `with the depth mask: ${pair.error}`);
  assert.equal(pair.valid, (W * H - size * step) / (W * H));

  // Within the tolerance (3 % in 1/z) the surface is the same; beyond it, an occluder; a source
  // half-way between two pixels reads both, and 1/z there is their mean (a silhouette: no match);
  // background (z = 0) matches only background.
  const one = (values: number[], prev: number[]): Uint8Array => depthWarpMask({ width: 2, height: 1, data: Float32Array.from(values) }, { width: 2, height: 1, data: Float32Array.from(prev) });
  assert.deepEqual([...one([0, 0, 5.1, 5, 0, 0, 5, 5], [0, 0, 5, 5, 0, 0, 5, 5])], [1, 1]);
  assert.deepEqual([...one([0, 0, 5.2, 5, 0, 0, 5, 5], [0, 0, 5, 5, 0, 0, 5, 5])], [0, 1]);
  assert.deepEqual([...one([0.5, 0, 5, 5, 0, 0, 5, 5], [0, 0, 5, 5, 0, 0, 2, 2])], [0, 0]);
  assert.deepEqual([...one([0, 0, 0, 0, 0, 0, 5, 5], [0, 0, 0, 0, 0, 0, 5, 5])], [1, 1]);
  assert.deepEqual([...one([0, 0, 0, 0, 0, 0, 5, 5], [0, 0, 5, 5, 0, 0, 5, 5])], [0, 1], 'background where a surface was');
  // A floor seen at a grazing angle: 1/z affine across the pixels, depth 4 then 8 (100 % apart);
  // the point half-way, at 1/z = (1/4 + 1/8) / 2, is the same surface.
  assert.deepEqual([...one([0.5, 0, 16 / 3, 16 / 3, 0, 0, 8, 8], [0, 0, 4, 4, 0, 0, 8, 8])], [1, 1], 'a sloped surface');
  assert.deepEqual([...one([0, 0, 0, 5, 0, 0, 5, 5], [0, 0, 5, 5, 0, 0, 5, 5])], [0, 1], 'behind the previous camera (z_prev 0)');
});

test('motion.bin: round trip, and every damaged file named in one line', () => {
  const m = uniformMotion(1.25, -0.5);
  const bytes = encodeMotion(m);
  assert.equal(bytes.length, 16 + W * H * 16);
  assert.deepEqual(decodeMotion(bytes, 'm.bin', { width: W, height: H }), m);
  const cases: Array<[Uint8Array, RegExp, { width: number; height: number }?]> = [
    [bytes.subarray(0, 10), /^m\.bin: truncated: 10 bytes, a motion file's header alone is 16$/],
    [bytes.subarray(0, bytes.length - 4), /^m\.bin: truncated: \d+ bytes, but a 40×30 motion field takes 19216$/],
    [Uint8Array.from([...bytes, 0]), /^m\.bin: trailing bytes: 19217 bytes/],
    [Uint8Array.from([0x89, 0x50, 0x4e, 0x47, ...bytes.subarray(4)]), /^m\.bin: not a cnn-v3 motion file/],
    [bytes, /^m\.bin: is 40×30 but its sample is 41×30$/, { width: 41, height: 30 }],
  ];
  const nan = bytes.slice();
  new DataView(nan.buffer).setFloat32(16 + 8, NaN, true);
  cases.push([nan, /^m\.bin: non-finite motion at pixel 0/]);
  for (const [b, re, expect] of cases) assert.throws(() => decodeMotion(b, 'm.bin', expect), (e: Error) => re.test(e.message), String(re));
});
