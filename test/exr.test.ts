/**
 * The OpenEXR reader against files written by real tools: oiiotool (openimageio-tools), the
 * OpenEXR utilities (openexr: exrmaketiled, exrmultipart, exrstdattr, exrmakepreview,
 * exrmultiview, exrheader) and, for what none of them writes (subsampled channels, deep data,
 * double attributes), a few lines of C++ against the OpenEXR library itself (g++,
 * libopenexr-dev). Every fixture is made at run time in a temp dir from values the test chose.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test, type TestContext } from 'node:test';
import { CnnV3Error } from '../src/errors.js';
import {
  channelInDisplayWindow,
  EXR_LIMITS,
  isExr,
  listExrParts,
  readExr,
  type ExrImage,
  type ExrTileDescription,
} from '../src/exr/exr.js';
import { roundToHalf } from '../src/util/half.js';
import { attributeValue, offsetTable, withAttribute } from './exr-fixtures.js';
import { requireTool } from './helpers.js';
import { Rng } from '../src/util/rng.js';

const OIIOTOOL = '/usr/bin/oiiotool';
const EXRHEADER = '/usr/bin/exrheader';
const EXRMAKETILED = '/usr/bin/exrmaketiled';
const EXRMULTIPART = '/usr/bin/exrmultipart';
const EXRSTDATTR = '/usr/bin/exrstdattr';
const EXRMAKEPREVIEW = '/usr/bin/exrmakepreview';
const EXRMULTIVIEW = '/usr/bin/exrmultiview';
const GXX = '/usr/bin/g++';
const OPENEXR_HEADERS = '/usr/include/OpenEXR/ImfOutputFile.h';

function tools(t: TestContext): boolean {
  return requireTool(t, OIIOTOOL, 'openimageio-tools') && requireTool(t, EXRHEADER, 'openexr');
}

let fixtureDir: string | undefined;
after(() => {
  if (fixtureDir) rmSync(fixtureDir, { recursive: true, force: true });
});
function dir(): string {
  fixtureDir ??= mkdtempSync(join(tmpdir(), 'cnnv3-exr-'));
  return fixtureDir;
}
function path(name: string): string {
  return join(dir(), name);
}
function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { cwd: dir(), stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 }).toString();
}
function read(name: string, options?: Parameters<typeof readExr>[2]): ExrImage {
  return readExr(readFileSync(path(name)), name, options);
}

// ---------------------------------------------------------------------------------------------
// The source image: Blender-like multilayer channels with values the test knows exactly

const W = 101;
const H = 67;

interface SourceChannel {
  name: string;
  type: 'HALF' | 'FLOAT' | 'UINT';
  /** What goes into the PFM (for UINT: a float in [0, 1] that oiiotool scales to 32 bits). */
  values: Float32Array;
}

/** Uniform [0, 1) draws from the project's seeded generator. */
function random(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.next();
}

function sourceChannels(): SourceChannel[] {
  const rnd = random(20000630);
  const make = (name: string, type: SourceChannel['type'], f: (x: number, y: number) => number): SourceChannel => {
    const values = new Float32Array(W * H);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) values[y * W + x] = f(x, y);
    return { name, type, values };
  };
  const channels = [
    make('ViewLayer.Combined.R', 'HALF', (x, y) => (x - 10) / 8 + (y % 4) / 64),
    make('ViewLayer.Combined.G', 'HALF', (x, y) => (y / 16) * (x % 5)),
    make('ViewLayer.Combined.B', 'HALF', (x, y) => (rnd() < 0.98 ? ((x * y) % 17) / 3 : rnd() * 2000 - 1000)),
    make('ViewLayer.Combined.A', 'HALF', (x, y) => (x < 48 ? 1 : y / 66)),
    // Smooth (so that every codec compresses it), with some far outliers of any magnitude.
    make('ViewLayer.Depth.Z', 'FLOAT', (x, y) => (rnd() < 0.02 ? 10 ** (rnd() * 12 - 6) : 2 + x * 0.731 + y * y * 0.0137)),
    make('ViewLayer.Normal.X', 'HALF', (x, y) => Math.cos(x / 6) * Math.sin(y / 5)),
    make('ViewLayer.Normal.Y', 'HALF', (x, y) => Math.sin(x / 6) * Math.sin(y / 5)),
    make('ViewLayer.Normal.Z', 'HALF', (_x, y) => Math.cos(y / 5)),
    make('ViewLayer.IndexOB.X', 'FLOAT', (x, y) => Math.floor(x / 30) + 4 * Math.floor(y / 30)),
    make('ViewLayer.Crypto.id', 'UINT', (x, y) => ((Math.floor(x / 6) * 31 + Math.floor(y / 6) * 17) % 97) / 96),
  ];
  // The awkward values, where the first pixels of a row are.
  const r = channels[0]!.values;
  [Infinity, -Infinity, NaN, -0, 65504, 70000, 1e-7, 6.1e-5, -1e-9].forEach((v, i) => (r[i] = v));
  const z = channels[4]!.values;
  [3.0e38, -1e-40, Infinity, NaN, -0, 1.17549435e-38, 3.4028235e38, 0.1, -(2 ** -149)].forEach((v, i) => (z[W + i] = v));
  return channels;
}

/** Greyscale PFM: "Pf", size, negative scale for little-endian, rows bottom to top. */
function writePfm(file: string, values: Float32Array, w = W, h = H): void {
  const head = Buffer.from(`Pf\n${w} ${h}\n-1.0\n`, 'latin1');
  const body = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) body.writeFloatLE(values[y * w + x]!, ((h - 1 - y) * w + x) * 4);
  }
  writeFileSync(file, Buffer.concat([head, body]));
}

const LOSSLESS = ['none', 'rle', 'zips', 'zip', 'piz'] as const;
const SCANLINE = [...LOSSLESS, 'pxr24', 'b44', 'b44a', 'dwaa', 'dwab'] as const;
const TILED = ['none', 'rle', 'zip', 'piz', 'pxr24', 'b44a'] as const;

interface Main {
  sources: SourceChannel[];
  /** Channel → exactly what the file should hold (HALF rounded, FLOAT as is, UINT as oiiotool scaled it). */
  expected: Map<string, Float32Array | Uint32Array>;
}
let mainFixture: Main | undefined;

