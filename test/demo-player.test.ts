import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Document, WebIO } from '@gltf-transform/core';
import { EXTTextureWebP } from '@gltf-transform/extensions';
import { chromium, type Browser, type Page } from 'playwright-core';
import { bufferIO } from '../src/cli/io.js';
import { startTool, toolRoot } from '../src/cli/commands/tool.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../src/jobs/runner-node.js';
import { addMeshNode, planeMesh } from '../src/demo/gbuffer/default-scene.js';
import { decodePng, encodePng } from '../src/image/png.js';
import type { RunningServer } from '../src/serve/static-node.js';
import { IN_CI, REPO, tempDir } from './helpers.js';

let server: RunningServer | undefined;
let browser: Browser | undefined;
let skipReason: string | undefined;

before(async () => {
  if (!existsSync(CHROMIUM)) skipReason = `${CHROMIUM} missing: apt-get install chromium`;
  else if (!existsSync(join(toolRoot(), 'player.html'))) skipReason = 'dist/tool/player.html not built: npm run build';
  if (skipReason) {
    if (IN_CI) throw new Error(`CI must not skip: ${skipReason}`);
    console.warn(`\n*** SKIPPING the player tests: ${skipReason} ***\n`);
    return;
  }
  // Served the way users get it: `cnnv3 tool` on an ephemeral port.
  server = await startTool(['--port', '0'], bufferIO());
  browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, '--autoplay-policy=no-user-gesture-required'] });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

