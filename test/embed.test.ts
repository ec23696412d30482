// The embedding API: `new CNNv3Effect(device, { weights, film })` on the caller's device,
// `render(encoder, { input, output, cond })` over the caller's textures, `destroy()`. Each input
// kind must give the picture the render graph's path gives for the same planes, bit for bit
// (that path is what `cnnv3 parity` checks against the reference), and every misuse one message.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CNNv3Effect, type CnnRenderArgs } from '../src/effect/cnn-effect.js';
import { CnnNodeEffect, CNN_OUTPUT_NODE } from '../src/effect/cnn-node-effect.js';
import { FeaturePass, completePlanes, planesFromPhoto, type FeaturePlanes } from '../src/effect/feature-pass.js';
import { TextureNodes } from '../src/effect/nodes.js';
import { readRgba16f } from '../src/gpu/readback.js';
import type { Raster } from '../src/image/image.js';
import { makeModelConfig, type ModelConfig } from '../src/model/config.js';
import { toHalfBits } from '../src/util/half.js';
import { Rng } from '../src/util/rng.js';
import { randomPlanes, randomWeights } from '../src/verify/random-input.js';
import { destroyGpuContextAfter, testGpuContext } from './gpu-helpers.js';

destroyGpuContextAfter();

const COND = [0.2, 0.8, 0.4, 0.6, 0.1];
const SMALL: ModelConfig = makeModelConfig([4, 8], 5);
const WIDE: ModelConfig = makeModelConfig([8, 12], 5, 'residual');

function randomPhoto(w: number, h: number, seed: number): Raster {
  const rng = new Rng(seed);
  const data = new Uint8Array(w * h * 4);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(rng.next() * 256);
  return { width: w, height: h, channels: 4, depth: 8, data };
}

/** The render graph's path (FeaturePass.upload + CnnNodeEffect): the pictures `infer` and `parity` make. */
async function graphOutput(device: GPUDevice, planes: FeaturePlanes, weights: Uint8Array, film: Uint8Array): Promise<Float32Array> {
  const nodes = new TextureNodes(device);
  const features = new FeaturePass(device);
  const cnn = new CnnNodeEffect(device, { weights, film });
  try {
    features.upload(planes, nodes);
    cnn.effect.setFilmParams(COND);
    const encoder = device.createCommandEncoder({ label: 'test graph path' });
    features.encode(encoder, nodes);
    cnn.render(encoder, {}, nodes);
    device.queue.submit([encoder.finish()]);
    return await readRgba16f(device, nodes.get(CNN_OUTPUT_NODE)!);
  } finally {
    cnn.destroy();
    nodes.destroy();
  }
}

function texture(device: GPUDevice, label: string, format: GPUTextureFormat, w: number, h: number, data: ArrayBufferView<ArrayBuffer>, bpp: number): GPUTexture {
  const t = device.createTexture({ label, format, size: { width: w, height: h }, usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST });
  device.queue.writeTexture({ texture: t }, data, { bytesPerRow: w * bpp, rowsPerImage: h }, { width: w, height: h });
  return t;
}

/**
 * The planes as the G-buffer textures a deferred renderer would hand over: rgba8unorm MRT
 * targets (exact bytes) or rgba16float ones (each byte / 255 rounded to a half), r32float depth.
 */
