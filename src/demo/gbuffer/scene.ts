/**
 * glTF 2.0 scenes for GBufferEffect: loading through @gltf-transform/core with no file system
 * (browser-safe), checking, and flattening into plain arrays the renderer draws from, plus
 * evaluation of node animations at a time t.
 *
 * I/O seam: the scene's own bytes (.glb, or .gltf JSON) come in memory; anything it references
 * by a relative URI (external buffers, images) is asked of `resolveUri(uri)`, with the URI as
 * written in the file, percent-decoded; the caller resolves it against the scene's location
 * (a directory in Node, a URL in the browser). Data URIs and GLB chunks need no resolver.
 *
 * What is read: the default scene (else the first); meshes with TRIANGLES, TRIANGLE_STRIP or
 * TRIANGLE_FAN primitives (POINTS and LINES* are refused); POSITION, NORMAL (flat normals
 * where absent), the base colour texture's TEXCOORD_n; the metallic-roughness material's base
 * colour factor and texture, alpha mode, cutoff and double-sidedness; node TRS animations
 * (STEP, LINEAR, CUBICSPLINE), looped over the longest animation; the first camera node in the
 * file's node order; the first directional light of KHR_lights_punctual (read from the JSON).
 * Skins, morph targets and texture transforms are not applied.
 *
 * Mat id (matid.png, Blender's IndexOB): a mesh node's `extras.matid` (an integer 0–255) when
 * present, else the node's position among the file's mesh nodes in glTF node order, from 0,
 * clamped to 255.
 */
import { Document, Logger, PlatformIO, type JSONDocument, type Material, type Node, type Primitive } from '@gltf-transform/core';
import { fileError, isCnnV3Error } from '../../errors.js';
import { decodeImage } from '../../image/decode.js';
import { toRgba8 } from '../../image/image.js';
import { fromTrs, identity, multiply, normalize, slerp, transformDir, type Mat4, type Quat, type Vec3 } from './math.js';

export type ResolveUri = (uri: string) => Promise<Uint8Array>;

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
  alphaMode: AlphaMode;
  alphaCutoff: number;
  doubleSided: boolean;
}

export interface ScenePrimitive {
  /** Interleaved position (3), normal (3), uv (2) per vertex. */
  vertices: Float32Array<ArrayBuffer>;
  indices: Uint32Array<ArrayBuffer>;
  hasNormals: boolean;
  material: number;
  /** Local-space bounding box. */
  min: Vec3;
  max: Vec3;
}

export interface SceneObject {
  /** Index into LoadedScene.nodes. */
  node: number;
  name: string;
  matid: number;
  primitives: ScenePrimitive[];
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

export interface LoadedScene {
  name: string;
  /** Scene nodes, every parent before its children. */
  nodes: SceneNode[];
  objects: SceneObject[];
  materials: SceneMaterial[];
  camera?: SceneCamera;
  /** Node whose −Z is the light direction; undefined = DEFAULT_LIGHT_DIRECTION. */
  lightNode?: number;
  tracks: AnimationTrack[];
  /** Animation loop length in seconds (0 = static). */
  duration: number;
}

export const VERTEX_FLOATS = 8;

/** The URI under which the scene's own bytes are handed to gltf-transform. */
const ROOT_URI = '\u0000scene';

/** gltf-transform's I/O with every read going through memory or the caller's resolver. */
class SeamIO extends PlatformIO {
  constructor(
    private readonly root: Uint8Array,
    private readonly name: string,
    private readonly resolveUri?: ResolveUri,
  ) {
    super();
    this.setLogger(new Logger(Logger.Verbosity.ERROR));
  }

