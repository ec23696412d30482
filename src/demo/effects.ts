/**
 * The demo's effects (SPEC §8) behind one small interface, made from a `.seq` EFFECT line by
 * `createEffect`. Browser-safe: files come through a `DemoAssets` (Node: assets-node.ts; the
 * browser player: fetched URLs), so this module never touches the file system.
 *
 * - ImageFeaturesEffect `[prev_cnn] -> feat0 feat1`: a photo (`image=`) or a video frame
 *   (`video=`, where the platform decodes video) in simple mode, fitted to the frame (`fit`,
 *   default cover: centre crop; image/fit.ts; Lanczos-3), packed by FeaturePass. Without
 *   `prev_cnn` as input, ch 9–11 are 0.
 * - CNNv3Effect `feat0 feat1 -> out`: the network. `weights=` (default: the bundled example
 *   weights), `film=` (default: the bundled FiLM MLP when `weights=` is not given, else the
 *   identity FiLM: another model's weights need their own MLP), `style_p0=`/`style_p1=`
 *   (default 0.5). FiLM inputs are set every frame from the beat and the audio.
 * - GBufferEffect `[prev_cnn] -> feat0 feat1`: src/demo/gbuffer (`scene=` a glTF/GLB, default its
 *   built-in scene; `animation=` a name or index, `all` or `none`; `speed=` the animation clock's
 *   rate); URIs inside the scene resolve relative to it.
 * Paths in params are relative to the `.seq` file. Every load error names `file:line`.
 */
import { CnnV3Error, fileError, isCnnV3Error } from '../errors.js';
import { readWeightsBin, weightsFileConfig } from '../export/read.js';
import { CnnNodeEffect } from '../effect/cnn-node-effect.js';
import type { Precision } from '../effect/precision.js';
import type { GpuContext } from '../gpu/context.js';
import { FeaturePass, planesFromPhoto } from '../effect/feature-pass.js';
import { TextureNodes } from '../effect/nodes.js';
import { decodeImage } from '../image/decode.js';
import { toRgba8, type Raster } from '../image/image.js';
import { fitResize, type FitMode } from '../image/fit.js';
import { resizeLanczos3 } from '../image/resize.js';
import { GBufferEffect, type GBufferOptions } from './gbuffer/gbuffer-effect.js';
import type { GltfDecoders } from './gbuffer/scene.js';
import { PREV_CNN, SINK } from './graph.js';
import { parseTrack, trackAt, type Ease, type Track } from './keyframes.js';
import type { SeqEffect, SeqFile } from './seq.js';

/** What an effect gets each frame. */
export interface DemoFrame {
  /** Absolute time, seconds. */
  t: number;
  /** Seconds since this effect started (its animation clock). */
  localTime: number;
  width: number;
  height: number;
  beat_phase: number;
  beat_norm: number;
  audio_intensity: number;
  /** The previous frame was not this shot's (the first frame, a cut, a seek): history starts over. */
  restart?: boolean;
}

export interface DemoEffect {
  render(encoder: GPUCommandEncoder, frame: DemoFrame, nodes: TextureNodes): void;
  destroy(): void;
  /** Set on CNNv3Effect adapters: the engine copies this node into prev_cnn after the frame. */
  readonly cnnOutput?: string;
  /**
   * GBufferEffect with motion on: the motion plane of the frame it just rendered (gbuffer-effect.ts
   * "motion"), for the features it wrote.
   */
  motionPlane?(): GPUTexture | undefined;
}

/** Frames of a decoded video, already scaled to the demo's size. */
export interface VideoFrames {
  /** RGB(A) raster of the frame shown at `t` seconds into the video (clamped to its length). */
  frameAt(t: number): Raster;
  destroy(): void;
}

/** Where effects get their files: the platform seam between Node and the browser. */
export interface DemoAssets {
  /** Bytes of a file a `.seq` names (`path` as written there, relative to the `.seq`). */
  read(path: string, what: string): Promise<Uint8Array>;
  /** The bundled example weights (examples/weights). */
  bundledWeights(): Promise<{ weights: Uint8Array; film: Uint8Array }>;
  /** A resolver for URIs inside a file the `.seq` names (glTF buffers and images). */
  resolver(path: string): (uri: string) => Promise<Uint8Array>;
  /** Video decoding, each frame fitted to width×height as `fitImage` does; absent where the platform has none. */
  openVideo?: (path: string, width: number, height: number, fit: FitMode) => Promise<VideoFrames>;
  /** Says why video is unavailable, for the error message. */
  videoUnsupported?: string;
  /** glTF decoders the platform has (Draco); absent: a Draco-compressed scene is refused by name. */
  gltfDecoders?: GltfDecoders;
}

