/**
 * `cnnv3 eval --diagnose`, platform-neutral (issue #19): why a model scores what it does, on the
 * float64 reference. Four measurements over a dataset with targets:
 *
 * 1. layer activity: per ReLU layer the fraction of exactly-zero outputs per channel (dead
 *    channels), mean and max; dec0's pre-activation; the output's saturation (sigmoid |x| > 4.6,
 *    i.e. y < 0.01 or y > 0.99; residual tanh |x| > 2) and how far the output moves from the
 *    input (mean |y − base|) against how far the target is (mean |t − base|);
 * 2. what the f16 export costs: PSNR with the checkpoint's float32 weights vs the exported halves;
 * 3. what the GPU's feature packing costs (SPEC §3: f16 ch 0–7, 8-bit ch 8–19): PSNR with the
 *    packed features vs computeFeatures' floats, and with every GPU rounding (also f16 nodes);
 * 4. Harris vs random patch centres (the trainer's own choice, keypoints.ts): the albedo's
 *    gradient and edge density inside the patches, and the identity's and the model's PSNR there.
 *
 * The model's base run is `cnnv3 eval`'s CPU path: the exported f16 weights on float features.
 */
import { CnnV3Error } from '../errors.js';
import { computeFeatures, NUM_FEATURES } from '../dataset/features.js';
import { quantiseFeatures } from '../dataset/gpu-pack.js';
import type { Sample } from '../dataset/sample.js';
import { evalFilmMlp, identityFilm, readFilmMlpBin, readWeightsBin } from '../export/read.js';
import { describeConfig, outputMode, sameNetwork, type ModelConfig, type OutputMode } from '../model/config.js';
import { buildParamTable, type ParamTable } from '../model/params.js';
import { filmForward, forward, tensor, type ForwardCache, type StoredNode, type Tensor } from '../model/reference.js';
import { findKeypoints, luminance, type Point } from '../train/keypoints.js';
import { patchOrigin } from '../train/patches.js';
import { roundToHalf } from '../util/half.js';
import { Rng } from '../util/rng.js';

/** Pre-activation magnitude beyond which the output counts as saturated, by output mode. */
export const SATURATION = { sigmoid: 4.6, residual: 2 } as const satisfies Record<OutputMode, number>;
/** Albedo luminance gradient (Sobel / 8, ≈ change per pixel) above which a pixel counts as an edge. */
export const EDGE_GRADIENT = 0.05;

export interface DiagnoseModel {
  config: ModelConfig;
  /** cnn_v3_weights.bin (f16) and optionally cnn_v3_film_mlp.bin, as eval takes them. */
  weights: Uint8Array;
  film?: Uint8Array;
  cond: number[];
  /** The float32 checkpoint the files were exported from (its FiLM MLP is used when `film` is). */
  checkpoint?: { config: ModelConfig; params: Float32Array; name: string };
}

export interface DiagnoseOptions {
  /** The trainer's patch geometry and seed (prepareImage's centres for the same dataset order). */
  patchSize: number;
  patchesPerImage: number;
  seed: number;
}

export interface ChannelActivity {
  /** Fraction of pixels where the channel is exactly 0 (ReLU layers). */
  zero: number;
  mean: number;
  min: number;
  max: number;
}

export interface LayerActivity {
  layer: 'enc0' | 'enc1' | 'bottleneck' | 'dec1' | 'dec0 (pre-activation)';
  channels: ChannelActivity[];
  /** Over every channel and pixel. */
  mean: number;
  max: number;
  /** Channels zero at every pixel of every sample (ReLU layers). */
  dead: number[];
}

export interface OutputActivity {
  mode: OutputMode;
  /** |pre-activation| beyond which an output counts as saturated. */
  threshold: number;
  /** Fraction saturated, per output channel (R, G, B, A) and over RGB. */
  saturated: number[];
  saturated_rgb: number;
  /** Residual mode: fraction of RGB outputs where base + tanh(x) left [0, 1] and was clamped. */
  clamped_rgb?: number;
  /** RGB means over every pixel: |y − base|, |t − base| (base = albedo), |y − t|. */
  moved: number;
  target_distance: number;
  error: number;
}

