import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../src/jobs/runner-node.js';
import { decodePng, encodePng } from '../src/image/png.js';
import { decodeImage } from '../src/image/decode.js';
import { toRgba8 } from '../src/image/image.js';
import { resizeLanczos3 } from '../src/image/resize.js';
import { startStaticServer, type RunningServer } from '../src/serve/static-node.js';
import { bufferIO } from '../src/cli/io.js';
import { startTool, toolRoot } from '../src/cli/commands/tool.js';
import { IN_CI, REPO, requireTool, runCli } from './helpers.js';
import { randomWeights } from '../src/verify/random-input.js';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const PHOTO = join(REPO, 'examples/photos/cat.png');
let server: RunningServer | undefined;
let browser: Browser | undefined;
let skipReason: string | undefined;

before(async () => {
  if (!existsSync(CHROMIUM)) skipReason = `${CHROMIUM} missing: apt-get install chromium`;
  else if (!existsSync(join(toolRoot(), 'index.html'))) skipReason = 'dist/tool not built: npm run build';
  if (skipReason) {
    if (IN_CI) throw new Error(`CI must not skip: ${skipReason}`);
    console.warn(`\n*** SKIPPING the tool tests: ${skipReason} ***\n`);
    return;
  }
  server = await startStaticServer({ root: toolRoot(), port: 0 });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

async function openTool(): Promise<Page> {
  const page = await browser!.newPage({ viewport: { width: 1200, height: 900 } });
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(server!.url);
  await waitReady(page);
  return page;
}

async function waitReady(page: Page, what = 'ready'): Promise<string> {
  await page.waitForFunction(
    (w) => {
      const s = document.querySelector('[data-testid=status]')?.textContent ?? '';
      return w === 'ready' ? s === 'ready' : s.startsWith(w);
    },
    what,
    { timeout: 120_000 },
  );
  return (await page.textContent('[data-testid=status]'))!;
}

/** Loads input files and waits for the render that follows. */
async function load(page: Page, testid: string, files: string | string[]): Promise<void> {
  await page.evaluate(() => {
    document.querySelector('[data-testid=status]')!.textContent = 'waiting';
  });
  await page.setInputFiles(`[data-testid=${testid}]`, files);
  await page.waitForFunction(() => document.querySelector('[data-testid=status]')?.textContent !== 'waiting', undefined, { timeout: 120_000 });
}

/** Picks a view by its label and waits for the render it triggers. */
async function showView(page: Page, label: string): Promise<void> {
  await page.evaluate((l) => {
    document.querySelector('[data-testid=status]')!.textContent = 'waiting';
    const sel = document.querySelector<HTMLSelectElement>('[data-testid=view-select]')!;
    sel.value = [...sel.options].find((o) => o.text === l)!.value;
    sel.dispatchEvent(new Event('input'));
  }, label);
  assert.equal(await waitReady(page), 'ready', label);
}

/**
 * The canvas as displayed: a screenshot of the element (a WebGPU canvas keeps no drawing
 * buffer after it is presented, so drawImage would read back nothing). The page shows the
 * canvas at 1 CSS pixel per canvas pixel and Playwright pins the sRGB colour profile.
 */
async function canvasPixels(page: Page): Promise<{ width: number; height: number; data: Uint8Array }> {
  const canvas = page.locator('[data-testid=output-canvas]');
  const box = (await canvas.boundingBox())!;
  const size = await canvas.evaluate((c: HTMLCanvasElement) => [c.width, c.height]);
  const png = await page.screenshot({ clip: { x: Math.round(box.x), y: Math.round(box.y), width: size[0]!, height: size[1]! } });
  const r = decodePng(new Uint8Array(png), 'canvas screenshot');
  const rgba = r.channels === 4 ? (r.data as Uint8Array) : Uint8Array.from({ length: r.width * r.height * 4 }, (_, i) => (i % 4 === 3 ? 255 : r.data[Math.floor(i / 4) * 3 + (i % 4)]!));
  return { width: r.width, height: r.height, data: rgba };
}

test('the tool renders a real photo with the bundled weights exactly as cnnv3 infer does', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const page = await openTool();
  assert.match((await page.textContent('[data-testid=adapter]'))!, /swiftshader|nvidia|amd|intel|apple/i);
  await load(page, 'image-input', PHOTO);
  assert.equal(await waitReady(page), 'ready');
  assert.match((await page.textContent('[data-testid=gpu-time]'))!, /ms \((timestamp queries|wall clock)/);
  const shown = await canvasPixels(page);
  assert.deepEqual([shown.width, shown.height], [320, 213]);

  const dir = join(REPO, 'out', 'test-tool');
  mkdirSync(dir, { recursive: true });
  const r = await runCli([
    'infer', '--weights', join(REPO, 'examples/weights/cnn_v3_weights.bin'), '--film', join(REPO, 'examples/weights/cnn_v3_film_mlp.bin'),
    '--photo', PHOTO, '--cond', '0,0,0,0.5,0.5', '--output', join(dir, 'cat.png'),
  ]);
  assert.equal(r.code, 0, r.err);
  const cli = decodePng(readFileSync(join(dir, 'cat.png')), 'cat.png');
  let worst = 0;
  assert.equal(cli.channels, 3, 'infer writes an opaque RGB PNG');
  for (let p = 0; p < 320 * 213; p++) for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(shown.data[p * 4 + c]! - cli.data[p * 3 + c]!));
  assert.ok(worst <= 1, `canvas vs cnnv3 infer: max difference ${worst} levels`);
  await page.screenshot({ path: join(dir, 'tool-cat.png') });

  // Moving a slider re-renders with a different FiLM condition.
  await page.evaluate(() => {
    document.querySelector('[data-testid=status]')!.textContent = 'waiting';
    const s = document.querySelector<HTMLInputElement>('[data-testid=slider-style_p0]')!;
    s.value = '1';
    s.dispatchEvent(new Event('input'));
    const b = document.querySelector<HTMLInputElement>('[data-testid=slider-audio_intensity]')!;
    b.value = '1';
    b.dispatchEvent(new Event('input'));
  });
  await waitReady(page);
  const moved = await canvasPixels(page);
  const changed = moved.data.filter((v, i) => i % 4 !== 3 && v !== shown.data[i]).length;
  assert.ok(changed > 1000, `only ${changed} values changed after moving the sliders`);
  await page.close();
});

test('a broken file shows its error in the page, and the page keeps working', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const page = await openTool();
  const dir = join(REPO, 'out', 'test-tool');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'broken.png'), 'this is not a png');
  await load(page, 'image-input', join(dir, 'broken.png'));
  assert.match(await waitReady(page, 'error:'), /^error: broken\.png: not a PNG or JPEG image$/);
  writeFileSync(join(dir, 'short_weights.bin'), new Uint8Array(100));
  await load(page, 'weights-input', join(dir, 'short_weights.bin'));
  assert.match(await waitReady(page, 'error:'), /short_weights\.bin: expected 3928 bytes, got 100/);
  await load(page, 'image-input', PHOTO);
  assert.equal(await waitReady(page), 'ready');
  await page.close();
});

