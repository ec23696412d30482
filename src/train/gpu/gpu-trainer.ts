/**
 * Training on WebGPU (SPEC §4–5): forward, backward and Adam as WGSL kernels over a training
 * set that lives on the GPU. One step is 19 dispatches (patch setup, 5 forward, 6 backward,
 * 5 weight-gradient, FiLM/MLP backward, reduce + Adam; a --feedback-p run adds 5 forward for
 * each of the two earlier frames); many steps go into one submit, and the
 * loss of each step stays on the GPU until the caller reads it (per epoch).
 * Browser-safe: it takes a GPUDevice and a training set uploaded by ./data.ts.
 */
import { CnnV3Error } from '../../errors.js';
import { outputMode } from '../../model/config.js';
import type { LossKind } from '../../model/loss.js';
import type { ParamTable } from '../../model/params.js';
import { gpuAwait } from '../../gpu/context.js';
import { WGSL } from './shaders.generated.js';
import { UNIFORM_LAYOUTS } from '../../gpu/uniforms.js';
import { checkFits, type GpuTrainingSet } from './data.js';
import { KERNEL_CONSTANTS, LAYER_IDS, layerShapes, TILE, TILE_PX, trainLayout, type TrainLayout } from './layout.js';
import { FEEDBACK_MAX_EXPOSURE, FEEDBACK_MAX_SHIFT } from '../patches.js';

export interface GpuTrainerConfig {
  table: ParamTable;
  /** Patch side (or --image-size in full-image mode). */
  side: number;
  /** Largest number of patches in one step. */
  maxBatch: number;
  channelDropoutP: number;
  seed: number;
  /** Loss slots: the most steps whose losses are read back at once (one epoch's). */
  lossSlots: number;
  /** Steps per submit (default 256). */
  chunk?: number;
  /** Weight-gradient workgroups to aim at per layer and step (layout.ts WGRAD_GROUPS by default). */
  wgradGroups?: number;
  /** Threads per reduce workgroup, a power of two from 64 to 256 (REDUCE_THREADS by default). */
  reduceThreads?: number;
  /** `--loss`: mse (default) or l1; l1+ssim is refused (the CPU engine has it). */
  loss?: LossKind;
  /** `--weight-decay`: AdamW's decoupled decay of the conv weights (adam.ts decayedParams), 0 = none. */
  weightDecay?: number;
  /** `--feedback-p` and its companions (CpuEngineOptions); absent or p = 0: no feedback pass. */
  feedback?: FeedbackOptions;
}

/** The feedback pass's settings, as CpuEngineOptions names them. */
export interface FeedbackOptions {
  feedbackP: number;
  temporalWeight?: number;
  feedbackNoise?: number;
  feedbackStill?: number;
}

/** A patch's feedback draws as the last step left them (readFeedback). */
export interface FeedbackRecord {
  /** Earlier frames fed back: 0 (not a feedback patch), 1 or 2. */
  frames: number;
  /** σ of its albedo noise. */
  sigma: number;
  /** Per earlier frame, one frame back first: the view's origin and exposure. */
  views: Array<{ x0: number; y0: number; exposure: number }>;
  /** The latest earlier frame's output (RGBA, side² × 4, HWC): the patch's prev.rgb (stale when frames is 0). */
  output: Float32Array;
}

/** One step: `n` patches from order entries [first, first + n), Adam step `step` (1-based). */
export interface StepSpec {
  n: number;
  first: number;
  step: number;
  lr: number;
  /** Where its loss goes (0 ≤ slot < lossSlots). */
  lossSlot: number;
}

export interface TrainState {
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
  /** The last step's batch gradient (what Adam was fed). */
  grad: Float32Array;
}

interface Kernel {
  name: string;
  pipeline: GPUComputePipeline;
  /** Workgroups for a step of n patches. */
  groups: (n: number) => [number, number, number];
}

const STEP_STRIDE = 256;
/** The widest layer the kernels' workgroup memory is sized for. */
export const MAX_CHANNELS = 16;
export const REDUCE_THREADS = 256;

export class GpuTrainer {
  readonly layout: TrainLayout;
  readonly kernels: Kernel[];
  private readonly stateBuf: GPUBuffer;
  private readonly actBuf: GPUBuffer;
  private readonly partsBuf: GPUBuffer;
  private readonly stepBuf: GPUBuffer;
  private readonly bindGroup: GPUBindGroup;
  private readonly chunk: number;
  /** Whether the steps run the feedback pass (--feedback-p). */
  readonly feedback: boolean;