/** Writes every variant of the source image once (one oiiotool run writes most of them). */
function main(): Main {
  if (mainFixture) return mainFixture;
  const sources = sourceChannels();
  const args: string[] = [];
  sources.forEach((s, i) => {
    const file = `src${i}.pfm`;
    writePfm(path(file), s.values);
    args.push(file);
    if (i > 0) args.push('--chappend');
  });
  // Per-channel types: "-d NAME=TYPE" (oiiotool takes "uint" there, not "uint32").
  const types = sources
    .filter((s) => s.type !== 'HALF')
    .flatMap((s) => ['-d', `${s.name}=${s.type === 'UINT' ? 'uint' : 'float'}`]);
  args.push('--chnames', sources.map((s) => s.name).join(','), '-d', 'half', ...types);
  for (const c of SCANLINE) args.push('--compression', c, '-o', `scan-${c}.exr`);
  args.push('--tile', '32', '32'); // big enough for PIZ to beat storing tiles as they are
  for (const c of TILED) args.push('--compression', c, '-o', `tile-${c}.exr`);
  args.push('--attrib', 'openexr:lineOrder', 'decreasingY', '--compression', 'piz', '-o', 'tile-piz-decreasing.exr');
  args.push('--scanline', '--compression', 'zip', '-o', 'scan-zip-decreasing.exr');
  args.push('--compression', 'none', '-o', 'scan-none-decreasing.exr');
  args.push('--tile', '8', '8', '--attrib', 'openexr:lineOrder', 'randomY', '--compression', 'zip', '-o', 'tile-zip-random.exr');
  args.push('--scanline', '--attrib', 'openexr:lineOrder', 'increasingY');
  args.push('--origin', '-5-7', '--fullsize', '30x20-8-9', '--compression', 'piz', '-o', 'window.exr');
  args.push('--origin', '+3+2', '--fullsize', '20x10+10+8', '--compression', 'zip', '-o', 'window-overscan.exr');
  run(OIIOTOOL, args);

  const expected = new Map<string, Float32Array | Uint32Array>();
  for (const s of sources) {
    if (s.type === 'HALF') expected.set(s.name, Float32Array.from(s.values, (v) => roundToHalf(v)));
    if (s.type === 'FLOAT') expected.set(s.name, Float32Array.from(s.values));
  }
  // oiiotool's float → uint32 scaling is its own business: take the values from its dump of a
  // file holding just that channel (integers, printed exactly).
  const crypto = sources.find((s) => s.type === 'UINT')!.name;
  run(OIIOTOOL, ['scan-none.exr', '--ch', crypto, '-d', 'uint32', '--compression', 'none', '-o', 'uint-only.exr']);
  const dump = dumpData('uint-only.exr');
  expected.set(crypto, Uint32Array.from(dump.values[0]!, (v) => v));
  mainFixture = { sources, expected };
  return mainFixture;
}

/** oiiotool's own decoding, printed: channel names and one array of numbers per channel. */
function dumpData(file: string): { names: string[]; values: number[][] } {
  const text = run(OIIOTOOL, ['--info', '-v', '--dumpdata', file]);
  const list = /channel list: (.*)/.exec(text);
  assert.ok(list, `no channel list in oiiotool's dump of ${file}`);
  const names = list[1]!.split(', ').map((s) => s.replace(/ \(.*\)$/, ''));
  const values = names.map(() => [] as number[]);
  for (const m of text.matchAll(/Pixel \((-?\d+), (-?\d+)\): (.*)/g)) {
    const fields = m[3]!.replace(/\([^)]*\)/g, '').trim().split(/\s+/);
    assert.equal(fields.length, names.length, m[0]);
    const special: Record<string, number> = { nan: NaN, '-nan': NaN, inf: Infinity, '-inf': -Infinity };
    fields.forEach((f, c) => values[c]!.push(special[f] ?? Number(f)));
  }
  return { names, values };
}

/** Same values, NaN equal to NaN, -0 distinct from 0; reports the first differences. */
function assertSame(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const bad: string[] = [];
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) bad.push(`[${i % W},${Math.floor(i / W)}] ${actual[i]} ≠ ${expected[i]}`);
  }
  assert.equal(bad.length, 0, `${what}: ${bad.length} differ: ${bad.slice(0, 5).join('; ')}`);
}

/** Bit-for-bit equal (NaN payloads included). */
function assertSameBits(a: Float32Array | Uint32Array, b: Float32Array | Uint32Array, what: string): void {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  assertSame(ua, ub, what);
}

function assertImageMatches(img: ExrImage, expected: Map<string, Float32Array | Uint32Array>, what: string): void {
  assert.deepEqual([...img.channels.keys()].sort(), [...expected.keys()].sort(), `${what}: channel names`);
  for (const [name, want] of expected) {
    const got = img.channels.get(name)!;
    assert.equal(got instanceof Uint32Array, want instanceof Uint32Array, `${what} ${name}: array type`);
    assertSame(got, want, `${what} ${name}`);
  }
}

// ---------------------------------------------------------------------------------------------

test('isExr and "not an OpenEXR file"', () => {
  const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);
  assert.equal(isExr(png), false);
  assert.equal(isExr(Uint8Array.from([0x76, 0x2f, 0x31, 0x01, 2, 0, 0, 0])), true);
  for (const bytes of [png, new TextEncoder().encode('hello, world'), new Uint8Array(0), Uint8Array.from([0x76, 0x2f, 0x31])]) {
    assert.throws(
      () => readExr(bytes, 'photo.exr'),
      (e: unknown) => e instanceof CnnV3Error && /^photo\.exr: not an OpenEXR file/.test(e.message),
    );
  }
});