test('a sample with a target shows a PSNR; channels and intermediate nodes can be viewed', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const dir = join(REPO, 'out', 'test-tool', 'sample_coffee');
  const r = await runCli(['pack-photo', '--photo', join(REPO, 'examples/photos/coffee.png'), '--target', join(REPO, 'examples/targets/coffee_styled.png'), '--output', dir]);
  assert.equal(r.code, 0, r.err);
  const page = await openTool();
  const files = ['albedo', 'normal', 'depth', 'matid', 'shadow', 'transp', 'target'].map((f) => join(dir, `${f}.png`));
  await load(page, 'sample-input', files);
  assert.equal(await waitReady(page), 'ready');
  const psnr = Number(/PSNR vs target ([\d.]+) dB/.exec((await page.textContent('[data-testid=psnr]'))!)?.[1]);
  assert.ok(psnr > 20, `PSNR ${psnr}`);
  for (const label of ['input 0: albedo.r', 'cnn_v3_enc1 ch 3', 'cnn_v3_bottleneck ch 0', '|output − target|']) {
    await showView(page, label);
  }
  await page.close();
});

test('"Inputs the model relies on": Measure on the page\'s GPU gives the losses cnnv3 eval --ablate reports; albedo matters, normals barely', async (t) => {
  if (skipReason) return t.skip(skipReason);
  // cat and its target shrunk to 80 px wide (as eval.test does): the CLI's nine float64 passes stay quick.
  const dir = join(REPO, 'out', 'test-tool', 'ablate');
  mkdirSync(dir, { recursive: true });
  const small = (src: string, dst: string) => {
    const r = decodeImage(readFileSync(src), src);
    const h = Math.round((r.height * 80) / r.width);
    writeFileSync(dst, encodePng({ width: 80, height: h, channels: 4, depth: 8, data: resizeLanczos3(toRgba8(r), r.width, r.height, 4, 80, h) }));
  };
  const photo = join(dir, 'cat.png');
  const tgt = join(dir, 'cat_styled.png');
  small(PHOTO, photo);
  small(join(REPO, 'examples/targets/cat_styled.png'), tgt);
  const packed = await runCli(['pack-photo', '--photo', photo, '--target', tgt, '--output', join(dir, 'set', 'sample_cat')]);
  assert.equal(packed.code, 0, packed.err);
  // The tool's sliders start at 0,0,0,0.5,0.5.
  const r = await runCli([
    'eval', '--weights', join(REPO, 'examples/weights/cnn_v3_weights.bin'), '--film', join(REPO, 'examples/weights/cnn_v3_film_mlp.bin'),
    '--input', join(dir, 'set'), '--cond', '0,0,0,0.5,0.5', '--ablate', '--json',
  ]);
  assert.equal(r.code, 0, r.err);
  const cli = JSON.parse(r.out) as { full_psnr: number; groups: Array<{ group: string; drop: number; psnr: number }> };

  const page = await openTool();
  const state = () => page.getAttribute('[data-testid=ablate-note]', 'data-state');
  assert.equal(await state(), 'needs-target', 'no input yet');
  await load(page, 'image-input', photo);
  assert.equal(await waitReady(page), 'ready');
  await page.click('[data-testid=ablate-measure]');
  assert.equal(await state(), 'needs-target', 'a photo without its target');
  assert.match((await page.textContent('[data-testid=ablate-note]'))!, /^needs a target/);
  assert.equal(await page.locator('[data-testid=ablate-row]').count(), 0);
  await load(page, 'target-input', tgt);
  assert.equal(await waitReady(page), 'ready');
  assert.equal(await state(), 'idle');
  const caption = Number(/PSNR vs target ([\d.]+) dB/.exec((await page.textContent('[data-testid=psnr]'))!)?.[1]);
  await page.click('[data-testid=ablate-measure]');
  await page.waitForFunction(() => ['done', 'failed'].includes(document.querySelector<HTMLElement>('[data-testid=ablate-note]')!.dataset['state']!), undefined, { timeout: 120_000 });
  const note = (await page.textContent('[data-testid=ablate-note]'))!;
  assert.equal(await state(), 'done', note);
  const full = Number(await page.getAttribute('[data-testid=ablate-bars]', 'data-full'));
  const rows = await page.$$eval('[data-testid=ablate-row]', (els) =>
    els.map((e) => ({ group: (e as HTMLElement).dataset['group']!, drop: Number((e as HTMLElement).dataset['drop']), psnr: Number((e as HTMLElement).dataset['psnr']), text: e.textContent!, bar: (e.previousElementSibling as HTMLElement).style.width })),
  );
  const lines = [`every input: tool ${full.toFixed(3)} dB, eval ${cli.full_psnr.toFixed(3)} dB`, ...rows.map((x) => `${x.group}: lost ${x.drop.toFixed(3)} dB in the tool, ${cli.groups.find((c) => c.group === x.group)!.drop.toFixed(3)} dB in eval`)];
  console.log(`  ablation, tool (WebGPU effect) vs cnnv3 eval --ablate (float64 reference):\n    ${lines.join('\n    ')}`);
  // GPU (f16 packed features and nodes) against the float64 reference: within 0.1 dB each.
  const TOL = 0.1;
  assert.ok(Math.abs(full - cli.full_psnr) < TOL, lines[0]);
  assert.ok(Math.abs(full - caption) < 0.01, `the every-input run is the frame shown: ${full} vs caption ${caption}`);
  assert.deepEqual(rows.map((x) => x.group).sort(), cli.groups.map((c) => c.group).sort(), 'the same eight groups');
  for (const x of rows) {
    const c = cli.groups.find((g) => g.group === x.group)!;
    assert.ok(Math.abs(x.drop - c.drop) < TOL && Math.abs(x.psnr - c.psnr) < TOL, `${x.group}: tool −${x.drop} dB (${x.psnr}), eval −${c.drop} dB (${c.psnr})`);
    assert.equal(x.text, `${x.drop >= 0 ? '−' : '+'}${Math.abs(x.drop).toFixed(2)} dB`, 'the number beside the bar');
  }
  const drop = (g: string) => rows.find((x) => x.group === g)!.drop;
  assert.equal(rows[0]!.group, 'albedo', 'largest loss first');
  assert.ok(drop('albedo') > drop('normal') + 3, `albedo −${drop('albedo')} dB vs normal −${drop('normal')} dB`);
  assert.equal(drop('prev'), 0, 'prev is black in every run, as in eval');
  assert.equal(rows[0]!.bar, '100%');
  assert.match(note, /relies most on albedo: [\d.]+ dB lost/);
  await page.locator('[data-testid=ablate-panel]').screenshot({ path: join(dir, 'ablate-panel.png') });
  // A new input resets the panel.
  await load(page, 'image-input', photo);
  assert.equal(await state(), 'needs-target');
  assert.equal(await page.locator('[data-testid=ablate-row]').count(), 0);
  await page.close();
});