export const DEFAULT_STYLE = 0.5;

/** How the demo fits an image or video into its frame unless told otherwise. */
export const DEFAULT_DEMO_FIT: FitMode = 'cover';

/**
 * `image` fitted to width×height (image/fit.ts; Lanczos-3), as RGBA8. `contain`'s bars are
 * opaque black (0, 0, 0, 255): black albedo, transp 0, as a letterboxed video's bars are.
 */
export function fitImage(image: Raster, width: number, height: number, fit: FitMode): Raster {
  return { width, height, channels: 4, depth: 8, data: fitResize(toRgba8(image), image.width, image.height, 4, width, height, fit, resizeLanczos3, [0, 0, 0, 255]) };
}

/** `image` scaled to cover width×height (centre crop, then Lanczos-3), as RGBA8. */
export const coverResize = (image: Raster, width: number, height: number): Raster => fitImage(image, width, height, 'cover');

/**
 * The shared node pool seen through one FeaturePass: its packed outputs and prev_cnn are the
 * shared nodes, everything else it creates (its uploaded input planes) stays private, so two
 * image effects never overwrite each other's uploads.
 */
class FeatureNodes extends TextureNodes {
  constructor(device: GPUDevice, private readonly shared: TextureNodes, private readonly sharedNames: ReadonlySet<string>) {
    super(device);
  }
  override get(name: string): GPUTexture | undefined {
    return this.sharedNames.has(name) ? this.shared.get(name) : super.get(name);
  }
  override ensure(name: string, format: GPUTextureFormat, width: number, height: number, usage: GPUTextureUsageFlags, layers = 1): { texture: GPUTexture; created: boolean } {
    return this.sharedNames.has(name) ? this.shared.ensure(name, format, width, height, usage, layers) : super.ensure(name, format, width, height, usage, layers);
  }
}

/** A node name no effect can write (not an identifier), for "no prev_cnn input". */
const NO_PREV = '(no prev)';

export class ImageFeaturesEffect implements DemoEffect {
  private readonly pass: FeaturePass;
  private view?: FeatureNodes;
  private uploadedFrame = -1;

  private constructor(
    ctx: GpuContext,
    private readonly outputs: [string, string],
    private readonly prev: string,
    private readonly still: Raster | undefined,
    private readonly video: VideoFrames | undefined,
    private readonly fps: number,
  ) {
    this.pass = new FeaturePass(ctx.device, { feat0: outputs[0], feat1: outputs[1], prev });
  }

  static async create(ctx: GpuContext, e: SeqEffect, assets: DemoAssets, size: EffectFactoryOptions): Promise<ImageFeaturesEffect> {
    const prev = e.inputs.includes(PREV_CNN) ? PREV_CNN : NO_PREV;
    const outputs = e.outputs as [string, string];
    const image = e.params['image'];
    if (image !== undefined) {
      const photo = decodeImage(await assets.read(image, 'image'), image);
      return new ImageFeaturesEffect(ctx, outputs, prev, fitImage(photo, size.width, size.height, size.fit ?? DEFAULT_DEMO_FIT), undefined, size.fps);
    }
    const video = e.params['video']!;
    if (!assets.openVideo) throw new CnnV3Error(`video=${video}: ${assets.videoUnsupported ?? 'video is not supported here'}; use image=`);
    return new ImageFeaturesEffect(ctx, outputs, prev, undefined, await assets.openVideo(video, size.width, size.height, size.fit ?? DEFAULT_DEMO_FIT), size.fps);
  }

  render(encoder: GPUCommandEncoder, frame: DemoFrame, nodes: TextureNodes): void {
    if (!this.view) {
      const device = this.pass.device;
      this.view = new FeatureNodes(device, nodes, new Set([...this.outputs, this.prev]));
    }
    // A video uploads the frame under the effect's clock, once per distinct video frame.
    const index = this.video ? Math.floor(frame.localTime * this.fps + 1e-6) : 0;
    if (index !== this.uploadedFrame) {
      const raster = this.still ?? this.video!.frameAt(frame.localTime);
      this.pass.upload(planesFromPhoto(raster), this.view);
      this.uploadedFrame = index;
    }
    this.pass.encode(encoder, this.view);
  }

