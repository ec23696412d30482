/**
 * An OpenEXR reader: scan-line and tiled parts (level 0 of mip/rip-mapped ones), single- and
 * multi-part files (one part, or all of them), HALF/FLOAT/UINT channels, subsampled channels,
 * any data and display windows and line order, with NONE, RLE, ZIPS, ZIP, PIZ, PXR24, B44 and
 * B44A (pLinear channels included), DWAA and DWAB decoded. The newer HTJ2K/ZSTD codecs are
 * refused by name, as are deep parts.
 *
 * Browser-safe: no Node imports (fflate does the inflating). Every failure is a CnnV3Error whose
 * message names the file; sizes declared by the file are checked against limits before anything
 * that large is allocated.
 */
import { CnnV3Error, fileError } from '../errors.js';
import { fromHalfBits } from '../util/half.js';
import {
  chunkLayout,
  PIXEL_FLOAT,
  PIXEL_HALF,
  PIXEL_UINT,
  undoB44,
  undoPxr24,
  undoRle,
  undoZip,
  type ChunkLayout,
} from './decompress.js';
import {
  COMPRESSIONS,
  Cursor,
  hasMagic,
  readHeaders,
  type ExrBox,
  type ExrChannelInfo,
  type ExrFileHeaders,
  type ExrHeader,
  type ExrLimits,
  type ExrPixelType,
  type ExrTileDescription,
} from './header.js';
import { undoDwa } from './dwa.js';
import { undoPiz } from './piz.js';
import { ExrProblem, problem, truncated } from './problem.js';

export type {
  ExrBox,
  ExrChannelInfo,
  ExrChromaticities,
  ExrKeyCode,
  ExrLimits,
  ExrOpaqueAttribute,
  ExrPixelType,
  ExrPreview,
  ExrRational,
  ExrTileDescription,
  ExrTimeCode,
  ExrV2,
  ExrV3,
} from './header.js';

export const EXR_LIMITS: Readonly<ExrLimits> = Object.freeze({
  maxPixels: 2 ** 27, // 134 M pixels: a 16k × 8k render
  maxSamples: 2 ** 28, // 1 GiB of 32-bit samples
  maxAttributeBytes: 2 ** 24,
  maxAttributes: 4096,
});

export interface ExrImage {
  /** The name the file was read under (used in error messages). */
  file: string;
  dataWindow: ExrBox;
  displayWindow: ExrBox;
  /** Of the data window. */
  width: number;
  height: number;
  /** 'NONE' | 'RLE' | 'ZIPS' | 'ZIP' | 'PIZ' | 'PXR24' | 'B44' | 'B44A' | 'DWAA' | 'DWAB'. */
  compression: string;
  /** 'INCREASING_Y' | 'DECREASING_Y' | 'RANDOM_Y'. */
  lineOrder: string;
  tiled: boolean;
  partName?: string;
  /** Channel-list order (sorted by name, as stored). */
  channelInfo: ExrChannelInfo[];
  /**
   * Full channel name → row-major data-window pixels (width × height): HALF and FLOAT as
   * Float32Array (bit-exact), UINT as Uint32Array. A subsampled channel is expanded: each sample
   * fills its xSampling × ySampling block (the data window is a whole number of blocks).
   */
  channels: Map<string, Float32Array | Uint32Array>;
  /** Every header attribute, decoded where the type is known (see header.ts for the shapes). */
  attributes: Record<string, unknown>;
}

export interface ExrReadOptions {
  /** Which part of a multi-part file: its name or index (default: the first). */
  part?: string | number;
  limits?: Partial<ExrLimits>;
}

export function isExr(bytes: Uint8Array): boolean {
  return hasMagic(bytes);
}

