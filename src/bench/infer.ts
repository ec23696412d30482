/**
 * `npm run bench:infer`: GPU time per frame of CNNv3Effect's passes at 1280×720, 1920×1080
 * and 3840×2160, for each precision the adapter offers (f32 everywhere, f16 arithmetic where it
 * has shader-f16), from timestamp queries: median and spread
 * (p10–p90) per pass, their sum, and the frame's span on the GPU (first pass's start to last
 * pass's end, the gaps between passes included: what a CUDA-event timing of PyTorch measures).
 * Then the cost as it grows: the 720p → 4K time ratio against the 9× pixel ratio, flagging a
 * step whose time grows less than half as fast as its pixels (fixed costs dominate there).
 *
 * Frames are encoded ten to a command buffer with their timestamps copied aside, so the GPU never
 * waits for the CPU and every frame is a sample. Runs on a hardware GPU
 * through Dawn when there is one, else on SwiftShader (software: figures only for comparison).
 *
 * Then the same sizes and precisions in headless Chromium through the browser's WebGPU (the
 * jobs page, dist/jobs/page-bundle.js): each frame encoded, submitted and waited for, timed with
 * performance.now() (median, p10–p90), plus the passes' GPU time where the page has timestamp
 * queries (unquantised: Chromium runs with the WebGPU developer features). Without
 * /usr/bin/chromium that part reports it is missing; --no-chromium skips it.
 *
 * Flags: --frames=N (timed frames per size and precision, default 400; Chromium's too),
 * --sizes=WxH,… , --precision=all|auto|f32|f16 (default all: every precision the adapter offers;
 * f16 without shader-f16 is refused with where it exists), --enc-channels=C0,C1, --json (one
 * JSON object), --markdown (the README's table), --write-weights=DIR (the random weights, FiLM
 * MLP, condition and a 37×23 check case for bench/torch/bench_torch.py),
 * --chromium-adapter=swiftshader|default (default: swiftshader where Dawn found no hardware
 * adapter or VK_ICD_FILENAMES names SwiftShader, else the browser's own GPU), --no-chromium.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MODEL_CONFIG, makeModelConfig, parseEncChannels, type ModelConfig } from '../model/config.js';
import { randomPlanes, randomWeights } from '../verify/random-input.js';
import { createNodeGpu } from '../gpu/device-node.js';
import { gpuAwait, type GpuContext } from '../gpu/context.js';
import { CnnNodeEffect } from '../effect/cnn-node-effect.js';
import { completePlanes, FeaturePass } from '../effect/feature-pass.js';
import { TextureNodes } from '../effect/nodes.js';
import { computeFeatures, NUM_FEATURES } from '../dataset/features.js';
import { packFeatures, unpackFeatures } from '../dataset/gpu-pack.js';
import { evalFilmMlp, readFilmMlpBin, readWeightsBin } from '../export/read.js';
import { buildParamTable } from '../model/params.js';
import { forward, tensor } from '../model/reference.js';
import { resolvePrecision, type Arithmetic } from '../effect/precision.js';
import { CnnV3Error, isCnnV3Error } from '../errors.js';
import { CHROMIUM, chromiumArgs, chromiumRunner, defaultPageBundle, type ChromiumAdapter } from '../jobs/runner-node.js';
import type { FrameBenchJob } from '../jobs/jobs.js';
import { toBase64 } from '../util/base64.js';

type Precision = Arithmetic;

interface Spread {
  median: number;
  p10: number;
  p90: number;
}

interface SizeResult {
  width: number;
  height: number;
  precision: Precision;
  samples: number;
  passes: Record<string, Spread>;
  /** Sum of the five passes' times. */
  total: Spread;
  /** First pass's start to last pass's end. */
  span: Spread;
  wallMs: number;
}

function flag(name: string): string | undefined {
  const a = process.argv.find((x) => x === `--${name}` || x.startsWith(`--${name}=`));
  return a === undefined ? undefined : a.includes('=') ? a.slice(a.indexOf('=') + 1) : '';
}

function quantile(sorted: number[], q: number): number {
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (i - lo);
}

