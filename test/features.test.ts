import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeFeatures, CH, NUM_FEATURES, channelStats } from '../src/dataset/features.js';
import { loadSample, type SampleSource } from '../src/dataset/sample.js';
import type { SampleFileName, SampleFiles } from '../src/dataset/layout.js';
import { sampleFiles } from './sample-fixtures.js';

function memorySource(files: Partial<SampleFiles>, name = 'mem'): SampleSource {
  return { name, label: (f: SampleFileName) => `${name}/${f}`, read: async (f: SampleFileName) => files[f] };
}

const W = 5;
const H = 3;
// Albedo red channel, row by row; green and blue 0.
const RED = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140];
const DEPTH = [0, 1000, 3000, 6000, 10000, 65535, 0, 0, 0, 0, 0, 0, 0, 0, 0];

function tinyFeatures() {
  const albedo = new Uint8Array(W * H * 3);
  RED.forEach((r, p) => (albedo[p * 3] = r));
  const normal = new Uint8Array(W * H * 3);
  normal.set([0, 255, 0], 0); // pixel (0,0): oct xy (-1, 1)
  normal.set([128, 128, 0], 3);
  return sampleFiles({
    width: W,
    height: H,
    albedo,
    normal,
    depth: Uint16Array.from(DEPTH),
    matid: new Uint8Array(W * H).fill(51),
    transp: Uint8Array.from({ length: W * H }, (_, p) => (p === 14 ? 255 : 0)),
  });
}

const at = (f: Float32Array, x: number, y: number, c: number) => f[(y * W + x) * NUM_FEATURES + c]!;
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-6, `${what}: ${a} vs ${b}`);

test('20 channels on a hand-computed 5×3 image (odd size, partial mip blocks, clamped gradients)', async () => {
  const s = await loadSample(memorySource(tinyFeatures()));
  const f = computeFeatures(s);
  assert.equal(f.length, W * H * NUM_FEATURES);
  close(at(f, 1, 0, CH.albedo), 10 / 255, 'albedo.r (1,0)');
  close(at(f, 0, 0, CH.normal), -1, 'normal.x (0,0)');
  close(at(f, 0, 0, CH.normal + 1), 1, 'normal.y (0,0)');
  close(at(f, 1, 0, CH.normal), 128 / 255 * 2 - 1, 'normal.x neutral');
  close(at(f, 4, 0, CH.depth), 10000 / 65535, 'depth');
  // depth_grad.x: clamped at x=0, central inside, clamped at x=4.
  close(at(f, 0, 0, CH.depthGrad), 1000 / 65535 / 2, 'grad.x (0,0)');
  close(at(f, 2, 0, CH.depthGrad), 5000 / 65535 / 2, 'grad.x (2,0)');
  close(at(f, 4, 0, CH.depthGrad), 4000 / 65535 / 2, 'grad.x (4,0)');
  close(at(f, 0, 0, CH.depthGrad + 1), 0.5, 'grad.y (0,0)');
  close(at(f, 0, 1, CH.depthGrad + 1), 0, 'grad.y (0,1)');
  close(at(f, 0, 2, CH.depthGrad + 1), -0.5, 'grad.y (0,2)');
  close(at(f, 3, 1, CH.matId), 0.2, 'mat_id');
  for (let c = 0; c < 3; c++) close(at(f, 2, 1, CH.prev + c), 0, 'prev');
  // mip1: 2×2 tiles; (4,0) sits in a tile cut by the right edge, (4,2) in a 1×1 corner tile.
  close(at(f, 0, 0, CH.mip1), 30 / 255, 'mip1 (0,0)');
  close(at(f, 1, 1, CH.mip1), 30 / 255, 'mip1 (1,1)');
  close(at(f, 4, 0, CH.mip1), 65 / 255, 'mip1 (4,0)');
  close(at(f, 2, 2, CH.mip1), 125 / 255, 'mip1 (2,2)');
  close(at(f, 4, 2, CH.mip1), 140 / 255, 'mip1 (4,2)');
  // mip2: 4×4 tiles: x 0..3 (12 pixels) and x 4 (3 pixels).
  close(at(f, 0, 0, CH.mip2), 65 / 255, 'mip2 (0,0)');
  close(at(f, 3, 2, CH.mip2), 65 / 255, 'mip2 (3,2)');
  close(at(f, 4, 1, CH.mip2), 90 / 255, 'mip2 (4,1)');
  close(at(f, 4, 1, CH.mip2 + 1), 0, 'mip2.g');
  close(at(f, 0, 0, CH.shadow), 1, 'shadow');
  close(at(f, 4, 2, CH.transp), 1, 'transp (4,2)');
  close(at(f, 3, 2, CH.transp), 0, 'transp (3,2)');
  assert.equal(s.kind, 'full', 'non-neutral normals and depth make a G-buffer sample');
});

