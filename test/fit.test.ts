// --fit stretch|contain|cover (issue #22 item 5): the geometry (image/fit.ts), its use on a real
// non-square photo (examples/photos/cat.png, 320×213), in training (--full-image) and in the demo.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { nodeAssets } from '../src/demo/assets-node.js';
import { coverResize, fitImage } from '../src/demo/effects.js';
import { DemoEngine } from '../src/demo/engine.js';
import { parseSeq } from '../src/demo/seq.js';
import { CH, NUM_FEATURES } from '../src/dataset/features.js';
import { unpackFeatures } from '../src/dataset/gpu-pack.js';
import { loadSampleDir } from '../src/dataset/sample-node.js';
import { readRgba32u } from '../src/gpu/readback.js';
import { decodeImage } from '../src/image/decode.js';
import { aspectDiffers, FIT_MODES, fitRects, fitResize, type FitMode } from '../src/image/fit.js';
import { toRgba8 } from '../src/image/image.js';
import { resizeLanczos3, resizeNearest } from '../src/image/resize.js';
import { prepareImage, resizeSample } from '../src/train/data.js';
import { roundToHalf } from '../src/util/half.js';
import { destroyGpuContextAfter, testGpuContext } from './gpu-helpers.js';
import { REPO, runCli, tempDir } from './helpers.js';

const PHOTO = join(REPO, 'examples/photos/cat.png');
const SQUARE = join(REPO, 'examples/photos/astronaut.png');

destroyGpuContextAfter();

/** cat.png as RGBA8 (320×213). */
function cat(): { width: number; height: number; data: Uint8Array } {
  const r = decodeImage(readFileSync(PHOTO), PHOTO);
  assert.deepEqual([r.width, r.height], [320, 213], 'the fixture is the non-square photo these tests expect');
  return { width: r.width, height: r.height, data: toRgba8(r) };
}

/** Rows y0..y1 (exclusive), columns x0..x1 of an interleaved image. */
function region(data: Uint8Array, width: number, channels: number, x0: number, x1: number, y0: number, y1: number): number[] {
  const out: number[] = [];
  for (let y = y0; y < y1; y++) out.push(...data.subarray((y * width + x0) * channels, (y * width + x1) * channels));
  return out;
}

const filled = (n: number, px: number[]): number[] => Array.from({ length: n }, () => px).flat();

test('fitRects: stretch, contain (letterbox and pillarbox) and cover (centre crop), exactly', () => {
  const r = (x: number, y: number, width: number, height: number) => ({ x, y, width, height });
  // A landscape photo into a square: bars above and below / columns cut at the sides.
  assert.deepEqual(fitRects(320, 213, 100, 100, 'stretch'), { src: r(0, 0, 320, 213), dst: r(0, 0, 100, 100) });
  assert.deepEqual(fitRects(320, 213, 100, 100, 'contain'), { src: r(0, 0, 320, 213), dst: r(0, 16, 100, 67) });
  assert.deepEqual(fitRects(320, 213, 100, 100, 'cover'), { src: r(53, 0, 213, 213), dst: r(0, 0, 100, 100) });
  // Portrait: bars at the sides / rows cut above and below.
  assert.deepEqual(fitRects(213, 320, 100, 100, 'contain'), { src: r(0, 0, 213, 320), dst: r(16, 0, 67, 100) });
  assert.deepEqual(fitRects(213, 320, 100, 100, 'cover'), { src: r(0, 53, 213, 213), dst: r(0, 0, 100, 100) });
  // The demo's default frame (320×180) from the photo: a 16-row band cut off the top.
  assert.deepEqual(fitRects(320, 213, 320, 180, 'cover'), { src: r(0, 16, 320, 180), dst: r(0, 0, 320, 180) });
  // Same aspect: every mode is the plain resize.
  for (const mode of FIT_MODES) assert.deepEqual(fitRects(640, 360, 320, 180, mode), { src: r(0, 0, 640, 360), dst: r(0, 0, 320, 180) }, mode);
  // Extremes keep at least one pixel.
  assert.deepEqual(fitRects(1000, 1, 10, 10, 'contain'), { src: r(0, 0, 1000, 1), dst: r(0, 4, 10, 1) });
  assert.deepEqual(fitRects(1000, 1, 10, 10, 'cover'), { src: r(499, 0, 1, 1), dst: r(0, 0, 10, 10) });
  assert.throws(() => fitRects(0, 10, 10, 10, 'cover'), RangeError);
  assert.throws(() => fitRects(10, 10, 2.5, 10, 'contain'), RangeError);
  assert.throws(() => fitRects(10, 10, 10, 10, 'fill' as FitMode), RangeError);
});

