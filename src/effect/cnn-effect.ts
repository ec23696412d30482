/**
 * CNNv3Effect (SPEC §7): the network as WGSL compute passes, on a GPUDevice the caller owns,
 * reading the caller's textures and recording into the caller's encoder (`render`); the demo's
 * render graph calls it through CnnNodeEffect (node names instead of textures).
 * Pipelines, uniform buffers and the weights buffers are made once; bind groups follow the
 * textures (rebuilt only when one is recreated); `render` only encodes dispatches.
 * Weights are data, uploaded at run time: one read-only storage buffer of packed halves (the
 * general path reads it), and on the fast path each pass's weights staged once per upload as
 * f32 in a uniform buffer (stageConv3, stageEnc1), which the GPU reads as multiply operands.
 *
 * Two sets of shaders: the fast path (SPEC §7's fixed-format nodes, tuned for the playbook's
 * widths) for enc_channels up to [4, 8], four passes (enc1's also writes the bottleneck), and
 * the general path (shaders/wide_*.wgsl), five passes, for any width the trainer accepts, whose
 * nodes are rgba16float texture arrays of ⌈C/4⌉ layers and whose γ/β come from a storage
 * buffer. Both store every intermediate as f16, and every node of SPEC §7 is written.
 *
 * Either runs in f32 or, where the device has `shader-f16`, f16 arithmetic (`precision`,
 * effect/precision.ts): the same WGSL, its arithmetic type rewritten at pipeline creation.
 */
import { CnnV3Error } from '../errors.js';
import { expectedWeightBytes, FILM_MLP_FILE, WEIGHTS_FILE } from '../export/export.js';
import { evalFilmMlp, identityFilm, readFilmMlpBin, readWeightsBin, weightsFileConfig, type FilmMlp } from '../export/read.js';
import { describeConfig, FILM_COND_NAMES, outputMode, sameModelConfig, type ModelConfig } from '../model/config.js';
import { buildParamTable, convHalfOffsets, type ConvLayerName, type ParamTable } from '../model/params.js';
import { gpuAwait } from '../gpu/context.js';
import { BLOCK_TILE, conv3BlockWgsl } from './conv3-block.js';
import { FeaturePass } from './feature-pass.js';
import { TextureNodes } from './nodes.js';
import { PhotoPlanesPass } from './photo-planes-pass.js';
import { resolvePrecision, shaderForArithmetic, type Arithmetic, type Precision } from './precision.js';
import { WGSL, type ShaderName } from './shaders.generated.js';
import { UNIFORM_LAYOUTS, writeUniform, type UniformStruct } from '../gpu/uniforms.js';

export type FilmParams = Record<(typeof FILM_COND_NAMES)[number], number>;

/** Names and formats of the intermediate nodes of the fast path (SPEC §7). */
export const CNN_NODES = {
  enc0: { name: 'cnn_v3_enc0', format: 'rgba16float', scale: 1 },
  enc1: { name: 'cnn_v3_enc1', format: 'rgba32uint', scale: 2 },
  bottleneck: { name: 'cnn_v3_bottleneck', format: 'rgba32uint', scale: 4 },
  dec1: { name: 'cnn_v3_dec1', format: 'rgba16float', scale: 2 },
} as const satisfies Record<string, { name: string; format: GPUTextureFormat; scale: number }>;

export type CnnNode = keyof typeof CNN_NODES;

/** Which set of shaders runs a model: the fast path's node formats hold enc_channels up to [4, 8]. */
export type EffectPath = 'fast' | 'general';

export const FAST_PATH_MAX_CHANNELS: readonly [number, number] = [4, 8];

export function fitsFastPath(config: ModelConfig): boolean {
  return config.encChannels[0] <= FAST_PATH_MAX_CHANNELS[0] && config.encChannels[1] <= FAST_PATH_MAX_CHANNELS[1];
}

/** Where one intermediate of a model lives: its node, texel format, resolution and channels. */
export interface CnnNodeLayout {
  name: string;
  format: GPUTextureFormat;
  scale: number;
  /** Array layers: 1 on the fast path; ⌈channels / 4⌉ on the general path (channel c in layer c / 4). */
  layers: number;
  channels: number;
}

/**
 * The intermediates of a model on a path. General-path nodes are named by their width, so
 * effects of different widths in one graph never recreate each other's nodes mid-frame.
 */
export function cnnNodeLayouts(config: ModelConfig, path: EffectPath = fitsFastPath(config) ? 'fast' : 'general'): Record<CnnNode, CnnNodeLayout> {
  const [c0, c1] = config.encChannels;
  const channels: Record<CnnNode, number> = { enc0: c0, enc1: c1, bottleneck: c1, dec1: c0 };
  const out = {} as Record<CnnNode, CnnNodeLayout>;
  for (const node of Object.keys(CNN_NODES) as CnnNode[]) {
    const { name, format, scale } = CNN_NODES[node];
    const n = channels[node];
    out[node] = path === 'fast' ? { name, format, scale, layers: 1, channels: n } : { name: `${name}_c${n}`, format: 'rgba16float', scale, layers: Math.ceil(n / 4), channels: n };
  }
  return out;
}

