import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { decodeImage } from '../src/image/decode.js';
import { toRgba8 } from '../src/image/image.js';
import { encodePng } from '../src/image/png.js';
import { pilRaw, REPO, requireTool, runCli, skimage, SKIMAGE_DATA, tempDir } from './helpers.js';

/** Reads the sample back with PIL: modes and values as an independent decoder sees them. */
function readSampleWithPil(dir: string) {
  const get = (f: string) => pilRaw(join(dir, f));
  return {
    albedo: get('albedo.png'),
    normal: get('normal.png'),
    depth: get('depth.png'),
    matid: get('matid.png'),
    shadow: get('shadow.png'),
    transp: get('transp.png'),
    target: get('target.png'),
  };
}

/** Bit depth and colour type straight from the IHDR of a written PNG. */
function pngFormat(path: string): [number, number] {
  const b = readFileSync(path);
  return [b[24]!, b[25]!];
}

const FORMATS: Record<string, [number, number]> = {
  'albedo.png': [8, 2],
  'normal.png': [8, 2],
  'depth.png': [16, 0],
  'matid.png': [8, 0],
  'shadow.png': [8, 0],
  'transp.png': [8, 0],
  'target.png': [8, 6],
};

function photoRgba(path: string) {
  const r = decodeImage(readFileSync(path), path);
  return { width: r.width, height: r.height, rgba: toRgba8(r), raster: r };
}

function checkSample(dir: string, photoPath: string, targetPath?: string) {
  const photo = photoRgba(photoPath);
  const s = readSampleWithPil(dir);
  for (const [file, format] of Object.entries(FORMATS)) assert.deepEqual(pngFormat(join(dir, file)), format, `${file} bit depth / colour type`);
  const n = photo.width * photo.height;
  assert.equal(s.albedo.mode, 'RGB');
  assert.equal(s.albedo.width, photo.width);
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) {
      if (s.albedo.values[p * 3 + c] !== photo.rgba[p * 4 + c]) assert.fail(`albedo pixel ${p} ch ${c}`);
    }
    if (s.transp.values[p] !== 255 - photo.rgba[p * 4 + 3]!) assert.fail(`transp pixel ${p}`);
  }
  assert.equal(s.normal.mode, 'RGB');
  assert.ok(s.normal.values.every((v, i) => v === [128, 128, 0][i % 3]), 'normal is (128,128,0)');
  assert.ok(['I', 'I;16'].includes(s.depth.mode), `depth mode ${s.depth.mode}`);
  assert.ok(s.depth.values.every((v) => v === 0));
  assert.equal(s.matid.mode, 'L');
  assert.ok(s.matid.values.every((v) => v === 0));
  assert.equal(s.shadow.mode, 'L');
  assert.ok(s.shadow.values.every((v) => v === 255));
  assert.equal(s.transp.mode, 'L');
  assert.equal(s.target.mode, 'RGBA');
  const target = targetPath ? photoRgba(targetPath) : photo;
  assert.equal(s.target.width, target.width);
  assert.equal(s.target.height, target.height);
  assert.deepEqual(s.target.values, Array.from(target.rgba));
  return photo;
}

const needPhotos = (t: TestContext) => requireTool(t, SKIMAGE_DATA, 'python3-skimage');

test('pack-photo writes the seven PNGs with their exact encodings (RGB, gray, palette, RGBA, 16-bit, JPEG)', async (t) => {
  if (!needPhotos(t)) return;
  const out = tempDir(t);
  const cases: Array<[string, string]> = [
    ['chelsea.png', '8-bit RGB'],
    ['camera.png', '8-bit gray'],
    ['green_palette.png', 'palette'],
    ['horse.png', 'RGBA'],
    ['foo3x5x4indexed.png', 'palette with tRNS'],
    ['chessboard_RGB.png', '16-bit RGB'],
    ['rocket.jpg', 'JPEG'],
    ['palette_color.png', 'tiny palette'],
  ];
  for (const [file, kind] of cases) {
    const photo = skimage(t, file)!;
    const dir = join(out, file);
    const r = await runCli(['pack-photo', '--photo', photo, '--output', dir]);
    assert.equal(r.code, 0, `${kind}: ${r.err}`);
    const decoded = checkSample(dir, photo);
    if (file === 'horse.png') {
      const transp = pilRaw(join(dir, 'transp.png')).values;
      assert.ok(transp.includes(255 - 110) && transp.includes(0), 'translucent and opaque pixels both carried');
    }
    if (file === 'chessboard_RGB.png') {
      const r16 = decoded.raster;
      assert.equal(r16.depth, 16);
      assert.equal(decoded.rgba[0], Math.round(r16.data[0]! / 257));
    }
  }
});