test('a Blender-like multilayer image, scan lines, every lossless compression: the exact values', (t) => {
  if (!tools(t)) return;
  const { sources, expected } = main();
  const none = read('scan-none.exr');
  assert.equal(none.width, W);
  assert.equal(none.height, H);
  assert.equal(none.tiled, false);
  assert.equal(none.lineOrder, 'INCREASING_Y');
  assert.deepEqual(none.dataWindow, { xMin: 0, yMin: 0, xMax: W - 1, yMax: H - 1 });
  // The channel list as stored: sorted by name.
  assert.deepEqual(
    none.channelInfo.map((c) => `${c.name}:${c.pixelType}:${c.xSampling}x${c.ySampling}:${c.pLinear}`),
    sources.map((s) => `${s.name}:${s.type}:1x1:false`).sort(),
  );
  assertImageMatches(none, expected, 'NONE');
  const noneSize = readFileSync(path('scan-none.exr')).length;
  for (const c of LOSSLESS) {
    const img = read(`scan-${c}.exr`);
    assert.equal(img.compression, c.toUpperCase());
    for (const [name, v] of none.channels) assertSameBits(img.channels.get(name)!, v, `${c} ${name}`);
    // The compressor really ran: chunks are stored compressed, not as they are.
    const size = readFileSync(path(`scan-${c}.exr`)).length;
    if (c !== 'none') assert.ok(size < 0.8 * noneSize, `${c}: ${size} bytes, NONE ${noneSize}`);
  }
});

test("agrees with oiiotool's own decoding (--dumpdata)", (t) => {
  if (!tools(t)) return;
  main();
  const img = read('scan-zip.exr');
  const dump = dumpData('scan-zip.exr');
  assert.deepEqual([...dump.names].sort(), [...img.channels.keys()].sort());
  dump.names.forEach((name, c) => {
    const mine = img.channels.get(name)!;
    const theirs = dump.values[c]!;
    assert.equal(theirs.length, mine.length);
    const uint = mine instanceof Uint32Array;
    for (let i = 0; i < mine.length; i++) {
      const a = uint ? mine[i]! / 4294967295 : mine[i]!; // oiiotool prints UINT as a fraction here
      const b = theirs[i]!;
      const ok = Number.isNaN(b)
        ? Number.isNaN(a)
        : !Number.isFinite(b)
          ? Math.abs(a) === Infinity // it prints -inf as "inf"
          : Math.abs(a - b) <= 5.0001e-10 + (uint ? 1e-7 : 1e-15 * Math.abs(b)); // "%.9f"
      assert.ok(ok, `${name} pixel ${i}: mine ${a}, oiiotool ${b}`);
    }
  });
});

test('PIZ with more than 2^14 distinct values in a chunk (the modulo wavelet, long Huffman codes)', (t) => {
  if (!tools(t)) return;
  // A smooth ramp of distinct floats: nearly every low word differs, yet the data compresses.
  // 801 × 45: odd sizes, so the last chunk (13 lines) has odd lines and columns at most levels.
  const [w, h] = [801, 45];
  const ramp = Float32Array.from({ length: w * h }, (_, i) => 1 + i * 3.1e-6 + 0.01 * Math.sin((i % w) / 7));
  writePfm(path('ramp.pfm'), ramp, w, h);
  run(OIIOTOOL, ['ramp.pfm', '-d', 'float', '--compression', 'none', '-o', 'ramp-none.exr']);
  run(OIIOTOOL, ['ramp.pfm', '-d', 'float', '--compression', 'piz', '-o', 'ramp-piz.exr']);
  const none = read('ramp-none.exr');
  const piz = read('ramp-piz.exr');
  const words = new Set<number>([0]);
  for (const v of none.channels.values()) for (const x of new Uint16Array(v.buffer, 0, w * 32 * 2)) words.add(x);
  assert.ok(words.size > (1 << 14) + 1, `only ${words.size} distinct words in the first chunk`);
  assert.ok(readFileSync(path('ramp-piz.exr')).length < 0.8 * readFileSync(path('ramp-none.exr')).length);
  for (const [name, v] of none.channels) assertSameBits(piz.channels.get(name)!, v, `ramp ${name}`);
});

/**
 * Mine against oiiotool's re-encoding of the same file. oiiotool writes every channel of a
 * mixed-type image as FLOAT then (values unchanged for HALF and FLOAT), but UINT ones go through a
 * float scaling: those are checked against the NONE file instead (B44 stores them as they are).
 */
function assertSameAsDecoded(mine: ExrImage, theirs: ExrImage, what: string): void {
  const none = read('scan-none.exr');
  for (const info of mine.channelInfo) {
    const got = mine.channels.get(info.name)!;
    const want = info.pixelType === 'UINT' ? none.channels.get(info.name)! : theirs.channels.get(info.name)!;
    assertSame(got, want, `${what} ${info.name}`);
  }
}

/** PXR24's float → 24-bit float, as its compressor rounds: 15 mantissa bits, ties away from zero. */
function float24(v: number): number {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer);
  const x = u[0]!;
  const s = x & 0x80000000;
  const e = x & 0x7f800000;
  const m = x & 0x007fffff;
  let i: number;
  if (e === 0x7f800000) i = m ? (e >>> 8) | (m >>> 8) | (m >>> 8 === 0 ? 1 : 0) : e >>> 8;
  else {
    i = ((e | m) + (m & 0x80)) >>> 8;
    if (i >= 0x7f8000) i = (e | m) >>> 8; // rounding would overflow: truncate instead
  }
  u[0] = ((s >>> 8) | i) << 8;
  return f[0]!;
}

test('PXR24: HALF and UINT exact, FLOAT rounded to 24 bits (relative error ≤ 2^-16, 2^-15 at FLT_MAX)', (t) => {
  if (!tools(t)) return;
  main();
  const none = read('scan-none.exr');
  const pxr = read('scan-pxr24.exr');
  assert.equal(pxr.compression, 'PXR24');
  for (const info of none.channelInfo) {
    const a = none.channels.get(info.name)!;
    const b = pxr.channels.get(info.name)!;
    if (info.pixelType !== 'FLOAT') {
      assertSameBits(b, a, `PXR24 ${info.name}`);
      continue;
    }
    for (let i = 0; i < a.length; i++) {
      const x = a[i]!;
      const y = b[i]!;
      assert.ok(Object.is(y, float24(x)), `${info.name}[${i}]: ${y} is not the 24-bit rounding of ${x}`);
      if (!Number.isFinite(x) || x === 0) continue;
      // Rounding to 15 stored mantissa bits errs by half a 24-bit ulp: 2^-16 of the value's
      // power of two, so ≤ 2^-16·|x|; the overflow guard truncates instead (< 2^-15·|x|).
      const bound = (Math.abs(x) > 3.4e38 ? 2 ** -15 : 2 ** -16) * Math.abs(x);
      assert.ok(Math.abs(y - x) <= Math.max(bound, 2 ** -142), `${info.name}[${i}]: ${y} vs ${x}`);
    }
  }
});