export interface PatchSetScore {
  patches: number;
  pixels: number;
  /** Mean albedo-luminance gradient (Sobel / 8) and the fraction of pixels above EDGE_GRADIENT. */
  gradient: number;
  edge_density: number;
  /** PSNR (RGB) of the pixels' pooled squared error: the albedo, and the model, against the target. */
  identity_psnr: number;
  model_psnr: number;
}

export interface Diagnosis {
  samples: number;
  pixels: number;
  activity: { layers: LayerActivity[]; output: OutputActivity };
  /** Mean RGB PSNR over samples (dB per sample, as eval averages). */
  export: { f16_psnr: number; f32_psnr?: number; cost?: number; checkpoint?: string };
  features: { float_psnr: number; packed_psnr: number; cost: number; gpu_psnr: number; gpu_cost: number };
  patches: { size: number; per_image: number; seed: number; harris: PatchSetScore; random: PatchSetScore; whole: PatchSetScore };
}

// ---------------------------------------------------------------- accumulators

class ChannelAcc {
  readonly zero: Float64Array;
  readonly sum: Float64Array;
  readonly min: Float64Array;
  readonly max: Float64Array;
  n = 0;
  constructor(readonly c: number) {
    this.zero = new Float64Array(c);
    this.sum = new Float64Array(c);
    this.min = new Float64Array(c).fill(Infinity);
    this.max = new Float64Array(c).fill(-Infinity);
  }
  add(t: Tensor): void {
    const hw = t.h * t.w;
    for (let c = 0; c < t.c; c++) {
      for (let p = 0; p < hw; p++) {
        const v = t.data[c * hw + p]!;
        if (v === 0) this.zero[c]! += 1;
        this.sum[c]! += v;
        if (v < this.min[c]!) this.min[c] = v;
        if (v > this.max[c]!) this.max[c] = v;
      }
    }
    this.n += hw;
  }
  result(layer: LayerActivity['layer'], relu: boolean): LayerActivity {
    const n = Math.max(1, this.n);
    const channels = Array.from({ length: this.c }, (_, c) => ({ zero: this.zero[c]! / n, mean: this.sum[c]! / n, min: this.min[c]!, max: this.max[c]! }));
    return {
      layer,
      channels,
      mean: channels.reduce((a, ch) => a + ch.mean, 0) / Math.max(1, this.c),
      max: Math.max(...channels.map((ch) => ch.max)),
      dead: relu ? channels.flatMap((ch, c) => (ch.zero === 1 ? [c] : [])) : [],
    };
  }
}

class PatchAcc {
  patches = 0;
  pixels = 0;
  grad = 0;
  edges = 0;
  idSe = 0;
  modelSe = 0;
  addWindow(img: ImageMaps, x0: number, y0: number, w: number, h: number): void {
    this.patches++;
    for (let y = y0; y < y0 + h; y++) {
      for (let x = x0; x < x0 + w; x++) {
        const p = y * img.W + x;
        this.pixels++;
        this.grad += img.grad[p]!;
        if (img.grad[p]! > EDGE_GRADIENT) this.edges++;
        this.idSe += img.idSe[p]!;
        this.modelSe += img.modelSe[p]!;
      }
    }
  }
  result(): PatchSetScore {
    const n = Math.max(1, this.pixels);
    const db = (se: number) => (se === 0 ? Infinity : 10 * Math.log10((3 * n) / se));
    return { patches: this.patches, pixels: this.pixels, gradient: this.grad / n, edge_density: this.edges / n, identity_psnr: db(this.idSe), model_psnr: db(this.modelSe) };
  }
}

/** Per-pixel maps of one image: luminance gradient, and the RGB squared errors of the albedo and the model. */
interface ImageMaps {
  W: number;
  H: number;
  grad: Float64Array;
  idSe: Float64Array;
  modelSe: Float64Array;
}

/** Sobel magnitude / 8 of the albedo luminance (borders replicated, as the corner detector reads them). */
export function albedoGradient(s: Pick<Sample, 'albedo' | 'width' | 'height'>): Float64Array {
  const { width: W, height: H } = s;
  const lum = luminance(s.albedo, W, H);
  const at = (x: number, y: number) => lum[Math.min(H - 1, Math.max(0, y)) * W + Math.min(W - 1, Math.max(0, x))]!;
  const out = new Float64Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const gx = at(x + 1, y - 1) + 2 * at(x + 1, y) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x - 1, y) - at(x - 1, y + 1);
      const gy = at(x - 1, y + 1) + 2 * at(x, y + 1) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x, y - 1) - at(x + 1, y - 1);
      out[y * W + x] = Math.hypot(gx, gy) / 8;
    }
  }
  return out;
}

