/**
 * PIZ decompression for OpenEXR: a bitmap of the 16-bit values present (range reduction through a
 * lookup table), a canonical Huffman code with run-length escapes, and a 2D Haar-like wavelet per
 * channel. Written from the OpenEXR file layout and the behaviour of the reference library;
 * browser-safe.
 */
import { isSampledLine, type ChunkLayout } from './decompress.js';
import { problem } from './problem.js';

const USHORT_RANGE = 1 << 16;
const BITMAP_SIZE = USHORT_RANGE >> 3;

const HUF_ENCSIZE = (1 << 16) + 1;
const HUF_DECBITS = 14;
const HUF_DECSIZE = 1 << HUF_DECBITS;
const HUF_DECMASK = HUF_DECSIZE - 1;
const SHORT_ZEROCODE_RUN = 59;
const LONG_ZEROCODE_RUN = 63;
const SHORTEST_LONG_RUN = 2 + LONG_ZEROCODE_RUN - SHORT_ZEROCODE_RUN;
/**
 * Code lengths above this are refused. A Huffman code of depth d needs more than Fibonacci(d+1)
 * symbols, so any chunk within the reader's limits has far shorter codes; the bound keeps every
 * bit buffer below 2^53, where numbers are exact.
 */
const MAX_CODE_LENGTH = 45;

const POW2: number[] = Array.from({ length: 64 }, (_, i) => 2 ** i);

export function undoPiz(src: Uint8Array, layout: ChunkLayout, what: string): Uint8Array {
  const corrupt = (why: string): never => problem(`${what}: corrupt PIZ data (${why})`);
  if (src.length < 4) corrupt('too short');
  const minNonZero = src[0]! | (src[1]! << 8);
  const maxNonZero = src[2]! | (src[3]! << 8);
  if (maxNonZero >= BITMAP_SIZE) corrupt(`bitmap range ${minNonZero} to ${maxNonZero}, past its ${BITMAP_SIZE} bytes`);
  const bitmap = new Uint8Array(BITMAP_SIZE);
  let p = 4;
  if (minNonZero <= maxNonZero) {
    const n = maxNonZero - minNonZero + 1;
    if (p + n > src.length) corrupt('bitmap past the end');
    bitmap.set(src.subarray(p, p + n), minNonZero);
    p += n;
  }
  const lut = new Uint16Array(USHORT_RANGE);
  const maxValue = reverseLutFromBitmap(bitmap, lut);

  if (p + 4 > src.length) corrupt('no Huffman length');
  const hufLength = (src[p]! | (src[p + 1]! << 8) | (src[p + 2]! << 16) | (src[p + 3]! << 24)) >>> 0;
  p += 4;
  if (p + hufLength > src.length) corrupt('Huffman data past the end');

  const data = new Uint16Array(layout.unpackedSize / 2);
  hufUncompress(src.subarray(p, p + hufLength), data, corrupt);

  let start = 0;
  const cursor: number[] = [];
  for (const ch of layout.channels) {
    const words = ch.size / 2;
    for (let j = 0; j < words; j++) wav2Decode(data, start + j, ch.nx, words, ch.ny, ch.nx * words, maxValue);
    cursor.push(start);
    start += ch.nx * ch.ny * words;
  }

  // Undo the range reduction while laying the channel planes out line by line, little-endian.
  const out = new Uint8Array(layout.unpackedSize);
  let o = 0;
  for (let y = layout.y0; y <= layout.y1; y++) {
    for (let c = 0; c < layout.channels.length; c++) {
      const ch = layout.channels[c]!;
      if (ch.ny === 0 || !isSampledLine(y, ch.ySampling)) continue;
      const s = cursor[c]!;
      const e = s + (ch.nx * ch.size) / 2;
      for (let i = s; i < e; i++) {
        const v = lut[data[i]!]!;
        out[o++] = v & 0xff;
        out[o++] = v >>> 8;
      }
      cursor[c] = e;
    }
  }
  return out;
}

