import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CnnV3Error } from '../src/errors.js';
import { toRgba8, type Raster } from '../src/image/image.js';
import { decodePng, encodePng } from '../src/image/png.js';
import { decodeImage } from '../src/image/decode.js';
import { chunk, idat, iend, ihdr, png } from './png-fixtures.js';
import { maxAbsDiff, pilRaw, pilRgba, requireTool, SKIMAGE_DATA, SYSTEM_PYTHON, tempDir } from './helpers.js';

test('decodes every PNG Debian ships with scikit-image exactly as PIL does', (t) => {
  if (!requireTool(t, SKIMAGE_DATA, 'python3-skimage')) return;
  const files = readdirSync(SKIMAGE_DATA).filter((f) => f.endsWith('.png'));
  assert.ok(files.length >= 25, `found ${files.length} PNGs`);
  const kinds = new Set<string>();
  for (const f of files) {
    const path = join(SKIMAGE_DATA, f);
    const mine = decodePng(readFileSync(path), f);
    kinds.add(`${mine.channels}ch/${mine.depth}bit`);
    const pil = pilRgba(path);
    assert.equal(mine.width, pil.width, f);
    assert.equal(mine.height, pil.height, f);
    assert.equal(maxAbsDiff(toRgba8(mine), pil.data), 0, f);
  }
  // The set covers gray, palette (expanded to RGB/RGBA), RGBA, 16-bit RGB, 1-bit gray.
  for (const k of ['1ch/8bit', '3ch/8bit', '4ch/8bit', '3ch/16bit']) assert.ok(kinds.has(k), `no ${k} among ${[...kinds]}`);
});

function pattern(width: number, height: number, channels: Raster['channels'], depth: 8 | 16): Raster {
  const n = width * height * channels;
  const data = depth === 16 ? new Uint16Array(n) : new Uint8Array(n);
  const max = depth === 16 ? 65535 : 255;
  for (let i = 0; i < n; i++) data[i] = (i * 2654435761) % (max + 1);
  return { width, height, channels, depth, data };
}

test('encoded PNGs decode to the same samples here and in PIL (every channel count, 8 and 16 bit)', (t) => {
  const pil = requireTool(t, SYSTEM_PYTHON, 'python3') && requireTool(t, SKIMAGE_DATA, 'python3-skimage');
  const dir = tempDir(t);
  for (const depth of [8, 16] as const) {
    for (const channels of [1, 2, 3, 4] as const) {
      const r = pattern(7, 5, channels, depth);
      const bytes = encodePng(r);
      const back = decodePng(bytes, 'x.png');
      assert.equal(back.channels, channels);
      assert.equal(back.depth, depth);
      assert.deepEqual(Array.from(back.data), Array.from(r.data));
      if (!pil || (depth === 16 && channels !== 1)) continue; // PIL has no 16-bit RGB(A) mode
      const file = join(dir, `p${depth}_${channels}.png`);
      writeFileSync(file, bytes);
      const raw = pilRaw(file);
      assert.equal(raw.width, 7);
      assert.deepEqual(raw.values, Array.from(r.data), `${depth}-bit ${channels}ch via PIL (${raw.mode})`);
    }
  }
});



