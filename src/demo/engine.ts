/**
 * The demo engine core (SPEC §8): one parsed `.seq`, its effects and audio, and a pool of named
 * texture nodes; `encodeFrame` plans the frame at time t (graph.ts), runs the active effects in
 * order, and keeps `prev_cnn` = the previous frame's CNNv3Effect output. Browser-safe: the
 * platform comes in through `DemoAssets` (effects.ts) and the caller's GpuContext.
 *
 * Conventions:
 * - Every node is created at the demo's size. `sink` (the screen) is rgba16float, cleared to
 *   black at the start of each frame, so a frame with nothing drawn is black.
 * - `prev_cnn`: after the frame, the output of the last CNNv3Effect that ran is copied into it;
 *   a frame without one leaves it black. It is black on the first frame and after `seek()`.
 * - Every effect of the file is built at load, so a missing or bad file fails before the first
 *   frame, not in the middle of a render.
 * - audio_intensity of a frame = peak |sample| over [t, t + dt) (wav.ts), 0 without AUDIO.
 * - `motion` (the demo's --stability): GBufferEffects also render a motion plane, and FrameInfo
 *   names the one behind the CNN's features. A frame with `restart` (first, cut, seek) tells
 *   the effects that the previous frame was another shot's: the motion restarts at zero.
 */
import { CnnV3Error, fileError, isCnnV3Error } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { TextureNodes } from '../effect/nodes.js';
import type { FitMode } from '../image/fit.js';
import { createEffect, type DemoAssets, type DemoEffect, type DemoFrame } from './effects.js';
import { checkAllFrames, planAt, PREV_CNN, SINK, type FramePlan } from './graph.js';
import type { SeqFile } from './seq.js';
import { beatAt } from './timeline.js';
import { decodeWav, peakAbs, type WavAudio } from './wav.js';

export const SINK_FORMAT: GPUTextureFormat = 'rgba16float';

export interface EngineOptions {
  width: number;
  height: number;
  /** Frames per second the caller plays at (video effects step at this rate). */
  fps: number;
  /** How ImageFeaturesEffect fits a photo or video into the frame (default cover: centre crop). */
  fit?: FitMode;
  /** Checked between effects while loading (each may compile pipelines for seconds): aborted, load throws its reason. */
  signal?: AbortSignal;
  /** GBufferEffects render their motion plane each frame (for E_warp); off: no motion pass exists. */
  motion?: boolean;
}

/** What a frame did, for readbacks (stability) and tests. */
export interface FrameInfo {
  t: number;
  plan: FramePlan;
  params: Pick<DemoFrame, 'beat_phase' | 'beat_norm' | 'audio_intensity'>;
  /**
   * The last CNNv3Effect of the frame: its input feature nodes and its output node; `motion`: the
   * motion plane of the GBufferEffect that wrote its features this frame (only with motion on).
   */
  cnn?: { inputs: [string, string]; output: string; motion?: GPUTexture };
  /** The set of running effects changed since the previous frame (a cut: prev_cnn restarts black). */
  cut?: boolean;
}

/** Largest frame a demo may ask for: far beyond any screen, small enough to fail early and clearly. */
export const MAX_DEMO_SIZE = 8192;

/** End of the last effect, seconds: the natural length of the demo. */
export function seqDuration(seq: SeqFile): number {
  let end = 0;
  for (const s of seq.sequences) for (const e of s.effects) end = Math.max(end, s.start + e.end);
  return end;
}

export class DemoEngine {
  readonly nodes: TextureNodes;
  private readonly effects = new Map<number, DemoEffect>();
  private prevIsBlack = true;
  private needsClear = true;
  /** The running effects of the last frame (a change is a cut). */
  private lastActive: string | undefined;

  private constructor(
    readonly ctx: GpuContext,
    readonly seq: SeqFile,
    readonly options: EngineOptions,
    readonly audio: WavAudio | undefined,
  ) {
    this.nodes = new TextureNodes(ctx.device);
    const { width, height } = options;
    const u = GPUTextureUsage;
    this.nodes.ensure(SINK, SINK_FORMAT, width, height, u.STORAGE_BINDING | u.TEXTURE_BINDING | u.COPY_SRC | u.COPY_DST | u.RENDER_ATTACHMENT);
    this.nodes.ensure(PREV_CNN, 'rgba16float', width, height, u.TEXTURE_BINDING | u.COPY_SRC | u.COPY_DST | u.RENDER_ATTACHMENT);
  }