test('a wide model (enc_channels [8, 16], read from its weights file) renders as cnnv3 infer does, and its intermediate channels can be viewed', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const dir = join(REPO, 'out', 'test-tool', 'wide');
  mkdirSync(dir, { recursive: true });
  const w = randomWeights({ encChannels: [8, 16], filmCondDim: 5 }, 17);
  writeFileSync(join(dir, 'cnn_v3_weights.bin'), w.weights);
  writeFileSync(join(dir, 'cnn_v3_film_mlp.bin'), w.film);
  const page = await openTool();
  await load(page, 'weights-input', join(dir, 'cnn_v3_weights.bin'));
  await load(page, 'film-input', join(dir, 'cnn_v3_film_mlp.bin'));
  await load(page, 'image-input', PHOTO);
  assert.equal(await waitReady(page), 'ready');
  const out = (await page.evaluate(() => (globalThis as unknown as { cnnv3Tool: { readOutput: () => Promise<number[] | undefined> } }).cnnv3Tool.readOutput()))!;
  const r = await runCli([
    'infer', '--weights', join(dir, 'cnn_v3_weights.bin'), '--film', join(dir, 'cnn_v3_film_mlp.bin'),
    '--photo', PHOTO, '--cond', '0,0,0,0.5,0.5', '--output', join(dir, 'cat.png'), '--output-raw', join(dir, 'cat.f32'),
  ]);
  assert.equal(r.code, 0, r.err);
  const cli = new Float32Array(new Uint8Array(readFileSync(join(dir, 'cat.f32'))).buffer);
  assert.equal(out.length, cli.length);
  let worst = 0;
  for (let i = 0; i < cli.length; i++) worst = Math.max(worst, Math.abs(out[i]! - cli[i]!));
  assert.ok(worst < 2 ** -7, `tool vs cnnv3 infer: max |Δ| ${worst}`);
  assert.ok(out.some((v) => Math.abs(v - 0.5) > 0.05), 'the output is not 0.5 gray');

  const labels = await page.$$eval('[data-testid=view-select] option', (os) => os.map((o) => o.textContent));
  assert.ok(labels.includes('cnn_v3_enc0_c8 ch 7') && labels.includes('cnn_v3_bottleneck_c16 ch 15'), 'the wide model\'s channels are offered');
  assert.ok(!labels.includes('cnn_v3_enc0 ch 0'), 'the bundled model\'s nodes are gone');
  for (const label of ['cnn_v3_enc1_c16 ch 13', 'cnn_v3_dec1_c8 ch 6']) {
    await showView(page, label);
    const shown = await canvasPixels(page);
    const levels = new Set(shown.data.filter((_, i) => i % 4 === 0));
    assert.ok(levels.size > 8, `${label}: only ${levels.size} gray levels shown`);
  }
  await page.close();
});