test('B44 and B44A: lossy HALF, exactly as the OpenEXR library decodes them', (t) => {
  if (!tools(t)) return;
  main();
  const sizes: Record<string, number> = {};
  for (const c of ['b44', 'b44a'] as const) {
    // oiiotool decodes with the OpenEXR library and stores the result uncompressed.
    run(OIIOTOOL, [`scan-${c}.exr`, '--compression', 'none', '-o', `scan-${c}-decoded.exr`]);
    const mine = read(`scan-${c}.exr`);
    assert.equal(mine.compression, c.toUpperCase());
    assertSameAsDecoded(mine, read(`scan-${c}-decoded.exr`), c);
    sizes[c] = readFileSync(path(`scan-${c}.exr`)).length;
  }
  // B44A packs flat 4×4 blocks (all of the A channel's left half) in 3 bytes instead of 14.
  assert.ok(sizes['b44a']! < sizes['b44']!, JSON.stringify(sizes));
});

test('DWAA and DWAB: exactly as the OpenEXR library decodes them (AVX inverse DCT)', (t) => {
  if (!tools(t)) return;
  main();
  for (const c of ['dwaa', 'dwab'] as const) {
    run(OIIOTOOL, [`scan-${c}.exr`, '--compression', 'none', '-o', `scan-${c}-decoded.exr`]);
    const mine = read(`scan-${c}.exr`);
    assert.equal(mine.compression, c.toUpperCase());
    assertSameAsDecoded(mine, read(`scan-${c}-decoded.exr`), c);
  }
});

test('tiled images (one level, mipmaps, ripmaps, every lossless compression) read level 0 exactly', (t) => {
  if (!tools(t) || !requireTool(t, EXRMAKETILED, 'openexr')) return;
  main();
  run(EXRMAKETILED, ['-m', '-u', '-t', '32', '16', '-z', 'piz', 'scan-none.exr', 'mip.exr']);
  run(EXRMAKETILED, ['-r', '-d', '-t', '16', '8', '-z', 'zip', 'scan-none.exr', 'rip.exr']);
  const none = read('scan-none.exr');
  const cases: Array<[string, Partial<ExrTileDescription>]> = [
    ...LOSSLESS.filter((c) => c !== 'zips').map(
      (c): [string, Partial<ExrTileDescription>] => [`tile-${c}.exr`, { xSize: 32, ySize: 32, levelMode: 'ONE_LEVEL' }],
    ),
    ['mip.exr', { xSize: 32, ySize: 16, levelMode: 'MIPMAP_LEVELS', roundingMode: 'ROUND_UP' }],
    ['rip.exr', { xSize: 16, ySize: 8, levelMode: 'RIPMAP_LEVELS', roundingMode: 'ROUND_DOWN' }],
  ];
  for (const [file, tiles] of cases) {
    const img = read(file);
    assert.equal(img.tiled, true, file);
    const td = img.attributes['tiles'] as ExrTileDescription;
    for (const [k, v] of Object.entries(tiles)) assert.equal(td[k as keyof ExrTileDescription], v, `${file} ${k}`);
    for (const [name, v] of none.channels) assertSameBits(img.channels.get(name)!, v, `${file} ${name}`);
  }
  const tileNone = readFileSync(path('tile-none.exr')).length;
  for (const c of ['rle', 'zip', 'piz']) {
    const size = readFileSync(path(`tile-${c}.exr`)).length;
    assert.ok(size < 0.8 * tileNone, `tiled ${c}: ${size} bytes, NONE ${tileNone}`);
  }
  // The lossy ones in tiles match the scan-line files' decoding of the same codec.
  const pxr = read('scan-pxr24.exr');
  const tpxr = read('tile-pxr24.exr');
  for (const [name, v] of pxr.channels) assertSameBits(tpxr.channels.get(name)!, v, `tiled PXR24 ${name}`);
  run(OIIOTOOL, ['tile-b44a.exr', '--compression', 'none', '-o', 'tile-b44a-decoded.exr']);
  assertSameAsDecoded(read('tile-b44a.exr'), read('tile-b44a-decoded.exr'), 'tiled B44A');
});

test('decreasing and random line orders: chunks found through the offset table', (t) => {
  if (!tools(t)) return;
  main();
  const none = read('scan-none.exr');
  for (const [file, order] of [
    ['scan-zip-decreasing.exr', 'DECREASING_Y'],
    ['scan-none-decreasing.exr', 'DECREASING_Y'],
    ['tile-piz-decreasing.exr', 'DECREASING_Y'],
    ['tile-zip-random.exr', 'RANDOM_Y'],
  ] as const) {
    const img = read(file);
    assert.equal(img.lineOrder, order, file);
    for (const [name, v] of none.channels) assertSameBits(img.channels.get(name)!, v, `${file} ${name}`);
  }
  // The files really are stored bottom-up: the first line's chunk comes last.
  const offsets = offsetTable(readFileSync(path('scan-none-decreasing.exr')), H);
  assert.ok(offsets[0]! > offsets[H - 1]!, `offsets ${offsets.join(',')}`);
});

test('data window ≠ display window, negative origins; channelInDisplayWindow', (t) => {
  if (!tools(t)) return;
  const { expected } = main();
  const img = read('window.exr');
  assert.deepEqual(img.dataWindow, { xMin: -5, yMin: -7, xMax: -5 + W - 1, yMax: -7 + H - 1 });
  assert.deepEqual(img.displayWindow, { xMin: -8, yMin: -9, xMax: -8 + 30 - 1, yMax: -9 + 20 - 1 });
  assertImageMatches(img, expected, 'window.exr');
  const name = 'ViewLayer.Combined.G';
  const g = expected.get(name)!;
  const check = (file: string) => {
    const im = read(file);
    const d = im.displayWindow;
    const out = channelInDisplayWindow(im, name);
    const dw = d.xMax - d.xMin + 1;
    assert.equal(out.length, dw * (d.yMax - d.yMin + 1));
    for (let y = d.yMin; y <= d.yMax; y++) {
      for (let x = d.xMin; x <= d.xMax; x++) {
        const inside = x >= im.dataWindow.xMin && x <= im.dataWindow.xMax && y >= im.dataWindow.yMin && y <= im.dataWindow.yMax;
        const want = inside ? g[(y - im.dataWindow.yMin) * W + (x - im.dataWindow.xMin)]! : 0;
        assert.ok(Object.is(out[(y - d.yMin) * dw + (x - d.xMin)], want), `${file} (${x},${y})`);
      }
    }
  };
  check('window.exr'); // data window partly outside the display window, on two sides
  check('window-overscan.exr'); // display window inside the data window's right and bottom
  assert.throws(
    () => channelInDisplayWindow(img, 'ViewLayer.Combined.Q'),
    (e: unknown) => e instanceof CnnV3Error && /^window\.exr: no channel "ViewLayer\.Combined\.Q"/.test(e.message),
  );
});

