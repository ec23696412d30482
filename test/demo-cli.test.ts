import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { formatStability, StabilityMeter, stabilityJson, stabilityPlotPng } from '../src/demo/stability.js';
import { SWIFTSHADER_ICD } from '../src/gpu/device-node.js';
import { decodePng } from '../src/image/png.js';
import { REPO, requireTool, runCli, tempDir } from './helpers.js';

const EXAMPLE = join(REPO, 'examples/demo/example.seq');
const FFPROBE = '/usr/bin/ffprobe';

function gpuOk(t: TestContext): boolean {
  return requireTool(t, '/usr/lib/x86_64-linux-gnu/libvulkan.so.1', 'libvulkan1') && requireTool(t, SWIFTSHADER_ICD, 'chromium');
}

/** Frames of the first video stream, as ffprobe counts them by decoding. */
function mp4Frames(path: string): { frames: number; width: number; height: number; audio: boolean } {
  const v = execFileSync(FFPROBE, ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames,width,height,pix_fmt', '-of', 'json', path]).toString();
  const s = (JSON.parse(v) as { streams: { nb_read_frames: string; width: number; height: number; pix_fmt: string }[] }).streams[0]!;
  assert.equal(s.pix_fmt, 'yuv420p');
  const a = execFileSync(FFPROBE, ['-v', 'error', '-select_streams', 'a', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', path]).toString().trim();
  return { frames: Number(s.nb_read_frames), width: s.width, height: s.height, audio: a.length > 0 };
}

/** Nothing but the expected entries in a directory: no staging leftovers. */
const entries = (dir: string) => readdirSync(dir).sort();

test('cnnv3 demo renders the example: numbered PNGs, an MP4 whose frame count ffprobe confirms, the stability table', async (t) => {
  if (!gpuOk(t) || !requireTool(t, '/usr/bin/ffmpeg', 'ffmpeg') || !requireTool(t, FFPROBE, 'ffmpeg')) return;
  const parent = tempDir(t);
  const out = join(parent, 'render');
  // Odd size: the MP4 gets padded to even; 3.7..4.2 s cuts from the Blender scene to the built-in one.
  const r = await runCli(['demo', EXAMPLE, '--out', out, '--width', '33', '--height', '17', '--fps', '10', '--from', '3.7', '--to', '4.2', '--stability']);
  assert.equal(r.code, 0, r.err);
  const names = entries(out);
  assert.deepEqual(names, ['demo.mp4', 'frame_00000.png', 'frame_00001.png', 'frame_00002.png', 'frame_00003.png', 'frame_00004.png', 'stability.png']);
  const plot = decodePng(readFileSync(join(out, 'stability.png')), 'plot');
  assert.deepEqual([plot.width, plot.height], [720, 400]);
  assert.match(r.out, /Wrote 5 frames and demo\.mp4, stability\.png → /);
  assert.deepEqual(entries(parent), ['render'], 'no staging directory left behind');
  const first = decodePng(readFileSync(join(out, 'frame_00000.png')), 'f0');
  assert.equal(first.width, 33);
  assert.equal(first.height, 17);
  assert.ok(new Set(first.data).size > 20, 'a picture, not a flat frame');
  const m = mp4Frames(join(out, 'demo.mp4'));
  assert.deepEqual(m, { frames: 5, width: 34, height: 18, audio: true });
  assert.match(r.out, /Rendering .*example\.seq: 5 frames 33×17 at 10 fps/);
  assert.match(r.out, /Encoded demo\.mp4 \(libx264/);
  assert.match(r.out, /output Δ +albedo Δ +ratio +E_warp/);
  assert.match(r.out, /^ +3 +2 +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+$/m, 'second 3: the Blender scene');
  assert.match(r.out, /^ +all +4 +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+$/m);
  // Four flicker pairs, but the one across the cut at 4 s is no E_warp pair.
  assert.match(r.out, /^Warping error E_warp .*; 3 frame pairs, \d+% of pixels .*: \d\.\d{6}$/m);
  assert.match(r.err, /demo \[#+\] 5\/5/);

  // A second render replaces the first (it holds only a render's files).
  const again = await runCli(['demo', EXAMPLE, '--out', out, '--width', '16', '--height', '16', '--fps', '5', '--from', '0', '--to', '0.4']);
  assert.equal(again.code, 0, again.err);
  assert.deepEqual(entries(out), ['demo.mp4', 'frame_00000.png', 'frame_00001.png']);
  assert.equal(mp4Frames(join(out, 'demo.mp4')).frames, 2);
});

test('--stability: E_warp for a G-buffer sequence (in the JSON too), "not available" for a photo', async (t) => {
  if (!gpuOk(t)) return;
  const dir = tempDir(t);
  const seqs = {
    gbuffer: 'EFFECT + GBufferEffect prev_cnn -> gbuf_feat0 gbuf_feat1 0 1',
    photo: `EFFECT + ImageFeaturesEffect prev_cnn -> gbuf_feat0 gbuf_feat1 0 1 image=${join(REPO, 'examples/photos/cat.png')}`,
  };
  for (const [name, features] of Object.entries(seqs)) {
    const seq = join(dir, `${name}.seq`);
    writeFileSync(seq, `BPM 120\nSEQUENCE 0 0 "${name}"\n${features}\nEFFECT + CNNv3Effect gbuf_feat0 gbuf_feat1 -> sink 0 1\n`);
    const json = join(dir, `${name}.json`);
    const r = await runCli(['demo', seq, '--out', join(dir, `${name}-out`), '--width', '32', '--height', '18', '--fps', '4', '--stability', '--stability-json', json]);
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(readFileSync(json, 'utf8')) as { warp: { total: { pairs: number; error: number | null; valid: number } }; frames: Array<{ warp: number | null }> };
    if (name === 'gbuffer') {
      // The built-in scene orbits and animates: a small, non-zero error over its 3 pairs.
      const m = /^Warping error E_warp .*; 3 frame pairs, (\d+)% of pixels .*: (\d\.\d{6})$/m.exec(r.out);
      assert.ok(m, r.out);
      assert.ok(Number(m[1]) > 50 && Number(m[2]) > 0 && Number(m[2]) < 0.05, `E_warp ${m[2]}, mask ${m[1]}%`);
      assert.equal(report.warp.total.pairs, 3);
      assert.ok(Math.abs(report.warp.total.error! - Number(m[2])) < 1e-6);
      assert.deepEqual(report.frames.map((f) => f.warp !== null), [false, true, true, true]);
    } else {
      assert.match(r.out, /^Warping error E_warp: not available \(no consecutive frames with G-buffer motion/m);
      assert.match(r.out, /^ +0 +3 +[\d.]+ +[\d.]+ +[\d.—]+ +n\/a$/m);
      assert.equal(report.warp.total.pairs, 0);
      assert.equal(report.warp.total.error, null);
    }
  }
});

test('without ffmpeg on PATH: frames only, and it says so', async (t) => {
  if (!gpuOk(t)) return;
  const out = join(tempDir(t), 'frames');
  const path = process.env['PATH'];
  process.env['PATH'] = '/nonexistent';
  let r;
  try {
    r = await runCli(['demo', EXAMPLE, '--out', out, '--width', '8', '--height', '8', '--fps', '4', '--to', '0.5']);
  } finally {
    process.env['PATH'] = path;
  }
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /ffmpeg is not on PATH: frames only, no demo\.mp4 \(apt-get install ffmpeg\)/);
  assert.deepEqual(entries(out), ['frame_00000.png', 'frame_00001.png']);
});

test('bad .seq, missing weights, bad flags and a foreign --out: one line, exit ≠ 0, nothing written', async (t) => {
  if (!gpuOk(t)) return;
  const dir = tempDir(t);
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const syntax = write('syntax.seq', 'BPM 120\nSEQUENCE 0 0 "a"\nEFFECT + NoSuchEffect a -> b 0 1\n');
  const graph = write('graph.seq', 'SEQUENCE 0 0 "a"\nEFFECT + CNNv3Effect x y -> sink 0 1\n');
  const weights = write('weights.seq', `SEQUENCE 0 0 "a"\nEFFECT + ImageFeaturesEffect -> f0 f1 0 1 image=${join(REPO, 'examples/photos/cat.png')}\nEFFECT + CNNv3Effect f0 f1 -> sink 0 1 weights=gone/cnn_v3_weights.bin\n`);
  const foreign = join(dir, 'foreign');
  mkdirSync(foreign);
  writeFileSync(join(foreign, 'notes.txt'), 'mine');
  const aFile = write('a-file', 'x');
  const cases: [string[], RegExp, number][] = [
    [[syntax], /syntax\.seq:3: unknown effect class "NoSuchEffect"/, 1],
    [[graph], /graph\.seq:2: node x is read before anything writes it/, 1],
    [[weights], /weights\.seq:3: .*gone\/cnn_v3_weights\.bin: weights file not found/, 1],
    [[join(dir, 'none.seq')], /none\.seq: \.seq file not found/, 1],
    [[syntax, '--width', '0'], /--width must be an integer 1\.\.8192/, 2],
    [[EXAMPLE, '--from', '2', '--to', '1'], /--to 1 must be after --from 2/, 2],
    [[EXAMPLE, '--bogus'], /unknown option '--bogus'/, 2],
  ];
  for (const [args, re, code] of cases) {
    const out = join(dir, 'out');
    const r = await runCli(['demo', ...args, '--out', out]);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, re);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.ok(!existsSync(out), `${args.join(' ')}: --out was created`);
  }
  let r = await runCli(['demo', EXAMPLE, '--out', foreign, '--to', '0.1']);
  assert.equal(r.code, 1);
  assert.match(r.err, /foreign: --out holds files that are not from cnnv3 demo \(notes\.txt\): give an empty or new directory/);
  assert.deepEqual(entries(foreign), ['notes.txt']);
  r = await runCli(['demo', EXAMPLE, '--out', aFile, '--to', '0.1']);
  assert.match(r.err, /a-file: --out must be a directory, and this is a file/);
  r = await runCli(['demo']);
  assert.match(r.err, /cnnv3 demo: give one FILE\.seq/);
  assert.deepEqual(entries(dir).filter((n) => n.startsWith('.')), [], 'no staging leftovers');
});

test('stability: per-second means of frame-to-frame change, chains broken by frames without a CNN', () => {
  const img = (v: number, a: number) => ({ output: Float32Array.from([v, v, v, 1]), albedo: Float32Array.from([a, a, a, 0]) });
  const m = new StabilityMeter();
  m.add(0, img(0.1, 0.5));
  m.add(0, img(0.2, 0.5)); // output Δ 0.1, albedo Δ 0
  m.add(1, img(0.5, 0.7)); // 0.3, 0.2
  m.add(1, undefined); // no CNN this frame: no pair with the next
  m.add(1, img(0.9, 0.1));
  m.add(2, img(0.8, 0.3)); // 0.1, 0.2
  const t = m.table();
  const near = (a: number, b: number) => Math.abs(a - b) < 1e-6;
  assert.deepEqual(t.rows.map((r) => [r.second, r.pairs]), [[0, 1], [1, 1], [2, 1]]);
  assert.ok(near(t.rows[1]!.output, 0.3) && near(t.rows[1]!.albedo, 0.2));
  assert.ok(near(t.total.output, 0.5 / 3) && near(t.total.albedo, 0.4 / 3));
  const text = formatStability(t);
  assert.match(text, /^ +0 +1 +0\.10000 +0\.00000 +—$/m, 'a still input: no ratio');
  assert.match(text, /^ +1 +1 +0\.30000 +0\.20000 +1\.500$/m);
  assert.match(text, /ratio = output Δ \/ albedo Δ: 1\.250/);
  assert.match(formatStability(new StabilityMeter().table()), /nothing to compare/);
});

test('stability: every frame\'s change (a gap where there is no pair) and its cuts, plotted beside the frames', () => {
  const img = (v: number, a: number) => ({ output: Float32Array.from([v, v, v, 1]), albedo: Float32Array.from([a, a, a, 0]) });
  const m = new StabilityMeter();
  m.add(0, img(0.1, 0.5));
  m.add(0.5, img(0.3, 0.6)); // 0.2, 0.1
  m.add(1, undefined, true); // a cut to a frame without a CNN
  m.add(1.5, img(0.3, 0.6));
  m.add(2, img(0.4, 0.9), true); // a cut: 0.1, 0.3
  const t = m.table();
  const near = (a: number, b: number) => Math.abs(a - b) < 1e-6;
  assert.deepEqual(t.frames.map((f) => [f.t, f.cut]), [[0, false], [0.5, false], [1, true], [1.5, false], [2, true]]);
  assert.deepEqual(t.frames.map((f) => Number.isNaN(f.output)), [true, false, true, true, false]);
  assert.ok(near(t.frames[1]!.output, 0.2) && near(t.frames[1]!.albedo, 0.1) && near(t.frames[4]!.output, 0.1) && near(t.frames[4]!.albedo, 0.3));
  const json = JSON.parse(stabilityJson(t)) as { frames: Array<{ output: number | null; cut: boolean }> };
  assert.equal(json.frames[0]!.output, null);
  const png = decodePng(stabilityPlotPng(t, 400, 200), 'plot');
  assert.deepEqual([png.width, png.height, png.channels], [400, 200, 3]);
  const colours = new Set<string>();
  for (let p = 0; p < png.width * png.height; p++) colours.add(Array.from(png.data.subarray(p * 3, p * 3 + 3)).join(','));
  for (const c of ['200,60,20', '30,90,200', '150,150,150']) assert.ok(colours.has(c), `the plot draws ${c} (output, albedo, the cuts' markers)`);
  // The cut at frame 2 (x = left + 2/4 of the plot's width): a dashed grey line.
  const x = Math.round(70 + (2 / 4) * (400 - 70 - 180));
  let grey = 0;
  for (let y = 0; y < png.height; y++) if (Array.from(png.data.subarray((y * png.width + x) * 3, (y * png.width + x) * 3 + 3)).join(',') === '150,150,150') grey++;
  assert.ok(grey > 20, `dashed marker at the cut: ${grey} grey pixels`);
});

test('stability: drift over still shots (known PSNRs), broken by a changed input, a cut without a CNN, or a new size', () => {
  const size = 8;
  const frame = (out: number, albedo: number, n = size) => ({ output: new Float32Array(n * 4).fill(out), albedo: new Float32Array(n * 4).fill(albedo) });
  const m = new StabilityMeter();
  // Shot 1: input 0.5 for four frames; the output drifts by 0.01, then 0.1 (PSNR 40 dB, then 20 dB).
  m.add(0, frame(0.5, 0.5));
  m.add(0.1, frame(0.51, 0.5));
  m.add(0.2, frame(0.6, 0.5));
  m.add(0.3, frame(0.51, 0.5));
  // The input changes: a new shot starts here and holds its output exactly.
  m.add(0.4, frame(0.2, 0.7));
  m.add(0.5, frame(0.2, 0.7));
  m.add(0.6, undefined); // a frame without the CNN ends it
  m.add(0.7, frame(0.2, 0.7)); // a lone frame is no shot…
  m.add(0.8, frame(0.2, 0.7, 4)); // …nor is it one with a frame of another size (no pair either)
  const t = m.table();
  const near = (a: number, b: number) => Math.abs(a - b) < 1e-3;
  assert.equal(t.still.length, 2, JSON.stringify(t.still));
  const [first, second] = t.still;
  assert.deepEqual([first!.start, first!.frames], [0, 4]);
  assert.ok(near(first!.lastPsnr, 40) && near(first!.minPsnr, 20), `${first!.lastPsnr} ${first!.minPsnr}`);
  assert.equal(first!.lastVsSecondPsnr, Infinity, 'the last output equals the second');
  assert.deepEqual([second!.start, second!.frames, second!.lastPsnr], [0.4, 2, Infinity]);
  const text = formatStability(t);
  assert.match(text, /^Drift on a still shot from t = 0\.00 s \(4 frames, input unchanged\): last frame vs first 40\.00 dB \(lowest 20\.00 dB\), vs second identical$/m);
  assert.match(text, /from t = 0\.40 s \(2 frames, input unchanged\): last frame vs first identical \(lowest identical\), vs second identical/);
  const json = JSON.parse(stabilityJson(t)) as { still: Array<{ lastPsnr: number | null }>; total: { pairs: number } };
  assert.equal(json.still[1]!.lastPsnr, null);
  assert.equal(json.total.pairs, 5);
});

test('stability: E_warp along G-buffer motion, per second and over the clip; not across cuts; not available without motion', () => {
  // Two pixels side by side; the picture moves one pixel right each frame (motion to the previous
  // frame: −1), so only the right pixel has a source in the frame.
  const motion = (dx: number) => ({ width: 2, height: 1, data: Float32Array.from([dx, 0, 3, 3, dx, 0, 3, 3]) });
  const img = (l: number, r: number, m?: number) => ({
    output: Float32Array.from([l, l, l, 1, r, r, r, 1]),
    albedo: Float32Array.from([l, l, l, 0, r, r, r, 0]),
    ...(m === undefined ? {} : { motion: motion(m) }),
  });
  const m = new StabilityMeter({ warp: true });
  m.add(0, img(0.2, 0.4, 0));
  m.add(0.5, img(0.1, 0.2, -1)); // right pixel: 0.2 vs the left's 0.2 before: 0
  m.add(1, img(0.3, 0.4, -1)); // right: 0.4 vs 0.1 before: 3 · 0.3² = 0.27
  m.add(1.5, img(0.5, 0.5, 0), true); // a cut: no pair
  m.add(2, img(0.5, 0.6)); // no motion (a photo): no pair
  m.add(2.5, img(0.5, 0.7));
  const t = m.table();
  const near = (a: number, b: number) => Math.abs(a - b) < 1e-6;
  assert.deepEqual(t.frames.map((f) => (f.warp === undefined || Number.isNaN(f.warp) ? null : Math.round(f.warp * 1e6) / 1e6)), [null, 0, 0.27, null, null, null]);
  assert.deepEqual(t.warp!.rows.map((r) => [r.second, r.pairs]), [[0, 1], [1, 1]]);
  assert.ok(near(t.warp!.total.error, 0.135) && near(t.warp!.total.valid, 0.5) && t.warp!.total.pairs === 2);
  const text = formatStability(t);
  assert.match(text, /E_warp\n/);
  assert.match(text, /^ +1 +2 +[\d.]+ +[\d.]+ +[\d.—]+ +0\.270000$/m, 'second 1: one pair (the cut is not one)');
  assert.match(text, /^ +2 +2 +[\d.]+ +[\d.]+ +[\d.—]+ +n\/a$/m, 'second 2: no motion');
  assert.match(text, /^Warping error E_warp .*2 frame pairs, 50% of pixels .*: 0\.135000 \(n\/a: seconds without G-buffer motion\)$/m);
  const photo = new StabilityMeter({ warp: true });
  photo.add(0, img(0.2, 0.4));
  photo.add(0.5, img(0.2, 0.5));
  assert.match(formatStability(photo.table()), /Warping error E_warp: not available/);
  const json = JSON.parse(stabilityJson(t)) as { warp: { total: { error: number } }; frames: Array<{ warp: number | null }> };
  assert.ok(near(json.warp.total.error, 0.135) && json.frames[0]!.warp === null);
  // Without `warp` (eval --sequence's meters) the report has no E_warp at all.
  const plain = new StabilityMeter();
  plain.add(0, img(0.2, 0.4, 0));
  plain.add(0.5, img(0.1, 0.2, -1));
  assert.equal(plain.table().warp, undefined);
  assert.doesNotMatch(formatStability(plain.table()), /E_warp/);
});

test('Ctrl-C during a render: exit 130, no output directory and no staging folder left', async (t) => {
  if (!gpuOk(t)) return;
  const dir = tempDir(t);
  const out = join(dir, 'render');
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/bin.ts'), 'demo', EXAMPLE, '--out', out, '--width', '64', '--height', '36', '--fps', '24'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  const code = await new Promise<number | null>((done) => {
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      // Interrupt once frames are being written into the staging folder.
      if (stdout.includes('Rendering ') && readdirSync(dir).some((f) => f.includes('.tmp-'))) child.kill('SIGINT');
    });
    child.on('exit', (c) => done(c));
  });
  assert.equal(code, 130, stdout);
  assert.deepEqual(readdirSync(dir), [], 'nothing left beside --out');
});
