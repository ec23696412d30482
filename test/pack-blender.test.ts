/**
 * pack-blender without Blender: the transforms (sRGB, octahedral normals, depth), the playbook
 * table on hand-made multilayer EXRs (written here, uncompressed, read back with the project's
 * reader), layer detection, and the CLI's bad-input handling.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readExr, readExrParts } from '../src/exr/exr.js';
import { decodePng } from '../src/image/png.js';
import type { Raster } from '../src/image/image.js';
import {
  chooseLayer,
  depthToU16,
  linearToSrgb8,
  octDecode,
  octEncode,
  packBlenderSample,
  srgbEncode,
} from '../src/pack/blender.js';
import { toHalfBits } from '../src/util/half.js';
import { decodeMotion } from '../src/dataset/motion.js';
import { requireTool, runCli, tempDir } from './helpers.js';

// ---------------------------------------------------------------------------------------------
// A minimal OpenEXR writer: single-part scanline, one line per block, NONE compression unless
// another compression byte is asked for (then the pixel data is still raw, which a reader must
// refuse by name before decoding). Channels are written in sorted order, as the format requires.

type PixelType = 'UINT' | 'HALF' | 'FLOAT';
interface ExrSpec {
  width: number;
  height: number;
  channels: Record<string, ArrayLike<number>>;
  types?: Record<string, PixelType>;
  /** [xMin, yMin, xMax, yMax]; default the full image. Channel data covers the data window. */
  dataWindow?: [number, number, number, number];
  compression?: number;
}

function writeExr(spec: ExrSpec): Uint8Array {
  const out: number[] = [];
  const u8 = (v: number) => out.push(v & 255);
  const i32 = (v: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, v, true);
    out.push(...b);
  };
  const f32 = (v: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    out.push(...b);
  };
  const str = (s: string) => {
    for (const c of new TextEncoder().encode(s)) out.push(c);
    out.push(0);
  };
  const attr = (name: string, type: string, body: () => void) => {
    str(name);
    str(type);
    const sizeAt = out.length;
    i32(0);
    const start = out.length;
    body();
    const size = out.length - start;
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, size, true);
    out.splice(sizeAt, 4, ...b);
  };
  const names = Object.keys(spec.channels).sort();
  const typeOf = (n: string): PixelType => spec.types?.[n] ?? 'FLOAT';
  const [x0, y0, x1, y1] = spec.dataWindow ?? [0, 0, spec.width - 1, spec.height - 1];
  const dw = x1 - x0 + 1;
  const dh = y1 - y0 + 1;
  out.push(0x76, 0x2f, 0x31, 0x01, 2, 0, 0, 0);
  attr('channels', 'chlist', () => {
    for (const n of names) {
      str(n);
      i32({ UINT: 0, HALF: 1, FLOAT: 2 }[typeOf(n)]);
      out.push(0, 0, 0, 0);
      i32(1);
      i32(1);
    }
    out.push(0);
  });
  attr('compression', 'compression', () => u8(spec.compression ?? 0));
  attr('dataWindow', 'box2i', () => [x0, y0, x1, y1].forEach(i32));
  attr('displayWindow', 'box2i', () => [0, 0, spec.width - 1, spec.height - 1].forEach(i32));
  attr('lineOrder', 'lineOrder', () => u8(0));
  attr('pixelAspectRatio', 'float', () => f32(1));
  attr('screenWindowCenter', 'v2f', () => [0, 0].forEach(f32));
  attr('screenWindowWidth', 'float', () => f32(1));
  out.push(0);
  const lineBytes = names.reduce((s, n) => s + dw * (typeOf(n) === 'HALF' ? 2 : 4), 0);
  const tableAt = out.length;
  const firstBlock = tableAt + dh * 8;
  const head = new Uint8Array(firstBlock);
  head.set(out);
  const body = new Uint8Array(dh * (8 + lineBytes));
  const view = new DataView(body.buffer);
  const headView = new DataView(head.buffer);
  let o = 0;
  for (let l = 0; l < dh; l++) {
    headView.setBigUint64(tableAt + l * 8, BigInt(firstBlock + o), true);
    view.setInt32(o, y0 + l, true);
    view.setInt32(o + 4, lineBytes, true);
    o += 8;
    for (const n of names) {
      const data = spec.channels[n]!;
      for (let x = 0; x < dw; x++) {
        const v = data[l * dw + x]!;
        if (typeOf(n) === 'HALF') {
          view.setUint16(o, toHalfBits(v), true);
          o += 2;
        } else if (typeOf(n) === 'UINT') {
          view.setUint32(o, v, true);
          o += 4;
        } else {
          view.setFloat32(o, v, true);
          o += 4;
        }
      }
    }
  }
  const file = new Uint8Array(head.length + body.length);
  file.set(head);
  file.set(body, head.length);
  return file;
}

// ---------------------------------------------------------------------------------------------
// Independent references (written from SPEC §2 and IEC 61966-2-1, not from the module).

function refSrgb8(v: number): number {
  const c = Math.min(1, Math.max(0, Number.isNaN(v) ? 0 : v));
  const e = c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055;
  return Math.round(e * 255);
}

function refOct(n: [number, number, number]): [number, number] {
  const [x, y, z] = n;
  const s = Math.abs(x) + Math.abs(y) + Math.abs(z);
  let px = x / s;
  let py = y / s;
  if (z < 0) {
    const sx = px >= 0 ? 1 : -1;
    const sy = py >= 0 ? 1 : -1;
    [px, py] = [(1 - Math.abs(py)) * sx, (1 - Math.abs(px)) * sy];
  }
  return [Math.round((px * 0.5 + 0.5) * 255), Math.round((py * 0.5 + 0.5) * 255)];
}