test('multi-part files: the first part, or one chosen by name or index; listExrParts', (t) => {
  if (!tools(t) || !requireTool(t, EXRMULTIPART, 'openexr')) return;
  main();
  run(OIIOTOOL, ['scan-none.exr', '--ch', 'ViewLayer.Depth.Z', '--compression', 'rle', '-o', 'depth.exr']);
  run(EXRMULTIPART, ['-combine', '-i', 'scan-zip.exr::beauty', 'tile-piz.exr::tiles', 'depth.exr::depth', '-o', 'multi.exr']);
  const bytes = readFileSync(path('multi.exr'));
  const parts = listExrParts(bytes, 'multi.exr');
  assert.deepEqual(
    parts.map((p) => [p.name, p.type, p.channels.length]),
    [
      ['beauty', 'scanlineimage', 10],
      ['tiles', 'tiledimage', 10],
      ['depth', 'scanlineimage', 1],
    ],
  );
  const none = read('scan-none.exr');
  for (const [want, part] of [
    [0, undefined],
    [0, 'beauty'],
    [1, 'tiles'],
    [1, 1],
    [2, 'depth'],
  ] as const) {
    const img = readExr(bytes, 'multi.exr', part === undefined ? {} : { part });
    assert.equal(img.partName, parts[want]!.name);
    assert.equal(img.tiled, want === 1);
    for (const [name, v] of img.channels) assertSameBits(v, none.channels.get(name)!, `part ${want} ${name}`);
  }
  assert.throws(
    () => readExr(bytes, 'multi.exr', { part: 'specular' }),
    (e: unknown) =>
      e instanceof CnnV3Error && e.message === 'multi.exr: has no part named "specular" (parts: "beauty", "tiles", "depth")',
  );
  assert.throws(() => readExr(bytes, 'multi.exr', { part: 3 }), /^CnnV3Error: multi\.exr: has no part 3 \(it has 3 parts\)$/);
});

test('header attributes of every standard type, decoded', (t) => {
  if (!tools(t) || !requireTool(t, EXRSTDATTR, 'openexr') || !requireTool(t, EXRMAKEPREVIEW, 'openexr')) return;
  if (!requireTool(t, EXRMULTIVIEW, 'openexr')) return;
  run(OIIOTOOL, [
    '--pattern', 'constant:color=0.5', '8x6', '1',
    '--attrib:type=matrix', 'aM44f', '1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16',
    '--attrib:type=matrix33', 'aM33f', '1,2,3,4,5,6,7,8,9',
    '--attrib:type=vector', 'aV3f', '1,2,3.5',
    '--attrib:type=int[3]', 'aV3i', '-1,2,3',
    '--attrib:type=int[2]', 'aV2i', '3,-4',
    '--attrib:type=box2i', 'aBox2i', '1,2,3,4',
    '--attrib:type=box2f', 'aBox2f', '0.5,1,2,3',
    '--attrib:type=float[5]', 'aFloats', '1,2,3,4,5',
    '--attrib:type=int', 'anInt', '-7',
    '--attrib:type=float', 'aFloat', '0.25',
    '-o', 'attrs0.exr',
  ]);
  run(EXRSTDATTR, [
    '-chromaticities', '0.64', '0.33', '0.3', '0.6', '0.15', '0.06', '0.3127', '0.329',
    '-keyCode', '1', '2', '3', '4', '5', '6', '20',
    '-timeCode', '01020304', '0000abcd',
    '-framesPerSecond', '24000', '1001',
    '-envmap', 'CUBE',
    '-owner', 'Zoë',
    '-adoptedNeutral', '0.25', '0.5',
    '-string', 'aString', 'hello',
    'attrs0.exr', 'attrs1.exr',
  ]);
  run(EXRMAKEPREVIEW, ['-w', '4', 'attrs1.exr', 'attrs.exr']);
  const a = read('attrs.exr').attributes;
  assert.deepEqual(a['aM44f'], Array.from({ length: 16 }, (_, i) => i + 1));
  assert.deepEqual(a['aM33f'], Array.from({ length: 9 }, (_, i) => i + 1));
  assert.deepEqual(a['aV3f'], { x: 1, y: 2, z: 3.5 });
  assert.deepEqual(a['aV3i'], { x: -1, y: 2, z: 3 });
  assert.deepEqual(a['aV2i'], { x: 3, y: -4 });
  assert.deepEqual(a['aBox2i'], { xMin: 1, yMin: 2, xMax: 3, yMax: 4 });
  assert.deepEqual(a['aBox2f'], { xMin: 0.5, yMin: 1, xMax: 2, yMax: 3 });
  assert.deepEqual(a['aFloats'], [1, 2, 3, 4, 5]);
  assert.equal(a['anInt'], -7);
  assert.equal(a['aFloat'], 0.25);
  const f = Math.fround;
  assert.deepEqual(a['chromaticities'], {
    red: { x: f(0.64), y: f(0.33) },
    green: { x: f(0.3), y: f(0.6) },
    blue: { x: f(0.15), y: f(0.06) },
    white: { x: f(0.3127), y: f(0.329) },
  });
  assert.deepEqual(a['keyCode'], { filmMfcCode: 1, filmType: 2, prefix: 3, count: 4, perfOffset: 5, perfsPerFrame: 6, perfsPerCount: 20 });
  assert.deepEqual(a['timeCode'], { timeAndFlags: 0x01020304, userData: 0xabcd });
  assert.deepEqual(a['framesPerSecond'], { numerator: 24000, denominator: 1001 });
  assert.equal(a['envmap'], 'CUBE');
  assert.equal(a['owner'], 'Zoë');
  assert.deepEqual(a['adoptedNeutral'], { x: 0.25, y: 0.5 });
  assert.equal(a['aString'], 'hello');
  assert.equal(a['compression'], 'ZIP');
  assert.equal(a['lineOrder'], 'INCREASING_Y');
  assert.deepEqual(a['screenWindowCenter'], { x: 0, y: 0 });
  const preview = a['preview'] as { width: number; height: number; pixels: Uint8Array };
  assert.equal(preview.width, 4);
  assert.equal(preview.height, 3);
  assert.equal(preview.pixels.length, 4 * 3 * 4);
  assert.ok(Array.isArray(a['channels']));

  run(EXRMULTIVIEW, ['-z', 'zip', 'left', 'attrs.exr', 'right', 'attrs.exr', 'views.exr']);
  const views = read('views.exr');
  assert.deepEqual(views.attributes['multiView'], ['left', 'right']);
  assert.deepEqual([...views.channels.keys()].sort(), ['Y', 'right.Y']);
});