test('fitRects on many sizes: rects inside their images, centred, with the right aspect', () => {
  let seed = 12345;
  const rand = (n: number) => 1 + ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
  for (let i = 0; i < 2000; i++) {
    const [sw, sh, dw, dh] = [rand(700), rand(700), rand(300), rand(300)];
    const frameWider = dw * sh >= dh * sw;
    const near = (got: number, ideal: number) => got === 1 || Math.abs(got - ideal) <= 0.5 + 1e-9;
    const c = fitRects(sw, sh, dw, dh, 'contain');
    assert.ok(c.dst.x >= 0 && c.dst.y >= 0 && c.dst.x + c.dst.width <= dw && c.dst.y + c.dst.height <= dh);
    assert.ok(Math.abs(2 * c.dst.x + c.dst.width - dw) <= 1 && Math.abs(2 * c.dst.y + c.dst.height - dh) <= 1, 'centred');
    // One side fills the frame; the other is the source's aspect, rounded to the nearest pixel.
    if (frameWider) assert.ok(c.dst.height === dh && near(c.dst.width, (sw * dh) / sh), `contain ${sw}×${sh} → ${dw}×${dh}`);
    else assert.ok(c.dst.width === dw && near(c.dst.height, (sh * dw) / sw), `contain ${sw}×${sh} → ${dw}×${dh}`);
    const v = fitRects(sw, sh, dw, dh, 'cover');
    assert.deepEqual(v.dst, { x: 0, y: 0, width: dw, height: dh });
    assert.ok(v.src.x >= 0 && v.src.y >= 0 && v.src.x + v.src.width <= sw && v.src.y + v.src.height <= sh);
    assert.ok(Math.abs(2 * v.src.x + v.src.width - sw) <= 1 && Math.abs(2 * v.src.y + v.src.height - sh) <= 1, 'centred');
    // One whole side of the source; the other cut to the frame's aspect.
    if (frameWider) assert.ok(v.src.width === sw && near(v.src.height, (sw * dh) / dw), `cover ${sw}×${sh} → ${dw}×${dh}`);
    else assert.ok(v.src.height === sh && near(v.src.width, (sh * dw) / dh), `cover ${sw}×${sh} → ${dw}×${dh}`);
  }
});

test('aspectDiffers: more than 1 %', () => {
  assert.ok(aspectDiffers(320, 213, 256, 256));
  assert.ok(aspectDiffers(256, 256, 320, 213), 'symmetric');
  assert.ok(!aspectDiffers(1920, 1080, 1280, 720));
  assert.ok(!aspectDiffers(1005, 1000, 100, 100), '0.5 %');
  assert.ok(aspectDiffers(1015, 1000, 100, 100), '1.5 %');
});

test('fitResize on a real non-square photo: unscaled contain and cover are exact crops and bars', () => {
  const { width, height, data } = cat();
  // contain into 320×320: the photo's rows 53..265 untouched, opaque black bars above and below.
  const c = fitResize(data, width, height, 4, 320, 320, 'contain', resizeLanczos3, [0, 0, 0, 255]);
  assert.deepEqual(region(c, 320, 4, 0, 320, 53, 266), Array.from(data));
  assert.deepEqual(region(c, 320, 4, 0, 320, 0, 53), filled(320 * 53, [0, 0, 0, 255]), 'top bar');
  assert.deepEqual(region(c, 320, 4, 0, 320, 266, 320), filled(320 * 54, [0, 0, 0, 255]), 'bottom bar');
  // cover into 213×213: exactly the photo's middle columns 53..265.
  const v = fitResize(data, width, height, 4, 213, 213, 'cover', resizeLanczos3, [0, 0, 0, 255]);
  assert.deepEqual(Array.from(v), region(data, width, 4, 53, 266, 0, 213));
});

