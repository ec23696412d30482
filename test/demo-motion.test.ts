// GBufferEffect's motion plane (gbuffer-effect.ts "motion"), what the demo's E_warp is measured
// along: a box translating at a known speed and a camera panning at one give the pixel
// displacements worked out by hand on the pixels they cover; a still scene has zero motion and a
// warp error of exactly 0; the first frame, a restart (cut, seek) and a resize have zero motion;
// without `motion` no motion pipeline, texture or buffer is created at all.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Document, WebIO, type Node } from '@gltf-transform/core';
import { addMeshNode, boxMesh, planeMesh } from '../src/demo/gbuffer/default-scene.js';
import { GBufferEffect } from '../src/demo/gbuffer/gbuffer-effect.js';
import { lookAtWorld, quatFromMatrix } from '../src/demo/gbuffer/math.js';
import { depthWarpMask, warpPairError, type RasterMotion } from '../src/demo/warp-error.js';
import type { GpuContext } from '../src/gpu/context.js';
import { TextureNodes } from '../src/effect/nodes.js';
import { readRgba32f, readTextureBytes } from '../src/gpu/readback.js';
import { destroyGpuContextAfter, testGpuContext } from './gpu-helpers.js';

const W = 32;
const H = 18;
const FEAT: [string, string] = ['gbuf_feat0', 'gbuf_feat1'];
/** tan(yfov / 2) = 0.5: at distance d a pixel spans d · 0.5 / (H / 2) metres. */
const metresPerPixel = (d: number): number => (d * 0.5) / (H / 2);

const gpu = testGpuContext;
destroyGpuContextAfter();

/** A LINEAR translation animation on `node` from `from` at t = 0 to `to` at t = 4 s. */
function slide(doc: Document, node: Node, from: number[], to: number[]): void {
  const buffer = doc.getRoot().listBuffers()[0]!;
  const input = doc.createAccessor('times').setType('SCALAR').setArray(new Float32Array([0, 4])).setBuffer(buffer);
  const output = doc.createAccessor('values').setType('VEC3').setArray(Float32Array.from([...from, ...to])).setBuffer(buffer);
  const sampler = doc.createAnimationSampler('slide').setInput(input).setOutput(output).setInterpolation('LINEAR');
  const channel = doc.createAnimationChannel('slide').setTargetNode(node).setTargetPath('translation').setSampler(sampler);
  doc.createAnimation('slide').addSampler(sampler).addChannel(channel);
}

/**
 * Top-down: a camera 4 m above the ground looking down (screen right = +X, screen down = +Z), an
 * 8 m ground filling the frame, a 1.5 m box on it whose top is 2.5 m from the camera. `moving`:
 * which slides along +X at 0.5 m/s.
 */
function scene(moving: 'box' | 'camera' | 'none'): Document {
  const doc = new Document();
  const buffer = doc.createBuffer('b');
  const s = doc.createScene('s');
  s.addChild(addMeshNode(doc, buffer, 'Ground', planeMesh(8), [0.5, 0.5, 0.5, 1]));
  const box = addMeshNode(doc, buffer, 'Box', boxMesh(1.5), [0.8, 0.2, 0.1, 1], { translation: [0, 0.75, 0] });
  s.addChild(box);
  const cam = doc.createCamera('cam').setType('perspective').setYFov(2 * Math.atan(0.5)).setZNear(0.1).setZFar(100);
  const camera = doc.createNode('Camera').setTranslation([0, 4, 0]).setRotation(quatFromMatrix(lookAtWorld([0, 4, 0], [0, 0, 0], [0, 0, -1]))).setCamera(cam);
  s.addChild(camera);
  if (moving === 'box') slide(doc, box, [-1, 0.75, 0], [1, 0.75, 0]);
  if (moving === 'camera') slide(doc, camera, [-1, 4, 0], [1, 4, 0]);
  return doc;
}

async function effect(ctx: GpuContext, doc: Document, motion = true): Promise<GBufferEffect> {
  return GBufferEffect.create(ctx, { scene: await new WebIO().writeBinary(doc), sceneName: 'motion.glb', outputs: FEAT, motion });
}

async function frame(ctx: GpuContext, fx: GBufferEffect, t: number, opts: { restart?: boolean; width?: number; height?: number } = {}, nodes = new TextureNodes(ctx.device)): Promise<RasterMotion> {
  const width = opts.width ?? W;
  const height = opts.height ?? H;
  ctx.device.pushErrorScope('validation');
  const encoder = ctx.device.createCommandEncoder({ label: 'test motion frame' });
  fx.render(encoder, { t, width, height, ...(opts.restart ? { restart: true } : {}) }, nodes);
  ctx.device.queue.submit([encoder.finish()]);
  const error = await ctx.device.popErrorScope();
  assert.equal(error, null, error?.message);
  const plane = fx.motionPlane;
  assert.ok(plane, 'a motion plane with motion on');
  assert.deepEqual([plane.width, plane.height, plane.format], [width, height, 'rgba32float']);
  return { width, height, data: await readRgba32f(ctx.device, plane) };
}

/** Pixels whose surface is `z` metres from the camera now (channel 3). */
const at = (m: RasterMotion, z: number): number[] => [...Array(m.width * m.height).keys()].filter((p) => Math.abs(m.data[p * 4 + 3]! - z) < 1e-3);