function png(files: Record<string, Uint8Array>, name: string): Raster {
  return decodePng(files[name]!, name);
}

// ---------------------------------------------------------------------------------------------

test('sRGB: the exact transfer function, clamped, both branches', () => {
  assert.equal(linearToSrgb8(0), 0);
  assert.equal(linearToSrgb8(1), 255);
  assert.equal(linearToSrgb8(0.5), 188); // 0.7354 · 255 = 187.5
  assert.equal(linearToSrgb8(0.8), 231);
  assert.equal(linearToSrgb8(0.05), 63);
  assert.equal(linearToSrgb8(0.002), 7); // linear segment: 12.92 · 0.002 · 255 = 6.59
  assert.equal(linearToSrgb8(-0.5), 0);
  assert.equal(linearToSrgb8(7), 255);
  assert.equal(linearToSrgb8(NaN), 0);
  assert.equal(linearToSrgb8(Infinity), 255);
  // Continuity at the knee, and agreement with the reference everywhere.
  assert.ok(Math.abs(srgbEncode(0.0031308) - srgbEncode(0.0031309)) < 1e-5, 'continuous at the knee');
  for (let i = 0; i <= 4096; i++) assert.equal(linearToSrgb8(i / 4096), refSrgb8(i / 4096), `v = ${i}/4096`);
  // Not γ 2.2: the darks differ (sRGB's linear toe).
  assert.notEqual(linearToSrgb8(0.001), Math.round(0.001 ** (1 / 2.2) * 255));
});

test('octahedral encoding: axes, the z < 0 fold (sign(0) = +1), round trip, no-normal', () => {
  assert.deepEqual(octEncode(0, 0, 1), [128, 128]);
  assert.deepEqual(octEncode(1, 0, 0), [255, 128]);
  assert.deepEqual(octEncode(-1, 0, 0), [0, 128]);
  assert.deepEqual(octEncode(0, 1, 0), [128, 255]);
  assert.deepEqual(octEncode(0, -1, 0), [128, 0]);
  assert.deepEqual(octEncode(0, 0, -1), [255, 255]); // p = (0,0) folds to (1,1)
  // (−1, 3, −4)/√26: p = (−1/8, 3/8) → fold (−5/8, 7/8) → round(47.81), round(239.06)
  assert.deepEqual(octEncode(-1, 3, -4), [48, 239]);
  assert.deepEqual(octEncode(-0, -0.5, -1), refOct([0, -0.5 / Math.hypot(0.5, 1), -1 / Math.hypot(0.5, 1)]));
  // Unnormalised input is normalised first (the encoding is scale-free anyway).
  assert.deepEqual(octEncode(0, 0, 7), [128, 128]);
  assert.deepEqual(octEncode(3, -4, -12), refOct([3 / 13, -4 / 13, -12 / 13]));
  // No surface: zero or non-finite normals give the neutral (128, 128).
  assert.deepEqual(octEncode(0, 0, 0), [128, 128]);
  assert.deepEqual(octEncode(NaN, 0, 1), [128, 128]);
  // Random unit vectors, both hemispheres: matches the reference and decodes back closely.
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  let worst = 0;
  for (let i = 0; i < 2000; i++) {
    const v: [number, number, number] = [rnd(), rnd(), rnd()];
    const l = Math.hypot(...v);
    if (l < 0.1) continue;
    const n: [number, number, number] = [v[0] / l, v[1] / l, v[2] / l];
    const e = octEncode(...n);
    assert.deepEqual(e, refOct(n));
    const d = octDecode(...e);
    assert.ok(Math.abs(Math.hypot(...d) - 1) < 1e-9, 'decodes to a unit vector');
    worst = Math.max(worst, Math.acos(Math.min(1, d[0] * n[0] + d[1] * n[1] + d[2] * n[2])));
  }
  assert.ok(worst < 0.02, `worst round-trip angle ${worst} rad`);
});

test('depth: round(65535/(z+1)), far / non-finite → 0, clamped', () => {
  assert.equal(depthToU16(0), 65535);
  assert.equal(depthToU16(1), 32768); // 32767.5 rounds up
  assert.equal(depthToU16(6), 9362);
  assert.equal(depthToU16(65534), 1);
  assert.equal(depthToU16(200000), 0);
  assert.equal(depthToU16(999_999_999), 0);
  assert.equal(depthToU16(1e9), 0);
  assert.equal(depthToU16(1e10), 0); // Blender's "nothing hit"
  assert.equal(depthToU16(Infinity), 0);
  assert.equal(depthToU16(-Infinity), 0);
  assert.equal(depthToU16(NaN), 0);
  assert.equal(depthToU16(-0.5), 65535); // would be 131070: clamped
  assert.equal(depthToU16(-1), 0);
  assert.equal(depthToU16(-3), 0);
});

