/**
 * Parity (SPEC §9): the WebGPU effect against the float64 CPU reference on the same input,
 * node by node.
 *
 * What the reference is given, so that only arithmetic order can differ:
 * - the conv weights as read from cnn_v3_weights.bin (already f16) and the γ/β the effect put
 *   in its uniforms (f32);
 * - as input, the features the GPU packed (unpacked exactly), so the network comparison does
 *   not inherit the packing's differences; the packing is compared on its own against the CPU
 *   features through packFeatures (SPEC §3's quantisation);
 * - every stored activation rounded to f16 where the GPU stores it in a 16-bit texture: every
 *   intermediate on both paths (the fast path's rgba16float and packed-halves nodes, the
 *   general path's rgba16float arrays) and the output;
 * - each layer, the nodes the GPU stored before it: every node is checked against the reference
 *   layer computed from the GPU's own inputs to that layer, so one layer's tolerance is checked
 *   per layer. A value one f16 ulp off where its f32 sum straddles a rounding boundary (which a
 *   GPU that fuses multiply-adds meets where the reference does not) is then not multiplied
 *   by the next layers' trained weights, which can amplify it past any per-value bound — an
 *   H100 with the example photo model failed enc1 that way. The whole network without
 *   substitution is reported as a last line, `output (end to end)`: its PSNR, not gated.
 *
 * Tolerances, |gpu − ref| ≤ atol + rtol·|ref| per value:
 * - features: f16 channels within one f16 ulp (rtol 2^-10, atol 2^-24 for subnormals) and
 *   unorm8 channels within one level (atol 1/255): the GPU's f32 arithmetic (unorm → float,
 *   the mip means) can land on the other side of a rounding boundary, never further.
 * - network nodes: rtol 2^-9 (two f16 ulps: one for a value whose f32 result straddles an f16
 *   rounding boundary, one for such flips upstream propagating through a conv), atol 2^-11
 *   (near zero an ulp is tiny but a propagated flip is not; 2^-11 is half an ulp at 1.0, above
 *   the largest propagated error measured on random weights, which is under 2^-13). The general
 *   path (wide models) sums more products per value, in another order, but in f32 whose
 *   rounding stays far below an f16 ulp, so the same reasoning and tolerances hold.
 * - network nodes with f16 arithmetic (precision f16): rtol 2^-7, atol 2^-6. Every product and
 *   sum rounds to f16 (unit roundoff u = 2^-11) instead of only the stored result. A node sums
 *   up to 181 products (enc0: 20 inputs × 9 taps + bias; wide dec1 more), whose rounding errors
 *   add like a random walk: √181 · u · |partial sum| ≈ 2^-7.2 for partial sums near 1, plus what
 *   the layers before pass on (attenuated: init-scale weights have row norms under 1). A CPU
 *   emulation rounding every operation to f16 (test/precision.test.ts) stays under 2^-7.5 on every
 *   node for random weights, odd and even sizes, widths [4, 8] to [16, 32]: the bound leaves
 *   about 4× for summation order, FMA and the GPU's f16 exp/tanh. No adapter here offers
 *   shader-f16, so it has not been measured on a GPU yet.
 */
import { computeFeatures, NUM_FEATURES } from '../dataset/features.js';
import { packFeatures, unpackFeatures } from '../dataset/gpu-pack.js';
import { readWeightsBin } from '../export/read.js';
import type { ModelConfig } from '../model/config.js';
import { buildParamTable } from '../model/params.js';
import { forward, tensor, type StoredNode, type Tensor } from '../model/reference.js';
import { fromHalfBits, roundToHalf } from '../util/half.js';
import { CnnNodeEffect } from '../effect/cnn-node-effect.js';
import { scaledSize, type CnnNodeLayout, type EffectPath } from '../effect/cnn-effect.js';
import type { GpuContext } from '../gpu/context.js';
import { completePlanes, FEATURE_NODES, FeaturePass, type FeaturePlanes } from '../effect/feature-pass.js';
import { TextureNodes } from '../effect/nodes.js';
import type { Arithmetic, Precision } from '../effect/precision.js';
import { readRgba16f, readRgba32u } from '../gpu/readback.js';

