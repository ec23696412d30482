/**
 * glTF 2.0 scenes for GBufferEffect: loading through @gltf-transform/core and its extensions with
 * no file system (browser-safe), checking, and flattening into plain arrays the renderer draws
 * from, plus evaluation of node animations and skins at a time t.
 *
 * I/O seam: the scene's own bytes (.glb, or .gltf JSON) come in memory; anything it references
 * by a relative URI (external buffers, images) is asked of `resolveUri(uri)`, with the URI as
 * written in the file, percent-decoded; the caller resolves it against the scene's location
 * (a directory in Node, a URL in the browser). Data URIs and GLB chunks need no resolver.
 *
 * What is read: the default scene (else the first); meshes with TRIANGLES, TRIANGLE_STRIP or
 * TRIANGLE_FAN primitives (POINTS and LINES* are refused); POSITION, NORMAL (flat normals
 * where absent), the base colour and emissive textures' TEXCOORD_n, JOINTS_0/WEIGHTS_0 of a
 * skinned mesh; the metallic-roughness material's base colour factor and texture, emissive
 * factor and texture, alpha mode, cutoff and double-sidedness; skins; node TRS animations (STEP,
 * LINEAR, CUBICSPLINE; `AnimationChoice` picks which); the first camera node in the file's node
 * order; the first directional light of KHR_lights_punctual (read from the JSON).
 * Extensions (`SUPPORTED_EXTENSIONS`): KHR_draco_mesh_compression (a Draco decoder must be
 * given: `GltfDecoders`), EXT_meshopt_compression (meshoptimizer's decoder), KHR_mesh_quantization
 * (normalized and integer attributes are dequantized by the accessor reads), KHR_texture_transform
 * (offset, rotation, scale and texCoord, applied to the base colour and emissive UVs at load),
 * KHR_materials_emissive_strength, KHR_materials_unlit, EXT_texture_webp (decoded where the
 * runtime has createImageBitmap, i.e. browsers), KHR_texture_basisu (refused: no transcoder
 * here), KHR_lights_punctual, and the PBR material extensions the G-buffer does not read
 * (clearcoat, sheen, …), accepted and ignored. Any other extension the file marks required is
 * refused by name. Morph targets are ignored with one warning per scene.
 *
 * Mat id (matid.png, Blender's IndexOB): a mesh node's `extras.matid` (an integer 0–255) when
 * present, else the node's position among the file's mesh nodes in glTF node order, from 0,
 * clamped to 255.
 */
import { Document, Logger, PlatformIO, type JSONDocument, type Material, type Node, type Primitive, type Texture, type TextureInfo } from '@gltf-transform/core';
import {
  EXTMeshoptCompression,
  EXTTextureWebP,
  KHRDracoMeshCompression,
  KHRMaterialsAnisotropy,
  KHRMaterialsClearcoat,
  KHRMaterialsDispersion,
  KHRMaterialsEmissiveStrength,
  KHRMaterialsIOR,
  KHRMaterialsIridescence,
  KHRMaterialsSheen,
  KHRMaterialsSpecular,
  KHRMaterialsTransmission,
  KHRMaterialsUnlit,
  KHRMaterialsVolume,
  KHRMeshQuantization,
  KHRTextureBasisu,
  KHRTextureTransform,
  type EmissiveStrength,
  type Transform,
} from '@gltf-transform/extensions';
import { MeshoptDecoder } from 'meshoptimizer/decoder';
import { CnnV3Error, fileError, isCnnV3Error } from '../../errors.js';
import { decodeImage } from '../../image/decode.js';
import { toRgba8, type Raster } from '../../image/image.js';
import { fromTrs, identity, multiply, normalize, slerp, transformDir, transformPoint, type Mat4, type Quat, type Vec3 } from './math.js';

export type ResolveUri = (uri: string) => Promise<Uint8Array>;

/**
 * Decoders the platform supplies. Draco's (the `draco3dgltf` module, what its
 * `createDecoderModule()` resolves to) is not bundled into the browser-safe library: Node gets it
 * from `nodeGltfDecoders()` (decoders-node.ts), the player page from its own bundle.
 */
export interface GltfDecoders {
  draco?: () => Promise<unknown>;
}

/** Direction the light travels (world, glTF axes) when the file has no directional light. */
export const DEFAULT_LIGHT_DIRECTION: Vec3 = normalize([-0.35, -1, -0.25]);

export interface SceneTexture {
  width: number;
  height: number;
  /** RGBA8, sRGB-encoded as stored in the image. */
  rgba: Uint8Array;
  addressModeU: GPUAddressMode;
  addressModeV: GPUAddressMode;
  magFilter: GPUFilterMode;
  minFilter: GPUFilterMode;
}

export type AlphaMode = 'OPAQUE' | 'MASK' | 'BLEND';

export interface SceneMaterial {
  /** Linear RGBA (glTF baseColorFactor). */
  baseColorFactor: [number, number, number, number];
  texture?: SceneTexture;
  /** Linear emissive colour: emissiveFactor × KHR_materials_emissive_strength. */
  emissive: [number, number, number];
  emissiveTexture?: SceneTexture;
  /** KHR_materials_unlit. */
  unlit: boolean;
  alphaMode: AlphaMode;
  alphaCutoff: number;
  doubleSided: boolean;
}

export interface ScenePrimitive {
  /** Interleaved position (3), normal (3), base colour uv (2), emissive uv (2) per vertex; UVs already texture-transformed. */
  vertices: Float32Array<ArrayBuffer>;
  indices: Uint32Array<ArrayBuffer>;
  /** Skinned primitives: per vertex 4 × u32 joint (index into the object's skin) then 4 × f32 weight (summing to 1). */
  skin?: ArrayBuffer;
  hasNormals: boolean;
  material: number;
  /** Local-space bounding box. */
  min: Vec3;
  max: Vec3;
}

