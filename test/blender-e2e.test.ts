/**
 * The Blender route end to end, with Debian's Blender: build the test scene
 * (blender/make_test_scene.py), render two 64×48 frames through blender/render.sh →
 * blender_export.py, pack them with `cnnv3 pack-blender --exr-dir`, check every channel
 * against what the scene implies, and train one epoch on the result. Also: render.sh without
 * Blender on PATH says how to install it, and blender_export.py's own errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { readExr } from '../src/exr/exr.js';
import { decodePng } from '../src/image/png.js';
import { octDecode } from '../src/pack/blender.js';
import { REPO, requireTool, runCli, tempDir } from './helpers.js';

const BLENDER = '/usr/bin/blender';
const RENDER_SH = join(REPO, 'blender', 'render.sh');
const EXPORT_PY = join(REPO, 'blender', 'blender_export.py');
const SCENE_PY = join(REPO, 'blender', 'make_test_scene.py');
const W = 64;
const H = 48;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, timeout: 120_000 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

// The scene's numbers (blender/make_test_scene.py): camera at z = 10 looking down −Z, 50 mm
// lens on a 36 mm sensor fitted to the width, so at camera distance d the frame is
// 2 · 0.36 · d wide. World +x is image right, world +y is image up.
const CAMERA_Z = 10;
const HALF_WIDTH_PER_M = 18 / 50;

/** The pixel index (row-major) that sees world point (x, y) at height z. */
function pixel(x: number, y: number, z: number): number {
  const half = HALF_WIDTH_PER_M * (CAMERA_Z - z);
  const col = Math.floor(W / 2 + (x / half) * (W / 2));
  const row = Math.floor(H / 2 - (y / half) * (W / 2));
  return row * W + col;
}

/** Independent sRGB encoding (IEC 61966-2-1) of a linear base colour. */
const srgb8 = (v: number) => Math.round((v <= 0.0031308 ? 12.92 * v : 1.055 * v ** (1 / 2.4) - 0.055) * 255);
const depth16 = (z: number) => Math.round(65535 / (z + 1));

interface Planes {
  albedo: Uint8Array;
  normal: Uint8Array;
  depth: Uint16Array;
  matid: Uint8Array;
  shadow: Uint8Array;
  transp: Uint8Array;
  target: Uint8Array;
}

function loadPlanes(dir: string): Planes {
  const read = (f: string, channels: number, depth: number) => {
    const r = decodePng(readFileSync(join(dir, f)), f);
    assert.deepEqual([r.width, r.height, r.channels, r.depth], [W, H, channels, depth], `${f} format`);
    return r.data;
  };
  return {
    albedo: read('albedo.png', 3, 8) as Uint8Array,
    normal: read('normal.png', 3, 8) as Uint8Array,
    depth: read('depth.png', 1, 16) as Uint16Array,
    matid: read('matid.png', 1, 8) as Uint8Array,
    shadow: read('shadow.png', 1, 8) as Uint8Array,
    transp: read('transp.png', 1, 8) as Uint8Array,
    target: read('target.png', 4, 8) as Uint8Array,
  };
}

const rgbAt = (plane: Uint8Array, p: number, k = 3) => Array.from(plane.subarray(p * k, p * k + 3));
const normalAt = (s: Planes, p: number) => octDecode(s.normal[p * 3]!, s.normal[p * 3 + 1]!);

function near(actual: number[], expected: number[], tol: number, what: string) {
  const ok = actual.length === expected.length && actual.every((v, i) => Math.abs(v - expected[i]!) <= tol);
  assert.ok(ok, `${what}: ${JSON.stringify(actual)} vs ${JSON.stringify(expected)} (±${tol})`);
}

const needBlender = (t: TestContext) => requireTool(t, BLENDER, 'blender');

