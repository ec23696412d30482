/**
 * DWAA / DWAB decompression for OpenEXR (DreamWorks' lossy codec; the two differ only in lines
 * per chunk, 32 and 256). Written from the OpenEXR library's decoder (ImfDwaCompressor.cpp and
 * OpenEXRCore's internal_dwa_*.h), to decode the same halves it does. Browser-safe.
 *
 * A chunk is 11 little-endian 64-bit counters, then (version 2) the writer's channel rules, then
 * four sections: UNKNOWN (zlib), AC (Huffman as in PIZ, or zlib), DC (zlib, then the ZIP
 * codec's byte predictor and interleave) and RLE (zlib, then run-length). Each channel's scheme
 * comes from the rules, matched on the last `.`-separated part of its name and its pixel type:
 * R, G, B, Y, BY, RY → LOSSY_DCT (R, G, B of one layer together, as Y'CbCr), A → RLE, anything
 * else → UNKNOWN (stored, zlib). LOSSY_DCT channels are 8×8 blocks of DCT coefficients, halves
 * in zig-zag order, AC run-length coded; the decoder runs the inverse DCT in single precision
 * in the order the library's AVX code does (the x86-64 path on any CPU with AVX), the inverse
 * BT.709 colour transform, rounds to half, and maps the perceptual half back to linear light
 * through a table (not for pLinear channels decoded alone).
 */
import { fromHalfBits, toHalfBits } from '../util/half.js';
import { inflateExact, interleavePlanes, PIXEL_FLOAT, PIXEL_HALF, unpredictAndDeinterleave, unRle, type ChunkLayout } from './decompress.js';
import { hufUncompress } from './piz.js';
import { problem } from './problem.js';

const UNKNOWN = 0;
const LOSSY_DCT = 1;
const RLE = 2;

interface Rule {
  suffix: string;
  scheme: number;
  /** 0, 1, 2: the R, G, B of a colour set; −1: none. */
  csc: number;
  caseInsensitive: boolean;
  /** 0 UINT, 1 HALF, 2 FLOAT. */
  type: number;
}

/** The rules a version 0 or 1 chunk implies (version 2 writes its own). */
const LEGACY_RULES: Rule[] = (
  [
    ['r', LOSSY_DCT, 0],
    ['red', LOSSY_DCT, 0],
    ['g', LOSSY_DCT, 1],
    ['grn', LOSSY_DCT, 1],
    ['green', LOSSY_DCT, 1],
    ['b', LOSSY_DCT, 2],
    ['blu', LOSSY_DCT, 2],
    ['blue', LOSSY_DCT, 2],
    ['y', LOSSY_DCT, -1],
    ['by', LOSSY_DCT, -1],
    ['ry', LOSSY_DCT, -1],
    ['a', RLE, -1],
  ] as const
).flatMap(([suffix, scheme, csc]) =>
  (scheme === RLE ? [0, 1, 2] : [1, 2]).map((type) => ({ suffix, scheme, csc, caseInsensitive: true, type })),
);

const NUM_COUNTERS = 11;