export interface SceneSkin {
  /** Scene node index of each joint. */
  joints: number[];
  /** Inverse bind matrix of each joint (column-major). */
  inverseBind: Mat4[];
}

export interface SceneObject {
  /** Index into LoadedScene.nodes. */
  node: number;
  name: string;
  matid: number;
  primitives: ScenePrimitive[];
  /** Set on skinned meshes: vertices follow the joints, the node's own transform is ignored (glTF). */
  skin?: SceneSkin;
}

export interface SceneCamera {
  node: number;
  type: 'perspective' | 'orthographic';
  yfov: number;
  ymag: number;
  znear: number;
  /** Undefined: infinite (perspective only). */
  zfar?: number;
}

interface SceneNode {
  parent: number;
  translation: Vec3;
  rotation: Quat;
  scale: Vec3;
}

interface AnimationTrack {
  node: number;
  path: 'translation' | 'rotation' | 'scale';
  interpolation: 'STEP' | 'LINEAR' | 'CUBICSPLINE';
  times: Float64Array;
  /** Components per key (×3 for CUBICSPLINE: in-tangent, value, out-tangent). */
  values: Float64Array;
}

export interface SceneAnimation {
  name: string;
  /** Seconds (its last keyframe). */
  duration: number;
  tracks: AnimationTrack[];
}

export interface LoadedScene {
  name: string;
  /** Scene nodes, every parent before its children. */
  nodes: SceneNode[];
  objects: SceneObject[];
  materials: SceneMaterial[];
  camera?: SceneCamera;
  /** Node whose −Z is the light direction; undefined = DEFAULT_LIGHT_DIRECTION. */
  lightNode?: number;
  /** Every animation in the file, in file order. */
  animations: SceneAnimation[];
  /** The tracks played (the chosen animations', see AnimationChoice). */
  tracks: AnimationTrack[];
  /** Animation loop length in seconds: the longest chosen animation (0 = static). */
  duration: number;
  /** What was picked, for messages: 'all', 'none' or the animation's name / #index. */
  playing: string;
  /** One-line notes about what was ignored (morph targets, …). */
  warnings: string[];
}

/**
 * Which animations play: a name (exact), an index (0 = the file's first), `all` (together), or
 * `none` (the rest pose). Default (undefined): all together when no two drive the same node
 * property, else the first — glTF files such as the Fox hold alternative clips of one rig.
 */
export type AnimationChoice = string | undefined;

export interface LoadOptions {
  decoders?: GltfDecoders;
  animation?: AnimationChoice;
}

export const VERTEX_FLOATS = 10;
/** Bytes per vertex of ScenePrimitive.skin. */
export const SKIN_VERTEX_BYTES = 32;

/** The URI under which the scene's own bytes are handed to gltf-transform. */
const ROOT_URI = '\u0000scene';

/** gltf-transform's I/O with every read going through memory or the caller's resolver. */
class SeamIO extends PlatformIO {
  /** External files that could not be read, by URI as written, with why. */
  readonly failed = new Map<string, string>();

  constructor(
    private readonly root: Uint8Array,
    private readonly name: string,
    private readonly resolveUri?: ResolveUri,
  ) {
    super();
    this.setLogger(new Logger(Logger.Verbosity.ERROR));
    // An image that cannot be read is refused only where a texture the G-buffer reads uses it
    // (readTexture names the material, the slot and the file); a missing normal map is harmless.
    this.setStrictResources(false);
  }

  protected async readURI(uri: string, type: 'view'): Promise<Uint8Array<ArrayBuffer>>;
  protected async readURI(uri: string, type: 'text'): Promise<string>;
  protected async readURI(uri: string, type: 'view' | 'text'): Promise<Uint8Array<ArrayBuffer> | string> {
    let bytes: Uint8Array;
    if (uri === ROOT_URI) bytes = this.root;
    else {
      if (!this.resolveUri) {
        this.failed.set(uri, 'no resolver was given for it');
        throw fileError(this.name, `references the external file "${uri}", and no resolver was given for it`);
      }
      try {
        bytes = await this.resolveUri(uri);
      } catch (e) {
        const why = isCnnV3Error(e) ? e.message : (e as Error).message;
        // gltf-transform carries on without an image it cannot read; the texture that uses it
        // is refused by name later (readTexture), so remember why.
        this.failed.set(uri, why);
        throw fileError(this.name, `cannot read the external file "${uri}": ${why}`);
      }
    }
    const view = new Uint8Array(bytes.byteLength);
    view.set(bytes);
    return type === 'text' ? new TextDecoder().decode(view) : view;
  }

  protected resolve(_base: string, path: string): string {
    try {
      return decodeURIComponent(path);
    } catch {
      return path;
    }
  }

  protected dirname(): string {
    return '';
  }
}

export function isGlb(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && bytes[0] === 0x67 && bytes[1] === 0x6c && bytes[2] === 0x54 && bytes[3] === 0x46;
}

/** Extensions read from the file's JSON here rather than through gltf-transform. */
const EXTENSIONS_READ_FROM_JSON = ['KHR_lights_punctual'];

/** Material extensions that change only shading the G-buffer has no plane for: read and ignored. */
const IGNORED_MATERIAL_EXTENSIONS = [
  KHRMaterialsAnisotropy,
  KHRMaterialsClearcoat,
  KHRMaterialsDispersion,
  KHRMaterialsIOR,
  KHRMaterialsIridescence,
  KHRMaterialsSheen,
  KHRMaterialsSpecular,
  KHRMaterialsTransmission,
  KHRMaterialsVolume,
];