/** A 4×2 frame: every pass of the table with hand-picked values. */
function frame(prefix = 'ViewLayer.') {
  const ch = (name: string, v: number[]) => [prefix + name, v] as const;
  return {
    width: 4,
    height: 2,
    channels: Object.fromEntries([
      ch('Combined.R', [0.5, 0, 1, 0.2, 0.0031308, 2, 0, 0.25]),
      ch('Combined.G', [0.5, 0.8, 0, 0.2, 0.002, -1, 0, 0.25]),
      ch('Combined.B', [0.5, 0.05, 0, 0.2, 0.1, 0.5, 0, 0.25]),
      ch('Combined.A', [1, 1, 1, 1, 1, 1, 0, 0.5]),
      ch('DiffCol.R', [0.8, 0.05, 0.1, 0.5, 0, 1, 0, 0.4]),
      ch('DiffCol.G', [0.05, 0.6, 0.2, 0.5, 0, 1, 0, 0.1]),
      ch('DiffCol.B', [0.05, 0.1, 0.8, 0.5, 0, 1, 0, 0.02]),
      ch('Normal.X', [0, 1, 0, 0, 3, -1, 0, 0]),
      ch('Normal.Y', [0, 0, 0, -1, -4, 1, 0, 0]),
      ch('Normal.Z', [1, 0, -1, 0, -12, -1, 0, 2]),
      ch('Depth.Z', [6, 7, 10, 0, 65534, 1e9, 1e10, 1]),
      ch('IndexOB.X', [1, 2, 3, 0, 255, 300, 0, -4]),
      ch('Shadow.R', [1, 0, 0.5, 1, 1, 1, 0, 0.25]),
      ch('Shadow.G', [1, 0, 0.5, 1, 1, 1, 0, 0.25]),
      ch('Shadow.B', [1, 0, 0.5, 1, 1, 1, 0, 0.25]),
    ]) as Record<string, number[]>,
  };
}

test('the playbook table, pass by pass, on a hand-made ViewLayer EXR', () => {
  const spec = frame();
  const img = readExr(writeExr(spec), 'f.exr');
  const { files, warnings, prefix, width, height } = packBlenderSample(img, { name: 'f.exr' });
  assert.equal(prefix, 'ViewLayer.');
  assert.deepEqual(warnings, []);
  assert.equal(width, 4);
  assert.equal(height, 2);
  const c = spec.channels;
  const get = (n: string) => c[`ViewLayer.${n}`]!;

  const target = png(files, 'target.png');
  assert.deepEqual([target.channels, target.depth, target.width, target.height], [4, 8, 4, 2]);
  const albedo = png(files, 'albedo.png');
  assert.deepEqual([albedo.channels, albedo.depth], [3, 8]);
  const normal = png(files, 'normal.png');
  assert.deepEqual([normal.channels, normal.depth], [3, 8]);
  const depth = png(files, 'depth.png');
  assert.deepEqual([depth.channels, depth.depth], [1, 16]);
  for (const f of ['matid.png', 'shadow.png', 'transp.png']) {
    const r = png(files, f);
    assert.deepEqual([r.channels, r.depth], [1, 8], f);
  }
  const matid = png(files, 'matid.png').data;
  const shadow = png(files, 'shadow.png').data;
  const transp = png(files, 'transp.png').data;

  for (let p = 0; p < 8; p++) {
    const a = get('Combined.A')[p]!;
    const un = a > 0 && a < 1 ? 1 / a : 1;
    const rgb = ['R', 'G', 'B'].map((k) => refSrgb8(get(`Combined.${k}`)[p]! * un));
    assert.deepEqual(Array.from(target.data.subarray(p * 4, p * 4 + 4)), [...rgb, Math.round(a * 255)], `target px ${p}`);
    assert.equal(transp[p], 255 - Math.round(255 * a), `transp px ${p}`);
    const alb = ['R', 'G', 'B'].map((k) => refSrgb8(get(`DiffCol.${k}`)[p]! * un));
    assert.deepEqual(Array.from(albedo.data.subarray(p * 3, p * 3 + 3)), alb, `albedo px ${p}`);
    const n: [number, number, number] = [get('Normal.X')[p]!, get('Normal.Y')[p]!, get('Normal.Z')[p]!];
    const len = Math.hypot(...n);
    const oct = len === 0 ? [128, 128] : refOct([n[0] / len, n[1] / len, n[2] / len]);
    assert.deepEqual(Array.from(normal.data.subarray(p * 3, p * 3 + 3)), [...oct, 0], `normal px ${p}`);
  }
  assert.deepEqual(Array.from(depth.data), [9362, 8192, 5958, 65535, 1, 0, 0, 32768]);
  assert.deepEqual(Array.from(matid), [1, 2, 3, 0, 255, 255, 0, 0]);
  // Shadow: the largest of R, G, B (all equal here), ÷ A at partial coverage (0.25 / 0.5), 255
  // where nothing was hit (z ≥ 1e9).
  assert.deepEqual(Array.from(shadow), [255, 0, 128, 255, 255, 255, 255, 128]);
  // Spot checks against numbers worked by hand.
  assert.deepEqual(Array.from(albedo.data.subarray(0, 3)), [231, 63, 63]);
  assert.deepEqual(Array.from(target.data.subarray(0, 4)), [188, 188, 188, 255]);
  assert.deepEqual(Array.from(target.data.subarray(28, 32)), [188, 188, 188, 128]); // 0.25 / 0.5 = 0.5
  assert.deepEqual(Array.from(normal.data.subarray(6, 9)), [255, 255, 0]); // (0, 0, −1)
});