export const PARITY_TOLERANCES = {
  featureHalf: { atol: 2 ** -24, rtol: 2 ** -10 },
  featureUnorm: { atol: 1 / 255 + 1e-7, rtol: 0 },
  node: { atol: 2 ** -11, rtol: 2 ** -9 },
  nodeF16: { atol: 2 ** -6, rtol: 2 ** -7 },
} as const;

export interface NodeReport {
  node: string;
  size: [number, number];
  channels: number;
  maxAbsError: number;
  psnr: number;
  atol: number;
  rtol: number;
  pass: boolean;
  /** The first values over tolerance: `(x, y) ch c: gpu vs ref`. */
  mismatches: string[];
  /** Reported, not checked against the tolerance (the end-to-end line). */
  informational?: boolean;
}

export interface ParityReport {
  adapter: string;
  width: number;
  height: number;
  /** The effect's shaders: the fast path, or the general one of wide models. */
  path: EffectPath;
  /** The arithmetic the effect ran (precision resolved against the device). */
  precision: Arithmetic;
  nodes: NodeReport[];
  pass: boolean;
}

export interface ParityInput {
  config: ModelConfig;
  planes: FeaturePlanes;
  weights: Uint8Array;
  film?: Uint8Array;
  cond: number[];
  /** The weights the CPU reference uses (default: `weights`): lets a test show a mismatch is caught. */
  referenceWeights?: Uint8Array;
  /** Forces the effect's path (default: the fast one when the model fits it). */
  path?: EffectPath;
  /** The effect's precision (default 'auto': f16 arithmetic where the device has shader-f16). */
  precision?: Precision;
}

function compare(
  node: string,
  size: [number, number],
  channels: number,
  gpu: ArrayLike<number>,
  ref: ArrayLike<number>,
  tol: (c: number) => { atol: number; rtol: number },
): NodeReport {
  let maxAbs = 0;
  let sq = 0;
  let peak = 0;
  const mismatches: string[] = [];
  let pass = true;
  for (let i = 0; i < ref.length; i++) {
    const c = i % channels;
    const { atol, rtol } = tol(c);
    const r = ref[i]!;
    const err = Math.abs(gpu[i]! - r);
    if (!(err <= atol + rtol * Math.abs(r))) {
      pass = false;
      if (mismatches.length < 5) {
        const p = Math.floor(i / channels);
        mismatches.push(`(${p % size[0]}, ${Math.floor(p / size[0])}) ch ${c}: gpu ${gpu[i]} vs ref ${r}`);
      }
    }
    maxAbs = Math.max(maxAbs, err);
    sq += err * err;
    peak = Math.max(peak, Math.abs(r));
  }
  const mse = sq / Math.max(1, ref.length);
  const psnr = mse === 0 ? Infinity : 10 * Math.log10(Math.max(peak, 1e-12) ** 2 / mse);
  const t = tol(0);
  return { node, size, channels, maxAbsError: maxAbs, psnr, atol: t.atol, rtol: t.rtol, pass, mismatches };
}

/** CHW tensor → HWC array. */
function hwc(t: Tensor): Float64Array {
  const out = new Float64Array(t.data.length);
  const hw = t.h * t.w;
  for (let c = 0; c < t.c; c++) for (let p = 0; p < hw; p++) out[p * t.c + c] = t.data[c * hw + p]!;
  return out;
}

/** An HWC array (a node as read back) into CHW tensor t. */
function setFromHwc(t: Tensor, values: Float64Array): void {
  const hw = t.h * t.w;
  for (let c = 0; c < t.c; c++) for (let p = 0; p < hw; p++) t.data[c * hw + p] = values[p * t.c + c]!;
}

/** rgba32uint texels holding 8 halves each → C floats per pixel. */
function halves8(words: Uint32Array, channels: number): Float64Array {
  const n = words.length / 4;
  const out = new Float64Array(n * channels);
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < channels; c++) {
      const w = words[p * 4 + (c >> 1)]!;
      out[p * channels + c] = fromHalfBits(c & 1 ? w >>> 16 : w & 0xffff);
    }
  }
  return out;
}

