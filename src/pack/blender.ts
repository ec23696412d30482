/**
 * Blender multilayer EXR → sample (playbook §1b step 2, SPEC §2). Browser-safe.
 *
 * | pass (channels)             | file        | transform |
 * |-----------------------------|-------------|-----------|
 * | Combined.R/G/B/A            | target.png  | RGB ÷ A (EXR is premultiplied, PNG straight), linear → sRGB; A · 255, RGBA8 |
 * | DiffCol.R/G/B               | albedo.png  | ÷ A like the target, linear → sRGB, RGB8; absent → zeros and a warning |
 * | Normal.X/Y/Z (world space)  | normal.png  | normalised, octahedral (SPEC §2) → RG, B = 0; no normal → (128, 128, 0) |
 * | Depth.Z                     | depth.png   | round(65535 / (z + 1)), z ≥ 1e9 or non-finite → 0, clamped to [0, 65535], gray16 |
 * | IndexOB.X                   | matid.png   | round, clamped to [0, 255], gray8 |
 * | Shadow.X or Shadow.R/G/B    | shadow.png  | 255 = lit; the largest of R, G, B, ÷ A; no surface or no pass → 255 |
 * | Combined.A                  | transp.png  | 255 − round(255 · A), i.e. 255·(1 − A) rounded; 0 = opaque |
 * | Vector.X/Y/Z/W (optional)   | motion.bin  | prev = (X, −Y), next = (−Z, W): pixels, x right, y down; absent → no file |
 *
 * Vector: Cycles writes, in pixels and with y up, X/Y = (position in the previous frame) − (position
 * now) and Z/W = (position now) − (position in the next frame); measured on a camera pan, see
 * docs/formats.md. The file turns both into displacements from this frame in image axes (y down).
 * A pixel without geometry (world, or outside a border render's data window) has (0, 0, 0, 0).
 *
 * Colour: both target and albedo use the exact sRGB transfer function (IEC 61966-2-1:
 * 12.92·v below 0.0031308, else 1.055·v^(1/2.4) − 0.055), not the playbook's γ = 2.2 power
 * law; the two differ by at most 3 levels in 255, mostly in the darks. Blender's view
 * transform (Filmic, AgX) and look are not applied: the EXR holds scene-linear values and the
 * target is their plain sRGB encoding, as Blender's "Standard" view shows them.
 *
 * Shadow rule: Cycles' Shadow pass is a ratio per colour channel, light that arrived over light
 * that would arrive without occluders, and it is 0 in a channel the surface does not reflect
 * (nothing arrives there either way). A fully lit pure red wall is (1, 0, 0), a lit blue one
 * (0, 0, 1), the same walls in shadow (0, 0, 0). Averaging the channels would pack the lit red
 * wall as 85, reading R alone the lit blue wall as 0. The channels a surface does reflect all
 * carry the same ratio under white light, so the largest one is the surface's shadow value:
 * lit surfaces of any hue pack as 255, shadowed ones as dark, without needing any other pass
 * (weighting by DiffCol would fail where DiffCol is absent or 0, e.g. glossy or emissive
 * surfaces). Under coloured light through a coloured occluder it takes the least shadowed
 * channel. A pixel that straddles surfaces of disjoint hues (a red/blue seam) holds each
 * channel's share of its coverage, e.g. (7/8, 0, 1/8) when fully lit, and packs at the larger
 * share: no rule over these three numbers alone can tell that from a partly shadowed pixel.
 * Shadow.X (one channel) is read as is.
 *
 * Alpha: Blender writes premultiplied (associated) colour, and passes accumulate over all
 * samples of a pixel, so at a silhouette against a transparent film they are scaled by the
 * coverage A. Colour, albedo and shadow are divided by A where 0 < A < 1, so they hold the
 * surface's own values (straight alpha, as a PNG photo does) and coverage lives only in
 * target alpha and transp.png. With an opaque film A = 1 and nothing changes.
 *
 * Layers: channels are named `<view layer>.<pass>.<channel>`, e.g. `ViewLayer.Combined.R`.
 * The layer is the one named by `viewLayer`, else the only one with a Combined pass (a
 * compositor's `Composite.` layer is passed over when a view layer is there too); files
 * without a layer prefix (`Combined.R`) work as well. In a multi-part file every part is
 * searched: a channel counts under its own name and under its part's name joined to it by a
 * dot (part `ViewLayer.Combined` holding `R`, or part `ViewLayer` holding `Combined.R`). The
 * parts must share one display window; each keeps its own data window.
 */