  destroy(): void {
    this.view?.destroy();
    this.video?.destroy();
  }
}

/** A style or strength parameter: its keyframes (checked by the parser), or the default. */
function trackParam(e: SeqEffect, key: string, fallback: number): Track {
  const v = e.params[key];
  return v === undefined ? { keys: [[0, fallback]] } : parseTrack(key, v);
}

export class CNNv3EffectAdapter implements DemoEffect {
  readonly cnnOutput: string;

  private constructor(
    private readonly effect: CnnNodeEffect,
    private readonly style: [Track, Track],
    /** Overrides the model's strength entry (strength=); absent: the entry keeps its frame value. */
    private readonly strength: Track | undefined,
    private readonly ease: Ease,
  ) {
    this.cnnOutput = effect.outputs[0];
  }

  static async create(ctx: GpuContext, e: SeqEffect, assets: DemoAssets): Promise<CNNv3EffectAdapter> {
    const weightsPath = e.params['weights'];
    const filmPath = e.params['film'];
    const bundled = weightsPath === undefined ? await assets.bundledWeights() : undefined;
    const weights = bundled?.weights ?? (await assets.read(weightsPath!, 'weights file'));
    const film = filmPath !== undefined ? await assets.read(filmPath, 'FiLM MLP file') : bundled?.film;
    const weightsName = weightsPath ?? 'bundled cnn_v3_weights.bin';
    // The model's widths and output mode come from the file's trailer when it has one.
    const config = weightsFileConfig(weights, weightsName);
    readWeightsBin(config, weights, weightsName);
    // precision= (the seq parser checked the value): the device decides 'auto'; f16 without shader-f16 is refused here.
    const precision = (e.params['precision'] as Precision | undefined) ?? 'auto';
    const effect = new CnnNodeEffect(ctx.device, { weights, ...(film ? { film } : {}), config, precision, names: { weights: weightsName, film: filmPath ?? 'bundled cnn_v3_film_mlp.bin' } }, [e.inputs[0]!, e.inputs[1]!], [e.outputs[0]!]);
    if (e.params['strength'] !== undefined && config.strengthCond === undefined) {
      effect.destroy();
      throw new CnnV3Error(`strength=: ${weightsName} has no strength knob (it was trained without --strength-cond)`);
    }
    const strength = e.params['strength'] === undefined ? undefined : trackParam(e, 'strength', 1);
    return new CNNv3EffectAdapter(effect, [trackParam(e, 'style_p0', DEFAULT_STYLE), trackParam(e, 'style_p1', DEFAULT_STYLE)], strength, (e.params['ease'] as Ease | undefined) ?? 'linear');
  }

  /** The frame's FiLM condition: the clock and the audio, the style tracks, the strength track. */
  condition(frame: Pick<DemoFrame, 'beat_phase' | 'beat_norm' | 'audio_intensity' | 'localTime'>): number[] {
    const t = frame.localTime;
    const cond = [frame.beat_phase, frame.beat_norm, frame.audio_intensity, trackAt(this.style[0], t, this.ease), trackAt(this.style[1], t, this.ease)];
    const k = this.effect.effect.config.strengthCond;
    if (this.strength && k !== undefined) cond[k] = trackAt(this.strength, t, this.ease);
    return cond.slice(0, this.effect.effect.config.filmCondDim);
  }

  render(encoder: GPUCommandEncoder, frame: DemoFrame, nodes: TextureNodes): void {
    this.effect.effect.setFilmParams(this.condition(frame));
    this.effect.render(encoder, frame, nodes);
  }

  destroy(): void {
    this.effect.destroy();
  }
}

const RESERVED_PREFIXES = ['cnn_v3_', 'cnn_in_'];