export function undoDwa(src: Uint8Array, layout: ChunkLayout, what: string): Uint8Array {
  const corrupt = (why: string): never => problem(`${what}: corrupt DWA data (${why})`);
  if (src.length < NUM_COUNTERS * 8) corrupt(`${src.length} bytes, shorter than its ${NUM_COUNTERS * 8}-byte header`);
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const counter = (i: number): number => {
    const hi = view.getUint32(i * 8 + 4, true);
    // Sizes beyond 2^31 are past any chunk this reader accepts.
    if (hi !== 0) corrupt(`counter ${i} is ${hi >= 0x80000000 ? 'negative' : 'too large'}`);
    return view.getUint32(i * 8, true);
  };
  const version = counter(0);
  const unknownUncompressed = counter(1);
  const unknownCompressed = counter(2);
  const acCompressed = counter(3);
  const dcCompressed = counter(4);
  const rleCompressed = counter(5);
  const rleUncompressed = counter(6);
  const rleRaw = counter(7);
  const acCount = counter(8);
  const dcCount = counter(9);
  const acCompression = counter(10);
  if (version > 2) corrupt(`unknown version ${version}`);

  let p = NUM_COUNTERS * 8;
  let rules = LEGACY_RULES;
  if (version === 2) {
    if (p + 2 > src.length) corrupt('the channel rules are cut off');
    const ruleSize = view.getUint16(p, true);
    if (ruleSize < 2 || p + ruleSize > src.length) corrupt(`channel rules of ${ruleSize} bytes`);
    rules = readRules(src.subarray(p + 2, p + ruleSize), corrupt);
    p += ruleSize;
  }
  const total = unknownCompressed + acCompressed + dcCompressed + rleCompressed;
  if (p + total > src.length) corrupt(`its sections need ${total} bytes after the header, the chunk has ${src.length - p}`);
  const unknownData = src.subarray(p, (p += unknownCompressed));
  const acData = src.subarray(p, (p += acCompressed));
  const dcData = src.subarray(p, (p += dcCompressed));
  const rleData = src.subarray(p, (p += rleCompressed));

  // Each channel's scheme, and the R, G, B sets by layer prefix (in order of first appearance).
  const chans = layout.channels;
  const scheme = chans.map(() => UNKNOWN);
  const prefixes = new Map<string, [number, number, number]>();
  chans.forEach((ch, c) => {
    const dot = ch.name.lastIndexOf('.');
    const suffix = ch.name.slice(dot + 1);
    const prefix = ch.name.slice(0, dot + 1);
    let set = prefixes.get(prefix);
    if (!set) prefixes.set(prefix, (set = [-1, -1, -1]));
    for (const rule of rules) {
      if (rule.type !== ch.type) continue;
      const match = rule.caseInsensitive ? suffix.toLowerCase() === rule.suffix.toLowerCase() : suffix === rule.suffix;
      if (!match) continue;
      scheme[c] = rule.scheme;
      if (rule.csc >= 0) set[rule.csc] = c;
    }
  });
  const cscSets: Array<[number, number, number]> = [];
  for (const set of prefixes.values()) {
    if (set.some((c) => c < 0)) continue;
    const [r, g, b] = set.map((c) => chans[c]!);
    if (r!.xSampling !== g!.xSampling || r!.xSampling !== b!.xSampling) continue;
    if (r!.ySampling !== g!.ySampling || r!.ySampling !== b!.ySampling) continue;
    cscSets.push(set);
  }

  const planeSize = chans.map((ch) => ch.nx * ch.ny * ch.size);
  const needed = (s: number) => chans.reduce((sum, _ch, c) => sum + (scheme[c] === s ? planeSize[c]! : 0), 0);
  const checkSection = (name: string, s: number, compressed: number, raw: number, extra = 0) => {
    const need = needed(s);
    if (need > 0 ? raw < need || compressed === 0 : raw > 0 || compressed > 0 || extra > 0) {
      corrupt(`the ${name} section holds ${raw} bytes (${compressed} compressed) for channels that need ${need}`);
    }
  };
  checkSection('UNKNOWN', UNKNOWN, unknownCompressed, unknownUncompressed);
  checkSection('RLE', RLE, rleCompressed, rleRaw, rleUncompressed);
  if (unknownUncompressed + rleRaw > layout.unpackedSize) corrupt('sections larger than the chunk');

  // At most one DC and 63 AC values per 8×8 block of each lossy channel (bounds what is inflated).
  const blocks = chans.reduce((sum, ch, c) => sum + (scheme[c] === LOSSY_DCT ? Math.ceil(ch.nx / 8) * Math.ceil(ch.ny / 8) : 0), 0);
  if (acCount > 63 * blocks) corrupt(`${acCount} AC values for ${blocks} blocks`);
  if (dcCount > blocks) corrupt(`${dcCount} DC values for ${blocks} blocks`);
  const unknown = unknownCompressed > 0 ? inflateExact(unknownData, unknownUncompressed, `${what} (DWA UNKNOWN)`) : new Uint8Array(0);
  let ac: Uint16Array = new Uint16Array(0);
  if (acCompressed > 0) {
    if (acCompression === 0) {
      ac = new Uint16Array(acCount);
      hufUncompress(acData, ac, (why) => corrupt(`AC: ${why}`));
    } else if (acCompression === 1) {
      ac = u16s(inflateExact(acData, acCount * 2, `${what} (DWA AC)`));
    } else {
      corrupt(`unknown AC compression ${acCompression}`);
    }
  }
  let dc: Uint16Array = new Uint16Array(0);
  if (dcCompressed > 0) {
    dc = u16s(unpredictAndDeinterleave(inflateExact(dcData, dcCount * 2, `${what} (DWA DC)`)));
  } else if (dcCount !== 0) {
    corrupt(`${dcCount} DC values and no DC data`);
  }
  let rle: Uint8Array = new Uint8Array(0);
  if (rleRaw > 0) {
    if (rleUncompressed > 2 * rleRaw + 64) corrupt(`${rleUncompressed} bytes of RLE data for ${rleRaw}`);
    rle = unRle(inflateExact(rleData, rleUncompressed, `${what} (DWA RLE)`), rleRaw, `${what} (DWA RLE)`);
  }

  const planes = chans.map((_ch, c) => new Uint8Array(planeSize[c]!));
  const stream: DctStream = { ac, acPos: 0, dc, dcPos: 0, corrupt };
  const done = chans.map(() => false);
  for (const set of cscSets) {
    if (set.some((c) => scheme[c] !== LOSSY_DCT)) corrupt('a colour set of channels that are not all lossy');
    const [r] = set.map((c) => chans[c]!);
    decodeDct(stream, set.map((c) => ({ plane: planes[c]!, type: chans[c]!.type })), r!.nx, r!.ny, true);
    for (const c of set) done[c] = true;
  }
  let unknownPos = 0;
  let rlePos = 0;
  chans.forEach((ch, c) => {
    if (done[c] || ch.nx === 0 || ch.ny === 0) return;
    const n = ch.nx * ch.ny;
    if (scheme[c] === LOSSY_DCT) {
      if (ch.type !== PIXEL_HALF && ch.type !== PIXEL_FLOAT) corrupt(`lossy coding of UINT channel "${ch.name}"`);
      decodeDct(stream, [{ plane: planes[c]!, type: ch.type }], ch.nx, ch.ny, !ch.pLinear);
    } else if (scheme[c] === RLE) {
      // Byte planes: every sample's first byte, then every sample's second byte, …
      const plane = planes[c]!;
      if (rlePos + n * ch.size > rle.length) corrupt('RLE data ends early');
      for (let b = 0; b < ch.size; b++) {
        const from = rlePos + b * n;
        for (let i = 0; i < n; i++) plane[i * ch.size + b] = rle[from + i]!;
      }
      rlePos += n * ch.size;
    } else {
      if (unknownPos + planeSize[c]! > unknown.length) corrupt('UNKNOWN data ends early');
      planes[c]!.set(unknown.subarray(unknownPos, unknownPos + planeSize[c]!));
      unknownPos += planeSize[c]!;
    }
  });
  return interleavePlanes(planes, layout);
}

