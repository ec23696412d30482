/**
 * GBufferEffect (SPEC §8): rasterises a glTF 2.0 scene on WebGPU into the planes of a sample and
 * packs them into `gbuf_feat0/1` with the same compute pass photos and samples go through
 * (FeaturePass: mips, depth gradient, `prev_cnn` → channels 9–11). Browser-safe.
 *
 * Per frame: a depth-only shadow map pass from the one directional light, then one G-buffer pass
 * rendering straight into the three textures FeaturePass reads, then FeaturePass. No CPU round
 * trip. Scene loading and its conventions (mat id, supported glTF) are in scene.ts; the built-in
 * scene is default-scene.ts.
 *
 * Conventions — the Blender path's (src/pack/blender.ts), so a glTF export of a Blender scene
 * gives the planes Blender + pack-blender would:
 * - albedo: base colour = baseColorFactor × base colour texture (the texture decoded from sRGB
 *   to linear first), plus the emission (below), then sRGB-encoded with the exact transfer
 *   function and rounded to 8 bits, as DiffCol becomes albedo.png. No shading is applied.
 * - emissive: emission = emissiveFactor × KHR_materials_emissive_strength × emissive texture
 *   (sRGB-decoded), linear. Cycles' DiffCol leaves emission out, but its Combined (the target)
 *   shows it whatever the light; so here a glowing surface packs as one a light shows at that
 *   colour: albedo = base colour + emission (clamped to 1 per channel), and shadow =
 *   max(shadow, its brightest emission channel): a full-strength emitter is lit (255) even in
 *   a cast shadow. KHR_materials_unlit surfaces are lit (255) everywhere, albedo = base colour.
 * - UVs: each texture's TEXCOORD_n and KHR_texture_transform (scene.ts, applied at load).
 * - skins: glTF skinning on the GPU (joint matrices in a storage buffer, JOINTS_0/WEIGHTS_0 in
 *   the vertex shader); a skinned mesh's own node transform is ignored, as glTF says.
 * - normal: the surface's world-space normal (vertex normals, interpolated; flat where the
 *   primitive has none; flipped on the back of a double-sided face) in BLENDER's axes, Z up:
 *   glTF (x, y, z) → (x, −z, y); octahedral bytes per SPEC §2. A floor (glTF +Y) is (128, 128).
 * - depth: z = the camera distance along its view axis (view-space depth, as Cycles' Depth
 *   pass; orthographic cameras too), stored as depth.png: round(65535 / (z + 1)) / 65535.
 * - mat id: scene.ts (extras.matid, else mesh-node order), as matid.png / 255.
 * - shadow: 255 lit, 0 in shadow: one depth32float shadow map (SHADOW_MAP_SIZE²) from an
 *   orthographic light camera fitted to the scene's bounds each frame, 2×2 PCF (so a shadow's
 *   edge has in-between values, as Cycles' soft Shadow pass does), a normal-offset and depth
 *   bias; a face turned away from the light is in shadow. The light: the file's first
 *   KHR_lights_punctual directional light, else DEFAULT_LIGHT_DIRECTION. Every mesh casts.
 * - transp: 255 − round(255 · alpha) of the front-most surface: OPAQUE → 0, MASK → 0 (fragments
 *   below the cutoff are discarded), BLEND → the base colour's alpha. (Blender's Combined.A is
 *   the coverage of everything in front of the film, so a BLEND surface over an opaque one is
 *   A = 1 there; here it is the surface's own alpha.)
 * - background (no surface): what pack-blender writes for a transparent film's empty pixels:
 *   albedo 0, normal (128, 128), depth 0, mat id 0, shadow 255, transp 255.
 * - camera: the file's first camera node (its yfov, or ymag for orthographic, znear, zfar; the
 *   aspect ratio is the frame's), else an orbit around the scene's bounds (ORBIT_PERIOD_S).
 * - time: `frame.t` seconds drives the orbit camera, and `frame.t × animationSpeed` the chosen
 *   animations (scene.ts AnimationChoice, `animation`), looped over the longest of them.
 * - motion (`motion: true` only; the demo's --stability measures E_warp with it): after the
 *   G-buffer pass, a motion pass draws the same geometry (same depth test, same MASK cut-outs)
 *   into `motionPlane`, rgba32float, per pixel (dx, dy, z_prev, z): the displacement in pixels
 *   (x right, y down) to where the surface point was in the previous frame — each vertex placed
 *   by this frame's and the previous frame's camera, node transforms and skin joint palette, as
 *   a TAA velocity buffer is — and that point's view depth in the previous camera and now; the
 *   background (0, 0, 0, 0). A forward renderer cannot know the motion to the next frame, so the
 *   occlusion test of E_warp is a depth test instead of Lai et al.'s forward–backward check
 *   (warp-error.ts `depthWarpMask`): 1/z_prev against the previous frame's own 1/z, sampled
 *   bilinearly where the point lands — exact across a plane, so no assumption of constant
 *   velocity, which reusing the previous frame's motion negated would make. With no previous frame of this shot (the first frame, `restart`: a cut or a
 *   seek, or a new frame size) the previous matrices are this frame's: zero motion. Off, no
 *   motion pipeline, texture or buffer is ever created and the G-buffer pass is unchanged; the
 *   20 feature channels never depend on it.
 */