/** lut[k] = the k-th value present (0 always is); returns the largest k in use. */
function reverseLutFromBitmap(bitmap: Uint8Array, lut: Uint16Array): number {
  let k = 0;
  for (let i = 0; i < USHORT_RANGE; i++) {
    if (i === 0 || bitmap[i >> 3]! & (1 << (i & 7))) lut[k++] = i;
  }
  const n = k - 1;
  lut.fill(0, k);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Wavelet: the inverse of the encoder's 2D transform, level by level from the coarsest

/** Inverse of the 14-bit wavelet step (no modulo): (l, h) → a | b << 16. */
function wdec14(l: number, h: number): number {
  const ls = (l << 16) >> 16;
  const hs = (h << 16) >> 16;
  const ai = ls + (hs & 1) + (hs >> 1);
  return (ai & 0xffff) | (((ai - hs) & 0xffff) << 16);
}

/** Inverse of the 16-bit (modulo) wavelet step: (l, h) → a | b << 16. */
function wdec16(l: number, h: number): number {
  const bb = (l - (h >> 1)) & 0xffff;
  return ((h + bb - 0x8000) & 0xffff) | (bb << 16);
}

function wav2Decode(buf: Uint16Array, base: number, nx: number, ox: number, ny: number, oy: number, mx: number): void {
  const dec = mx < 1 << 14 ? wdec14 : wdec16;
  const n = nx > ny ? ny : nx;
  let p = 1;
  while (p <= n) p <<= 1;
  p >>= 1;
  let p2 = p;
  p >>= 1;

  while (p >= 1) {
    let py = base;
    const ey = base + oy * (ny - p2);
    const oy1 = oy * p;
    const oy2 = oy * p2;
    const ox1 = ox * p;
    const ox2 = ox * p2;
    for (; py <= ey; py += oy2) {
      let px = py;
      const ex = py + ox * (nx - p2);
      for (; px <= ex; px += ox2) {
        const p01 = px + ox1;
        const p10 = px + oy1;
        const p11 = p10 + ox1;
        const r0 = dec(buf[px]!, buf[p10]!); // → i00, i10
        const r1 = dec(buf[p01]!, buf[p11]!); // → i01, i11
        const r2 = dec(r0 & 0xffff, r1 & 0xffff);
        const r3 = dec(r0 >>> 16, r1 >>> 16);
        buf[px] = r2;
        buf[p01] = r2 >>> 16;
        buf[p10] = r3;
        buf[p11] = r3 >>> 16;
      }
      if (nx & p) {
        const p10 = px + oy1;
        const r = dec(buf[px]!, buf[p10]!);
        buf[px] = r;
        buf[p10] = r >>> 16;
      }
    }
    if (ny & p) {
      let px = py;
      const ex = py + ox * (nx - p2);
      for (; px <= ex; px += ox2) {
        const p01 = px + ox1;
        const r = dec(buf[px]!, buf[p01]!);
        buf[px] = r;
        buf[p01] = r >>> 16;
      }
    }
    p2 = p;
    p >>= 1;
  }
}

// ---------------------------------------------------------------------------------------------
// Huffman: 20-byte header (min symbol, max symbol, table length, bit count, 0), the packed code
// lengths, then the bit stream (most significant bit first). The largest symbol is the run escape:
// it is followed by 8 bits, the number of extra copies of the previous value.

/** Decodes a Huffman block (PIZ's, and DWA's AC coefficients) into exactly `out.length` values. */
export function hufUncompress(src: Uint8Array, out: Uint16Array, corrupt: (why: string) => never): void {
  if (src.length < 20) {
    if (out.length !== 0) corrupt('Huffman header missing');
    return;
  }
  const u32 = (o: number) => (src[o]! | (src[o + 1]! << 8) | (src[o + 2]! << 16) | (src[o + 3]! << 24)) >>> 0;
  const im = u32(0);
  const iM = u32(4);
  const nBits = u32(12);
  if (im >= HUF_ENCSIZE || iM >= HUF_ENCSIZE) corrupt('Huffman symbol range');
  const dataBytes = Math.ceil(nBits / 8);
  if (20 + dataBytes > src.length) corrupt('Huffman bit count past the end');

  const lengths = new Uint8Array(HUF_ENCSIZE);
  const codes = new Float64Array(HUF_ENCSIZE);
  const tableEnd = unpackEncTable(src, 20, im, iM, lengths, corrupt);
  canonicalCodes(lengths, codes, corrupt);
  const stream = src.subarray(tableEnd);
  if (dataBytes > stream.length) corrupt('Huffman bit count past the end');

  // Decoding table: short codes fill every entry they prefix; long ones list candidates.
  const decLen = new Uint8Array(HUF_DECSIZE);
  const decSym = new Int32Array(HUF_DECSIZE);
  const decLong: (number[] | undefined)[] = new Array<number[] | undefined>(HUF_DECSIZE);
  for (let sym = im; sym <= iM; sym++) {
    const l = lengths[sym]!;
    if (l === 0) continue;
    const c = codes[sym]!;
    if (c >= POW2[l]!) corrupt('Huffman code does not fit its length');
    if (l > HUF_DECBITS) {
      const idx = Math.floor(c / POW2[l - HUF_DECBITS]!);
      if (decLen[idx]) corrupt('Huffman long code under a short one');
      (decLong[idx] ??= []).push(sym);
    } else {
      const first = c * (1 << (HUF_DECBITS - l));
      const count = 1 << (HUF_DECBITS - l);
      for (let i = first; i < first + count; i++) {
        if (decLen[i] || decLong[i]) corrupt('Huffman codes overlap');
        decLen[i] = l;
        decSym[i] = sym;
      }
    }
  }

  // Second level for long codes: under each 14-bit prefix, a table indexed by the next bits up
  // to the longest code there, while those tables stay small; else a search through the list.
  const decSub: (Int32Array | undefined)[] = new Array<Int32Array | undefined>(HUF_DECSIZE);
  const decSubBits = new Uint8Array(HUF_DECSIZE);
  let subEntries = 0;
  for (let idx = 0; idx < HUF_DECSIZE; idx++) {
    const list = decLong[idx];
    if (!list) continue;
    let longest = 0;
    for (const sym of list) longest = Math.max(longest, lengths[sym]!);
    const bits = longest - HUF_DECBITS;
    if (bits > 12 || subEntries + (1 << bits) > 1 << 20) continue;
    const table = new Int32Array(1 << bits).fill(-1);
    for (const sym of list) {
      const l = lengths[sym]!;
      const suffix = codes[sym]! - idx * POW2[l - HUF_DECBITS]!;
      const first = suffix * (1 << (longest - l));
      table.fill((sym << 6) | l, first, first + (1 << (longest - l)));
    }
    decSub[idx] = table;
    decSubBits[idx] = bits;
    subEntries += 1 << bits;
  }

  // Plain locals (no closures over them) keep the hot loop fast.
  const rlc = iM;
  const nOut = out.length;
  const end = dataBytes;
  let o = 0;
  // Bit buffer: the low `lc` bits of `c` are unread (c < 2^lc always, lc ≤ 53).
  let c = 0;
  let lc = 0;
  let ip = 0;
  let tail = false;
  for (;;) {
    let sym: number;
    let len: number;
    if (!tail) {
      if (lc < HUF_DECBITS) {
        if (ip < end) {
          c = c * 256 + stream[ip++]!;
          lc += 8;
          continue;
        }
        // The last byte's padding bits are not part of the stream.
        const pad = (8 - (nBits % 8)) % 8;
        if (pad > lc) corrupt('Huffman bit count');
        c = Math.floor(c / POW2[pad]!);
        lc -= pad;
        tail = true;
        continue;
      }
      const idx = lc <= 31 ? (c >>> (lc - HUF_DECBITS)) & HUF_DECMASK : Math.floor(c / POW2[lc - HUF_DECBITS]!) & HUF_DECMASK;
      len = decLen[idx]!;
      if (len) {
        sym = decSym[idx]!;
      } else {
        sym = -1;
        const sub = decSub[idx];
        if (sub) {
          const longest = HUF_DECBITS + decSubBits[idx]!;
          while (lc < longest && ip < end) {
            c = c * 256 + stream[ip++]!;
            lc += 8;
          }
          if (lc >= longest) {
            const top = lc <= 31 ? c >>> (lc - longest) : Math.floor(c / POW2[lc - longest]!);
            const e = sub[top & (sub.length - 1)]!;
            if (e < 0) corrupt('invalid Huffman code');
            sym = e >>> 6;
            len = e & 63;
          }
        }
        if (sym < 0) {
          const candidates = decLong[idx];
          if (!candidates) corrupt('invalid Huffman code');
          for (const cand of candidates) {
            const l = lengths[cand]!;
            while (lc < l && ip < end) {
              c = c * 256 + stream[ip++]!;
              lc += 8;
            }
            if (lc >= l && Math.floor(c / POW2[lc - l]!) === codes[cand]) {
              sym = cand;
              len = l;
              break;
            }
          }
          if (sym < 0) corrupt('invalid Huffman code');
        }
      }
    } else {
      if (lc <= 0) break;
      const idx = (c * (1 << (HUF_DECBITS - lc))) & HUF_DECMASK;
      len = decLen[idx]!;
      if (!len || len > lc) corrupt('invalid Huffman code at the end');
      sym = decSym[idx]!;
    }
    lc -= len;
    c = lc <= 30 ? c & ((1 << lc) - 1) : c % POW2[lc]!;
    if (sym !== rlc) {
      if (o >= nOut) corrupt('more values than the chunk holds');
      out[o++] = sym;
      continue;
    }
    // The run escape: 8 more bits say how many extra copies of the previous value follow.
    if (lc < 8) {
      if (ip >= end) corrupt('run length past the end');
      c = c * 256 + stream[ip++]!;
      lc += 8;
    }
    lc -= 8;
    const run = Math.floor(c / POW2[lc]!) & 0xff;
    c = lc <= 30 ? c & ((1 << lc) - 1) : c % POW2[lc]!;
    if (o + run > nOut) corrupt('run past the end of the output');
    if (o === 0) corrupt('run with no value before it');
    out.fill(out[o - 1]!, o, o + run);
    o += run;
  }
  if (o !== nOut) corrupt(`${o} values decoded, expected ${nOut}`);
}

/** Code lengths, 6 bits each from `start`, with zero runs packed as 59..62 and 63 + 8 bits. */
function unpackEncTable(
  src: Uint8Array,
  start: number,
  im: number,
  iM: number,
  lengths: Uint8Array,
  corrupt: (why: string) => never,
): number {
  let p = start;
  let c = 0;
  let lc = 0;
  const bits = (n: number): number => {
    while (lc < n) {
      if (p >= src.length) corrupt('Huffman table past the end');
      c = ((c << 8) | src[p++]!) & 0xffffff;
      lc += 8;
    }
    lc -= n;
    return (c >> lc) & ((1 << n) - 1);
  };
  for (let sym = im; sym <= iM; sym++) {
    const l = bits(6);
    if (l === LONG_ZEROCODE_RUN) {
      const run = bits(8) + SHORTEST_LONG_RUN;
      if (sym + run > iM + 1) corrupt('Huffman table zero run too long');
      lengths.fill(0, sym, sym + run);
      sym += run - 1;
    } else if (l >= SHORT_ZEROCODE_RUN) {
      const run = l - SHORT_ZEROCODE_RUN + 2;
      if (sym + run > iM + 1) corrupt('Huffman table zero run too long');
      lengths.fill(0, sym, sym + run);
      sym += run - 1;
    } else {
      if (l > MAX_CODE_LENGTH) corrupt(`a Huffman code of ${l} bits; the longest allowed is ${MAX_CODE_LENGTH}`);
      lengths[sym] = l;
    }
  }
  return p;
}

/**
 * Canonical codes from lengths: longer codes take the numerically lower values; within one
 * length, codes increase with the symbol.
 */
function canonicalCodes(lengths: Uint8Array, codes: Float64Array, corrupt: (why: string) => never): void {
  const n = new Float64Array(MAX_CODE_LENGTH + 1);
  for (let i = 0; i < HUF_ENCSIZE; i++) n[lengths[i]!]!++;
  let c = 0;
  for (let l = MAX_CODE_LENGTH; l > 0; l--) {
    const next = Math.floor((c + n[l]!) / 2);
    n[l] = c;
    c = next;
  }
  for (let i = 0; i < HUF_ENCSIZE; i++) {
    const l = lengths[i]!;
    if (l > 0) {
      codes[i] = n[l]!;
      n[l]!++;
    }
  }
  if (!Number.isSafeInteger(c)) corrupt('Huffman table');
}