export function readExr(bytes: Uint8Array, name: string, options: ExrReadOptions = {}): ExrImage {
  return guard(name, () => {
    const limits = { ...EXR_LIMITS, ...options.limits };
    const file = readHeaders(bytes, limits);
    const parts = describeParts(file);
    const index = choosePart(parts, options.part);
    const plan = planPart(file, parts[index]!, limits); // refuses what it must before reading on
    const tables = readOffsetTables(bytes, file, parts);
    return decodePart(bytes, name, plan, tables[index]!);
  });
}

/**
 * Every part of a file, decoded (a single-part file gives one image). A part that cannot be
 * decoded (deep data, an unsupported compression) is refused like `readExr` refuses it, with
 * the part named.
 */
export function readExrParts(bytes: Uint8Array, name: string, options: Pick<ExrReadOptions, 'limits'> = {}): ExrImage[] {
  return guard(name, () => {
    const limits = { ...EXR_LIMITS, ...options.limits };
    const file = readHeaders(bytes, limits);
    const parts = describeParts(file);
    const plans = parts.map((part) => planPart(file, part, limits));
    const samples = plans.reduce((sum, p) => sum + p.width * p.height * p.channelInfo.length, 0);
    if (samples > limits.maxSamples) {
      problem(`its ${parts.length} parts hold ${samples} samples, over the limit of ${limits.maxSamples}`);
    }
    const tables = readOffsetTables(bytes, file, parts);
    return plans.map((plan, i) => decodePart(bytes, name, plan, tables[i]!));
  });
}

export function listExrParts(bytes: Uint8Array, name: string): Array<{ name?: string; type?: string; channels: string[] }> {
  return guard(name, () => {
    const file = readHeaders(bytes, EXR_LIMITS);
    return describeParts(file).map((p) => {
      const channels = p.header.attributes['channels'];
      return {
        ...(p.name !== undefined ? { name: p.name } : {}),
        type: p.type,
        channels: Array.isArray(channels) ? (channels as ExrChannelInfo[]).map((c) => c.name) : [],
      };
    });
  });
}

/** A channel resampled into the display window (pixels outside the data window 0). */
export function channelInDisplayWindow(img: ExrImage, channel: string): Float32Array {
  const src = img.channels.get(channel);
  if (!src) {
    throw fileError(img.file, `no channel "${channel}" (it has ${[...img.channels.keys()].join(', ') || 'none'})`);
  }
  const dw = img.dataWindow;
  const disp = img.displayWindow;
  const W = disp.xMax - disp.xMin + 1;
  const H = disp.yMax - disp.yMin + 1;
  if (W < 1 || H < 1) throw fileError(img.file, `the display window is empty`);
  if (W * H > EXR_LIMITS.maxPixels) {
    throw fileError(img.file, `display window ${W}x${H} is over the limit of ${EXR_LIMITS.maxPixels} pixels`);
  }
  const out = new Float32Array(W * H);
  const x0 = Math.max(dw.xMin, disp.xMin);
  const x1 = Math.min(dw.xMax, disp.xMax);
  const y0 = Math.max(dw.yMin, disp.yMin);
  const y1 = Math.min(dw.yMax, disp.yMax);
  for (let y = y0; y <= y1; y++) {
    const s = (y - dw.yMin) * img.width - dw.xMin;
    const d = (y - disp.yMin) * W - disp.xMin;
    for (let x = x0; x <= x1; x++) out[d + x] = src[s + x]!;
  }
  return out;
}

function guard<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof CnnV3Error) throw e;
    if (e instanceof ExrProblem) throw fileError(name, oneLine(e.message));
    throw fileError(name, `corrupt OpenEXR file (${oneLine(e instanceof Error ? e.message : String(e))})`);
  }
}

