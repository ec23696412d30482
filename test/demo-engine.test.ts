import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { nodeAssets } from '../src/demo/assets-node.js';
import { DemoEngine } from '../src/demo/engine.js';
import { coverResize } from '../src/demo/effects.js';
import { parseSeq } from '../src/demo/seq.js';
import { beatAt } from '../src/demo/timeline.js';
import { encodeWavPcm16 } from '../src/demo/wav.js';
import { isCnnV3Error } from '../src/errors.js';
import type { GpuContext } from '../src/gpu/context.js';
import { readRgba16f, readRgba32u } from '../src/gpu/readback.js';
import { unitToByte } from '../src/image/image.js';
import { destroyGpuContextAfter, testGpuContext } from './gpu-helpers.js';
import { REPO, requireTool, tempDir } from './helpers.js';

const PHOTO = join(REPO, 'examples/photos/cat.png');
const W = 24;
const H = 16;

const gpu = testGpuContext;
destroyGpuContextAfter();

/** A .seq in a fresh directory beside a copy of the photo; returns its path. */
function seqFile(t: TestContext, text: string, extra: Record<string, Uint8Array> = {}): string {
  const dir = tempDir(t);
  copyFileSync(PHOTO, join(dir, 'cat.png'));
  for (const [name, bytes] of Object.entries(extra)) writeFileSync(join(dir, name), bytes);
  const path = join(dir, 'demo.seq');
  writeFileSync(path, text);
  return path;
}

async function load(ctx: GpuContext, path: string, fps = 10): Promise<DemoEngine> {
  const { readFileSync } = await import('node:fs');
  return DemoEngine.load(ctx, parseSeq(readFileSync(path, 'utf8'), path), nodeAssets(path, fps), { width: W, height: H, fps });
}

const FEEDBACK = `BPM 90
SEQUENCE 0 0 "photo"
EFFECT + ImageFeaturesEffect prev_cnn -> f0 f1 0 10 image=cat.png
EFFECT + CNNv3Effect f0 f1 -> cnn 0 10 style_p0=0.2
EFFECT + CNNv3Effect f0 f1 -> sink 0 10 style_p0=0.2
`;

/** Channels 9–11 of gbuf_feat1 (bytes 1..3 of its first word). */
function prevChannels(feat1: Uint32Array): number[] {
  const out: number[] = [];
  for (let p = 0; p < feat1.length / 4; p++) {
    const w = feat1[p * 4]!;
    out.push((w >>> 8) & 255, (w >>> 16) & 255, (w >>> 24) & 255);
  }
  return out;
}

const unorm8 = (rgba: Float32Array): number[] => {
  const out: number[] = [];
  for (let p = 0; p < rgba.length / 4; p++) for (let c = 0; c < 3; c++) out.push(unitToByte(rgba[p * 4 + c]!));
  return out;
};

test('prev feedback: frame 2 packs frame 1\'s CNN output into ch 9–11; black on frame 1 and after a seek', async (t) => {
  const ctx = await gpu(t);
  if (!ctx) return;
  const engine = await load(ctx, seqFile(t, FEEDBACK));
  t.after(() => engine.destroy());
  const { device } = ctx;

  const f1 = engine.renderFrame(0, 0.1);
  assert.deepEqual(f1.cnn, { inputs: ['f0', 'f1'], output: 'sink' });
  const out1 = await readRgba16f(device, engine.nodes.get('cnn')!);
  const sink1 = await readRgba16f(device, engine.sink);
  assert.deepEqual(Array.from(sink1), Array.from(out1), 'two identical CNN effects: sink = cnn');
  assert.ok(prevChannels(await readRgba32u(device, engine.nodes.get('f1')!)).every((v) => v === 0), 'frame 1: prev is black');
  const q1 = unorm8(out1);
  assert.ok(new Set(q1).size > 10, 'the output varies over the image');

  engine.renderFrame(0.1, 0.1);
  assert.deepEqual(prevChannels(await readRgba32u(device, engine.nodes.get('f1')!)), q1, 'frame 2 ch 9–11 = frame 1 output (unorm8)');
  const out2 = await readRgba16f(device, engine.nodes.get('cnn')!);
  assert.notDeepEqual(Array.from(out2), Array.from(out1), 'prev changes the output');

  engine.seek();
  engine.renderFrame(5, 0.1);
  assert.ok(prevChannels(await readRgba32u(device, engine.nodes.get('f1')!)).every((v) => v === 0), 'after a seek: prev is black');
  const out5 = unorm8(await readRgba16f(device, engine.sink));
  engine.renderFrame(5.1, 0.1);
  assert.deepEqual(prevChannels(await readRgba32u(device, engine.nodes.get('f1')!)), out5, 'and feeds back again from there');
});

