/**
 * EXR files from the wild: B44/B44A with pLinear channels and DWAA/DWAB, against the OpenEXR
 * library's own decoding (Debian's OpenEXR 3.1 through test/exr-tool.cpp, and oiiotool where it
 * reads the file); every part of a multi-part file (readExrParts). The checked-in corpus
 * (test/fixtures/exr-wild/, see its README) is read as is; the other files are written at run
 * time by the OpenEXR library and oiiotool.
 *
 * Tolerance: none. Every decoded sample must have the bits the library gives (NaN payloads
 * aside, which no file here has). For DWA that is the library's x86-64 path on a CPU with AVX;
 * its SSE2-only and scalar paths add in another order and may differ in the last bit.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test, type TestContext } from 'node:test';
import { CnnV3Error } from '../src/errors.js';
import { readExr, readExrParts, type ExrImage } from '../src/exr/exr.js';
import { fromHalfBits } from '../src/util/half.js';
import { Rng } from '../src/util/rng.js';
import { attributeValue, concat, joinExr, splitExr } from './exr-fixtures.js';
import { REPO, requireTool } from './helpers.js';

const OIIOTOOL = '/usr/bin/oiiotool';
const GXX = '/usr/bin/g++';
const OPENEXR_HEADERS = '/usr/include/OpenEXR/ImfOutputFile.h';
const CORPUS = join(REPO, 'test', 'fixtures', 'exr-wild');

let workDir: string | undefined;
after(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});
function path(name: string): string {
  workDir ??= mkdtempSync(join(tmpdir(), 'cnnv3-exr-wild-'));
  return join(workDir, name);
}
function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 }).toString();
}

let toolBinary: string | undefined;
/** test/exr-tool.cpp, built once: the OpenEXR library as writer and as reference decoder. */
function exrTool(t: TestContext): string | undefined {
  if (!requireTool(t, GXX, 'g++') || !requireTool(t, OPENEXR_HEADERS, 'libopenexr-dev')) return undefined;
  if (!toolBinary) {
    const bin = path('exr-tool');
    const flags = ['-I/usr/include/OpenEXR', '-I/usr/include/Imath', '-lOpenEXR', '-lIex', '-lImath', '-pthread'];
    run(GXX, ['-std=c++17', '-O1', join(REPO, 'test', 'exr-tool.cpp'), '-o', bin, ...flags]);
    toolBinary = bin;
  }
  return toolBinary;
}

/** The OpenEXR library's decoding of a file: every channel read by it, written uncompressed, read back. */
function libraryDecode(tool: string, file: string, name: string): ExrImage {
  const out = path(`${name}.library.exr`);
  run(tool, ['decode', file, out]);
  const img = readExr(readFileSync(out), out);
  assert.equal(img.compression, 'NONE');
  return img;
}

/** oiiotool's decoding (it reads no subsampled channels): written uncompressed, read back. */
function oiioDecode(file: string, name: string): ExrImage {
  const out = path(`${name}.oiio.exr`);
  run(OIIOTOOL, [file, '--compression', 'none', '-o', out]);
  return readExr(readFileSync(out), out);
}

/** Bit for bit equal, channel by channel; reports the first differences. */
function assertSameBits(mine: ExrImage, theirs: ExrImage, what: string): void {
  assert.deepEqual([...mine.channels.keys()].sort(), [...theirs.channels.keys()].sort(), `${what}: channel names`);
  for (const [name, a] of mine.channels) {
    const b = theirs.channels.get(name)!;
    assert.equal(a.length, b.length, `${what} ${name}: length`);
    const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
    const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
    const bad: string[] = [];
    for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) bad.push(`[${i}] ${a[i]} ≠ ${b[i]}`);
    assert.equal(bad.length, 0, `${what} ${name}: ${bad.length} of ${ua.length} differ: ${bad.slice(0, 5).join('; ')}`);
  }
}

