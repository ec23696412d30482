/**
 * PNG codec (ISO/IEC 15948). Decodes every colour type and bit depth, PLTE/tRNS, Adam7, and
 * checks chunk CRCs; encodes 8/16-bit gray, gray+alpha, RGB and RGBA. Browser-safe (fflate).
 *
 * Hostile input costs bounded memory and time, and every problem is one `<file>: …` CnnV3Error:
 *
 * - declared sizes are checked against `PngLimits` before anything is allocated;
 * - compressed ancillary chunks (zTXt, iTXt, iCCP, …) are never inflated;
 * - the image data is inflated only as far as the image needs (its filtered rows, `expected`
 *   bytes): inflation stops there, so a decompression bomb in IDAT does work proportional to
 *   the declared image size, never to what the stream would expand to;
 * - a bad CRC in a critical chunk is an error; in an ancillary chunk the chunk is skipped.
 *
 * Policy for IDAT data beyond the image (as libpng, browsers and PIL do): more inflated data
 * than the image needs, bytes after the end of the zlib stream, and the Adler-32 checksum are
 * not examined — the image is complete once its rows are. Too little data, or corrupt deflate
 * data before the image is complete, is an error. A file that ends before IEND is truncated
 * and refused; bytes after IEND are ignored.
 */
import { Inflate, zlibSync } from 'fflate';
import { CnnV3Error, fileError } from '../errors.js';
import type { Channels, Raster } from './image.js';

export interface PngLimits {
  /** Largest width or height accepted. */
  maxDimension: number;
  /** Largest width × height accepted. */
  maxPixels: number;
}

export const PNG_LIMITS: PngLimits = {
  maxDimension: 32768,
  maxPixels: 1 << 27,
};

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && SIGNATURE.every((b, i) => bytes[i] === b);
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of bytes[start, end), as PNG chunks carry it. */
export function crc32(bytes: Uint8Array, start: number, end: number): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Samples per pixel for each legal colour type. */
const COLOUR_TYPES: Record<number, { samples: number; depths: number[] }> = {
  0: { samples: 1, depths: [1, 2, 4, 8, 16] },
  2: { samples: 3, depths: [8, 16] },
  3: { samples: 1, depths: [1, 2, 4, 8] },
  4: { samples: 2, depths: [8, 16] },
  6: { samples: 4, depths: [8, 16] },
};

const ADAM7: ReadonlyArray<readonly [number, number, number, number]> = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

