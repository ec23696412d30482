import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTool, toolRoot } from '../src/cli/commands/tool.js';
import { bufferIO } from '../src/cli/io.js';
import { exportWeights } from '../src/export/export.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../src/jobs/runner-node.js';
import { decodePng, encodePng } from '../src/image/png.js';
import { DEFAULT_MODEL_CONFIG } from '../src/model/config.js';
import { initParams } from '../src/model/init.js';
import { buildParamTable } from '../src/model/params.js';
import { IN_CI, REPO, runCli } from './helpers.js';

const DIR = join(REPO, 'out', 'test-tool-train');
const PHOTO = join(DIR, 'photo.png');
const TARGET = join(DIR, 'target.png');
const SEED = 7;
let server: { url: string; close(): Promise<void> } | undefined;
let browser: Browser | undefined;
let skipReason: string | undefined;

/** A 48×32 photo with corners for the keypoint detector, and a recoloured target for it. */
function writeFixtures(): void {
  mkdirSync(DIR, { recursive: true });
  const W = 48;
  const H = 32;
  const photo = new Uint8Array(W * H * 3);
  const target = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const p = (y * W + x) * 3;
      const check = ((x >> 3) + (y >> 3)) & 1;
      photo[p] = check ? 200 : 40 + x * 2;
      photo[p + 1] = check ? 60 + y * 4 : 180;
      photo[p + 2] = (x * 5 + y * 3) & 255;
      target[p] = 255 - photo[p + 2]!;
      target[p + 1] = (photo[p]! >> 1) + 60;
      target[p + 2] = photo[p + 1]!;
    }
  }
  writeFileSync(PHOTO, encodePng({ width: W, height: H, channels: 3, depth: 8, data: photo }));
  writeFileSync(TARGET, encodePng({ width: W, height: H, channels: 3, depth: 8, data: target }));
}

before(async () => {
  if (!existsSync(CHROMIUM)) skipReason = `${CHROMIUM} missing: apt-get install chromium`;
  else if (!existsSync(join(toolRoot(), 'index.html'))) skipReason = 'dist/tool not built: npm run build';
  if (skipReason) {
    if (IN_CI) throw new Error(`CI must not skip: ${skipReason}`);
    console.warn(`\n*** SKIPPING the tool train tests: ${skipReason} ***\n`);
    return;
  }
  writeFixtures();
  server = await startTool(['--port', '0'], bufferIO());
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const status = (page: Page) => page.textContent('[data-testid=status]').then((s) => s ?? '');

async function waitStatus(page: Page, prefix: string): Promise<string> {
  await page.waitForFunction((w) => (document.querySelector('[data-testid=status]')?.textContent ?? '').startsWith(w), prefix, { timeout: 60_000 });
  return status(page);
}

/**
 * Marks the status line, runs `act`, and waits until the page has settled: `ready` after the
 * render that follows, or an error. Every step waits for this, so no earlier render is still
 * pending to overwrite the mark.
 */
async function acted(page: Page, act: () => Promise<unknown>): Promise<string> {
  await page.evaluate(() => {
    document.querySelector('[data-testid=status]')!.textContent = 'waiting';
  });
  await act();
  await page.waitForFunction(
    () => {
      const s = document.querySelector('[data-testid=status]')?.textContent ?? '';
      return s === 'ready' || s.startsWith('error:');
    },
    undefined,
    { timeout: 60_000 },
  );
  return status(page);
}

async function canvasPixels(page: Page): Promise<Uint8Array> {
  await page.evaluate(() => window.scrollTo(0, 0));
  const canvas = page.locator('[data-testid=output-canvas]');
  const box = (await canvas.boundingBox())!;
  const [w, h] = await canvas.evaluate((c: HTMLCanvasElement) => [c.width, c.height]);
  const png = await page.screenshot({ clip: { x: Math.round(box.x), y: Math.round(box.y), width: w!, height: h! } });
  return decodePng(new Uint8Array(png), 'canvas screenshot').data as Uint8Array;
}

async function download(page: Page, testid: string): Promise<{ name: string; bytes: Uint8Array }> {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click(`[data-testid=${testid}]`)]);
  return { name: dl.suggestedFilename(), bytes: new Uint8Array(readFileSync((await dl.path())!)) };
}

async function train(page: Page, options: Record<string, string>): Promise<void> {
  for (const [id, v] of Object.entries(options)) {
    if (id === 'train-output' || id === 'train-loss-kind') await page.selectOption(`[data-testid=${id}]`, v);
    else await page.fill(`[data-testid=${id}]`, v);
  }
  await page.click('[data-testid=train-start]');
  await page.waitForFunction(() => ['done', 'stopped', 'failed'].includes(document.querySelector('[data-testid=train-state]')?.textContent ?? ''), undefined, {
    timeout: 60_000,
  });
  assert.equal(await page.textContent('[data-testid=train-state]'), 'done', await status(page));
}

