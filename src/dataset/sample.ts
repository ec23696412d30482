/**
 * Loading and validating one sample (SPEC §2) through a `SampleSource`, the platform seam:
 * Node reads a directory (`dirSource` in sample-node.ts), the browser reads picked files.
 */
import { fileError } from '../errors.js';
import { decodeImage } from '../image/decode.js';
import { extractChannel, to8, toRgba8, dropChannels, type Raster } from '../image/image.js';
import { resizeLanczos3 } from '../image/resize.js';
import type { FeatureInputs } from './features.js';
import { SAMPLE_FILES, STYLE_FILE, type SampleFileName } from './layout.js';

export interface SampleSource {
  /** Name of the sample in messages and listings (usually its directory). */
  name: string;
  /** How a file of the sample is named in messages (usually its path). */
  label(file: SampleFileName | typeof STYLE_FILE): string;
  /** The file's bytes, or undefined when it does not exist. */
  read(file: SampleFileName | typeof STYLE_FILE): Promise<Uint8Array | undefined>;
}

export type SampleKind = 'simple' | 'full';

/** A decoded sample: 8-bit planes at the albedo's size, interleaved per pixel (the feature inputs), and its target. */
export interface Sample extends FeatureInputs {
  name: string;
  /** RGBA, 4 bytes per pixel, resized to width × height. */
  target: Uint8Array;
  /** The target's size as stored, before resizing. */
  targetWidth: number;
  targetHeight: number;
  /** `simple` when the geometry is neutral (a photo), else `full` (a G-buffer render). */
  kind: SampleKind;
  /** Style coordinates (style_p0, style_p1) from style.json; absent: none recorded. */
  style?: [number, number];
}

/** style.json → its coordinates; anything else is refused, naming the file. */
export function parseStyleFile(bytes: Uint8Array, label: string): [number, number] {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw fileError(label, 'not JSON: expected {"style": [p0, p1]}');
  }
  const style = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)['style'] : undefined;
  if (!Array.isArray(style) || style.length !== 2 || !style.every((x) => typeof x === 'number' && x >= 0 && x <= 1)) {
    throw fileError(label, `expected {"style": [p0, p1]} with both in [0, 1], got ${JSON.stringify(v)?.slice(0, 80)}`);
  }
  return [style[0] as number, style[1] as number];
}

function describe(r: Raster): string {
  const kinds = { 1: 'gray', 2: 'gray+alpha', 3: 'RGB', 4: 'RGBA' } as const;
  return `${r.depth}-bit ${kinds[r.channels]}`;
}

/** Gray plane in 8 bits from a 1- or 2-channel raster of either depth. */
function gray8(r: Raster, label: string): Uint8Array {
  if (r.channels > 2) throw fileError(label, `expected a gray image, got ${describe(r)}`);
  const plane = extractChannel(r.data, r.channels, 0);
  if (r.depth === 8) return plane as Uint8Array;
  const out = new Uint8Array(plane.length);
  for (let i = 0; i < plane.length; i++) out[i] = to8(plane[i]!);
  return out;
}

export async function loadSample(source: SampleSource): Promise<Sample> {
  const rasters = {} as Record<SampleFileName, Raster>;
  for (const file of SAMPLE_FILES) {
    const bytes = await source.read(file);
    if (bytes === undefined) throw fileError(source.label(file), 'missing');
    rasters[file] = decodeImage(bytes, source.label(file));
  }
  const albedoR = rasters['albedo.png'];
  const { width, height } = albedoR;
  for (const file of SAMPLE_FILES) {
    if (file === 'target.png') continue;
    const r = rasters[file];
    if (r.width !== width || r.height !== height) {
      throw fileError(source.label(file), `size ${r.width}×${r.height} does not match albedo.png (${width}×${height})`);
    }
  }
  const normalR = rasters['normal.png'];
  if (normalR.channels < 3) throw fileError(source.label('normal.png'), `expected RGB, got ${describe(normalR)}`);
  const depthR = rasters['depth.png'];
  if (depthR.channels > 2 || depthR.depth !== 16) {
    throw fileError(source.label('depth.png'), `expected 16-bit gray, got ${describe(depthR)}`);
  }
  const targetR = rasters['target.png'];
  const targetRgba = toRgba8(targetR);

  const albedo = dropChannels(toRgba8(albedoR), 4, 3);
  const normal = dropChannels(toRgba8(normalR), 4, 2);
  const depth = extractChannel(depthR.data as Uint16Array, depthR.channels, 0);
  const matid = gray8(rasters['matid.png'], source.label('matid.png'));
  const sample: Sample = {
    name: source.name,
    width,
    height,
    albedo,
    normal,
    depth,
    matid,
    shadow: gray8(rasters['shadow.png'], source.label('shadow.png')),
    transp: gray8(rasters['transp.png'], source.label('transp.png')),
    target: resizeLanczos3(targetRgba, targetR.width, targetR.height, 4, width, height),
    targetWidth: targetR.width,
    targetHeight: targetR.height,
    kind: 'simple',
  };
  sample.kind = isNeutralGeometry(sample) ? 'simple' : 'full';
  const styleBytes = await source.read(STYLE_FILE);
  if (styleBytes !== undefined) sample.style = parseStyleFile(styleBytes, source.label(STYLE_FILE));
  return sample;
}

function isNeutralGeometry(s: Sample): boolean {
  const n = s.width * s.height;
  for (let p = 0; p < n; p++) {
    if (s.normal[p * 2] !== 128 || s.normal[p * 2 + 1] !== 128 || s.depth[p] !== 0 || s.matid[p] !== 0) return false;
  }
  return true;
}