  /** Checks the graph of every frame, loads the audio and builds every effect. */
  static async load(ctx: GpuContext, seq: SeqFile, assets: DemoAssets, options: EngineOptions): Promise<DemoEngine> {
    const { width, height, fps } = options;
    for (const [k, v] of [['width', width], ['height', height]] as const) {
      if (!Number.isInteger(v) || v < 1 || v > MAX_DEMO_SIZE) throw new CnnV3Error(`demo ${k} must be an integer in 1..${MAX_DEMO_SIZE}, got ${v}`);
    }
    if (!(fps > 0) || !Number.isFinite(fps)) throw new CnnV3Error(`demo fps must be > 0, got ${fps}`);
    checkAllFrames(seq);
    let audio: WavAudio | undefined;
    if (seq.audio !== undefined) {
      try {
        audio = decodeWav(await assets.read(seq.audio, 'audio file'), seq.audio);
      } catch (e) {
        if (isCnnV3Error(e)) throw fileError(`${seq.file}: AUDIO`, e.message);
        throw e;
      }
    }
    const engine = new DemoEngine(ctx, seq, options, audio);
    try {
      for (const s of seq.sequences) {
        for (const e of s.effects) {
          options.signal?.throwIfAborted();
          engine.effects.set(e.index, await createEffect(ctx, seq, e, assets, options));
        }
      }
    } catch (e) {
      engine.destroy();
      throw e;
    }
    return engine;
  }

  get duration(): number {
    return seqDuration(this.seq);
  }

  get sink(): GPUTexture {
    return this.nodes.get(SINK)!;
  }

  /** Playback jumped: the next frame sees a black prev_cnn (as it does after a cut, see encodeFrame). */
  seek(): void {
    this.needsClear = true;
  }

  /** The FiLM inputs the demo drives at time t for a frame lasting dt seconds. */
  frameParams(t: number, dt: number): FrameInfo['params'] {
    const beat = beatAt(t, this.seq.bpm);
    return {
      beat_phase: beat.beat_phase,
      beat_norm: beat.beat_norm,
      audio_intensity: this.audio ? peakAbs(this.audio, t, t + dt) : 0,
    };
  }

  private clear(encoder: GPUCommandEncoder, texture: GPUTexture): void {
    const pass = encoder.beginRenderPass({
      label: `clear ${texture.label}`,
      colorAttachments: [{ view: texture.createView({ label: `${texture.label} clear view` }), loadOp: 'clear', storeOp: 'store', clearValue: { r: 0, g: 0, b: 0, a: 1 } }],
    });
    pass.end();
  }

  /** Encodes the frame at time t (lasting dt seconds) into `encoder`; the caller submits. */
  encodeFrame(encoder: GPUCommandEncoder, t: number, dt: number): FrameInfo {
    const plan = planAt(this.seq, t);
    const params = this.frameParams(t, dt);
    const { width, height } = this.options;
    // A cut: the set of running effects changed (a sequence started or ended, an effect came in
    // or went out). The previous frame belongs to another shot, so history starts black, as it
    // would in a fresh render started here.
    const active = plan.steps.map((s) => s.active.effect.index).join(',');
    const cut = this.lastActive !== undefined && active !== this.lastActive;
    if (cut) this.needsClear = true;
    this.lastActive = active;
    if (this.needsClear && !this.prevIsBlack) this.clear(encoder, this.nodes.get(PREV_CNN)!);
    if (this.needsClear) this.prevIsBlack = true;
    const restart = this.needsClear;
    this.needsClear = false;
    this.clear(encoder, this.sink);
    let cnn: FrameInfo['cnn'];
    // Which node holds features with a motion plane this frame (a later writer replaces it).
    const motionOf = new Map<string, GPUTexture>();
    for (const step of plan.steps) {
      const effect = this.effects.get(step.active.effect.index)!;
      effect.render(encoder, { t, localTime: step.active.localTime, width, height, ...params, restart }, this.nodes);
      const motion = effect.motionPlane?.();
      for (const node of step.outputs) {
        if (motion) motionOf.set(node, motion);
        else motionOf.delete(node);
      }
      if (effect.cnnOutput !== undefined) {
        cnn = { inputs: [step.inputs[0]!, step.inputs[1]!], output: effect.cnnOutput };
        const m = motionOf.get(step.inputs[0]!);
        if (m) cnn.motion = m;
      }
    }
    const prev = this.nodes.get(PREV_CNN)!;
    if (cnn) {
      encoder.copyTextureToTexture({ texture: this.nodes.get(cnn.output)! }, { texture: prev }, { width, height });
      this.prevIsBlack = false;
    } else if (!this.prevIsBlack) {
      this.clear(encoder, prev);
      this.prevIsBlack = true;
    }
    const info: FrameInfo = { t, plan, params };
    if (cnn) info.cnn = cnn;
    if (cut) info.cut = true;
    return info;
  }

  /** Encodes and submits one frame. */
  renderFrame(t: number, dt: number): FrameInfo {
    const encoder = this.ctx.device.createCommandEncoder({ label: `demo frame t=${t.toFixed(3)}` });
    const info = this.encodeFrame(encoder, t, dt);
    this.ctx.device.queue.submit([encoder.finish()]);
    return info;
  }

  destroy(): void {
    for (const e of this.effects.values()) e.destroy();
    this.effects.clear();
    this.nodes.destroy();
  }
}