test('pack-photo with a target (flag and positional forms) and the gen_sample.sh wrapper', async (t) => {
  if (!needPhotos(t)) return;
  const out = tempDir(t);
  const photo = skimage(t, 'coffee.png')!;
  const target = skimage(t, 'chelsea.png')!; // any real image of another size stands in for a stylised one
  let r = await runCli(['pack-photo', '--photo', photo, '--target', target, '--output', join(out, 'a')]);
  assert.equal(r.code, 0, r.err);
  checkSample(join(out, 'a'), photo, target);
  r = await runCli(['pack-photo', photo, target, join(out, 'b')]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(readFileSync(join(out, 'b', 'target.png')), readFileSync(join(out, 'a', 'target.png')));
  const sh = spawnSync('bash', [join(REPO, 'gen_sample.sh'), photo, target, join(out, 'c')], { encoding: 'utf8' });
  assert.equal(sh.status, 0, sh.stderr);
  assert.deepEqual(readFileSync(join(out, 'c', 'albedo.png')), readFileSync(join(out, 'a', 'albedo.png')));
  const usage = spawnSync('bash', [join(REPO, 'gen_sample.sh'), photo], { encoding: 'utf8' });
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /usage: gen_sample\.sh PHOTO TARGET OUTPUT_DIR/);
  // Re-packing over an existing sample replaces it whole.
  r = await runCli(['pack-photo', '--photo', target, '--output', join(out, 'a')]);
  assert.equal(r.code, 0, r.err);
  assert.equal(pilRaw(join(out, 'a', 'target.png')).width, 451);
  assert.deepEqual(readdirSync(out).sort(), ['a', 'b', 'c']);
});

