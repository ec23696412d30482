/**
 * OpenEXR headers: the magic number, the version field and the attribute lists of every part,
 * with each standard attribute type decoded (OpenEXR file layout, "Header" and "Attributes").
 * Browser-safe: no Node imports.
 */
import { problem, truncated } from './problem.js';

export const EXR_MAGIC = 20000630; // 0x762f3101, stored little-endian: 76 2f 31 01

export type ExrPixelType = 'UINT' | 'HALF' | 'FLOAT';

export interface ExrChannelInfo {
  name: string;
  pixelType: ExrPixelType;
  xSampling: number;
  ySampling: number;
  pLinear: boolean;
}

export interface ExrBox {
  xMin: number;
  yMin: number;
  xMax: number;
  yMax: number;
}

export interface ExrV2 {
  x: number;
  y: number;
}
export interface ExrV3 {
  x: number;
  y: number;
  z: number;
}
export interface ExrTileDescription {
  xSize: number;
  ySize: number;
  levelMode: 'ONE_LEVEL' | 'MIPMAP_LEVELS' | 'RIPMAP_LEVELS';
  roundingMode: 'ROUND_DOWN' | 'ROUND_UP';
}
export interface ExrPreview {
  width: number;
  height: number;
  /** RGBA, 8 bits a sample, row-major, top row first. */
  pixels: Uint8Array;
}
export interface ExrChromaticities {
  red: ExrV2;
  green: ExrV2;
  blue: ExrV2;
  white: ExrV2;
}
export interface ExrRational {
  numerator: number;
  denominator: number;
}
export interface ExrTimeCode {
  timeAndFlags: number;
  userData: number;
}
export interface ExrKeyCode {
  filmMfcCode: number;
  filmType: number;
  prefix: number;
  count: number;
  perfOffset: number;
  perfsPerFrame: number;
  perfsPerCount: number;
}
/** An attribute of a type this reader does not decode: its bytes as stored. */
export interface ExrOpaqueAttribute {
  type: string;
  bytes: Uint8Array;
}

export const COMPRESSIONS = [
  'NONE',
  'RLE',
  'ZIPS',
  'ZIP',
  'PIZ',
  'PXR24',
  'B44',
  'B44A',
  'DWAA',
  'DWAB',
  'HTJ2K256',
  'HTJ2K32',
  'ZSTD',
] as const;
const LINE_ORDERS = ['INCREASING_Y', 'DECREASING_Y', 'RANDOM_Y'] as const;
const PIXEL_TYPES: readonly ExrPixelType[] = ['UINT', 'HALF', 'FLOAT'];
const LEVEL_MODES = ['ONE_LEVEL', 'MIPMAP_LEVELS', 'RIPMAP_LEVELS'] as const;
const ROUNDING_MODES = ['ROUND_DOWN', 'ROUND_UP'] as const;
const ENVMAPS = ['LATLONG', 'CUBE'] as const;
const DEEP_STATES = ['MESSY', 'SORTED', 'NON_OVERLAPPING', 'TIDY'] as const;

export interface ExrLimits {
  /** Most pixels in a part's data window (and in a display window that is resampled). */
  maxPixels: number;
  /** Most samples over all channels together (data-window pixels × channels): bounds memory. */
  maxSamples: number;
  /** Largest single attribute value, in bytes (a preview image is the usual big one). */
  maxAttributeBytes: number;
  /** Most attributes in one header. */
  maxAttributes: number;
}

const utf8 = new TextDecoder('utf-8');