test('prev feedback through GBufferEffect (built-in scene, the example\'s first sequence)', async (t) => {
  const ctx = await gpu(t);
  if (!ctx) return;
  const engine = await load(ctx, seqFile(t, `SEQUENCE 0 0 "scene"
EFFECT + GBufferEffect prev_cnn -> gbuf_feat0 gbuf_feat1 0 4
EFFECT + CNNv3Effect gbuf_feat0 gbuf_feat1 -> sink 0 4
`));
  t.after(() => engine.destroy());
  engine.renderFrame(1, 0.1);
  assert.ok(prevChannels(await readRgba32u(ctx.device, engine.nodes.get('gbuf_feat1')!)).every((v) => v === 0), 'frame 1: prev is black');
  const q1 = unorm8(await readRgba16f(ctx.device, engine.sink));
  engine.renderFrame(1.1, 0.1);
  assert.deepEqual(prevChannels(await readRgba32u(ctx.device, engine.nodes.get('gbuf_feat1')!)), q1);
});

test('prev_cnn goes black after a frame without a CNN effect', async (t) => {
  const ctx = await gpu(t);
  if (!ctx) return;
  const engine = await load(ctx, seqFile(t, `SEQUENCE 0 0 "a"
EFFECT + ImageFeaturesEffect prev_cnn -> f0 f1 0 2 image=cat.png
EFFECT + CNNv3Effect f0 f1 -> sink 0 1
`));
  t.after(() => engine.destroy());
  engine.renderFrame(0, 0.5);
  const prev = await readRgba16f(ctx.device, engine.nodes.get('prev_cnn')!);
  assert.ok(prev.some((v) => v !== 0), 'after a CNN frame prev_cnn holds its output');
  const info = engine.renderFrame(1.5, 0.5); // only the features effect is active
  assert.equal(info.cnn, undefined);
  assert.ok((await readRgba16f(ctx.device, engine.nodes.get('prev_cnn')!)).every((v, i) => v === (i % 4 === 3 ? 1 : 0)), 'prev_cnn cleared to black');
  assert.ok((await readRgba16f(ctx.device, engine.sink)).every((v, i) => v === (i % 4 === 3 ? 1 : 0)), 'nothing drew: sink is black');
});

