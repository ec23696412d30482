/**
 * Chunk decompression for OpenEXR: RLE, ZIPS/ZIP, PXR24 and B44/B44A (PIZ is in piz.ts, DWAA/DWAB
 * in dwa.ts).
 * Every decoder returns the chunk's pixels in the file's uncompressed layout: for each line of
 * the chunk, for each channel sampled on that line (channel-list order), that channel's samples
 * for the line, little-endian. Browser-safe: no Node imports.
 */
import { unzlibSync } from 'fflate';
import { fromHalfBits, toHalfBits } from '../util/half.js';
import { problem } from './problem.js';

export const PIXEL_UINT = 0;
export const PIXEL_HALF = 1;
export const PIXEL_FLOAT = 2;

/** One channel as it appears in one chunk. */
export interface ChunkChannel {
  /** The channel's full name (DWA picks each channel's codec by its name). */
  name: string;
  /** 0 UINT, 1 HALF, 2 FLOAT. */
  type: number;
  /** Bytes per sample: 2 (HALF) or 4. */
  size: number;
  xSampling: number;
  ySampling: number;
  pLinear: boolean;
  /** Samples on each line of the chunk that carries this channel. */
  nx: number;
  /** Lines of the chunk that carry this channel. */
  ny: number;
}

/** The pixel rectangle of one chunk (inclusive, absolute coordinates) and its channels. */
export interface ChunkLayout {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  channels: ChunkChannel[];
  /** Size of the uncompressed pixel data, in bytes. */
  unpackedSize: number;
}

/** Floor division for a positive divisor. */
function floorDiv(a: number, b: number): number {
  return Math.floor(a / b);
}

/** How many multiples of s lie in [a, b]. */
export function numSamples(s: number, a: number, b: number): number {
  return b < a ? 0 : floorDiv(b, s) - floorDiv(a - 1, s);
}

export function isSampledLine(y: number, ySampling: number): boolean {
  return y % ySampling === 0;
}

export function chunkLayout(
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  channels: ReadonlyArray<{ name?: string; type: number; xSampling: number; ySampling: number; pLinear: boolean }>,
): ChunkLayout {
  let unpackedSize = 0;
  const out = channels.map((ch) => {
    const size = ch.type === PIXEL_HALF ? 2 : 4;
    const nx = numSamples(ch.xSampling, x0, x1);
    const ny = numSamples(ch.ySampling, y0, y1);
    unpackedSize += nx * ny * size;
    return { name: ch.name ?? '', type: ch.type, size, xSampling: ch.xSampling, ySampling: ch.ySampling, pLinear: ch.pLinear, nx, ny };
  });
  return { x0, y0, x1, y1, channels: out, unpackedSize };
}

// ---------------------------------------------------------------------------------------------
// zlib, and the byte predictor + interleave that RLE and ZIP(S) undo after decompressing

export function inflateExact(src: Uint8Array, size: number, what: string): Uint8Array {
  // fflate stops silently when the output buffer is full: one spare byte tells "exactly size"
  // from "more", and bounds what a bomb can make.
  const out = new Uint8Array(size + 1);
  let got: Uint8Array;
  try {
    got = unzlibSync(src, { out });
  } catch (e) {
    problem(`${what}: corrupt zlib data (${e instanceof Error ? e.message : String(e)})`);
  }
  if (got.length > size) problem(`${what}: zlib data inflates to more than ${size} bytes`);
  if (got.length !== size) problem(`${what}: zlib data inflates to ${got.length} bytes, expected ${size}`);
  return got;
}

/**
 * Undoes the compressor's preprocessing: each byte was stored as the difference to the one
 * before plus 128, after splitting the data into its even bytes followed by its odd bytes.
 */
export function unpredictAndDeinterleave(t: Uint8Array): Uint8Array {
  const n = t.length;
  const out = new Uint8Array(n);
  const half = (n + 1) >> 1;
  let prev = 128; // the first byte is stored as is
  for (let i = 0; i < half; i++) {
    prev = (prev + t[i]! - 128) & 0xff;
    out[2 * i] = prev;
  }
  for (let i = half; i < n; i++) {
    prev = (prev + t[i]! - 128) & 0xff;
    out[2 * (i - half) + 1] = prev;
  }
  return out;
}

export function undoZip(src: Uint8Array, layout: ChunkLayout, what: string): Uint8Array {
  return unpredictAndDeinterleave(inflateExact(src, layout.unpackedSize, what));
}

/** Run-length code: a signed count byte; negative: that many literal bytes follow; else count+1 copies of the next byte. */
export function undoRle(src: Uint8Array, layout: ChunkLayout, what: string): Uint8Array {
  return unpredictAndDeinterleave(unRle(src, layout.unpackedSize, what));
}