export const OUTPUT_FORMAT: GPUTextureFormat = 'rgba16float';
/** The effect's own textures when `render` makes them (beside the intermediates' node names). */
const OWN = { feat0: 'cnn_v3_own_feat0', feat1: 'cnn_v3_own_feat1', black: 'cnn_v3_own_black', output: 'cnn_v3_own_output' } as const;
// A function, not a constant: in Node the GPU* globals exist only once Dawn is loaded.
const nodeUsage = () => GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_SRC;

/** Size of a node at 1/scale resolution: each halving rounds up (avgpool's ceil). */
export function scaledSize(width: number, height: number, scale: number): [number, number] {
  let w = width;
  let h = height;
  for (let s = scale; s > 1; s /= 2) {
    w = Math.ceil(w / 2);
    h = Math.ceil(h / 2);
  }
  return [w, h];
}

type FilmLayer = keyof ParamTable['film'];

interface PassSpec {
  name: ConvLayerName;
  shader: ShaderName;
  /** The shared WGSL files the pass's module starts with, in order, before its own file. */
  prelude: ShaderName[];
  /** The fast path's uniform struct; general-path offsets are override constants instead. */
  struct?: UniformStruct;
  /** General path: binds the γ/β storage buffer (binding 1). */
  film: boolean;
  /** What the pass reads, in binding order after weights (0) and uniforms or γ/β (1). */
  reads: Slot[];
  /** What it writes, in binding order after the reads. */
  writes: Slot[];
  scale: number;
  /** Output pixels per workgroup along x and y (the shader's workgroup size × pixels per thread). */
  tile: [number, number];
  /**
   * The pass reads its weights as f32 from a uniform buffer of `vec4s` vec4s (binding 8), which
   * uploadWeights fills with `stage` of the conv values, instead of the packed halves (binding 0).
   */
  staged?: { vec4s: number; stage: (table: ParamTable, values: ArrayLike<number>) => Float32Array<ArrayBuffer> };
  /** The name of its time in CnnTimings (default: name). */
  label?: string;
  /** block_common passes: rows of the 2 × rows pixel block a thread computes (conv3BlockWgsl). */
  blockRows?: number;
}

/** The textures a pass binds: the packed features, an intermediate, or the output. */
type Slot = 'feat0' | 'feat1' | CnnNode | 'output';
/** enc1.wgsl's staged mat4x4s: 32 Winograd blocks, 4 bottleneck blocks, 1 of biases (stageEnc1). */
const ENC1_MATS = 37;

/**
 * conv3_common's staging of a 3×3 layer of at most four outputs, STRIDE `stride`; with `ups`, the
 * layer's input starts with an upsampled node whose folded weights follow (EXTRA = 16·ups vec4s,
 * stageFoldedUp).
 */
const conv3Staged = (layer: ConvLayerName, stride: number, ups = 0): PassSpec['staged'] => ({
  vec4s: 9 * stride + 1 + 16 * ups,
  stage: (table, values) => {
    const direct = stageConv3(table, values, layer, stride);
    if (!ups) return direct;
    const out = new Float32Array(direct.length + 4 * 16 * ups);
    out.set(direct);
    out.set(stageFoldedUp(table, values, layer, ups), direct.length);
    return out;
  },
});

/**
 * Rows of the pixel block a thread of enc0 / dec0 computes (conv3BlockWgsl). Measured on an H100
 * at 1080p (ms, enc0 / dec0 for rows 1, 2, 4): enc0 0.104 / 0.129 / 0.197 (its 20 input channels
 * make a tall block's registers cost more than its shared reads save), dec0 0.070 / 0.059 / 0.069.
 */
const BLOCK_ROWS = { enc0: 1, dec0: 2 } as const;

// The fast path: four passes. The 3×3 passes of at most four outputs read their weights alike,
// staged as f32 vec4s in a uniform buffer (conv3_common, stageConv3); the full-resolution ones
// compute 2×1 (enc0) and 2×2 (dec0) blocks per thread (block_common); enc1 (Winograd) also computes
// the bottleneck, one texel per thread from its own 2×2 block of e1 (stageEnc1); dec0 folds the
// upsampling of d1 into its weights (4 taps of d1 per pixel instead of 9, stageFoldedUp); dec0's
// output, the residual one included, is shared with the general path (dec0_common).
const FAST_PASSES: PassSpec[] = [
  { name: 'enc0', shader: 'enc0', prelude: ['common', 'conv3_common', 'block_common'], struct: 'CnnV3Params4ch', film: false, reads: ['feat0', 'feat1'], writes: ['enc0'], scale: 1, tile: BLOCK_TILE, blockRows: BLOCK_ROWS.enc0, staged: conv3Staged('enc0', 20) },
  { name: 'enc1', label: 'enc1+bottleneck', shader: 'enc1', prelude: ['common'], struct: 'CnnV3ParamsEnc1', film: false, reads: ['enc0'], writes: ['enc1', 'bottleneck'], scale: 2, tile: [16, 16], staged: { vec4s: 4 * ENC1_MATS, stage: (t, v) => stageEnc1(t, v) } },
  { name: 'dec1', shader: 'dec1', prelude: ['common', 'conv3_common'], struct: 'CnnV3Params4ch', film: false, reads: ['bottleneck', 'enc1'], writes: ['dec1'], scale: 2, tile: [8, 8], staged: conv3Staged('dec1', 16) },
  // dec0 also reads the features: the residual output adds to their albedo and transp.
  { name: 'dec0', shader: 'dec0', prelude: ['common', 'conv3_common', 'block_common', 'dec0_common'], struct: 'CnnV3Params4ch', film: false, reads: ['dec1', 'enc0', 'feat0', 'feat1'], writes: ['output'], scale: 1, tile: BLOCK_TILE, blockRows: BLOCK_ROWS.dec0, staged: conv3Staged('dec0', 8, 4) },
];