function spread(xs: number[]): Spread {
  const s = [...xs].sort((a, b) => a - b);
  return { median: quantile(s, 0.5), p10: quantile(s, 0.1), p90: quantile(s, 0.9) };
}

/**
 * The precisions to time on a device: 'all', every one it offers (f32, and f16 arithmetic with
 * shader-f16); otherwise the one asked, resolved as the effect resolves it (f16 without the
 * feature is refused, naming it, rather than timing f32 under its name).
 */
function precisions(device: GPUDevice, asked: string): Precision[] {
  if (asked === 'all') return device.features.has('shader-f16') ? ['f32', 'f16'] : ['f32'];
  if (asked !== 'auto' && asked !== 'f32' && asked !== 'f16') throw new CnnV3Error(`bench:infer: --precision must be all, auto, f32 or f16, got ${JSON.stringify(asked)}`);
  return [resolvePrecision(device, asked)];
}

interface ChromiumResult {
  width: number;
  height: number;
  precision: Precision;
  samples: number;
  /** performance.now() around each frame's encode, submit and onSubmittedWorkDone. */
  frame: Spread;
  /** The passes' GPU time (sum) and span, from the page's timestamp queries, when it has them. */
  total?: Spread;
  span?: Spread;
}

type ChromiumReport = { adapter: string; flags: ChromiumAdapter; shaderF16: boolean; timestamps: boolean; results: ChromiumResult[] } | { error: string };

async function timeSize(ctx: GpuContext, config: ModelConfig, w: { weights: Uint8Array; film: Uint8Array }, cond: number[], width: number, height: number, precision: Precision, frames: number): Promise<SizeResult> {
  const nodes = new TextureNodes(ctx.device);
  const features = new FeaturePass(ctx.device);
  const cnn = new CnnNodeEffect(ctx.device, { config, precision });
  const effect = cnn.effect;
  try {
    features.upload(randomPlanes(width, height, 1), nodes);
    effect.uploadWeights(ctx.device.queue, w.weights);
    effect.uploadFilmMlp(w.film);
    effect.setFilmParams(cond);
    if (!effect.enableTimestamps()) throw new Error('bench:infer needs the timestamp-query feature');
    // Frames go PER_SUBMIT to a command buffer, each followed by a copy of its timestamps into
    // one buffer read back at the end: the GPU never waits for the CPU (Dawn's per-submit CPU
    // cost in Node is about that of a 1080p frame's GPU time, and a GPU left idle between frames
    // lowers its clocks), as a CUDA graph keeps it busy for PyTorch.
    const PER_SUBMIT = 10;
    const run = async (n: number) => {
      const bytes = effect.timestampBytes;
      const dst = ctx.device.createBuffer({ label: 'bench timestamps', size: n * bytes, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
      for (let i = 0; i < n; i += PER_SUBMIT) {
        const encoder = ctx.device.createCommandEncoder({ label: 'bench' });
        for (let k = i; k < Math.min(n, i + PER_SUBMIT); k++) {
          features.encode(encoder, nodes);
          cnn.render(encoder, {}, nodes);
          effect.copyTimestamps(encoder, dst, k * bytes);
        }
        ctx.device.queue.submit([encoder.finish()]);
      }
      await gpuAwait(dst.mapAsync(GPUMapMode.READ));
      const all = new BigInt64Array(dst.getMappedRange().slice(0));
      dst.unmap();
      dst.destroy();
      return Array.from({ length: n }, (_, k) => effect.timingsFrom(all.subarray((k * bytes) / 8, ((k + 1) * bytes) / 8)));
    };
    await run(100); // warm-up: pipelines compiled, clocks up
    const t0 = performance.now();
    const timings = await run(frames);
    const wallMs = (performance.now() - t0) / frames;
    // The passes as the effect names them (the fast path times enc1 and the bottleneck as one).
    const per: Record<string, number[]> = {};
    for (const t of timings) for (const [p, v] of Object.entries(t.passes)) (per[p] ??= []).push(v);
    const totals = timings.map((t) => t.total);
    const spans = timings.map((t) => t.span);
    return {
      width,
      height,
      precision,
      samples: timings.length,
      passes: Object.fromEntries(Object.entries(per).map(([p, xs]) => [p, spread(xs)])),
      total: spread(totals),
      span: spread(spans),
      wallMs,
    };
  } finally {
    effect.destroy();
    nodes.destroy();
  }
}

/** The files bench/torch/bench_torch.py reads: the same network, weights and condition, and a check case. */
function writeTorchInputs(dir: string, config: ModelConfig, w: { weights: Uint8Array; film: Uint8Array }, cond: number[]): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'cnn_v3_weights.bin'), w.weights);
  writeFileSync(join(dir, 'cnn_v3_film_mlp.bin'), w.film);
  const [W, H] = [37, 23];
  const planes = completePlanes(randomPlanes(W, H, 7));
  // The features as the GPU packs them (SPEC §3's quantisation), HWC f32.
  const f = unpackFeatures(packFeatures(computeFeatures(planes), W, H));
  const table = buildParamTable(config);
  const x = tensor(NUM_FEATURES, H, W);
  for (let p = 0; p < W * H; p++) for (let c = 0; c < NUM_FEATURES; c++) x.data[c * W * H + p] = f[p * NUM_FEATURES + c]!;
  const params = new Float64Array(table.total);
  params.set(readWeightsBin(config, w.weights, 'weights'));
  const film = evalFilmMlp(readFilmMlpBin(config, w.film, 'film'), cond);
  // The float64 reference with no f16 rounding of intermediates: what an fp32 network computes.
  let y = new Float32Array(0);
  forward(table, params, x, cond, film, (node, t) => {
    if (node === 'y') y = Float32Array.from(t.data);
  });
  writeFileSync(join(dir, 'check_features.f32'), new Uint8Array(Float32Array.from(x.data).buffer));
  writeFileSync(join(dir, 'check_output.f32'), new Uint8Array(y.buffer));
  writeFileSync(join(dir, 'bench.json'), `${JSON.stringify({ enc_channels: config.encChannels, film_cond_dim: config.filmCondDim, output: config.output ?? 'sigmoid', cond, check: { width: W, height: H, layout: 'CHW f32' } }, null, 2)}\n`);
}