const READ_EXTENSIONS = [
  KHRDracoMeshCompression,
  EXTMeshoptCompression,
  KHRMeshQuantization,
  KHRTextureTransform,
  KHRMaterialsEmissiveStrength,
  KHRMaterialsUnlit,
  EXTTextureWebP,
  KHRTextureBasisu,
  ...IGNORED_MATERIAL_EXTENSIONS,
];

/** Every extension a file may mark required. */
export const SUPPORTED_EXTENSIONS: readonly string[] = [...READ_EXTENSIONS.map((e) => e.EXTENSION_NAME), ...EXTENSIONS_READ_FROM_JSON].sort();

const DRACO = KHRDracoMeshCompression.EXTENSION_NAME;
const MESHOPT = EXTMeshoptCompression.EXTENSION_NAME;

/** Reads .glb or .gltf bytes into a Document; every problem is a fileError naming `name`. */
export async function readGltf(
  bytes: Uint8Array,
  name: string,
  resolveUri?: ResolveUri,
  decoders: GltfDecoders = {},
): Promise<{ doc: Document; json: JSONDocument['json']; failed: ReadonlyMap<string, string> }> {
  if (bytes.length === 0) throw fileError(name, 'empty file, not a glTF scene');
  if (!isGlb(bytes)) {
    const head = new TextDecoder().decode(bytes.subarray(0, 64)).trimStart();
    if (!head.startsWith('{')) throw fileError(name, 'not a glTF scene (neither a GLB file nor glTF JSON)');
  }
  const io = new SeamIO(bytes, name, resolveUri);
  let jsonDoc: JSONDocument;
  try {
    jsonDoc = await io.readAsJSON(ROOT_URI);
  } catch (e) {
    if (isCnnV3Error(e)) throw e;
    const msg = (e as Error).message;
    if (e instanceof SyntaxError) throw fileError(name, `not a glTF scene (invalid JSON: ${msg})`);
    throw fileError(name, `not a valid glTF file: ${msg}`);
  }
  const version = (jsonDoc.json.asset as { version?: unknown } | undefined)?.version;
  if (typeof version !== 'string' || !version.startsWith('2.')) {
    throw fileError(name, `not a glTF 2.0 scene (asset.version is ${JSON.stringify(version ?? null)})`);
  }
  const required = jsonDoc.json.extensionsRequired ?? [];
  const unsupported = required.filter((x) => !SUPPORTED_EXTENSIONS.includes(x));
  if (unsupported.length > 0) {
    throw fileError(name, `requires the glTF extension${unsupported.length > 1 ? 's' : ''} ${unsupported.join(', ')}, which GBufferEffect does not support (it reads ${SUPPORTED_EXTENSIONS.join(', ')})`);
  }
  // Extensions this module reads from the raw JSON itself may be marked required (Blender's
  // exporter marks KHR_lights_punctual so); gltf-transform would refuse them as unregistered.
  if (jsonDoc.json.extensionsRequired) jsonDoc.json.extensionsRequired = required.filter((x) => !EXTENSIONS_READ_FROM_JSON.includes(x));
  const used = new Set([...(jsonDoc.json.extensionsUsed ?? []), ...required]);
  const dependencies: Record<string, unknown> = {};
  if (used.has(DRACO)) {
    if (!decoders.draco) {
      throw fileError(name, `is compressed with ${DRACO}, and no Draco decoder is available here (Node: pass nodeGltfDecoders() from cnn-v3/node; the demo player and \`cnnv3 demo\` have one)`);
    }
    try {
      dependencies['draco3d.decoder'] = await decoders.draco();
    } catch (e) {
      throw fileError(name, `is compressed with ${DRACO}, and the Draco decoder failed to load: ${(e as Error).message}`);
    }
  }
  if (used.has(MESHOPT)) {
    try {
      await MeshoptDecoder.ready;
    } catch (e) {
      throw fileError(name, `is compressed with ${MESHOPT}, and the meshoptimizer decoder failed to load: ${(e as Error).message}`);
    }
    dependencies['meshopt.decoder'] = MeshoptDecoder;
  }
  io.registerExtensions(READ_EXTENSIONS).registerDependencies(dependencies);
  try {
    return { doc: await io.readJSON(jsonDoc), json: jsonDoc.json, failed: io.failed };
  } catch (e) {
    if (isCnnV3Error(e)) throw e;
    const msg = (e as Error).message;
    const ext = [DRACO, MESHOPT].find((x) => used.has(x));
    throw fileError(name, `not a valid glTF file${ext ? ` (decoding ${ext})` : ''}: ${msg}`);
  }
}

const MODE_NAMES: Record<number, string> = { 0: 'POINTS', 1: 'LINES', 2: 'LINE_LOOP', 3: 'LINE_STRIP', 4: 'TRIANGLES', 5: 'TRIANGLE_STRIP', 6: 'TRIANGLE_FAN' };

const WRAP: Record<number, GPUAddressMode> = { 33071: 'clamp-to-edge', 33648: 'mirror-repeat', 10497: 'repeat' };