const groupsOf = (n: number) => Math.ceil(n / 4);

// The general path: five passes (shaders/wide_*.wgsl), 8×8 tiles, γ/β from a storage buffer.
const wide = (name: ConvLayerName, reads: PassSpec['reads'], writes: PassSpec['writes'], scale: number): PassSpec => ({
  name,
  shader: `wide_${name}` as ShaderName,
  prelude: name === 'dec0' ? ['common', 'wide_common', 'dec0_common'] : ['common', 'wide_common'],
  film: name !== 'bottleneck',
  reads,
  writes,
  scale,
  tile: [8, 8],
});
const GENERAL_PASSES: PassSpec[] = [
  wide('enc0', ['feat0', 'feat1'], ['enc0'], 1),
  wide('enc1', ['enc0'], ['enc1'], 2),
  wide('bottleneck', ['enc1'], ['bottleneck'], 4),
  wide('dec1', ['bottleneck', 'enc1'], ['dec1'], 2),
  wide('dec0', ['dec1', 'enc0', 'feat0', 'feat1'], ['output'], 1),
];

/** A pass's WGSL as written: its files, with block_common's generated conv3_block before the pass's own. */
function moduleSources(spec: PassSpec): string[] {
  return [...spec.prelude.map((name) => WGSL[name]), ...(spec.blockRows ? [conv3BlockWgsl(spec.blockRows)] : []), WGSL[spec.shader]];
}

/** A pass's WGSL module in the arithmetic asked for (effect/precision.ts). */
function moduleCode(spec: PassSpec, arithmetic: Arithmetic): string {
  return shaderForArithmetic(moduleSources(spec).join('\n'), arithmetic);
}

/** Every pass's module of a path, as the pipelines are built from it (test/precision.test.ts checks them). */
export function effectModules(path: EffectPath, arithmetic: Arithmetic): Array<{ shader: ShaderName; sources: string[]; code: string }> {
  return (path === 'general' ? GENERAL_PASSES : FAST_PASSES).map((spec) => ({ shader: spec.shader, sources: moduleSources(spec), code: moduleCode(spec, arithmetic) }));
}

/**
 * A 3×3 layer's weights as conv3_common stages them: vec4 tap·stride + ci holds weight
 * (co, ci, tap) in lane co, zero lanes past the layer's outputs (at most 4); vec4 9·stride the biases.
 * `values` are the conv values in parameter-table order (readWeightsBin: each exactly a half).
 */
export function stageConv3(table: ParamTable, values: ArrayLike<number>, layer: ConvLayerName, stride: number): Float32Array<ArrayBuffer> {
  const conv = table.convs.find((c) => c.name === layer)!;
  if (conv.k !== 3 || conv.out > 4 || conv.in > stride) throw new CnnV3Error(`stageConv3: ${layer} (${conv.in}→${conv.out}, k=${conv.k}) does not fit stride ${stride}`);
  const base = table.byName.get(`${layer}.weight`)!.offset;
  const out = new Float32Array(4 * (9 * stride + 1));
  for (let co = 0; co < conv.out; co++) {
    for (let ci = 0; ci < conv.in; ci++) {
      for (let tap = 0; tap < 9; tap++) out[4 * (tap * stride + ci) + co] = values[base + (co * conv.in + ci) * 9 + tap]!;
    }
    out[4 * 9 * stride + co] = values[base + conv.out * conv.in * 9 + co]!;
  }
  return out;
}

/**
 * The folded weights of a decoder layer's upsampled input (cat(up(x), skip): x's channels first,
 * half of conv.in), as dec0.wgsl reads them (any decoder layer fits the layout): for the pixel of phase 2·(y & 1) + (x & 1)
 * in its 2×2 block, up(x)'s 3×3 window covers a 2×2 window of x's texels, tap 2·a + b, and the
 * weight of (ci, tap) is the f32 sum of the 3×3 taps (ky, kx) landing on it, ky then kx: along an
 * axis, the even pixel's texel 0 takes tap 0 and texel 1 taps 1, 2; the odd pixel's texel 0 taps
 * 0, 1 and texel 1 tap 2. vec4 (phase·4 + tap)·ups + ci holds it over the outputs (lanes co).
 */