import { fileError } from '../errors.js';
import { channelInDisplayWindow, type ExrImage } from '../exr/exr.js';
import { encodePng } from '../image/png.js';
import { MOTION_FILE, type SampleFiles } from '../dataset/layout.js';
import { encodeMotion } from '../dataset/motion.js';

export interface PackBlenderOptions {
  /** The view layer to read (`--view-layer`); default: found from the Combined pass. */
  viewLayer?: string;
  /** The EXR's name in messages (its path). */
  name: string;
}

export interface PackBlenderResult {
  files: SampleFiles;
  /** One line each, naming the file: passes that were missing and what was written instead. */
  warnings: string[];
  /** The layer prefix used (`ViewLayer.`, or '' for a file without layers). */
  prefix: string;
  width: number;
  height: number;
}

/** Camera distances at or beyond this mean "nothing hit" (Blender writes 1e10 there). */
export const DEPTH_FAR = 1e9;

/** The exact sRGB encoding of a linear value, clamped to [0, 1]; NaN → 0. */
export function srgbEncode(v: number): number {
  if (!(v > 0)) return 0;
  if (v >= 1) return 1;
  return v <= 0.0031308 ? 12.92 * v : 1.055 * Math.pow(v, 1 / 2.4) - 0.055;
}

/** Linear → 8-bit sRGB. */
export function linearToSrgb8(v: number): number {
  return Math.round(srgbEncode(v) * 255);
}

/** SPEC §2 depth: round(65535 / (z + 1)); z ≥ 1e9 or non-finite → 0; clamped to [0, 65535]. */
export function depthToU16(z: number): number {
  if (!Number.isFinite(z) || z >= DEPTH_FAR) return 0;
  const v = Math.round(65535 / (z + 1));
  // z in (−1, 0) would exceed 65535, z < −1 is negative, z = −1 is infinite.
  if (!Number.isFinite(v) || v > 65535) return z > -1 ? 65535 : 0;
  return v < 0 ? 0 : v;
}

const signNonNeg = (v: number): number => (v >= 0 ? 1 : -1);

/**
 * SPEC §2 octahedral encoding of a normal (normalised here) to two bytes:
 * p = n.xy / (|x|+|y|+|z|); for z < 0, p = (1 − |p.yx|) · sign(p) with sign(0) = +1;
 * stored as round((p · 0.5 + 0.5) · 255). A zero or non-finite normal (no surface) gives
 * the neutral (128, 128).
 */
export function octEncode(x: number, y: number, z: number): [number, number] {
  const len = Math.hypot(x, y, z);
  if (!Number.isFinite(len) || len < 1e-12) return [128, 128];
  const nx = x / len;
  const ny = y / len;
  const nz = z / len;
  const l1 = Math.abs(nx) + Math.abs(ny) + Math.abs(nz);
  let px = nx / l1;
  let py = ny / l1;
  if (nz < 0) {
    const qx = (1 - Math.abs(py)) * signNonNeg(px);
    const qy = (1 - Math.abs(px)) * signNonNeg(py);
    px = qx;
    py = qy;
  }
  const byte = (p: number): number => Math.round((Math.min(1, Math.max(-1, p)) * 0.5 + 0.5) * 255);
  return [byte(px), byte(py)];
}

/** Decodes SPEC §2 octahedral bytes back to a unit vector (the inverse, for checks). */
export function octDecode(r: number, g: number): [number, number, number] {
  const px = (r / 255) * 2 - 1;
  const py = (g / 255) * 2 - 1;
  let x = px;
  let y = py;
  const z = 1 - Math.abs(px) - Math.abs(py);
  if (z < 0) {
    x = (1 - Math.abs(py)) * signNonNeg(px);
    y = (1 - Math.abs(px)) * signNonNeg(py);
  }
  const len = Math.hypot(x, y, z);
  return [x / len, y / len, z / len];
}

/**
 * Cycles' Vector planes (X, Y, Z, W) → motion.bin's (prev dx, prev dy, next dx, next dy) in image
 * axes: prev = (X, −Y), next = (−Z, W). Non-finite → 0 (no motion known).
 */