test('fitResize on a real non-square photo, scaled: stretch, contain and cover', () => {
  const { width, height, data } = cat();
  const pad = [0, 0, 0, 255];
  const S = 96;
  assert.deepEqual(fitResize(data, width, height, 4, S, S, 'stretch', resizeLanczos3, pad), resizeLanczos3(data, width, height, 4, S, S));
  // contain: 96×64 of picture (213·96/320 = 63.9) from row 16; black rows 0..15 and 80..95.
  const c = fitResize(data, width, height, 4, S, S, 'contain', resizeLanczos3, pad);
  assert.deepEqual(region(c, S, 4, 0, S, 0, 16), filled(S * 16, pad), 'top bar');
  assert.deepEqual(region(c, S, 4, 0, S, 80, S), filled(S * 16, pad), 'bottom bar');
  assert.deepEqual(region(c, S, 4, 0, S, 16, 80), Array.from(resizeLanczos3(data, width, height, 4, S, 64)), 'the whole photo, its aspect kept');
  // cover: the centre 213×213 square scaled down; its middle matches the photo's middle.
  const v = fitResize(data, width, height, 4, S, S, 'cover', resizeLanczos3, pad);
  assert.deepEqual(Array.from(v), Array.from(resizeLanczos3(new Uint8Array(region(data, width, 4, 53, 266, 0, 213)), 213, 213, 4, S, S)));
  const mean = (img: Uint8Array, w: number, cx: number, cy: number, r: number) => {
    const px = region(img, w, 4, cx - r, cx + r, cy - r, cy + r);
    return [0, 1, 2].map((ch) => px.filter((_, i) => i % 4 === ch).reduce((a, b) => a + b, 0) / (px.length / 4));
  };
  // 12×12 output pixels around the centre cover the photo's 27×27 around (160, 106).
  const got = mean(v, S, S / 2, S / 2, 6);
  const want = mean(data, width, 160, 106, 13);
  assert.ok(got.every((g, i) => Math.abs(g - want[i]!) < 6), `centre ${got.map((x) => x.toFixed(1))} vs photo centre ${want.map((x) => x.toFixed(1))}`);
  // The old coverResize is the cover mode.
  assert.deepEqual(coverResize({ width, height, channels: 4, depth: 8, data }, S, 40).data, fitImage({ width, height, channels: 4, depth: 8, data }, S, 40, 'cover').data);
  // 16-bit planes keep their type and their pad value.
  const depth = new Uint16Array(width * height).fill(40000);
  const d = fitResize(depth, width, height, 1, 10, 10, 'contain', resizeNearest, [0]);
  assert.ok(d instanceof Uint16Array);
  // 10×7 of picture (213·10/320 = 6.7) from row 1.
  assert.deepEqual(Array.from(d), [...new Array(10).fill(0), ...new Array(70).fill(40000), ...new Array(20).fill(0)]);
});

async function packCat(t: TestContext, photo = PHOTO): Promise<{ data: string; dir: string }> {
  const data = tempDir(t);
  const dir = join(data, 'simple', 'sample_cat');
  const r = await runCli(['pack-photo', '--photo', photo, '--output', dir]);
  assert.equal(r.code, 0, r.err);
  return { data, dir };
}