test('Blender → EXR → pack-blender → train: the test scene, two frames', async (t) => {
  if (!needBlender(t)) return;
  const tmp = tempDir(t);
  const blend = join(tmp, 'scene.blend');
  const built = run(BLENDER, ['-b', '--factory-startup', '--python-exit-code', '1', '-P', SCENE_PY, '--', '--output', blend]);
  assert.equal(built.code, 0, built.out + built.err);
  assert.ok(existsSync(blend), 'scene.blend saved');

  // Render through the wrapper, as a user would.
  const renders = join(tmp, 'renders');
  const env = { ...process.env, BLENDER };
  const rendered = run(
    'bash',
    [RENDER_SH, blend, '--output', renders, '--width', String(W), '--height', String(H), '--samples', '16', '--threads', '2'],
    env,
  );
  assert.equal(rendered.code, 0, rendered.out + rendered.err);
  assert.deepEqual(readdirSync(renders).sort(), ['0001.exr', '0002.exr'], 'one file per frame, nothing else');
  // One status line per frame on stderr; Cycles' progress log kept out of stdout.
  assert.match(rendered.err, /frame 1 \(1\/2\) [\d.]+s -> .*0001\.exr\n/);
  assert.match(rendered.err, /frame 2 \(2\/2\) [\d.]+s -> .*0002\.exr\n/);
  assert.doesNotMatch(rendered.out + rendered.err, /Fra:\d|Mem:/);

  // The EXR: native multilayer, ZIP, full float, the layer's passes.
  const exr = readExr(readFileSync(join(renders, '0001.exr')), '0001.exr');
  assert.equal(exr.compression, 'ZIP');
  const channels = [...exr.channels.keys()];
  for (const c of ['Combined.R', 'Combined.A', 'DiffCol.R', 'Normal.X', 'Depth.Z', 'IndexOB.X']) {
    assert.ok(channels.includes(`ViewLayer.${c}`), `ViewLayer.${c} in ${channels.join(', ')}`);
  }
  const hasShadow = channels.some((c) => c.startsWith('ViewLayer.Shadow.'));
  t.diagnostic(`EXR channels: ${channels.join(', ')}`);

  // Pack.
  const dataset = join(tmp, 'dataset');
  const packed = await runCli(['pack-blender', '--exr-dir', renders, '--output', join(dataset, 'full')]);
  assert.equal(packed.code, 0, packed.err);
  assert.doesNotMatch(packed.err, /warning/);
  assert.deepEqual(readdirSync(join(dataset, 'full')).sort(), ['sample_0001', 'sample_0002']);
  const frames = [loadPlanes(join(dataset, 'full', 'sample_0001')), loadPlanes(join(dataset, 'full', 'sample_0002'))];

  for (const [i, s] of frames.entries()) {
    const f = `frame ${i + 1}`;
    const midY = i === 0 ? 0 : 0.6; // the green cube slides along +y
    const spots = {
      near: pixel(-1.2, 0, 4), // red cube's top, distance 6
      mid: pixel(1.4, midY, 3), // green cube's top, distance 7
      ball: pixel(0, 0, 1.2), // blue sphere's top, distance 8.8
      ground: pixel(0, -1.5, 0), // grey ground, distance 10, in the sun
    };

    // Object indices.
    assert.equal(s.matid[spots.near], 1, `${f}: matid at the red cube`);
    assert.equal(s.matid[spots.mid], 2, `${f}: matid at the green cube`);
    assert.equal(s.matid[spots.ball], 3, `${f}: matid at the ball`);
    assert.equal(s.matid[spots.ground], 0, `${f}: matid at the ground`);
    assert.deepEqual([...new Set(s.matid)].sort(), [0, 1, 2, 3], `${f}: matid values`);

    // Depth: exact on the flat tops, ordered near → far, 0 where nothing was hit.
    assert.equal(s.depth[spots.near], depth16(6), `${f}: depth at the red cube`);
    assert.equal(s.depth[spots.mid], depth16(7), `${f}: depth at the green cube`);
    assert.equal(s.depth[spots.ground], depth16(10), `${f}: depth at the ground`);
    near([s.depth[spots.ball]!], [depth16(8.8)], 120, `${f}: depth at the ball's top`);
    assert.ok(
      s.depth[spots.near]! > s.depth[spots.mid]! && s.depth[spots.mid]! > s.depth[spots.ball]! && s.depth[spots.ball]! > s.depth[spots.ground]!,
      `${f}: depth ordering near > mid > ball > ground`,
    );

    // Albedo = sRGB of the diffuse base colours.
    near(rgbAt(s.albedo, spots.near), [0.8, 0.05, 0.05].map(srgb8), 1, `${f}: albedo red`);
    near(rgbAt(s.albedo, spots.mid), [0.05, 0.6, 0.1].map(srgb8), 1, `${f}: albedo green`);
    near(rgbAt(s.albedo, spots.ball), [0.1, 0.2, 0.8].map(srgb8), 1, `${f}: albedo blue`);
    near(rgbAt(s.albedo, spots.ground), [0.5, 0.5, 0.5].map(srgb8), 1, `${f}: albedo grey`);

    // Normals (world space): flat tops and the ground face the camera (+z → (128, 128));
    // the ball's normals lean toward the side the pixel is on; every visible surface faces
    // the camera (z ≥ 0 up to quantisation).
    for (const k of ['near', 'mid', 'ground'] as const) {
      assert.deepEqual(rgbAt(s.normal, spots[k]), [128, 128, 0], `${f}: normal at ${k}`);
    }
    const ball = normalAt(s, spots.ball);
    assert.ok(ball[2] > 0.95, `${f}: ball top normal ${ball}`);
    const dx = 3;
    assert.ok(normalAt(s, spots.ball - dx)[0] < -0.3, `${f}: ball left of centre leans −x`);
    assert.ok(normalAt(s, spots.ball + dx)[0] > 0.3, `${f}: ball right of centre leans +x`);
    assert.ok(normalAt(s, spots.ball - dx * W)[1] > 0.3, `${f}: ball above centre leans +y`);
    assert.ok(normalAt(s, spots.ball + dx * W)[1] < -0.3, `${f}: ball below centre leans −y`);
    for (let p = 0; p < W * H; p++) {
      assert.equal(s.normal[p * 3 + 2], 0, `${f}: normal B = 0`);
      if (s.transp[p]! === 0) assert.ok(normalAt(s, p)[2] > -0.05, `${f}: pixel ${p} faces away: ${normalAt(s, p)}`);
    }

    // Alpha: the ground leaves a transparent margin (film transparent); objects are opaque.
    for (const p of [0, W - 1, (H - 1) * W, W * H - 1]) {
      assert.equal(s.transp[p], 255, `${f}: corner ${p} transparent`);
      assert.equal(s.target[p * 4 + 3], 0, `${f}: corner ${p} target alpha`);
      assert.equal(s.depth[p], 0, `${f}: corner ${p} no depth`);
      assert.equal(s.matid[p], 0, `${f}: corner ${p} no matid`);
      assert.equal(s.shadow[p], 255, `${f}: corner ${p} lit (no surface)`);
      assert.deepEqual(rgbAt(s.normal, p), [128, 128, 0], `${f}: corner ${p} neutral normal`);
      assert.deepEqual(rgbAt(s.albedo, p), [0, 0, 0], `${f}: corner ${p} albedo`);
    }
    for (const [k, p] of Object.entries(spots)) {
      assert.equal(s.transp[p], 0, `${f}: ${k} opaque`);
      assert.equal(s.target[p * 4 + 3], 255, `${f}: ${k} target alpha`);
    }
    let opaque = 0;
    let clear = 0;
    for (let p = 0; p < W * H; p++) {
      assert.equal(s.transp[p]! + s.target[p * 4 + 3]!, 255, `${f}: transp = 255 − alpha at ${p}`);
      if (s.transp[p] === 0) opaque++;
      if (s.transp[p] === 255) clear++;
    }
    assert.ok(opaque > 0.5 * W * H && clear > 0.3 * W * H, `${f}: ${opaque} opaque, ${clear} clear pixels`);

    // The beauty: red cube reads red, green cube green, ball blue.
    const [nr, ng, nb] = rgbAt(s.target, spots.near, 4) as [number, number, number];
    assert.ok(nr > ng + 60 && nr > nb + 60, `${f}: red cube target ${[nr, ng, nb]}`);
    const [mr, mg, mb] = rgbAt(s.target, spots.mid, 4) as [number, number, number];
    assert.ok(mg > mr + 60 && mg > mb + 40, `${f}: green cube target ${[mr, mg, mb]}`);
    const [br, bg, bb] = rgbAt(s.target, spots.ball, 4) as [number, number, number];
    assert.ok(bb > br + 60 && bb > bg + 30, `${f}: ball target ${[br, bg, bb]}`);

    // Shadow: the sun lights the ground in front of the objects; the cubes cast shadows.
    assert.ok(s.shadow[spots.ground]! >= 240, `${f}: ground in the sun: shadow ${s.shadow[spots.ground]}`);
    assert.ok(s.shadow[spots.near]! >= 240, `${f}: red cube top in the sun: shadow ${s.shadow[spots.near]}`);
    if (hasShadow) {
      let dark = 0;
      for (let p = 0; p < W * H; p++) if (s.matid[p] === 0 && s.depth[p] === depth16(10) && s.shadow[p]! < 64) dark++;
      assert.ok(dark >= 20, `${f}: ${dark} ground pixels in shadow`);
    } else {
      assert.ok(s.shadow.every((v) => v === 255), `${f}: no Shadow pass → 255 everywhere`);
    }
  }

  // The frames differ where the green cube moved: above its frame-1 top, frame 2 sees it.
  const moved = pixel(1.4, 0.95, 3);
  assert.equal(frames[0]!.matid[moved], 0, 'frame 1: ground above the green cube');
  assert.equal(frames[1]!.matid[moved], 2, 'frame 2: the green cube has slid there');

  // The samples are full G-buffer samples and train.
  const inspected = await runCli(['inspect', join(dataset, 'full')]);
  assert.equal(inspected.code, 0, inspected.err);
  assert.match(inspected.out, /sample_0001: 64×48 full/);
  const trained = await runCli([
    'train',
    '--input',
    dataset,
    '--input-mode',
    'full',
    '--epochs',
    '1',
    '--patch-size',
    '16',
    '--patches-per-image',
    '4',
    '--threads',
    '1',
    '--checkpoint-dir',
    join(tmp, 'ckpt'),
  ]);
  assert.equal(trained.code, 0, trained.err);
  assert.ok(readdirSync(join(tmp, 'ckpt')).some((f) => f.endsWith('.safetensors')), 'a checkpoint was written');
});