export function motionFromVector(vector: readonly Float32Array[], n: number): Float32Array {
  const [x, y, z, w] = vector as [Float32Array, Float32Array, Float32Array, Float32Array];
  const out = new Float32Array(n * 4);
  const fin = (v: number) => (Number.isFinite(v) ? v : 0);
  for (let p = 0; p < n; p++) {
    // + 0 turns the −0 of a negated zero into 0, so a still pixel is stored as plain zeros.
    out[p * 4] = fin(x[p]!);
    out[p * 4 + 1] = -fin(y[p]!) + 0;
    out[p * 4 + 2] = -fin(z[p]!) + 0;
    out[p * 4 + 3] = fin(w[p]!);
  }
  return out;
}

/** Layer prefixes (`ViewLayer.` or '') of every channel named `…Combined.R`. */
export function combinedLayers(channelNames: Iterable<string>): string[] {
  const out: string[] = [];
  for (const name of channelNames) {
    if (!name.endsWith('Combined.R')) continue;
    const prefix = name.slice(0, name.length - 'Combined.R'.length);
    if (prefix === '' || prefix.endsWith('.')) out.push(prefix);
  }
  return out;
}

const layerName = (prefix: string): string => (prefix === '' ? '(no layer prefix)' : prefix.slice(0, -1));

function listChannels(names: string[]): string {
  const shown = names.slice(0, 24).join(', ');
  return names.length > 24 ? `${shown}, … (${names.length} in all)` : shown || '(none)';
}

/** Picks the layer prefix; a second return value is a warning when the choice was not unique. */
export function chooseLayer(channelNames: string[], name: string, viewLayer?: string): { prefix: string; warning?: string } {
  const layers = combinedLayers(channelNames);
  if (viewLayer !== undefined) {
    const prefix = viewLayer === '' ? '' : `${viewLayer}.`;
    if (layers.includes(prefix)) return { prefix };
    const have = layers.length > 0 ? `layers with a Combined pass: ${layers.map(layerName).join(', ')}` : `channels: ${listChannels(channelNames)}`;
    throw fileError(name, `no view layer ${JSON.stringify(viewLayer)} with a Combined pass (${prefix}Combined.R) in this EXR; ${have}`);
  }
  if (layers.length === 0) {
    throw fileError(name, `no Combined pass (…Combined.R) in this EXR; channels: ${listChannels(channelNames)}`);
  }
  if (layers.length === 1) return { prefix: layers[0]! };
  const viewLayers = layers.filter((p) => p !== 'Composite.');
  const pick = viewLayers[0] ?? layers[0]!;
  if (viewLayers.length <= 1) return { prefix: pick };
  return {
    prefix: pick,
    warning: `${name}: ${viewLayers.length} view layers (${viewLayers.map(layerName).join(', ')}); packing ${layerName(pick)} (choose one with --view-layer)`,
  };
}

/**
 * The display window's size and which of its pixels the data window covers. Outside the data
 * window (a border render) the reader gives zeros; those pixels are "no surface" here.
 */
function displayCoverage(img: ExrImage): { width: number; height: number; inData: Uint8Array } {
  const d = img.displayWindow;
  const w = img.dataWindow;
  const width = d.xMax - d.xMin + 1;
  const height = d.yMax - d.yMin + 1;
  const inData = new Uint8Array(width * height);
  for (let y = Math.max(d.yMin, w.yMin); y <= Math.min(d.yMax, w.yMax); y++) {
    const row = (y - d.yMin) * width - d.xMin;
    for (let x = Math.max(d.xMin, w.xMin); x <= Math.min(d.xMax, w.xMax); x++) inData[row + x] = 1;
  }
  return { width, height, inData };
}

/** Where a full channel name (`ViewLayer.Combined.R`) is found: which part, under which name. */
interface ChannelSource {
  img: ExrImage;
  channel: string;
}

/**
 * The channels of every part under their full names: first each channel's own name, then, in a
 * named part, the part's name, a dot and the channel's name (part `ViewLayer.Combined`, channel
 * `R` → `ViewLayer.Combined.R`; part `ViewLayer`, channel `Combined.R` likewise) where no part
 * has a channel of that name. The first part that gives a name keeps it; another part giving
 * the same name is warned about. `own` lists the channels' own names.
 */