/** Names quoted from the file may hold any byte: control characters are written as \xNN, so the message stays one line. */
function oneLine(message: string): string {
  // eslint-disable-next-line no-control-regex
  return message.replace(/[\u0000-\u001f\u007f]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

// ---------------------------------------------------------------------------------------------
// Parts

interface Part {
  index: number;
  header: ExrHeader;
  name?: string;
  /** scanlineimage | tiledimage | deepscanline | deeptile (or whatever a file says). */
  type: string;
}

function describeParts(file: ExrFileHeaders): Part[] {
  return file.headers.map((header, index) => {
    const a = header.attributes;
    const typeAttr = typeof a['type'] === 'string' ? a['type'] : undefined;
    const derived = file.nonImage
      ? file.tiledFlag
        ? 'deeptile'
        : 'deepscanline'
      : file.tiledFlag || (file.multiPart && a['tiles'] !== undefined && typeAttr === undefined)
        ? 'tiledimage'
        : 'scanlineimage';
    const name = typeof a['name'] === 'string' ? a['name'] : undefined;
    return { index, header, type: typeAttr ?? derived, ...(name !== undefined ? { name } : {}) };
  });
}

function choosePart(parts: Part[], want: string | number | undefined): number {
  if (want === undefined) return 0;
  if (typeof want === 'number') {
    if (!Number.isInteger(want) || want < 0 || want >= parts.length) {
      problem(`has no part ${want} (it has ${parts.length} part${parts.length === 1 ? '' : 's'})`);
    }
    return want;
  }
  const i = parts.findIndex((p) => p.name === want);
  if (i < 0) {
    const names = parts.map((p) => (p.name === undefined ? `#${p.index}` : JSON.stringify(p.name))).join(', ');
    problem(`has no part named ${JSON.stringify(want)} (parts: ${names})`);
  }
  return i;
}

const LINES_PER_CHUNK: Record<string, number> = {
  NONE: 1,
  RLE: 1,
  ZIPS: 1,
  ZIP: 16,
  PIZ: 32,
  PXR24: 16,
  B44: 32,
  B44A: 32,
  DWAA: 32,
  DWAB: 256,
  HTJ2K256: 256,
  HTJ2K32: 32,
  ZSTD: 32,
};
/** The largest window coordinate OpenEXR accepts: INT_MAX / 2. */
const MAX_COORDINATE = 1073741823;
const DECODED = new Set(['NONE', 'RLE', 'ZIPS', 'ZIP', 'PIZ', 'PXR24', 'B44', 'B44A', 'DWAA', 'DWAB']);

function compressionOf(h: ExrHeader): string {
  const c = h.attributes['compression'];
  if (c === undefined) problem('the header has no compression attribute');
  if (typeof c === 'number') problem(`unsupported compression ${c}`);
  if (typeof c !== 'string' || !(COMPRESSIONS as readonly string[]).includes(c)) problem(`bad compression attribute`);
  return c;
}

function boxAttr(h: ExrHeader, key: string): ExrBox {
  const b = h.attributes[key];
  if (b === undefined) problem(`the header has no ${key} attribute`);
  if (h.types[key] !== 'box2i') problem(`the ${key} attribute has type ${h.types[key]}, expected box2i`);
  return b as ExrBox;
}

function tileDesc(h: ExrHeader): ExrTileDescription {
  const t = h.attributes['tiles'];
  if (t === undefined || h.types['tiles'] !== 'tiledesc') problem('a tiled part has no tiles attribute');
  const td = t as ExrTileDescription;
  if (td.xSize < 1 || td.ySize < 1) problem(`tile size ${td.xSize}x${td.ySize}`);
  return td;
}

function isTiledType(type: string): boolean {
  return type === 'tiledimage' || type === 'deeptile';
}

function roundLog2(x: number, up: boolean): number {
  let y = 0;
  if (up) {
    while (2 ** y < x) y++;
  } else {
    while (2 ** (y + 1) <= x) y++;
  }
  return y;
}

function levelSize(size: number, level: number, up: boolean): number {
  const d = 2 ** level;
  return Math.max(up ? Math.ceil(size / d) : Math.floor(size / d), 1);
}

/** Chunks of a part as its geometry implies (the offset table's length). */
function geometricChunkCount(part: Part): number {
  const h = part.header;
  const dw = boxAttr(h, 'dataWindow');
  const w = dw.xMax - dw.xMin + 1;
  const ht = dw.yMax - dw.yMin + 1;
  if (w < 1 || ht < 1) problem(`empty data window (${dw.xMin},${dw.yMin})-(${dw.xMax},${dw.yMax})`);
  if (!isTiledType(part.type)) {
    const lines = LINES_PER_CHUNK[compressionOf(h)]!;
    return Math.ceil(ht / lines);
  }
  const td = tileDesc(h);
  const up = td.roundingMode === 'ROUND_UP';
  const tiles = (lw: number, lh: number) => Math.ceil(lw / td.xSize) * Math.ceil(lh / td.ySize);
  if (td.levelMode === 'ONE_LEVEL') return tiles(w, ht);
  let n = 0;
  if (td.levelMode === 'MIPMAP_LEVELS') {
    const levels = roundLog2(Math.max(w, ht), up) + 1;
    for (let l = 0; l < levels; l++) n += tiles(levelSize(w, l, up), levelSize(ht, l, up));
    return n;
  }
  const xLevels = roundLog2(w, up) + 1;
  const yLevels = roundLog2(ht, up) + 1;
  for (let ly = 0; ly < yLevels; ly++) {
    for (let lx = 0; lx < xLevels; lx++) n += tiles(levelSize(w, lx, up), levelSize(ht, ly, up));
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Offset tables and chunk headers

interface ChunkRef {
  /** Where the chunk's pixel data starts and how long it is. */
  data: number;
  size: number;
  /** The coordinates its header gives: [y] for scan lines, [dx, dy, lx, ly] for tiles. */
  coords: number[];
}

/**
 * Reads every part's offset table and every chunk header, so that a file cut anywhere is
 * reported as truncated, whichever part is asked for.
 */
function readOffsetTables(bytes: Uint8Array, file: ExrFileHeaders, parts: Part[]): ChunkRef[][] {
  const counts = parts.map((p) => {
    const cc = p.header.attributes['chunkCount'];
    if (file.multiPart && typeof cc === 'number') {
      if (!Number.isInteger(cc) || cc < 0) problem(`part ${p.index} has a bad chunkCount ${cc}`);
      return cc;
    }
    return geometricChunkCount(p);
  });
  const total = counts.reduce((a, b) => a + b, 0);
  const c = new Cursor(bytes, file.end);
  if (total * 8 > bytes.length - c.pos) {
    truncated(`the offset tables need ${total * 8} bytes after the header, the file has ${bytes.length - c.pos}`);
  }
  const tablesEnd = c.pos + total * 8;
  const offsets = counts.map((n) => Array.from({ length: n }, () => c.i64('offset table')));
  return parts.map((part, p) =>
    offsets[p]!.map((offset, i) => readChunkHeader(bytes, file, part, offset, i, tablesEnd)),
  );
}

function readChunkHeader(
  bytes: Uint8Array,
  file: ExrFileHeaders,
  part: Part,
  offset: number,
  i: number,
  tablesEnd: number,
): ChunkRef {
  const where = `chunk ${i}${file.multiPart ? ` of part ${part.index}` : ''}`;
  if (offset < 0) problem(`${where} has a negative offset ${offset}`);
  if (offset === 0) truncated(`${where} was never written: its offset is 0`);
  if (offset >= bytes.length) truncated(`${where} starts at byte ${offset}, past the end of the file (${bytes.length} bytes)`);
  if (offset < tablesEnd) problem(`${where} has offset ${offset}, inside the header`);
  const c = new Cursor(bytes, offset);
  const what = `the header of ${where} is cut off`;
  if (file.multiPart) {
    const p = c.i32(what);
    if (p !== part.index) problem(`${where} belongs to part ${p}`);
  }
  const tiled = isTiledType(part.type);
  const coords = tiled ? [c.i32(what), c.i32(what), c.i32(what), c.i32(what)] : [c.i32(what)];
  let size: number;
  if (part.type === 'deepscanline' || part.type === 'deeptile') {
    const table = c.u64(what);
    const packed = c.u64(what);
    c.u64(what); // unpacked size
    size = table + packed;
  } else {
    size = c.i32(what);
    if (size < 0) problem(`${where} has a negative size ${size}`);
  }
  if (c.pos + size > bytes.length) {
    truncated(`${where} needs ${size} bytes from byte ${c.pos}, the file has ${bytes.length}`);
  }
  return { data: c.pos, size, coords };
}

// ---------------------------------------------------------------------------------------------
// Pixels

const PIXEL_CODES: Record<ExrPixelType, number> = { UINT: PIXEL_UINT, HALF: PIXEL_HALF, FLOAT: PIXEL_FLOAT };

let halfToFloatBits: Uint32Array | undefined;
/** Float32 bit patterns of all 65536 halves (NaN payloads kept). */
function halfTable(): Uint32Array {
  if (halfToFloatBits) return halfToFloatBits;
  const t = new Uint32Array(65536);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let h = 0; h < 65536; h++) {
    if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) {
      t[h] = (((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13)) >>> 0;
    } else {
      f[0] = fromHalfBits(h);
      t[h] = u[0]!;
    }
  }
  halfToFloatBits = t;
  return t;
}

/** A part that can be decoded: its validated geometry and channels. */
interface PartPlan {
  part: Part;
  /** "part N (name): " in a multi-part file, else empty. */
  label: string;
  tiled: boolean;
  compression: string;
  channelInfo: ExrChannelInfo[];
  dataWindow: ExrBox;
  displayWindow: ExrBox;
  lineOrder: string;
  width: number;
  height: number;
}

/** Everything about a part that can be refused from its header alone, limits included. */
function planPart(file: ExrFileHeaders, part: Part, limits: ExrLimits): PartPlan {
  const h = part.header;
  const label = file.multiPart ? `part ${part.index}${part.name !== undefined ? ` (${JSON.stringify(part.name)})` : ''}: ` : '';
  if (part.type === 'deepscanline' || part.type === 'deeptile') problem(`${label}deep data (${part.type}) is not supported`);
  if (part.type !== 'scanlineimage' && part.type !== 'tiledimage') problem(`${label}unknown part type "${part.type}"`);
  const tiled = part.type === 'tiledimage';
  const compression = compressionOf(h);
  if (!DECODED.has(compression)) problem(`${label}unsupported compression ${compression}`);

  const channelAttr = h.attributes['channels'];
  if (channelAttr === undefined || h.types['channels'] !== 'chlist') problem(`${label}the header has no channel list`);
  const channelInfo = channelAttr as ExrChannelInfo[];
  const dataWindow = boxAttr(h, 'dataWindow');
  const displayWindow = h.attributes['displayWindow'] !== undefined ? boxAttr(h, 'displayWindow') : { ...dataWindow };
  const lineOrder = typeof h.attributes['lineOrder'] === 'string' ? h.attributes['lineOrder'] : 'INCREASING_Y';
  const { xMin, yMin, xMax, yMax } = dataWindow;
  const width = xMax - xMin + 1;
  const height = yMax - yMin + 1;
  if (width < 1 || height < 1) problem(`empty data window (${xMin},${yMin})-(${xMax},${yMax})`);
  if (displayWindow.xMax < displayWindow.xMin || displayWindow.yMax < displayWindow.yMin) problem('empty display window');
  const pixels = width * height;
  if (pixels > limits.maxPixels) {
    problem(`data window ${width}x${height} (${pixels} pixels) is over the limit of ${limits.maxPixels} pixels`);
  }
  // OpenEXR's own bound: coordinates stay within ±(2^31 − 1)/2, so sizes and sums of them fit an int.
  for (const [what, b] of [['data', dataWindow], ['display', displayWindow]] as const) {
    if ([b.xMin, b.yMin, b.xMax, b.yMax].some((v) => Math.abs(v) > MAX_COORDINATE)) {
      problem(`${what} window (${b.xMin},${b.yMin})-(${b.xMax},${b.yMax}) has a coordinate beyond ±${MAX_COORDINATE}`);
    }
  }
  if (pixels * channelInfo.length > limits.maxSamples) {
    problem(`${channelInfo.length} channels of ${pixels} pixels are over the limit of ${limits.maxSamples} samples`);
  }
  if (tiled) tileDesc(h);
  const seen = new Set<string>();
  for (const ch of channelInfo) {
    if (seen.has(ch.name)) problem(`${label}channel "${ch.name}" appears twice`);
    seen.add(ch.name);
    const xs = ch.xSampling;
    const ys = ch.ySampling;
    if (xs === 1 && ys === 1) continue;
    if (tiled) problem(`${label}channel "${ch.name}" is subsampled (${xs}x${ys}), which tiled images do not allow`);
    if (xMin % xs !== 0 || width % xs !== 0 || yMin % ys !== 0 || height % ys !== 0) {
      problem(`${label}channel "${ch.name}": the data window is not a whole number of its ${xs}x${ys} sampling blocks`);
    }
  }
  return { part, label, tiled, compression, channelInfo, dataWindow, displayWindow, lineOrder, width, height };
}

function decodePart(bytes: Uint8Array, fileName: string, plan: PartPlan, chunks: ChunkRef[]): ExrImage {
  const { part, label, tiled, compression, channelInfo, dataWindow, displayWindow, lineOrder, width, height } = plan;
  const h = part.header;
  const { xMin, yMin, xMax, yMax } = dataWindow;

  // Native-resolution planes, as 32-bit patterns (HALF widened to float bits on the way in).
  const planes: Uint32Array<ArrayBuffer>[] = channelInfo.map(
    (ch) => new Uint32Array((width / ch.xSampling) * (height / ch.ySampling)),
  );
  const codes = channelInfo.map((ch) => ({
    name: ch.name,
    type: PIXEL_CODES[ch.pixelType],
    xSampling: ch.xSampling,
    ySampling: ch.ySampling,
    pLinear: ch.pLinear,
  }));
  const half = halfTable();

  const place = (raw: Uint8Array, layout: ChunkLayout) => {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    let p = 0;
    for (let y = layout.y0; y <= layout.y1; y++) {
      for (let c = 0; c < layout.channels.length; c++) {
        const ch = layout.channels[c]!;
        if (ch.ny === 0 || y % ch.ySampling !== 0) continue;
        const plane = planes[c]!;
        const rowWidth = width / ch.xSampling;
        const firstX = Math.ceil(layout.x0 / ch.xSampling) * ch.xSampling;
        let o = ((y - yMin) / ch.ySampling) * rowWidth + (firstX - xMin) / ch.xSampling;
        const n = ch.nx;
        if (ch.type === PIXEL_HALF) {
          for (let k = 0; k < n; k++, p += 2) plane[o++] = half[raw[p]! | (raw[p + 1]! << 8)]!;
        } else {
          for (let k = 0; k < n; k++, p += 4) plane[o++] = view.getUint32(p, true);
        }
      }
    }
  };

  const decompress = (data: Uint8Array, layout: ChunkLayout, what: string): Uint8Array => {
    // Writers store a chunk as is when compressing would not make it smaller; more bytes than
    // its pixels need is no chunk any writer makes.
    if (data.length > layout.unpackedSize) {
      problem(`${what} holds ${data.length} bytes, more than the ${layout.unpackedSize} bytes of its pixels`);
    }
    if (data.length === layout.unpackedSize) return data; // stored as is
    switch (compression) {
      case 'NONE':
        return problem(`${what} holds ${data.length} bytes, expected ${layout.unpackedSize}`);
      case 'RLE':
        return undoRle(data, layout, what);
      case 'ZIPS':
      case 'ZIP':
        return undoZip(data, layout, what);
      case 'PIZ':
        return undoPiz(data, layout, what);
      case 'PXR24':
        return undoPxr24(data, layout, what);
      case 'DWAA':
      case 'DWAB':
        return undoDwa(data, layout, what);
      default: // B44, B44A
        return undoB44(data, layout, what);
    }
  };

  const where = (i: number) => `${label}chunk ${i}`;
  if (!tiled) {
    const lines = LINES_PER_CHUNK[compression]!;
    const n = Math.ceil(height / lines);
    if (chunks.length < n) problem(`${label}the offset table has ${chunks.length} entries, expected ${n}`);
    for (let i = 0; i < n; i++) {
      const ref = chunks[i]!;
      const y0 = yMin + i * lines;
      const y1 = Math.min(y0 + lines - 1, yMax);
      const y = ref.coords[0]!;
      if (y < yMin || y > yMax) problem(`${where(i)} is for line ${y}, outside the data window (lines ${yMin} to ${yMax})`);
      if (y !== y0) problem(`${where(i)} says it starts at line ${y}, expected ${y0}`);
      const layout = chunkLayout(xMin, y0, xMax, y1, codes);
      place(decompress(bytes.subarray(ref.data, ref.data + ref.size), layout, where(i)), layout);
    }
  } else {
    const td = tileDesc(h);
    const nx = Math.ceil(width / td.xSize);
    const ny = Math.ceil(height / td.ySize);
    if (chunks.length < nx * ny) problem(`${label}the offset table has ${chunks.length} entries, expected at least ${nx * ny}`);
    for (let ty = 0; ty < ny; ty++) {
      for (let tx = 0; tx < nx; tx++) {
        const i = ty * nx + tx;
        const ref = chunks[i]!;
        const [dx, dy, lx, ly] = ref.coords as [number, number, number, number];
        if (lx === 0 && ly === 0 && (dx < 0 || dx >= nx || dy < 0 || dy >= ny)) {
          problem(`${where(i)} is tile (${dx},${dy}) of level (0,0), outside the ${nx}x${ny} tiles of level 0`);
        }
        if (dx !== tx || dy !== ty || lx !== 0 || ly !== 0) {
          problem(`${where(i)} is tile (${dx},${dy}) of level (${lx},${ly}), expected tile (${tx},${ty}) of level (0,0)`);
        }
        const x0 = xMin + tx * td.xSize;
        const y0 = yMin + ty * td.ySize;
        const layout = chunkLayout(x0, y0, Math.min(x0 + td.xSize - 1, xMax), Math.min(y0 + td.ySize - 1, yMax), codes);
        place(decompress(bytes.subarray(ref.data, ref.data + ref.size), layout, where(i)), layout);
      }
    }
  }

  const channels = new Map<string, Float32Array | Uint32Array>();
  channelInfo.forEach((ch, c) => {
    let bits = planes[c]!;
    if (ch.xSampling !== 1 || ch.ySampling !== 1) bits = expand(bits, width, height, ch.xSampling, ch.ySampling);
    channels.set(ch.name, ch.pixelType === 'UINT' ? bits : new Float32Array(bits.buffer, bits.byteOffset, bits.length));
  });

  return {
    file: fileName,
    dataWindow: { ...dataWindow },
    displayWindow: { ...displayWindow },
    width,
    height,
    compression,
    lineOrder,
    tiled,
    ...(part.name !== undefined ? { partName: part.name } : {}),
    channelInfo: channelInfo.map((c) => ({ ...c })),
    channels,
    attributes: h.attributes,
  };
}

/** Each sample of a subsampled plane fills its xs × ys block of the full-resolution window. */
function expand(src: Uint32Array, width: number, height: number, xs: number, ys: number): Uint32Array<ArrayBuffer> {
  const out = new Uint32Array(width * height);
  const sw = width / xs;
  for (let y = 0; y < height; y++) {
    const s = Math.floor(y / ys) * sw;
    const d = y * width;
    for (let x = 0; x < width; x++) out[d + x] = src[s + Math.floor(x / xs)]!;
  }
  return out;
}