/** Same numbers (oiiotool may widen HALF to FLOAT; the values stay exact). */
function assertSameValues(mine: ExrImage, theirs: ExrImage, what: string): void {
  for (const [name, a] of mine.channels) {
    const b = theirs.channels.get(name);
    assert.ok(b, `${what}: oiiotool has no ${name}`);
    let bad = 0;
    for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) bad++;
    assert.equal(bad, 0, `${what} ${name}: ${bad} of ${a.length} differ from oiiotool`);
  }
}

// ---------------------------------------------------------------------------------------------
// The corpus

interface CorpusEntry {
  compression: string;
  tiled: boolean;
  size: [number, number];
  /** Channel → pixel type, sampling, pLinear, as the file declares them. */
  channels: Record<string, string>;
}
const CORPUS_FILES: Record<string, CorpusEntry> = {
  'b44-plinear-chroma.exr': {
    compression: 'B44',
    tiled: false,
    size: [96, 64],
    channels: { BY: 'HALF 2x2 pLinear', RY: 'HALF 2x2 pLinear', Y: 'HALF 1x1' },
  },
  'b44a-plinear-chroma.exr': {
    compression: 'B44A',
    tiled: false,
    size: [96, 64],
    channels: { BY: 'HALF 2x2 pLinear', RY: 'HALF 2x2 pLinear', Y: 'HALF 1x1' },
  },
  'dwaa-wide-gamut.exr': { compression: 'DWAA', tiled: false, size: [128, 96], channels: { B: 'HALF 1x1', G: 'HALF 1x1', R: 'HALF 1x1' } },
  'dwaa-tiled-bright-rings.exr': {
    compression: 'DWAA',
    tiled: true,
    size: [128, 128],
    channels: { B: 'HALF 1x1', G: 'HALF 1x1', R: 'HALF 1x1' },
  },
  'dwab-all-half-values.exr': { compression: 'DWAB', tiled: false, size: [256, 64], channels: { B: 'HALF 1x1', G: 'HALF 1x1', R: 'HALF 1x1' } },
};

test('corpus: the checked-in samples are what their README says, each licence noted', () => {
  const files = readdirSync(CORPUS).filter((f) => f.endsWith('.exr')).sort();
  assert.deepEqual(files, Object.keys(CORPUS_FILES).sort());
  const readme = readFileSync(join(CORPUS, 'README.md'), 'utf8');
  let total = 0;
  for (const [file, want] of Object.entries(CORPUS_FILES)) {
    assert.match(readme, new RegExp(file.replace(/\./g, '\\.')), `README names ${file}`);
    const bytes = readFileSync(join(CORPUS, file));
    total += bytes.length;
    const img = readExr(bytes, file);
    assert.equal(img.compression, want.compression, file);
    assert.equal(img.tiled, want.tiled, file);
    assert.deepEqual([img.width, img.height], want.size, file);
    const declared = Object.fromEntries(
      img.channelInfo.map((c) => [c.name, `${c.pixelType} ${c.xSampling}x${c.ySampling}${c.pLinear ? ' pLinear' : ''}`]),
    );
    assert.deepEqual(declared, want.channels, file);
  }
  assert.match(readme, /BSD-3-Clause/);
  assert.ok(total < 100_000, `the corpus is ${total} bytes`);
});

test('corpus: every sample decodes bit for bit as the OpenEXR library decodes it (and oiiotool, where it reads it)', (t) => {
  const tool = exrTool(t);
  if (!tool || !requireTool(t, OIIOTOOL, 'openimageio-tools')) return;
  for (const file of Object.keys(CORPUS_FILES)) {
    const full = join(CORPUS, file);
    const mine = readExr(readFileSync(full), file);
    assertSameBits(mine, libraryDecode(tool, full, file), file);
    if (mine.channelInfo.every((c) => c.xSampling === 1 && c.ySampling === 1)) assertSameValues(mine, oiioDecode(full, file), file);
  }
});

// ---------------------------------------------------------------------------------------------
// B44 / B44A pLinear