test('layers: no prefix, Composite beside a view layer, several view layers, --view-layer', () => {
  const plain = frame('');
  const r0 = packBlenderSample(readExr(writeExr(plain), 'plain.exr'), { name: 'plain.exr' });
  assert.equal(r0.prefix, '');
  assert.deepEqual(r0.warnings, []);
  const withPrefix = packBlenderSample(readExr(writeExr(frame()), 'f.exr'), { name: 'f.exr' });
  for (const f of Object.keys(r0.files)) assert.deepEqual(r0.files[f as 'albedo.png'], withPrefix.files[f as 'albedo.png'], f);

  const names = (...prefixes: string[]) => prefixes.flatMap((p) => ['R', 'G', 'B', 'A'].map((k) => `${p}Combined.${k}`));
  assert.deepEqual(chooseLayer(names('Composite.', 'ViewLayer.'), 'x.exr'), { prefix: 'ViewLayer.' });
  assert.deepEqual(chooseLayer(names('Composite.'), 'x.exr'), { prefix: 'Composite.' });
  const two = chooseLayer(names('Back.', 'Front.'), 'x.exr');
  assert.equal(two.prefix, 'Back.');
  assert.match(two.warning!, /^x\.exr: 2 view layers \(Back, Front\); packing Back \(choose one with --view-layer\)$/);
  assert.deepEqual(chooseLayer(names('Back.', 'Front.'), 'x.exr', 'Front'), { prefix: 'Front.' });
  // Layer names may contain dots; the prefix is everything before "Combined.R".
  assert.deepEqual(chooseLayer(names('My.Layer.'), 'x.exr', 'My.Layer'), { prefix: 'My.Layer.' });
  assert.throws(
    () => chooseLayer(names('Back.', 'Front.'), 'x.exr', 'Side'),
    /^CnnV3Error: x\.exr: no view layer "Side" with a Combined pass \(Side\.Combined\.R\) in this EXR; layers with a Combined pass: Back, Front$/,
  );
  // A channel merely ending in "Combined.R" without a dot boundary is not a layer.
  assert.throws(() => chooseLayer(['XCombined.R'], 'x.exr'), /no Combined pass/);

  // Two real layers in one file: each packs its own values.
  const a = frame('Back.').channels;
  const b = Object.fromEntries(Object.entries(frame('Front.').channels).map(([k, v]) => [k, k.endsWith('IndexOB.X') ? v.map(() => 9) : v]));
  const img = readExr(writeExr({ width: 4, height: 2, channels: { ...a, ...b } }), 'two.exr');
  const front = packBlenderSample(img, { name: 'two.exr', viewLayer: 'Front' });
  assert.deepEqual(front.warnings, []);
  assert.ok(Array.from(png(front.files, 'matid.png').data).every((v) => v === 9), 'Front layer read');
  const auto = packBlenderSample(img, { name: 'two.exr' });
  assert.equal(auto.warnings.length, 1);
  assert.deepEqual(Array.from(png(auto.files, 'matid.png').data), [1, 2, 3, 0, 255, 255, 0, 0]);
});

test('missing passes: DiffCol warns and zeroes albedo; Shadow absent → 255; Shadow.X is read; no Combined is an error', () => {
  const spec = frame();
  const drop = (re: RegExp) => Object.fromEntries(Object.entries(spec.channels).filter(([k]) => !re.test(k)));
  const noDiff = packBlenderSample(readExr(writeExr({ ...spec, channels: drop(/DiffCol/) }), 'nd.exr'), { name: 'nd.exr' });
  assert.deepEqual(noDiff.warnings, [
    "nd.exr: no DiffCol pass (ViewLayer.DiffCol.R/G/B); albedo.png is zero (enable Diffuse Color in the view layer's passes)",
  ]);
  assert.ok(Array.from(png(noDiff.files, 'albedo.png').data).every((v) => v === 0), 'albedo zero');

  const noShadow = packBlenderSample(readExr(writeExr({ ...spec, channels: drop(/Shadow/) }), 'ns.exr'), { name: 'ns.exr' });
  assert.deepEqual(noShadow.warnings, []);
  assert.ok(Array.from(png(noShadow.files, 'shadow.png').data).every((v) => v === 255), 'shadow 255');

  const shadowX = { ...drop(/Shadow/), 'ViewLayer.Shadow.X': [1, 0, 0.5, 1, 1, 1, 0, 0.25] };
  const sx = packBlenderSample(readExr(writeExr({ ...spec, channels: shadowX }), 'sx.exr'), { name: 'sx.exr' });
  assert.deepEqual(Array.from(png(sx.files, 'shadow.png').data), [255, 0, 128, 255, 255, 255, 255, 128]);

  const bare = packBlenderSample(readExr(writeExr({ ...spec, channels: drop(/Normal|Depth|IndexOB|Combined\.A/) }), 'b.exr'), { name: 'b.exr' });
  assert.deepEqual(bare.warnings, [
    'b.exr: no ViewLayer.Combined.A; treating layer ViewLayer as opaque',
    'b.exr: no Normal pass (ViewLayer.Normal.X/Y/Z); normal.png is neutral (128, 128, 0)',
    'b.exr: no Depth pass (ViewLayer.Depth.Z); depth.png is zero',
    'b.exr: no IndexOB pass (ViewLayer.IndexOB.X); matid.png is zero',
  ]);
  assert.ok(Array.from(png(bare.files, 'normal.png').data).every((v, i) => v === [128, 128, 0][i % 3]), 'neutral normal');
  assert.ok(Array.from(png(bare.files, 'transp.png').data).every((v) => v === 0), 'opaque');

  const incomplete = { ...drop(/DiffCol\.G/) };
  assert.throws(
    () => packBlenderSample(readExr(writeExr({ ...spec, channels: incomplete }), 'i.exr'), { name: 'i.exr' }),
    /^CnnV3Error: i\.exr: the DiffCol pass is incomplete: no ViewLayer\.DiffCol\.G$/,
  );
  const noCombined = drop(/Combined/);
  assert.throws(
    () => packBlenderSample(readExr(writeExr({ ...spec, channels: noCombined }), 'nc.exr'), { name: 'nc.exr' }),
    /^CnnV3Error: nc\.exr: no Combined pass \(…Combined\.R\) in this EXR; channels: ViewLayer\.Depth\.Z, ViewLayer\.DiffCol\.B, /,
  );
});