  protected async readURI(uri: string, type: 'view'): Promise<Uint8Array<ArrayBuffer>>;
  protected async readURI(uri: string, type: 'text'): Promise<string>;
  protected async readURI(uri: string, type: 'view' | 'text'): Promise<Uint8Array<ArrayBuffer> | string> {
    let bytes: Uint8Array;
    if (uri === ROOT_URI) bytes = this.root;
    else {
      if (!this.resolveUri) throw fileError(this.name, `references the external file "${uri}", and no resolver was given for it`);
      try {
        bytes = await this.resolveUri(uri);
      } catch (e) {
        const why = isCnnV3Error(e) ? e.message : (e as Error).message;
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

/** Reads .glb or .gltf bytes into a Document; every problem is a fileError naming `name`. */
export async function readGltf(bytes: Uint8Array, name: string, resolveUri?: ResolveUri): Promise<{ doc: Document; json: JSONDocument['json'] }> {
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
  // Extensions this module reads from the raw JSON itself may be marked required (Blender's
  // exporter marks KHR_lights_punctual so); gltf-transform would refuse them as unregistered.
  const required = jsonDoc.json.extensionsRequired;
  if (required) jsonDoc.json.extensionsRequired = required.filter((x) => !EXTENSIONS_READ_FROM_JSON.includes(x));
  try {
    return { doc: await io.readJSON(jsonDoc), json: jsonDoc.json };
  } catch (e) {
    if (isCnnV3Error(e)) throw e;
    throw fileError(name, `not a valid glTF file: ${(e as Error).message}`);
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

function readTexture(mat: Material, name: string, imageIndex: Map<object, number>): SceneTexture | undefined {
  const tex = mat.getBaseColorTexture();
  const info = mat.getBaseColorTextureInfo();
  if (!tex || !info) return undefined;
  const label = tex.getURI() || tex.getName() || `#${imageIndex.get(tex) ?? '?'}`;
  const image = tex.getImage();
  if (!image) throw fileError(name, `material "${mat.getName()}": base colour texture ${label} has no image data`);
  const raster = decodeImage(image, `${name}: image ${label}`);
  const nearest = (f: number | null) => (f === 9728 || f === 9984 || f === 9986 ? 'nearest' : 'linear');
  return {
    width: raster.width,
    height: raster.height,
    rgba: toRgba8(raster),
    addressModeU: WRAP[info.getWrapS()] ?? 'repeat',
    addressModeV: WRAP[info.getWrapT()] ?? 'repeat',
    magFilter: nearest(info.getMagFilter()),
    minFilter: nearest(info.getMinFilter()),
  };
}

function readPrimitive(prim: Primitive, where: () => string, name: string, material: number, texCoord: number): ScenePrimitive {
  const pos = prim.getAttribute('POSITION');
  if (!pos) throw fileError(name, `${where()}: no POSITION attribute`);
  if (pos.getType() !== 'VEC3') throw fileError(name, `${where()}: POSITION is ${pos.getType()}, not VEC3`);
  const n = pos.getCount();
  const nrm = prim.getAttribute('NORMAL');
  const uv = prim.getAttribute(`TEXCOORD_${texCoord}`);
  const vertices = new Float32Array(n * VERTEX_FLOATS);
  const min: Vec3 = [Infinity, Infinity, Infinity];
  const max: Vec3 = [-Infinity, -Infinity, -Infinity];
  const e: number[] = [];
  for (let i = 0; i < n; i++) {
    pos.getElement(i, e);
    for (let k = 0; k < 3; k++) {
      const v = e[k]!;
      if (!Number.isFinite(v)) throw fileError(name, `${where()}: vertex ${i} has a non-finite position`);
      vertices[i * VERTEX_FLOATS + k] = v;
      min[k] = Math.min(min[k]!, v);
      max[k] = Math.max(max[k]!, v);
    }
    if (nrm) {
      nrm.getElement(i, e);
      vertices.set([e[0]!, e[1]!, e[2]!], i * VERTEX_FLOATS + 3);
    }
    if (uv) {
      uv.getElement(i, e);
      vertices.set([e[0]!, e[1]!], i * VERTEX_FLOATS + 6);
    }
  }
  const idxAcc = prim.getIndices();
  const raw = idxAcc ? Array.from({ length: idxAcc.getCount() }, (_, i) => idxAcc.getScalar(i)) : Array.from({ length: n }, (_, i) => i);
  for (const i of raw) {
    if (!(i >= 0 && i < n)) throw fileError(name, `${where()}: index ${i} is outside its ${n} vertices`);
  }
  const indices = triangleList(prim.getMode(), raw, where, name);
  return { vertices, indices, hasNormals: nrm !== null, material, min, max };
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

/** Flattens a Document into what the renderer draws. */
export function extractScene(doc: Document, name: string, json?: JSONDocument['json']): LoadedScene {
  const root = doc.getRoot();
  const scene = root.getDefaultScene() ?? root.listScenes()[0];
  if (!scene) throw fileError(name, 'no scene in this glTF file');
  const docNodes = root.listNodes();
  const meshOrder = new Map<Node, number>(docNodes.filter((node) => node.getMesh()).map((node, k) => [node, k]));
  const imageIndex = new Map<object, number>(root.listTextures().map((t, k) => [t, k]));

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

  const materials: SceneMaterial[] = [];
  const materialIndex = new Map<Material | null, number>();
  const materialFor = (m: Material | null): number => {
    const have = materialIndex.get(m);
    if (have !== undefined) return have;
    const k = materials.length;
    materials.push(
      m
        ? {
            baseColorFactor: [...m.getBaseColorFactor()] as [number, number, number, number],
            texture: readTexture(m, name, imageIndex),
            alphaMode: m.getAlphaMode(),
            alphaCutoff: m.getAlphaCutoff(),
            doubleSided: m.getDoubleSided(),
          }
        : // glTF's default material: white, opaque, single-sided.
          { baseColorFactor: [1, 1, 1, 1], alphaMode: 'OPAQUE', alphaCutoff: 0.5, doubleSided: false },
    );
    materialIndex.set(m, k);
    return k;
  };

  const objects: SceneObject[] = [];
  for (const [node, k] of sceneIndex) {
    const mesh = node.getMesh();
    if (!mesh) continue;
    const prims = mesh.listPrimitives().map((prim, p) => {
      const where = () => `mesh "${mesh.getName()}" primitive ${p}`;
      const mat = prim.getMaterial();
      const texCoord = mat?.getBaseColorTextureInfo()?.getTexCoord() ?? 0;
      return readPrimitive(prim, where, name, materialFor(mat), mat?.getBaseColorTexture() ? texCoord : -1);
    });
    objects.push({ node: k, name: node.getName(), matid: readMatid(node, meshOrder.get(node)!, name), primitives: prims.filter((p) => p.indices.length > 0) });
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

  const tracks: AnimationTrack[] = [];
  let duration = 0;
  for (const anim of root.listAnimations()) {
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
  }
  return { name, nodes, objects, materials, ...(camera ? { camera } : {}), ...(lightNode !== undefined ? { lightNode } : {}), tracks, duration };
}

/** Loads scene bytes (see the module header). */
export async function loadScene(bytes: Uint8Array, name: string, resolveUri?: ResolveUri): Promise<LoadedScene> {
  const { doc, json } = await readGltf(bytes, name, resolveUri);
  return extractScene(doc, name, json);
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

/** Animation time for a frame time: animations loop over the scene's longest one. */
export function animationTime(scene: LoadedScene, t: number): number {
  if (!(scene.duration > 0) || !Number.isFinite(t)) return 0;
  const r = t % scene.duration;
  return r < 0 ? r + scene.duration : r;
}

/** World matrices of every scene node at frame time t. */
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

/** Light travel direction (world) at frame time t. */
export function lightDirection(scene: LoadedScene, world: Mat4[]): Vec3 {
  if (scene.lightNode === undefined) return DEFAULT_LIGHT_DIRECTION;
  const d = normalize(transformDir(world[scene.lightNode] ?? identity(), [0, 0, -1]));
  return d[0] === 0 && d[1] === 0 && d[2] === 0 ? DEFAULT_LIGHT_DIRECTION : d;
}