test('B44 and B44A pLinear channels written by the OpenEXR library: log-like values, NaN, ±inf, ±0, 60000', (t) => {
  const tool = exrTool(t);
  if (!tool || !requireTool(t, OIIOTOOL, 'openimageio-tools')) return;
  for (const c of ['b44', 'b44a']) {
    const file = path(`plinear-${c}.exr`);
    run(tool, ['plinear', c, file, '37', '21']);
    const mine = readExr(readFileSync(file), file);
    assert.equal(mine.compression, c.toUpperCase());
    assert.deepEqual(
      mine.channelInfo.map((ch) => [ch.name, ch.pLinear]),
      [
        ['L', true],
        ['Y', false],
        ['Z', true],
      ],
    );
    assertSameBits(mine, libraryDecode(tool, file, `plinear-${c}`), `pLinear ${c}`);
    assertSameValues(mine, oiioDecode(file, `plinear-${c}`), `pLinear ${c}`);
    // The pLinear channel really went through the log: its values differ from the plain one's.
    const l = mine.channels.get('L')!;
    const y = mine.channels.get('Y')!;
    let differ = 0;
    for (let i = 0; i < l.length; i++) if (!Object.is(l[i], y[i])) differ++;
    assert.ok(differ > l.length / 4, `${c}: only ${differ} pLinear samples differ from the linear ones`);
  }
});

test('the B44 pLinear table for every finite half: flat B44A blocks, flagged pLinear, as the library decodes them', (t) => {
  const tool = exrTool(t);
  if (!tool || !requireTool(t, OIIOTOOL, 'openimageio-tools')) return;
  // 256 × 256 blocks of 4 × 4: block k holds the half with bits k. B44A stores a flat block in
  // 3 bytes as its value (infinities and NaNs as 0), so every finite half reaches the decoder.
  const W = 1024;
  const head = Buffer.from(`Pf\n${W} ${W}\n-1.0\n`, 'latin1');
  const body = Buffer.alloc(W * W * 4);
  for (let y = 0; y < W; y++) {
    for (let x = 0; x < W; x++) body.writeFloatLE(fromHalfBits((y >> 2) * 256 + (x >> 2)), ((W - 1 - y) * W + x) * 4);
  }
  const pfm = path('all-halves.pfm');
  writeFileSync(pfm, Buffer.concat([head, body]));
  const plain = path('all-halves-b44a.exr');
  run(OIIOTOOL, [pfm, '-d', 'half', '--compression', 'b44a', '-o', plain]);
  const bytes = new Uint8Array(readFileSync(plain));
  assert.equal(readExr(bytes, plain).channelInfo[0]!.pLinear, false);
  // The channel list's first entry: name, NUL, pixel type (4 bytes), then the pLinear byte.
  const list = attributeValue(bytes, 'channels');
  const nameEnd = bytes.indexOf(0, list);
  bytes[nameEnd + 5] = 1;
  const flagged = path('all-halves-b44a-plinear.exr');
  writeFileSync(flagged, bytes);
  const mine = readExr(bytes, flagged);
  assert.equal(mine.channelInfo[0]!.pLinear, true);
  assertSameBits(mine, libraryDecode(tool, flagged, 'all-halves'), 'every half through the pLinear table');
  // Every finite half was stored (63 488 of them, NaNs and infinities as 0).
  const stored = new Set<number>();
  for (const x of [...readExr(readFileSync(plain), plain).channels.values()][0]!) stored.add(x);
  assert.equal(stored.size, 63_488 - 1, 'distinct stored values (±0 count as one here)');
});

// ---------------------------------------------------------------------------------------------
// DWAA / DWAB