function expectMotion(m: RasterMotion, pixels: number[], dx: number, dy: number, what: string): void {
  assert.ok(pixels.length >= 20, `${what}: ${pixels.length} pixels`);
  for (const p of pixels) {
    const got = [m.data[p * 4]!, m.data[p * 4 + 1]!];
    assert.ok(Math.abs(got[0]! - dx) < 0.01 && Math.abs(got[1]! - dy) < 0.01, `${what} at (${p % m.width}, ${Math.floor(p / m.width)}): (${got.map((v) => v.toFixed(4))}), expected (${dx.toFixed(4)}, ${dy.toFixed(4)})`);
    // No motion along the view axis: the point was as far from the previous camera.
    assert.ok(Math.abs(m.data[p * 4 + 2]! - m.data[p * 4 + 3]!) < 1e-3, `${what}: z_prev ${m.data[p * 4 + 2]} vs z ${m.data[p * 4 + 3]}`);
  }
}

test('a box translating at 0.5 m/s: its top moves the pixels worked out by hand, the ground does not move', async (t) => {
  const ctx = await gpu(t);
  if (!ctx) return;
  const fx = await effect(ctx, scene('box'));
  const first = await frame(ctx, fx, 1);
  assert.ok(first.data.every((v, i) => i % 4 > 1 || v === 0), 'the first frame: zero motion');
  const m = await frame(ctx, fx, 2);
  // The box moved 0.5 m to the right, so each pixel of its top was 0.5 m to the left a frame ago.
  expectMotion(m, at(m, 2.5), -0.5 / metresPerPixel(2.5), 0, 'box top');
  expectMotion(m, at(m, 4), 0, 0, 'ground');
  fx.destroy();
});

test('a camera panning at 0.5 m/s: parallax, the ground moves 2.25 pixels and the nearer box top 3.6', async (t) => {
  const ctx = await gpu(t);
  if (!ctx) return;
  const fx = await effect(ctx, scene('camera'));
  await frame(ctx, fx, 1);
  const m = await frame(ctx, fx, 2);
  expectMotion(m, at(m, 4), 0.5 / metresPerPixel(4), 0, 'ground');
  expectMotion(m, at(m, 2.5), 0.5 / metresPerPixel(2.5), 0, 'box top');
  // The background-free frame: every pixel has a surface, and almost all of it was visible before.
  const mask = depthWarpMask(m, await frame(ctx, fx, 1, { restart: true }));
  assert.ok(mask.some((v) => v === 0), 'the band that entered the frame from the right is masked');
  fx.destroy();
});

test('a still scene: zero motion everywhere and E_warp exactly 0 for a deterministic output', async (t) => {
  const ctx = await gpu(t);
  if (!ctx) return;
  const fx = await effect(ctx, scene('none'));
  const nodes = new TextureNodes(ctx.device);
  const m0 = await frame(ctx, fx, 0, {}, nodes);
  const albedo = async () => Float32Array.from(await readTextureBytes(ctx.device, nodes.get('cnn_in_albedo_matid')!), (b) => b / 255);
  const a0 = await albedo();
  const m1 = await frame(ctx, fx, 0.5, {}, nodes);
  const a1 = await albedo();
  assert.ok(m1.data.every((v, i) => i % 4 > 1 || v === 0), 'zero motion');
  assert.ok(at(m1, 4).length > 0 && at(m1, 2.5).length > 0, 'depths in channel 3');
  const mask = depthWarpMask(m1, m0);
  assert.equal(mask.reduce((a, b) => a + b, 0), W * H, 'nothing occluded');
  const pair = warpPairError(a1, a0, m1, undefined, mask);
  assert.deepEqual([pair.error, pair.valid], [0, 1]);
  fx.destroy();
});

test('zero motion on the first frame, after a restart (cut, seek) and after a resize', async (t) => {
  const ctx = await gpu(t);
  if (!ctx) return;
  const fx = await effect(ctx, scene('camera'));
  const zero = (m: RasterMotion) => m.data.every((v, i) => i % 4 > 1 || v === 0);
  assert.ok(zero(await frame(ctx, fx, 1)), 'first frame');
  assert.ok(!zero(await frame(ctx, fx, 2)), 'the next frame moves (the test can fail)');
  assert.ok(zero(await frame(ctx, fx, 3, { restart: true })), 'restart');
  assert.ok(!zero(await frame(ctx, fx, 3.5)), 'moving again after the restart');
  assert.ok(zero(await frame(ctx, fx, 4, { width: 16, height: 9 })), 'resize');
  fx.destroy();
});

test('motion off: no motion pipeline, texture or buffer is created, and there is no motion plane', async (t) => {
  const ctx = await gpu(t);
  if (!ctx) return;
  const device = ctx.device;
  const labels: string[] = [];
  const spy = <K extends 'createRenderPipeline' | 'createTexture' | 'createBuffer' | 'createBindGroup'>(k: K) => {
    const original = device[k].bind(device) as (d: { label?: string }) => unknown;
    (device as unknown as Record<string, unknown>)[k] = (d: { label?: string }) => {
      labels.push(d.label ?? '');
      return original(d);
    };
    return () => delete (device as unknown as Record<string, unknown>)[k];
  };
  const restore = ['createRenderPipeline', 'createTexture', 'createBuffer', 'createBindGroup'].map((k) => spy(k as 'createTexture'));
  try {
    for (const motion of [false, true]) {
      labels.length = 0;
      const fx = await effect(ctx, scene('box'), motion);
      const encoder = device.createCommandEncoder({ label: 'test frame' });
      fx.render(encoder, { t: 1, width: W, height: H }, new TextureNodes(device));
      device.queue.submit([encoder.finish()]);
      const made = labels.filter((l) => /motion/.test(l));
      if (motion) {
        assert.ok(made.length >= 5 && fx.motionPlane !== undefined, `motion on: ${made.join(', ')}`);
      } else {
        assert.deepEqual(made, [], 'motion off');
        assert.equal(fx.motionPlane, undefined);
      }
      fx.destroy();
    }
  } finally {
    for (const r of restore) r();
  }
});
