/**
 * CNNv3Effect (SPEC §7): the network as WGSL compute passes over named texture nodes.
 * Pipelines, uniform buffers and the weights buffers are made once; bind groups follow the
 * node textures (rebuilt only when a node is recreated); `render` only encodes dispatches.
 * Weights are data, uploaded at run time: one read-only storage buffer of packed halves (the
 * general path reads it), and on the fast path each pass's weights staged once per upload as
 * f32 in a uniform buffer (stageConv3, stageEnc1), which the GPU reads as multiply operands.
 *
 * Two sets of shaders: the fast path (SPEC §7's fixed-format nodes, tuned for the playbook's
 * widths) for enc_channels up to [4, 8], four passes (enc1's also writes the bottleneck), and
 * the general path (shaders/wide_*.wgsl), five passes, for any width the trainer accepts, whose
 * nodes are rgba16float texture arrays of ⌈C/4⌉ layers and whose γ/β come from a storage
 * buffer. Both store every intermediate as f16, and every node of SPEC §7 is written.
 */
import { CnnV3Error } from '../errors.js';
import { expectedWeightBytes } from '../export/export.js';
import { evalFilmMlp, identityFilm, readFilmMlpBin, readWeightsBin, type FilmMlp } from '../export/read.js';
import { DEFAULT_MODEL_CONFIG, FILM_COND_NAMES, outputMode, type ModelConfig } from '../model/config.js';
import { buildParamTable, convHalfOffsets, type ConvLayerName, type ParamTable } from '../model/params.js';
import { gpuAwait, type GpuContext } from '../gpu/context.js';
import type { TextureNodes } from './nodes.js';
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
  /** Node names read, in binding order after weights (0) and uniforms or γ/β (1). */
  reads: (effect: CNNv3Effect) => string[];
  /** Node names written, in binding order after the reads. */
  writes: (effect: CNNv3Effect) => string[];
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
}

const node = (n: CnnNode) => (e: CNNv3Effect) => e.nodeLayouts[n].name;
/** enc1.wgsl's staged mat4x4s: 32 Winograd blocks, 4 bottleneck blocks, 1 of biases (stageEnc1). */
const ENC1_MATS = 37;
const nodes = (...ns: CnnNode[]) => (e: CNNv3Effect) => ns.map((n) => e.nodeLayouts[n].name);

/** conv3_common's staging of a 3×3 layer of at most four outputs, STRIDE `stride`. */
const conv3Staged = (layer: ConvLayerName, stride: number): PassSpec['staged'] => ({
  vec4s: 9 * stride + 1,
  stage: (table, values) => stageConv3(table, values, layer, stride),
});

// The fast path: four passes. The 3×3 passes of at most four outputs read their weights alike,
// staged as f32 vec4s in a uniform buffer (conv3_common, stageConv3); the full-resolution ones
// compute 2×2 blocks per thread (block_common); enc1 (Winograd) also computes the bottleneck, one
// texel per thread from its own 2×2 block of e1 (stageEnc1); dec0's output, the residual one
// included, is shared with the general path (dec0_common).
const FAST_PASSES: PassSpec[] = [
  { name: 'enc0', shader: 'enc0', prelude: ['common', 'conv3_common', 'block_common'], struct: 'CnnV3Params4ch', film: false, reads: (e) => [...e.inputs], writes: nodes('enc0'), scale: 1, tile: [16, 32], staged: conv3Staged('enc0', 20) },
  { name: 'enc1', label: 'enc1+bottleneck', shader: 'enc1', prelude: ['common'], struct: 'CnnV3ParamsEnc1', film: false, reads: nodes('enc0'), writes: nodes('enc1', 'bottleneck'), scale: 2, tile: [16, 16], staged: { vec4s: 4 * ENC1_MATS, stage: (t, v) => stageEnc1(t, v) } },
  { name: 'dec1', shader: 'dec1', prelude: ['common', 'conv3_common'], struct: 'CnnV3Params4ch', film: false, reads: nodes('bottleneck', 'enc1'), writes: nodes('dec1'), scale: 2, tile: [8, 8], staged: conv3Staged('dec1', 16) },
  // dec0 also reads the features: the residual output adds to their albedo and transp.
  { name: 'dec0', shader: 'dec0', prelude: ['common', 'conv3_common', 'block_common', 'dec0_common'], struct: 'CnnV3Params4ch', film: false, reads: (e) => [node('dec1')(e), node('enc0')(e), ...e.inputs], writes: (e) => [e.outputs[0]], scale: 1, tile: [16, 32], staged: conv3Staged('dec0', 8) },
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
  wide('enc0', (e) => [...e.inputs], nodes('enc0'), 1),
  wide('enc1', nodes('enc0'), nodes('enc1'), 2),
  wide('bottleneck', nodes('enc1'), nodes('bottleneck'), 4),
  wide('dec1', nodes('bottleneck', 'enc1'), nodes('dec1'), 2),
  wide('dec0', (e) => [node('dec1')(e), node('enc0')(e), ...e.inputs], (e) => [e.outputs[0]], 1),
];

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
}