import type { GpuContext } from '../../gpu/context.js';
import { FEATURE_NODES, FeaturePass } from '../../effect/feature-pass.js';
import type { TextureNodes } from '../../effect/nodes.js';
import { WGSL } from '../shaders.generated.js';
import { UNIFORM_LAYOUTS } from '../../gpu/uniforms.js';
import { fileError } from '../../errors.js';
import { buildDefaultScene, DEFAULT_SCENE_NAME } from './default-scene.js';
import { identity, invert, lookAtWorld, multiply, orthographic, perspective, transformPoint, transpose, type Mat4, type Vec3 } from './math.js';
import {
  extractScene,
  jointMatrices,
  lightDirection,
  loadScene,
  skinnedBounds,
  worldMatrices,
  SKIN_VERTEX_BYTES,
  VERTEX_FLOATS,
  type AnimationChoice,
  type GltfDecoders,
  type ImageDecoder,
  type LoadedScene,
  type ResolveUri,
  type SceneTexture,
} from './scene.js';

export interface GBufferOptions {
  /** .glb or .gltf bytes; absent = the built-in scene. */
  scene?: Uint8Array;
  /** The scene's name in messages (its path). */
  sceneName?: string;
  /** Reads a file the scene references by URI (see scene.ts). */
  resolveUri?: ResolveUri;
  /** Node names for feat0, feat1. */
  outputs: [string, string];
  /** Node read for prev.rgb (channels 9–11); default 'prev_cnn'. */
  prev?: string;
  /** Decoders the platform supplies (Draco); see scene.ts. */
  decoders?: GltfDecoders;
  /** Which animations play (scene.ts AnimationChoice); default: see there. */
  animation?: AnimationChoice;
  /** Animation clock rate (1 = as authored; 0 freezes the first frame; negative plays backwards). */
  animationSpeed?: number;
  /** Decodes texture images (default: PNG/JPEG, WebP where the runtime can). */
  decodeImage?: ImageDecoder;
  /** Told once per scene what was ignored (morph targets, …); default console.warn. */
  onWarning?: (message: string) => void;
  /** Render the motion plane every frame (see the module header); default off, at no cost. */
  motion?: boolean;
}

export interface GBufferFrame {
  /** Seconds. */
  t: number;
  width: number;
  height: number;
  /** The frame before was not this shot's (a cut, a seek): the motion restarts at zero. */
  restart?: boolean;
}

export const SHADOW_MAP_SIZE = 1024;
/** One turn of the orbiting camera for scenes without their own camera. */
export const ORBIT_PERIOD_S = 20;

const OBJECT_SLOT = 256;
const ALPHA_MODES = { OPAQUE: 0, MASK: 1, BLEND: 2 } as const;

/** A render pipeline per skinning and face culling: the G-buffer pass's, or the motion pass's. */
type ScenePipelines = Record<'rigid' | 'skinned', { single: GPURenderPipeline; double: GPURenderPipeline }>;

interface Draw {
  object: number;
  primitive: number;
  slot: number;
  vertices: GPUBuffer;
  /** Skinned draws: joints + weights (SKIN_VERTEX_BYTES a vertex). */
  skin?: GPUBuffer;
  indices: GPUBuffer;
  count: number;
  material: GPUBindGroup;
  doubleSided: boolean;
}

/** GPU objects of the motion pass (`motion: true`). */
interface MotionPass {
  pipelines: ScenePipelines;
  /** GBufferMotion: the previous frame's camera and the viewport. */
  uniforms: GPUBuffer;
  /** The previous frame's joint palette, laid out as the joint buffer. */
  prevJoints: GPUBuffer;
  frameGroup: GPUBindGroup;
  /** The plane and its depth buffer, at the last frame's size. */
  target?: { texture: GPUTexture; view: GPUTextureView; depth: GPUTexture; depthView: GPUTextureView };
}

/** The camera and light matrices of a frame (exported for tests and tools). */
export interface FrameView {
  view: Mat4;
  proj: Mat4;
  lightViewProj: Mat4;
  lightDir: Vec3;
  /** World units per shadow-map texel. */
  shadowTexel: number;
  lightDepthRange: number;
  world: Mat4[];
  /** Joint matrices of every skinned object, in object order (see jointOffsets). */
  joints: Mat4[];
}

