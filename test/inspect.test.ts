import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { computeFeatures, NUM_FEATURES } from '../src/dataset/features.js';
import { discoverSamples, loadSampleDir } from '../src/dataset/sample-node.js';
import { runCli, skimage, tempDir } from './helpers.js';
import { sampleFiles, writeSample } from './sample-fixtures.js';

function gbufferFiles(width: number, height: number) {
  return sampleFiles({
    width,
    height,
    depth: Uint16Array.from({ length: width * height }, (_, i) => 1000 + i),
    matid: new Uint8Array(width * height).fill(3),
  });
}

test('discovery: simple/ and full/ by input mode, root fallback, mixed kinds, hidden dirs skipped', async (t) => {
  const root = tempDir(t);
  writeSample(join(root, 'simple', 'sample_001'), sampleFiles({ width: 4, height: 4 }));
  writeSample(join(root, 'simple', 'nested', 'sample_002'), sampleFiles({ width: 3, height: 5 }));
  writeSample(join(root, 'full', 'sample_0001'), gbufferFiles(6, 2));
  writeSample(join(root, 'full', '.sample_0002.tmp-1-2'), gbufferFiles(6, 2));
  mkdirSync(join(root, 'full', 'empty'));
  assert.deepEqual(await discoverSamples(root, 'simple'), [join(root, 'simple/nested/sample_002'), join(root, 'simple/sample_001')]);
  assert.deepEqual(await discoverSamples(root, 'full'), [join(root, 'full/sample_0001')]);
  // Without a mode (inspect), everything under the root: photo and G-buffer samples together.
  const all = await discoverSamples(root);
  assert.equal(all.length, 3);
  const kinds = await Promise.all(all.map(async (d) => (await loadSampleDir(d)).kind));
  assert.deepEqual(kinds, ['full', 'simple', 'simple']);

  const flat = tempDir(t);
  writeSample(join(flat, 'a'), sampleFiles({ width: 2, height: 2 }));
  writeSample(join(flat, 'b'), gbufferFiles(2, 2));
  assert.deepEqual(await discoverSamples(flat, 'full'), [join(flat, 'a'), join(flat, 'b')], 'root fallback, mixed kinds');
  // A sample directory is its own dataset.
  assert.deepEqual(await discoverSamples(join(flat, 'a')), [join(flat, 'a')]);
});

test('inspect prints size, kind and per-channel min/mean/max for every sample', async (t) => {
  const root = tempDir(t);
  writeSample(join(root, 'simple', 's1'), sampleFiles({ width: 5, height: 3, target: { width: 9, height: 9, data: new Uint8Array(324) } }));
  writeSample(join(root, 'full', 'g1'), gbufferFiles(4, 2));
  const r = await runCli(['inspect', root]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^2 samples in /);
  assert.match(r.out, /\nfull\/g1: 4×2 full\n/);
  assert.match(r.out, /\nsimple\/s1: 5×3 simple, target 9×9 resized\n/);
  assert.match(r.out, / {2}18 {2}shadow {9}1\.0000 {3}1\.0000 {3}1\.0000\n/);
  assert.match(r.out, / {3}0 {2}albedo\.r {7}0\.3922 {3}0\.3922 {3}0\.3922\n/);
  assert.equal(r.out.match(/^ +\d+ {2}[a-z]/gm)!.length, 40, '20 channel rows per sample');
});

test('inspect on a real photo sample, and --dump-features writes float32 HWC + JSON', async (t) => {
  const photo = skimage(t, 'chelsea.png');
  if (!photo) return;
  const root = tempDir(t);
  const sample = join(root, 'ds', 'sample_cat');
  assert.equal((await runCli(['pack-photo', '--photo', photo, '--output', sample])).code, 0);
  const r = await runCli(['inspect', join(root, 'ds')]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /sample_cat: 451×300 simple\n/);
  const dump = join(root, 'feat', 'cat.f32');
  const d = await runCli(['inspect', sample, '--dump-features', dump]);
  assert.equal(d.code, 0, d.err);
  assert.deepEqual(JSON.parse(readFileSync(`${dump}.json`, 'utf8')), { width: 451, height: 300, channels: 20, layout: 'nhwc' });
  const bytes = readFileSync(dump);
  assert.equal(bytes.length, 451 * 300 * NUM_FEATURES * 4);
  const expected = computeFeatures(await loadSampleDir(sample));
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const i of [0, 1, 19, 12345 * 20 + 13, expected.length - 1]) assert.equal(dv.getFloat32(i * 4, true), expected[i]);
  assert.deepEqual(readdirSync(join(root, 'feat')).sort(), ['cat.f32', 'cat.f32.json']);
});

test('inspect bad input: no samples, a missing or wrong-size PNG, --dump-features on a dataset', async (t) => {
  const root = tempDir(t);
  mkdirSync(join(root, 'empty', 'deeper'), { recursive: true });
  let r = await runCli(['inspect', join(root, 'empty')]);
  assert.equal(r.code, 1);
  assert.equal(r.err, `cnnv3: No samples found in ${join(root, 'empty')}: no directory holds albedo.png\n`);
  r = await runCli(['inspect', join(root, 'nowhere')]);
  assert.equal(r.err, `cnnv3: ${join(root, 'nowhere')}: no such directory\n`);

  const { 'matid.png': _m, ...noMatid } = sampleFiles({ width: 3, height: 3 });
  writeSample(join(root, 'ds', 'broken'), noMatid);
  r = await runCli(['inspect', join(root, 'ds')]);
  assert.equal(r.code, 1);
  assert.equal(r.err, `cnnv3: ${join(root, 'ds', 'broken', 'matid.png')}: missing\n`);
  writeFileSync(join(root, 'ds', 'broken', 'matid.png'), sampleFiles({ width: 2, height: 3 })['matid.png']);
  r = await runCli(['inspect', join(root, 'ds')]);
  assert.match(r.err, /broken\/matid\.png: size 2×3 does not match albedo\.png \(3×3\)\n$/);

  writeSample(join(root, 'ds', 'ok'), sampleFiles({ width: 3, height: 3 }));
  r = await runCli(['inspect', join(root, 'ds'), '--dump-features', join(root, 'f.bin')]);
  assert.equal(r.code, 1);
  assert.match(r.err, /--dump-features needs one sample directory/);
  r = await runCli(['inspect', join(root, 'ds'), '--input-mode', 'weird']);
  assert.equal(r.code, 2);
  assert.match(r.err, /--input-mode must be simple or full/);
  r = await runCli(['inspect']);
  assert.equal(r.code, 2);
});
