/**
 * CNNv3Effect (SPEC §7): the network as five WGSL compute passes over named texture nodes.
 * Pipelines, uniform buffers and the weights buffer are made once; bind groups follow the
 * node textures (rebuilt only when a node is recreated); `render` only encodes dispatches.
 * Weights are data: one read-only storage buffer of packed halves, uploaded at run time.
 */
import { CnnV3Error } from '../errors.js';
import { expectedWeightBytes } from '../export/export.js';
import { evalFilmMlp, identityFilm, readFilmMlpBin, type FilmMlp } from '../export/read.js';
import { DEFAULT_MODEL_CONFIG, FILM_COND_NAMES, outputMode, type ModelConfig } from '../model/config.js';
import { buildParamTable, convHalfOffsets, type ParamTable } from '../model/params.js';
import { gpuAwait, type GpuContext } from '../gpu/context.js';
import type { TextureNodes } from './nodes.js';
import { WGSL, type ShaderName } from './shaders.generated.js';
import { UNIFORM_LAYOUTS, writeUniform, type UniformStruct } from './uniforms.js';

export type FilmParams = Record<(typeof FILM_COND_NAMES)[number], number>;

/** Names and formats of the intermediate nodes (SPEC §7). */
export const CNN_NODES = {
  enc0: { name: 'cnn_v3_enc0', format: 'rgba16float', scale: 1 },
  enc1: { name: 'cnn_v3_enc1', format: 'rgba32uint', scale: 2 },
  bottleneck: { name: 'cnn_v3_bottleneck', format: 'rgba32uint', scale: 4 },
  dec1: { name: 'cnn_v3_dec1', format: 'rgba16float', scale: 2 },
} as const satisfies Record<string, { name: string; format: GPUTextureFormat; scale: number }>;

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

interface PassSpec {
  name: 'enc0' | 'enc1' | 'bottleneck' | 'dec1' | 'dec0';
  struct: UniformStruct;
  /** Node names read, in binding order after weights (0) and uniforms (1). */
  reads: (effect: CNNv3Effect) => string[];
  writes: (effect: CNNv3Effect) => string;
  scale: number;
  /** Output pixels per workgroup along x and y (the shader's workgroup size × pixels per thread). */
  tile: [number, number];
}

const PASSES: PassSpec[] = [
  { name: 'enc0', struct: 'CnnV3Params4ch', reads: (e) => [...e.inputs], writes: () => CNN_NODES.enc0.name, scale: 1, tile: [16, 32] },
  { name: 'enc1', struct: 'CnnV3ParamsEnc1', reads: () => [CNN_NODES.enc0.name], writes: () => CNN_NODES.enc1.name, scale: 2, tile: [16, 16] },
  { name: 'bottleneck', struct: 'CnnV3ParamsBottleneck', reads: () => [CNN_NODES.enc1.name], writes: () => CNN_NODES.bottleneck.name, scale: 4, tile: [8, 8] },
  { name: 'dec1', struct: 'CnnV3Params4ch', reads: () => [CNN_NODES.bottleneck.name, CNN_NODES.enc1.name], writes: () => CNN_NODES.dec1.name, scale: 2, tile: [8, 8] },
  // dec0 also reads the features: the residual output adds to their albedo and transp.
  { name: 'dec0', struct: 'CnnV3Params4ch', reads: (e) => [CNN_NODES.dec1.name, CNN_NODES.enc0.name, ...e.inputs], writes: (e) => e.outputs[0], scale: 1, tile: [16, 32] },
];

interface PassState {
  spec: PassSpec;
  pipeline: GPUComputePipeline;
  uniform: GPUBuffer;
  bindGroup?: GPUBindGroup;
  boundTo: GPUTexture[];
}

export interface CnnTimings {
  /** GPU milliseconds per pass, from timestamp queries. */
  passes: Record<PassSpec['name'], number>;
  total: number;
}

