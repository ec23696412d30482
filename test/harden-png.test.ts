// Issue 9 (hostile PNGs): sizes, bombs, CRCs, truncation, illegal headers, IDAT policy.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { zlibSync } from 'fflate';
import { CnnV3Error } from '../src/errors.js';
import type { Raster } from '../src/image/image.js';
import { decodePng, encodePng } from '../src/image/png.js';
import { skimage } from './helpers.js';
import { cat, chunk, idat, iend, ihdr, png } from './png-fixtures.js';

function refuses(bytes: Uint8Array, re: RegExp, file = 'bad.png'): void {
  assert.throws(
    () => decodePng(bytes, file),
    (e: unknown) => {
      assert.ok(e instanceof CnnV3Error, `a CnnV3Error, got ${String(e)}`);
      assert.ok(e.message.startsWith(`${file}: `), `names the file: ${e.message}`);
      assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
      assert.match(e.message, re);
      return true;
    },
  );
}

/**
 * A zlib stream that inflates to `1 + 258·8·groups` zero bytes from about 13·groups bytes:
 * fixed-Huffman literal 0, then (length 258, distance 1) over and over — each pair is
 * 8 + 5 = 13 bits for 258 bytes.
 */
function zeroBomb(groups: number): Uint8Array {
  const bits: number[] = [];
  const put = (v: number, n: number) => {
    for (let i = 0; i < n; i++) bits.push((v >> i) & 1);
  };
  // Huffman codes go most significant bit first.
  const code = (v: number, n: number) => {
    for (let i = n - 1; i >= 0; i--) bits.push((v >> i) & 1);
  };
  put(0, 1); // BFINAL = 0: a final empty block follows
  put(1, 2); // BTYPE = 01, fixed Huffman
  code(0x30, 8); // literal 0
  const head = bits.length; // 11 bits
  for (let g = 0; g < 8; g++) {
    code(0b11000101, 8); // length symbol 285 = 258
    code(0, 5); // distance code 0 = 1
  }
  const group = bits.slice(head);
  // Written bit by bit: fast enough for a few MB.
  const total = head + 104 * groups + 7 + 8;
  const out = new Uint8Array(2 + Math.ceil(total / 8) + 4);
  out[0] = 0x78;
  out[1] = 0x01;
  let p = 16;
  const w = (bit: number) => {
    if (bit) out[p >> 3]! |= 1 << (p & 7);
    p++;
  };
  for (let i = 0; i < head; i++) w(bits[i]!);
  for (let g = 0; g < groups; g++) for (let i = 0; i < 104; i++) w(group[i]!);
  // End of block (symbol 256 = 7 zero bits) in a final empty fixed block.
  for (let i = 0; i < 7; i++) w(0);
  w(1); // BFINAL
  w(1);
  w(0); // fixed
  for (let i = 0; i < 7; i++) w(0); // end of block
  return out.subarray(0, Math.ceil(p / 8) + 4);
}

test('a tiny file declaring 2^31×2^31 is refused before anything is allocated', () => {
  const t0 = performance.now();
  refuses(png(ihdr(2 ** 31, 2 ** 31, 16, 6), idat([0]), iend()), /image size 2147483648×2147483648 exceeds the limit/);
  refuses(png(ihdr(0xffffffff, 1, 8, 0), idat([0]), iend()), /exceeds the limit/);
  refuses(png(ihdr(32768, 32768, 8, 0), idat([0]), iend()), /exceeds the limit \(32768 per side, 134217728 pixels\)/);
  assert.ok(performance.now() - t0 < 100);
});

test('an IDAT decompression bomb in a 1×1 image stops at the image size (time and memory stay small)', () => {
  // 2 MB of deflate data that would inflate to ~320 MB.
  const groups = 160_000;
  const bomb = zeroBomb(groups);
  assert.ok(bomb.length < 2_200_000);
  const file = png(ihdr(1, 1, 8, 0), chunk('IDAT', bomb), iend());
  const mem0 = process.memoryUsage().arrayBuffers;
  const t0 = performance.now();
  const r = decodePng(file, 'bomb.png');
  const ms = performance.now() - t0;
  assert.deepEqual([r.width, r.height, r.channels, Array.from(r.data)], [1, 1, 1, [0]]);
  // Inflating the whole stream takes ~1 s; stopping after the first slice, well under 100 ms.
  assert.ok(ms < 150, `took ${ms.toFixed(0)} ms`);
  assert.ok(process.memoryUsage().arrayBuffers - mem0 < 16 << 20, 'no large buffers kept');
});