/** Node counts and roles each class accepts (beyond what graph.ts checks). */
function checkWiring(e: SeqEffect): void {
  const io = `${e.inputs.join(' ') || '(none)'} -> ${e.outputs.join(' ')}`;
  // The CNN's intermediates and the feature pass's inputs live in the same pool under these names.
  const reserved = [...e.inputs, ...e.outputs].find((n) => RESERVED_PREFIXES.some((p) => n.startsWith(p)));
  if (reserved) throw new CnnV3Error(`node name ${reserved} is reserved (${RESERVED_PREFIXES.join('*, ')}* name the effects' own textures)`);
  if (e.className === 'CNNv3Effect') {
    if (e.inputs.length !== 2 || e.outputs.length !== 1) {
      throw new CnnV3Error(`CNNv3Effect takes two inputs (the packed features) and one output: feat0 feat1 -> out, got ${io}`);
    }
    if (e.inputs.includes(PREV_CNN)) throw new CnnV3Error(`CNNv3Effect reads packed features, not ${PREV_CNN} (feed ${PREV_CNN} to the features effect)`);
    return;
  }
  if (e.outputs.length !== 2) throw new CnnV3Error(`${e.className} writes two nodes (the packed features): -> feat0 feat1, got ${io}`);
  if (e.outputs.includes(SINK)) throw new CnnV3Error(`${e.className} writes packed features, not an image: it cannot write ${SINK}`);
  if (e.outputs[0] === e.outputs[1]) throw new CnnV3Error(`${e.className} writes ${e.outputs[0]} twice`);
  const other = e.inputs.filter((x) => x !== PREV_CNN);
  if (other.length > 0) throw new CnnV3Error(`${e.className} reads only ${PREV_CNN} (the previous output), not ${other.join(', ')}`);
}

export interface EffectFactoryOptions {
  width: number;
  height: number;
  fps: number;
  /** How images and videos meet the frame (default DEFAULT_DEMO_FIT, cover). */
  fit?: FitMode;
  /** GBufferEffects render their motion plane (EngineOptions.motion). */
  motion?: boolean;
}

/** Builds the effect of one EFFECT line; any problem becomes `file:line: message`. */
export async function createEffect(ctx: GpuContext, seq: SeqFile, e: SeqEffect, assets: DemoAssets, opts: EffectFactoryOptions): Promise<DemoEffect> {
  try {
    checkWiring(e);
    switch (e.className) {
      case 'CNNv3Effect':
        return await CNNv3EffectAdapter.create(ctx, e, assets);
      case 'ImageFeaturesEffect':
        return await ImageFeaturesEffect.create(ctx, e, assets, opts);
      case 'GBufferEffect':
        return await createGBuffer(ctx, e, assets, opts.motion === true);
    }
  } catch (err) {
    if (isCnnV3Error(err)) throw fileError(`${seq.file}:${e.line}`, err.message);
    throw err;
  }
}

/** GBufferEffect on its own view of the node pool (its rasterised planes stay private). */
class GBufferAdapter implements DemoEffect {
  private view?: FeatureNodes;

  constructor(
    private readonly device: GPUDevice,
    private readonly effect: GBufferEffect,
    private readonly shared: ReadonlySet<string>,
  ) {}

  render(encoder: GPUCommandEncoder, frame: DemoFrame, nodes: TextureNodes): void {
    this.view ??= new FeatureNodes(this.device, nodes, this.shared);
    // The scene's animation clock is the effect's own: it starts when the effect does.
    this.effect.render(encoder, { t: frame.localTime, width: frame.width, height: frame.height, restart: frame.restart === true }, this.view);
  }

  motionPlane(): GPUTexture | undefined {
    return this.effect.motionPlane;
  }

  destroy(): void {
    this.effect.destroy();
    this.view?.destroy();
  }
}

async function createGBuffer(ctx: GpuContext, e: SeqEffect, assets: DemoAssets, motion: boolean): Promise<DemoEffect> {
  const prev = e.inputs.includes(PREV_CNN) ? PREV_CNN : NO_PREV;
  const outputs: [string, string] = [e.outputs[0]!, e.outputs[1]!];
  const scene = e.params['scene'];
  const opts: GBufferOptions = { outputs, prev, motion };
  if (scene !== undefined) {
    opts.scene = await assets.read(scene, 'scene');
    opts.sceneName = scene;
    opts.resolveUri = assets.resolver(scene);
  }
  if (assets.gltfDecoders) opts.decoders = assets.gltfDecoders;
  if (e.params['animation'] !== undefined) opts.animation = e.params['animation'];
  // Checked by the parser: a finite decimal.
  if (e.params['speed'] !== undefined) opts.animationSpeed = Number(e.params['speed']);
  return new GBufferAdapter(ctx.device, await GBufferEffect.create(ctx, opts), new Set([...outputs, prev]));
}