/** Little-endian reads over a byte range; running off its end is a truncated file. */
export class Cursor {
  private readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    public pos = 0,
    readonly end = bytes.length,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number, what: string): void {
    if (this.pos + n > this.end) truncated(what);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.pos++]!;
  }
  i32(what: string): number {
    this.need(4, what);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  /** A 64-bit signed value as a number (exact within ±2^53; larger ones are past any file's end anyway). */
  i64(what: string): number {
    this.need(8, what);
    const lo = this.view.getUint32(this.pos, true);
    const hi = this.view.getInt32(this.pos + 4, true);
    this.pos += 8;
    return hi * 4294967296 + lo;
  }
  /** A 64-bit unsigned value as a number (exact below 2^53; larger ones are past any file's end anyway). */
  u64(what: string): number {
    this.need(8, what);
    const lo = this.view.getUint32(this.pos, true);
    const hi = this.view.getUint32(this.pos + 4, true);
    this.pos += 8;
    return hi * 4294967296 + lo;
  }
  f32(what: string): number {
    this.need(4, what);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f64(what: string): number {
    this.need(8, what);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }
  take(n: number, what: string): Uint8Array {
    this.need(n, what);
    const s = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  /**
   * A NUL-terminated name of at most `max` bytes (the NUL not counted); `what` names it in a
   * message ("an attribute name").
   */
  name(max: number, what: string): string {
    const start = this.pos;
    const stop = Math.min(this.end, start + max + 1);
    let i = start;
    while (i < stop && this.bytes[i] !== 0) i++;
    if (i === stop) {
      if (stop === this.end) truncated(`${what} runs past the end of the file`);
      problem(`${what} is longer than ${max} bytes (no terminating NUL)`);
    }
    this.pos = i + 1;
    return utf8.decode(this.bytes.subarray(start, i));
  }
}

/** One part's header: every attribute decoded, plus each one's type name. */
export interface ExrHeader {
  attributes: Record<string, unknown>;
  types: Record<string, string>;
}

export interface ExrFileHeaders {
  version: number;
  flags: number;
  tiledFlag: boolean;
  longNames: boolean;
  nonImage: boolean;
  multiPart: boolean;
  headers: ExrHeader[];
  /** Byte offset just past the headers: where the offset tables begin. */
  end: number;
}

const FLAG_TILED = 0x200;
const FLAG_LONG_NAMES = 0x400;
const FLAG_NON_IMAGE = 0x800;
const FLAG_MULTI_PART = 0x1000;

export function hasMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x76 && bytes[1] === 0x2f && bytes[2] === 0x31 && bytes[3] === 0x01;
}

/** Reads the magic number, the version field and every header. */
export function readHeaders(bytes: Uint8Array, limits: ExrLimits): ExrFileHeaders {
  if (!hasMagic(bytes)) {
    const magic = [0x76, 0x2f, 0x31, 0x01];
    if (bytes.length < 4 && Array.from(bytes).every((b, i) => b === magic[i])) {
      problem(`not an OpenEXR file (truncated to ${bytes.length} bytes)`);
    }
    problem('not an OpenEXR file');
  }
  const c = new Cursor(bytes, 4);
  const field = c.u32('the version field');
  const version = field & 0xff;
  const flags = field & ~0xff;
  if (version !== 2) problem(`unsupported OpenEXR version ${version} (this reader knows version 2)`);
  const unknown = flags & ~(FLAG_TILED | FLAG_LONG_NAMES | FLAG_NON_IMAGE | FLAG_MULTI_PART);
  if (unknown !== 0) problem(`unsupported OpenEXR version flags 0x${(unknown >>> 0).toString(16)}`);
  const multiPart = (flags & FLAG_MULTI_PART) !== 0;
  const tiledFlag = (flags & FLAG_TILED) !== 0;
  if (multiPart && tiledFlag) problem('invalid version field: the single-part tiled flag is set in a multi-part file');
  const longNames = (flags & FLAG_LONG_NAMES) !== 0;
  // Names are at most 31 bytes, or 255 with the long-names flag. Some writers forget the flag,
  // so accept up to 255 either way: the bound only guards against runaway reads.
  const maxName = 255;
  const headers: ExrHeader[] = [];
  for (;;) {
    if (multiPart) {
      c.need(1, 'the list of part headers ends early');
      if (bytes[c.pos] === 0) {
        c.pos++;
        if (headers.length === 0) problem('a multi-part file with no parts');
        break;
      }
    }
    headers.push(readHeader(c, maxName, limits, headers.length));
    if (!multiPart) break;
  }
  return {
    version,
    flags,
    tiledFlag,
    longNames,
    nonImage: (flags & FLAG_NON_IMAGE) !== 0,
    multiPart,
    headers,
    end: c.pos,
  };
}

function readHeader(c: Cursor, maxName: number, limits: ExrLimits, index: number): ExrHeader {
  const attributes: Record<string, unknown> = {};
  const types: Record<string, string> = {};
  const where = `the header of part ${index} ends early`;
  let count = 0;
  for (;;) {
    c.need(1, where);
    if (c.bytes[c.pos] === 0) {
      c.pos++;
      return { attributes, types };
    }
    if (++count > limits.maxAttributes) {
      problem(`part ${index} has more than ${limits.maxAttributes} attributes (the limit)`);
    }
    const name = c.name(maxName, 'an attribute name');
    const type = c.name(maxName, `the type name of attribute "${name}"`);
    // Two values for one name would leave it to chance which one the reader obeys.
    if (Object.hasOwn(types, name)) problem(`attribute "${name}" appears twice`);
    const size = c.i32(where);
    if (size < 0) problem(`attribute "${name}" has a negative size ${size}`);
    if (size > limits.maxAttributeBytes) {
      problem(`attribute "${name}" is ${size} bytes, over the limit of ${limits.maxAttributeBytes}`);
    }
    const value = c.take(size, where);
    attributes[name] = decodeAttribute(name, type, value);
    types[name] = type;
  }
}

const FIXED_SIZES: Record<string, number> = {
  box2i: 16,
  box2f: 16,
  compression: 1,
  lineOrder: 1,
  float: 4,
  double: 8,
  int: 4,
  v2i: 8,
  v2f: 8,
  v2d: 16,
  v3i: 12,
  v3f: 12,
  v3d: 24,
  m33f: 36,
  m33d: 72,
  m44f: 64,
  m44d: 128,
  tiledesc: 9,
  chromaticities: 32,
  rational: 8,
  timecode: 8,
  keycode: 28,
  envmap: 1,
  deepImageState: 1,
};

function decodeAttribute(name: string, type: string, value: Uint8Array): unknown {
  const fixed = FIXED_SIZES[type];
  const bad = (why: string): never => problem(`attribute "${name}" of type ${type} is malformed: ${why}`);
  if (fixed !== undefined && value.length !== fixed) bad(`${value.length} bytes, expected ${fixed}`);
  const c = new Cursor(value);
  const what = `attribute "${name}"`;
  const v2 = (read: () => number): ExrV2 => ({ x: read(), y: read() });
  const v3 = (read: () => number): ExrV3 => ({ x: read(), y: read(), z: read() });
  const i = () => c.i32(what);
  const f = () => c.f32(what);
  const d = () => c.f64(what);
  const enumOf = <T extends readonly string[]>(names: T): T[number] | number => {
    const k = c.u8(what);
    return names[k] ?? k;
  };
  switch (type) {
    case 'box2i':
      return { xMin: i(), yMin: i(), xMax: i(), yMax: i() } satisfies ExrBox;
    case 'box2f':
      return { xMin: f(), yMin: f(), xMax: f(), yMax: f() } satisfies ExrBox;
    case 'chlist':
      return decodeChannels(c, bad);
    case 'compression':
      return enumOf(COMPRESSIONS);
    case 'lineOrder':
      return enumOf(LINE_ORDERS);
    case 'envmap':
      return enumOf(ENVMAPS);
    case 'deepImageState':
      return enumOf(DEEP_STATES);
    case 'float':
      return f();
    case 'double':
      return d();
    case 'int':
      return i();
    case 'string':
      return utf8.decode(value);
    case 'v2i':
      return v2(i);
    case 'v2f':
      return v2(f);
    case 'v2d':
      return v2(d);
    case 'v3i':
      return v3(i);
    case 'v3f':
      return v3(f);
    case 'v3d':
      return v3(d);
    case 'm33f':
      return Array.from({ length: 9 }, f);
    case 'm33d':
      return Array.from({ length: 9 }, d);
    case 'm44f':
      return Array.from({ length: 16 }, f);
    case 'm44d':
      return Array.from({ length: 16 }, d);
    case 'tiledesc': {
      const xSize = c.u32(what);
      const ySize = c.u32(what);
      const mode = c.u8(what);
      const levelMode = LEVEL_MODES[mode & 0xf];
      const roundingMode = ROUNDING_MODES[mode >> 4];
      if (levelMode === undefined || roundingMode === undefined) bad(`unknown level mode byte 0x${mode.toString(16)}`);
      return { xSize, ySize, levelMode, roundingMode } as ExrTileDescription;
    }
    case 'preview': {
      if (value.length < 8) bad(`${value.length} bytes`);
      const width = c.u32(what);
      const height = c.u32(what);
      if (width * height * 4 !== value.length - 8) {
        bad(`${width}x${height} RGBA needs ${width * height * 4 + 8} bytes, has ${value.length}`);
      }
      return { width, height, pixels: value.slice(8) } satisfies ExrPreview;
    }
    case 'stringvector': {
      const out: string[] = [];
      while (c.pos < c.end) {
        if (c.end - c.pos < 4) bad('a string length is cut off');
        const n = c.i32(what);
        if (n < 0 || n > c.end - c.pos) bad(`a string of ${n} bytes does not fit`);
        out.push(utf8.decode(c.take(n, what)));
      }
      return out;
    }
    case 'floatvector':
      if (value.length % 4 !== 0) bad(`${value.length} bytes is not a whole number of floats`);
      return Array.from({ length: value.length / 4 }, f);
    case 'chromaticities':
      return { red: v2(f), green: v2(f), blue: v2(f), white: v2(f) } satisfies ExrChromaticities;
    case 'rational':
      return { numerator: i(), denominator: c.u32(what) } satisfies ExrRational;
    case 'timecode':
      return { timeAndFlags: c.u32(what), userData: c.u32(what) } satisfies ExrTimeCode;
    case 'keycode':
      return {
        filmMfcCode: i(),
        filmType: i(),
        prefix: i(),
        count: i(),
        perfOffset: i(),
        perfsPerFrame: i(),
        perfsPerCount: i(),
      } satisfies ExrKeyCode;
    default:
      return { type, bytes: value.slice() } satisfies ExrOpaqueAttribute;
  }
}

function decodeChannels(c: Cursor, bad: (why: string) => never): ExrChannelInfo[] {
  const out: ExrChannelInfo[] = [];
  for (;;) {
    if (c.pos >= c.end) bad('the channel list has no terminating NUL');
    if (c.bytes[c.pos] === 0) {
      c.pos++;
      break;
    }
    let name: string;
    let rest: Uint8Array;
    try {
      name = c.name(255, 'channel name');
      rest = c.take(16, 'channel');
    } catch {
      bad('a channel entry is cut off');
    }
    const view = new DataView(rest.buffer, rest.byteOffset, 16);
    const typeCode = view.getInt32(0, true);
    const pixelType = PIXEL_TYPES[typeCode];
    if (pixelType === undefined) bad(`channel "${name}" has unknown pixel type ${typeCode}`);
    const xSampling = view.getInt32(8, true);
    const ySampling = view.getInt32(12, true);
    if (xSampling < 1 || ySampling < 1) bad(`channel "${name}" has sampling ${xSampling} ${ySampling}`);
    out.push({ name, pixelType, pLinear: rest[4] !== 0, xSampling, ySampling });
  }
  if (c.pos !== c.end) bad('bytes after the channel list');
  return out;
}