test('--full-image --fit: the training image is stretched, letterboxed or centre-cropped', async (t) => {
  const { dir } = await packCat(t);
  const sample = await loadSampleDir(dir);
  const S = 48;
  const opts = { fullImage: true, imageSize: S, patchSize: 8, patchesPerImage: 1, detector: 'random' as const, seed: 1 };
  // contain: 48×32 of picture from row 8 (213·48/320 = 31.95); the bars are an opaque black photo.
  const c = resizeSample(sample, S, 'contain');
  assert.deepEqual(region(c.albedo, S, 3, 0, S, 0, 8), filled(S * 8, [0, 0, 0]));
  assert.deepEqual(region(c.albedo, S, 3, 0, S, 40, S), filled(S * 8, [0, 0, 0]));
  assert.deepEqual(region(c.target, S, 4, 0, S, 0, 8), filled(S * 8, [0, 0, 0, 255]));
  assert.deepEqual(region(c.transp, S, 1, 0, S, 0, 8), filled(S * 8, [0]));
  assert.deepEqual(region(c.shadow, S, 1, 0, S, 0, 8), filled(S * 8, [255]));
  assert.deepEqual(region(c.normal, S, 2, 0, S, 0, 8), filled(S * 8, [128, 128]));
  assert.deepEqual(region(c.albedo, S, 3, 0, S, 8, 40), Array.from(resizeLanczos3(sample.albedo, 320, 213, 3, S, 32)));
  // Through prepareImage: the features the network trains on have black albedo in the bars.
  const img = prepareImage(sample, { ...opts, fit: 'contain' }, 0);
  assert.deepEqual([img.width, img.height], [S, S]);
  for (let p = 0; p < S * 8; p++) for (let ch = 0; ch < 3; ch++) assert.equal(img.features[p * NUM_FEATURES + CH.albedo + ch], 0);
  assert.equal(img.target[3], 1, 'bar target alpha 1');
  // cover: the centre 213×213 of the photo.
  const v = resizeSample(sample, S, 'cover');
  assert.deepEqual(Array.from(v.albedo), Array.from(resizeLanczos3(new Uint8Array(region(sample.albedo, 320, 3, 53, 266, 0, 213)), 213, 213, 3, S, S)));
  // stretch, the default: what it always was.
  assert.deepEqual(Array.from(resizeSample(sample, S).albedo), Array.from(resizeLanczos3(sample.albedo, 320, 213, 3, S, S)));
  assert.deepEqual(Array.from(prepareImage(sample, opts, 0).features), Array.from(prepareImage(sample, { ...opts, fit: 'stretch' }, 0).features));
});

test('cnnv3 train --full-image: a warning when stretching changes the aspect; --fit contain/cover train on other images; bad values', async (t) => {
  const { data, dir } = await packCat(t);
  const train = (...extra: string[]) =>
    runCli(['train', '--input', data, '--full-image', '--image-size', '16', '--epochs', '1', '--batch-size', '1', '--device', 'cpu', '--threads', '1', '--seed', '1', '--checkpoint-dir', join(tempDir(t), 'ck'), ...extra]);
  const loss = (out: string) => /Epoch 1\/1 +loss ([\d.]+)/.exec(out)?.[1];
  const stretch = await train();
  assert.equal(stretch.code, 0, stretch.err);
  const warnings = stretch.err.split('\n').filter((l) => l.includes('warning'));
  assert.equal(warnings.length, 1, stretch.err);
  assert.equal(
    warnings[0],
    `warning: --full-image stretches ${dir} (320×213, aspect 1.502) to 16×16 (aspect 1.000); --fit contain (letterbox) or --fit cover (centre crop) keeps the shape`,
  );
  const explicit = await train('--fit', 'stretch');
  assert.equal(explicit.code, 0, explicit.err);
  assert.match(explicit.err, /stretches/, 'an explicit --fit stretch still says what it does');
  assert.equal(loss(explicit.out), loss(stretch.out), 'stretch is the default');
  const losses = new Set([loss(stretch.out)]);
  for (const fit of ['contain', 'cover']) {
    const r = await train('--fit', fit);
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.err, /warning/, fit);
    losses.add(loss(r.out));
  }
  assert.equal(losses.size, 3, `three fits, three different training images: losses ${[...losses].join(', ')}`);

  // A square photo stretched to a square: nothing to say.
  const square = await packCat(t, SQUARE);
  const sq = await runCli(['train', '--input', square.data, '--full-image', '--image-size', '16', '--epochs', '1', '--device', 'cpu', '--threads', '1', '--seed', '1', '--checkpoint-dir', join(tempDir(t), 'ck')]);
  assert.equal(sq.code, 0, sq.err);
  assert.doesNotMatch(sq.err, /warning/);

  const bad = await train('--fit', 'strech');
  assert.equal(bad.code, 2);
  assert.equal(bad.err, 'cnnv3 train: --fit must be one of stretch, contain, cover, got "strech" (did you mean stretch?)\n');
  const far = await train('--fit', 'zoom');
  assert.equal(far.err, 'cnnv3 train: --fit must be one of stretch, contain, cover, got "zoom"\n');
  const noFull = await runCli(['train', '--input', data, '--fit', 'cover']);
  assert.equal(noFull.code, 2);
  assert.equal(noFull.err, 'cnnv3 train: --fit needs --full-image (patches are cut from each image at its own size)\n');
  // The other choice flags got the same suggestion.
  assert.match((await runCli(['train', '--input', data, '--detector', 'haris'])).err, /--detector must be one of harris, shi-tomasi, random, got "haris" \(did you mean harris\?\)\n$/);
});