function u16s(bytes: Uint8Array): Uint16Array {
  const out = new Uint16Array(bytes.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = bytes[2 * i]! | (bytes[2 * i + 1]! << 8);
  return out;
}

/** Version 2 rules: each a NUL-terminated suffix, a byte (csc index + 1, scheme, case flag) and a pixel type. */
function readRules(b: Uint8Array, corrupt: (why: string) => never): Rule[] {
  const rules: Rule[] = [];
  let p = 0;
  while (p < b.length) {
    let end = p;
    while (end < b.length && b[end] !== 0) end++;
    if (end - p > 128 || end + 3 > b.length) corrupt('a channel rule is cut off');
    const suffix = new TextDecoder().decode(b.subarray(p, end));
    const value = b[end + 1]!;
    const type = b[end + 2]!;
    const csc = (value >> 4) - 1;
    const scheme = (value >> 2) & 3;
    if (csc >= 3 || scheme > RLE || type > 2) corrupt(`channel rule "${suffix}"`);
    rules.push({ suffix, scheme, csc, caseInsensitive: (value & 1) === 1, type });
    p = end + 3;
  }
  return rules;
}

// ---------------------------------------------------------------------------------------------
// LOSSY_DCT

interface DctStream {
  ac: Uint16Array;
  acPos: number;
  dc: Uint16Array;
  dcPos: number;
  corrupt: (why: string) => never;
}

/** Natural (row-major) position → zig-zag position. */
const ZIGZAG = [
  0, 1, 5, 6, 14, 15, 27, 28, 2, 4, 7, 13, 16, 26, 29, 42, 3, 8, 12, 17, 25, 30, 41, 43, 9, 11, 18, 24, 31, 40, 44, 53, 10,
  19, 23, 32, 39, 45, 52, 54, 20, 22, 33, 38, 46, 51, 55, 60, 21, 34, 37, 47, 50, 56, 59, 61, 35, 36, 48, 49, 57, 58, 62, 63,
];

const fr = Math.fround;
const A = fr(3.535536e-1);
const B = fr(4.903927e-1);
const C = fr(4.619398e-1);
const D = fr(4.157349e-1);
const E = fr(2.777855e-1);
const F = fr(1.913422e-1);
const G = fr(9.754573e-2);
/** The row pass's matrices, column by column: M1 (even inputs) and M2 (odd inputs). */
const M1 = [
  [A, A, A, A],
  [C, F, -F, -C],
  [A, -A, -A, A],
  [F, -C, C, -F],
];
const M2 = [
  [B, D, E, G],
  [D, -G, -B, -E],
  [E, -B, G, D],
  [G, -E, D, -B],
];

let toLinearTable: Uint16Array | undefined;
/**
 * Perceptual half → linear half: x^2.2 up to 1, e^(2.2·(x − 1)) above (sign kept); 0, NaN and
 * infinities → 0. As the library computes it: powf in single precision, rounded to half.
 */
function toLinear(): Uint16Array {
  if (toLinearTable) return toLinearTable;
  const t = new Uint16Array(65536);
  const base = fr(Math.pow(2.7182818, 2.2));
  const gamma = fr(2.2);
  for (let h = 1; h < 65536; h++) {
    if ((h & 0x7c00) === 0x7c00) continue;
    const v = fromHalfBits(h);
    const a = Math.abs(v);
    const z = a <= 1 ? fr(Math.pow(a, gamma)) : fr(Math.pow(base, fr(a - 1)));
    t[h] = toHalfBits(v < 0 ? -z : z);
  }
  toLinearTable = t;
  return t;
}

let halfFloats: Float32Array | undefined;
function halfToFloat(): Float32Array {
  if (halfFloats) return halfFloats;
  halfFloats = Float32Array.from({ length: 65536 }, (_, h) => fromHalfBits(h));
  return halfFloats;
}

/**
 * One or three channels (a colour set: Y', Cb, Cr → R', G', B') of nx × ny samples from the AC
 * and DC streams into their planes (little-endian HALF, or FLOAT holding the half's value).
 */
function decodeDct(
  s: DctStream,
  comps: Array<{ plane: Uint8Array; type: number }>,
  nx: number,
  ny: number,
  linear: boolean,
): void {
  const n = comps.length;
  const bx = Math.ceil(nx / 8);
  const by = Math.ceil(ny / 8);
  const blocks = bx * by;
  if (s.dcPos + n * blocks > s.dc.length) s.corrupt(`${s.dc.length} DC values, fewer than the blocks need`);
  const h2f = halfToFloat();
  const lut = linear ? toLinear() : undefined;
  const zig = new Uint16Array(64);
  const data = comps.map(() => new Float32Array(64));
  const halves = comps.map(() => new Uint16Array(64));
  const dcBase = s.dcPos;
  s.dcPos += n * blocks;
  const ac = s.ac;
  for (let yb = 0; yb < by; yb++) {
    for (let xb = 0; xb < bx; xb++) {
      for (let k = 0; k < n; k++) {
        zig.fill(0);
        zig[0] = s.dc[dcBase + k * blocks + yb * bx + xb]!;
        // AC: values as they are; 0xffNN skips NN zeros (0xff00: the rest of the block).
        let i = 1;
        let last = 0;
        while (i < 64) {
          if (s.acPos >= ac.length) s.corrupt('AC data ends early');
          const v = ac[s.acPos++]!;
          if ((v & 0xff00) === 0xff00) {
            const run = v & 0xff;
            i += run === 0 ? 64 : run;
          } else {
            zig[i] = v;
            last = i++;
          }
        }
        const d = data[k]!;
        if (last === 0) {
          d.fill(fr(fr(h2f[zig[0]!]! * A) * A));
        } else {
          for (let j = 0; j < 64; j++) d[j] = h2f[zig[ZIGZAG[j]!]!]!;
          idct(d, zeroedRows(last));
        }
      }
      if (n === 3) csc709Inverse(data[0]!, data[1]!, data[2]!);
      for (let k = 0; k < n; k++) {
        const d = data[k]!;
        const h = halves[k]!;
        for (let j = 0; j < 64; j++) h[j] = toHalfBits(d[j]!);
        const { plane, type } = comps[k]!;
        const w = Math.min(8, nx - xb * 8);
        const hgt = Math.min(8, ny - yb * 8);
        for (let y = 0; y < hgt; y++) {
          const row = yb * 8 + y;
          for (let x = 0; x < w; x++) {
            let v = h[y * 8 + x]!;
            if (lut) v = lut[v]!;
            const i = row * nx + xb * 8 + x;
            if (type === PIXEL_HALF) {
              plane[2 * i] = v & 0xff;
              plane[2 * i + 1] = v >>> 8;
            } else {
              f32[0] = h2f[v]!;
              plane.set(f32Bytes, 4 * i);
            }
          }
        }
      }
    }
  }
}
const f32 = new Float32Array(1);
const f32Bytes = new Uint8Array(f32.buffer);

/** How many trailing rows of coefficients are zero, from the last non-zero zig-zag index. */
function zeroedRows(last: number): number {
  if (last < 2) return 7;
  if (last < 3) return 6;
  if (last < 9) return 5;
  if (last < 10) return 4;
  if (last < 20) return 3;
  if (last < 21) return 2;
  if (last < 35) return 1;
  return 0;
}

function csc709Inverse(r: Float32Array, g: Float32Array, b: Float32Array): void {
  const k0 = fr(1.5747);
  const k1 = fr(0.1873);
  const k2 = fr(0.4682);
  const k3 = fr(1.8556);
  for (let i = 0; i < 64; i++) {
    const y = r[i]!;
    const cb = g[i]!;
    const cr = b[i]!;
    r[i] = y + fr(k0 * cr);
    g[i] = fr(y - fr(k1 * cb)) - fr(k2 * cr);
    b[i] = y + fr(k3 * cb);
  }
}

/**
 * The inverse 8×8 DCT as the library's AVX code computes it: single precision, its order of
 * additions, and the rows it skips when the last `z` rows of coefficients are zero (a skipped
 * row's terms are left out, not added as zeros, which matters for the sign of a zero result).
 */
function idct(d: Float32Array, z: number): void {
  const live = 8 - z; // rows 0 … live−1 may be non-zero
  // Rows: even = (v0·M1₀ + v2·M1₁) + (v4·M1₂ + v6·M1₃), odd likewise with M2; out k = even + odd,
  // out 7−k = even − odd. Rows are done in pairs, so a pair's zero second row is computed too.
  for (let r = 0; r < 8; r++) {
    if ((r & ~1) >= live) break;
    const o = r * 8;
    const v0 = d[o]!;
    const v1 = d[o + 1]!;
    const v2 = d[o + 2]!;
    const v3 = d[o + 3]!;
    const v4 = d[o + 4]!;
    const v5 = d[o + 5]!;
    const v6 = d[o + 6]!;
    const v7 = d[o + 7]!;
    for (let k = 0; k < 4; k++) {
      const even = fr(fr(fr(v0 * M1[0]![k]!) + fr(v2 * M1[1]![k]!)) + fr(fr(v4 * M1[2]![k]!) + fr(v6 * M1[3]![k]!)));
      const odd = fr(fr(fr(v1 * M2[0]![k]!) + fr(v3 * M2[1]![k]!)) + fr(fr(v5 * M2[2]![k]!) + fr(v7 * M2[3]![k]!)));
      rowOut[k] = even + odd;
      rowOut[7 - k] = even - odd;
    }
    d.set(rowOut, o);
  }
  if (z === 7) {
    for (let j = 0; j < 8; j++) {
      const v = fr(d[j]! * A);
      for (let r = 0; r < 8; r++) d[r * 8 + j] = v;
    }
    return;
  }
  const on = (row: number) => row < live;
  const on2 = on(2);
  const on3 = on(3);
  const on4 = on(4);
  const on5 = on(5);
  const on6 = on(6);
  const on7 = on(7);
  for (let j = 0; j < 8; j++) {
    const r0 = d[j]!;
    const r1 = d[8 + j]!;
    const r2 = d[16 + j]!;
    const r3 = d[24 + j]!;
    const r4 = d[32 + j]!;
    const r5 = d[40 + j]!;
    const r6 = d[48 + j]!;
    const r7 = d[56 + j]!;
    // Odd outputs.
    let o0 = fr(r1 * B);
    let t = 0;
    if (on3) o0 = fr(o0 + fr(r3 * D));
    if (on5) t = fr(r5 * E);
    if (on7) t = fr(t + fr(r7 * G));
    if (on5) o0 = fr(o0 + t);

    let o1 = fr(r1 * D);
    if (on3) {
      let u = fr(r3 * G);
      if (on5) u = fr(u + fr(r5 * B));
      o1 = fr(o1 - u);
    }
    if (on7) o1 = fr(o1 - fr(r7 * E));

    let o2 = fr(r1 * E);
    if (on3) o2 = fr(o2 - fr(r3 * B));
    if (on5) o2 = fr(o2 + fr(r5 * G));
    if (on7) o2 = fr(o2 + fr(r7 * D));

    let o3 = fr(r1 * G);
    if (on5) o3 = fr(o3 + fr(r5 * D));
    if (on3) {
      let u = fr(r3 * E);
      if (on7) u = fr(u + fr(r7 * B));
      o3 = fr(o3 - u);
    }
    // Even outputs.
    let plus = fr(r0 * A);
    let minus = plus;
    if (on4) {
      const a4 = fr(r4 * A);
      plus = fr(plus + a4);
      minus = fr(minus - a4);
    }
    let e0 = plus;
    let e3 = plus;
    let e1 = minus;
    let e2 = minus;
    if (on2) {
      let q = fr(r2 * C);
      if (on6) q = fr(q + fr(r6 * F));
      e0 = fr(plus + q);
      e3 = fr(plus - q);
      let s = fr(r2 * F);
      if (on6) s = fr(s - fr(r6 * C));
      e1 = fr(minus + s);
      e2 = fr(minus - s);
    }
    d[j] = e0 + o0;
    d[8 + j] = e1 + o1;
    d[16 + j] = e2 + o2;
    d[24 + j] = e3 + o3;
    d[32 + j] = e3 - o3;
    d[40 + j] = e2 - o2;
    d[48 + j] = e1 - o1;
    d[56 + j] = e0 - o0;
  }
}
const rowOut = new Float32Array(8);