interface Header {
  width: number;
  height: number;
  depth: number;
  colourType: number;
  interlace: number;
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/**
 * Decodes a PNG to a raster: palette images become RGB (RGBA with tRNS), sub-byte gray is scaled
 * to 8 bits, a tRNS colour key adds an alpha channel. 16-bit images stay 16-bit.
 */
export function decodePng(bytes: Uint8Array, name: string, limits: PngLimits = PNG_LIMITS): Raster {
  try {
    return decode(bytes, name, limits);
  } catch (e) {
    // Only CnnV3Error may leave a parser: anything else (a RangeError on a case this code did
    // not foresee) still becomes one message naming the file.
    if (e instanceof CnnV3Error) throw e;
    throw fileError(name, `not a valid PNG: unreadable (${e instanceof Error ? e.message : String(e)})`);
  }
}

function decode(bytes: Uint8Array, name: string, limits: PngLimits): Raster {
  const bad = (problem: string) => fileError(name, `not a valid PNG: ${problem}`);
  if (!isPng(bytes)) throw fileError(name, 'not a PNG file');

  let header: Header | undefined;
  let palette: Uint8Array | undefined;
  let trns: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let idatBytes = 0;
  let ended = false;
  let pos = 8;
  while (pos < bytes.length && !ended) {
    if (pos + 12 > bytes.length) throw bad(`truncated chunk header at byte ${pos}`);
    const length = readU32(bytes, pos);
    const type = String.fromCharCode(bytes[pos + 4]!, bytes[pos + 5]!, bytes[pos + 6]!, bytes[pos + 7]!);
    if (length > 0x7fffffff || pos + 12 + length > bytes.length) {
      throw bad(`chunk ${JSON.stringify(type)} at byte ${pos} runs past the end of the file`);
    }
    const dataStart = pos + 8;
    const dataEnd = dataStart + length;
    const critical = (bytes[pos + 4]! & 0x20) === 0;
    if (crc32(bytes, pos + 4, dataEnd) !== readU32(bytes, dataEnd)) {
      if (critical) throw bad(`bad CRC in chunk ${type}`);
      pos = dataEnd + 4;
      continue; // a damaged ancillary chunk is skipped, as the PNG spec allows
    }
    const data = bytes.subarray(dataStart, dataEnd);
    if (header === undefined && type !== 'IHDR') throw bad('first chunk is not IHDR');
    switch (type) {
      case 'IHDR': {
        if (header) throw bad('more than one IHDR');
        if (length !== 13) throw bad('IHDR has the wrong length');
        header = {
          width: readU32(data, 0),
          height: readU32(data, 4),
          depth: data[8]!,
          colourType: data[9]!,
          interlace: data[12]!,
        };
        const { width, height, depth, colourType, interlace } = header;
        if (width === 0 || height === 0) throw bad(`image size ${width}×${height} is empty`);
        if (width > limits.maxDimension || height > limits.maxDimension || width * height > limits.maxPixels) {
          throw fileError(name, `image size ${width}×${height} exceeds the limit (${limits.maxDimension} per side, ${limits.maxPixels} pixels)`);
        }
        const ct = COLOUR_TYPES[colourType];
        if (!ct) throw bad(`illegal colour type ${colourType}`);
        if (!ct.depths.includes(depth)) throw bad(`illegal bit depth ${depth} for colour type ${colourType}`);
        if (data[10] !== 0) throw bad(`unknown compression method ${data[10]}`);
        if (data[11] !== 0) throw bad(`unknown filter method ${data[11]}`);
        if (interlace > 1) throw bad(`unknown interlace method ${interlace}`);
        break;
      }
      case 'PLTE':
        if (length % 3 !== 0 || length === 0 || length > 768) throw bad('PLTE has an illegal length');
        palette = data;
        break;
      case 'tRNS':
        trns = data;
        break;
      case 'IDAT':
        idat.push(data);
        idatBytes += length;
        break;
      case 'IEND':
        ended = true;
        break;
      default:
        if (critical) throw bad(`unknown critical chunk ${type}`);
    }
    pos = dataEnd + 4;
  }
  if (!header) throw bad('no IHDR chunk');
  if (idat.length === 0) throw bad('no image data (IDAT)');
  if (!ended) throw bad('truncated: the file ends before the IEND chunk');
  if (header.colourType === 3 && !palette) throw bad('palette image without PLTE');

  const { width, height, depth, colourType, interlace } = header;
  const samples = COLOUR_TYPES[colourType]!.samples;
  const bitsPerPixel = samples * depth;
  const filterUnit = Math.max(1, bitsPerPixel >> 3);
  const passes = interlace === 1 ? ADAM7 : ([[0, 0, 1, 1]] as const);
  const passSizes = passes.map(([x0, y0, dx, dy]) => {
    const w = width > x0 ? Math.ceil((width - x0) / dx) : 0;
    const h = height > y0 ? Math.ceil((height - y0) / dy) : 0;
    return { w, h, rowBytes: Math.ceil((w * bitsPerPixel) / 8) };
  });
  const expected = passSizes.reduce((s, p) => s + (p.w > 0 ? p.h * (p.rowBytes + 1) : 0), 0);

  const raw = inflateImageData(idat, idatBytes, expected, bad);

  // Unfilter every pass into one array of samples (full image), then expand colour.
  const out16 = depth === 16;
  const full = out16 ? new Uint16Array(width * height * samples) : new Uint8Array(width * height * samples);
  let offset = 0;
  for (let pi = 0; pi < passes.length; pi++) {
    const [x0, y0, dx, dy] = passes[pi]!;
    const { w, h, rowBytes } = passSizes[pi]!;
    if (w === 0 || h === 0) continue;
    let prev: Uint8Array = new Uint8Array(rowBytes);
    for (let y = 0; y < h; y++) {
      const filter = raw[offset]!;
      const row = raw.subarray(offset + 1, offset + 1 + rowBytes);
      offset += rowBytes + 1;
      unfilter(filter, row, prev, filterUnit, () => bad(`illegal filter type ${filter} in row ${y}`));
      const yy = y0 + y * dy;
      for (let x = 0; x < w; x++) {
        const xx = x0 + x * dx;
        const dst = (yy * width + xx) * samples;
        for (let s = 0; s < samples; s++) full[dst + s] = readSample(row, x * samples + s, depth);
      }
      prev = row;
    }
  }
  return expandColour(full, width, height, depth, colourType, palette, trns, name);
}

/**
 * Inflates the concatenated IDAT data (a zlib stream) into exactly `expected` bytes, stopping
 * as soon as they are there. The deflate data goes to fflate's streaming inflater in slices of
 * about expected/1024 bytes (1–64 KiB): deflate expands at most ~1032:1, so the last slice can
 * overshoot the image by about its own size (or 1 MiB) at most, and a bomb is cut off there.
 * The zlib header is checked here; the Adler-32 trailer is never looked at.
 */
function inflateImageData(parts: readonly Uint8Array[], total: number, expected: number, bad: (p: string) => Error): Uint8Array {
  const raw = new Uint8Array(expected);
  let have = 0;
  const inflater = new Inflate((chunk) => {
    const n = Math.min(chunk.length, expected - have);
    if (n > 0) raw.set(chunk.subarray(0, n), have);
    have += n;
  });
  const slice = Math.min(65536, Math.max(1024, expected >> 10));
  const zlibHeader: number[] = [];
  let fed = 0;
  try {
    for (const part of parts) {
      let o = 0;
      while (zlibHeader.length < 2 && o < part.length) zlibHeader.push(part[o++]!);
      if (zlibHeader.length < 2) {
        fed += o;
        continue;
      }
      if (fed < 2) {
        const [cmf, flg] = zlibHeader as [number, number];
        if ((cmf & 15) !== 8 || cmf >> 4 > 7 || ((cmf << 8) | flg) % 31 !== 0) throw bad('corrupt image data (invalid zlib header)');
        if (flg & 32) throw bad('corrupt image data (zlib preset dictionary)');
        fed = 2;
      }
      for (; o < part.length && have < expected; o += slice) {
        const piece = part.subarray(o, Math.min(part.length, o + slice));
        fed += piece.length;
        inflater.push(piece, fed === total);
      }
      if (have >= expected) break;
    }
  } catch (e) {
    if (e instanceof CnnV3Error) throw e;
    if (have < expected) throw bad(`corrupt image data (${e instanceof Error ? e.message : String(e)})`);
  }
  if (have < expected) throw bad(`too little image data (${have} of ${expected} bytes)`);
  return raw;
}

function readSample(row: Uint8Array, index: number, depth: number): number {
  if (depth === 8) return row[index]!;
  if (depth === 16) return (row[index * 2]! << 8) | row[index * 2 + 1]!;
  const perByte = 8 / depth;
  const byte = row[Math.floor(index / perByte)]!;
  const shift = 8 - depth * ((index % perByte) + 1);
  return (byte >> shift) & ((1 << depth) - 1);
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

function unfilter(filter: number, row: Uint8Array, prev: Uint8Array, bpp: number, onBad: () => Error): void {
  const n = row.length;
  switch (filter) {
    case 0:
      return;
    case 1:
      for (let i = bpp; i < n; i++) row[i] = (row[i]! + row[i - bpp]!) & 0xff;
      return;
    case 2:
      for (let i = 0; i < n; i++) row[i] = (row[i]! + prev[i]!) & 0xff;
      return;
    case 3:
      for (let i = 0; i < n; i++) row[i] = (row[i]! + (((i >= bpp ? row[i - bpp]! : 0) + prev[i]!) >> 1)) & 0xff;
      return;
    case 4:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? row[i - bpp]! : 0;
        const c = i >= bpp ? prev[i - bpp]! : 0;
        row[i] = (row[i]! + paeth(a, prev[i]!, c)) & 0xff;
      }
      return;
    default:
      throw onBad();
  }
}

function expandColour(
  full: Uint8Array | Uint16Array,
  width: number,
  height: number,
  depth: number,
  colourType: number,
  palette: Uint8Array | undefined,
  trns: Uint8Array | undefined,
  name: string,
): Raster {
  const n = width * height;
  if (colourType === 3) {
    const entries = palette!.length / 3;
    const withAlpha = trns !== undefined;
    const c = withAlpha ? 4 : 3;
    const out = new Uint8Array(n * c);
    for (let p = 0; p < n; p++) {
      const idx = full[p]!;
      if (idx >= entries) throw fileError(name, `not a valid PNG: palette index ${idx} out of range (${entries} entries)`);
      out[p * c] = palette![idx * 3]!;
      out[p * c + 1] = palette![idx * 3 + 1]!;
      out[p * c + 2] = palette![idx * 3 + 2]!;
      if (withAlpha) out[p * c + 3] = idx < trns.length ? trns[idx]! : 255;
    }
    return { width, height, channels: c, depth: 8, data: out };
  }
  const samples = COLOUR_TYPES[colourType]!.samples;
  let data = full;
  let outDepth: 8 | 16 = depth === 16 ? 16 : 8;
  if (depth < 8) {
    const scale = 255 / ((1 << depth) - 1);
    data = new Uint8Array(full.length);
    for (let i = 0; i < full.length; i++) data[i] = full[i]! * scale;
    outDepth = 8;
  }
  // A tRNS colour key on gray or RGB becomes a real alpha channel.
  if (trns && (colourType === 0 || colourType === 2)) {
    const keyLen = colourType === 0 ? 1 : 3;
    if (trns.length >= keyLen * 2) {
      const key = Array.from({ length: keyLen }, (_, k) => (trns[k * 2]! << 8) | trns[k * 2 + 1]!);
      const c = (keyLen + 1) as Channels;
      const out = outDepth === 16 ? new Uint16Array(n * c) : new Uint8Array(n * c);
      const opaque = outDepth === 16 ? 65535 : 255;
      for (let p = 0; p < n; p++) {
        let match = true;
        for (let k = 0; k < keyLen; k++) {
          if (full[p * keyLen + k] !== key[k]) match = false;
          out[p * c + k] = data[p * keyLen + k]!;
        }
        out[p * c + keyLen] = match ? 0 : opaque;
      }
      return { width, height, channels: c, depth: outDepth, data: out };
    }
  }
  return { width, height, channels: samples as Channels, depth: outDepth, data };
}

const COLOUR_TYPE_OF: Record<Channels, number> = { 1: 0, 2: 4, 3: 2, 4: 6 };

/** Encodes a raster (8 or 16 bit, 1–4 channels) as a non-interlaced PNG with adaptive filters. */
export function encodePng(r: Raster): Uint8Array {
  const { width, height, channels, depth } = r;
  if (r.data.length !== width * height * channels) {
    throw new Error(`encodePng: data length ${r.data.length} does not match ${width}×${height}×${channels}`);
  }
  const bpp = channels * (depth / 8);
  const rowBytes = width * bpp;
  const raw = new Uint8Array(height * (rowBytes + 1));
  let prev = new Uint8Array(rowBytes);
  const cur = new Uint8Array(rowBytes);
  const cand = new Uint8Array(rowBytes);
  for (let y = 0; y < height; y++) {
    for (let i = 0, s = y * width * channels; i < rowBytes; s++) {
      const v = r.data[s]!;
      if (depth === 16) {
        cur[i++] = v >> 8;
        cur[i++] = v & 0xff;
      } else cur[i++] = v;
    }
    // Pick the filter with the smallest sum of absolute (signed) residuals: the usual heuristic.
    let bestScore = Infinity;
    const o = y * (rowBytes + 1);
    for (let f = 0; f <= 4; f++) {
      let score = 0;
      for (let i = 0; i < rowBytes; i++) {
        const a = i >= bpp ? cur[i - bpp]! : 0;
        const b = prev[i]!;
        const c = i >= bpp ? prev[i - bpp]! : 0;
        const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : paeth(a, b, c);
        const v = (cur[i]! - pred) & 0xff;
        cand[i] = v;
        score += v < 128 ? v : 256 - v;
      }
      if (score < bestScore) {
        bestScore = score;
        raw[o] = f;
        raw.set(cand, o + 1);
      }
    }
    prev = cur.slice();
  }
  const idat = zlibSync(raw, { level: 6 });
  const chunks: Array<[string, Uint8Array]> = [];
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr[8] = depth;
  ihdr[9] = COLOUR_TYPE_OF[channels];
  chunks.push(['IHDR', ihdr], ['IDAT', idat], ['IEND', new Uint8Array(0)]);
  const total = 8 + chunks.reduce((s, [, d]) => s + 12 + d.length, 0);
  const out = new Uint8Array(total);
  out.set(SIGNATURE, 0);
  let pos = 8;
  const odv = new DataView(out.buffer);
  for (const [type, data] of chunks) {
    odv.setUint32(pos, data.length);
    for (let k = 0; k < 4; k++) out[pos + 4 + k] = type.charCodeAt(k);
    out.set(data, pos + 8);
    odv.setUint32(pos + 8 + data.length, crc32(out, pos + 4, pos + 8 + data.length));
    pos += 12 + data.length;
  }
  return out;
}