test('Adam7 interlacing, palette with tRNS, and colour-key transparency', () => {
  // 3×3 gray, interlaced: passes 1 (0,0), 4 (2,0)... build raw data per pass by hand.
  // Pixel value = 10·y + x. Pass layout for 3×3: p1 (0,0); p2 none (x0=4); p3 none (y0=4);
  // p4 (2,0); p5 (0,2),(2,2); p6 (1,0),(1,2); p7 rows 1: (0,1),(1,1),(2,1).
  const v = (x: number, y: number) => 10 * y + x;
  const raw = [0, v(0, 0), 0, v(2, 0), 0, v(0, 2), v(2, 2), 0, v(1, 0), 0, v(1, 2), 0, v(0, 1), v(1, 1), v(2, 1)];
  const r = decodePng(png(ihdr(3, 3, 8, 0, 1), idat(raw), iend()), 'adam7.png');
  assert.deepEqual(Array.from(r.data), [0, 1, 2, 10, 11, 12, 20, 21, 22]);

  const plte = chunk('PLTE', new Uint8Array([255, 0, 0, 0, 255, 0]));
  const trns = chunk('tRNS', new Uint8Array([128]));
  const pal = decodePng(png(ihdr(2, 1, 8, 3), plte, trns, idat([0, 0, 1]), iend()), 'pal.png');
  assert.equal(pal.channels, 4);
  assert.deepEqual(Array.from(pal.data), [255, 0, 0, 128, 0, 255, 0, 255]);

  const key = chunk('tRNS', new Uint8Array([0, 7]));
  const gk = decodePng(png(ihdr(2, 1, 8, 0), key, idat([0, 7, 9]), iend()), 'key.png');
  assert.equal(gk.channels, 2);
  assert.deepEqual(Array.from(gk.data), [7, 0, 9, 255]);

  // 2-bit gray scales to 8 bits: 0,1,2,3 → 0,85,170,255.
  const g2 = decodePng(png(ihdr(4, 1, 2, 0), idat([0, 0b00011011]), iend()), 'g2.png');
  assert.deepEqual(Array.from(g2.data), [0, 85, 170, 255]);
});

test('bad PNGs fail with one message naming the file', () => {
  const good = png(ihdr(2, 1, 8, 0), idat([0, 1, 2]), iend());
  const expectError = (bytes: Uint8Array, re: RegExp) =>
    assert.throws(
      () => decodeImage(bytes, 'bad.png'),
      (e: unknown) => e instanceof CnnV3Error && e.message.startsWith('bad.png: ') && re.test(e.message),
    );
  assert.equal(decodePng(good, 'good.png').width, 2);
  expectError(new Uint8Array(0), /empty file/);
  expectError(new TextEncoder().encode('hello, not an image'), /not a PNG or JPEG/);
  const crc = good.slice();
  crc[8 + 25 - 1]! ^= 1; // last CRC byte of IHDR
  expectError(crc, /bad CRC in chunk IHDR/);
  for (let cut = 9; cut < good.length - 12; cut += 3) expectError(good.subarray(0, cut), /not a valid PNG/);
  expectError(png(ihdr(2, 1, 16, 3), idat([0, 0, 0]), iend()), /illegal bit depth 16 for colour type 3/);
  expectError(png(ihdr(2, 1, 8, 5), idat([0, 0, 0]), iend()), /illegal colour type 5/);
  expectError(png(ihdr(2, 1, 8, 0), idat([5, 1, 2]), iend()), /illegal filter type 5/);
  expectError(png(ihdr(2, 1, 8, 0), idat([0, 1]), iend()), /too little image data/);
  const plte = chunk('PLTE', new Uint8Array([1, 2, 3]));
  expectError(png(ihdr(2, 1, 8, 3), plte, idat([0, 0, 4]), iend()), /palette index 4 out of range/);
  expectError(png(ihdr(2 ** 31, 2 ** 31, 8, 0), iend()), /exceeds the limit/);
  expectError(png(ihdr(0, 1, 8, 0), iend()), /empty/);
  expectError(png(ihdr(2, 1, 8, 0), iend()), /no image data/);
});

test('JPEG photos decode; a truncated JPEG is refused by name', (t) => {
  if (!requireTool(t, SKIMAGE_DATA, 'python3-skimage')) return;
  const rocket = decodeImage(readFileSync(join(SKIMAGE_DATA, 'rocket.jpg')), 'rocket.jpg');
  assert.equal(rocket.width, 640);
  assert.equal(rocket.height, 427);
  // JPEG decoders differ in IDCT and chroma upsampling by a few levels; the picture is the same.
  const pil = pilRgba(join(SKIMAGE_DATA, 'rocket.jpg'));
  assert.ok(maxAbsDiff(toRgba8(rocket), pil.data) <= 8);
  assert.throws(
    () => decodeImage(readFileSync(join(SKIMAGE_DATA, 'truncated.jpg')), 'truncated.jpg'),
    /^CnnV3Error: truncated\.jpg: not a valid JPEG/,
  );
});