test('a cut (a new sequence starts) clears the history: its first frame equals a fresh render started there', async (t) => {
  const ctx = await gpu(t);
  if (!ctx) return;
  // Two shots of the same photo with prev fed back: the second differs only by starting at 1 s.
  const text = `SEQUENCE 0 0 "a"
EFFECT + ImageFeaturesEffect prev_cnn -> f0 f1 0 1 image=cat.png
EFFECT + CNNv3Effect f0 f1 -> sink 0 1 style_p0=0.2
SEQUENCE 1 0 "b"
EFFECT + ImageFeaturesEffect prev_cnn -> f0 f1 0 1 image=cat.png
EFFECT + CNNv3Effect f0 f1 -> sink 0 1 style_p0=0.8
`;
  const path = seqFile(t, text);
  const played = await load(ctx, path);
  t.after(() => played.destroy());
  for (let f = 0; f < 10; f++) played.renderFrame(f / 10, 0.1);
  const beforeCut = prevChannels(await readRgba32u(ctx.device, played.nodes.get('f1')!));
  assert.ok(beforeCut.some((v) => v !== 0), 'inside a shot, prev carries the last output');
  played.renderFrame(1, 0.1); // the first frame of "b": a cut
  const atCut = await readRgba16f(ctx.device, played.sink);
  assert.ok(prevChannels(await readRgba32u(ctx.device, played.nodes.get('f1')!)).every((v) => v === 0), 'at the cut prev is black');
  const fresh = await load(ctx, path);
  t.after(() => fresh.destroy());
  fresh.renderFrame(1, 0.1);
  assert.deepEqual(Array.from(atCut), Array.from(await readRgba16f(ctx.device, fresh.sink)), 'the cut frame is the fresh render, bit for bit');
  played.renderFrame(1.1, 0.1);
  assert.ok(prevChannels(await readRgba32u(ctx.device, played.nodes.get('f1')!)).some((v) => v !== 0), 'after the cut, history builds again');
});

test('beat and audio values at given times, and the FiLM they drive', async (t) => {
  const ctx = await gpu(t);
  if (!ctx) return;
  // 1 kHz mono: silence, then 0.5 at 0.25 s, then a stereo-free peak of 0.8 at 1.0 s.
  const samples = new Float32Array(2000);
  samples[250] = 0.5;
  samples[1000] = -0.8;
  const path = seqFile(t, `BPM 150
AUDIO beat.wav
SEQUENCE 0 0 "a"
EFFECT + ImageFeaturesEffect -> f0 f1 0 4 image=cat.png
EFFECT + CNNv3Effect f0 f1 -> sink 0 4
`, { 'beat.wav': encodeWavPcm16([samples], 1000) });
  const engine = await load(ctx, path, 4);
  t.after(() => engine.destroy());
  const near = (a: number, b: number, tol = 1e-4) => Math.abs(a - b) <= tol;
  // 150 BPM: 2.5 beats a second. t = 0.3 → beat_time 0.75; t = 3.3 → 8.25.
  let p = engine.frameParams(0.3, 0.25);
  assert.ok(near(p.beat_phase, 0.75, 1e-12) && near(p.beat_norm, 0.75 / 8, 1e-12), JSON.stringify(p));
  assert.equal(p.audio_intensity, 0);
  p = engine.frameParams(3.3, 0.25);
  assert.ok(near(p.beat_phase, 0.25, 1e-9) && near(p.beat_norm, 8.25 / 8 - 1, 1e-9));
  assert.ok(near(engine.frameParams(0.25, 0.25).audio_intensity, 0.5));
  assert.ok(near(engine.frameParams(0.8, 0.25).audio_intensity, 0.8), 'the frame [0.8, 1.05) holds sample 1000');
  assert.equal(engine.frameParams(1.01, 0.25).audio_intensity, 0);
  assert.equal(engine.frameParams(3, 0.25).audio_intensity, 0, 'past the end of the audio');
  assert.deepEqual(engine.frameParams(7.7, 0.1).beat_phase, beatAt(7.7, 150).beat_phase);
  // The beat changes the picture: same photo, FiLM inputs differ.
  engine.renderFrame(0, 0.25);
  const a = await readRgba16f(ctx.device, engine.sink);
  engine.seek();
  engine.renderFrame(0.25, 0.25);
  const b = await readRgba16f(ctx.device, engine.sink);
  assert.notDeepEqual(Array.from(a), Array.from(b));
});