function triangleList(mode: number, idx: ArrayLike<number>, where: () => string, name: string): Uint32Array<ArrayBuffer> {
  if (mode === 4) {
    if (idx.length % 3 !== 0) throw fileError(name, `${where()}: ${idx.length} indices is not a whole number of triangles`);
    return Uint32Array.from(idx);
  }
  const out: number[] = [];
  if (mode === 5) {
    for (let i = 0; i + 2 < idx.length; i++) {
      if (i % 2 === 0) out.push(idx[i]!, idx[i + 1]!, idx[i + 2]!);
      else out.push(idx[i + 1]!, idx[i]!, idx[i + 2]!);
    }
  } else if (mode === 6) {
    for (let i = 1; i + 1 < idx.length; i++) out.push(idx[0]!, idx[i]!, idx[i + 1]!);
  } else {
    throw fileError(name, `${where()}: primitive mode ${MODE_NAMES[mode] ?? mode} is not supported (only triangles, strips and fans are)`);
  }
  return Uint32Array.from(out);
}

/** A texture slot's UV set and KHR_texture_transform, as u' = a·u + b·v + c, v' = d·u + e·v + f. */
export interface UvMap {
  texCoord: number;
  /** [a, b, c, d, e, f]. */
  m: [number, number, number, number, number, number];
}

const IDENTITY_UV: UvMap = { texCoord: 0, m: [1, 0, 0, 0, 1, 0] };

/**
 * KHR_texture_transform: offset · rotation · scale applied to (u, v, 1), rotation as the
 * extension's GLSL and three.js's GLTFLoader apply it (u' = cos·sx·u + sin·sy·v + ox,
 * v' = −sin·sx·u + cos·sy·v + oy); its texCoord, when set, replaces the textureInfo's.
 */
export function uvMap(info: TextureInfo | null): UvMap {
  if (!info) return IDENTITY_UV;
  const tr = info.getExtension<Transform>('KHR_texture_transform');
  if (!tr) return { texCoord: info.getTexCoord(), m: [...IDENTITY_UV.m] };
  const [ox, oy] = tr.getOffset();
  const [sx, sy] = tr.getScale();
  const r = tr.getRotation();
  const c = Math.cos(r);
  const s = Math.sin(r);
  return { texCoord: tr.getTexCoord() ?? info.getTexCoord(), m: [c * sx, s * sy, ox, -s * sx, c * sy, oy] };
}

/** What decodes a texture's image: PNG and JPEG here, WebP where the runtime can. */
export type ImageDecoder = (bytes: Uint8Array, mimeType: string, label: string) => Promise<Raster>;

/** WebP through createImageBitmap + OffscreenCanvas (browsers; not Node). */
async function decodeWithBitmap(bytes: Uint8Array, mimeType: string): Promise<Raster> {
  const bitmap = await createImageBitmap(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: mimeType }), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const g = canvas.getContext('2d')!;
  g.drawImage(bitmap, 0, 0);
  const data = new Uint8Array(g.getImageData(0, 0, bitmap.width, bitmap.height).data.buffer);
  bitmap.close();
  return { width: canvas.width, height: canvas.height, channels: 4, depth: 8, data };
}

const canDecodeWithBitmap = (): boolean => typeof createImageBitmap === 'function' && typeof OffscreenCanvas === 'function';

/** The default image decoder (see ImageDecoder); every refusal names the extension involved. */
export const defaultImageDecoder: ImageDecoder = async (bytes, mimeType, label) => {
  if (mimeType === 'image/ktx2') {
    throw new CnnV3Error(`${label} is a KTX2 / Basis Universal texture (KHR_texture_basisu), which cannot be decoded here (no Basis transcoder); re-export it with PNG or JPEG textures`);
  }
  if (mimeType === 'image/webp') {
    if (!canDecodeWithBitmap()) throw new CnnV3Error(`${label} is a WebP texture (EXT_texture_webp), which this runtime cannot decode (WebP decodes in the browser player, not in Node); re-export it with PNG or JPEG textures`);
    try {
      return await decodeWithBitmap(bytes, mimeType);
    } catch (e) {
      throw new CnnV3Error(`${label}: cannot decode the WebP texture (EXT_texture_webp): ${(e as Error).message}`);
    }
  }
  return decodeImage(bytes, label);
};

interface TextureContext {
  name: string;
  textureIndex: Map<Texture, number>;
  failed: ReadonlyMap<string, string>;
  decode: ImageDecoder;
  /** Decoded textures, by Texture (one decode for a texture several materials share). */
  cache: Map<Texture, Promise<Raster>>;
}

async function readTexture(mat: Material, slot: 'base colour' | 'emissive', tex: Texture | null, info: TextureInfo | null, ctx: TextureContext): Promise<SceneTexture | undefined> {
  if (!tex || !info) return undefined;
  const uri = tex.getURI();
  const label = uri ? `"${uri}"` : tex.getName() ? `"${tex.getName()}"` : `#${ctx.textureIndex.get(tex) ?? '?'}`;
  const what = `material "${mat.getName()}": ${slot} texture ${label}`;
  const image = tex.getImage();
  if (!image) {
    const why = uri ? ctx.failed.get(uri) : undefined;
    if (why !== undefined) throw fileError(ctx.name, `${what}: the image file "${uri}" cannot be read: ${why}`);
    throw fileError(ctx.name, `${what} has no image data`);
  }
  let raster = ctx.cache.get(tex);
  if (!raster) {
    raster = ctx.decode(image, tex.getMimeType(), 'its image').catch((e: unknown) => {
      if (isCnnV3Error(e)) throw fileError(ctx.name, `${what}: ${e.message}`);
      throw fileError(ctx.name, `${what}: cannot decode the image: ${(e as Error).message}`);
    });
    ctx.cache.set(tex, raster);
  }
  const r = await raster;
  const nearest = (f: number | null) => (f === 9728 || f === 9984 || f === 9986 ? 'nearest' : 'linear');
  return {
    width: r.width,
    height: r.height,
    rgba: toRgba8(r),
    addressModeU: WRAP[info.getWrapS()] ?? 'repeat',
    addressModeV: WRAP[info.getWrapT()] ?? 'repeat',
    magFilter: nearest(info.getMagFilter()),
    minFilter: nearest(info.getMinFilter()),
  };
}