function channelSources(
  parts: readonly ExrImage[],
  name: string,
  warnings: string[],
): { sources: Map<string, ChannelSource>; own: string[] } {
  const sources = new Map<string, ChannelSource>();
  const partLabel = (img: ExrImage) => (img.partName !== undefined ? `part ${JSON.stringify(img.partName)}` : `part ${parts.indexOf(img)}`);
  const first = parts[0]!;
  for (const img of parts) {
    const d = img.displayWindow;
    const f = first.displayWindow;
    if (d.xMin !== f.xMin || d.yMin !== f.yMin || d.xMax !== f.xMax || d.yMax !== f.yMax) {
      throw fileError(
        name,
        `${partLabel(img)} has display window (${d.xMin},${d.yMin})-(${d.xMax},${d.yMax}), ${partLabel(first)} (${f.xMin},${f.yMin})-(${f.xMax},${f.yMax}); the parts of one render share one`,
      );
    }
  }
  const add = (key: string, img: ExrImage, channel: string) => {
    const had = sources.get(key);
    if (!had) sources.set(key, { img, channel });
    else if (had.img !== img) warnings.push(`${name}: ${key} is in ${partLabel(had.img)} and ${partLabel(img)}; using ${partLabel(had.img)}`);
  };
  for (const img of parts) for (const channel of img.channels.keys()) add(channel, img, channel);
  const own = [...sources.keys()];
  for (const img of parts) {
    const part = img.partName;
    if (part === undefined || part === '') continue;
    for (const channel of img.channels.keys()) {
      if (!channel.startsWith(`${part}.`)) add(`${part}.${channel}`, img, channel);
    }
  }
  return { sources, own };
}

/**
 * Packs one render: an image, or every part of a multi-part file (`readExrParts`), whose passes
 * may sit in any part.
 */
