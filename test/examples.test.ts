// The embedding examples in a real browser: examples/webgpu (plain WebGPU, import map, no
// bundler) and examples/three (three.js WebGPURenderer, MRT G-buffer) load in headless Chromium
// from the repository as a static site, render, and give what `cnnv3 infer` gives on the same
// input; the sliders change the picture the way the model's controls say.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { decodePng, encodePng } from '../src/image/png.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../src/jobs/runner-node.js';
import { startStaticServer, type RunningServer } from '../src/serve/static-node.js';
import { IN_CI, REPO, runCli, tempDir } from './helpers.js';
import { writeSample } from './sample-fixtures.js';

let server: RunningServer | undefined;
let browser: Browser | undefined;
let skipReason: string | undefined;

before(async () => {
  if (!existsSync(CHROMIUM)) skipReason = `${CHROMIUM} missing: apt-get install chromium`;
  else if (!existsSync(join(REPO, 'dist/embed.js'))) skipReason = 'dist/embed.js not built: npm run build';
  else if (!existsSync(join(REPO, 'node_modules/three/build/three.webgpu.js'))) skipReason = 'three is not installed: npm ci';
  if (skipReason) {
    if (IN_CI) throw new Error(`CI must not skip: ${skipReason}`);
    console.warn(`\n*** SKIPPING the example tests: ${skipReason} ***\n`);
    return;
  }
  server = await startStaticServer({ root: REPO, port: 0 });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

interface Readback {
  width: number;
  height: number;
  data: number[];
}

async function openExample(path: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser!.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(`${server!.url}${path}`);
  await page.waitForFunction(() => ['ready', 'error'].includes(document.getElementById('status')?.dataset['state'] ?? ''), undefined, { timeout: 180_000 });
  const state = await page.getAttribute('#status', 'data-state');
  assert.equal(state, 'ready', `${path}: ${await page.textContent('#status')} ${errors.join(' | ')}`);
  return { page, errors };
}

/** `cnnv3 infer` on the same input: the float32 RGBA it writes. */
async function infer(dir: string, args: string[]): Promise<Float32Array> {
  const raw = join(dir, 'infer.f32');
  const r = await runCli(['infer', ...args, '--output', join(dir, 'infer.png'), '--output-raw', raw]);
  assert.equal(r.code, 0, r.err);
  const b = readFileSync(raw);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

/** Max and mean |a − b| over RGB (the alpha of a photo model is not shown). */
function rgbError(page: Readback, cli: Float32Array): { max: number; mean: number } {
  assert.equal(page.data.length, cli.length, 'same size');
  let max = 0;
  let sum = 0;
  let n = 0;
  for (let i = 0; i < cli.length; i++) {
    if (i % 4 === 3) continue;
    const d = Math.abs(Math.min(1, Math.max(0, page.data[i]!)) - Math.min(1, Math.max(0, cli[i]!)));
    max = Math.max(max, d);
    sum += d;
    n++;
  }
  return { max, mean: sum / n };
}

function meanRgbChange(a: Readback, b: Readback): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < a.data.length; i++) {
    if (i % 4 === 3) continue;
    sum += Math.abs(a.data[i]! - b.data[i]!);
    n++;
  }
  return sum / n;
}

test('examples/webgpu: a photo through the styles model matches cnnv3 infer; the style and strength sliders do what they say', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const dir = tempDir(t);
  const { page, errors } = await openExample('examples/webgpu/index.html');
  const output = async (cond: number[]): Promise<Readback> =>
    page.evaluate(async (c) => {
      const ex = (window as unknown as { cnnv3Example: { setCond(v: number[]): void; readOutput(): Promise<Readback> } }).cnnv3Example;
      ex.setCond(c);
      return ex.readOutput();
    }, cond);
  const photo = decodePng(new Uint8Array(readFileSync(join(REPO, 'examples/photos/cat.png'))), 'cat.png');
  const grade = await output([0, 0, 1, 1, 0]);
  assert.deepEqual([grade.width, grade.height], [photo.width, photo.height]);
  const cli = await infer(dir, ['--photo', 'examples/photos/cat.png', '--weights', 'examples/styles/cnn_v3_weights.bin', '--film', 'examples/styles/cnn_v3_film_mlp.bin', '--cond', '0,0,1,1,0']);
  const err = rgbError(grade, cli);
  assert.ok(err.max <= 2 / 255, `page vs infer: max |Δ| ${(err.max * 255).toFixed(2)}/255, mean ${(err.mean * 255).toFixed(3)}/255`);

  // The controls: the other style moves the picture; strength 0 gives back the photo.
  const sepia = await output([0, 0, 1, 0, 1]);
  const none = await output([0, 0, 0, 1, 0]);
  const styleChange = meanRgbChange(grade, sepia);
  let fromPhoto = 0;
  const rgba = photo.data as Uint8Array;
  for (let p = 0; p < photo.width * photo.height; p++) for (let c = 0; c < 3; c++) fromPhoto += Math.abs(none.data[p * 4 + c]! - rgba[p * photo.channels + c]! / 255);
  fromPhoto /= photo.width * photo.height * 3;
  const gradeFromPhoto = (() => {
    let s = 0;
    for (let p = 0; p < photo.width * photo.height; p++) for (let c = 0; c < 3; c++) s += Math.abs(grade.data[p * 4 + c]! - rgba[p * photo.channels + c]! / 255);
    return s / (photo.width * photo.height * 3);
  })();
  t.diagnostic(`page vs infer max ${(err.max * 255).toFixed(2)}/255; grade→sepia mean |Δ| ${(styleChange * 255).toFixed(1)}/255; strength 0 vs photo ${(fromPhoto * 255).toFixed(2)}/255, strength 1 vs photo ${(gradeFromPhoto * 255).toFixed(1)}/255`);
  assert.ok(styleChange > 8 / 255, `switching style changes the picture: mean |Δ| ${(styleChange * 255).toFixed(1)}/255`);
  assert.ok(fromPhoto < gradeFromPhoto / 4, `strength 0 stays near the photo (${(fromPhoto * 255).toFixed(2)}/255) and strength 1 does not (${(gradeFromPhoto * 255).toFixed(1)}/255)`);
  assert.deepEqual(errors, []);
  await page.close();
});

