// Issue 9 item 5: bounded mutation fuzzing in the suite, OpenEXR's way — a window of random
// bytes slides across each real input, and the header bytes are hammered with boundary values.
// A parser must return or throw a CnnV3Error; any other exception, or one slow input, fails.
// The long campaign is `npm run fuzz -- --seconds N` (scripts/fuzz.mjs).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint/checkpoint.js';
import { decodeSafetensors } from '../src/checkpoint/safetensors.js';
import { CnnV3Error } from '../src/errors.js';
import type { Raster } from '../src/image/image.js';
import { decodePng, encodePng } from '../src/image/png.js';
import { DEFAULT_MODEL_CONFIG } from '../src/model/config.js';
import { makeCheckpoint } from './checkpoint-fixtures.js';
import { readExr } from '../src/exr/exr.js';
import { tableStart } from './exr-fixtures.js';
import { requireTool, skimage, tempDir } from './helpers.js';

const OIIOTOOL = '/usr/bin/oiiotool';
import { fixPngCrcs } from './png-fixtures.js';
import { Rng } from '../src/util/rng.js';

/** Uniform [0, 1) draws from the project's seeded generator. */
function random(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.next();
}



const INTERESTING = [0, 1, 2, 0x7f, 0x80, 0xfe, 0xff];

/** Every mutant of `seed`: a 4-byte random window at `steps` positions, then the header hammered. */
function* mutants(seed: Uint8Array, rnd: () => number, steps: number, headerBytes: number): Generator<Uint8Array> {
  const stride = Math.max(1, Math.floor(seed.length / steps));
  for (let p = 0; p < seed.length; p += stride) {
    const m = seed.slice();
    for (let i = p; i < Math.min(m.length, p + 4); i++) m[i] = Math.floor(rnd() * 256);
    yield m;
  }
  for (let p = 0; p < Math.min(headerBytes, seed.length); p++) {
    for (const v of INTERESTING) {
      const m = seed.slice();
      m[p] = v;
      yield m;
    }
  }
}

/** Runs the parser on every mutant; returns how many decoded and how many were refused. */
function hammer(label: string, parse: (b: Uint8Array) => unknown, inputs: Iterable<Uint8Array>): { ok: number; refused: number } {
  let ok = 0;
  let refused = 0;
  for (const m of inputs) {
    const t0 = performance.now();
    try {
      parse(m);
      ok++;
    } catch (e) {
      if (!(e instanceof CnnV3Error)) {
        const hex = Buffer.from(m).toString('base64');
        assert.fail(`${label}: ${e instanceof Error ? e.stack : String(e)}\ninput (base64, ${m.length} bytes): ${hex.slice(0, 4000)}`);
      }
      refused++;
    }
    const ms = performance.now() - t0;
    assert.ok(ms < 1000, `${label}: one input took ${ms.toFixed(0)} ms`);
  }
  return { ok, refused };
}

function pattern(width: number, height: number, channels: Raster['channels'], depth: 8 | 16): Raster {
  const n = width * height * channels;
  const data = depth === 16 ? new Uint16Array(n) : new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = ((i * 2654435761) >>> 0) % (depth === 16 ? 65536 : 256);
  return { width, height, channels, depth, data };
}

function pngRuns(seed: Uint8Array, rnd: () => number): Generator<Uint8Array> {
  return (function* () {
    for (const m of mutants(seed, rnd, 150, 41)) {
      yield m; // raw: mostly CRC errors
      yield fixPngCrcs(m.slice()); // CRCs repaired: reaches IHDR checks, inflate, unfilter, palette
    }
  })();
}

test('PNG mutation fuzz: encoder output (gray 8/16, gray+alpha 16, RGB, RGBA) only returns or throws CnnV3Error', () => {
  const t0 = performance.now();
  const rnd = random(9);
  const seeds = [pattern(9, 7, 1, 8), pattern(6, 5, 1, 16), pattern(4, 3, 2, 16), pattern(8, 6, 3, 8), pattern(5, 5, 4, 8)].map(encodePng);
  let total = { ok: 0, refused: 0 };
  for (const [i, s] of seeds.entries()) {
    const r = hammer(`png seed ${i}`, (b) => decodePng(b, 'fuzz.png'), pngRuns(s, rnd));
    total = { ok: total.ok + r.ok, refused: total.refused + r.refused };
  }
  assert.ok(total.ok + total.refused > 3000, `${total.ok + total.refused} executions`);
  assert.ok(total.ok > 100 && total.refused > 100, `mutants both decode and fail: ${JSON.stringify(total)}`);
  assert.ok(performance.now() - t0 < 10_000);
});