function readUv(prim: Primitive, map: UvMap | undefined, where: () => string, name: string, n: number): Float32Array | undefined {
  if (!map) return undefined;
  const acc = prim.getAttribute(`TEXCOORD_${map.texCoord}`);
  if (!acc) return undefined;
  if (acc.getCount() < n) throw fileError(name, `${where()}: TEXCOORD_${map.texCoord} has ${acc.getCount()} values for ${n} vertices`);
  const out = new Float32Array(n * 2);
  const [a, b, c, d, e, f] = map.m;
  const el: number[] = [];
  for (let i = 0; i < n; i++) {
    acc.getElement(i, el);
    const u = el[0]!;
    const v = el[1]!;
    out[i * 2] = a * u + b * v + c;
    out[i * 2 + 1] = d * u + e * v + f;
  }
  return out;
}

function readSkinAttributes(prim: Primitive, where: () => string, name: string, n: number, jointCount: number): ArrayBuffer | undefined {
  const joints = prim.getAttribute('JOINTS_0');
  const weights = prim.getAttribute('WEIGHTS_0');
  if (!joints || !weights) return undefined;
  if (joints.getCount() < n || weights.getCount() < n) throw fileError(name, `${where()}: JOINTS_0/WEIGHTS_0 have fewer values than its ${n} vertices`);
  const buf = new ArrayBuffer(n * SKIN_VERTEX_BYTES);
  const ju = new Uint32Array(buf);
  const wf = new Float32Array(buf);
  const j: number[] = [];
  const w: number[] = [];
  for (let i = 0; i < n; i++) {
    joints.getElement(i, j);
    weights.getElement(i, w);
    let sum = 0;
    for (let k = 0; k < 4; k++) {
      const wk = w[k] ?? 0;
      const jk = j[k] ?? 0;
      if (!(wk >= 0) || !Number.isFinite(wk)) throw fileError(name, `${where()}: vertex ${i} has a bad skin weight ${wk}`);
      if (wk > 0 && !(Number.isInteger(jk) && jk >= 0 && jk < jointCount)) throw fileError(name, `${where()}: vertex ${i} names joint ${jk}, and its skin has ${jointCount}`);
      sum += wk;
    }
    for (let k = 0; k < 4; k++) {
      const wk = w[k] ?? 0;
      ju[i * 8 + k] = wk > 0 ? j[k]! : 0;
      wf[i * 8 + 4 + k] = sum > 0 ? wk / sum : k === 0 ? 1 : 0;
    }
  }
  return buf;
}

function readPrimitive(prim: Primitive, where: () => string, name: string, material: number, uvs: [UvMap | undefined, UvMap | undefined], jointCount: number): ScenePrimitive {
  const pos = prim.getAttribute('POSITION');
  if (!pos) throw fileError(name, `${where()}: no POSITION attribute`);
  if (pos.getType() !== 'VEC3') throw fileError(name, `${where()}: POSITION is ${pos.getType()}, not VEC3`);
  const n = pos.getCount();
  const nrm = prim.getAttribute('NORMAL');
  const uv0 = readUv(prim, uvs[0], where, name, n);
  const uv1 = readUv(prim, uvs[1], where, name, n);
  const vertices = new Float32Array(n * VERTEX_FLOATS);
  const min: Vec3 = [Infinity, Infinity, Infinity];
  const max: Vec3 = [-Infinity, -Infinity, -Infinity];
  const e: number[] = [];
  for (let i = 0; i < n; i++) {
    pos.getElement(i, e);
    const o = i * VERTEX_FLOATS;
    for (let k = 0; k < 3; k++) {
      const v = e[k]!;
      if (!Number.isFinite(v)) throw fileError(name, `${where()}: vertex ${i} has a non-finite position`);
      vertices[o + k] = v;
      min[k] = Math.min(min[k]!, v);
      max[k] = Math.max(max[k]!, v);
    }
    if (nrm) {
      nrm.getElement(i, e);
      vertices[o + 3] = e[0]!;
      vertices[o + 4] = e[1]!;
      vertices[o + 5] = e[2]!;
    }
    if (uv0) vertices.set(uv0.subarray(i * 2, i * 2 + 2), o + 6);
    if (uv1) vertices.set(uv1.subarray(i * 2, i * 2 + 2), o + 8);
  }
  const idxAcc = prim.getIndices();
  const raw = idxAcc ? Array.from({ length: idxAcc.getCount() }, (_, i) => idxAcc.getScalar(i)) : Array.from({ length: n }, (_, i) => i);
  for (const i of raw) {
    if (!(i >= 0 && i < n)) throw fileError(name, `${where()}: index ${i} is outside its ${n} vertices`);
  }
  const indices = triangleList(prim.getMode(), raw, where, name);
  const skin = jointCount > 0 ? readSkinAttributes(prim, where, name, n, jointCount) : undefined;
  return { vertices, indices, ...(skin ? { skin } : {}), hasNormals: nrm !== null, material, min, max };
}