export class CNNv3Effect {
  readonly table: ParamTable;
  readonly device: GPUDevice;
  private readonly weights: GPUBuffer;
  private readonly passes: PassState[];
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
  ) {
    const [c0, c1] = config.encChannels;
    if (c0 > 4 || c1 > 8) {
      throw new CnnV3Error(`CNNv3Effect: enc_channels=[${c0}, ${c1}] does not fit its node formats (at most [4, 8])`);
    }
    this.device = ctx.device;
    this.table = buildParamTable(config);
    const bytes = expectedWeightBytes(config);
    this.weights = this.device.createBuffer({
      label: 'cnn_v3 weights',
      size: Math.max(16, Math.ceil(bytes / 16) * 16),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    const constants = { C0: c0, C1: c1, RESIDUAL: outputMode(config) === 'residual' ? 1 : 0 };
    this.passes = PASSES.map((spec) => {
      const code = `${WGSL.common}\n${WGSL[spec.name as ShaderName]}`;
      const module = this.device.createShaderModule({ label: `cnn_v3 ${spec.name}`, code });
      const used = Object.fromEntries(Object.entries(constants).filter(([k]) => new RegExp(`override ${k}\\b`).test(code)));
      const pipeline = this.device.createComputePipeline({
        label: `cnn_v3 ${spec.name}`,
        layout: 'auto',
        compute: { module, entryPoint: 'main', constants: used },
      });
      const uniform = this.device.createBuffer({
        label: `cnn_v3 ${spec.name} params`,
        size: UNIFORM_LAYOUTS[spec.struct].size,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      return { spec, pipeline, uniform, boundTo: [] };
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

  /** Writes γ/β (in the MLP's output order) and the weight offsets into the uniform buffers. */
  writeFilm(film: ArrayLike<number>): void {
    const offsets = convHalfOffsets(this.table);
    const slice = (layer: keyof ParamTable['film'], what: 'gamma' | 'beta', from = 0, count = 4) => {
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
      this.device.queue.writeBuffer(pass.uniform, 0, writeUniform(struct, values));
    }
  }

  /** Asks for per-pass GPU times on later renders (needs the timestamp-query feature). */
  enableTimestamps(): boolean {
    if (!this.ctx.timestamps) return false;
    this.querySet ??= this.device.createQuerySet({ label: 'cnn_v3 timestamps', type: 'timestamp', count: 2 * PASSES.length });
    this.queryBuffer ??= this.device.createBuffer({
      label: 'cnn_v3 timestamps resolve',
      size: 16 * PASSES.length,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    return true;
  }

  /** Encodes the five passes reading the input nodes and writing the output node. */
  render(encoder: GPUCommandEncoder, _params: unknown, nodes: TextureNodes): void {
    const feat0 = nodes.get(this.inputs[0]);
    const feat1 = nodes.get(this.inputs[1]);
    for (const [name, t] of [[this.inputs[0], feat0], [this.inputs[1], feat1]] as const) {
      if (!t) throw new CnnV3Error(`CNNv3Effect: node ${name} is read before anything writes it`);
    }
    const { width, height } = feat0!;
    for (const node of Object.values(CNN_NODES)) nodes.ensure(node.name, node.format, ...scaledSize(width, height, node.scale), nodeUsage());
    nodes.ensure(this.outputs[0], OUTPUT_FORMAT, width, height, nodeUsage());

    this.passes.forEach((pass, i) => {
      const textures = [...pass.spec.reads(this), pass.spec.writes(this)].map((n) => nodes.get(n)!);
      if (!pass.bindGroup || textures.some((t, k) => t !== pass.boundTo[k])) {
        pass.bindGroup = this.device.createBindGroup({
          label: `cnn_v3 ${pass.spec.name}`,
          layout: pass.pipeline.getBindGroupLayout(0),
          entries: [
            { binding: 0, resource: { buffer: this.weights } },
            { binding: 1, resource: { buffer: pass.uniform } },
            ...textures.map((t, k) => ({ binding: 2 + k, resource: t.createView({ label: `${t.label} view` }) })),
          ],
        });
        pass.boundTo = textures;
      }
      const [w, h] = scaledSize(width, height, pass.spec.scale);
      const cp = encoder.beginComputePass({
        label: `cnn_v3 ${pass.spec.name}`,
        ...(this.querySet ? { timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } } : {}),
      });
      cp.setPipeline(pass.pipeline);
      cp.setBindGroup(0, pass.bindGroup);
      cp.dispatchWorkgroups(Math.ceil(w / pass.spec.tile[0]), Math.ceil(h / pass.spec.tile[1]));
      cp.end();
    });
    if (this.querySet && this.queryBuffer) encoder.resolveQuerySet(this.querySet, 0, 2 * PASSES.length, this.queryBuffer, 0);
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
    const passes = {} as CnnTimings['passes'];
    let total = 0;
    PASSES.forEach((p, i) => {
      const ms = Number(t[2 * i + 1]! - t[2 * i]!) / 1e6;
      passes[p.name] = ms;
      total += ms;
    });
    return { passes, total };
  }

  destroy(): void {
    this.weights.destroy();
    for (const p of this.passes) p.uniform.destroy();
    this.querySet?.destroy();
    this.queryBuffer?.destroy();
  }
}

function isFilmParams(p: FilmParams | ArrayLike<number>): p is FilmParams {
  return typeof (p as FilmParams).beat_phase === 'number';
}