const ms = (x: number) => x.toFixed(3);
const fmt = (s: Spread) => `${ms(s.median)} (${ms(s.p10)}–${ms(s.p90)})`;

function table(results: SizeResult[], adapter: string, chromium: ChromiumReport): string {
  const passes = Object.keys(results[0]!.passes);
  const lines = [`| size | precision | ${passes.join(' | ')} | sum of passes | frame span | Chromium frame |`, `|---|---|${passes.map(() => '---:').join('|')}|---:|---:|---:|`];
  const inChromium = (r: SizeResult) => ('results' in chromium ? chromium.results.find((c) => c.width === r.width && c.height === r.height && c.precision === r.precision) : undefined);
  for (const r of results) {
    const c = inChromium(r);
    lines.push(`| ${r.width}×${r.height} | ${r.precision} | ${passes.map((p) => (r.passes[p] ? ms(r.passes[p].median) : '—')).join(' | ')} | ${fmt(r.total)} | ${fmt(r.span)} | ${c ? fmt(c.frame) : '—'} |`);
  }
  const note = 'results' in chromium ? `Chromium frame: wall-clock ms per frame in headless Chromium (${chromium.adapter}), each frame submitted and waited for` : `Chromium: not measured (${chromium.error})`;
  return `GPU time per frame in ms, median (p10–p90) of timestamp queries, ${adapter}. ${note}\n\n${lines.join('\n')}\n`;
}

/**
 * The frame time in headless Chromium through the browser's WebGPU, for the same sizes and the
 * precisions the page's adapter offers (of those asked). A missing browser is reported, not
 * skipped in silence.
 */