test('an attribute of an unknown type is kept as its bytes', (t) => {
  if (!tools(t)) return;
  main();
  const patched = withAttribute(readFileSync(path('scan-zip.exr')), 'myThing', 'fancyType', Uint8Array.from([1, 2, 3]), Math.ceil(H / 16));
  writeFileSync(path('patched.exr'), patched);
  assert.match(run(EXRHEADER, ['patched.exr']), /myThing \(type fancyType\)/); // the library reads it too
  const img = readExr(patched, 'patched.exr');
  assert.deepEqual(img.attributes['myThing'], { type: 'fancyType', bytes: Uint8Array.from([1, 2, 3]) });
  for (const [name, v] of read('scan-zip.exr').channels) assertSameBits(img.channels.get(name)!, v, name);
});

// ---------------------------------------------------------------------------------------------
// What only the OpenEXR library itself writes: subsampled channels, deep data, doubles

const WRITER = String.raw`
#include <ImfChannelList.h>
#include <ImfCompression.h>
#include <ImfDeepFrameBuffer.h>
#include <ImfDeepScanLineOutputFile.h>
#include <ImfDoubleAttribute.h>
#include <ImfFrameBuffer.h>
#include <ImfHeader.h>
#include <ImfMatrixAttribute.h>
#include <ImfOutputFile.h>
#include <ImfPartType.h>
#include <ImfStringVectorAttribute.h>
#include <ImfVecAttribute.h>
#include <half.h>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
using namespace Imf;
using namespace Imath;

static Compression compressionNamed(const std::string &s) {
  const char *names[] = {"none", "rle", "zips", "zip", "piz", "pxr24", "b44", "b44a"};
  for (int i = 0; i < 8; i++) if (s == names[i]) return Compression(i);
  std::exit(2);
}
// The sample values; the test computes the same functions.
static float hv(int x, int y) { return float(((x * 7 + y * 13) % 61 + 61) % 61) * 0.25f - 5.0f; }
static float fv(int x, int y) { return float(x) * 0.1f + float(y) * 1000.5f; }
static uint32_t uv(int x, int y) { return uint32_t(x + 100) * 196608u + uint32_t(y + 50) * 7u + 3000000000u; }

int main(int argc, char **argv) {
  if (argc != 4) return 2;
  std::string what = argv[1];
  Compression comp = compressionNamed(argv[2]);
  const char *out = argv[3];
  if (what == "sub") {
    Box2i dw(V2i(-4, -2), V2i(9, 7)); // 14 x 10: every sampling rate divides origin and size
    Header h(Box2i(V2i(-6, -4), V2i(11, 9)), dw);
    h.compression() = comp;
    struct Ch { const char *name; PixelType type; int xs, ys; float add; };
    std::vector<Ch> chs = {{"Y", HALF, 1, 1, 0.f}, {"RY", HALF, 2, 2, 0.5f}, {"BY", HALF, 2, 2, -0.5f},
                           {"Z", FLOAT, 2, 1, 0.f}, {"id", UINT, 1, 2, 0.f}};
    FrameBuffer fb;
    std::vector<std::vector<char>> store;
    for (auto &c : chs) {
      h.channels().insert(c.name, Channel(c.type, c.xs, c.ys));
      int nx = 14 / c.xs, ny = 10 / c.ys;
      size_t size = c.type == HALF ? 2 : 4;
      store.emplace_back(nx * ny * size);
      char *data = store.back().data();
      for (int j = 0; j < ny; j++) for (int i = 0; i < nx; i++) {
        int x = -4 + i * c.xs, y = -2 + j * c.ys;
        char *p = data + (j * nx + i) * size;
        if (c.type == HALF) { half v = hv(x, y) + c.add; std::memcpy(p, &v, 2); }
        else if (c.type == FLOAT) { float v = fv(x, y); std::memcpy(p, &v, 4); }
        else { uint32_t v = uv(x, y); std::memcpy(p, &v, 4); }
      }
      char *base = data - (-4 / c.xs) * size - (-2 / c.ys) * size * nx;
      fb.insert(c.name, Slice(c.type, base, size, size * nx, c.xs, c.ys));
    }
    OutputFile f(out, h);
    f.setFrameBuffer(fb);
    f.writePixels(10);
    return 0;
  }
  if (what == "deep") {
    Header h(4, 3);
    h.compression() = comp;
    h.setType(DEEPSCANLINE);
    h.channels().insert("Z", Channel(FLOAT));
    std::vector<unsigned> counts(12);
    std::vector<float> samples(36);
    std::vector<float *> ptrs(12);
    for (int i = 0; i < 12; i++) { counts[i] = i % 3; ptrs[i] = &samples[i * 3]; samples[i * 3] = float(i); }
    DeepFrameBuffer fb;
    fb.insertSampleCountSlice(Slice(UINT, (char *)counts.data(), sizeof(unsigned), sizeof(unsigned) * 4));
    fb.insert("Z", DeepSlice(FLOAT, (char *)ptrs.data(), sizeof(float *), sizeof(float *) * 4, sizeof(float)));
    DeepScanLineOutputFile f(out, h);
    f.setFrameBuffer(fb);
    f.writePixels(3);
    return 0;
  }
  if (what == "attrs") {
    Header h(2, 2);
    h.compression() = comp;
    h.channels().insert("Y", Channel(HALF));
    h.insert("aDouble", DoubleAttribute(1.0 / 3.0));
    h.insert("aV2d", V2dAttribute(V2d(0.25, -1e300)));
    h.insert("aV3d", V3dAttribute(V3d(1, 2, 3.5)));
    M33d m33; for (int i = 0; i < 9; i++) m33[i / 3][i % 3] = i + 0.5;
    h.insert("aM33d", M33dAttribute(m33));
    M44d m44; for (int i = 0; i < 16; i++) m44[i / 4][i % 4] = -i;
    h.insert("aM44d", M44dAttribute(m44));
    h.insert("aStrings", StringVectorAttribute(std::vector<std::string>{"left", "", "h\xc3\xa9llo"}));
    std::vector<half> px(4, half(1.f));
    FrameBuffer fb;
    fb.insert("Y", Slice(HALF, (char *)px.data(), 2, 4));
    OutputFile f(out, h);
    f.setFrameBuffer(fb);
    f.writePixels(2);
    return 0;
  }
  return 2;
}
`;