/** The patch centres training would draw for sample `index` (train/data.ts prepareImage). */
export function trainingCentres(s: Pick<Sample, 'albedo' | 'width' | 'height'>, detector: 'harris' | 'random', index: number, opts: DiagnoseOptions): Point[] {
  const rng = new Rng((opts.seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  return findKeypoints(s.albedo, s.width, s.height, detector, opts.patchesPerImage, Math.max(1, Math.floor(opts.patchSize / 4)), rng);
}

// ---------------------------------------------------------------- the model runs

function featureTensor(f: Float32Array, W: number, H: number): Tensor {
  const x = tensor(NUM_FEATURES, H, W);
  for (let p = 0; p < W * H; p++) for (let c = 0; c < NUM_FEATURES; c++) x.data[c * W * H + p] = f[p * NUM_FEATURES + c]!;
  return x;
}

/** RGBA per pixel (HWC), clamped to [0, 1] as eval scores it. */
function hwcOutput(y: Tensor): Float64Array {
  const n = y.h * y.w;
  const out = new Float64Array(n * 4);
  for (let p = 0; p < n; p++) for (let c = 0; c < 4; c++) out[p * 4 + c] = Math.min(1, Math.max(0, y.data[c * n + p]!));
  return out;
}

/** Mean RGB PSNR of an HWC RGBA output against the sample's target. */
function rgbPsnr(out: Float64Array, s: Sample): number {
  let se = 0;
  const n = s.width * s.height;
  for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) se += (out[p * 4 + c]! - s.target[p * 4 + c]! / 255) ** 2;
  return se === 0 ? Infinity : 10 * Math.log10((3 * n) / se);
}

function dec0PreActivation(table: ParamTable, cache: ForwardCache): Tensor {
  const f = table.film.dec0;
  const out = cache.mlp.out;
  return filmForward(cache.cd0, out.subarray(f.gamma, f.gamma + f.channels), out.subarray(f.beta, f.beta + f.channels));
}

const meanOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/**
 * Diagnoses `model` on `samples` (each with its target). `onSample(done, total, name)` before each.
 * Throws CnnV3Error when the checkpoint is not the network the weights file holds.
 */
export function diagnose(samples: readonly Sample[], model: DiagnoseModel, opts: DiagnoseOptions, onSample: (done: number, total: number, name: string) => void = () => {}): Diagnosis {
  const { config } = model;
  const table = buildParamTable(config);
  const ckpt = model.checkpoint;
  if (ckpt && !sameNetwork(ckpt.config, config)) throw new CnnV3Error(`${ckpt.name}: holds a model with ${describeConfig(ckpt.config)}, but the weights file holds ${describeConfig(config)}`);
  const params16 = new Float64Array(table.total);
  params16.set(readWeightsBin(config, model.weights, 'weights'));
  const film = model.film ? evalFilmMlp(readFilmMlpBin(config, model.film, 'film'), model.cond) : identityFilm(config);
  const mode = outputMode(config);
  const threshold = SATURATION[mode];

  const acc = { enc0: new ChannelAcc(config.encChannels[0]), enc1: new ChannelAcc(config.encChannels[1]), bottleneck: new ChannelAcc(config.encChannels[1]), dec1: new ChannelAcc(config.encChannels[0]), dec0: new ChannelAcc(4) };
  const sat = new Float64Array(4);
  let clamped = 0;
  let moved = 0;
  let targetDistance = 0;
  let error = 0;
  let pixels = 0;
  const scores = { f16: [] as number[], f32: [] as number[], packed: [] as number[], gpu: [] as number[] };
  const sets = { harris: new PatchAcc(), random: new PatchAcc(), whole: new PatchAcc() };

  samples.forEach((s, index) => {
    onSample(index, samples.length, s.name);
    const { width: W, height: H } = s;
    const n = W * H;
    const floats = computeFeatures(s);
    const x = featureTensor(floats, W, H);
    // 1. eval's CPU path, with its activations.
    const cache = forward(table, params16, x, model.cond, film);
    acc.enc0.add(cache.e0);
    acc.enc1.add(cache.e1);
    acc.bottleneck.add(cache.b);
    acc.dec1.add(cache.d1);
    const z = dec0PreActivation(table, cache);
    acc.dec0.add(z);
    for (let c = 0; c < 4; c++) for (let p = 0; p < n; p++) if (Math.abs(z.data[c * n + p]!) > threshold) sat[c]! += 1;
    const out = hwcOutput(cache.y);
    const modelSe = new Float64Array(n);
    const idSe = new Float64Array(n);
    for (let p = 0; p < n; p++) {
      for (let c = 0; c < 3; c++) {
        // The residual's base as the network reads it (the float32 feature); the identity as eval scores it.
        const base = x.data[c * n + p]!;
        const t = s.target[p * 4 + c]! / 255;
        const y = out[p * 4 + c]!;
        moved += Math.abs(y - base);
        targetDistance += Math.abs(t - base);
        error += Math.abs(y - t);
        modelSe[p]! += (y - t) ** 2;
        idSe[p]! += (s.albedo[p * 3 + c]! / 255 - t) ** 2;
        if (mode === 'residual') {
          const pre = base + Math.tanh(z.data[c * n + p]!);
          if (pre < 0 || pre > 1) clamped++;
        }
      }
    }
    pixels += n;
    scores.f16.push(rgbPsnr(out, s));
    // 2. The float32 checkpoint on the same features.
    if (ckpt) {
      const y32 = forward(table, ckpt.params, x, model.cond, model.film ? undefined : film).y;
      scores.f32.push(rgbPsnr(hwcOutput(y32), s));
    }
    // 3. The packed features; then every GPU rounding (f32 γ/β, f16 nodes), as parity's referenceOutput.
    const xq = featureTensor(quantiseFeatures(floats, W, H), W, H);
    scores.packed.push(rgbPsnr(hwcOutput(forward(table, params16, xq, model.cond, film).y), s));
    const f16Nodes = (_node: StoredNode, t: Tensor) => {
      for (let i = 0; i < t.data.length; i++) t.data[i] = roundToHalf(t.data[i]!);
    };
    scores.gpu.push(rgbPsnr(hwcOutput(forward(table, params16, xq, model.cond, Array.from(film, Math.fround), f16Nodes).y), s));
    // 4. The patches training would cut.
    const maps: ImageMaps = { W, H, grad: albedoGradient(s), idSe, modelSe };
    for (const detector of ['harris', 'random'] as const) {
      for (const c of trainingCentres(s, detector, index, opts)) {
        const x0 = patchOrigin(c.x, opts.patchSize, W);
        const y0 = patchOrigin(c.y, opts.patchSize, H);
        sets[detector].addWindow(maps, x0, y0, Math.min(opts.patchSize, W - x0), Math.min(opts.patchSize, H - y0));
      }
    }
    sets.whole.addWindow(maps, 0, 0, W, H);
  });

  const rgb = Math.max(1, 3 * pixels);
  const f16 = meanOf(scores.f16);
  const f32 = ckpt ? meanOf(scores.f32) : undefined;
  const packed = meanOf(scores.packed);
  const gpu = meanOf(scores.gpu);
  const output: OutputActivity = {
    mode,
    threshold,
    saturated: Array.from(sat, (v) => v / Math.max(1, pixels)),
    saturated_rgb: (sat[0]! + sat[1]! + sat[2]!) / rgb,
    ...(mode === 'residual' ? { clamped_rgb: clamped / rgb } : {}),
    moved: moved / rgb,
    target_distance: targetDistance / rgb,
    error: error / rgb,
  };
  return {
    samples: samples.length,
    pixels,
    activity: {
      layers: [acc.enc0.result('enc0', true), acc.enc1.result('enc1', true), acc.bottleneck.result('bottleneck', true), acc.dec1.result('dec1', true), acc.dec0.result('dec0 (pre-activation)', false)],
      output,
    },
    export: { f16_psnr: f16, ...(f32 !== undefined ? { f32_psnr: f32, cost: f32 - f16, checkpoint: ckpt!.name } : {}) },
    features: { float_psnr: f16, packed_psnr: packed, cost: f16 - packed, gpu_psnr: gpu, gpu_cost: (f32 ?? f16) - gpu },
    patches: { size: opts.patchSize, per_image: opts.patchesPerImage, seed: opts.seed, harris: sets.harris.result(), random: sets.random.result(), whole: sets.whole.result() },
  };
}

// ---------------------------------------------------------------- text

const pct = (v: number) => `${(100 * v).toFixed(v > 0 && v < 0.001 ? 3 : 1)} %`;
const dB = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : v === Infinity ? 'inf' : 'n/a');
const num = (v: number) => (v === 0 || Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));