async function timeChromium(config: ModelConfig, w: { weights: Uint8Array; film: Uint8Array }, cond: number[], sizes: Array<[number, number]>, asked: string, frames: number, adapter: ChromiumAdapter, log: (s: string) => void): Promise<ChromiumReport> {
  if (!existsSync(CHROMIUM)) {
    const error = `${CHROMIUM} is missing: install it ('apt-get install chromium') or pass --no-chromium`;
    log(`chromium: not measured: ${error}`);
    return { error };
  }
  const runner = await chromiumRunner(defaultPageBundle(), CHROMIUM, chromiumArgs(adapter, true));
  try {
    const info = await runner.info();
    const offered: Precision[] = info.shaderF16 ? ['f32', 'f16'] : ['f32'];
    // 'auto' and 'f16' resolve against the page's device, as the effect would there.
    const precs = asked === 'all' ? offered : asked === 'auto' ? [offered[offered.length - 1]!] : offered.filter((p) => p === asked);
    log(`chromium (${adapter === 'swiftshader' ? '--use-webgpu-adapter=swiftshader' : "the browser's default adapter"}): ${info.adapter}; shader-f16: ${info.shaderF16 ? 'yes' : 'no'}; timestamps: ${info.timestamps ? 'yes' : 'no'}`);
    if (precs.length === 0) {
      const error = `the page's adapter (${info.adapter}) lacks shader-f16, so f16 arithmetic was not timed there`;
      log(`chromium: not measured: ${error}`);
      return { error };
    }
    const results: ChromiumResult[] = [];
    for (const precision of precs) {
      for (const [width, height] of sizes) {
        const job: FrameBenchJob = { config, weights: toBase64(w.weights), film: toBase64(w.film), cond, width, height, seed: 1, frames, warmup: Math.min(10, frames), precision };
        const r = await runner.frames(job);
        const out: ChromiumResult = { width, height, precision: r.precision, samples: r.frameMs.length, frame: spread(r.frameMs), ...(r.gpuMs ? { total: spread(r.gpuMs) } : {}), ...(r.spanMs ? { span: spread(r.spanMs) } : {}) };
        results.push(out);
        log(`  chromium ${precision} ${`${width}×${height}`.padEnd(10)} frame ${fmt(out.frame)} ms${out.span && out.total ? `  GPU span ${fmt(out.span)} ms  sum ${fmt(out.total)} ms` : ''}  (${out.samples} frames, each submitted and waited for)`);
      }
    }
    return { adapter: info.adapter, flags: adapter, shaderF16: info.shaderF16, timestamps: info.timestamps, results };
  } finally {
    await runner.close();
  }
}

/** Time ratio per size step against the pixel ratio; a step under half its pixel ratio is flagged. */
function scaling(results: SizeResult[]): string[] {
  const out: string[] = [];
  for (const prec of new Set(results.map((r) => r.precision))) {
    const rs = results.filter((r) => r.precision === prec).sort((a, b) => a.width * a.height - b.width * b.height);
    for (let i = 1; i < rs.length; i++) {
      const a = rs[i - 1]!;
      const b = rs[i]!;
      const px = (b.width * b.height) / (a.width * a.height);
      const t = b.span.median / a.span.median;
      const flagged = t < px / 2 ? '  ← time grows less than half as fast as pixels: fixed costs dominate' : '';
      out.push(`  ${prec} ${a.width}×${a.height} → ${b.width}×${b.height}: time ×${t.toFixed(2)} for pixels ×${px.toFixed(2)}${flagged}`);
    }
    if (rs.length > 2) {
      const a = rs[0]!;
      const b = rs[rs.length - 1]!;
      out.push(`  ${prec} ${a.width}×${a.height} → ${b.width}×${b.height}: time ×${(b.span.median / a.span.median).toFixed(2)} for pixels ×${((b.width * b.height) / (a.width * a.height)).toFixed(2)}`);
    }
  }
  return out;
}