test('DWAA and DWAB from the OpenEXR library: subsampled Y/RY/BY, a FLOAT R/G/B set, a pLinear lone channel, RLE alpha, UINT, unknown channels, a negative origin', (t) => {
  const tool = exrTool(t);
  if (!tool) return;
  for (const c of ['dwaa', 'dwab']) {
    const file = path(`synth-${c}.exr`);
    run(tool, ['synth', c, file]);
    const mine = readExr(readFileSync(file), file);
    assert.equal(mine.compression, c.toUpperCase());
    assert.deepEqual(mine.dataWindow, { xMin: -6, yMin: -4, xMax: 45, yMax: 35 });
    assertSameBits(mine, libraryDecode(tool, file, `synth-${c}`), `synth ${c}`);
  }
});

/** A smooth RGBA image with edges, highlights, negatives and noise, as a 4-channel PFM can't be: four greyscale PFMs. */
function writeRgbaSource(w: number, h: number): string[] {
  const rng = new Rng(20);
  const files: string[] = [];
  for (let c = 0; c < 4; c++) {
    const head = Buffer.from(`Pf\n${w} ${h}\n-1.0\n`, 'latin1');
    const body = Buffer.alloc(w * h * 4);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let v = 0.5 + 0.45 * Math.sin(x / (5 + c) + y / 9) + (x > w / 2 ? 0.2 : 0) + (rng.next() - 0.5) * (y > h / 2 ? 0.3 : 0.01);
        if ((x * 7 + y * 3) % 97 === 0) v = 40 + c * 100;
        if (x < 16 && y < 16) v = c === 3 ? 1 : 0.18;
        if (y % 29 === 0) v = -v;
        body.writeFloatLE(c === 3 ? Math.min(1, Math.abs(v)) : v, ((h - 1 - y) * w + x) * 4);
      }
    }
    const file = path(`rgba-${c}.pfm`);
    writeFileSync(file, Buffer.concat([head, body]));
    files.push(file);
  }
  return files;
}