/** The run-length code alone, decoding to exactly `size` bytes. */
export function unRle(src: Uint8Array, size: number, what: string): Uint8Array {
  const t = new Uint8Array(size);
  let p = 0;
  let o = 0;
  while (p < src.length) {
    const n = (src[p++]! << 24) >> 24;
    if (n < 0) {
      const count = -n;
      if (p + count > src.length) problem(`${what}: RLE literal run past the end of the data`);
      if (o + count > size) problem(`${what}: RLE data decodes to more than ${size} bytes`);
      t.set(src.subarray(p, p + count), o);
      p += count;
      o += count;
    } else {
      const count = n + 1;
      if (p >= src.length) problem(`${what}: RLE repeat run past the end of the data`);
      if (o + count > size) problem(`${what}: RLE data decodes to more than ${size} bytes`);
      t.fill(src[p++]!, o, o + count);
      o += count;
    }
  }
  if (o !== size) problem(`${what}: RLE data decodes to ${o} bytes, expected ${size}`);
  return t;
}

// ---------------------------------------------------------------------------------------------
// PXR24: zlib over per-line, per-channel byte planes of differences; FLOAT kept as 24 bits

export function undoPxr24(src: Uint8Array, layout: ChunkLayout, what: string): Uint8Array {
  let packed = 0;
  for (const ch of layout.channels) packed += ch.nx * ch.ny * (ch.type === PIXEL_FLOAT ? 3 : ch.size);
  const t = inflateExact(src, packed, what);
  const out = new Uint8Array(layout.unpackedSize);
  let ip = 0;
  let op = 0;
  for (let y = layout.y0; y <= layout.y1; y++) {
    for (const ch of layout.channels) {
      if (ch.ny === 0 || !isSampledLine(y, ch.ySampling)) continue;
      const w = ch.nx;
      if (ch.type === PIXEL_HALF) {
        let pixel = 0;
        for (let x = 0; x < w; x++) {
          pixel = (pixel + ((t[ip + x]! << 8) | t[ip + w + x]!)) & 0xffff;
          out[op++] = pixel & 0xff;
          out[op++] = pixel >>> 8;
        }
        ip += 2 * w;
      } else {
        const planes = ch.type === PIXEL_UINT ? 4 : 3;
        let pixel = 0;
        for (let x = 0; x < w; x++) {
          let diff = ((t[ip + x]! << 24) | (t[ip + w + x]! << 16) | (t[ip + 2 * w + x]! << 8)) >>> 0;
          if (planes === 4) diff = (diff | t[ip + 3 * w + x]!) >>> 0;
          pixel = (pixel + diff) >>> 0;
          out[op++] = pixel & 0xff;
          out[op++] = (pixel >>> 8) & 0xff;
          out[op++] = (pixel >>> 16) & 0xff;
          out[op++] = pixel >>> 24;
        }
        ip += planes * w;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// B44 / B44A: HALF channels in 4×4 blocks of 14 bytes (or 3 for a flat block); others raw

/** The 16 halves of a 14-byte block: a start value, a shift, and 15 six-bit running differences. */
function unpack14(b: Uint8Array, p: number, s: Uint16Array): void {
  const s0 = (b[p]! << 8) | b[p + 1]!;
  const shift = b[p + 2]! >> 2;
  const bias = 0x20 << shift;
  const b2 = b[p + 2]!;
  const b3 = b[p + 3]!;
  const b4 = b[p + 4]!;
  const b5 = b[p + 5]!;
  const b6 = b[p + 6]!;
  const b7 = b[p + 7]!;
  const b8 = b[p + 8]!;
  const b9 = b[p + 9]!;
  const b10 = b[p + 10]!;
  const b11 = b[p + 11]!;
  const b12 = b[p + 12]!;
  const b13 = b[p + 13]!;
  // Column 0 runs down from s0; each row then runs right from its column-0 value.
  const s4 = step(s0, (b2 << 4) | (b3 >> 4), shift, bias);
  const s8 = step(s4, (b3 << 2) | (b4 >> 6), shift, bias);
  const s12 = step(s8, b4, shift, bias);
  const s1 = step(s0, b5 >> 2, shift, bias);
  const s5 = step(s4, (b5 << 4) | (b6 >> 4), shift, bias);
  const s9 = step(s8, (b6 << 2) | (b7 >> 6), shift, bias);
  const s13 = step(s12, b7, shift, bias);
  const s2 = step(s1, b8 >> 2, shift, bias);
  const s6 = step(s5, (b8 << 4) | (b9 >> 4), shift, bias);
  const s10 = step(s9, (b9 << 2) | (b10 >> 6), shift, bias);
  const s14 = step(s13, b10, shift, bias);
  const s3 = step(s2, b11 >> 2, shift, bias);
  const s7 = step(s6, (b11 << 4) | (b12 >> 4), shift, bias);
  const s11 = step(s10, (b12 << 2) | (b13 >> 6), shift, bias);
  const s15 = step(s14, b13, shift, bias);
  s[0] = fromOrdered(s0);
  s[1] = fromOrdered(s1);
  s[2] = fromOrdered(s2);
  s[3] = fromOrdered(s3);
  s[4] = fromOrdered(s4);
  s[5] = fromOrdered(s5);
  s[6] = fromOrdered(s6);
  s[7] = fromOrdered(s7);
  s[8] = fromOrdered(s8);
  s[9] = fromOrdered(s9);
  s[10] = fromOrdered(s10);
  s[11] = fromOrdered(s11);
  s[12] = fromOrdered(s12);
  s[13] = fromOrdered(s13);
  s[14] = fromOrdered(s14);
  s[15] = fromOrdered(s15);
}

/** One running difference: 6 bits, scaled by the block's shift, biased by 32 << shift (16-bit wrap). */
function step(prev: number, d: number, shift: number, bias: number): number {
  return (prev + ((d & 0x3f) << shift) - bias) & 0xffff;
}

/** The encoder maps halves to integers ordered like the floats; this is the inverse. */
function fromOrdered(t: number): number {
  return t & 0x8000 ? t & 0x7fff : ~t & 0xffff;
}

let b44Log: Uint16Array | undefined;
/**
 * B44 of a pLinear channel: the writer stores exp(h / 8) of each half h (rounded to a half), so
 * that its 6-bit differences fall evenly over a log-like channel; the reader maps the decoded
 * half v back to 8 · ln v. Computed as OpenEXR computes it: in single precision (logf), the
 * result rounded to the nearest half (ties to even); NaN, infinities and negative values (but
 * not −0) decode to 0, and ±0 to −infinity.
 */
function b44LogTable(): Uint16Array {
  if (b44Log) return b44Log;
  const t = new Uint16Array(65536);
  for (let h = 0; h < 65536; h++) {
    if ((h & 0x7c00) === 0x7c00 || h > 0x8000) continue; // 0
    t[h] = toHalfBits(Math.fround(8 * Math.fround(Math.log(fromHalfBits(h)))));
  }
  b44Log = t;
  return t;
}

export function undoB44(src: Uint8Array, layout: ChunkLayout, what: string): Uint8Array {
  const planes: Uint8Array[] = [];
  const s = new Uint16Array(16);
  let p = 0;
  for (const ch of layout.channels) {
    const { nx, ny } = ch;
    const nBytes = nx * ny * ch.size;
    const plane = new Uint8Array(nBytes);
    planes.push(plane);
    if (nBytes === 0) continue;
    if (ch.type !== PIXEL_HALF) {
      if (p + nBytes > src.length) problem(`${what}: B44 data ends early`);
      plane.set(src.subarray(p, p + nBytes));
      p += nBytes;
      continue;
    }
    const log = ch.pLinear ? b44LogTable() : undefined;
    for (let y = 0; y < ny; y += 4) {
      for (let x = 0; x < nx; x += 4) {
        if (p + 3 > src.length) problem(`${what}: B44 data ends early`);
        if (src[p + 2]! >= 13 << 2) {
          const v = fromOrdered((src[p]! << 8) | src[p + 1]!);
          s.fill(v);
          p += 3;
        } else {
          if (p + 14 > src.length) problem(`${what}: B44 data ends early`);
          unpack14(src, p, s);
          p += 14;
        }
        if (log) for (let i = 0; i < 16; i++) s[i] = log[s[i]!]!;
        const bw = Math.min(4, nx - x);
        const bh = Math.min(4, ny - y);
        for (let j = 0; j < bh; j++) {
          let o = ((y + j) * nx + x) * 2;
          for (let i = 0; i < bw; i++) {
            const v = s[j * 4 + i]!;
            plane[o++] = v & 0xff;
            plane[o++] = v >>> 8;
          }
        }
      }
    }
  }
  return interleavePlanes(planes, layout);
}

/** Channel planes (each channel's lines one after another) back to the line-by-line layout. */
export function interleavePlanes(planes: Uint8Array[], layout: ChunkLayout): Uint8Array {
  const out = new Uint8Array(layout.unpackedSize);
  const row = layout.channels.map(() => 0);
  let op = 0;
  for (let y = layout.y0; y <= layout.y1; y++) {
    for (let c = 0; c < layout.channels.length; c++) {
      const ch = layout.channels[c]!;
      if (ch.ny === 0 || !isSampledLine(y, ch.ySampling)) continue;
      const bpl = ch.nx * ch.size;
      const start = row[c]! * bpl;
      out.set(planes[c]!.subarray(start, start + bpl), op);
      op += bpl;
      row[c]!++;
    }
  }
  return out;
}