const TINY = { 'train-epochs': '2', 'train-patch-size': '16', 'train-patches': '4', 'train-batch': '16', 'train-lr': '0.001', 'train-seed': String(SEED) };

test('the train panel trains on the loaded photo and its target, exports both files and puts them in the viewer', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const page = await browser!.newPage({ viewport: { width: 1200, height: 1400 } });
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(server!.url);
  await waitStatus(page, 'ready');

  // Nothing loaded, a target before its photo, a photo without a target: each says so in the
  // status line and trains nothing.
  await acted(page, () => page.click('[data-testid=train-start]'));
  assert.match(await status(page), /^error: train: load a photo with its target, a sample or an EXR first$/);
  await acted(page, () => page.setInputFiles('[data-testid=target-input]', TARGET));
  assert.match(await status(page), /^error: target\.png: a target goes with a photo: load the photo first$/);
  assert.equal(await acted(page, () => page.setInputFiles('[data-testid=image-input]', PHOTO)), 'ready');
  await acted(page, () => page.click('[data-testid=train-start]'));
  assert.match(await status(page), /^error: train: the photo photo\.png has no target: pick one/);
  assert.equal(await page.getAttribute('[data-testid=train-curve]', 'data-points'), null);
  assert.equal(await page.textContent('[data-testid=train-state]'), 'idle');

  assert.equal(await acted(page, () => page.setInputFiles('[data-testid=target-input]', TARGET)), 'ready');
  assert.match((await page.textContent('[data-testid=psnr]'))!, /PSNR vs target [\d.]+ dB/);
  const before = await canvasPixels(page);

  const t0 = performance.now();
  await train(page, TINY);
  const seconds = (performance.now() - t0) / 1000;
  assert.equal(await page.textContent('[data-testid=train-epoch]'), 'epoch 2/2');
  assert.equal(await page.getAttribute('[data-testid=train-curve]', 'data-points'), '2');
  const losses = JSON.parse((await page.getAttribute('[data-testid=train-curve]', 'data-losses'))!) as number[];
  assert.equal(losses.length, 2);
  assert.ok(losses.every((l) => Number.isFinite(l) && l > 0 && l < 1), `losses ${losses}`);
  assert.match((await page.textContent('[data-testid=train-rate]'))!, /^\d+ patches\/s$/);
  assert.match(await status(page), /^trained 2 epochs on 1 sample/);
  console.log(`  page training: 2 epochs in ${seconds.toFixed(1)} s (pipelines included), losses ${losses.map((l) => l.toFixed(6)).join(', ')}`);

  const weights = await download(page, 'download-weights');
  const film = await download(page, 'download-film');
  assert.equal(weights.name, 'cnn_v3_weights.bin');
  assert.equal(film.name, 'cnn_v3_film_mlp.bin');
  assert.equal(weights.bytes.length, 3928);
  assert.equal(film.bytes.length, 3104);
  // Trained, not the initialisation it started from.
  const init = exportWeights(DEFAULT_MODEL_CONFIG, initParams(buildParamTable(DEFAULT_MODEL_CONFIG), SEED));
  assert.notDeepEqual(weights.bytes, init.weights);
  assert.notDeepEqual(film.bytes, init.film);

  // The same kernels and the same seeded steps as `cnnv3 train --device gpu` on the packed sample.
  const data = join(DIR, 'dataset');
  rmSync(data, { recursive: true, force: true });
  let r = await runCli(['pack-photo', '--photo', PHOTO, '--target', TARGET, '--output', join(data, 'photo')]);
  assert.equal(r.code, 0, r.err);
  r = await runCli([
    'train', '--input', data, '--device', 'gpu', '--epochs', '2', '--patch-size', '16', '--patches-per-image', '4', '--seed', String(SEED),
    '--checkpoint-dir', join(DIR, 'ckpt'),
  ]);
  assert.equal(r.code, 0, r.err);
  const cli = readFileSync(join(DIR, 'ckpt', 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { loss: number }).loss);
  losses.forEach((l, i) => assert.ok(Math.abs(l - cli[i]!) <= 1e-4 * cli[i]!, `epoch ${i + 1}: page ${l}, cnnv3 train --device gpu ${cli[i]}`));

  assert.equal(await acted(page, () => page.click('[data-testid=train-use]')), 'ready');
  assert.match((await page.textContent('#weights-note'))!, /trained in the page/);
  const afterUse = await canvasPixels(page);
  const changed = afterUse.filter((v, i) => i % 4 !== 3 && v !== before[i]).length;
  assert.ok(changed > 48 * 32, `only ${changed} values changed after using the trained weights`);

  // The residual output: its weights file carries the 16-byte trailer, the FiLM file is the same size.
  // (Trained with the loss and weight decay the panel offers: --loss l1 --weight-decay 0.01.)
  await train(page, { ...TINY, 'train-epochs': '1', 'train-output': 'residual', 'train-loss-kind': 'l1', 'train-weight-decay': '0.01' });
  assert.equal((await download(page, 'download-weights')).bytes.length, 3944);
  assert.equal((await download(page, 'download-film')).bytes.length, 3104);
  await page.close();
});