test('a multilayer EXR (made by OpenImageIO, Blender channel names) loads as a full sample with its target', async (t) => {
  if (skipReason) return t.skip(skipReason);
  if (!requireTool(t, '/usr/bin/oiiotool', 'openimageio-tools')) return;
  const dir = join(REPO, 'out', 'test-tool');
  mkdirSync(dir, { recursive: true });
  const exr = join(dir, 'frame.exr');
  const names = ['Combined.R', 'Combined.G', 'Combined.B', 'Combined.A', 'DiffCol.R', 'DiffCol.G', 'DiffCol.B'].map((c) => `ViewLayer.${c}`);
  execFileSync('/usr/bin/oiiotool', [
    '--pattern', 'fill:top=0.1,0.5,0.9,1,0.8,0.2,0.1:bottom=0.9,0.4,0.1,1,0.1,0.3,0.7', '40x24', '7',
    '--chnames', names.join(','), '-d', 'half', '--compression', 'zip', '-o', exr,
  ]);
  const page = await openTool();
  await load(page, 'image-input', exr);
  assert.equal(await waitReady(page), 'ready');
  assert.match((await page.textContent('#input-note'))!, /^EXR frame\.exr/);
  assert.equal(await page.textContent('#size'), '40×24');
  assert.match((await page.textContent('[data-testid=psnr]'))!, /PSNR vs target [\d.]+ dB/);
  writeFileSync(join(dir, 'fake.exr'), new Uint8Array([0x76, 0x2f, 0x31, 0x01, 2, 0, 0, 0, 1, 2]));
  await load(page, 'image-input', join(dir, 'fake.exr'));
  assert.match(await waitReady(page, 'error:'), /^error: fake\.exr: /);
  await page.close();
});

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A raw request line (no URL normalisation by the client). */
async function rawGet(port: number, path: string, host = `127.0.0.1:${port}`): Promise<number> {
  const { connect } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
    let data = '';
    s.on('data', (c) => (data += c.toString()));
    s.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1])));
    s.on('error', reject);
  });
}