test('video= frames come from ffmpeg in Node and change with time', async (t) => {
  const ctx = await gpu(t);
  if (!ctx || !requireTool(t, '/usr/bin/ffmpeg', 'ffmpeg')) return;
  const path = seqFile(t, `SEQUENCE 0 0 "v"
EFFECT + ImageFeaturesEffect -> f0 f1 0 2 video=clip.mp4
EFFECT + CNNv3Effect f0 f1 -> sink 0 2
`);
  execFileSync('/usr/bin/ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10:duration=1', '-pix_fmt', 'yuv420p', join(path, '..', 'clip.mp4')]);
  const engine = await load(ctx, path, 10);
  t.after(() => engine.destroy());
  engine.renderFrame(0, 0.1);
  const a = await readRgba32u(ctx.device, engine.nodes.get('f0')!);
  engine.renderFrame(0.5, 0.1);
  const b = await readRgba32u(ctx.device, engine.nodes.get('f0')!);
  assert.notDeepEqual(Array.from(a), Array.from(b), 'testsrc moves: the packed albedo differs');

  const bad = (text: string, extra: Record<string, Uint8Array> = {}) => seqFile(t, `SEQUENCE 0 0 "v"\nEFFECT + ImageFeaturesEffect -> f0 f1 0 2 ${text}\n`, extra);
  const refuse = async (path: string, re: RegExp) =>
    assert.rejects(load(ctx, path), (e: unknown) => isCnnV3Error(e) && re.test(e.message) && !e.message.includes('\n'), re.source);
  await refuse(bad('video=junk.mp4', { 'junk.mp4': new Uint8Array(100).fill(7) }), /demo\.seq:2: .*junk\.mp4: ffmpeg cannot decode this video: /);
  await refuse(bad('video=gone.mp4'), /demo\.seq:2: .*gone\.mp4: video not found$/);
  // Without ffmpeg Node has no video decoder: refused by name.
  const searchPath = process.env['PATH'];
  process.env['PATH'] = '/nonexistent';
  try {
    await refuse(bad('video=clip.mp4'), /demo\.seq:2: video=clip\.mp4: video needs ffmpeg on PATH in Node \(apt-get install ffmpeg\), and it is not there; use image=$/);
  } finally {
    process.env['PATH'] = searchPath;
  }
});