test('a border render: pixels outside the data window are empty (transparent, no depth, lit, neutral normal)', () => {
  // Display 4×3, data window x 1..2, y 1..1: two pixels of an opaque red surface at distance 3.
  const channels = {
    'ViewLayer.Combined.R': [1, 1],
    'ViewLayer.Combined.G': [0, 0],
    'ViewLayer.Combined.B': [0, 0],
    'ViewLayer.Combined.A': [1, 1],
    'ViewLayer.Normal.X': [0, 0],
    'ViewLayer.Normal.Y': [0, 0],
    'ViewLayer.Normal.Z': [1, -1],
    'ViewLayer.Depth.Z': [3, 3],
    'ViewLayer.IndexOB.X': [4, 5],
    'ViewLayer.Shadow.X': [0, 0],
    'ViewLayer.DiffCol.R': [1, 1],
    'ViewLayer.DiffCol.G': [1, 1],
    'ViewLayer.DiffCol.B': [1, 1],
  };
  const img = readExr(writeExr({ width: 4, height: 3, channels, dataWindow: [1, 1, 2, 1] }), 'border.exr');
  const { files, width, height } = packBlenderSample(img, { name: 'border.exr' });
  assert.deepEqual([width, height], [4, 3]);
  const inside = (p: number) => p === 5 || p === 6;
  const depth = png(files, 'depth.png').data;
  const transp = png(files, 'transp.png').data;
  const shadow = png(files, 'shadow.png').data;
  const matid = png(files, 'matid.png').data;
  const normal = png(files, 'normal.png').data;
  for (let p = 0; p < 12; p++) {
    assert.equal(depth[p], inside(p) ? 16384 : 0, `depth ${p}`); // round(65535/4) = 16384
    assert.equal(transp[p], inside(p) ? 0 : 255, `transp ${p}`);
    assert.equal(shadow[p], inside(p) ? 0 : 255, `shadow ${p}`);
    assert.equal(matid[p], p === 5 ? 4 : p === 6 ? 5 : 0, `matid ${p}`);
    assert.deepEqual(Array.from(normal.subarray(p * 3, p * 3 + 3)), p === 6 ? [255, 255, 0] : [128, 128, 0], `normal ${p}`);
  }
});

test('HALF channels (Blender\'s 16-bit "Half" EXR) pack the same as FLOAT where values are exact in f16', () => {
  const spec = frame();
  const types = Object.fromEntries(Object.keys(spec.channels).filter((k) => !k.includes('Depth')).map((k) => [k, 'HALF' as const]));
  const exact = { ...spec, channels: { ...spec.channels, 'ViewLayer.Combined.R': [0.5, 0, 1, 0.25, 0.125, 2, 0, 0.25] } };
  const f = packBlenderSample(readExr(writeExr(exact), 'f.exr'), { name: 'f.exr' });
  const h = packBlenderSample(readExr(writeExr({ ...exact, types }), 'h.exr'), { name: 'h.exr' });
  for (const name of ['normal.png', 'depth.png', 'matid.png', 'shadow.png', 'transp.png'] as const) {
    assert.deepEqual(h.files[name], f.files[name], name);
  }
  // Colour in half precision moves by at most one level.
  for (const name of ['target.png', 'albedo.png'] as const) {
    const a = png(f.files, name).data;
    const b = png(h.files, name).data;
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= 1, `${name}[${i}]`);
  }
});

// ---------------------------------------------------------------------------------------------
// The CLI.

function writeRenders(dir: string, frames: Record<string, Uint8Array>): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(frames)) writeFileSync(join(dir, name), bytes);
  return dir;
}