/** Where each skinned object's joint matrices start in FrameView.joints (−1: not skinned). */
export function jointOffsets(scene: LoadedScene): number[] {
  let n = 0;
  return scene.objects.map((o) => {
    if (!o.skin) return -1;
    const at = n;
    n += o.skin.joints.length;
    return at;
  });
}

/** World-space bounds of every drawn primitive at the given node and joint matrices. */
function sceneBounds(scene: LoadedScene, world: Mat4[], joints: Mat4[], offsets: number[]): { center: Vec3; radius: number } {
  const lo: Vec3 = [Infinity, Infinity, Infinity];
  const hi: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (const [oi, o] of scene.objects.entries()) {
    for (const p of o.primitives) {
      if (o.skin && p.skin) {
        const b = skinnedBounds(p, joints.slice(offsets[oi]!, offsets[oi]! + o.skin.joints.length));
        for (let k = 0; k < 3; k++) {
          lo[k] = Math.min(lo[k]!, b.lo[k]!);
          hi[k] = Math.max(hi[k]!, b.hi[k]!);
        }
        continue;
      }
      for (let c = 0; c < 8; c++) {
        const corner = [c & 1 ? p.max[0] : p.min[0], c & 2 ? p.max[1] : p.min[1], c & 4 ? p.max[2] : p.min[2]];
        const w = transformPoint(world[o.node]!, corner);
        for (let k = 0; k < 3; k++) {
          lo[k] = Math.min(lo[k]!, w[k]!);
          hi[k] = Math.max(hi[k]!, w[k]!);
        }
      }
    }
  }
  const center: Vec3 = [(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, (lo[2] + hi[2]) / 2];
  const radius = Math.max(1e-3, Math.hypot(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]) / 2);
  return { center, radius };
}

/** A frame's matrices: `t` the effect's clock (camera orbit), `t × speed` the animation clock. */
export function frameView(scene: LoadedScene, t: number, aspect: number, speed = 1): FrameView {
  const world = worldMatrices(scene, t * speed);
  const joints = scene.objects.flatMap((o) => (o.skin ? jointMatrices(o.skin, world) : []));
  const { center, radius } = sceneBounds(scene, world, joints, jointOffsets(scene));
  let view: Mat4;
  let proj: Mat4;
  const cam = scene.camera;
  if (cam) {
    view = invert(world[cam.node]!);
    proj =
      cam.type === 'orthographic'
        ? orthographic(-cam.ymag * aspect, cam.ymag * aspect, -cam.ymag, cam.ymag, cam.znear, cam.zfar ?? cam.znear + 1e6)
        : perspective(cam.yfov, aspect, cam.znear, cam.zfar);
  } else {
    const angle = (2 * Math.PI * t) / ORBIT_PERIOD_S;
    const d = 2.6 * radius;
    const eye: Vec3 = [center[0] + d * Math.sin(angle), center[1] + 0.45 * d, center[2] + d * Math.cos(angle)];
    view = invert(lookAtWorld(eye, center, [0, 1, 0]));
    proj = perspective(Math.PI / 4, aspect, d * 0.01, undefined);
  }
  const lightDir = lightDirection(scene, world);
  const lightEye: Vec3 = [center[0] - lightDir[0] * 2 * radius, center[1] - lightDir[1] * 2 * radius, center[2] - lightDir[2] * 2 * radius];
  const near = 0.5 * radius;
  const far = 3.5 * radius;
  const lightView = invert(lookAtWorld(lightEye, center, [0, 1, 0]));
  const lightViewProj = multiply(orthographic(-radius, radius, -radius, radius, near, far), lightView);
  return { view, proj, lightViewProj, lightDir, shadowTexel: (2 * radius) / SHADOW_MAP_SIZE, lightDepthRange: far - near, world, joints };
}

export class GBufferEffect {
  readonly scene: LoadedScene;
  private readonly device: GPUDevice;
  private readonly featurePass: FeaturePass;
  private readonly shadowPipelines: { rigid: GPURenderPipeline; skinned: GPURenderPipeline };
  private readonly mainPipelines: ScenePipelines;
  private readonly frameBuffer: GPUBuffer;
  private readonly objectBuffer: GPUBuffer;
  private readonly jointBuffer: GPUBuffer;
  private readonly jointOffsets: number[];
  private readonly speed: number;
  private readonly shadowMap: GPUTexture;
  private readonly shadowFrameGroup: GPUBindGroup;
  private readonly mainFrameGroup: GPUBindGroup;
  private readonly objectGroup: GPUBindGroup;
  private readonly draws: Draw[] = [];
  private readonly owned: Array<GPUBuffer | GPUTexture> = [];
  private readonly shadowTarget: GPUTextureView;
  private depth?: { texture: GPUTexture; view: GPUTextureView };
  /** Render-target views of the node textures, made once per texture. */
  private readonly targetViews = new WeakMap<GPUTexture, GPUTextureView>();
  /** The motion pass: built only with `motion: true`. */
  private readonly motion?: MotionPass;
  /** The last frame's matrices and size: the motion pass's "previous frame". */
  private lastFrame?: { fv: FrameView; width: number; height: number };