test('load errors name the .seq line and the file', async (t) => {
  const ctx = await gpu(t);
  if (!ctx) return;
  const cases: [string, RegExp, Record<string, Uint8Array>?][] = [
    [`SEQUENCE 0 0 "a"\nEFFECT + ImageFeaturesEffect -> f0 f1 0 1 image=missing.png\n`, /demo\.seq:2: .*missing\.png: image not found$/],
    [`SEQUENCE 0 0 "a"\nEFFECT + ImageFeaturesEffect -> f0 f1 0 1 image=bad.png\n`, /demo\.seq:2: bad\.png: not a PNG or JPEG image$/, { 'bad.png': new Uint8Array([1, 2, 3]) }],
    [`SEQUENCE 0 0 "a"\nEFFECT + ImageFeaturesEffect -> f0 f1 0 1 image=cat.png\nEFFECT + CNNv3Effect f0 f1 -> sink 0 1 weights=nope.bin\n`, /demo\.seq:3: .*nope\.bin: weights file not found$/],
    [`SEQUENCE 0 0 "a"\nEFFECT + ImageFeaturesEffect -> f0 f1 0 1 image=cat.png\nEFFECT + CNNv3Effect f0 f1 -> sink 0 1 weights=w.bin\n`, /demo\.seq:3: w\.bin: expected 3928 bytes, got 10$/, { 'w.bin': new Uint8Array(10) }],
    [`SEQUENCE 0 0 "a"\nEFFECT + ImageFeaturesEffect -> f0 f1 0 1 image=cat.png\nEFFECT + CNNv3Effect f0 f1 -> sink 0 1 film=f.bin\n`, /demo\.seq:3: f\.bin: .*3104/, { 'f.bin': new Uint8Array(12) }],
    [`SEQUENCE 0 0 "a"\nEFFECT + ImageFeaturesEffect -> f0 f1 0 1 image=cat.png\nEFFECT + CNNv3Effect f0 -> sink 0 1\n`, /demo\.seq:3: CNNv3Effect takes two inputs/],
    [`SEQUENCE 0 0 "a"\nEFFECT + ImageFeaturesEffect -> f0 sink 0 1 image=cat.png\n`, /demo\.seq:2: ImageFeaturesEffect writes packed features, not an image: it cannot write sink$/],
    [`SEQUENCE 0 0 "a"\nEFFECT + ImageFeaturesEffect -> f0 0 1 image=cat.png\n`, /demo\.seq:2: ImageFeaturesEffect writes two nodes/],
    [`AUDIO gone.wav\nSEQUENCE 0 0 "a"\nEFFECT + ImageFeaturesEffect -> f0 f1 0 1 image=cat.png\n`, /demo\.seq: AUDIO: .*gone\.wav: audio file not found$/],
    [`AUDIO x.wav\nSEQUENCE 0 0 "a"\nEFFECT + ImageFeaturesEffect -> f0 f1 0 1 image=cat.png\n`, /demo\.seq: AUDIO: x\.wav: not a WAV file \(no RIFF header\)$/, { 'x.wav': new Uint8Array(64) }],
    [`SEQUENCE 0 0 "a"\nEFFECT + CNNv3Effect f0 f1 -> sink 0 1\n`, /demo\.seq:2: node f0 is read before anything writes it$/],
    [`SEQUENCE 0 0 "a"\nEFFECT + ImageFeaturesEffect -> f0 f1 0 1 image=cat.png\nEFFECT + CNNv3Effect f0 f1 -> cnn_v3_enc0 0 1\n`, /demo\.seq:3: node name cnn_v3_enc0 is reserved \(cnn_v3_\*, cnn_in_\* name the effects' own textures\)$/],
    [`SEQUENCE 0 0 "a"\nEFFECT + GBufferEffect -> f0 f1 0 1 scene=nope.glb\n`, /demo\.seq:2: .*nope\.glb: scene not found$/],
    [`SEQUENCE 0 0 "a"\nEFFECT + GBufferEffect -> f0 f1 0 1 scene=bad.glb\n`, /demo\.seq:2: bad\.glb: /, { 'bad.glb': new Uint8Array(40).fill(3) }],
    [`SEQUENCE 0 0 "a"\nEFFECT + GBufferEffect f0 -> f0 f1 0 1\n`, /demo\.seq:2: GBufferEffect reads node f0, which it writes itself/],
    [`SEQUENCE 0 0 "a"\nEFFECT + GBufferEffect -> f0 f1 0 1 scene=fox.glb animation=Jump\n`, /demo\.seq:2: fox\.glb: animation=Jump: no such animation \(it has 0 "Survey", 1 "Walk", 2 "Run"; or all, none\)$/, { 'fox.glb': new Uint8Array(readFileSync(join(REPO, 'test/fixtures/gltf/Fox.glb'))) }],
    [`SEQUENCE 0 0 "a"\nEFFECT + ImageFeaturesEffect -> f0 f1 0 1 image=cat.png\nEFFECT + GBufferEffect f0 -> g0 g1 0 1\n`, /demo\.seq:3: GBufferEffect reads only prev_cnn \(the previous output\), not f0$/],
  ];
  for (const [text, re, extra] of cases) {
    const path = seqFile(t, text, extra);
    await assert.rejects(load(ctx, path), (e: unknown) => isCnnV3Error(e) && re.test(e.message) && !e.message.includes('\n'), text);
  }
});

test('coverResize: fills the frame, centre crop keeps the aspect', () => {
  // 4×2 image: left half red, right half blue; covering 2×2 crops the middle 2×2.
  const data = new Uint8Array(4 * 2 * 3);
  for (let y = 0; y < 2; y++) for (let x = 0; x < 4; x++) data.set(x < 2 ? [255, 0, 0] : [0, 0, 255], (y * 4 + x) * 3);
  const r = coverResize({ width: 4, height: 2, channels: 3, depth: 8, data }, 2, 2);
  assert.equal(r.width, 2);
  assert.deepEqual(Array.from(r.data.subarray(0, 4)), [255, 0, 0, 255]);
  assert.deepEqual(Array.from(r.data.subarray(4, 8)), [0, 0, 255, 255]);
});