/** rgba16float texels, layer after layer (channel c in layer c / 4) → C floats per pixel. */
function keepChannels(rgba: Float32Array, channels: number, layers = 1): Float64Array {
  const n = rgba.length / 4 / layers;
  const out = new Float64Array(n * channels);
  for (let p = 0; p < n; p++) for (let c = 0; c < channels; c++) out[p * channels + c] = rgba[((c >> 2) * n + p) * 4 + (c & 3)]!;
  return out;
}

/** An intermediate node as C floats per pixel, whichever way its path stores it. */
async function readNode(device: GPUDevice, texture: GPUTexture, layout: CnnNodeLayout): Promise<Float64Array> {
  if (layout.format === 'rgba32uint') return halves8(await readRgba32u(device, texture), layout.channels);
  return keepChannels(await readRgba16f(device, texture), layout.channels, layout.layers);
}

export async function runParity(ctx: GpuContext, input: ParityInput): Promise<ParityReport> {
  const { config } = input;
  const table = buildParamTable(config);
  const planes = completePlanes(input.planes);
  const { width: W, height: H } = planes;
  const device = ctx.device;

  // GPU: pack features, run the effect's passes, read every node back.
  const nodes = new TextureNodes(device);
  const features = new FeaturePass(device);
  const cnn = new CnnNodeEffect(device, { config, ...(input.path ? { path: input.path } : {}), ...(input.precision ? { precision: input.precision } : {}) });
  const effect = cnn.effect;
  const layouts = effect.nodeLayouts;
  try {
    features.upload(planes, nodes);
    effect.uploadWeights(device.queue, input.weights);
    if (input.film) effect.uploadFilmMlp(input.film);
    effect.setFilmParams(input.cond);
    const encoder = device.createCommandEncoder({ label: 'parity' });
    features.encode(encoder, nodes);
    cnn.render(encoder, {}, nodes);
    device.queue.submit([encoder.finish()]);
    const feat0 = await readRgba32u(device, nodes.get(FEATURE_NODES.feat0)!);
    const feat1 = await readRgba32u(device, nodes.get(FEATURE_NODES.feat1)!);
    const gpu = {
      e0: await readNode(device, nodes.get(layouts.enc0.name)!, layouts.enc0),
      e1: await readNode(device, nodes.get(layouts.enc1.name)!, layouts.enc1),
      b: await readNode(device, nodes.get(layouts.bottleneck.name)!, layouts.bottleneck),
      d1: await readNode(device, nodes.get(layouts.dec1.name)!, layouts.dec1),
      y: keepChannels(await readRgba16f(device, nodes.get('cnn_v3_output')!), 4),
    };

    const reports: NodeReport[] = [];
    // 1. The packing against the CPU features through the same quantisation.
    const cpuPacked = packFeatures(computeFeatures(planes), W, H);
    const gpuFeatures = unpackFeatures({ width: W, height: H, feat0, feat1 });
    const cpuFeatures = unpackFeatures(cpuPacked);
    const { featureHalf, featureUnorm } = PARITY_TOLERANCES;
    reports.push(compare('features (gbuf_feat0/1)', [W, H], NUM_FEATURES, gpuFeatures, cpuFeatures, (c) => (c < 8 ? featureHalf : featureUnorm)));

    // 2. The network on the GPU's own features, storing nodes as the GPU does.
    const x = tensor(NUM_FEATURES, H, W);
    for (let p = 0; p < W * H; p++) for (let c = 0; c < NUM_FEATURES; c++) x.data[c * W * H + p] = gpuFeatures[p * NUM_FEATURES + c]!;
    const params = new Float64Array(table.total);
    params.set(readWeightsBin(config, input.referenceWeights ?? input.weights, 'weights'));
    const film = Array.from(effect.filmValues(input.cond), Math.fround);
    // Layer by layer: each node from the GPU's own stored inputs (the GPU's value replaces the
    // reference's once compared), then the whole network on its own for the end-to-end line.
    const layerwise: Partial<Record<StoredNode, Float64Array>> = {};
    forward(table, params, x, input.cond, film, (node, t) => {
      for (let i = 0; i < t.data.length; i++) t.data[i] = roundToHalf(t.data[i]!);
      layerwise[node] = hwc(t);
      setFromHwc(t, gpu[node]);
    });
    let endToEnd: Float64Array = new Float64Array(0);
    forward(table, params, x, input.cond, film, (node, t) => {
      for (let i = 0; i < t.data.length; i++) t.data[i] = roundToHalf(t.data[i]!);
      if (node === 'y') endToEnd = hwc(t);
    });
    const node = () => nodeTolerance(effect.precision);
    const sized = (scale: number) => scaledSize(W, H, scale);
    for (const [key, n] of [['e0', layouts.enc0], ['e1', layouts.enc1], ['b', layouts.bottleneck], ['d1', layouts.dec1]] as const) {
      reports.push(compare(n.name, sized(n.scale), n.channels, gpu[key], layerwise[key]!, node));
    }
    reports.push(compare('output', sized(1), 4, gpu.y, layerwise.y!, node));
    reports.push({ ...compare('output (end to end)', sized(1), 4, gpu.y, endToEnd, node), mismatches: [], informational: true });
    return { adapter: ctx.adapterName, width: W, height: H, path: effect.path, precision: effect.precision, nodes: reports, pass: reports.every((r) => r.informational || r.pass) };
  } finally {
    effect.destroy();
    nodes.destroy();
  }
}