test('the same bomb in zTXt, iTXt or iCCP is never inflated', () => {
  const bomb = zeroBomb(160_000);
  const good = [ihdr(1, 1, 8, 0), idat([0, 7])];
  const latin = (s: string) => new TextEncoder().encode(s);
  for (const [type, prefix] of [
    ['zTXt', latin('Comment\0\0')],
    ['iTXt', latin('Comment\0\x01\0\0\0')],
    ['iCCP', latin('icc\0\0')],
  ] as const) {
    const t0 = performance.now();
    const r = decodePng(png(good[0]!, chunk(type, cat(prefix, bomb)), good[1]!, iend()), `${type}.png`);
    assert.equal(r.data[0], 7);
    assert.ok(performance.now() - t0 < 150, type);
  }
});

test('IDAT policy: more data than the image needs, trailing garbage, no Adler-32 — accepted; the image is its rows', () => {
  const rows = [0, 1, 2, 0, 3, 4]; // 2×2 gray, filter 0
  const want = [1, 2, 3, 4];
  const decode = (data: Uint8Array) => Array.from(decodePng(png(ihdr(2, 2, 8, 0), chunk('IDAT', data), iend()), 'x.png').data);
  // Extra rows inside the zlib stream (a deflate block bigger than the output buffer used to
  // be a RangeError inside fflate: "corrupt image data (offset is out of bounds)").
  assert.deepEqual(decode(zlibSync(new Uint8Array([...rows, ...new Array<number>(100_000).fill(9)]), { level: 0 })), want);
  assert.deepEqual(decode(zlibSync(new Uint8Array([...rows, 0, 5, 6]))), want);
  // Garbage after the end of the zlib stream, and a stream without its checksum.
  const z = zlibSync(new Uint8Array(rows));
  assert.deepEqual(decode(cat(z, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))), want);
  assert.deepEqual(decode(z.subarray(0, z.length - 4)), want);
  // IDAT split at every byte across chunks still decodes.
  const split = [...z].map((b) => chunk('IDAT', new Uint8Array([b])));
  assert.deepEqual(Array.from(decodePng(png(ihdr(2, 2, 8, 0), ...split, iend()), 'x.png').data), want);
  // Too little data, or damage before the image is complete, is refused.
  refuses(png(ihdr(2, 2, 8, 0), idat(rows.slice(0, 5)), iend()), /too little image data \(5 of 6 bytes\)/);
  refuses(png(ihdr(2, 2, 8, 0), chunk('IDAT', z.subarray(0, 5)), iend()), /corrupt image data|too little image data/);
  refuses(png(ihdr(2, 2, 8, 0), chunk('IDAT', new Uint8Array([0x78, 0x01, 0xff, 0xff, 0xff, 0xff])), iend()), /corrupt image data/);
  refuses(png(ihdr(2, 2, 8, 0), chunk('IDAT', new Uint8Array([1, 2, 3])), iend()), /corrupt image data \(invalid zlib header\)/);
  // Interlaced: each pass's rows count.
  refuses(png(ihdr(3, 3, 8, 0, 1), idat([0, 1, 0, 2]), iend()), /too little image data \(4 of 15 bytes\)/);
});

test('a bad CRC in a critical chunk is an error; in an ancillary chunk the chunk is skipped', () => {
  const plte = chunk('PLTE', new Uint8Array([10, 20, 30]));
  const text = chunk('tEXt', new TextEncoder().encode('a\0b'));
  const parts = [ihdr(1, 1, 8, 3), text, plte, idat([0, 0]), iend()];
  assert.deepEqual(Array.from(decodePng(png(...parts), 'ok.png').data), [10, 20, 30]);
  const damaged = (i: number) => parts.map((p, k) => (k === i ? Uint8Array.from(p, (b, j) => (j === p.length - 1 ? b ^ 0x80 : b)) : p));
  refuses(png(...damaged(0)), /bad CRC in chunk IHDR/);
  refuses(png(...damaged(2)), /bad CRC in chunk PLTE/);
  refuses(png(...damaged(3)), /bad CRC in chunk IDAT/);
  refuses(png(...damaged(4)), /bad CRC in chunk IEND/);
  assert.deepEqual(Array.from(decodePng(png(...damaged(1)), 'ok.png').data), [10, 20, 30]);
  // A damaged data byte (not the CRC) is caught the same way.
  const flip = png(...parts);
  flip[8 + 25 + 15 + 8]! ^= 1; // first data byte of PLTE
  refuses(flip, /bad CRC in chunk PLTE/);
});

function everyPrefixRefused(whole: Uint8Array, file: string): void {
  assert.equal(decodePng(whole, file).width > 0, true);
  for (let cut = 0; cut < whole.length; cut++) refuses(whole.subarray(0, cut), /not a PNG file|not a valid PNG/, file);
}