test('cnnv3 pack-blender --exr and --exr-dir write whole samples (sample_<frame>), with warnings', async (t) => {
  const tmp = tempDir(t);
  const good = writeExr(frame());
  const spec = frame();
  const noDiff = writeExr({ ...spec, channels: Object.fromEntries(Object.entries(spec.channels).filter(([k]) => !k.includes('DiffCol'))) });
  const renders = writeRenders(join(tmp, 'renders'), { '0001.exr': good, '0002.EXR': noDiff, 'notes.txt': new Uint8Array([1]), '.0003.partial.exr': new Uint8Array(3) });

  const one = await runCli(['pack-blender', '--exr', join(renders, '0001.exr'), '--output', join(tmp, 'one')]);
  assert.equal(one.code, 0, one.err);
  assert.match(one.out, /^Packed .*0001\.exr into .*one\n$/);
  assert.deepEqual(readdirSync(join(tmp, 'one')).sort(), ['albedo.png', 'depth.png', 'matid.png', 'normal.png', 'shadow.png', 'target.png', 'transp.png']);
  const expected = packBlenderSample(readExr(good, 'x'), { name: 'x' }).files;
  for (const [name, bytes] of Object.entries(expected)) assert.deepEqual(new Uint8Array(readFileSync(join(tmp, 'one', name))), bytes, name);

  const all = await runCli(['pack-blender', '--exr-dir', renders, '--output', join(tmp, 'full')]);
  assert.equal(all.code, 0, all.err);
  assert.deepEqual(readdirSync(join(tmp, 'full')).sort(), ['sample_0001', 'sample_0002']);
  assert.match(all.err, /pack-blender \[#+\] 2\/2/);
  assert.match(all.err, /cnnv3: warning: .*0002\.EXR: no DiffCol pass/);
  assert.match(all.out, /Packed 2 of 2 EXR files into /);

  const help = await runCli(['pack-blender', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /--exr-dir RENDERS --output DIR/);
  const main = await runCli(['--help']);
  assert.match(main.out, /pack-blender/);
});

test('cnnv3 pack-blender: bad input is one clear line, exit ≠ 0, nothing half-written', async (t) => {
  const tmp = tempDir(t);
  const good = writeExr(frame());
  const spec = frame();
  const noCombined = writeExr({ ...spec, channels: Object.fromEntries(Object.entries(spec.channels).filter(([k]) => !k.includes('Combined'))) });
  const pngBytes = readFileSync(new URL('./pack-blender.test.ts', import.meta.url)); // any non-EXR
  const htj2k = writeExr({ ...spec, compression: 10 });
  const files = writeRenders(join(tmp, 'in'), {
    'text.exr': pngBytes,
    'cut.exr': good.subarray(0, good.length - 40),
    'cuthead.exr': good.subarray(0, 60),
    'htj2k.exr': htj2k,
    'nocombined.exr': noCombined,
  });
  const cases: Array<[string, string[], RegExp, number]> = [
    ['not an EXR', ['--exr', join(files, 'text.exr')], /^cnnv3: .*text\.exr: not an OpenEXR file/, 1],
    ['truncated pixels', ['--exr', join(files, 'cut.exr')], /^cnnv3: .*cut\.exr: .*truncated/i, 1],
    ['truncated header', ['--exr', join(files, 'cuthead.exr')], /^cnnv3: .*cuthead\.exr: .*truncated/i, 1],
    ['unsupported compression', ['--exr', join(files, 'htj2k.exr')], /^cnnv3: .*htj2k\.exr: unsupported compression HTJ2K256\n$/, 1],
    ['no Combined', ['--exr', join(files, 'nocombined.exr')], /^cnnv3: .*nocombined\.exr: no Combined pass \(…Combined\.R\) in this EXR; channels: /, 1],
    ['missing file', ['--exr', join(files, 'nope.exr')], /^cnnv3: .*nope\.exr: EXR file not found\n$/, 1],
    ['a directory as --exr', ['--exr', files], /^cnnv3: .*in: is a directory, not an EXR file/, 1],
    ['no flags', [], /^cnnv3 pack-blender: --exr FILE or --exr-dir DIR is required/, 2],
    ['both', ['--exr', 'a.exr', '--exr-dir', files], /^cnnv3 pack-blender: give --exr FILE or --exr-dir DIR, not both\n$/, 2],
    ['unknown flag', ['--exr', 'a.exr', '--bogus'], /^cnnv3 pack-blender: unknown option '--bogus'/, 2],
    ['unknown view layer', ['--exr', join(files, '..', 'good.exr'), '--view-layer', 'Side'], /no view layer "Side" with a Combined pass/, 1],
  ];
  writeFileSync(join(tmp, 'good.exr'), good);
  for (const [what, args, re, code] of cases) {
    const out = join(tmp, `out-${what.replace(/\W+/g, '_')}`);
    const r = await runCli(['pack-blender', ...args, ...(args.length ? ['--output', out] : [])]);
    assert.equal(r.code, code, `${what}: exit code (${r.err})`);
    assert.match(r.err, re, what);
    assert.equal(r.err.trimEnd().split('\n').length, 1, `${what}: one line: ${r.err}`);
    assert.equal(existsSync(out), false, `${what}: nothing written`);
  }

  // A directory without EXRs, and an output path that is a file.
  mkdirSync(join(tmp, 'empty'));
  writeFileSync(join(tmp, 'empty', '0001.png'), pngBytes);
  const empty = await runCli(['pack-blender', '--exr-dir', join(tmp, 'empty'), '--output', join(tmp, 'o')]);
  assert.equal(empty.code, 1);
  assert.match(empty.err, /^cnnv3: .*empty: no \.exr files\n$/);
  writeFileSync(join(tmp, 'afile'), 'x');
  for (const args of [['--exr', join(tmp, 'good.exr')], ['--exr-dir', files]]) {
    const r = await runCli(['pack-blender', ...args, '--output', join(tmp, 'afile')]);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /^cnnv3: .*afile: output path is a file\n$/);
    assert.equal(readFileSync(join(tmp, 'afile'), 'utf8'), 'x');
  }

  // A batch with bad files: the good ones are packed, the bad ones listed, exit 1, no debris.
  writeFileSync(join(files, '0001.exr'), good);
  const batch = await runCli(['pack-blender', '--exr-dir', files, '--output', join(tmp, 'batch')]);
  assert.equal(batch.code, 1);
  assert.deepEqual(readdirSync(join(tmp, 'batch')), ['sample_0001']);
  assert.match(batch.out, /Packed 1 of 6 EXR files/);
  assert.match(batch.err, /Failed to pack 5:\n {2}.*cut\.exr: [^\n]+\n {2}.*cuthead\.exr: [^\n]+\n {2}.*htj2k\.exr: [^\n]+\n {2}.*nocombined\.exr: [^\n]+\n {2}.*text\.exr: [^\n]+\n$/);
});

test("shadow: the channel that carries light (Cycles' Shadow is 0 where a surface reflects nothing)", () => {
  const spec = frame();
  // Lit pure red, lit pure blue, lit green, lit grey, shadowed red, half-lit blue, shadowed grey, dim.
  const shadow = {
    'ViewLayer.Shadow.R': [1, 0, 0, 1, 0, 0, 0, 0.1],
    'ViewLayer.Shadow.G': [0, 0, 1, 1, 0, 0, 0, 0.2],
    'ViewLayer.Shadow.B': [0, 1, 0, 1, 0, 0.5, 0, 0.05],
  };
  const channels = { ...spec.channels, ...shadow, 'ViewLayer.Depth.Z': [5, 5, 5, 5, 5, 5, 5, 5], 'ViewLayer.Combined.A': [1, 1, 1, 1, 1, 1, 1, 1] };
  const { files } = packBlenderSample(readExr(writeExr({ ...spec, channels }), 's.exr'), { name: 's.exr' });
  // An average would give 85 for each lit saturated surface; R alone 0 for the lit blue one.
  assert.deepEqual(Array.from(png(files, 'shadow.png').data), [255, 255, 255, 255, 0, 128, 0, 51]);
});

test('multi-part EXR: passes found in any part, by part name + channel name or by full channel name', (t) => {
  if (!requireTool(t, '/usr/bin/exrmultipart', 'openexr')) return;
  const tmp = tempDir(t);
  const spec = frame();
  const c = spec.channels;
  const pick = (re: RegExp, rename: (k: string) => string) =>
    Object.fromEntries(Object.entries(c).filter(([k]) => re.test(k)).map(([k, v]) => [rename(k), v]));
  // Part "ViewLayer.Combined" holds R, G, B, A; part "ViewLayer" holds Depth.Z, Normal.*,
  // IndexOB.X; part "extra" holds DiffCol and Shadow under their full names.
  const parts: Array<[string, Record<string, number[]>]> = [
    ['ViewLayer.Combined', pick(/\.Combined\./, (k) => k.slice('ViewLayer.Combined.'.length))],
    ['ViewLayer', pick(/\.(Depth|Normal|IndexOB)\./, (k) => k.slice('ViewLayer.'.length))],
    ['extra', pick(/\.(DiffCol|Shadow)\./, (k) => k)],
  ];
  const inputs = parts.map(([name, channels], i) => {
    const file = join(tmp, `part${i}.exr`);
    writeFileSync(file, writeExr({ width: spec.width, height: spec.height, channels }));
    return `${file}::${name}`;
  });
  const multi = join(tmp, 'multi.exr');
  execFileSync('/usr/bin/exrmultipart', ['-combine', '-i', ...inputs, '-o', multi], { stdio: 'pipe' });
  const bytes = readFileSync(multi);
  const images = readExrParts(bytes, 'multi.exr');
  assert.deepEqual(images.map((img) => img.partName), ['ViewLayer.Combined', 'ViewLayer', 'extra']);

  const whole = packBlenderSample(readExr(writeExr(spec), 'single.exr'), { name: 'single.exr' });
  const split = packBlenderSample(images, { name: 'multi.exr' });
  assert.deepEqual(split.warnings, []);
  assert.equal(split.prefix, 'ViewLayer.');
  for (const f of Object.keys(whole.files) as Array<keyof typeof whole.files>) assert.deepEqual(split.files[f], whole.files[f], f);

  // Part 0 alone (what readExr gives): its part name makes R the layer's Combined.R, but the
  // other passes are missing.
  const first = packBlenderSample(readExr(bytes, 'multi.exr'), { name: 'multi.exr' });
  assert.equal(first.prefix, 'ViewLayer.');
  assert.ok(first.warnings.some((w) => /^multi\.exr: no Depth pass/.test(w)), first.warnings.join('\n'));

  // A channel two parts both give: the first part's is used, with a warning naming both.
  const dup = join(tmp, 'dup.exr');
  execFileSync('/usr/bin/exrmultipart', ['-combine', '-i', ...inputs.slice(0, 2), `${join(tmp, 'part2.exr')}::extra`, `${join(tmp, 'part2.exr')}::more`, '-o', dup], { stdio: 'pipe' });
  const twice = packBlenderSample(readExrParts(readFileSync(dup), 'dup.exr'), { name: 'dup.exr' });
  assert.ok(
    twice.warnings.includes('dup.exr: ViewLayer.DiffCol.R is in part "extra" and part "more"; using part "extra"'),
    twice.warnings.join('\n'),
  );
  for (const f of Object.keys(whole.files) as Array<keyof typeof whole.files>) assert.deepEqual(twice.files[f], whole.files[f], f);

  // A part whose channels carry full names already: its part name adds no second layer.
  const single = join(tmp, 'single.exr');
  writeFileSync(single, writeExr(spec));
  const named = join(tmp, 'named.exr');
  execFileSync('/usr/bin/exrmultipart', ['-combine', '-i', `${single}::beauty`, `${join(tmp, 'part0.exr')}::other`, '-o', named], { stdio: 'pipe' });
  const beauty = packBlenderSample(readExrParts(readFileSync(named), 'named.exr'), { name: 'named.exr' });
  assert.deepEqual(beauty.warnings, []);
  assert.equal(beauty.prefix, 'ViewLayer.');
  for (const f of Object.keys(whole.files) as Array<keyof typeof whole.files>) assert.deepEqual(beauty.files[f], whole.files[f], f);

  // Parts with different display windows are not one render.
  const other = readExr(writeExr({ width: 5, height: 2, channels: { 'ViewLayer.Depth.Z': [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] } }), 'o.exr');
  assert.throws(
    () => packBlenderSample([images[0]!, { ...other, partName: 'wide' }], { name: 'multi.exr' }),
    /^CnnV3Error: multi\.exr: part "wide" has display window \(0,0\)-\(4,1\), part "ViewLayer\.Combined" \(0,0\)-\(3,1\); the parts of one render share one$/,
  );
  assert.throws(() => packBlenderSample([], { name: 'empty.exr' }), /^CnnV3Error: empty\.exr: no image parts in this EXR$/);
});

test('cnnv3 pack-blender --exr on a multi-part file packs what the single-part file packs', async (t) => {
  if (!requireTool(t, '/usr/bin/exrmultipart', 'openexr')) return;
  const tmp = tempDir(t);
  const spec = frame();
  const pick = (re: RegExp, rename: (k: string) => string) =>
    Object.fromEntries(Object.entries(spec.channels).filter(([k]) => re.test(k)).map(([k, v]) => [rename(k), v]));
  const inputs = [
    ['ViewLayer.Combined', pick(/\.Combined\./, (k) => k.slice('ViewLayer.Combined.'.length))],
    ['ViewLayer', pick(/\.(Depth|Normal|IndexOB|DiffCol|Shadow)\./, (k) => k.slice('ViewLayer.'.length))],
  ].map(([name, channels], i) => {
    const file = join(tmp, `part${i}.exr`);
    writeFileSync(file, writeExr({ width: spec.width, height: spec.height, channels: channels as Record<string, number[]> }));
    return `${file}::${name as string}`;
  });
  execFileSync('/usr/bin/exrmultipart', ['-combine', '-i', ...inputs, '-o', join(tmp, 'multi.exr')], { stdio: 'pipe' });
  writeFileSync(join(tmp, 'single.exr'), writeExr(spec));
  for (const name of ['multi', 'single']) {
    const r = await runCli(['pack-blender', '--exr', join(tmp, `${name}.exr`), '--output', join(tmp, `out_${name}`)]);
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.err, /no (Depth|DiffCol|Normal) pass/, `${name}: ${r.err}`);
  }
  for (const f of readdirSync(join(tmp, 'out_single'))) assert.deepEqual(readFileSync(join(tmp, 'out_multi', f)), readFileSync(join(tmp, 'out_single', f)), f);
});

test('Vector pass → motion.bin: prev = (X, −Y), next = (−Z, W) in pixels, y down; absent → no file; incomplete → one line, nothing written', async (t) => {
  const spec = frame();
  const vx = [4, -2.5, 0, 1e-3, 0, 0, 7, NaN];
  const vy = [2, 0.5, 0, -1, 0, 0, -3, 0];
  const vz = [4, 1, 0, 2, 0, 0, 7, 0];
  const vw = [2, -0.25, 0, 3, 0, 0, -3, Infinity];
  const withVector = { ...spec, channels: { ...spec.channels, 'ViewLayer.Vector.X': vx, 'ViewLayer.Vector.Y': vy, 'ViewLayer.Vector.Z': vz, 'ViewLayer.Vector.W': vw } };
  const packed = packBlenderSample(readExr(writeExr(withVector), 'v.exr'), { name: 'v.exr' });
  assert.deepEqual(packed.warnings, []);
  const m = decodeMotion(packed.files['motion.bin']!, 'motion.bin', { width: 4, height: 2 });
  const expected = vx.flatMap((_, p) => [vx[p]!, -vy[p]!, -vz[p]!, vw[p]!].map((v) => (Number.isFinite(v) ? v + 0 : 0)));
  assert.deepEqual(Array.from(m.data), expected.map((v) => Math.fround(v)));
  // The seven PNGs are what they are without the pass.
  const plain = packBlenderSample(readExr(writeExr(spec), 'p.exr'), { name: 'p.exr' });
  assert.equal(plain.files['motion.bin'], undefined);
  for (const [name, bytes] of Object.entries(plain.files)) assert.deepEqual(packed.files[name as keyof typeof packed.files], bytes, name);

  const tmp = tempDir(t);
  const dir = writeRenders(join(tmp, 'in'), {
    'v.exr': writeExr(withVector),
    'half.exr': writeExr({ ...spec, channels: { ...spec.channels, 'ViewLayer.Vector.X': vx, 'ViewLayer.Vector.Y': vy } }),
  });
  const ok = await runCli(['pack-blender', '--exr', join(dir, 'v.exr'), '--output', join(tmp, 'v')]);
  assert.equal(ok.code, 0, ok.err);
  assert.deepEqual(readdirSync(join(tmp, 'v')).sort(), ['albedo.png', 'depth.png', 'matid.png', 'motion.bin', 'normal.png', 'shadow.png', 'target.png', 'transp.png']);
  const bad = await runCli(['pack-blender', '--exr', join(dir, 'half.exr'), '--output', join(tmp, 'half')]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /^cnnv3: .*half\.exr: the Vector pass is incomplete: no ViewLayer\.Vector\.Z, ViewLayer\.Vector\.W\n$/);
  assert.equal(existsSync(join(tmp, 'half')), false);
});