async function openPlayer(query = '?width=64&height=36'): Promise<{ page: Page; errors: string[] }> {
  const page = await browser!.newPage({ viewport: { width: 900, height: 500 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(`${server!.url}player.html${query}`);
  return { page, errors };
}

const status = (page: Page) => page.textContent('[data-testid=status]');

async function framesDrawn(page: Page): Promise<number> {
  return Number(await page.getAttribute('[data-testid=player-canvas]', 'data-frames'));
}

/** The canvas as displayed (a WebGPU canvas keeps no drawing buffer to read back). */
async function canvasShot(page: Page): Promise<Uint8Array> {
  const canvas = page.locator('[data-testid=player-canvas]');
  const box = (await canvas.boundingBox())!;
  const png = await page.screenshot({ clip: { x: Math.round(box.x), y: Math.round(box.y), width: 64, height: 36 } });
  return decodePng(new Uint8Array(png), 'canvas').data as Uint8Array;
}

const meanAbs = (a: Uint8Array, b: Uint8Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0) / a.length;

test('the player plays the example: the canvas changes over time, the clock and the audio run', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const { page, errors } = await openPlayer();
  await page.waitForFunction(() => document.querySelector('[data-testid=status]')?.textContent !== 'starting' && document.querySelector('[data-testid=status]')?.textContent !== 'loading', undefined, { timeout: 120_000 });
  assert.equal(await status(page), 'playing', (await status(page)) ?? '');
  assert.match((await page.textContent('[data-testid=adapter]'))!, /swiftshader|nvidia|amd|intel|apple/i);
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=player-canvas]')?.getAttribute('data-frames')) >= 3, undefined, { timeout: 60_000 });
  const a = await canvasShot(page);
  const framesA = await framesDrawn(page);
  const tA = Number(await page.getAttribute('[data-testid=player-canvas]', 'data-t'));
  await page.waitForTimeout(1200);
  const b = await canvasShot(page);
  const framesB = await framesDrawn(page);
  const tB = Number(await page.getAttribute('[data-testid=player-canvas]', 'data-t'));
  assert.ok(framesB > framesA, `frames ${framesA} → ${framesB}`);
  assert.ok(tB > tA + 0.5, `the demo clock runs: ${tA} → ${tB}`);
  assert.ok(tA < 1, `the clock starts once the first frame is up (t = ${tA} at frame ${framesA})`);
  assert.ok(new Set(a).size > 20, 'a picture, not a flat canvas');
  const change = meanAbs(a, b);
  t.diagnostic(`canvas mean |Δ| over ${(tB - tA).toFixed(2)} s of the animated scene: ${change.toFixed(2)} / 255; ${framesB - framesA} frames`);
  assert.ok(change > 2, `the canvas changes over time (mean |Δ| ${change.toFixed(2)} of 255)`);
  // The audio element plays the example's music in step with the demo clock.
  assert.equal(await page.textContent('[data-testid=audio-note]'), 'audio: playing');
  const sync = await page.evaluate(() => {
    const audio = document.querySelector<HTMLAudioElement>('[data-testid=audio]')!;
    const t = Number(document.querySelector('[data-testid=player-canvas]')!.getAttribute('data-t'));
    return { src: audio.src, paused: audio.paused, audio: audio.currentTime, t };
  });
  assert.match(sync.src, /^blob:/);
  assert.equal(sync.paused, false);
  assert.ok(Math.abs(sync.audio - sync.t) < 0.4, `audio at ${sync.audio.toFixed(2)} s, picture at ${sync.t.toFixed(2)} s`);
  // Seeking moves the clock (and the music) to the new time.
  await page.evaluate(() => {
    const seek = document.querySelector<HTMLInputElement>('[data-testid=seek]')!;
    seek.value = '5';
    seek.dispatchEvent(new Event('input'));
  });
  await page.waitForTimeout(300);
  const afterSeek = await page.evaluate(() => ({
    t: Number(document.querySelector('[data-testid=player-canvas]')!.getAttribute('data-t')),
    audio: document.querySelector<HTMLAudioElement>('[data-testid=audio]')!.currentTime,
  }));
  assert.ok(afterSeek.t >= 5 && afterSeek.t < 6, `after seeking to 5 s: t = ${afterSeek.t}`);
  assert.ok(Math.abs(afterSeek.audio - afterSeek.t) < 0.4, `audio ${afterSeek.audio} follows the seek`);
  // Pausing stops the clock and the picture.
  await page.click('[data-testid=play]');
  assert.equal(await status(page), 'paused');
  await page.waitForTimeout(300);
  const p1 = await canvasShot(page);
  const tP = await page.getAttribute('[data-testid=player-canvas]', 'data-t');
  await page.waitForTimeout(500);
  assert.equal(await page.getAttribute('[data-testid=player-canvas]', 'data-t'), tP);
  assert.ok(meanAbs(p1, await canvasShot(page)) < 0.5, 'paused: the picture holds');
  assert.equal(await page.evaluate(() => document.querySelector<HTMLAudioElement>('[data-testid=audio]')!.paused), true, 'and the music stops');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the player explains a bad .seq in the page', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const { page } = await openPlayer();
  await page.waitForFunction(() => document.querySelector('[data-testid=status]')?.textContent === 'playing', undefined, { timeout: 120_000 });
  const dir = tempDir(t);
  const bad = join(dir, 'bad.seq');
  writeFileSync(bad, 'SEQUENCE 0 0 "a"\nEFFECT + CNNv3Effect f0 f1 -> sink 0 1\n');
  await page.setInputFiles('[data-testid=seq-input]', bad);
  await page.waitForFunction(() => document.querySelector('[data-testid=status]')?.textContent?.startsWith('error'), undefined, { timeout: 60_000 });
  assert.equal(await status(page), 'error: bad.seq:2: node f0 is read before anything writes it');
  const missing = join(dir, 'missing.seq');
  writeFileSync(missing, 'SEQUENCE 0 0 "a"\nEFFECT + ImageFeaturesEffect -> f0 f1 0 1 image=photo.png\n');
  await page.setInputFiles('[data-testid=seq-input]', missing);
  await page.waitForFunction(() => document.querySelector('[data-testid=status]')?.textContent?.includes('missing.seq:2'), undefined, { timeout: 60_000 });
  assert.equal(await status(page), 'error: missing.seq:2: photo.png: image not found among the picked files (pick it together with the .seq)');
  // A good pick plays: the .seq with its photo.
  const good = join(dir, 'good.seq');
  writeFileSync(good, 'BPM 100\nSEQUENCE 0 0 "a"\nEFFECT + ImageFeaturesEffect prev_cnn -> f0 f1 0 3 image=rocket.jpg\nEFFECT + CNNv3Effect f0 f1 -> sink 0 3\n');
  await page.setInputFiles('[data-testid=seq-input]', [good, join(REPO, 'examples/photos/rocket.jpg')]);
  await page.waitForFunction(() => document.querySelector('[data-testid=status]')?.textContent === 'playing', undefined, { timeout: 60_000 });
  assert.equal(await page.textContent('[data-testid=seq-name]'), 'good.seq');
  assert.equal(await page.textContent('[data-testid=audio-note]'), 'no AUDIO in this .seq');
  await page.close();
});

test('the player plays a video= effect through a <video> element', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const ffmpeg = '/usr/bin/ffmpeg';
  if (!existsSync(ffmpeg)) {
    if (IN_CI) throw new Error('CI must not skip: /usr/bin/ffmpeg is missing: apt-get install ffmpeg');
    return t.skip('ffmpeg missing: apt-get install ffmpeg');
  }
  const dir = tempDir(t);
  const clip = join(dir, 'clip.webm');
  execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10:duration=4', '-c:v', 'libvpx', '-b:v', '200k', clip]);
  const seq = join(dir, 'video.seq');
  writeFileSync(seq, 'SEQUENCE 0 0 "v"\nEFFECT + ImageFeaturesEffect -> f0 f1 0 4 video=clip.webm\nEFFECT + CNNv3Effect f0 f1 -> sink 0 4\n');
  const { page, errors } = await openPlayer();
  await page.waitForFunction(() => document.querySelector('[data-testid=status]')?.textContent === 'playing', undefined, { timeout: 120_000 });
  await page.setInputFiles('[data-testid=seq-input]', [seq, clip]);
  await page.waitForFunction(() => document.querySelector('[data-testid=seq-name]')?.textContent === 'video.seq' && document.querySelector('[data-testid=status]')?.textContent === 'playing', undefined, { timeout: 60_000 });
  await page.waitForTimeout(500);
  const a = await canvasShot(page);
  await page.waitForTimeout(1000);
  const b = await canvasShot(page);
  const change = meanAbs(a, b);
  t.diagnostic(`video: canvas mean |Δ| over 1 s: ${change.toFixed(2)} / 255`);
  assert.ok(change > 2, `the video moves (mean |Δ| ${change.toFixed(2)})`);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the player decodes a Draco-compressed, skinned glTF scene (KHR_draco_mesh_compression) in the browser', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const dir = tempDir(t);
  writeFileSync(join(dir, 'fox.glb'), readFileSync(join(REPO, 'test/fixtures/gltf/fox-draco.glb')));
  const seq = join(dir, 'fox.seq');
  writeFileSync(seq, 'SEQUENCE 0 0 "fox"\nEFFECT + GBufferEffect -> g0 g1 0 10 scene=fox.glb animation=Run\nEFFECT + CNNv3Effect g0 g1 -> sink 0 10\n');
  const { page, errors } = await openPlayer();
  await page.waitForFunction(() => document.querySelector('[data-testid=status]')?.textContent === 'playing', undefined, { timeout: 120_000 });
  await page.setInputFiles('[data-testid=seq-input]', [seq, join(dir, 'fox.glb')]);
  await page.waitForFunction(() => {
    const st = document.querySelector('[data-testid=status]')?.textContent ?? '';
    return st.startsWith('error') || (document.querySelector('[data-testid=seq-name]')?.textContent === 'fox.seq' && st === 'playing');
  }, undefined, { timeout: 60_000 });
  assert.equal(await status(page), 'playing');
  await page.waitForTimeout(500);
  const a = await canvasShot(page);
  await page.waitForTimeout(400);
  const b = await canvasShot(page);
  assert.ok(meanAbs(a, b) > 0.2, `the fox runs (mean |Δ| ${meanAbs(a, b).toFixed(2)})`);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the player decodes an EXT_texture_webp texture through createImageBitmap (Node refuses it by name: demo-gltf-wild.test.ts)', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const ffmpeg = '/usr/bin/ffmpeg';
  if (!existsSync(ffmpeg)) {
    if (IN_CI) throw new Error('CI must not skip: /usr/bin/ffmpeg is missing: apt-get install ffmpeg');
    return t.skip('ffmpeg missing: apt-get install ffmpeg');
  }
  const dir = tempDir(t);
  const png = join(dir, 'checker.png');
  writeFileSync(png, encodePng({ width: 8, height: 8, channels: 3, depth: 8, data: Uint8Array.from({ length: 8 * 8 * 3 }, (_, i) => ((i * 37) % 251)) }));
  execFileSync(ffmpeg, ['-v', 'error', '-i', png, '-c:v', 'libwebp', '-lossless', '1', join(dir, 'checker.webp')]);
  const webp = new Uint8Array(readFileSync(join(dir, 'checker.webp')));
  assert.equal(new TextDecoder().decode(webp.subarray(8, 12)), 'WEBP');
  const doc = new Document();
  doc.createExtension(EXTTextureWebP).setRequired(true);
  const quad = addMeshNode(doc, doc.createBuffer('b'), 'Quad', planeMesh(2), [1, 1, 1, 1]);
  quad.getMesh()!.listPrimitives()[0]!.getMaterial()!.setBaseColorTexture(doc.createTexture('checker').setMimeType('image/webp').setImage(webp));
  doc.createScene('s').addChild(quad);
  writeFileSync(join(dir, 'webp.glb'), await new WebIO().registerExtensions([EXTTextureWebP]).writeBinary(doc));
  const seq = join(dir, 'webp.seq');
  writeFileSync(seq, 'SEQUENCE 0 0 "webp"\nEFFECT + GBufferEffect -> g0 g1 0 10 scene=webp.glb\nEFFECT + CNNv3Effect g0 g1 -> sink 0 10\n');
  const { page, errors } = await openPlayer();
  await page.waitForFunction(() => document.querySelector('[data-testid=status]')?.textContent === 'playing', undefined, { timeout: 120_000 });
  await page.setInputFiles('[data-testid=seq-input]', [seq, join(dir, 'webp.glb')]);
  await page.waitForFunction(() => {
    const st = document.querySelector('[data-testid=status]')?.textContent ?? '';
    return st.startsWith('error') || (document.querySelector('[data-testid=seq-name]')?.textContent === 'webp.seq' && st === 'playing');
  }, undefined, { timeout: 60_000 });
  assert.equal(await status(page), 'playing');
  assert.deepEqual(errors, []);
  await page.close();
});