test('1×1 image: every neighbour clamps to the pixel itself', async () => {
  const s = await loadSample(
    memorySource(sampleFiles({ width: 1, height: 1, albedo: Uint8Array.from([255, 51, 0]), depth: Uint16Array.from([999]) })),
  );
  const f = computeFeatures(s);
  assert.deepEqual(Array.from(f.subarray(CH.mip2, CH.mip2 + 3)), [1, Math.fround(0.2), 0]);
  assert.equal(f[CH.depthGrad], 0);
  assert.equal(f[CH.depthGrad + 1], 0);
});

test('prev.rgb comes from the previous frame when given', async () => {
  const s = await loadSample(memorySource(sampleFiles({ width: 2, height: 1 })));
  const f = computeFeatures(s, Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]));
  assert.deepEqual(Array.from(f.subarray(NUM_FEATURES + CH.prev, NUM_FEATURES + CH.prev + 3)), [0.4, 0.5, 0.6].map(Math.fround));
});

test('a photo sample is simple; the target is resized to the albedo (Lanczos-3)', async () => {
  const target = { width: 10, height: 6, data: new Uint8Array(10 * 6 * 4).fill(90) };
  const s = await loadSample(memorySource(sampleFiles({ width: W, height: H, target })));
  assert.equal(s.kind, 'simple');
  assert.equal(s.target.length, W * H * 4);
  assert.ok(s.target.every((v) => v === 90));
  assert.equal(s.targetWidth, 10);
  const stats = channelStats(computeFeatures(s));
  assert.equal(stats[CH.shadow]!.min, 1);
  assert.equal(stats[CH.albedo]!.mean, Math.fround(100 / 255));
});

test('a sample with a missing, wrong-size or wrong-kind PNG is refused by file', async () => {
  const files = tinyFeatures();
  const { 'depth.png': _depth, ...noDepth } = files;
  await assert.rejects(loadSample(memorySource(noDepth, 's')), /^CnnV3Error: s\/depth\.png: missing$/);
  const small = sampleFiles({ width: 4, height: 3 });
  await assert.rejects(
    loadSample(memorySource({ ...files, 'shadow.png': small['shadow.png'] }, 's')),
    /^CnnV3Error: s\/shadow\.png: size 4×3 does not match albedo\.png \(5×3\)$/,
  );
  await assert.rejects(
    loadSample(memorySource({ ...files, 'depth.png': files['matid.png'] }, 's')),
    /s\/depth\.png: expected 16-bit gray, got 8-bit gray/,
  );
  await assert.rejects(
    loadSample(memorySource({ ...files, 'matid.png': files['albedo.png'] }, 's')),
    /s\/matid\.png: expected a gray image, got 8-bit RGB/,
  );
  await assert.rejects(
    loadSample(memorySource({ ...files, 'target.png': new Uint8Array([1, 2, 3]) }, 's')),
    /s\/target\.png: not a PNG or JPEG image/,
  );
});