test('DWA at compression levels 5 to 2000, scan lines and tiles, as oiiotool writes it: bit for bit as OpenEXR decodes it', (t) => {
  const tool = exrTool(t);
  if (!tool || !requireTool(t, OIIOTOOL, 'openimageio-tools')) return;
  const [r, g, b, a] = writeRgbaSource(131, 77);
  const args = [r!, g!, '--chappend', b!, '--chappend', a!, '--chappend', '--chnames', 'R,G,B,A', '-d', 'half'];
  const outputs: string[] = [];
  for (const [codec, level] of [
    ['dwaa', 5],
    ['dwaa', 45],
    ['dwab', 45],
    ['dwab', 500],
    ['dwaa', 2000],
  ] as const) {
    const out = path(`rgba-${codec}-${level}.exr`);
    args.push('--compression', `${codec}:${level}`, '-o', out);
    outputs.push(out);
  }
  const tiled = path('rgba-dwab-tiled.exr');
  args.push('--tile', '16', '16', '--compression', 'dwab:45', '-o', tiled);
  outputs.push(tiled);
  run(OIIOTOOL, args);
  const sizes: number[] = [];
  for (const file of outputs) {
    const mine = readExr(readFileSync(file), file);
    assert.match(mine.compression, /^DWA[AB]$/);
    assertSameBits(mine, libraryDecode(tool, file, file.replace(/.*\//, '')), file);
    assertSameValues(mine, oiioDecode(file, file.replace(/.*\//, '')), file);
    sizes.push(readFileSync(file).length);
  }
  // The levels really differ: higher levels quantise more and make smaller files.
  assert.ok(sizes[0]! > sizes[1]! && sizes[3]! < sizes[2]! && sizes[4]! < sizes[1]!, JSON.stringify(sizes));
});

/** The file with every DWA chunk rewritten as version 1: no channel rules, so the legacy ones apply. */
function asVersion1(bytes: Uint8Array): Uint8Array {
  const file = splitExr(bytes);
  for (const chunk of file.chunks) {
    const d = chunk.data;
    const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
    assert.equal(view.getUint32(0, true), 2, 'a version 2 chunk');
    const rules = view.getUint16(88, true);
    const head = d.slice(0, 88);
    new DataView(head.buffer).setUint32(0, 1, true);
    chunk.data = concat([head, d.subarray(88 + rules)]);
  }
  return joinExr(file);
}

test('DWA channel rules: version 2 obeys the rules in the file, version 1 (none in the file) the legacy ones', (t) => {
  const tool = exrTool(t);
  if (!tool || !requireTool(t, OIIOTOOL, 'openimageio-tools')) return;
  const [r, g, b, a] = writeRgbaSource(64, 40);
  const write = (names: string, out: string) =>
    run(OIIOTOOL, [r!, g!, '--chappend', b!, '--chappend', a!, '--chappend', '--chnames', names, '-d', 'half', '--compression', 'dwaa:45', '-o', out]);
  // The writer's rules know R, G, B, A (case-sensitive), so red, Green, blu, a are stored as they
  // are: the decoding is lossless, and the library agrees.
  const other = path('rules-other-names.exr');
  write('red,Green,blu,a', other);
  const otherImg = readExr(readFileSync(other), other);
  assertSameBits(otherImg, libraryDecode(tool, other, 'rules-other-names'), 'version 2, unmatched names');
  const none = path('rules-none.exr');
  run(OIIOTOOL, [other, '--compression', 'none', '-o', none]);
  assertSameBits(otherImg, readExr(readFileSync(none), none), 'unmatched names are stored losslessly');
  // R, G, B, A as version 1 chunks: the rules block dropped, the legacy (case-insensitive)
  // rules classify them as the file's rules did.
  const v2 = path('rules-v2.exr');
  write('R,G,B,A', v2);
  const v1 = path('rules-v1.exr');
  writeFileSync(v1, asVersion1(new Uint8Array(readFileSync(v2))));
  const mine = readExr(readFileSync(v1), v1);
  assertSameBits(mine, libraryDecode(tool, v1, 'rules-v1'), 'version 1');
  assertSameBits(mine, readExr(readFileSync(v2), v2), 'version 1 = version 2 here');
});

test('corrupt DWA chunks: a CnnV3Error that names the file and the reason, never another error', (t) => {
  const tool = exrTool(t);
  if (!tool) return;
  const file = path('fuzz-dwaa.exr');
  run(tool, ['synth', 'dwaa', file]);
  const good = new Uint8Array(readFileSync(file));
  const split = splitExr(good);
  const chunk = split.chunks[0]!.data;
  const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  const refused = (bytes: Uint8Array, pattern: RegExp, what: string) =>
    assert.throws(
      () => readExr(bytes, 'f.exr'),
      (e: unknown) => e instanceof CnnV3Error && pattern.test(e.message),
      what,
    );
  const withChunk0 = (mutate: (d: Uint8Array, v: DataView) => Uint8Array | void) => {
    const copy = splitExr(good);
    const d = copy.chunks[0]!.data.slice();
    copy.chunks[0]!.data = mutate(d, new DataView(d.buffer)) ?? d;
    return joinExr(copy);
  };
  refused(withChunk0((_d, v) => v.setUint32(0, 3, true)), /^f\.exr: chunk 0: corrupt DWA data \(unknown version 3\)$/, 'version');
  refused(withChunk0((_d, v) => v.setUint32(80, 7, true)), /^f\.exr: chunk 0: corrupt DWA data \(unknown AC compression 7\)$/, 'AC codec');
  refused(withChunk0((_d, v) => v.setUint32(4 * 8 + 4, 1, true)), /^f\.exr: chunk 0: corrupt DWA data \(counter 4 is too large\)$/, 'huge size');
  refused(withChunk0((d) => d.subarray(0, 40)), /^f\.exr: chunk 0: corrupt DWA data \(40 bytes, shorter than its 88-byte header\)$/, 'short');
  refused(
    withChunk0((_d, v) => v.setUint32(3 * 8, view.getUint32(3 * 8, true) + 1000, true)),
    /^f\.exr: chunk 0: corrupt DWA data \(its sections need \d+ bytes after the header, the chunk has \d+\)$/,
    'sections past the end',
  );
  refused(withChunk0((_d, v) => v.setUint32(9 * 8, 3, true)), /^f\.exr: chunk 0 \(DWA DC\): zlib data inflates to more than 6 bytes$/, 'DC count');
  // Random damage anywhere in the chunk: refused with the file's name, or decoded.
  const rng = new Rng(7);
  let refusedCount = 0;
  for (let i = 0; i < 300; i++) {
    const bytes = withChunk0((d) => {
      const flips = 1 + Math.floor(rng.next() * 4);
      for (let k = 0; k < flips; k++) {
        const at = Math.floor(rng.next() * d.length);
        d[at] = d[at]! ^ (1 << Math.floor(rng.next() * 8));
      }
      if (rng.next() < 0.2) return d.subarray(0, Math.floor(rng.next() * d.length));
    });
    try {
      readExr(bytes, 'f.exr');
    } catch (e) {
      assert.ok(e instanceof CnnV3Error, `mutation ${i}: ${String(e)}`);
      assert.match(e.message, /^f\.exr: /, `mutation ${i}`);
      refusedCount++;
    }
  }
  assert.ok(refusedCount > 50, `${refusedCount} of 300 damaged files refused`);
});

test('readExrParts: every part decoded; a part that cannot be is refused with the file, the part and the reason', (t) => {
  if (!requireTool(t, OIIOTOOL, 'openimageio-tools') || !requireTool(t, '/usr/bin/exrmultipart', 'openexr')) return;
  const beauty = path('parts-beauty.exr');
  const depth = path('parts-depth.exr');
  run(OIIOTOOL, ['--pattern', 'fill:top=0,0.5,1:bottom=1,0.5,0', '40x24', '3', '--chnames', 'R,G,B', '-d', 'half', '--compression', 'dwaa', '-o', beauty]);
  run(OIIOTOOL, ['--pattern', 'fill:top=2:bottom=9', '40x24', '1', '--chnames', 'Z', '-d', 'float', '--compression', 'zip', '-o', depth]);
  const multi = path('parts.exr');
  run('/usr/bin/exrmultipart', ['-combine', '-i', `${beauty}::beauty`, `${depth}::depth`, '-o', multi]);
  const bytes = new Uint8Array(readFileSync(multi));
  const parts = readExrParts(bytes, 'parts.exr');
  assert.deepEqual(
    parts.map((p) => [p.partName, p.compression, [...p.channels.keys()].join(',')]),
    [
      ['beauty', 'DWAA', 'B,G,R'],
      ['depth', 'ZIP', 'Z'],
    ],
  );
  assertSameBits(parts[0]!, readExr(readFileSync(beauty), beauty), 'part 0 = its single-part file');
  assertSameBits(parts[1]!, readExr(readFileSync(depth), depth), 'part 1 = its single-part file');

  // The second part's compression byte (the second "compression" attribute) set to ZSTD.
  const tag = new TextEncoder().encode('compression\0compression\0');
  const at: number[] = [];
  for (let i = 0; i + tag.length < bytes.length && at.length < 2; i++) {
    if (tag.every((b, k) => bytes[i + k] === b)) at.push(i + tag.length + 4);
  }
  assert.equal(at.length, 2);
  const zstd = bytes.slice();
  zstd[at[1]!] = 12;
  assert.throws(
    () => readExrParts(zstd, 'parts.exr'),
    (e: unknown) => e instanceof CnnV3Error && e.message === 'parts.exr: part 1 ("depth"): unsupported compression ZSTD',
  );
  // readExr of the first part alone still works.
  assert.equal(readExr(zstd, 'parts.exr').partName, 'beauty');
  // Limits count every part's samples.
  const samples = 40 * 24 * 4;
  assert.throws(
    () => readExrParts(bytes, 'parts.exr', { limits: { maxSamples: samples - 1 } }),
    (e: unknown) => e instanceof CnnV3Error && e.message === `parts.exr: its 2 parts hold ${samples} samples, over the limit of ${samples - 1}`,
  );
});