test('the tool server: 127.0.0.1, no traversal, foreign Host/Origin refused, no CORS', async () => {
  const root = join(REPO, 'out', 'test-server', 'root');
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'index.html'), '<p>hi</p>');
  writeFileSync(join(REPO, 'out', 'test-server', 'secret.txt'), 'secret');
  try {
    symlinkSync(join(REPO, 'out', 'test-server', 'secret.txt'), join(root, 'link.txt'));
  } catch {
    // already there from an earlier run
  }
  const s = await startStaticServer({ root, port: 0 });
  try {
    assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const ok = await get(s.url);
    assert.equal(ok.status, 200);
    assert.equal(ok.body, '<p>hi</p>');
    assert.equal(ok.headers['access-control-allow-origin'], undefined);
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/%252e%252e/secret.txt', '/..%5csecret.txt', '/%2e%2e%2fsecret.txt', '/link.txt', '/index.html%00.png', '//etc/passwd', '/nope']) {
      const status = await rawGet(s.port, path);
      assert.ok(status === 404 || status === 403 || status === 400, `${path} → ${status}`);
    }
    assert.equal((await get(s.url, { host: 'evil.example:80' })).status, 403);
    assert.equal((await get(s.url, { origin: 'http://evil.example' })).status, 403);
    assert.equal((await get(s.url, { origin: `http://127.0.0.1:${s.port}` })).status, 200);
  } finally {
    await s.close();
  }
  // `cnnv3 tool` itself, in-process.
  const io = bufferIO();
  const tool = await startTool(['--port', '0'], io);
  try {
    assert.match(io.out, /^cnnv3 tool: http:\/\/127\.0\.0\.1:\d+\/ {2}\(Ctrl-C to stop\)\n$/);
    assert.equal((await get(tool!.url)).status, 200);
  } finally {
    await tool!.close();
  }
});