test('PNG mutation fuzz: real palette, 1-bit and indexed files from scikit-image', (t) => {
  const rnd = random(10);
  for (const f of ['palette_color.png', 'foo3x5x4indexed.png', 'checker_bilevel.png']) {
    const path = skimage(t, f);
    if (!path) return;
    hammer(f, (b) => decodePng(b, f), pngRuns(new Uint8Array(readFileSync(path)), rnd));
  }
});

test('safetensors mutation fuzz: a real checkpoint only returns or throws CnnV3Error', () => {
  const t0 = performance.now();
  const rnd = random(11);
  const seed = encodeCheckpoint(makeCheckpoint({ encChannels: [2, 3], filmCondDim: 2 }, true));
  const headerLen = Number(new DataView(seed.buffer).getBigUint64(0, true));
  // Slide over the whole file, then hammer the length field and the JSON header byte by byte.
  const r = hammer('safetensors', (b) => decodeSafetensors(b, 'fuzz.safetensors'), mutants(seed, rnd, 800, Math.min(headerLen + 8, 400)));
  assert.ok(r.ok + r.refused > 2000, `${r.ok + r.refused} executions`);
  assert.ok(r.ok > 50 && r.refused > 50, JSON.stringify(r));
  assert.ok(performance.now() - t0 < 10_000);
});

test(
  'checkpoint mutation fuzz: decodeCheckpoint on the same mutants',
  () => {
    const rnd = random(12);
    const seed = encodeCheckpoint(makeCheckpoint(DEFAULT_MODEL_CONFIG, false));
    hammer('checkpoint', (b) => decodeCheckpoint(b, 'fuzz.safetensors'), mutants(seed, rnd, 400, 400));
    // The fuzzer's first finding, as a fixed case.
    const n = Number(new DataView(seed.buffer).getBigUint64(0, true));
    const header = new TextDecoder().decode(seed.subarray(8, 8 + n));
    const json = new TextEncoder().encode(header.replace('\\"enc_channels\\":[4,8]', '\\"enc_channels\\":[4294967296,8]'));
    assert.equal(json.length, n + 9);
    const fixed = new Uint8Array(seed.length + 9);
    new DataView(fixed.buffer).setBigUint64(0, BigInt(json.length), true);
    fixed.set(json, 8);
    fixed.set(seed.subarray(8 + n), 8 + json.length);
    hammer('checkpoint config', (b) => decodeCheckpoint(b, 'fuzz.safetensors'), [fixed]);
  },
);

test('EXR mutation fuzz: oiiotool files in every compression the reader decodes (scan-line and tiled) only return or throw CnnV3Error', (t) => {
  if (!requireTool(t, OIIOTOOL, 'openimageio-tools')) return;
  const dir = tempDir(t);
  // 24 × 20: HALF RGBA and a FLOAT depth, so every decoder path (PXR24's float case, B44's
  // half-only blocks) has something to chew on.
  const kinds = ['none', 'rle', 'zips', 'zip', 'piz', 'pxr24', 'b44', 'b44a', 'dwaa', 'dwab'];
  execFileSync(
    OIIOTOOL,
    [
      '--nosoftwareattrib',
      '--pattern', 'fill:topleft=0,0,0,1:topright=1,0.5,0,1:bottomleft=0,1,0.25,0.5:bottomright=1,1,1,0', '24x20', '4',
      '--pattern', 'fill:top=0.5:bottom=9', '24x20', '1',
      '--chappend', '--chnames', 'R,G,B,A,Z', '-d', 'half', '-d', 'Z=float',
      ...kinds.flatMap((c) => ['--compression', c, '-o', `${c}.exr`]),
      '--tile', '8', '8', '--compression', 'zip', '-o', 'tile-zip.exr',
      '--compression', 'piz', '-o', 'tile-piz.exr',
      '--compression', 'dwaa', '-o', 'tile-dwaa.exr',
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const rnd = random(13);
  let total = 0;
  for (const kind of [...kinds, 'tile-zip', 'tile-piz', 'tile-dwaa']) {
    const seed = new Uint8Array(readFileSync(join(dir, `${kind}.exr`)));
    readExr(seed, `${kind}.exr`); // the unmutated file decodes
    // The header is everything before the offset table: hammer all of it.
    const { ok, refused } = hammer(`exr ${kind}`, (b) => readExr(b, 'fuzz.exr'), mutants(seed, rnd, 250, tableStart(seed)));
    total += ok + refused;
    assert.ok(refused > 0, `${kind}: some mutants are refused`);
  }
  assert.ok(total > 5000, `${total} EXR mutants`);
});