test('examples/three: three.js renders an MRT G-buffer, the effect runs on its device and matches cnnv3 infer on that G-buffer', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const dir = tempDir(t);
  const { page, errors } = await openExample('examples/three/index.html');
  const cond = [0.25, 0.5, 0.5, 0.5, 0.5];
  const { gbuffer, output } = await page.evaluate(async (c) => {
    type Ex = { renderAt(t: number, c: number[]): Promise<void>; readGBuffer(): Promise<Record<string, Readback>>; readOutput(): Promise<Readback> };
    const ex = (window as unknown as { cnnv3Example: Ex }).cnnv3Example;
    await ex.renderAt(1.3, c);
    return { gbuffer: await ex.readGBuffer(), output: await ex.readOutput() };
  }, cond);
  const { width, height } = output;
  const n = width * height;
  const am = gbuffer['albedoMatid']!.data;
  const nst = gbuffer['normalShadowTransp']!.data;
  const dp = gbuffer['depth']!.data;
  const byte = (v: number) => Math.round(Math.min(1, Math.max(0, v)) * 255);
  const planes = {
    albedo: new Uint8Array(n * 3),
    normal: new Uint8Array(n * 3),
    depth: new Uint16Array(n),
    matid: new Uint8Array(n),
    shadow: new Uint8Array(n),
    transp: new Uint8Array(n),
  };
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) planes.albedo[p * 3 + c] = byte(am[p * 4 + c]!);
    planes.matid[p] = byte(am[p * 4 + 3]!);
    planes.normal[p * 3] = byte(nst[p * 4]!);
    planes.normal[p * 3 + 1] = byte(nst[p * 4 + 1]!);
    planes.shadow[p] = byte(nst[p * 4 + 2]!);
    planes.transp[p] = byte(nst[p * 4 + 3]!);
    planes.depth[p] = Math.round(Math.min(1, Math.max(0, dp[p * 4]!)) * 65535);
  }
  // The scene is really there: several colours, normals facing several ways, depth that varies.
  const colours = new Set(Array.from({ length: n }, (_, p) => `${planes.albedo[p * 3]},${planes.albedo[p * 3 + 1]},${planes.albedo[p * 3 + 2]}`));
  const normals = new Set(Array.from({ length: n }, (_, p) => `${planes.normal[p * 3]},${planes.normal[p * 3 + 1]}`));
  assert.ok(colours.size >= 4 && normals.size >= 20, `G-buffer: ${colours.size} albedo colours, ${normals.size} normals`);
  assert.ok(Math.max(...planes.depth) - Math.min(...planes.depth) > 2000, 'depth varies');

  const sample = join(dir, 'gbuffer_sample');
  const mono = (data: Uint8Array) => encodePng({ width, height, channels: 1, depth: 8, data });
  writeSample(sample, {
    'albedo.png': encodePng({ width, height, channels: 3, depth: 8, data: planes.albedo }),
    'normal.png': encodePng({ width, height, channels: 3, depth: 8, data: planes.normal }),
    'depth.png': encodePng({ width, height, channels: 1, depth: 16, data: planes.depth }),
    'matid.png': mono(planes.matid),
    'shadow.png': mono(planes.shadow),
    'transp.png': mono(planes.transp),
    'target.png': encodePng({ width, height, channels: 3, depth: 8, data: planes.albedo }),
  });
  const cli = await infer(dir, ['--sample', sample, '--weights', 'examples/blender/cnn_v3_weights.bin', '--film', 'examples/blender/cnn_v3_film_mlp.bin', '--cond', cond.join(',')]);
  const err = rgbError(output, cli);
  t.diagnostic(`${width}×${height}: page (half-float G-buffer) vs infer (its PNGs): max |Δ| ${(err.max * 255).toFixed(2)}/255, mean ${(err.mean * 255).toFixed(3)}/255`);
  // The page feeds the half-float MRT values, infer their 8/16-bit PNG rounding (measured 0.4/255).
  assert.ok(err.max <= 2 / 255 && err.mean <= 0.1 / 255, `page vs infer: max |Δ| ${(err.max * 255).toFixed(2)}/255, mean ${(err.mean * 255).toFixed(3)}/255`);
  assert.deepEqual(errors, []);
  await page.close();
});