function gbufferTextures(device: GPUDevice, p: Required<FeaturePlanes>, format: 'rgba8unorm' | 'rgba16float'): { albedoMatid: GPUTexture; normalShadowTransp: GPUTexture; depth: GPUTexture } {
  const n = p.width * p.height;
  const am = new Uint8Array(n * 4);
  const nst = new Uint8Array(n * 4);
  const depth = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    am.set([p.albedo[i * 3]!, p.albedo[i * 3 + 1]!, p.albedo[i * 3 + 2]!, p.matid[i]!], i * 4);
    nst.set([p.normal[i * 2]!, p.normal[i * 2 + 1]!, p.shadow[i]!, p.transp[i]!], i * 4);
    depth[i] = p.depth[i]! / 65535;
  }
  const colour = (label: string, bytes: Uint8Array<ArrayBuffer>) =>
    format === 'rgba8unorm' ? texture(device, label, format, p.width, p.height, bytes, 4) : texture(device, label, format, p.width, p.height, Uint16Array.from(bytes, (b) => toHalfBits(b / 255)), 8);
  return {
    albedoMatid: colour('test albedo_matid', am),
    normalShadowTransp: colour('test normal_shadow_transp', nst),
    depth: texture(device, 'test depth', 'r32float', p.width, p.height, depth, 4),
  };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function assertSame(got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: size`);
  let diff = 0;
  for (let i = 0; i < got.length; i++) if (got[i] !== want[i]) diff++;
  assert.equal(diff, 0, `${what}: ${diff} of ${got.length} values differ from the render graph's output`);
}

for (const [name, config] of [['playbook model (fast path)', SMALL], ['wide residual model (general path)', WIDE]] as const) {
  test(`a photo texture in simple mode gives the render graph's picture: ${name}, odd size`, async (t) => {
    const ctx = await testGpuContext(t);
    if (!ctx) return;
    const { device } = ctx;
    const [W, H] = [37, 21];
    const photo = randomPhoto(W, H, 3);
    const { weights, film } = randomWeights(config, 5);
    const want = await graphOutput(device, planesFromPhoto(photo), weights, film);
    const fx = new CNNv3Effect(device, { weights: weights.slice().buffer, film: film.slice().buffer });
    const rgba8 = texture(device, 'test photo rgba8', 'rgba8unorm', W, H, photo.data as Uint8Array<ArrayBuffer>, 4);
    const halves = Uint16Array.from(photo.data, (b) => toHalfBits(b / 255));
    const rgba16 = texture(device, 'test photo rgba16f', 'rgba16float', W, H, halves, 8);
    try {
      assert.deepEqual(fx.config.encChannels, config.encChannels, 'the model config comes from the weights file');
      for (const input of [rgba8, rgba16]) {
        const encoder = device.createCommandEncoder({ label: 'test embed photo' });
        const out = fx.render(encoder, { input, cond: COND });
        device.queue.submit([encoder.finish()]);
        assert.deepEqual([out.width, out.height, out.format], [W, H, 'rgba16float']);
        assertSame(await readRgba16f(device, out), want, `${input.format} photo`);
      }
    } finally {
      fx.destroy();
      rgba8.destroy();
      rgba16.destroy();
    }
  });
}

test('a G-buffer in full mode, written into the caller\'s output texture, and the condition moves the picture', async (t) => {
  const ctx = await testGpuContext(t);
  if (!ctx) return;
  const { device } = ctx;
  const [W, H] = [32, 18];
  const planes = completePlanes(randomPlanes(W, H, 7));
  const { weights, film } = randomWeights(SMALL, 9);
  const want = await graphOutput(device, planes, weights, film);
  const fx = new CNNv3Effect(device, { weights, film });
  const g = gbufferTextures(device, planes, 'rgba8unorm');
  const g16 = gbufferTextures(device, planes, 'rgba16float');
  const output = device.createTexture({ label: 'test caller output', format: 'rgba16float', size: { width: W, height: H }, usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_SRC });
  try {
    let encoder = device.createCommandEncoder({ label: 'test embed gbuffer' });
    const written = fx.render(encoder, { input: { gbuffer: g }, output, cond: COND });
    device.queue.submit([encoder.finish()]);
    assert.equal(written, output, 'render returns the caller\'s texture');
    assertSame(await readRgba16f(device, output), want, 'G-buffer input');

    // Half-float targets hold k / 255 to within 1/4096, so the picture moves by about as much.
    encoder = device.createCommandEncoder({ label: 'test embed gbuffer f16' });
    fx.render(encoder, { input: { gbuffer: g16 }, output });
    device.queue.submit([encoder.finish()]);
    const err16 = maxAbsDiff(await readRgba16f(device, output), want);
    assert.ok(err16 < 0.01, `rgba16float G-buffer: max |Δ| ${err16} against the rgba8unorm one`);

    encoder = device.createCommandEncoder({ label: 'test embed other cond' });
    fx.render(encoder, { input: { gbuffer: g }, output, cond: [0.9, 0.1, 0.7, 0.2, 0.95] });
    device.queue.submit([encoder.finish()]);
    const moved = await readRgba16f(device, output);
    let changed = 0;
    for (let i = 0; i < moved.length; i++) if (Math.abs(moved[i]! - want[i]!) > 1e-3) changed++;
    assert.ok(changed > moved.length / 4, `another condition changes the picture (${changed} of ${moved.length} values, max |Δ| ${maxAbsDiff(moved, want)})`);
  } finally {
    fx.destroy();
    for (const t of [...Object.values(g), ...Object.values(g16), output]) t.destroy();
  }
});