export function stageFoldedUp(table: ParamTable, values: ArrayLike<number>, layer: ConvLayerName, ups: number): Float32Array<ArrayBuffer> {
  const conv = table.convs.find((c) => c.name === layer)!;
  const inUp = conv.in / 2;
  if (conv.k !== 3 || conv.out > 4 || inUp > ups) throw new CnnV3Error(`stageFoldedUp: ${layer} (${conv.in}→${conv.out}, k=${conv.k}) does not fit ${ups} slots`);
  const base = table.byName.get(`${layer}.weight`)!.offset;
  const taps = [[[0], [1, 2]], [[0, 1], [2]]];
  const out = new Float32Array(4 * 16 * ups);
  for (let phase = 0; phase < 4; phase++) {
    const [i, j] = [phase >> 1, phase & 1];
    for (let tap = 0; tap < 4; tap++) {
      const [a, b] = [tap >> 1, tap & 1];
      for (let co = 0; co < conv.out; co++) {
        for (let ci = 0; ci < inUp; ci++) {
          let sum = 0;
          for (const ky of taps[i]![a]!) for (const kx of taps[j]![b]!) sum = Math.fround(sum + values[base + (co * conv.in + ci) * 9 + ky * 3 + kx]!);
          out[4 * ((phase * 4 + tap) * ups + ci) + co] = sum;
        }
      }
    }
  }
  return out;
}

/**
 * enc1.wgsl's staged weights (C0 ≤ 4, C1 ≤ 8), as f32 mat4x4s (16 floats, column-major):
 * mat 16h + ξ·4 + ν, column ci, row co − 4h: U = G g Gᵀ of enc1's taps (Winograd F(2×2, 3×3),
 * in f32 step by step, as the shader computed it before it was staged); mat 32 + 2·(co / 4) + ci / 4, column ci % 4,
 * row co % 4: the bottleneck's 1×1 weights; mat 36: columns enc1 bias lo, hi, bottleneck bias lo, hi.
 */
export function stageEnc1(table: ParamTable, values: ArrayLike<number>): Float32Array<ArrayBuffer> {
  const [c0, c1] = table.config.encChannels;
  const f = Math.fround;
  const out = new Float32Array(16 * ENC1_MATS);
  const at = (mat: number, col: number, row: number) => 16 * mat + 4 * col + row;
  const enc1 = table.byName.get('enc1.weight')!.offset;
  const g = (a: number, b: number, c: number) => [a, f(0.5 * f(f(a + b) + c)), f(0.5 * f(f(a - b) + c)), c];
  for (let co = 0; co < c1; co++) {
    for (let ci = 0; ci < c0; ci++) {
      const t = (tap: number) => values[enc1 + (co * c0 + ci) * 9 + tap]!;
      // Columns kx of G along ky, then G along kx of each of their four rows ξ.
      const cols = [0, 1, 2].map((kx) => g(t(kx), t(3 + kx), t(6 + kx)));
      for (let xi = 0; xi < 4; xi++) {
        const r = g(cols[0]![xi]!, cols[1]![xi]!, cols[2]![xi]!);
        for (let nu = 0; nu < 4; nu++) out[at(16 * (co >> 2) + xi * 4 + nu, ci, co & 3)] = r[nu]!;
      }
    }
    out[at(36, co >> 2, co & 3)] = values[enc1 + c1 * c0 * 9 + co]!;
  }
  const bott = table.byName.get('bottleneck.weight')!.offset;
  for (let co = 0; co < c1; co++) {
    for (let ci = 0; ci < c1; ci++) out[at(32 + 2 * (co >> 2) + (ci >> 2), ci & 3, co & 3)] = values[bott + co * c1 + ci]!;
    out[at(36, 2 + (co >> 2), co & 3)] = values[bott + c1 * c1 + co]!;
  }
  return out;
}

/**
 * The general path's γ/β buffer: per FiLM layer, ⌈channels / 4⌉ vec4s of γ then as many of β
 * (zero past the layer's channels, so padding channels stay 0). Offsets in vec4s.
 */
function generalFilmLayout(table: ParamTable): { bases: Record<FilmLayer, number>; vec4s: number } {
  const bases = {} as Record<FilmLayer, number>;
  let at = 0;
  for (const layer of Object.keys(table.film) as FilmLayer[]) {
    bases[layer] = at;
    at += 2 * groupsOf(table.film[layer].channels);
  }
  return { bases, vec4s: at };
}

interface PassState {
  spec: PassSpec;
  pipeline: GPUComputePipeline;
  /** The fast path's per-pass uniforms (weight offset, γ/β). */
  uniform?: GPUBuffer;
  /** The pass's weights staged as f32 (PassSpec.staged). */
  staged?: GPUBuffer;
  /** Workgroups along z: 1 on the fast path, the layer's groups of four output channels on the general one. */
  groups: number;
  bindGroup?: GPUBindGroup;
  boundTo: GPUTexture[];
}

export interface CnnTimings {
  /**
   * GPU milliseconds per pass, from timestamp queries: enc0, enc1, bottleneck, dec1, dec0 on the
   * general path; on the fast path enc1's pass also computes the bottleneck (`enc1+bottleneck`).
   */
  passes: Record<string, number>;
  /** Sum of the passes' times. */
  total: number;
  /** The first pass's start to the last pass's end: the gaps between passes included. */
  span: number;
}

export interface CnnEffectOptions {
  /**
   * The shaders to run: by default the fast path when the model fits it, else the general one.
   * `'general'` runs a small model on the general path too (tests compare the two).
   */
  path?: EffectPath;
  /**
   * The arithmetic (effect/precision.ts): 'f32' everywhere; 'f16' needs the device's
   * `shader-f16` feature (a CnnV3Error naming it otherwise; request it when creating the
   * device); 'auto' (default) is f16 where the device has the feature, else f32. Storage is f16
   * either way.
   */
  precision?: Precision;
}