test('batch mode pairs photos with NAME.png / NAME_styled.png targets and lists the unmatched', async (t) => {
  if (!needPhotos(t)) return;
  const root = tempDir(t);
  const photos = join(root, 'photos');
  const targets = join(root, 'targets');
  mkdirSync(photos);
  mkdirSync(targets);
  copyFileSync(skimage(t, 'chelsea.png')!, join(photos, 'cat.png'));
  copyFileSync(skimage(t, 'rocket.jpg')!, join(photos, 'rocket.jpg'));
  copyFileSync(skimage(t, 'camera.png')!, join(photos, 'lonely.png'));
  writeFileSync(join(photos, 'notes.txt'), 'not a photo');
  copyFileSync(skimage(t, 'coffee.png')!, join(targets, 'cat_styled.png'));
  copyFileSync(skimage(t, 'astronaut.png')!, join(targets, 'rocket.png'));
  const r = await runCli(['pack-photo', '--photos', photos, '--targets', targets, '--output', join(root, 'ds')]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(readdirSync(join(root, 'ds')).sort(), ['sample_cat', 'sample_rocket']);
  assert.match(r.out, /Packed 2 of 3 photos/);
  assert.match(r.err, /Could not match 1 photos:\n {2}lonely\.png \(no lonely\.png or lonely_styled\.png in /);
  assert.match(r.err, /pack-photo \[#+\] 2\/2/);
  checkSample(join(root, 'ds', 'sample_cat'), join(photos, 'cat.png'), join(targets, 'cat_styled.png'));
  // Without --targets every photo is packed with itself as target.
  const r2 = await runCli(['pack-photo', '--photos', photos, '--output', join(root, 'ds2')]);
  assert.equal(r2.code, 0, r2.err);
  assert.deepEqual(readdirSync(join(root, 'ds2')).sort(), ['sample_cat', 'sample_lonely', 'sample_rocket']);
});

test('bad input: one message naming the file, exit ≠ 0, nothing half-written', async (t) => {
  if (!needPhotos(t)) return;
  const root = tempDir(t);
  const photo = skimage(t, 'chelsea.png')!;
  const text = join(root, 'notes.png');
  writeFileSync(text, 'plain text, not pixels');
  const brokenTarget = join(root, 'broken.png');
  writeFileSync(brokenTarget, encodePng({ width: 4, height: 4, channels: 1, depth: 8, data: new Uint8Array(16) }).subarray(0, 40));
  const aFile = join(root, 'file');
  writeFileSync(aFile, 'x');
  const cases: Array<{ argv: string[]; re: RegExp; code?: number }> = [
    { argv: ['--photo', join(root, 'missing.png'), '--output', join(root, 'o1')], re: /missing\.png: photo not found/ },
    { argv: ['--photo', root, '--output', join(root, 'o2')], re: /: photo is a directory/ },
    { argv: ['--photo', text, '--output', join(root, 'o3')], re: /notes\.png: not a PNG or JPEG image/ },
    { argv: ['--photo', photo, '--target', brokenTarget, '--output', join(root, 'o4')], re: /broken\.png: not a valid PNG/ },
    {
      argv: ['--photo', photo, '--target', join(SKIMAGE_DATA, 'truncated.jpg'), '--output', join(root, 'o5')],
      re: /truncated\.jpg: not a valid JPEG/,
    },
    { argv: ['--photo', photo, '--output', aFile], re: /file: output path is a file/ },
    { argv: ['--photo', photo, '--output', join(aFile, 'sub')], re: /cannot create its directory \(a parent path is a file\)/ },
    { argv: ['--photo', photo, '--outptu', 'x'], re: /^cnnv3 pack-photo: unknown option '--outptu' \(did you mean --output\?\) \(see cnnv3 pack-photo --help\)\n$/, code: 2 },
    { argv: ['--photo', photo], re: /--output DIR is required/, code: 2 },
    { argv: [photo, join(root, 'o6')], re: /positional form takes exactly PHOTO TARGET DIR/, code: 2 },
    { argv: ['--photos', join(root, 'nope'), '--output', join(root, 'o7')], re: /nope: --photos not found/ },
  ];
  for (const { argv, re, code } of cases) {
    const r = await runCli(['pack-photo', ...argv]);
    assert.equal(r.code, code ?? 1, `${argv.join(' ')} → ${r.err}`);
    assert.match(r.err, re);
    assert.equal(r.err.trim().split('\n').length, 1, `one line: ${r.err}`);
    assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
  }
  const left = readdirSync(root).sort();
  assert.deepEqual(left, ['broken.png', 'file', 'notes.png'], 'no sample directory and no staging leftovers');
  assert.ok(!existsSync(join(root, 'o4')));
});

test('the built binary reports a user error without a stack trace', (t) => {
  const bin = join(REPO, 'dist/cli/bin.js');
  if (!existsSync(bin)) {
    if (process.env['CI'] === 'true') assert.fail(`${bin} missing: npm test builds it first`);
    t.skip('dist/ not built');
    return;
  }
  const r = spawnSync(process.execPath, [bin, 'pack-photo', '--photo', '/nonexistent.png', '--output', '/tmp/x'], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.equal(r.stderr, 'cnnv3: /nonexistent.png: photo not found\n');
  const help = execFileSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
  assert.match(help, /pack-photo/);
  assert.match(help, /inspect/);
});

test('--style P0,P1 writes style.json (single and batch); training data finds it at any depth; bad styles are named', async (t) => {
  const root = tempDir(t);
  const photo = join(REPO, 'examples/photos/cat.png');
  const one = await runCli(['pack-photo', '--photo', photo, '--output', join(root, 'data/grade/sample_cat'), '--style', '1,0']);
  assert.equal(one.code, 0, one.err);
  assert.match(one.out, /\(style 1,0\)/);
  assert.deepEqual(JSON.parse(readFileSync(join(root, 'data/grade/sample_cat/style.json'), 'utf8')), { style: [1, 0] });
  const batch = await runCli(['pack-photo', '--photos', join(REPO, 'examples/photos'), '--output', join(root, 'data/sepia'), '--style', '0,0.5']);
  assert.equal(batch.code, 0, batch.err);
  assert.deepEqual(JSON.parse(readFileSync(join(root, 'data/sepia/sample_rocket/style.json'), 'utf8')), { style: [0, 0.5] });
  const { discoverSamples, loadSampleDir } = await import('../src/dataset/sample-node.js');
  const dirs = await discoverSamples(join(root, 'data'));
  assert.equal(dirs.length, 5, 'grade/sample_cat and the four of sepia/');
  assert.deepEqual((await loadSampleDir(join(root, 'data/grade/sample_cat'))).style, [1, 0]);
  assert.equal((await loadSampleDir(join(root, 'data/sepia/sample_cat'))).style?.[1], 0.5);

  for (const bad of ['1', '1,2', 'a,b', '0.5,-1']) {
    const r = await runCli(['pack-photo', '--photo', photo, '--output', join(root, 'bad'), '--style', bad]);
    assert.equal(r.code, 2);
    assert.match(r.err, /cnnv3 pack-photo: --style must be two numbers in \[0, 1\] like 1,0/);
    assert.ok(!existsSync(join(root, 'bad')), 'nothing written');
  }
  writeFileSync(join(root, 'data/grade/sample_cat/style.json'), '{"style": [1]}');
  await assert.rejects(loadSampleDir(join(root, 'data/grade/sample_cat')), /sample_cat\/style\.json: expected \{"style": \[p0, p1\]\} with both in \[0, 1\]/);
  const train = await runCli(['train', '--input', join(root, 'data'), '--epochs', '1', '--patches-per-image', '1', '--checkpoint-dir', join(root, 'c')]);
  assert.equal(train.code, 1);
  assert.match(train.err, /style\.json: expected/);
});