/** The network nodes' tolerance for the arithmetic the effect ran in. */
function nodeTolerance(precision: ParityReport['precision']): { atol: number; rtol: number } {
  return precision === 'f16' ? PARITY_TOLERANCES.nodeF16 : PARITY_TOLERANCES.node;
}

export function formatParityReport(r: ParityReport): string {
  const tol = nodeTolerance(r.precision);
  const lines = [
    `Parity ${r.width}×${r.height} on ${r.adapter}${r.path === 'general' ? ' (general path)' : ''}`,
    `  ${r.precision} arithmetic: network nodes within 2^${Math.log2(tol.atol)} + 2^${Math.log2(tol.rtol)}·|ref|`,
    `  ${'node'.padEnd(26)} ${'max |err|'.padStart(11)} ${'PSNR dB'.padStart(9)}  tolerance`,
  ];
  for (const n of r.nodes) {
    const psnr = Number.isFinite(n.psnr) ? n.psnr.toFixed(1) : 'inf';
    lines.push(`  ${n.node.padEnd(26)} ${n.maxAbsError.toExponential(2).padStart(11)} ${psnr.padStart(9)}  ${n.informational ? 'reported' : n.pass ? 'ok' : 'FAIL'}`);
    for (const m of n.mismatches) lines.push(`      ${m}`);
  }
  lines.push(r.pass ? 'PASS' : 'FAIL: above tolerance (see SPEC §9 and src/verify/parity.ts for the reasoning)');
  return `${lines.join('\n')}\n`;
}

/**
 * What the GPU should output for an input, from the CPU alone: SPEC §3's quantised features
 * (packFeatures → unpackFeatures), f16 weights, f32 γ/β, f16-stored nodes. RGBA per pixel.
 */
export function referenceOutput(config: ModelConfig, planes: FeaturePlanes, weights: Uint8Array, film: ArrayLike<number>, cond: number[]): Float64Array {
  const table = buildParamTable(config);
  const p = completePlanes(planes);
  const { width: W, height: H } = p;
  const f = unpackFeatures(packFeatures(computeFeatures(p), W, H));
  const x = tensor(NUM_FEATURES, H, W);
  for (let q = 0; q < W * H; q++) for (let c = 0; c < NUM_FEATURES; c++) x.data[c * W * H + q] = f[q * NUM_FEATURES + c]!;
  const params = new Float64Array(table.total);
  params.set(readWeightsBin(config, weights, 'weights'));
  let out: Float64Array = new Float64Array(0);
  forward(table, params, x, cond, Array.from(film, Math.fround), (node, t) => {
    for (let i = 0; i < t.data.length; i++) t.data[i] = roundToHalf(t.data[i]!);
    if (node === 'y') out = hwc(t);
  });
  return out;
}