async function main(): Promise<void> {
  const frames = Number(flag('frames') ?? 400);
  const enc = flag('enc-channels');
  const config = enc === undefined ? DEFAULT_MODEL_CONFIG : makeModelConfig(parseEncChannels('bench:infer', enc), DEFAULT_MODEL_CONFIG.filmCondDim);
  const sizes = (flag('sizes') ?? '1280x720,1920x1080,3840x2160').split(',').map((s) => s.split('x').map(Number) as [number, number]);
  if (!sizes.every(([a, b]) => Number.isInteger(a) && Number.isInteger(b) && a! > 0 && b! > 0)) throw new CnnV3Error(`bench:infer: --sizes must be WxH,… like 1280x720, got ${JSON.stringify(flag('sizes'))}`);
  if (!(Number.isInteger(frames) && frames > 0)) throw new CnnV3Error(`bench:infer: --frames must be a positive integer, got ${JSON.stringify(flag('frames'))}`);
  const chromiumFlag = flag('chromium-adapter');
  if (chromiumFlag !== undefined && chromiumFlag !== 'swiftshader' && chromiumFlag !== 'default') throw new CnnV3Error(`bench:infer: --chromium-adapter must be swiftshader or default, got ${JSON.stringify(chromiumFlag)}`);
  const json = flag('json') !== undefined;
  const markdown = flag('markdown') !== undefined;
  const w = randomWeights(config, 1);
  const cond = Array.from({ length: config.filmCondDim }, () => 0.5);
  const dir = flag('write-weights');
  if (dir) writeTorchInputs(dir, config, w, cond);
  // Unquantised timestamps: Dawn rounds them to 2^16 ns (65.5 µs) unless told otherwise.
  const ctx = await createNodeGpu({ adapter: 'auto', dawnFlags: ['disable-dawn-features=timestamp_quantization'] });
  try {
    const asked = flag('precision') ?? 'all';
    const precs = precisions(ctx.device, asked);
    const log = (s: string) => {
      if (!json) console.log(s);
    };
    log(`bench:infer  CNNv3Effect enc=[${config.encChannels.join(', ')}] on ${ctx.adapterName}${ctx.software ? ' (software: figures only for comparison)' : ''}; shader-f16: ${ctx.device.features.has('shader-f16') ? 'yes' : 'no'}; ${frames} frames per size`);
    const results: SizeResult[] = [];
    for (const precision of precs) {
      for (const [width, height] of sizes) {
        const r = await timeSize(ctx, config, w, cond, width, height, precision, frames);
        results.push(r);
        log(`  ${precision} ${`${width}×${height}`.padEnd(10)} span ${fmt(r.span)} ms  sum ${fmt(r.total)} ms  ${(1000 / r.span.median).toFixed(0)} fps  (${r.samples} frames; wall ${ms(r.wallMs)} ms/frame incl. feature packing)`);
        log(`      per pass: ${Object.entries(r.passes).map(([p, v]) => `${p} ${fmt(v)}`).join(', ')}`);
      }
    }
    const grow = scaling(results);
    // Chromium on SwiftShader unless Dawn found a hardware GPU (and VK_ICD_FILENAMES does not name SwiftShader).
    const chromiumAdapter: ChromiumAdapter = (chromiumFlag as ChromiumAdapter | undefined) ?? (ctx.software || (process.env['VK_ICD_FILENAMES'] ?? '').includes('swiftshader') ? 'swiftshader' : 'default');
    const chromium: ChromiumReport = flag('no-chromium') !== undefined ? { error: 'skipped (--no-chromium)' } : await timeChromium(config, w, cond, sizes, asked, frames, chromiumAdapter, log);
    if (json) {
      console.log(JSON.stringify({ adapter: ctx.adapterName, shaderF16: ctx.device.features.has('shader-f16'), config, frames, results, scaling: grow.map((s) => s.trim()), chromium }, null, 2));
      return;
    }
    console.log('cost as it grows (frame span medians):');
    for (const l of grow) console.log(l);
    if (markdown) console.log(`\n${table(results, ctx.adapterName, chromium)}`);
  } finally {
    ctx.device.destroy();
  }
}

try {
  await main();
} catch (e) {
  // A user's error (a flag, f16 without shader-f16, no adapter) in one line; anything else is a bug.
  if (!isCnnV3Error(e)) throw e;
  console.error(e.message.startsWith('bench:infer') ? e.message : `bench:infer: ${e.message}`);
  process.exitCode = 1;
}