/** The report as `cnnv3 eval --diagnose` prints it: a compact block per section. */
export function formatDiagnosis(d: Diagnosis): string {
  const L: string[] = [];
  L.push(`Layer activity (${d.samples} samples, ${d.pixels} pixels; f16 weights, float features: eval's CPU path)`);
  for (const l of d.activity.layers) {
    if (l.layer.startsWith('dec0')) {
      L.push(`  ${l.layer.padEnd(22)} R,G,B,A mean ${l.channels.map((c) => num(c.mean)).join(', ')}  range ${l.channels.map((c) => `${num(c.min)}..${num(c.max)}`).join(', ')}`);
      continue;
    }
    const dead = l.dead.length ? `dead ch ${l.dead.join(',')} (zero at 100 % of pixels)` : 'no dead channel';
    L.push(`  ${l.layer.padEnd(10)} mean ${num(l.mean).padStart(7)} max ${num(l.max).padStart(7)}  ${dead}`);
    L.push(`  ${''.padEnd(10)} zero % per ch: ${l.channels.map((c) => (100 * c.zero).toFixed(0)).join(' ')}`);
  }
  const o = d.activity.output;
  const satWhat = o.mode === 'sigmoid' ? `sigmoid saturated (|x| > ${o.threshold}: y < 0.01 or > 0.99)` : `tanh saturated (|x| > ${o.threshold})`;
  L.push(`  output (${o.mode}): ${satWhat}: RGB ${pct(o.saturated_rgb)}, alpha ${pct(o.saturated[3]!)}${o.clamped_rgb !== undefined ? `; base + tanh clamped: ${pct(o.clamped_rgb)} of RGB` : ''}`);
  L.push(`  residual: mean |y − albedo| ${o.moved.toFixed(4)} (the model's move), |t − albedo| ${o.target_distance.toFixed(4)} (the target's distance), |y − t| ${o.error.toFixed(4)}`);
  L.push('What the f16 export costs (float features)');
  if (d.export.f32_psnr === undefined) L.push(`  f16 weights (exported): ${dB(d.export.f16_psnr)} dB; float32 checkpoint: needs --checkpoint CKPT.safetensors`);
  else L.push(`  float32 checkpoint ${dB(d.export.f32_psnr)} dB, f16 weights (exported) ${dB(d.export.f16_psnr)} dB: costs ${d.export.cost!.toFixed(3)} dB`);
  L.push("What the GPU's feature packing costs (SPEC §3: f16 ch 0–7, 8-bit ch 8–19; f16 weights)");
  L.push(`  float features ${dB(d.features.float_psnr)} dB, packed ${dB(d.features.packed_psnr)} dB: costs ${d.features.cost.toFixed(3)} dB`);
  L.push(`  every GPU rounding (packed features, f16 weights and nodes): ${dB(d.features.gpu_psnr)} dB, ${d.features.gpu_cost.toFixed(3)} dB below the ${d.export.f32_psnr === undefined ? 'f16 weights on float features' : 'float32 checkpoint'}`);
  const p = d.patches;
  L.push(`Patch centres (${p.per_image} patches of ${p.size}×${p.size} an image, seed ${p.seed}): albedo gradient, edges (gradient > ${EDGE_GRADIENT}), PSNR inside`);
  L.push(`  ${'centres'.padEnd(13)} ${'gradient'.padStart(8)} ${'edges'.padStart(7)} ${'identity'.padStart(9)} ${'model'.padStart(7)}`);
  for (const [name, s] of [['Harris', p.harris], ['random', p.random], ['whole image', p.whole]] as const) {
    L.push(`  ${name.padEnd(13)} ${s.gradient.toFixed(4).padStart(8)} ${pct(s.edge_density).padStart(7)} ${dB(s.identity_psnr).padStart(9)} ${dB(s.model_psnr).padStart(7)}`);
  }
  return `${L.join('\n')}\n`;
}