test('the train panel: a set of several samples, stop between epochs, bad options, no WebGPU', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const page = await browser!.newPage({ viewport: { width: 1200, height: 1400 } });
  await page.goto(server!.url);
  await waitStatus(page, 'ready');
  assert.equal(await acted(page, () => page.setInputFiles('[data-testid=image-input]', PHOTO)), 'ready');
  await acted(page, () => page.click('[data-testid=train-add]'));
  assert.match(await status(page), /^error: train: the photo photo\.png has no target/);
  assert.equal(await acted(page, () => page.setInputFiles('[data-testid=target-input]', TARGET)), 'ready');
  await page.click('[data-testid=train-add]');
  await page.click('[data-testid=train-add]');
  assert.equal(await page.textContent('[data-testid=train-set]'), 'training set: photo.png 48×32, photo.png 48×32');
  await train(page, { ...TINY, 'train-epochs': '1' });
  assert.match(await status(page), /^trained 1 epoch on 2 samples/);
  await page.click('[data-testid=train-clear]');
  assert.equal(await page.textContent('[data-testid=train-set]'), 'trains on the loaded input (it needs a target)');

  // Stop: the run ends after the epoch under way, and what it trained so far can be downloaded.
  await page.fill('[data-testid=train-epochs]', '1000');
  await page.click('[data-testid=train-start]');
  await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('[data-testid=train-curve]')?.dataset['points'] ?? 0) >= 1, undefined, { timeout: 60_000 });
  await page.click('[data-testid=train-stop]');
  await page.waitForFunction(() => document.querySelector('[data-testid=train-state]')?.textContent === 'stopped', undefined, { timeout: 60_000 });
  const epochs = Number(/^trained (\d+) epochs? on 1 sample/.exec(await status(page))?.[1]);
  assert.ok(epochs >= 1 && epochs < 1000, `stopped after ${epochs} epochs`);
  assert.equal(Number(await page.getAttribute('[data-testid=train-curve]', 'data-points')), epochs);
  assert.equal((await download(page, 'download-weights')).bytes.length, 3928);

  await page.fill('[data-testid=train-epochs]', '0');
  await acted(page, () => page.click('[data-testid=train-start]'));
  assert.match(await status(page), /^error: train: epochs must be a whole number from 1 to 100000; got 0$/);
  assert.equal(await page.textContent('[data-testid=train-state]'), 'failed');
  await page.fill('[data-testid=train-epochs]', '2');
  await page.fill('[data-testid=train-lr]', '-1');
  await acted(page, () => page.click('[data-testid=train-start]'));
  assert.match(await status(page), /^error: train: learning rate must be in \(0, 1\); got -1$/);
  await page.fill('[data-testid=train-lr]', '0.001');
  await page.fill('[data-testid=train-weight-decay]', '-1');
  await acted(page, () => page.click('[data-testid=train-start]'));
  assert.match(await status(page), /^error: train: weight decay must be at least 0 and below 1\/learning rate; got -1$/);
  await page.close();

  // A browser without WebGPU: the viewer says so, and so does the train panel.
  const bare = await browser!.newPage();
  // A string: a function would be serialised with the test transpiler's helpers in it.
  await bare.addInitScript(`Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined });`);
  await bare.goto(server!.url);
  assert.match(await waitStatus(bare, 'error:'), /WebGPU is not available in this browser/);
  await bare.setInputFiles('[data-testid=image-input]', PHOTO);
  await bare.setInputFiles('[data-testid=target-input]', TARGET);
  await bare.waitForFunction(() => (document.querySelector('#input-note')?.textContent ?? '').includes('target target.png'), undefined, { timeout: 60_000 });
  await bare.click('[data-testid=train-start]');
  assert.match(await waitStatus(bare, 'error: train:'), /^error: train: WebGPU is not available in this browser/);
  await bare.close();
});