let writerBinary: string | undefined;
function openexrWriter(t: TestContext): string | undefined {
  if (!requireTool(t, GXX, 'g++') || !requireTool(t, OPENEXR_HEADERS, 'libopenexr-dev')) return undefined;
  if (!writerBinary) {
    writeFileSync(path('writer.cpp'), WRITER);
    const bin = path('writer');
    const flags = ['-I/usr/include/OpenEXR', '-I/usr/include/Imath', '-lOpenEXR', '-lIex', '-lImath', '-pthread'];
    execFileSync(GXX, ['-std=c++17', '-O0', path('writer.cpp'), '-o', bin, ...flags]);
    writerBinary = bin;
  }
  return writerBinary;
}


test('subsampled channels (2×2 chroma, 2×1 FLOAT, 1×2 UINT) in every compression, written by the OpenEXR library', (t) => {
  const writer = openexrWriter(t);
  if (!writer) return;
  const hv = (x: number, y: number) => ((((x * 7 + y * 13) % 61) + 61) % 61) * 0.25 - 5;
  const fv = (x: number, y: number) => Math.fround(Math.fround(x * Math.fround(0.1)) + Math.fround(y * 1000.5));
  const uv = (x: number, y: number) => ((x + 100) * 196608 + (y + 50) * 7 + 3000000000) >>> 0;
  const floor = (v: number, s: number) => s * Math.floor(v / s);
  const want: Record<string, { sampling: [number, number]; f: (x: number, y: number) => number }> = {
    Y: { sampling: [1, 1], f: hv },
    RY: { sampling: [2, 2], f: (x, y) => hv(floor(x, 2), floor(y, 2)) + 0.5 },
    BY: { sampling: [2, 2], f: (x, y) => hv(floor(x, 2), floor(y, 2)) - 0.5 },
    Z: { sampling: [2, 1], f: (x, y) => fv(floor(x, 2), y) },
    id: { sampling: [1, 2], f: (x, y) => uv(x, floor(y, 2)) },
  };
  for (const c of ['none', 'rle', 'zips', 'zip', 'piz', 'pxr24', 'b44', 'b44a']) {
    const file = `sub-${c}.exr`;
    execFileSync(writer, ['sub', c, path(file)]);
    const img = read(file);
    assert.deepEqual(img.dataWindow, { xMin: -4, yMin: -2, xMax: 9, yMax: 7 });
    assert.deepEqual(img.displayWindow, { xMin: -6, yMin: -4, xMax: 11, yMax: 9 });
    for (const info of img.channelInfo) {
      const w = want[info.name]!;
      assert.deepEqual([info.xSampling, info.ySampling], w.sampling, info.name);
      if (info.pixelType === 'HALF' && c.startsWith('b44')) continue; // lossy; the rest is stored raw
      const got = img.channels.get(info.name)!;
      assert.equal(got.length, 14 * 10);
      const expected = Array.from({ length: 140 }, (_, i) => {
        const v = w.f(-4 + (i % 14), -2 + Math.floor(i / 14));
        return info.pixelType === 'FLOAT' && c === 'pxr24' ? float24(v) : v;
      });
      assertSame(got, expected, `${c} ${info.name}`);
    }
  }
});

test('deep data is refused; double, v2d, v3d, m33d, m44d and stringvector attributes are decoded', (t) => {
  const writer = openexrWriter(t);
  if (!writer) return;
  execFileSync(writer, ['deep', 'zips', path('deep.exr')]);
  const deep = readFileSync(path('deep.exr'));
  assert.deepEqual(listExrParts(deep, 'deep.exr'), [{ type: 'deepscanline', channels: ['Z'] }]);
  assert.throws(() => readExr(deep, 'deep.exr'), /^CnnV3Error: deep\.exr: deep data \(deepscanline\) is not supported$/);

  execFileSync(writer, ['attrs', 'none', path('doubles.exr')]);
  const a = read('doubles.exr').attributes;
  assert.equal(a['aDouble'], 1 / 3);
  assert.deepEqual(a['aV2d'], { x: 0.25, y: -1e300 });
  assert.deepEqual(a['aV3d'], { x: 1, y: 2, z: 3.5 });
  assert.deepEqual(a['aM33d'], Array.from({ length: 9 }, (_, i) => i + 0.5));
  assert.deepEqual(a['aM44d'], Array.from({ length: 16 }, (_, i) => -i || 0));
  assert.deepEqual(a['aStrings'], ['left', '', 'héllo']);
});

// ---------------------------------------------------------------------------------------------
// Bad input: truncation, limits, corruption, what is refused by name