export class CNNv3Effect {
  readonly table: ParamTable;
  readonly device: GPUDevice;
  readonly path: EffectPath;
  /** Where this model's intermediates live (parity and the tool's viewer read them). */
  readonly nodeLayouts: Readonly<Record<CnnNode, CnnNodeLayout>>;
  private readonly weights: GPUBuffer;
  /** The general path's γ/β for every FiLM layer (generalFilmLayout). */
  private readonly filmBuffer: GPUBuffer | undefined;
  private readonly passes: PassState[];
  /** General-path nodes: bound as 2d-array views even when they have a single layer. */
  private readonly arrayNodes: ReadonlySet<string>;
  private mlp: FilmMlp | undefined;
  private querySet: GPUQuerySet | undefined;
  private queryBuffer: GPUBuffer | undefined;

  constructor(
    readonly ctx: GpuContext,
    readonly inputs: [string, string] = ['gbuf_feat0', 'gbuf_feat1'],
    readonly outputs: [string] = ['cnn_output'],
    readonly start = 0,
    readonly end = Infinity,
    readonly config: ModelConfig = DEFAULT_MODEL_CONFIG,
    options: CnnEffectOptions = {},
  ) {
    const [c0, c1] = config.encChannels;
    this.path = options.path ?? (fitsFastPath(config) ? 'fast' : 'general');
    if (this.path === 'fast' && !fitsFastPath(config)) {
      throw new CnnV3Error(`CNNv3Effect: enc_channels=[${c0}, ${c1}] does not fit the fast path's node formats (at most [${FAST_PATH_MAX_CHANNELS.join(', ')}])`);
    }
    this.device = ctx.device;
    this.table = buildParamTable(config);
    this.nodeLayouts = cnnNodeLayouts(config, this.path);
    this.arrayNodes = new Set(this.path === 'general' ? Object.values(this.nodeLayouts).map((n) => n.name) : []);
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
      const code = [...spec.prelude, spec.shader].map((name) => WGSL[name]).join('\n');
      const module = this.device.createShaderModule({ label: `cnn_v3 ${spec.shader}`, code });
      const constants: Record<string, number | undefined> = {
        C0: c0,
        C1: c1,
        RESIDUAL: outputMode(config) === 'residual' ? 1 : 0,
        WEIGHT_BASE: weightOffsets[spec.name],
        FILM_BASE: spec.name === 'bottleneck' ? undefined : filmLayout.bases[spec.name],
      };
      const used = Object.fromEntries(Object.entries(constants).filter((e): e is [string, number] => e[1] !== undefined && new RegExp(`override ${e[0]}\\b`).test(code)));
      const pipeline = this.device.createComputePipeline({
        label: `cnn_v3 ${spec.shader}`,
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
    if (!this.ctx.timestamps) return false;
    this.querySet ??= this.device.createQuerySet({ label: 'cnn_v3 timestamps', type: 'timestamp', count: 2 * this.passes.length });
    this.queryBuffer ??= this.device.createBuffer({
      label: 'cnn_v3 timestamps resolve',
      size: 16 * this.passes.length,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    return true;
  }

  /** Encodes the passes reading the input nodes and writing the intermediate and output nodes. */
  render(encoder: GPUCommandEncoder, _params: unknown, nodes: TextureNodes): void {
    const feat0 = nodes.get(this.inputs[0]);
    const feat1 = nodes.get(this.inputs[1]);
    for (const [name, t] of [[this.inputs[0], feat0], [this.inputs[1], feat1]] as const) {
      if (!t) throw new CnnV3Error(`CNNv3Effect: node ${name} is read before anything writes it`);
    }
    const { width, height } = feat0!;
    for (const n of Object.values(this.nodeLayouts)) nodes.ensure(n.name, n.format, ...scaledSize(width, height, n.scale), nodeUsage(), n.layers);
    nodes.ensure(this.outputs[0], OUTPUT_FORMAT, width, height, nodeUsage());

    this.passes.forEach((pass, i) => {
      const names = [...pass.spec.reads(this), ...pass.spec.writes(this)];
      const textures = names.map((n) => nodes.get(n)!);
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
              resource: t.createView({ label: `${t.label} view`, ...(this.arrayNodes.has(names[k]!) ? { dimension: '2d-array' as const } : {}) }),
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

  destroy(): void {
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