test('truncation at every byte of an encoded image is refused (including just before IEND)', () => {
  const r: Raster = { width: 5, height: 3, channels: 3, depth: 8, data: Uint8Array.from({ length: 45 }, (_, i) => (i * 37) & 255) };
  everyPrefixRefused(encodePng(r), 'enc.png');
  const g16: Raster = { width: 4, height: 4, channels: 1, depth: 16, data: Uint16Array.from({ length: 16 }, (_, i) => i * 4099) };
  everyPrefixRefused(encodePng(g16), 'g16.png');
  // Bytes after IEND are ignored, as every decoder does.
  const withTail = cat(encodePng(r), new Uint8Array([1, 2, 3]));
  assert.deepEqual(Array.from(decodePng(withTail, 'tail.png').data), Array.from(r.data));
});

test('truncation at every byte of real palette and 1-bit PNGs is refused', (t) => {
  for (const f of ['palette_color.png', 'checker_bilevel.png', 'foo3x5x4indexed.png']) {
    const path = skimage(t, f);
    if (!path) return;
    everyPrefixRefused(readFileSync(join(path)), f);
  }
});

test('every illegal bit depth / colour type pair is refused; every legal one decodes', () => {
  const legal: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
  const samples: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
  for (let ct = 0; ct <= 8; ct++) {
    for (const depth of [0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 16, 32, 255]) {
      const ok = legal[ct]?.includes(depth) ?? false;
      const rowBytes = ok ? Math.ceil((depth * samples[ct]!) / 8) : 1;
      const file = png(ihdr(1, 1, depth, ct), chunk('PLTE', new Uint8Array([1, 2, 3])), idat(new Uint8Array(1 + rowBytes)), iend());
      if (ok) assert.equal(decodePng(file, 'ok.png').width, 1, `ct ${ct} depth ${depth}`);
      else refuses(file, legal[ct] ? new RegExp(`illegal bit depth ${depth} for colour type ${ct}`) : new RegExp(`illegal colour type ${ct}`));
    }
  }
  const withIhdr = (patch: (d: Uint8Array) => void) => {
    const d = ihdr(1, 1, 8, 0).slice(8, 21);
    patch(d);
    return png(chunk('IHDR', d), idat([0, 0]), iend());
  };
  refuses(withIhdr((d) => (d[10] = 1)), /unknown compression method 1/);
  refuses(withIhdr((d) => (d[11] = 1)), /unknown filter method 1/);
  refuses(withIhdr((d) => (d[12] = 2)), /unknown interlace method 2/);
  refuses(png(chunk('IHDR', new Uint8Array(12)), iend()), /IHDR has the wrong length/);
  refuses(png(ihdr(1, 1, 8, 0), ihdr(1, 1, 8, 0), idat([0, 0]), iend()), /more than one IHDR/);
  refuses(png(idat([0, 0]), ihdr(1, 1, 8, 0), iend()), /first chunk is not IHDR/);
  refuses(png(ihdr(1, 1, 8, 3), idat([0, 0]), iend()), /palette image without PLTE/);
  refuses(png(ihdr(1, 1, 8, 3), chunk('PLTE', new Uint8Array(4)), idat([0, 0]), iend()), /PLTE has an illegal length/);
  refuses(png(ihdr(1, 1, 8, 0), chunk('ABCD', new Uint8Array(1)), idat([0, 0]), iend()), /unknown critical chunk ABCD/);
  // A chunk length with the top bit set, or past the end of the file.
  const huge = chunk('tEXt', new Uint8Array(1));
  new DataView(huge.buffer).setUint32(0, 0x80000000);
  refuses(png(ihdr(1, 1, 8, 0), huge, iend()), /chunk "tEXt" at byte 33 runs past the end of the file/);
});

test('filter bytes above 4, palette indices out of range', () => {
  for (const f of [5, 6, 127, 255]) refuses(png(ihdr(2, 2, 8, 0), idat([0, 1, 2, f, 3, 4]), iend()), new RegExp(`illegal filter type ${f} in row 1`));
  // Interlaced: the row counts within its pass.
  refuses(png(ihdr(1, 1, 8, 0, 1), idat([9, 0]), iend()), /illegal filter type 9 in row 0/);
  const plte2 = chunk('PLTE', new Uint8Array([1, 1, 1, 2, 2, 2]));
  refuses(png(ihdr(2, 1, 4, 3), plte2, idat([0, 0x1f]), iend()), /palette index 15 out of range \(2 entries\)/);
  refuses(png(ihdr(8, 1, 1, 3), chunk('PLTE', new Uint8Array([5, 5, 5])), idat([0, 0x01]), iend()), /palette index 1 out of range \(1 entries\)/);
  // With tRNS too.
  refuses(png(ihdr(1, 1, 8, 3), plte2, chunk('tRNS', new Uint8Array([0, 0, 0, 0])), idat([0, 2]), iend()), /palette index 2 out of range/);
});