test('blender_export.py: the -- separator, ? lists view layers, unknown layer, output path a file', (t) => {
  if (!needBlender(t)) return;
  const tmp = tempDir(t);
  const blend = join(tmp, 'scene.blend');
  const built = run(BLENDER, ['-b', '--factory-startup', '--python-exit-code', '1', '-P', SCENE_PY, '--', '--output', blend]);
  assert.equal(built.code, 0, built.out + built.err);

  const noSep = run(BLENDER, ['-b', blend, '--python-exit-code', '1', '-P', EXPORT_PY]);
  assert.equal(noSep.code, 2);
  assert.match(noSep.err, /blender_export\.py: the script's options go after a '--' separator/);

  const env = { ...process.env, BLENDER };
  const list = run('bash', [RENDER_SH, blend, '--view-layer', '?'], env);
  assert.equal(list.code, 0, list.err);
  assert.match(list.out, /View layers in .*scene\.blend:\n {2}ViewLayer {2}\(default\)\n/);

  const bad = run('bash', [RENDER_SH, blend, '--view-layer', 'Nope', '--output', join(tmp, 'r')], env);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /blender_export\.py: no view layer 'Nope' in .*scene\.blend; it has: ViewLayer/);
  assert.equal(existsSync(join(tmp, 'r')), false);

  const file = join(tmp, 'scene.blend');
  const onFile = run('bash', [RENDER_SH, blend, '--output', file], env);
  assert.equal(onFile.code, 2);
  assert.match(onFile.err, /scene\.blend: output path is a file/);

  const badFlag = run('bash', [RENDER_SH, blend, '--widht', '5'], env);
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.err, /unrecognized arguments: --widht 5/);
});

test('render.sh without Blender on PATH says how to install it and exits 2', (t) => {
  const emptyBin = tempDir(t); // a PATH with no blender in it (render.sh needs only bash builtins to get there)
  const r = spawnSync('/bin/bash', [RENDER_SH, 'scene.blend', '--output', 'renders'], {
    encoding: 'utf8',
    env: { PATH: emptyBin, HOME: emptyBin },
  });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^render\.sh: Blender is not installed \(no 'blender' on PATH\)\.\n/);
  assert.match(r.stderr, /apt-get install blender/);
  assert.match(r.stderr, /BLENDER=\/path\/to\/blender/);
});