test('the styles model: sliders named from its config (strength, style axes); moving the style morphs the picture, each setting as cnnv3 infer renders it', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const styles = join(REPO, 'examples/styles');
  const page = await openTool();
  await load(page, 'weights-input', join(styles, 'cnn_v3_weights.bin'));
  await load(page, 'film-input', join(styles, 'cnn_v3_film_mlp.bin'));
  await load(page, 'image-input', PHOTO);
  assert.equal(await waitReady(page), 'ready');
  const text = (name: string) => page.textContent(`[data-testid=slider-label-${name}]`);
  assert.match((await text('audio_intensity'))!, /^strength \(audio_intensity\)/);
  assert.match((await text('style_p0'))!, /^style axis 1 \(style_p0\)/);
  assert.match((await text('style_p1'))!, /^style axis 2 \(style_p1\)/);
  assert.equal(await text('beat_phase'), 'beat_phase');
  assert.equal(await page.inputValue('[data-testid=slider-audio_intensity]'), '1', 'the strength knob starts at the full style');

  const dir = join(REPO, 'out', 'test-tool', 'styles');
  mkdirSync(dir, { recursive: true });
  const outputs: number[][] = [];
  for (const [p0, p1] of [[1, 0], [0, 1]] as const) {
    await page.evaluate(([a, b]) => {
      document.querySelector('[data-testid=status]')!.textContent = 'waiting';
      for (const [name, v] of [['style_p0', a], ['style_p1', b]] as const) {
        const s = document.querySelector<HTMLInputElement>(`[data-testid=slider-${name}]`)!;
        s.value = String(v);
        s.dispatchEvent(new Event('input'));
      }
    }, [p0, p1]);
    assert.equal(await waitReady(page), 'ready');
    const out = (await page.evaluate(() => (globalThis as unknown as { cnnv3Tool: { readOutput: () => Promise<number[] | undefined> } }).cnnv3Tool.readOutput()))!;
    const raw = join(dir, `cat_${p0}_${p1}.f32`);
    const r = await runCli([
      'infer', '--weights', join(styles, 'cnn_v3_weights.bin'), '--film', join(styles, 'cnn_v3_film_mlp.bin'), '--photo', PHOTO,
      '--cond', '0,0,1,0.5,0.5', '--style', `${p0},${p1}`, '--output', join(dir, `cat_${p0}_${p1}.png`), '--output-raw', raw,
    ]);
    assert.equal(r.code, 0, r.err);
    const cli = new Float32Array(new Uint8Array(readFileSync(raw)).buffer);
    let worst = 0;
    for (let i = 0; i < cli.length; i++) worst = Math.max(worst, Math.abs(out[i]! - cli[i]!));
    assert.ok(worst < 2 ** -7, `style ${p0},${p1}: tool vs cnnv3 infer: max |Δ| ${worst}`);
    outputs.push(out);
  }
  let change = 0;
  for (let i = 0; i < outputs[0]!.length; i++) if (i % 4 !== 3) change += Math.abs(outputs[0]![i]! - outputs[1]![i]!);
  change /= (outputs[0]!.length * 3) / 4;
  assert.ok(change > 0.03, `style (1,0) vs (0,1): mean |Δ| ${change.toFixed(4)} is no more than noise`);
  await page.close();
});

test('feedback: on, each render feeds its output back as prev (the picture moves on a still photo); reset history gives the first frame again; off is the plain render', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const page = await openTool();
  await load(page, 'image-input', PHOTO);
  assert.equal(await waitReady(page), 'ready');
  const read = () => page.evaluate(() => (globalThis as unknown as { cnnv3Tool: { readOutput: () => Promise<number[] | undefined> } }).cnnv3Tool.readOutput()) as Promise<number[]>;
  const act = async (what: 'toggle' | 'reset' | 'nudge') => {
    await page.evaluate((w) => {
      document.querySelector('[data-testid=status]')!.textContent = 'waiting';
      if (w === 'toggle') document.querySelector<HTMLInputElement>('[data-testid=feedback-toggle]')!.click();
      else if (w === 'reset') document.querySelector<HTMLButtonElement>('[data-testid=reset-history]')!.click();
      else document.querySelector<HTMLInputElement>('[data-testid=slider-beat_phase]')!.dispatchEvent(new Event('input'));
    }, what);
    assert.equal(await waitReady(page), 'ready', what);
  };
  const plain = await read();
  await act('toggle'); // on: the first frame still sees a black history
  assert.deepEqual(await read(), plain, 'the first frame with feedback has a black history');
  await act('nudge'); // the same condition, but now prev holds the last output
  const second = await read();
  assert.ok(second.some((v, i) => v !== plain[i]), 'the fed-back output changes the next frame');
  await act('reset');
  assert.deepEqual(await read(), plain, 'reset history: the first frame again');
  await act('toggle'); // off
  await act('nudge');
  assert.deepEqual(await read(), plain, 'feedback off: every render is the plain one');
  await page.close();
});