function readMatid(node: Node, order: number, name: string): number {
  const extras = node.getExtras() as Record<string, unknown> | undefined;
  const v = extras?.['matid'];
  if (v === undefined) return Math.min(order, 255);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) {
    throw fileError(name, `node "${node.getName()}": extras.matid must be an integer from 0 to 255, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** The first directional KHR_lights_punctual light's node index in the file, if any. */
function directionalLightNode(json: JSONDocument['json']): number | undefined {
  type LightsExt = { KHR_lights_punctual?: { lights?: Array<{ type?: string }>; light?: number } };
  const lights = (json.extensions as LightsExt | undefined)?.KHR_lights_punctual?.lights ?? [];
  const nodes = (json.nodes ?? []) as Array<{ extensions?: LightsExt }>;
  for (let k = 0; k < nodes.length; k++) {
    const li = nodes[k]!.extensions?.KHR_lights_punctual?.light;
    if (li !== undefined && lights[li]?.type === 'directional') return k;
  }
  return undefined;
}

/** The tracks of `choice` (see AnimationChoice), or a message listing what the file has. */
export function chooseAnimations(animations: SceneAnimation[], choice: AnimationChoice, name: string): { tracks: AnimationTrack[]; duration: number; playing: string } {
  const pick = (list: SceneAnimation[], playing: string) => ({
    tracks: list.flatMap((a) => a.tracks),
    duration: list.reduce((d, a) => Math.max(d, a.duration), 0),
    playing,
  });
  const label = (a: SceneAnimation, k: number) => (a.name ? `"${a.name}"` : `#${k}`);
  if (choice === undefined) {
    // Two animations driving the same node property are alternatives (one rig's clips): play the first.
    const targets = animations.map((a) => new Set(a.tracks.map((t) => `${t.node}/${t.path}`)));
    const clash = targets.some((s, i) => targets.some((o, j) => j > i && [...s].some((x) => o.has(x))));
    return clash ? pick([animations[0]!], label(animations[0]!, 0)) : pick(animations, 'all');
  }
  if (choice === 'none') return pick([], 'none');
  const byName = animations.findIndex((a) => a.name === choice);
  if (byName >= 0) return pick([animations[byName]!], label(animations[byName]!, byName));
  if (choice === 'all') return pick(animations, 'all');
  if (/^\d+$/.test(choice) && Number(choice) < animations.length) return pick([animations[Number(choice)]!], label(animations[Number(choice)]!, Number(choice)));
  const have = animations.length === 0 ? 'it has no animations' : `it has ${animations.map((a, k) => `${k} ${a.name ? `"${a.name}"` : '(unnamed)'}`).join(', ')}`;
  throw fileError(name, `animation=${choice}: no such animation (${have}; or all, none)`);
}

/** Flattens a Document into what the renderer draws. */
export async function extractScene(
  doc: Document,
  name: string,
  json?: JSONDocument['json'],
  opts: { animation?: AnimationChoice; failed?: ReadonlyMap<string, string>; decodeImage?: ImageDecoder } = {},
): Promise<LoadedScene> {
  const root = doc.getRoot();
  const scene = root.getDefaultScene() ?? root.listScenes()[0];
  if (!scene) throw fileError(name, 'no scene in this glTF file');
  const docNodes = root.listNodes();
  const meshOrder = new Map<Node, number>(docNodes.filter((node) => node.getMesh()).map((node, k) => [node, k]));
  const warnings: string[] = [];

  const nodes: SceneNode[] = [];
  const sceneIndex = new Map<Node, number>();
  const visit = (node: Node, parent: number) => {
    if (sceneIndex.has(node)) return;
    const k = nodes.length;
    sceneIndex.set(node, k);
    nodes.push({ parent, translation: [...node.getTranslation()] as Vec3, rotation: [...node.getRotation()] as Quat, scale: [...node.getScale()] as Vec3 });
    for (const c of node.listChildren()) visit(c, k);
  };
  for (const c of scene.listChildren()) visit(c, -1);
  // Joints of the scene's skins that hang outside the scene tree still move its meshes.
  for (const node of [...sceneIndex.keys()]) {
    for (const j of node.getSkin()?.listJoints() ?? []) {
      if (sceneIndex.has(j)) continue;
      let top = j;
      while (top.getParentNode()) top = top.getParentNode()!;
      visit(top, -1);
    }
  }

  const tctx: TextureContext = {
    name,
    textureIndex: new Map(root.listTextures().map((t, k) => [t, k])),
    failed: opts.failed ?? new Map(),
    decode: opts.decodeImage ?? defaultImageDecoder,
    cache: new Map(),
  };
  const materials: SceneMaterial[] = [];
  const materialIndex = new Map<Material | null, number>();
  const materialFor = async (m: Material | null): Promise<number> => {
    const have = materialIndex.get(m);
    if (have !== undefined) return have;
    const k = materials.length;
    materialIndex.set(m, k);
    if (!m) {
      // glTF's default material: white, opaque, single-sided.
      materials.push({ baseColorFactor: [1, 1, 1, 1], emissive: [0, 0, 0], unlit: false, alphaMode: 'OPAQUE', alphaCutoff: 0.5, doubleSided: false });
      return k;
    }
    const strength = m.getExtension<EmissiveStrength>('KHR_materials_emissive_strength')?.getEmissiveStrength() ?? 1;
    const ef = m.getEmissiveFactor();
    const texture = await readTexture(m, 'base colour', m.getBaseColorTexture(), m.getBaseColorTextureInfo(), tctx);
    const emissiveTexture = await readTexture(m, 'emissive', m.getEmissiveTexture(), m.getEmissiveTextureInfo(), tctx);
    materials.push({
      baseColorFactor: [...m.getBaseColorFactor()] as [number, number, number, number],
      ...(texture ? { texture } : {}),
      emissive: [ef[0] * strength, ef[1] * strength, ef[2] * strength],
      ...(emissiveTexture ? { emissiveTexture } : {}),
      unlit: m.getExtension('KHR_materials_unlit') !== null,
      alphaMode: m.getAlphaMode(),
      alphaCutoff: m.getAlphaCutoff(),
      doubleSided: m.getDoubleSided(),
    });
    return k;
  };

  const objects: SceneObject[] = [];
  let morphWarned = false;
  for (const [node, k] of sceneIndex) {
    const mesh = node.getMesh();
    if (!mesh) continue;
    const skinDef = node.getSkin();
    let skin: SceneSkin | undefined;
    if (skinDef) {
      const joints = skinDef.listJoints();
      const ibm = skinDef.getInverseBindMatrices();
      if (ibm && (ibm.getType() !== 'MAT4' || ibm.getCount() < joints.length)) {
        throw fileError(name, `skin "${skinDef.getName()}": inverseBindMatrices must be ${joints.length} MAT4 values`);
      }
      const e: number[] = [];
      skin = {
        joints: joints.map((j) => sceneIndex.get(j)!),
        inverseBind: joints.map((_, i) => (ibm ? Float64Array.from(ibm.getElement(i, e).slice(0, 16)) : identity())),
      };
    }
    const prims: ScenePrimitive[] = [];
    for (const [p, prim] of mesh.listPrimitives().entries()) {
      const where = () => `mesh "${mesh.getName()}" primitive ${p}`;
      if (prim.listTargets().length > 0 && !morphWarned) {
        morphWarned = true;
        warnings.push(`${name}: ${where()} has morph targets, which GBufferEffect ignores (the base shape is drawn)`);
      }
      const mat = prim.getMaterial();
      const uvs: [UvMap | undefined, UvMap | undefined] = [
        mat?.getBaseColorTexture() ? uvMap(mat.getBaseColorTextureInfo()) : undefined,
        mat?.getEmissiveTexture() ? uvMap(mat.getEmissiveTextureInfo()) : undefined,
      ];
      prims.push(readPrimitive(prim, where, name, await materialFor(mat), uvs, skin?.joints.length ?? 0));
    }
    const drawn = prims.filter((p) => p.indices.length > 0);
    // A skin applies to primitives that carry JOINTS_0/WEIGHTS_0; one without them stays rigid.
    const skinned = skin && drawn.some((p) => p.skin);
    if (skin && !skinned) warnings.push(`${name}: node "${node.getName()}" has a skin but its mesh has no JOINTS_0/WEIGHTS_0; drawn unskinned`);
    objects.push({ node: k, name: node.getName(), matid: readMatid(node, meshOrder.get(node)!, name), primitives: drawn, ...(skinned ? { skin: skin! } : {}) });
  }
  if (objects.every((o) => o.primitives.length === 0)) throw fileError(name, 'no meshes with triangles in its scene, nothing to render');

  let camera: SceneCamera | undefined;
  for (const node of docNodes) {
    const cam = node.getCamera();
    const k = sceneIndex.get(node);
    if (!cam || k === undefined) continue;
    const zfar = cam.getZFar();
    camera = {
      node: k,
      type: cam.getType() === 'orthographic' ? 'orthographic' : 'perspective',
      yfov: cam.getYFov(),
      ymag: cam.getYMag(),
      znear: cam.getZNear(),
      ...(cam.getType() === 'orthographic' || (zfar && zfar > 0) ? { zfar } : {}),
    };
    break;
  }

  const lightDoc = json ? directionalLightNode(json) : undefined;
  const lightNodeRef = lightDoc !== undefined ? docNodes[lightDoc] : undefined;
  const lightNode = lightNodeRef ? sceneIndex.get(lightNodeRef) : undefined;

  const animations: SceneAnimation[] = [];
  for (const anim of root.listAnimations()) {
    const tracks: AnimationTrack[] = [];
    let duration = 0;
    for (const ch of anim.listChannels()) {
      const target = ch.getTargetNode();
      const path = ch.getTargetPath();
      const sampler = ch.getSampler();
      const k = target ? sceneIndex.get(target) : undefined;
      if (k === undefined || !sampler || (path !== 'translation' && path !== 'rotation' && path !== 'scale')) continue;
      const input = sampler.getInput();
      const output = sampler.getOutput();
      if (!input || !output || input.getCount() === 0) continue;
      const times = Float64Array.from({ length: input.getCount() }, (_, i) => input.getScalar(i));
      const e: number[] = [];
      const comps = path === 'rotation' ? 4 : 3;
      const values = new Float64Array(output.getCount() * comps);
      for (let i = 0; i < output.getCount(); i++) values.set(output.getElement(i, e).slice(0, comps), i * comps);
      const interpolation = sampler.getInterpolation();
      const keys = interpolation === 'CUBICSPLINE' ? times.length * 3 : times.length;
      if (output.getCount() < keys) throw fileError(name, `animation "${anim.getName()}": ${output.getCount()} output values for ${times.length} keyframes`);
      tracks.push({ node: k, path, interpolation, times, values });
      duration = Math.max(duration, times[times.length - 1]!);
    }
    animations.push({ name: anim.getName(), duration, tracks });
  }
  const chosen = chooseAnimations(animations, opts.animation, name);
  return {
    name,
    nodes,
    objects,
    materials,
    ...(camera ? { camera } : {}),
    ...(lightNode !== undefined ? { lightNode } : {}),
    animations,
    ...chosen,
    warnings,
  };
}

/** Loads scene bytes (see the module header). */
export async function loadScene(bytes: Uint8Array, name: string, resolveUri?: ResolveUri, opts: LoadOptions & { decodeImage?: ImageDecoder } = {}): Promise<LoadedScene> {
  const { doc, json, failed } = await readGltf(bytes, name, resolveUri, opts.decoders);
  return extractScene(doc, name, json, { animation: opts.animation, failed, ...(opts.decodeImage ? { decodeImage: opts.decodeImage } : {}) });
}

function sampleTrack(tr: AnimationTrack, t: number): number[] {
  const { times, values, interpolation } = tr;
  const c = tr.path === 'rotation' ? 4 : 3;
  const cubic = interpolation === 'CUBICSPLINE';
  const key = (i: number): number[] => Array.from(values.subarray((cubic ? i * 3 + 1 : i) * c, (cubic ? i * 3 + 1 : i) * c + c));
  const last = times.length - 1;
  if (t <= times[0]!) return key(0);
  if (t >= times[last]!) return key(last);
  let i = 0;
  while (i < last - 1 && times[i + 1]! <= t) i++;
  const t0 = times[i]!;
  const dt = times[i + 1]! - t0;
  const u = dt > 0 ? (t - t0) / dt : 0;
  let out: number[];
  if (interpolation === 'STEP') out = key(i);
  else if (interpolation === 'LINEAR') {
    const a = key(i);
    const b = key(i + 1);
    out = c === 4 ? slerp(a as Quat, b as Quat, u) : a.map((v, k) => v + (b[k]! - v) * u);
  } else {
    // glTF Appendix C: Hermite spline over (value, out-tangent) → (in-tangent, value), tangents × dt.
    const p0 = key(i);
    const p1 = key(i + 1);
    const m0 = Array.from(values.subarray((i * 3 + 2) * c, (i * 3 + 2) * c + c));
    const m1 = Array.from(values.subarray((i + 1) * 3 * c, (i + 1) * 3 * c + c));
    const u2 = u * u;
    const u3 = u2 * u;
    out = p0.map((v, k) => (2 * u3 - 3 * u2 + 1) * v + (u3 - 2 * u2 + u) * dt * m0[k]! + (-2 * u3 + 3 * u2) * p1[k]! + (u3 - u2) * dt * m1[k]!);
  }
  if (c === 4) {
    const l = Math.hypot(...out) || 1;
    out = out.map((v) => v / l);
  }
  return out;
}

/** Animation time for a frame time: the chosen animations loop over the longest of them. */
export function animationTime(scene: LoadedScene, t: number): number {
  if (!(scene.duration > 0) || !Number.isFinite(t)) return 0;
  const r = t % scene.duration;
  return r < 0 ? r + scene.duration : r;
}

/** World matrices of every scene node at animation clock t (seconds, before looping). */
export function worldMatrices(scene: LoadedScene, t: number): Mat4[] {
  const at = animationTime(scene, t);
  const local = scene.nodes.map((n) => ({ t: [...n.translation], r: [...n.rotation], s: [...n.scale] }));
  for (const tr of scene.tracks) {
    const v = sampleTrack(tr, at);
    const l = local[tr.node]!;
    if (tr.path === 'translation') l.t = v;
    else if (tr.path === 'rotation') l.r = v;
    else l.s = v;
  }
  const world: Mat4[] = [];
  scene.nodes.forEach((n, k) => {
    const l = local[k]!;
    const m = fromTrs(l.t, l.r, l.s);
    world.push(n.parent >= 0 ? multiply(world[n.parent]!, m) : m);
  });
  return world;
}

/** A skin's joint matrices (world(joint) · inverse bind), as glTF skinning uses them. */
export function jointMatrices(skin: SceneSkin, world: Mat4[]): Mat4[] {
  return skin.joints.map((j, i) => multiply(world[j]!, skin.inverseBind[i]!));
}

/** At most this many vertices of a skinned primitive are skinned on the CPU for its bounds. */
const BOUNDS_SAMPLES = 4096;

/** World-space bounds of a skinned primitive at the given joint matrices (a vertex sample). */
export function skinnedBounds(prim: ScenePrimitive, joints: Mat4[]): { lo: Vec3; hi: Vec3 } {
  const n = prim.vertices.length / VERTEX_FLOATS;
  const step = Math.max(1, Math.ceil(n / BOUNDS_SAMPLES));
  const ju = new Uint32Array(prim.skin!);
  const wf = new Float32Array(prim.skin!);
  const lo: Vec3 = [Infinity, Infinity, Infinity];
  const hi: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < n; i += step) {
    const p = prim.vertices.subarray(i * VERTEX_FLOATS, i * VERTEX_FLOATS + 3);
    const acc: Vec3 = [0, 0, 0];
    for (let k = 0; k < 4; k++) {
      const w = wf[i * 8 + 4 + k]!;
      if (w === 0) continue;
      const q = transformPoint(joints[ju[i * 8 + k]!]!, p);
      for (let c = 0; c < 3; c++) acc[c] = acc[c]! + w * q[c]!;
    }
    for (let c = 0; c < 3; c++) {
      lo[c] = Math.min(lo[c]!, acc[c]!);
      hi[c] = Math.max(hi[c]!, acc[c]!);
    }
  }
  return { lo, hi };
}

/** Light travel direction (world) at frame time t. */
export function lightDirection(scene: LoadedScene, world: Mat4[]): Vec3 {
  if (scene.lightNode === undefined) return DEFAULT_LIGHT_DIRECTION;
  const d = normalize(transformDir(world[scene.lightNode] ?? identity(), [0, 0, -1]));
  return d[0] === 0 && d[1] === 0 && d[2] === 0 ? DEFAULT_LIGHT_DIRECTION : d;
}