  static async create(ctx: GpuContext, opts: GBufferOptions): Promise<GBufferEffect> {
    const name = opts.sceneName ?? 'scene';
    const load = { ...(opts.decoders ? { decoders: opts.decoders } : {}), animation: opts.animation, ...(opts.decodeImage ? { decodeImage: opts.decodeImage } : {}) };
    const scene = opts.scene
      ? await loadScene(opts.scene, name, opts.resolveUri, load)
      : await extractScene(buildDefaultScene(), DEFAULT_SCENE_NAME, undefined, { animation: opts.animation });
    const warn = opts.onWarning ?? ((m: string) => console.warn(m));
    for (const w of scene.warnings) warn(w);
    const speed = opts.animationSpeed ?? 1;
    if (!Number.isFinite(speed)) throw fileError(name, `animation speed ${speed} is not a finite number`);
    return new GBufferEffect(ctx, scene, opts, speed);
  }

  private constructor(ctx: GpuContext, scene: LoadedScene, opts: GBufferOptions, speed: number) {
    this.scene = scene;
    this.speed = speed;
    const device = (this.device = ctx.device);
    this.featurePass = new FeaturePass(ctx.device, { feat0: opts.outputs[0], feat1: opts.outputs[1], prev: opts.prev ?? FEATURE_NODES.prev });
    const label = (what: string) => `gbuffer ${what}`;
    const module = device.createShaderModule({ label: label('raster'), code: WGSL.gbuffer_raster });

    const uniformEntry = (binding: number, visibility: GPUShaderStageFlags, hasDynamicOffset = false): GPUBindGroupLayoutEntry => ({ binding, visibility, buffer: { type: 'uniform', hasDynamicOffset } });
    const VF = GPUShaderStage.VERTEX | GPUShaderStage.FRAGMENT;
    const jointsEntry: GPUBindGroupLayoutEntry = { binding: 3, visibility: GPUShaderStage.VERTEX, buffer: { type: 'read-only-storage' } };
    const shadowFrameLayout = device.createBindGroupLayout({ label: label('shadow frame layout'), entries: [uniformEntry(0, GPUShaderStage.VERTEX), jointsEntry] });
    const mainFrameLayout = device.createBindGroupLayout({
      label: label('frame layout'),
      entries: [
        uniformEntry(0, VF),
        { binding: 1, visibility: GPUShaderStage.FRAGMENT, texture: { sampleType: 'depth' } },
        { binding: 2, visibility: GPUShaderStage.FRAGMENT, sampler: { type: 'comparison' } },
        jointsEntry,
      ],
    });
    const objectLayout = device.createBindGroupLayout({ label: label('object layout'), entries: [uniformEntry(0, VF, true)] });
    const materialLayout = device.createBindGroupLayout({
      label: label('material layout'),
      entries: [
        { binding: 0, visibility: GPUShaderStage.FRAGMENT, texture: { sampleType: 'float' } },
        { binding: 1, visibility: GPUShaderStage.FRAGMENT, sampler: { type: 'filtering' } },
        { binding: 2, visibility: GPUShaderStage.FRAGMENT, texture: { sampleType: 'float' } },
        { binding: 3, visibility: GPUShaderStage.FRAGMENT, sampler: { type: 'filtering' } },
      ],
    });

    const stride = VERTEX_FLOATS * 4;
    const skinLayout: GPUVertexBufferLayout = {
      arrayStride: SKIN_VERTEX_BYTES,
      attributes: [
        { shaderLocation: 4, offset: 0, format: 'uint32x4' },
        { shaderLocation: 5, offset: 16, format: 'float32x4' },
      ],
    };
    const shadowLayout = device.createPipelineLayout({ label: label('shadow pipeline layout'), bindGroupLayouts: [shadowFrameLayout, objectLayout] });
    const shadowPipeline = (skinned: boolean) =>
      device.createRenderPipeline({
        label: label(`shadow pipeline${skinned ? ' (skinned)' : ''}`),
        layout: shadowLayout,
        vertex: {
          module,
          entryPoint: skinned ? 'vs_shadow_skinned' : 'vs_shadow',
          buffers: [{ arrayStride: stride, attributes: [{ shaderLocation: 0, offset: 0, format: 'float32x3' }] }, ...(skinned ? [skinLayout] : [])],
        },
        primitive: { topology: 'triangle-list', cullMode: 'none' },
        depthStencil: { format: 'depth32float', depthWriteEnabled: true, depthCompare: 'less', depthBiasSlopeScale: 1.5 },
      });
    this.shadowPipelines = { rigid: shadowPipeline(false), skinned: shadowPipeline(true) };
    const mainLayout = device.createPipelineLayout({ label: label('pipeline layout'), bindGroupLayouts: [mainFrameLayout, objectLayout, materialLayout] });
    const mainPipeline = (cullMode: GPUCullMode, skinned: boolean) =>
      device.createRenderPipeline({
        label: label(`pipeline (cull ${cullMode}${skinned ? ', skinned' : ''})`),
        layout: mainLayout,
        vertex: {
          module,
          entryPoint: skinned ? 'vs_main_skinned' : 'vs_main',
          buffers: [
            {
              arrayStride: stride,
              attributes: [
                { shaderLocation: 0, offset: 0, format: 'float32x3' },
                { shaderLocation: 1, offset: 12, format: 'float32x3' },
                { shaderLocation: 2, offset: 24, format: 'float32x2' },
                { shaderLocation: 3, offset: 32, format: 'float32x2' },
              ],
            },
            ...(skinned ? [skinLayout] : []),
          ],
        },
        fragment: { module, entryPoint: 'fs_main', targets: [{ format: 'rgba8unorm' }, { format: 'rgba8unorm' }, { format: 'r32float' }] },
        primitive: { topology: 'triangle-list', cullMode, frontFace: 'ccw' },
        depthStencil: { format: 'depth32float', depthWriteEnabled: true, depthCompare: 'less' },
      });
    const anySkinned = scene.objects.some((o) => o.skin);
    this.mainPipelines = {
      rigid: { single: mainPipeline('back', false), double: mainPipeline('none', false) },
      // Built only when the scene has a skin (pipelines cost time on software GPUs).
      skinned: anySkinned ? { single: mainPipeline('back', true), double: mainPipeline('none', true) } : { single: undefined!, double: undefined! },
    };

    const buffer = (what: string, size: number, usage: GPUBufferUsageFlags) => {
      const b = device.createBuffer({ label: label(what), size, usage });
      this.owned.push(b);
      return b;
    };
    this.frameBuffer = buffer('frame uniforms', UNIFORM_LAYOUTS.GBufferFrame.size, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const slots = scene.objects.reduce((n, o) => n + o.primitives.length, 0);
    this.objectBuffer = buffer('object uniforms', Math.max(1, slots) * OBJECT_SLOT, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    this.jointOffsets = jointOffsets(scene);
    const jointCount = scene.objects.reduce((n, o) => n + (o.skin?.joints.length ?? 0), 0);
    this.jointBuffer = buffer('joint matrices', Math.max(1, jointCount) * 64, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    this.shadowMap = device.createTexture({
      label: label('shadow map'),
      format: 'depth32float',
      size: { width: SHADOW_MAP_SIZE, height: SHADOW_MAP_SIZE },
      usage: GPUTextureUsage.RENDER_ATTACHMENT | GPUTextureUsage.TEXTURE_BINDING,
    });
    this.owned.push(this.shadowMap);
    this.shadowTarget = this.shadowMap.createView({ label: label('shadow map target') });
    const frameBinding = { buffer: this.frameBuffer, size: UNIFORM_LAYOUTS.GBufferFrame.size };
    const jointBinding = { binding: 3, resource: { buffer: this.jointBuffer } };
    this.shadowFrameGroup = device.createBindGroup({ label: label('shadow frame'), layout: shadowFrameLayout, entries: [{ binding: 0, resource: frameBinding }, jointBinding] });
    this.mainFrameGroup = device.createBindGroup({
      label: label('frame'),
      layout: mainFrameLayout,
      entries: [
        { binding: 0, resource: frameBinding },
        { binding: 1, resource: this.shadowMap.createView({ label: label('shadow map view') }) },
        { binding: 2, resource: device.createSampler({ label: label('shadow sampler'), compare: 'less', magFilter: 'linear', minFilter: 'linear' }) },
        jointBinding,
      ],
    });
    if (opts.motion) {
      const motionFrameLayout = device.createBindGroupLayout({
        label: label('motion frame layout'),
        entries: [
          uniformEntry(0, GPUShaderStage.VERTEX),
          jointsEntry,
          uniformEntry(4, VF),
          { binding: 5, visibility: GPUShaderStage.VERTEX, buffer: { type: 'read-only-storage' } },
        ],
      });
      const motionLayout = device.createPipelineLayout({ label: label('motion pipeline layout'), bindGroupLayouts: [motionFrameLayout, objectLayout, materialLayout] });
      const motionPipeline = (cullMode: GPUCullMode, skinned: boolean) =>
        device.createRenderPipeline({
          label: label(`motion pipeline (cull ${cullMode}${skinned ? ', skinned' : ''})`),
          layout: motionLayout,
          vertex: {
            module,
            entryPoint: skinned ? 'vs_motion_skinned' : 'vs_motion',
            buffers: [
              {
                arrayStride: stride,
                attributes: [
                  { shaderLocation: 0, offset: 0, format: 'float32x3' },
                  { shaderLocation: 2, offset: 24, format: 'float32x2' },
                ],
              },
              ...(skinned ? [skinLayout] : []),
            ],
          },
          fragment: { module, entryPoint: 'fs_motion', targets: [{ format: 'rgba32float' }] },
          // The G-buffer pipelines' states: the same fragments survive.
          primitive: { topology: 'triangle-list', cullMode, frontFace: 'ccw' },
          depthStencil: { format: 'depth32float', depthWriteEnabled: true, depthCompare: 'less' },
        });
      const uniforms = buffer('motion uniforms', UNIFORM_LAYOUTS.GBufferMotion.size, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
      const prevJoints = buffer('previous joint matrices', this.jointBuffer.size, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
      this.motion = {
        pipelines: {
          rigid: { single: motionPipeline('back', false), double: motionPipeline('none', false) },
          skinned: anySkinned ? { single: motionPipeline('back', true), double: motionPipeline('none', true) } : { single: undefined!, double: undefined! },
        },
        uniforms,
        prevJoints,
        frameGroup: device.createBindGroup({
          label: label('motion frame'),
          layout: motionFrameLayout,
          entries: [
            { binding: 0, resource: frameBinding },
            jointBinding,
            { binding: 4, resource: { buffer: uniforms } },
            { binding: 5, resource: { buffer: prevJoints } },
          ],
        }),
      };
    }
    this.objectGroup = device.createBindGroup({
      label: label('objects'),
      layout: objectLayout,
      entries: [{ binding: 0, resource: { buffer: this.objectBuffer, size: UNIFORM_LAYOUTS.GBufferObject.size } }],
    });

    const white = device.createTexture({ label: label('white texture'), format: 'rgba8unorm-srgb', size: { width: 1, height: 1 }, usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST });
    this.owned.push(white);
    device.queue.writeTexture({ texture: white }, new Uint8Array([255, 255, 255, 255]), { bytesPerRow: 4 }, { width: 1, height: 1 });
    const maxDim = device.limits.maxTextureDimension2D;
    const upload = (t: SceneTexture | undefined, what: string): { view: GPUTextureView; sampler: GPUSampler } => {
      let texture = white;
      if (t) {
        const { width, height, rgba } = t;
        if (width > maxDim || height > maxDim) throw fileError(scene.name, `${what} of ${width}×${height} is larger than this GPU's ${maxDim}-pixel limit`);
        texture = device.createTexture({ label: label(what), format: 'rgba8unorm-srgb', size: { width, height }, usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST });
        this.owned.push(texture);
        device.queue.writeTexture({ texture }, new Uint8Array(rgba), { bytesPerRow: width * 4 }, { width, height });
      }
      const sampler = device.createSampler({
        label: label(`${what} sampler`),
        addressModeU: t?.addressModeU ?? 'repeat',
        addressModeV: t?.addressModeV ?? 'repeat',
        magFilter: t?.magFilter ?? 'linear',
        minFilter: t?.minFilter ?? 'linear',
      });
      return { view: texture.createView({ label: label(`${what} view`) }), sampler };
    };
    const materialGroups = scene.materials.map((m, k) => {
      const base = upload(m.texture, `material ${k} base colour texture`);
      const emissive = upload(m.emissiveTexture, `material ${k} emissive texture`);
      return device.createBindGroup({
        label: label(`material ${k}`),
        layout: materialLayout,
        entries: [
          { binding: 0, resource: base.view },
          { binding: 1, resource: base.sampler },
          { binding: 2, resource: emissive.view },
          { binding: 3, resource: emissive.sampler },
        ],
      });
    });

    let slot = 0;
    scene.objects.forEach((o, oi) => {
      o.primitives.forEach((p, pi) => {
        const what = `${o.name || `object ${oi}`} primitive ${pi}`;
        const vertices = buffer(`${what} vertices`, p.vertices.byteLength, GPUBufferUsage.VERTEX | GPUBufferUsage.COPY_DST);
        device.queue.writeBuffer(vertices, 0, p.vertices);
        const indices = buffer(`${what} indices`, p.indices.byteLength, GPUBufferUsage.INDEX | GPUBufferUsage.COPY_DST);
        device.queue.writeBuffer(indices, 0, p.indices);
        let skin: GPUBuffer | undefined;
        if (o.skin && p.skin) {
          skin = buffer(`${what} joints and weights`, p.skin.byteLength, GPUBufferUsage.VERTEX | GPUBufferUsage.COPY_DST);
          device.queue.writeBuffer(skin, 0, p.skin);
        }
        this.draws.push({ object: oi, primitive: pi, slot: slot++, vertices, ...(skin ? { skin } : {}), indices, count: p.indices.length, material: materialGroups[p.material]!, doubleSided: scene.materials[p.material]!.doubleSided });
      });
    });
  }

  /** The last frame's motion plane (see the module header); undefined unless `motion: true`. */
  get motionPlane(): GPUTexture | undefined {
    return this.motion?.target?.texture;
  }

  render(encoder: GPUCommandEncoder, frame: GBufferFrame, nodes: TextureNodes): void {
    const { width: W, height: H } = frame;
    const fv = frameView(this.scene, frame.t, W / H, this.speed);
    let previous: FrameView | undefined;
    if (this.motion) {
      const last = this.lastFrame;
      // No previous frame of this shot: zero motion, not a jump from another shot's camera.
      previous = last && !frame.restart && last.width === W && last.height === H ? last.fv : fv;
      this.lastFrame = { fv, width: W, height: H };
    }
    this.writeUniforms(fv, previous && { previous, width: W, height: H });

    const shadowPass = encoder.beginRenderPass({
      label: 'gbuffer shadow pass',
      colorAttachments: [],
      depthStencilAttachment: { view: this.shadowTarget, depthClearValue: 1, depthLoadOp: 'clear', depthStoreOp: 'store' },
    });
    shadowPass.setBindGroup(0, this.shadowFrameGroup);
    for (const d of this.draws) {
      shadowPass.setPipeline(d.skin ? this.shadowPipelines.skinned : this.shadowPipelines.rigid);
      shadowPass.setBindGroup(1, this.objectGroup, [d.slot * OBJECT_SLOT]);
      shadowPass.setVertexBuffer(0, d.vertices);
      if (d.skin) shadowPass.setVertexBuffer(1, d.skin);
      shadowPass.setIndexBuffer(d.indices, 'uint32');
      shadowPass.drawIndexed(d.count);
    }
    shadowPass.end();

    // COPY_SRC: the planes can be read back (tests, a future "dump the sample" tool).
    const targets = this.featurePass.inputTextures(nodes, W, H, GPUTextureUsage.RENDER_ATTACHMENT | GPUTextureUsage.COPY_SRC);
    if (!this.depth || this.depth.texture.width !== W || this.depth.texture.height !== H) {
      this.depth?.texture.destroy();
      const texture = this.device.createTexture({ label: 'gbuffer depth', format: 'depth32float', size: { width: W, height: H }, usage: GPUTextureUsage.RENDER_ATTACHMENT });
      this.depth = { texture, view: texture.createView({ label: 'gbuffer depth target' }) };
    }
    const attach = (texture: GPUTexture, clearValue: GPUColor): GPURenderPassColorAttachment => {
      let view = this.targetViews.get(texture);
      if (!view) {
        view = texture.createView({ label: `${texture.label} target` });
        this.targetViews.set(texture, view);
      }
      return { view, clearValue, loadOp: 'clear', storeOp: 'store' };
    };
    // Background: pack-blender's values for a transparent film (see the module header).
    const pass = encoder.beginRenderPass({
      label: 'gbuffer pass',
      colorAttachments: [
        attach(targets.albedoMatid, [0, 0, 0, 0]),
        attach(targets.normalShadowTransp, [128 / 255, 128 / 255, 1, 1]),
        attach(targets.depth, [0, 0, 0, 0]),
      ],
      depthStencilAttachment: { view: this.depth.view, depthClearValue: 1, depthLoadOp: 'clear', depthStoreOp: 'discard' },
    });
    pass.setBindGroup(0, this.mainFrameGroup);
    this.drawScene(pass, this.mainPipelines);
    pass.end();

    this.featurePass.encode(encoder, nodes);
    if (this.motion) this.encodeMotion(encoder, this.motion, W, H);
  }

  private encodeMotion(encoder: GPUCommandEncoder, motion: MotionPass, W: number, H: number): void {
    let target = motion.target;
    if (!target || target.texture.width !== W || target.texture.height !== H) {
      target?.texture.destroy();
      target?.depth.destroy();
      const u = GPUTextureUsage;
      // COPY_SRC: the demo reads it back to measure E_warp.
      const texture = this.device.createTexture({ label: 'gbuffer motion plane', format: 'rgba32float', size: { width: W, height: H }, usage: u.RENDER_ATTACHMENT | u.COPY_SRC });
      const depth = this.device.createTexture({ label: 'gbuffer motion depth', format: 'depth32float', size: { width: W, height: H }, usage: u.RENDER_ATTACHMENT });
      target = motion.target = { texture, view: texture.createView({ label: 'gbuffer motion plane target' }), depth, depthView: depth.createView({ label: 'gbuffer motion depth target' }) };
    }
    const pass = encoder.beginRenderPass({
      label: 'gbuffer motion pass',
      colorAttachments: [{ view: target.view, clearValue: [0, 0, 0, 0], loadOp: 'clear', storeOp: 'store' }],
      depthStencilAttachment: { view: target.depthView, depthClearValue: 1, depthLoadOp: 'clear', depthStoreOp: 'discard' },
    });
    pass.setBindGroup(0, motion.frameGroup);
    this.drawScene(pass, motion.pipelines);
    pass.end();
  }

  /** Every draw of the scene with its material, through the G-buffer or the motion pipelines. */
  private drawScene(pass: GPURenderPassEncoder, pipelines: ScenePipelines): void {
    for (const d of this.draws) {
      const p = d.skin ? pipelines.skinned : pipelines.rigid;
      pass.setPipeline(d.doubleSided ? p.double : p.single);
      pass.setBindGroup(1, this.objectGroup, [d.slot * OBJECT_SLOT]);
      pass.setBindGroup(2, d.material);
      pass.setVertexBuffer(0, d.vertices);
      if (d.skin) pass.setVertexBuffer(1, d.skin);
      pass.setIndexBuffer(d.indices, 'uint32');
      pass.drawIndexed(d.count);
    }
  }

  /** `motion`: the motion pass's previous frame and this frame's size (only with motion on). */
  private writeUniforms(fv: FrameView, motion?: { previous: FrameView; width: number; height: number }): void {
    const previous = motion?.previous;
    const L = UNIFORM_LAYOUTS.GBufferFrame;
    const f = new Float32Array(L.size / 4);
    f.set(multiply(fv.proj, fv.view), L.offsets.view_proj / 4);
    f.set(fv.view, L.offsets.view / 4);
    f.set(fv.lightViewProj, L.offsets.light_view_proj / 4);
    f.set(fv.lightDir, L.offsets.light_dir / 4);
    // Normal offset 1.5 texels, depth bias 2 texels' worth of light depth.
    f.set([1.5 * fv.shadowTexel, (2 * fv.shadowTexel) / fv.lightDepthRange], L.offsets.shadow / 4);
    this.device.queue.writeBuffer(this.frameBuffer, 0, f);

    if (fv.joints.length > 0) {
      const j = new Float32Array(fv.joints.length * 16);
      fv.joints.forEach((m, k) => j.set(m, k * 16));
      this.device.queue.writeBuffer(this.jointBuffer, 0, j);
    }

    if (motion && this.motion) {
      const M = UNIFORM_LAYOUTS.GBufferMotion;
      const m = new Float32Array(M.size / 4);
      m.set(multiply(motion.previous.proj, motion.previous.view), M.offsets.prev_view_proj / 4);
      m.set(motion.previous.view, M.offsets.prev_view / 4);
      m.set([motion.width, motion.height], M.offsets.viewport / 4);
      this.device.queue.writeBuffer(this.motion.uniforms, 0, m);
      if (motion.previous.joints.length > 0) {
        const j = new Float32Array(motion.previous.joints.length * 16);
        motion.previous.joints.forEach((mat, k) => j.set(mat, k * 16));
        this.device.queue.writeBuffer(this.motion.prevJoints, 0, j);
      }
    }

    const O = UNIFORM_LAYOUTS.GBufferObject;
    const data = new ArrayBuffer(this.objectBuffer.size);
    for (const d of this.draws) {
      const o = this.scene.objects[d.object]!;
      const prim = o.primitives[d.primitive]!;
      const mat = this.scene.materials[prim.material]!;
      const base = d.slot * OBJECT_SLOT;
      const model = d.skin ? identity() : fv.world[o.node]!;
      const fl = new Float32Array(data, base, O.size / 4);
      const u = new Uint32Array(data, base, O.size / 4);
      fl.set(model, O.offsets.model / 4);
      fl.set(transpose(invert(model)), O.offsets.normal_matrix / 4);
      fl.set(mat.baseColorFactor, O.offsets.base_color / 4);
      fl.set(mat.emissive, O.offsets.emissive / 4);
      fl[O.offsets.matid / 4] = o.matid;
      u[O.offsets.alpha_mode / 4] = ALPHA_MODES[mat.alphaMode];
      fl[O.offsets.alpha_cutoff / 4] = mat.alphaCutoff;
      u[O.offsets.has_normals / 4] = prim.hasNormals ? 1 : 0;
      u[O.offsets.unlit / 4] = mat.unlit ? 1 : 0;
      u[O.offsets.joint_offset / 4] = d.skin ? this.jointOffsets[d.object]! : 0;
      if (previous) fl.set(d.skin ? identity() : previous.world[o.node]!, O.offsets.prev_model / 4);
    }
    this.device.queue.writeBuffer(this.objectBuffer, 0, data);
  }

  destroy(): void {
    for (const r of this.owned) r.destroy();
    this.owned.length = 0;
    this.depth?.texture.destroy();
    this.depth = undefined;
    this.motion?.target?.texture.destroy();
    this.motion?.target?.depth.destroy();
    if (this.motion) this.motion.target = undefined;
  }
}