type Bytes = ArrayBuffer | ArrayBufferView;

/**
 * What a CNNv3Effect is made from: the two exported files (the model config is read from the
 * weights file), or, for a tool that trains first, just a config (every weight 0 until
 * `uploadWeights`).
 */
export interface CnnEffectInit extends CnnEffectOptions {
  /** cnn_v3_weights.bin. */
  weights?: Bytes;
  /** cnn_v3_film_mlp.bin; without it every FiLM layer is the identity (γ = 1, β = 0). */
  film?: Bytes;
  /** The model without weights; with `weights` it must match the file's. */
  config?: ModelConfig;
  /** Names the files in error messages (default: the exported file names). */
  names?: { weights?: string; film?: string };
}

/**
 * The G-buffer of full mode: the planes of a sample (SPEC §2) as textures of one size, each read
 * with textureLoad (any float-sampled format: rgba8unorm, rgba16float, r32float, …):
 * - `albedoMatid`: rgb = albedo, sRGB-encoded 0..1 (a base-colour MRT target); a = material id / 255.
 * - `normalShadowTransp`: rg = world normal octahedral-encoded to 0..1 (Blender's Z-up axes),
 *   b = shadow (1 lit, 0 shadowed), a = transparency (1 − alpha).
 * - `depth`: r = depth.png / 65535, i.e. 1 / (view depth + 1).
 * - `prev`: the effect's previous output (feedback, SPEC §3 channels 9–11); black when absent.
 */
export interface GBufferTextures {
  albedoMatid: GPUTexture;
  normalShadowTransp: GPUTexture;
  depth: GPUTexture;
  prev?: GPUTexture;
}

/**
 * The network's input: a photo texture (simple mode: albedo from its colour, transp = 1 − alpha,
 * SPEC §2's neutral values for the rest), a G-buffer (full mode), or the 20 features already
 * packed by a feature pass (two rgba32uint textures, SPEC §3).
 */
export type CnnInput = GPUTexture | { gbuffer: GBufferTextures } | { features: readonly [GPUTexture, GPUTexture] };

export interface CnnRenderArgs {
  input: CnnInput;
  /** An rgba16float texture of the input's size with STORAGE_BINDING; default: the effect's own. */
  output?: GPUTexture;
  /** The FiLM condition (five values, or named); applied from the next queue submit on. */
  cond?: FilmParams | ArrayLike<number>;
}

/** The texture formats a photo input may have (textureLoad gives its stored values as 0..1). */
const PHOTO_FORMATS: ReadonlySet<GPUTextureFormat> = new Set(['rgba8unorm', 'bgra8unorm', 'rgba16float', 'rgba32float']);

export class CNNv3Effect {
  readonly table: ParamTable;
  readonly config: ModelConfig;
  readonly path: EffectPath;
  /** The arithmetic the passes run (`precision` resolved against the device). */
  readonly precision: Arithmetic;
  /** Where this model's intermediates live (parity and the tool's viewer read them). */
  readonly nodeLayouts: Readonly<Record<CnnNode, CnnNodeLayout>>;
  private readonly timestampsAvailable: boolean;
  private readonly weights: GPUBuffer;
  /** The general path's γ/β for every FiLM layer (generalFilmLayout). */
  private readonly filmBuffer: GPUBuffer | undefined;
  private readonly passes: PassState[];
  /** The effect's own textures when `render` is used: intermediates, features, output, planes. */
  private readonly own: TextureNodes;
  private features: FeaturePass | undefined;
  private photo: PhotoPlanesPass | undefined;
  private mlp: FilmMlp | undefined;
  private querySet: GPUQuerySet | undefined;
  private queryBuffer: GPUBuffer | undefined;