test('misuse gets one message each, and destroy leaves the caller\'s device and textures alone', async (t) => {
  const ctx = await testGpuContext(t);
  if (!ctx) return;
  const { device } = ctx;
  const { weights, film } = randomWeights(SMALL, 1);
  assert.throws(() => new CNNv3Effect(device, {}), /pass the weights file/);
  assert.throws(() => new CNNv3Effect(device, { weights: weights.subarray(0, 100) }), /cnn_v3_weights\.bin: expected \d+ bytes, got 100/);
  assert.throws(() => new CNNv3Effect(device, { weights, config: WIDE }), /holds a model with .* but .* was asked for/);
  assert.throws(() => new CNNv3Effect(device, { weights, film: film.subarray(1) }), /cnn_v3_film_mlp\.bin/);

  const fx = new CNNv3Effect(device, { weights, film });
  const make = (format: GPUTextureFormat, w = 8, h = 8, usage: GPUTextureUsageFlags = GPUTextureUsage.TEXTURE_BINDING) =>
    device.createTexture({ label: `test ${format}`, format, size: { width: w, height: h }, usage });
  const photo = make('rgba8unorm', 8, 8, GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_SRC);
  const cases: Array<[string, CnnRenderArgs, RegExp]> = [
    ['an sRGB photo', { input: make('rgba8unorm-srgb') }, /photo input must be one of .*rgba8unorm-srgb/],
    ['an output of another format', { input: photo, output: make('rgba8unorm', 8, 8, GPUTextureUsage.STORAGE_BINDING) }, /output must be an rgba16float texture with STORAGE_BINDING/],
    ['an output without storage usage', { input: photo, output: make('rgba16float') }, /STORAGE_BINDING/],
    ['an output of another size', { input: photo, output: make('rgba16float', 9, 8, GPUTextureUsage.STORAGE_BINDING) }, /output is 9×8, the input 8×8/],
    ['G-buffer planes of two sizes', { input: { gbuffer: { albedoMatid: photo, normalShadowTransp: photo, depth: make('r32float', 4, 4) } } }, /gbuffer\.depth is 4×4, gbuffer\.albedoMatid 8×8/],
    ['features that are not packed features', { input: { features: [photo, photo] } }, /two rgba32uint textures/],
  ];
  try {
    for (const [what, args, message] of cases) {
      const encoder = device.createCommandEncoder({ label: `test misuse ${what}` });
      assert.throws(() => fx.render(encoder, args), message, what);
    }
    const encoder = device.createCommandEncoder({ label: 'test before destroy' });
    fx.render(encoder, { input: photo });
    device.queue.submit([encoder.finish()]);
  } finally {
    fx.destroy();
  }
  // The caller's device and its textures outlive the effect.
  const encoder = device.createCommandEncoder({ label: 'test after destroy' });
  encoder.copyTextureToTexture({ texture: photo }, { texture: make('rgba8unorm', 8, 8, GPUTextureUsage.COPY_DST) }, { width: 8, height: 8 });
  device.pushErrorScope('validation');
  device.queue.submit([encoder.finish()]);
  assert.equal(await device.popErrorScope(), null, 'the caller\'s texture is still valid');
});