export function packBlenderSample(input: ExrImage | readonly ExrImage[], opts: PackBlenderOptions): PackBlenderResult {
  const { name } = opts;
  const parts: readonly ExrImage[] = Array.isArray(input) ? input : [input as ExrImage];
  if (parts.length === 0) throw fileError(name, 'no image parts in this EXR');
  const sourceWarnings: string[] = [];
  const { sources, own } = channelSources(parts, name, sourceWarnings);
  // A layer is looked for among the channels' own names first; part names count where those
  // name none (or a layer is asked for).
  const names = opts.viewLayer === undefined && combinedLayers(own).length > 0 ? own : [...sources.keys()];
  const { prefix, warning } = chooseLayer(names, name, opts.viewLayer);
  const warnings: string[] = warning ? [warning, ...sourceWarnings] : sourceWarnings;
  const has = (ch: string): boolean => sources.has(prefix + ch);
  const source = (ch: string): ExrImage => sources.get(prefix + ch)!.img;
  const get = (ch: string): Float32Array | undefined => {
    const src = sources.get(prefix + ch);
    return src ? channelInDisplayWindow(src.img, src.channel) : undefined;
  };
  const pass = (label: string, chs: string[]): Float32Array[] | undefined => {
    const present = chs.filter(has);
    if (present.length === chs.length) return chs.map((c) => get(c)!);
    if (present.length > 0) {
      const missing = chs.filter((c) => !has(c)).map((c) => prefix + c);
      throw fileError(name, `the ${label} pass is incomplete: no ${missing.join(', ')}`);
    }
    return undefined;
  };

  // The reader checks the display window against its limits here, before anything its size.
  const combined = pass('Combined', ['Combined.R', 'Combined.G', 'Combined.B']);
  if (!combined) throw fileError(name, `no Combined pass (${prefix}Combined.R/G/B) in this EXR`);
  const { width, height } = displayCoverage(parts[0]!);
  const n = width * height;
  const alphaPlane = get('Combined.A');
  const diffCol = pass('DiffCol', ['DiffCol.R', 'DiffCol.G', 'DiffCol.B']);
  const normalPass = pass('Normal', ['Normal.X', 'Normal.Y', 'Normal.Z']);
  const depthPlane = get('Depth.Z');
  const indexPlane = get('IndexOB.X');
  const vector = pass('Vector', ['Vector.X', 'Vector.Y', 'Vector.Z', 'Vector.W']);
  const shadowNames = has('Shadow.X') ? ['Shadow.X'] : ['Shadow.R', 'Shadow.G', 'Shadow.B'].filter(has);
  const shadowPlanes = shadowNames.length > 0 ? shadowNames.map((c) => get(c)!) : undefined;
  // Which pixels each plane's part covers (outside its data window the reader gives zeros).
  const depthCovered = depthPlane ? displayCoverage(source('Depth.Z')).inData : undefined;
  const shadowCovered = shadowNames.length > 0 ? displayCoverage(source(shadowNames[0]!)).inData : undefined;

  const layer = layerName(prefix);
  if (!alphaPlane) warnings.push(`${name}: no ${prefix}Combined.A; treating layer ${layer} as opaque`);
  if (!diffCol) warnings.push(`${name}: no DiffCol pass (${prefix}DiffCol.R/G/B); albedo.png is zero (enable Diffuse Color in the view layer's passes)`);
  if (!normalPass) warnings.push(`${name}: no Normal pass (${prefix}Normal.X/Y/Z); normal.png is neutral (128, 128, 0)`);
  if (!depthPlane) warnings.push(`${name}: no Depth pass (${prefix}Depth.Z); depth.png is zero`);
  if (!indexPlane) warnings.push(`${name}: no IndexOB pass (${prefix}IndexOB.X); matid.png is zero`);

  const target = new Uint8Array(n * 4);
  const transp = new Uint8Array(n);
  const albedo = new Uint8Array(n * 3);
  const normal = new Uint8Array(n * 3);
  const depth = new Uint16Array(n);
  const matid = new Uint8Array(n);
  const shadow = new Uint8Array(n).fill(255);
  const [cr, cg, cb] = combined as [Float32Array, Float32Array, Float32Array];

  for (let p = 0; p < n; p++) {
    const rawA = alphaPlane ? alphaPlane[p]! : 1;
    const a = rawA > 0 ? Math.min(1, rawA) : 0; // NaN → 0
    // Straight colour from premultiplied: only where coverage is partial.
    const unpremul = a > 0 && a < 1 ? 1 / a : 1;
    target[p * 4] = linearToSrgb8(cr[p]! * unpremul);
    target[p * 4 + 1] = linearToSrgb8(cg[p]! * unpremul);
    target[p * 4 + 2] = linearToSrgb8(cb[p]! * unpremul);
    const alpha8 = Math.round(a * 255);
    target[p * 4 + 3] = alpha8;
    // 255·(1 − A) rounded, with exact .5 ties going the way target alpha's do, so that
    // transp + alpha = 255 always (as pack-photo writes it).
    transp[p] = 255 - alpha8;

    if (diffCol) {
      albedo[p * 3] = linearToSrgb8(diffCol[0]![p]! * unpremul);
      albedo[p * 3 + 1] = linearToSrgb8(diffCol[1]![p]! * unpremul);
      albedo[p * 3 + 2] = linearToSrgb8(diffCol[2]![p]! * unpremul);
    }

    const [ox, oy] = normalPass ? octEncode(normalPass[0]![p]!, normalPass[1]![p]!, normalPass[2]![p]!) : [128, 128];
    normal[p * 3] = ox;
    normal[p * 3 + 1] = oy;

    const z = depthPlane && depthCovered![p] === 1 ? depthPlane[p]! : NaN;
    if (depthPlane) depth[p] = depthToU16(z);

    if (indexPlane) {
      const id = Math.round(indexPlane[p]!);
      matid[p] = id > 255 ? 255 : id > 0 ? id : 0;
    }

    if (shadowPlanes) {
      // No surface under the pixel (sky or transparent film): nothing is shadowed there.
      const surface = shadowCovered![p] === 1 && (depthPlane ? Number.isFinite(z) && z < DEPTH_FAR : a > 0);
      if (surface) {
        // The channel that carries the most light (the shadow rule at the top of the file).
        let s = 0;
        for (const plane of shadowPlanes) s = Math.max(s, plane[p]!);
        s *= unpremul;
        shadow[p] = Math.round((s > 0 ? Math.min(1, s) : 0) * 255);
      }
    }
  }

  const files: SampleFiles = {
    'albedo.png': encodePng({ width, height, channels: 3, depth: 8, data: albedo }),
    'normal.png': encodePng({ width, height, channels: 3, depth: 8, data: normal }),
    'depth.png': encodePng({ width, height, channels: 1, depth: 16, data: depth }),
    'matid.png': encodePng({ width, height, channels: 1, depth: 8, data: matid }),
    'shadow.png': encodePng({ width, height, channels: 1, depth: 8, data: shadow }),
    'transp.png': encodePng({ width, height, channels: 1, depth: 8, data: transp }),
    'target.png': encodePng({ width, height, channels: 4, depth: 8, data: target }),
  };
  if (vector) files[MOTION_FILE] = encodeMotion({ width, height, data: motionFromVector(vector, n) });
  return { files, warnings, prefix, width, height };
}