  /**
   * `new CNNv3Effect(device, { weights, film })`: the effect on a device the caller owns. Nothing
   * is global: every GPU object it makes is its own and goes with `destroy()`.
   */
  constructor(
    readonly device: GPUDevice,
    init: CnnEffectInit,
  ) {
    const weightsName = init.names?.weights ?? WEIGHTS_FILE;
    if (!init.weights && !init.config) throw new CnnV3Error('CNNv3Effect: pass the weights file (weights: ArrayBuffer) or a model config');
    const config = init.weights ? weightsFileConfig(init.weights, weightsName) : init.config!;
    if (init.weights && init.config && !sameModelConfig(config, init.config)) {
      throw new CnnV3Error(`${weightsName}: holds a model with ${describeConfig(config)}, but ${describeConfig(init.config)} was asked for`);
    }
    this.config = config;
    const [c0, c1] = config.encChannels;
    this.path = init.path ?? (fitsFastPath(config) ? 'fast' : 'general');
    if (this.path === 'fast' && !fitsFastPath(config)) {
      throw new CnnV3Error(`CNNv3Effect: enc_channels=[${c0}, ${c1}] does not fit the fast path's node formats (at most [${FAST_PATH_MAX_CHANNELS.join(', ')}])`);
    }
    this.precision = resolvePrecision(device, init.precision);
    this.timestampsAvailable = device.features.has('timestamp-query');
    this.own = new TextureNodes(device);
    this.table = buildParamTable(config);
    this.nodeLayouts = cnnNodeLayouts(config, this.path);
    const bytes = expectedWeightBytes(config);
    this.weights = this.device.createBuffer({
      label: 'cnn_v3 weights',
      size: Math.max(16, Math.ceil(bytes / 16) * 16),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    const general = this.path === 'general';
    const filmLayout = generalFilmLayout(this.table);
    this.filmBuffer = general
      ? this.device.createBuffer({ label: 'cnn_v3 film gamma beta', size: 16 * filmLayout.vec4s, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST })
      : undefined;
    const weightOffsets = convHalfOffsets(this.table);
    this.passes = (general ? GENERAL_PASSES : FAST_PASSES).map((spec) => {
      const code = moduleCode(spec, this.precision);
      const label = `cnn_v3 ${spec.shader}${this.precision === 'f16' ? ' f16' : ''}`;
      const module = this.device.createShaderModule({ label, code });
      const constants: Record<string, number | undefined> = {
        C0: c0,
        C1: c1,
        RESIDUAL: outputMode(config) === 'residual' ? 1 : 0,
        WEIGHT_BASE: weightOffsets[spec.name],
        FILM_BASE: spec.name === 'bottleneck' ? undefined : filmLayout.bases[spec.name],
      };
      const used = Object.fromEntries(Object.entries(constants).filter((e): e is [string, number] => e[1] !== undefined && new RegExp(`override ${e[0]}\\b`).test(code)));
      const pipeline = this.device.createComputePipeline({
        label,
        layout: 'auto',
        compute: { module, entryPoint: 'main', constants: used },
      });
      const uniform = spec.struct
        ? this.device.createBuffer({ label: `cnn_v3 ${spec.name} params`, size: UNIFORM_LAYOUTS[spec.struct].size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST })
        : undefined;
      const staged = spec.staged
        ? this.device.createBuffer({ label: `cnn_v3 ${spec.name} staged weights`, size: 16 * spec.staged.vec4s, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST })
        : undefined;
      const groups = general ? groupsOf(this.table.convs.find((c) => c.name === spec.name)!.out) : 1;
      return { spec, pipeline, uniform, staged, groups, boundTo: [] };
    });
    this.writeFilm(identityFilm(config));
    try {
      if (init.weights) this.uploadWeights(device.queue, init.weights);
      if (init.film) this.uploadFilmMlp(init.film, init.names?.film ?? FILM_MLP_FILE);
    } catch (err) {
      this.destroy();
      throw err;
    }
  }

  /** Uploads cnn_v3_weights.bin; until then every weight is 0 and the output is 0.5 gray. */
  uploadWeights(queue: GPUQueue, data: ArrayBuffer | ArrayBufferView, byteLength?: number): void {
    const expected = expectedWeightBytes(this.config);
    const n = byteLength ?? data.byteLength;
    if (n !== expected || data.byteLength < n) {
      throw new CnnV3Error(`cnn_v3_weights.bin: expected ${expected} bytes, got ${n}`);
    }
    // A copy into a fresh ArrayBuffer: the source may be a view on shared or larger memory.
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data, 0, n).slice() : new Uint8Array(data.buffer, data.byteOffset, n).slice();
    // writeBuffer needs a multiple of 4 bytes; the weight file always is one (whole u32s).
    queue.writeBuffer(this.weights, 0, bytes);
    const staging = this.passes.filter((p) => p.staged);
    if (staging.length) {
      const values = readWeightsBin(this.config, bytes, 'cnn_v3_weights.bin');
      for (const p of staging) queue.writeBuffer(p.staged!, 0, p.spec.staged!.stage(this.table, values));
    }
  }

  /** Loads cnn_v3_film_mlp.bin; setFilmParams then runs it on the CPU. */
  uploadFilmMlp(data: ArrayBuffer | ArrayBufferView, name = 'cnn_v3_film_mlp.bin'): void {
    this.mlp = readFilmMlpBin(this.config, data, name);
  }

  /** γ/β for every FiLM layer from the condition (identity FiLM when no MLP is loaded). */
  filmValues(p: FilmParams | ArrayLike<number>): Float64Array {
    if (!this.mlp) return identityFilm(this.config);
    const cond = isFilmParams(p) ? FILM_COND_NAMES.map((k) => p[k]) : Array.from(p);
    return evalFilmMlp(this.mlp, cond);
  }

  setFilmParams(p: FilmParams | ArrayLike<number>): void {
    this.writeFilm(this.filmValues(p));
  }

  /** Writes γ/β (in the MLP's output order) and, on the fast path, the weight offsets into the uniforms. */
  writeFilm(film: ArrayLike<number>): void {
    if (this.filmBuffer) {
      const { bases, vec4s } = generalFilmLayout(this.table);
      const values = new Float32Array(4 * vec4s);
      for (const [layer, f] of Object.entries(this.table.film) as Array<[FilmLayer, ParamTable['film'][FilmLayer]]>) {
        const betaAt = 4 * (bases[layer] + groupsOf(f.channels));
        for (let c = 0; c < f.channels; c++) {
          values[4 * bases[layer] + c] = film[f.gamma + c]!;
          values[betaAt + c] = film[f.beta + c]!;
        }
      }
      this.device.queue.writeBuffer(this.filmBuffer, 0, values);
      return;
    }
    const offsets = convHalfOffsets(this.table);
    const slice = (layer: FilmLayer, what: 'gamma' | 'beta', from = 0, count = 4) => {
      const f = this.table.film[layer];
      const start = f[what] + from;
      return Array.from({ length: count }, (_, k) => (from + k < f.channels ? film[start + k]! : 0));
    };
    for (const pass of this.passes) {
      const { name, struct } = pass.spec;
      let values: Parameters<typeof writeUniform>[1] = { weight_offset: offsets[name] };
      if (name === 'enc1') {
        values = { ...values, gamma_lo: slice('enc1', 'gamma'), gamma_hi: slice('enc1', 'gamma', 4), beta_lo: slice('enc1', 'beta'), beta_hi: slice('enc1', 'beta', 4) };
      } else if (name !== 'bottleneck') {
        values = { ...values, gamma: slice(name, 'gamma'), beta: slice(name, 'beta') };
      }
      this.device.queue.writeBuffer(pass.uniform!, 0, writeUniform(struct!, values));
    }
  }

  /** Asks for per-pass GPU times on later renders (needs the timestamp-query feature). */
  enableTimestamps(): boolean {
    if (!this.timestampsAvailable) return false;
    this.querySet ??= this.device.createQuerySet({ label: 'cnn_v3 timestamps', type: 'timestamp', count: 2 * this.passes.length });
    this.queryBuffer ??= this.device.createBuffer({
      label: 'cnn_v3 timestamps resolve',
      size: 16 * this.passes.length,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    return true;
  }

  /**
   * Records the network into the caller's encoder: `input` (a photo texture, `{ gbuffer }` or
   * `{ features }`) → `output` (the caller's rgba16float storage texture, else the effect's
   * own), returning the texture written. Textures are read at submit time, so the caller may
   * render its scene into `input` earlier in the same encoder.
   */
  render(encoder: GPUCommandEncoder, args: CnnRenderArgs): GPUTexture {
    if (args.cond !== undefined) this.setFilmParams(args.cond);
    const [feat0, feat1] = this.featuresFor(encoder, args.input);
    const { width, height } = feat0;
    let output = args.output;
    if (output) {
      if (output.format !== OUTPUT_FORMAT || !(output.usage & GPUTextureUsage.STORAGE_BINDING)) {
        throw new CnnV3Error(`CNNv3Effect.render: output must be an ${OUTPUT_FORMAT} texture with STORAGE_BINDING usage (got ${output.format})`);
      }
      if (output.width !== width || output.height !== height) {
        throw new CnnV3Error(`CNNv3Effect.render: output is ${output.width}×${output.height}, the input ${width}×${height}`);
      }
    } else {
      output = this.own.ensure(OWN.output, OUTPUT_FORMAT, width, height, nodeUsage()).texture;
    }
    this.encodePasses(encoder, feat0, feat1, output, this.own);
    return output;
  }

  /** The packed features of an input, encoding the feature pass (and the photo's planes) when needed. */
  private featuresFor(encoder: GPUCommandEncoder, input: CnnInput): readonly [GPUTexture, GPUTexture] {
    if ('features' in input) {
      const [f0, f1] = input.features;
      if (f0.format !== 'rgba32uint' || f1.format !== 'rgba32uint' || f0.width !== f1.width || f0.height !== f1.height) {
        throw new CnnV3Error('CNNv3Effect.render: features must be two rgba32uint textures of one size (a feature pass\'s output)');
      }
      return input.features;
    }
    let gbuffer: GBufferTextures;
    if ('gbuffer' in input) {
      gbuffer = input.gbuffer;
      const { width, height } = gbuffer.albedoMatid;
      for (const [key, t] of Object.entries(gbuffer) as Array<[string, GPUTexture | undefined]>) {
        if (t && (t.width !== width || t.height !== height)) {
          throw new CnnV3Error(`CNNv3Effect.render: gbuffer.${key} is ${t.width}×${t.height}, gbuffer.albedoMatid ${width}×${height}`);
        }
      }
    } else {
      if (!PHOTO_FORMATS.has(input.format)) {
        throw new CnnV3Error(`CNNv3Effect.render: a photo input must be one of ${[...PHOTO_FORMATS].join(', ')} (got ${input.format}; an -srgb texture would give linear values, not the photo's)`);
      }
      this.photo ??= new PhotoPlanesPass(this.device);
      gbuffer = this.photo.encode(encoder, input, this.own);
    }
    this.features ??= new FeaturePass(this.device);
    const { width, height } = gbuffer.albedoMatid;
    const usage = GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_SRC;
    const feat0 = this.own.ensure(OWN.feat0, 'rgba32uint', width, height, usage).texture;
    const feat1 = this.own.ensure(OWN.feat1, 'rgba32uint', width, height, usage).texture;
    const prev = gbuffer.prev ?? this.own.ensure(OWN.black, 'rgba16float', width, height, GPUTextureUsage.TEXTURE_BINDING).texture;
    this.features.encodeTextures(encoder, { ...gbuffer, prev }, feat0, feat1);
    return [feat0, feat1];
  }

  /**
   * The five passes from packed features to `output`, the intermediates kept in `nodes` under
   * `nodeLayouts`' names (the node-based layer passes the render graph's pool, so a viewer and
   * the parity check can read them).
   */
  encodePasses(encoder: GPUCommandEncoder, feat0: GPUTexture, feat1: GPUTexture, output: GPUTexture, nodes: TextureNodes): void {
    const { width, height } = feat0;
    const slots = { feat0, feat1, output } as Record<Slot, GPUTexture>;
    for (const [key, n] of Object.entries(this.nodeLayouts) as Array<[CnnNode, CnnNodeLayout]>) {
      slots[key] = nodes.ensure(n.name, n.format, ...scaledSize(width, height, n.scale), nodeUsage(), n.layers).texture;
    }
    const arraySlots = new Set<Slot>(this.path === 'general' ? (Object.keys(this.nodeLayouts) as CnnNode[]) : []);

    this.passes.forEach((pass, i) => {
      const used = [...pass.spec.reads, ...pass.spec.writes];
      const textures = used.map((slot) => slots[slot]);
      if (!pass.bindGroup || textures.some((t, k) => t !== pass.boundTo[k])) {
        const second = pass.uniform ?? (pass.spec.film ? this.filmBuffer : undefined);
        pass.bindGroup = this.device.createBindGroup({
          label: `cnn_v3 ${pass.spec.shader}`,
          layout: pass.pipeline.getBindGroupLayout(0),
          entries: [
            pass.staged ? { binding: 8, resource: { buffer: pass.staged } } : { binding: 0, resource: { buffer: this.weights } },
            ...(second ? [{ binding: 1, resource: { buffer: second } }] : []),
            ...textures.map((t, k) => ({
              binding: 2 + k,
              resource: t.createView({ label: `${t.label} view`, ...(arraySlots.has(used[k]!) ? { dimension: '2d-array' as const } : {}) }),
            })),
          ],
        });
        pass.boundTo = textures;
      }
      const [w, h] = scaledSize(width, height, pass.spec.scale);
      const cp = encoder.beginComputePass({
        label: `cnn_v3 ${pass.spec.shader}`,
        ...(this.querySet ? { timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } } : {}),
      });
      cp.setPipeline(pass.pipeline);
      cp.setBindGroup(0, pass.bindGroup);
      cp.dispatchWorkgroups(Math.ceil(w / pass.spec.tile[0]), Math.ceil(h / pass.spec.tile[1]), pass.groups);
      cp.end();
    });
    if (this.querySet && this.queryBuffer) encoder.resolveQuerySet(this.querySet, 0, 2 * this.passes.length, this.queryBuffer, 0);
  }

  /** Per-pass GPU times of the last render (after its submit), when timestamps are enabled. */
  async readTimings(): Promise<CnnTimings | undefined> {
    if (!this.queryBuffer) return undefined;
    const read = this.device.createBuffer({ label: 'cnn_v3 timestamps read', size: this.queryBuffer.size, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
    const enc = this.device.createCommandEncoder({ label: 'cnn_v3 timestamps copy' });
    enc.copyBufferToBuffer(this.queryBuffer, 0, read, 0, this.queryBuffer.size);
    this.device.queue.submit([enc.finish()]);
    await gpuAwait(read.mapAsync(GPUMapMode.READ));
    const t = new BigInt64Array(read.getMappedRange().slice(0));
    read.unmap();
    read.destroy();
    return this.timingsFrom(t);
  }

  /**
   * Encodes a copy of the render just encoded's raw timestamps (16 bytes a pass, once timestamps
   * are enabled) into `dst` at `offset`, so many frames can be timed without a read-back each:
   * bench:infer keeps the GPU busy that way. Read them back with timingsFrom.
   */
  copyTimestamps(encoder: GPUCommandEncoder, dst: GPUBuffer, offset: number): void {
    if (!this.queryBuffer) throw new CnnV3Error('CNNv3Effect.copyTimestamps: call enableTimestamps first');
    encoder.copyBufferToBuffer(this.queryBuffer, 0, dst, offset, this.queryBuffer.size);
  }

  /** Bytes copyTimestamps writes per frame. */
  get timestampBytes(): number {
    return 16 * this.passes.length;
  }

  /** Per-pass times from one frame's raw timestamps (begin, end per pass, in ns). */
  timingsFrom(t: BigInt64Array): CnnTimings {
    const passes = {} as CnnTimings['passes'];
    let total = 0;
    this.passes.forEach(({ spec: p }, i) => {
      const ms = Number(t[2 * i + 1]! - t[2 * i]!) / 1e6;
      passes[p.label ?? p.name] = ms;
      total += ms;
    });
    const span = Number(t[2 * this.passes.length - 1]! - t[0]!) / 1e6;
    return { passes, total, span };
  }

  /** Frees every GPU object the effect made (not the caller's textures); the effect is unusable after. */
  destroy(): void {
    this.own.destroy();
    this.weights.destroy();
    this.filmBuffer?.destroy();
    for (const p of this.passes) {
      p.uniform?.destroy();
      p.staged?.destroy();
    }
    this.querySet?.destroy();
    this.queryBuffer?.destroy();
  }
}

function isFilmParams(p: FilmParams | ArrayLike<number>): p is FilmParams {
  return typeof (p as FilmParams).beat_phase === 'number';
}