/** A .seq showing the photo through the network, beside a copy of the photo. */
function photoSeq(t: TestContext): string {
  const dir = tempDir(t);
  copyFileSync(PHOTO, join(dir, 'cat.png'));
  const path = join(dir, 'photo.seq');
  writeFileSync(path, 'SEQUENCE 0 0 "photo"\nEFFECT + ImageFeaturesEffect -> f0 f1 0 1 image=cat.png\nEFFECT + CNNv3Effect f0 f1 -> sink 0 1\n');
  return path;
}

test('demo --fit: the packed photo on the GPU is covered (default), letterboxed or stretched', async (t) => {
  const ctx = await testGpuContext(t);
  if (!ctx) return;
  const path = photoSeq(t);
  const [W, H] = [48, 16];
  const photo = decodeImage(readFileSync(PHOTO), PHOTO);
  const packed = async (fit: FitMode | undefined): Promise<Float32Array> => {
    const engine = await DemoEngine.load(ctx, parseSeq(readFileSync(path, 'utf8'), path), nodeAssets(path, 10), { width: W, height: H, fps: 10, ...(fit ? { fit } : {}) });
    try {
      engine.renderFrame(0, 0.1);
      const feat = async (n: string) => readRgba32u(ctx.device, engine.nodes.get(n)!);
      return unpackFeatures({ width: W, height: H, feat0: await feat('f0'), feat1: await feat('f1') });
    } finally {
      engine.destroy();
    }
  };
  const albedoMatches = (f: Float32Array, fit: FitMode) => {
    const want = fitImage(photo, W, H, fit).data;
    let worst = 0;
    for (let p = 0; p < W * H; p++) for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(f[p * NUM_FEATURES + CH.albedo + c]! - roundToHalf(want[p * 4 + c]! / 255)));
    assert.ok(worst <= 1e-3, `${fit}: packed albedo within an f16 step of fitImage's (worst ${worst})`);
  };
  const cover = await packed(undefined);
  albedoMatches(cover, 'cover');
  assert.deepEqual(Array.from(await packed('cover')), Array.from(cover), 'cover is the default');
  albedoMatches(await packed('stretch'), 'stretch');
  // contain in a 3:1 frame: the photo is 24 columns wide from column 12; black, opaque, lit bars.
  const contain = await packed('contain');
  albedoMatches(contain, 'contain');
  for (let y = 0; y < H; y++) {
    for (const x of [0, 5, 11, 36, 42, 47]) {
      const o = (y * W + x) * NUM_FEATURES;
      assert.deepEqual([contain[o + CH.albedo], contain[o + CH.albedo + 1], contain[o + CH.albedo + 2], contain[o + CH.transp], contain[o + CH.shadow]], [0, 0, 0, 0, 1], `bar at (${x}, ${y})`);
    }
  }
  const o = (8 * W + 24) * NUM_FEATURES;
  assert.ok(contain[o + CH.albedo]! + contain[o + CH.albedo + 1]! + contain[o + CH.albedo + 2]! > 0.05, 'the picture in the middle');
});

test('cnnv3 demo --fit: renders letterboxed; a bad value is one line', async (t) => {
  const ctx = await testGpuContext(t);
  if (!ctx) return;
  const path = photoSeq(t);
  const bad = await runCli(['demo', path, '--out', join(tempDir(t), 'x'), '--fit', 'contian']);
  assert.equal(bad.code, 2);
  assert.equal(bad.err, 'cnnv3 demo: --fit must be one of stretch, contain, cover, got "contian" (did you mean contain?)\n');
  const frames: Record<string, Buffer> = {};
  for (const fit of ['cover', 'contain']) {
    const out = join(tempDir(t), 'render');
    const r = await runCli(['demo', path, '--out', out, '--width', '48', '--height', '16', '--fps', '10', '--to', '0.1', '--fit', fit]);
    assert.equal(r.code, 0, r.err);
    frames[fit] = readFileSync(join(out, 'frame_00000.png'));
  }
  assert.notDeepEqual(frames['contain'], frames['cover'], 'the letterboxed render differs from the covered one');
});