function smallFiles(): string[] {
  main();
  if (!readFileSafe('small-multi.exr')) {
    run(OIIOTOOL, [
      'src0.pfm', 'src4.pfm', '--chappend', 'src9.pfm', '--chappend', '--chnames', 'a,b,c',
      '-d', 'half', '-d', 'b=float', '-d', 'c=uint', '--cut', '9x7+3+2',
      '--compression', 'zip', '-o', 'small-zip.exr',
      '--tile', '4', '4', '--compression', 'piz', '-o', 'small-tile.exr',
    ]);
    run(EXRMULTIPART, ['-combine', '-i', 'small-zip.exr::first', 'small-tile.exr::second', '-o', 'small-multi.exr']);
  }
  return ['small-zip.exr', 'small-tile.exr', 'small-multi.exr'];
}
function readFileSafe(name: string): Uint8Array | undefined {
  try {
    return readFileSync(path(name));
  } catch {
    return undefined;
  }
}

test('every truncation of a small file (scan lines, tiles, multi-part) says "truncated"', (t) => {
  if (!tools(t) || !requireTool(t, EXRMULTIPART, 'openexr')) return;
  for (const file of smallFiles()) {
    const bytes = readFileSync(path(file));
    const whole = readExr(bytes, file);
    assert.equal(whole.width, 9);
    for (let n = 0; n < bytes.length; n++) {
      assert.throws(
        () => readExr(bytes.subarray(0, n), file),
        (e: unknown) => e instanceof CnnV3Error && e.message.startsWith(`${file}: `) && /truncated/.test(e.message),
        `${file} cut to ${n} of ${bytes.length} bytes`,
      );
    }
    // A cut file is as truncated for listExrParts while the headers are cut.
    assert.throws(() => listExrParts(bytes.subarray(0, 20), file), /truncated/);
  }
});

test('declared sizes over the limits are refused before anything that large is allocated', (t) => {
  if (!tools(t)) return;
  main();
  const bytes = readFileSync(path('scan-zip.exr'));
  const refused = (limits: Parameters<typeof readExr>[2], pattern: RegExp, data: Uint8Array = bytes) =>
    assert.throws(
      () => readExr(data, 'big.exr', limits),
      (e: unknown) => e instanceof CnnV3Error && pattern.test(e.message),
      String(pattern),
    );
  const n = W * H;
  refused({ limits: { maxPixels: n - 1 } }, new RegExp(`^big\\.exr: data window ${W}x${H} \\(${n} pixels\\) is over the limit of ${n - 1} pixels$`));
  refused({ limits: { maxSamples: 1000 } }, new RegExp(`^big\\.exr: 10 channels of ${n} pixels are over the limit of 1000 samples$`));
  refused({ limits: { maxAttributeBytes: 100 } }, /^big\.exr: attribute "\S+" is \d+ bytes, over the limit of 100$/);
  refused({ limits: { maxAttributes: 4 } }, /^big\.exr: part 0 has more than 4 attributes \(the limit\)$/);
  assert.equal(readExr(bytes, 'big.exr', { limits: { maxPixels: W * H, maxSamples: W * H * 10 } }).width, W);

  // A header that claims 2^31 × 2^31 pixels: refused by the default limits, at once.
  const huge = bytes.slice();
  const dv = new DataView(huge.buffer);
  const at = attributeValue(huge, 'dataWindow');
  dv.setInt32(at, -(2 ** 31), true);
  dv.setInt32(at + 4, -(2 ** 31), true);
  dv.setInt32(at + 8, 2 ** 31 - 1, true);
  dv.setInt32(at + 12, 2 ** 31 - 1, true);
  refused({}, /^big\.exr: data window 4294967296x4294967296 \(\d+ pixels\) is over the limit of 134217728 pixels$/, huge);
  assert.equal(EXR_LIMITS.maxPixels, 134217728);
  // An attribute that says it is 2 GB long.
  const longAttr = bytes.slice();
  new DataView(longAttr.buffer).setInt32(attributeValue(longAttr, 'dataWindow') - 4, 2 ** 31 - 1, true);
  refused({}, /^big\.exr: attribute "dataWindow" is 2147483647 bytes, over the limit of 16777216$/, longAttr);
});

test('compressions and versions this reader does not decode are refused by name', (t) => {
  if (!tools(t)) return;
  main();
  const bytes = readFileSync(path('scan-none.exr'));
  const at = attributeValue(bytes, 'compression');
  for (const [code, name] of [
    [10, 'HTJ2K256'],
    [11, 'HTJ2K32'],
    [12, 'ZSTD'],
    [42, '42'],
  ] as const) {
    const patched = bytes.slice();
    patched[at] = code;
    assert.throws(
      () => readExr(patched, 'x.exr'),
      (e: unknown) => e instanceof CnnV3Error && e.message === `x.exr: unsupported compression ${name}`,
    );
  }
  const v3 = bytes.slice();
  v3[4] = 3;
  assert.throws(() => readExr(v3, 'x.exr'), /^CnnV3Error: x\.exr: unsupported OpenEXR version 3/);
});

test('corrupted bytes anywhere in a file give a CnnV3Error naming the file, never another error', (t) => {
  if (!tools(t) || !requireTool(t, EXRMULTIPART, 'openexr')) return;
  main();
  const rnd = random(7);
  const files = [
    ...SCANLINE.filter((c) => !c.startsWith('dwa')).map((c) => `scan-${c}.exr`),
    ...TILED.map((c) => `tile-${c}.exr`),
    ...smallFiles(),
  ];
  let refusedCount = 0;
  for (const file of files) {
    const bytes = readFileSync(path(file));
    for (let k = 0; k < 60; k++) {
      const bad = bytes.slice();
      // Mostly the pixel data (past the header), sometimes anywhere.
      const flips = 1 + Math.floor(rnd() * 3);
      for (let f = 0; f < flips; f++) {
        const pos = rnd() < 0.8 ? bytes.length - 1 - Math.floor(rnd() * (bytes.length / 2)) : Math.floor(rnd() * bytes.length);
        bad[pos] = rnd() < 0.5 ? bad[pos]! ^ (1 << Math.floor(rnd() * 8)) : Math.floor(rnd() * 256);
      }
      try {
        readExr(bad, file);
      } catch (e) {
        assert.ok(e instanceof CnnV3Error, `${file} try ${k}: ${String(e)}`);
        assert.ok(e.message.startsWith(`${file}: `), e.message);
        refusedCount++;
      }
    }
  }
  assert.ok(refusedCount > 100, `only ${refusedCount} corruptions were noticed`);
});