  constructor(
    readonly device: GPUDevice,
    readonly config: GpuTrainerConfig,
    readonly set: GpuTrainingSet,
  ) {
    const { table, side, maxBatch } = config;
    const mode = outputMode(table.config);
    const loss = config.loss ?? 'mse';
    if (loss === 'l1+ssim') {
      throw new CnnV3Error('--loss l1+ssim runs on the CPU engine only for now (the WebGPU trainer has no SSIM pass): use --device cpu, or --loss l1 or mse on the GPU', 2);
    }
    const widest = Math.max(...table.config.encChannels);
    if (widest > MAX_CHANNELS) {
      throw new CnnV3Error(`the GPU trainer handles --enc-channels up to ${MAX_CHANNELS}; got ${table.config.encChannels.join(',')}: use --device cpu`, 2);
    }
    const feedback = (config.feedback?.feedbackP ?? 0) > 0 ? config.feedback : undefined;
    this.feedback = feedback !== undefined;
    this.layout = trainLayout(table, side, maxBatch, config.lossSlots, config.wgradGroups, this.feedback);
    this.chunk = config.chunk ?? 256;
    const L = this.layout;
    const hint = 'use a smaller --batch-size or --patch-size, or --device cpu';
    checkFits(device, `A batch of ${maxBatch} patches of ${side}×${side}`, L.actVec4s * 16, hint);
    checkFits(device, `The gradient partials of a batch of ${maxBatch}`, L.partsFloats * 4, hint);

    const buffer = (label: string, floats: number, usage: number) =>
      device.createBuffer({ label, size: Math.max(16, Math.ceil((floats * 4) / 16) * 16), usage });
    const RW = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.stateBuf = buffer('cnnv3 train state (params, adam m, v, grad, losses)', L.stateFloats, RW);
    // A feedback run's fed-back outputs are read back by readFeedback.
    this.actBuf = buffer('cnnv3 train activations', 4 * L.actVec4s, GPUBufferUsage.STORAGE | (this.feedback ? GPUBufferUsage.COPY_SRC : 0));
    this.partsBuf = buffer('cnnv3 train patch info and gradient partials', L.partsFloats, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
    this.stepBuf = device.createBuffer({ label: 'cnnv3 train step records', size: this.chunk * STEP_STRIDE, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });

    const storage = (binding: number, type: GPUBufferBindingType): GPUBindGroupLayoutEntry => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } });
    const bgl = device.createBindGroupLayout({
      label: 'cnnv3 train bindings',
      entries: [
        storage(0, 'storage'),
        storage(1, 'read-only-storage'),
        storage(2, 'storage'),
        storage(3, 'storage'),
        storage(4, 'read-only-storage'),
        { binding: 5, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true, minBindingSize: UNIFORM_LAYOUTS.TrainStep.size } },
      ],
    });
    this.bindGroup = device.createBindGroup({
      label: 'cnnv3 train bind group',
      layout: bgl,
      entries: [
        { binding: 0, resource: { buffer: this.stateBuf } },
        { binding: 1, resource: { buffer: set.data } },
        { binding: 2, resource: { buffer: this.actBuf } },
        { binding: 3, resource: { buffer: this.partsBuf } },
        { binding: 4, resource: { buffer: set.meta } },
        { binding: 5, resource: { buffer: this.stepBuf, size: UNIFORM_LAYOUTS.TrainStep.size } },
      ],
    });
    const pipelineLayout = device.createPipelineLayout({ label: 'cnnv3 train pipeline layout', bindGroupLayouts: [bgl] });
    const controls = { STYLE_CONDS: table.config.styleConds ? 1 : 0, STRENGTH: table.config.strengthCond === undefined ? 0 : table.config.strengthCond + 1 };
    // LOSS and WD are left out at their defaults, so the default run's pipelines are the ones they always were.
    const objective = { ...(loss === 'l1' ? { LOSS: 1 } : {}), ...((config.weightDecay ?? 0) > 0 ? { WD: config.weightDecay! } : {}) };
    const temporalWeight = feedback?.temporalWeight ?? 0;
    // Left out without feedback, like LOSS and WD.
    const feedbackConstants: Record<string, number> = feedback
      ? { FEEDBACK: 1, FB_P: feedback.feedbackP, FB_STILL: feedback.feedbackStill ?? 0, FB_NOISE: feedback.feedbackNoise ?? 0, TEMPORAL_A: temporalWeight / (1 + temporalWeight), FB_SHIFT: FEEDBACK_MAX_SHIFT, FB_EXPOSURE: FEEDBACK_MAX_EXPOSURE }
      : {};
    const base = { ...L.constants, ...KERNEL_CONSTANTS, OUTPUT_MODE: mode === 'residual' ? 1 : 0, ...controls, ...objective, ...feedbackConstants };
    const modules = new Map<string, GPUShaderModule>();
    const module = (file: 'train_forward' | 'train_backward' | 'train_wgrad' | 'train_reduce') => {
      let m = modules.get(file);
      if (!m) {
        m = device.createShaderModule({ label: `cnnv3 ${file}`, code: `${WGSL.train_common}\n${WGSL[file]}` });
        modules.set(file, m);
      }
      return m;
    };
    const pipeline = (name: string, file: Parameters<typeof module>[0], entryPoint: string, extra: Record<string, number> = {}) =>
      device.createComputePipeline({ label: `cnnv3 train ${name}`, layout: pipelineLayout, compute: { module: module(file), entryPoint, constants: { ...base, ...extra } } });

    const [t0, t1, t2] = L.tilesW as [number, number, number];
    const [g0, g1] = L.groups;
    const shapes = layerShapes(table, side);
    const wgBytes = device.limits.maxComputeWorkgroupStorageSize;
    const needMemory = (what: string, vec4s: number) => {
      if (vec4s * 16 > wgBytes) {
        throw new CnnV3Error(`--enc-channels ${table.config.encChannels.join(',')}: the ${what} kernel needs ${vec4s * 16} bytes of workgroup memory; this GPU has ${wgBytes}: use fewer channels or --device cpu`);
      }
    };
    const kernels: Kernel[] = [];
    kernels.push({ name: 'patch_setup', pipeline: pipeline('patch_setup', 'train_forward', 'patch_setup'), groups: (n) => [n, 1, 1] });
    const tiles = [t0 * t0, t1 * t1, t2 * t2, t1 * t1, t0 * t0];
    // The earlier frames of a feedback run, oldest first, then the trained frame (FRAME 0, left
    // out of the constants so its pipelines are those of a run without feedback).
    for (const frame of feedback ? [2, 1, 0] : [0]) {
      const prefix = frame > 0 ? `frame${frame}_` : '';
      for (const [name, id] of [['enc0', 0], ['enc1', 1], ['bottleneck', 2], ['dec1', 3], ['dec0', 4]] as const) {
        const sh = shapes[id]!;
        const wsz = 4 * sh.inGroups * sh.k * sh.k;
        needMemory(`forward ${name}`, wsz + TILE_PX + 16);
        const entry = id === 4 ? 'dec0_fwd' : 'conv_fwd';
        kernels.push({
          name: `${prefix}${id === 4 ? (frame > 0 ? 'fwd_dec0' : 'fwd_dec0_loss') : `fwd_${name}`}`,
          pipeline: pipeline(`${prefix}fwd ${name}`, 'train_forward', entry, { LAYER: id, WSZ: wsz, ...(frame > 0 ? { FRAME: frame } : {}) }),
          groups: (n) => [tiles[id]!, n, sh.outGroups],
        });
      }
    }
    // Backward stages: the layer whose transposed conv each applies, its tiles and channel groups.
    const stages = [
      { name: 'dcat0', layer: 4, tiles: t0 * t0, groups: 2 * g0 },
      { name: 'dcat1', layer: 3, tiles: t1 * t1, groups: 2 * g1 },
      { name: 'g_enc1', layer: 2, tiles: t1 * t1, groups: g1 },
      { name: 'g_enc0', layer: 1, tiles: t0 * t0, groups: g0 },
    ];
    stages.forEach((st, stage) => {
      const sh = shapes[st.layer]!;
      const wtsz = 4 * sh.outGroups * sh.k * sh.k;
      needMemory(`backward ${st.name}`, wtsz + TILE_PX);
      kernels.push({ name: `bwd_${st.name}`, pipeline: pipeline(`bwd ${st.name}`, 'train_backward', 'backward', { STAGE: stage, WTSZ: wtsz }), groups: (n) => [st.tiles, n, st.groups] });
    });
    shapes.forEach((sh, id) => {
      const combos = sh.outGroups * sh.inGroups * sh.k * sh.k;
      const cpw = Math.min(TILE_PX, combos);
      const slots = Math.ceil(combos / cpw);
      const hw = TILE + sh.k - 1;
      const wgIn = Math.max(sh.inGroups * hw * hw, 256);
      const wgDz = sh.outGroups * TILE_PX;
      const name = Object.keys(LAYER_IDS)[id]!;
      needMemory(`weight-gradient ${name}`, wgIn + 3 * wgDz);
      const records = L.records[id]!;
      kernels.push({
        name: `wgrad_${name}`,
        pipeline: pipeline(`wgrad ${name}`, 'train_wgrad', 'wgrad', { LAYER: id, TPW: L.tilesPerRecord[id]!, CPW: cpw, NPH: Math.floor(TILE_PX / cpw), HW: hw, WG_IN: wgIn, WG_DZ: wgDz }),
        groups: (n) => [records, n, slots],
      });
    });
    kernels.push({ name: 'film_back', pipeline: pipeline('film back', 'train_reduce', 'film_back'), groups: (n) => [n, 1, 1] });
    const reduceGroups = table.total + 1;
    kernels.push({
      name: 'reduce_adam',
      pipeline: pipeline('reduce adam', 'train_reduce', 'reduce_adam', { RED_WG: config.reduceThreads ?? REDUCE_THREADS }),
      groups: () => [Math.min(reduceGroups, KERNEL_CONSTANTS.REDUCE_ROW), Math.ceil(reduceGroups / KERNEL_CONSTANTS.REDUCE_ROW), 1],
    });
    this.kernels = kernels;
  }

  /** Builds the trainer; a shader or pipeline the device rejects becomes an error here, not later. */
  static async create(device: GPUDevice, config: GpuTrainerConfig, set: GpuTrainingSet): Promise<GpuTrainer> {
    device.pushErrorScope('validation');
    device.pushErrorScope('out-of-memory');
    let trainer: GpuTrainer | undefined;
    let thrown: unknown;
    try {
      trainer = new GpuTrainer(device, config, set);
    } catch (e) {
      thrown = e;
    }
    const oom = await gpuAwait(device.popErrorScope());
    const invalid = await gpuAwait(device.popErrorScope());
    if (thrown) throw thrown;
    if (oom) {
      trainer!.destroy();
      throw new CnnV3Error(`The GPU ran out of memory for a batch of ${config.maxBatch} patches of ${config.side}×${config.side}: use a smaller --batch-size, or --device cpu`);
    }
    if (invalid) throw new Error(`GPU trainer: ${invalid.message}`);
    return trainer!;
  }

  /** Uploads parameters and Adam moments (e.g. from init or a checkpoint). */
  writeState(params: Float32Array, m: Float32Array, v: Float32Array): void {
    const P = this.config.table.total;
    const s = new Float32Array(4 * P);
    s.set(params, 0);
    s.set(m, P);
    s.set(v, 2 * P);
    this.device.queue.writeBuffer(this.stateBuf, 0, s);
  }

  private async read(buffer: GPUBuffer, byteOffset: number, bytes: number): Promise<Float32Array> {
    const staging = this.device.createBuffer({ label: 'cnnv3 train readback', size: bytes, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
    const enc = this.device.createCommandEncoder({ label: 'cnnv3 train readback' });
    enc.copyBufferToBuffer(buffer, byteOffset, staging, 0, bytes);
    this.device.queue.submit([enc.finish()]);
    try {
      await gpuAwait(staging.mapAsync(GPUMapMode.READ));
      return new Float32Array(staging.getMappedRange().slice(0));
    } finally {
      staging.destroy();
    }
  }

  async readState(): Promise<TrainState> {
    const P = this.config.table.total;
    const s = await this.read(this.stateBuf, 0, 16 * P);
    return { params: s.slice(0, P), m: s.slice(P, 2 * P), v: s.slice(2 * P, 3 * P), grad: s.slice(3 * P, 4 * P) };
  }

  /** The state and the losses of slots [0, count) in one read-back (they lie side by side). */
  async readStateAndLosses(count: number): Promise<{ state: TrainState; losses: Float32Array }> {
    const P = this.config.table.total;
    const s = await this.read(this.stateBuf, 0, 16 * P + 4 * count);
    return { state: { params: s.slice(0, P), m: s.slice(P, 2 * P), v: s.slice(2 * P, 3 * P), grad: s.slice(3 * P, 4 * P) }, losses: s.slice(4 * P, 4 * P + count) };
  }

  /** Losses of slots [0, count). */
  async readLosses(count: number): Promise<Float32Array> {
    if (count === 0) return new Float32Array(0);
    return this.read(this.stateBuf, 16 * this.config.table.total, count * 4);
  }

  /** The per-patch info of the last step (condition, hidden, FiLM, origin, image, dropout bits), for tests. */
  async readPatchInfo(n: number): Promise<Float32Array> {
    const stride = this.layout.constants['PI_STRIDE']!;
    return this.read(this.partsBuf, this.layout.constants['R_PI']! * 4, n * stride * 4);
  }

  /** The feedback draws and fed-back outputs of the last step's first n patches (a feedback run), for tests. */
  async readFeedback(n: number): Promise<FeedbackRecord[]> {
    if (!this.feedback) throw new Error('readFeedback: this trainer has no feedback pass');
    const c = this.layout.constants;
    const stride = KERNEL_CONSTANTS.FBI_STRIDE;
    const info = await this.read(this.partsBuf, c['R_FBI']! * 4, n * stride * 4);
    const px = this.config.side ** 2;
    const outputs = await this.read(this.actBuf, c['A_FB']! * 16, n * px * 16);
    const words = new Uint32Array(info.buffer);
    return Array.from({ length: n }, (_, k) => {
      const at = k * stride;
      const frames = words[at]!;
      const views = Array.from({ length: frames }, (_, f) => ({ x0: words[at + 2 + 3 * f]!, y0: words[at + 3 + 3 * f]!, exposure: info[at + 4 + 3 * f]! }));
      return { frames, sigma: info[at + 1]!, views, output: outputs.slice(k * px * 4, (k + 1) * px * 4) };
    });
  }

  private writeSteps(steps: ReadonlyArray<StepSpec>): void {
    const { side } = this.config;
    const rec = new ArrayBuffer(steps.length * STEP_STRIDE);
    const dv = new DataView(rec);
    const o = UNIFORM_LAYOUTS.TrainStep.offsets;
    steps.forEach((s, i) => {
      if (s.n < 1 || s.n > this.config.maxBatch) throw new Error(`step of ${s.n} patches (batch ${this.config.maxBatch})`);
      if (s.lossSlot < 0 || s.lossSlot >= this.layout.lossSlots) throw new Error(`loss slot ${s.lossSlot} out of range`);
      const b = i * STEP_STRIDE;
      dv.setUint32(b + o.n, s.n, true);
      dv.setUint32(b + o.step, s.step, true);
      dv.setUint32(b + o.first, this.set.images + s.first, true);
      dv.setUint32(b + o.loss_slot, s.lossSlot, true);
      dv.setFloat32(b + o.lr, s.lr, true);
      dv.setFloat32(b + o.bc1, 1 - 0.9 ** s.step, true);
      dv.setFloat32(b + o.bc2, 1 - 0.999 ** s.step, true);
      dv.setFloat32(b + o.inv_count, 1 / (s.n * side * side * 4), true);
      dv.setUint32(b + o.seed, this.config.seed >>> 0, true);
      dv.setFloat32(b + o.drop_p, this.config.channelDropoutP, true);
    });
    this.device.queue.writeBuffer(this.stepBuf, 0, rec);
  }

  /**
   * Encodes and submits the steps (in chunks of `chunk` per submit). Returns once submitted;
   * `done()` or a read waits for the GPU. With `timestamps`, every kernel gets its own pass of
   * `repeat` dispatches (timestamps are coarse: Dawn quantises them) and the query set receives
   * begin/end pairs in kernel order (one step only).
   */
  run(steps: ReadonlyArray<StepSpec>, timestamps?: GPUQuerySet, repeat = 1): void {
    for (let c = 0; c < steps.length; c += this.chunk) {
      const part = steps.slice(c, c + this.chunk);
      this.writeSteps(part);
      const enc = this.device.createCommandEncoder({ label: 'cnnv3 train steps' });
      if (timestamps) {
        if (part.length !== 1) throw new Error('timestamps: one step at a time');
        this.kernels.forEach((k, i) => {
          const pass = enc.beginComputePass({ label: `cnnv3 train ${k.name}`, timestampWrites: { querySet: timestamps, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
          pass.setBindGroup(0, this.bindGroup, [0]);
          pass.setPipeline(k.pipeline);
          for (let r = 0; r < repeat; r++) pass.dispatchWorkgroups(...k.groups(part[0]!.n));
          pass.end();
        });
      } else {
        const pass = enc.beginComputePass({ label: 'cnnv3 train steps' });
        part.forEach((s, i) => {
          pass.setBindGroup(0, this.bindGroup, [i * STEP_STRIDE]);
          for (const k of this.kernels) {
            pass.setPipeline(k.pipeline);
            pass.dispatchWorkgroups(...k.groups(s.n));
          }
        });
        pass.end();
      }
      this.device.queue.submit([enc.finish()]);
    }
  }

  /** Waits until the GPU has finished everything submitted. */
  async done(): Promise<void> {
    await gpuAwait(this.device.queue.onSubmittedWorkDone());
  }

  destroy(): void {
    this.stateBuf.destroy();
    this.actBuf.destroy();
    this.partsBuf.destroy();
    this.stepBuf.destroy();
  }
}
