// Ctrl-C (SIGINT to the process group, as a terminal sends it) and SIGTERM (to the process, as
// `kill PID` does) at several moments of the long commands — start-up, loading, mid-work, a
// child process running: exit 130 (143), no stack trace, no crash signal, no process of the
// group left (ffmpeg included), and nothing staged left beside the outputs (no `.NAME.tmp-…`
// checkpoint, sample folder or render folder); outputs whole or absent.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { SWIFTSHADER_ICD } from '../src/gpu/device-node.js';
import { MOTION_FILE } from '../src/dataset/layout.js';
import { REPO, requireTool, runCli, tempDir } from './helpers.js';

interface Probe {
  out: string;
  err: string;
  pid: number;
}

interface Interrupted {
  /** The exit status a shell reports: the code, or 128 + the signal's number. */
  status: number;
  /** The signal that ended the process, if one did (SIGINT/SIGTERM before the handlers are installed). */
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
  /** Whether the signal was sent before the command ended. */
  sent: boolean;
}

const SAMPLE_FILES = ['albedo.png', 'depth.png', 'matid.png', 'normal.png', 'shadow.png', 'target.png', 'transp.png'];
const DONE_MS = 120_000;

/**
 * Runs the CLI in its own process group; once `ready` holds (polled every 5 ms) and `delayMs`
 * more have passed, sends `signal`: SIGINT to the whole group, SIGTERM to the process alone.
 * Fails if the command runs on for long after it, or leaves a process of its group behind.
 */
async function interrupt(args: string[], signal: 'SIGINT' | 'SIGTERM', ready: (p: Probe) => boolean, delayMs = 0): Promise<Interrupted> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/bin.ts'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const pid = child.pid!;
  let out = '';
  let err = '';
  let sent = false;
  let exited = false;
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const send = () => {
    if (exited) return;
    sent = true;
    process.kill(signal === 'SIGINT' ? -pid : pid, signal);
  };
  const poll = setInterval(() => {
    if (!exited && ready({ out, err, pid })) {
      clearInterval(poll);
      if (delayMs === 0) send();
      else setTimeout(send, delayMs);
    }
  }, 5);
  const guard = setTimeout(() => process.kill(-pid, 'SIGKILL'), DONE_MS);
  const [code, sig] = await new Promise<[number | null, NodeJS.Signals | null]>((done) => child.on('close', (c, s) => done([c, s])));
  exited = true;
  clearInterval(poll);
  clearTimeout(guard);
  // Nothing of the group may outlive the command (an orphaned ffmpeg, say).
  let left = true;
  for (let i = 0; i < 100 && left; i++) {
    try {
      process.kill(-pid, 0);
      await new Promise((r) => setTimeout(r, 20));
    } catch {
      left = false;
    }
  }
  if (left) process.kill(-pid, 'SIGKILL');
  assert.ok(!left, `processes of ${args[0]}'s group outlived it: ${spawnSync('ps', ['-o', 'pid,args', '-g', String(pid)], { encoding: 'utf8' }).stdout}`);
  return { status: code ?? 128 + constants.signals[sig!], signal: sig, out, err, sent };
}

/** Exit 130/143, no crash, no stack trace; says how it ended (in the TAP output). */
function assertStopped(t: TestContext, r: Interrupted, signal: 'SIGINT' | 'SIGTERM', what: string): void {
  const said = r.err.trim().split('\n').filter((l) => l.startsWith('cnnv3')).pop();
  t.diagnostic(`${what}: ${signal} → ${r.signal ? `ended by ${r.signal} (before its handlers)` : `exit ${r.status}`}${said ? `, "${said}"` : ''}`);
  assert.ok(r.sent, `${what}: the command ended (status ${r.status}) before the signal\nstdout: ${r.out.slice(-300)}\nstderr: ${r.err.slice(-1500)}`);
  assert.ok(r.signal === null || r.signal === signal, `${what}: ended by ${r.signal} — a crash, not the signal it was sent\n${r.err}`);
  assert.equal(r.status, signal === 'SIGINT' ? 130 : 143, `${what}: ${r.err}`);
  assert.doesNotMatch(r.err, /^\s+at\s|node:internal|Uncaught|\bError:/m, `${what}: no stack trace on stderr`);
}

/** Staged or temporary leftovers anywhere under `dir`: `.NAME.tmp-…`, `.NAME.old-…`, `.newN.tmp-…`, `*.tmp-*`. */
function leftovers(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(tmp|old)-|\.tmp$|\.old$/.test(f.split('/').pop()!));
}

/** Command lines of a process's children (the processes whose parent pid, in /proc/PID/stat, is it). */
function children(pid: number): string[] {
  const out: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so split after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' '));
    } catch {
      // the process just ended
    }
  }
  return out;
}

/** Whether the Vulkan driver (SwiftShader) is mapped into the process: it is opening its GPU. */
const gpuLoaded = (pid: number): boolean => {
  try {
    return readFileSync(`/proc/${pid}/maps`, 'utf8').includes('swiftshader');
  } catch {
    return false;
  }
};

function gpuOk(t: TestContext): boolean {
  return requireTool(t, '/usr/lib/x86_64-linux-gnu/libvulkan.so.1', 'libvulkan1') && requireTool(t, SWIFTSHADER_ICD, 'chromium');
}

async function packExamples(t: TestContext): Promise<string> {
  const data = tempDir(t);
  const packed = await runCli(['pack-photo', '--photos', join(REPO, 'examples/photos'), '--targets', join(REPO, 'examples/targets'), '--output', join(data, 'simple')]);
  assert.equal(packed.code, 0, packed.err);
  return data;
}

test('train interrupted at start-up and while it writes a checkpoint every epoch (CPU), and mid-epoch on the GPU', async (t) => {
  const data = await packExamples(t);
  const trainArgs = (ck: string, device = 'cpu') => ['train', '--input', data, '--epochs', '100000', '--patch-size', '8', '--patches-per-image', '2', '--checkpoint-every', '1', '--seed', '1', '--device', device, '--threads', '1', '--checkpoint-dir', ck];
  const check = async (ck: string, r: Interrupted, signal: 'SIGINT' | 'SIGTERM', what: string, saved: boolean) => {
    assertStopped(t, r, signal, what);
    assert.deepEqual(leftovers(ck), [], `${what}: nothing staged left`);
    if (!saved) return;
    const files = readdirSync(ck).filter((f) => f.endsWith('.safetensors')).sort((a, b) => Number(/\d+/.exec(a)) - Number(/\d+/.exec(b)));
    assert.ok(files.length > 0, what);
    const exported = await runCli(['export', join(ck, files.at(-1)!), '--output', join(ck, 'export')]);
    assert.equal(exported.code, 0, `${what}: the last checkpoint written is whole: ${exported.err}`);
  };
  // Start-up: before the handlers exist (the default action ends it), then while it loads the samples.
  for (const [i, [what, ready]] of ([
    ['at launch', () => true],
    ['while loading', (p: Probe) => p.out.includes('Model:')],
  ] as const).entries()) {
    const ck = join(tempDir(t), 'ck');
    const signal = i % 2 === 0 ? 'SIGINT' : 'SIGTERM';
    await check(ck, await interrupt(trainArgs(ck), signal, ready), signal, what, false);
  }
  // Several points of the epoch/checkpoint cycle (tiny epochs: a checkpoint every few ms).
  for (const [i, delay] of [0, 7, 23, 61, 149].entries()) {
    const ck = join(tempDir(t), 'ck');
    const signal = i % 2 === 0 ? 'SIGINT' : 'SIGTERM';
    await check(ck, await interrupt(trainArgs(ck), signal, (p) => p.out.includes('Saved '), delay), signal, `${delay} ms after a checkpoint`, true);
  }
  // The GPU engine (SwiftShader): stopped between chunks of steps, the device destroyed before the
  // process ends (ending it under Dawn's threads crashed it with SIGSEGV).
  if (!gpuOk(t)) return;
  for (const [signal, delay] of [['SIGINT', 0], ['SIGTERM', 40]] as const) {
    const ck = join(tempDir(t), 'ck');
    const r = await interrupt(trainArgs(ck, 'gpu'), signal, (p) => p.out.includes('Saved '), delay);
    await check(ck, r, signal, `GPU, ${delay} ms after a checkpoint`, true);
    assert.match(r.err, /cnnv3 train: interrupted in epoch \d+; checkpoints already written stay in /);
  }
});

test('pack-photo interrupted in batch mode: only whole sample folders', async (t) => {
  // 24 photos (the examples, six times), so a signal lands mid-batch.
  const photos = join(tempDir(t), 'photos');
  const targets = join(photos, '..', 'targets');
  mkdirSync(photos);
  mkdirSync(targets);
  for (const f of readdirSync(join(REPO, 'examples/photos'))) {
    const [name, ext] = f.split('.') as [string, string];
    for (let k = 0; k < 6; k++) {
      copyFileSync(join(REPO, 'examples/photos', f), join(photos, `${name}${k}.${ext}`));
      copyFileSync(join(REPO, 'examples/targets', `${name}_styled.png`), join(targets, `${name}${k}.png`));
    }
  }
  const samples = (out: string) => (existsSync(out) ? readdirSync(out).filter((f) => f.startsWith('sample_')) : []);
  const moments: Array<[string, 'SIGINT' | 'SIGTERM', (out: string) => () => boolean, number]> = [
    ['soon after launch', 'SIGINT', () => () => true, 800],
    ['after the first sample', 'SIGTERM', (out) => () => samples(out).length >= 1, 0],
    ['mid-sample', 'SIGINT', (out) => () => samples(out).length >= 3, 20],
  ];
  for (const [what, signal, ready, delay] of moments) {
    const out = join(tempDir(t), 'set');
    const r = await interrupt(['pack-photo', '--photos', photos, '--targets', targets, '--output', out], signal, ready(out), delay);
    assertStopped(t, r, signal, what);
    assert.deepEqual(leftovers(join(out, '..')), [], `${what}: nothing staged left`);
    const done = samples(out);
    assert.ok(done.length < 24, `${what}: stopped before the end`);
    for (const s of done) assert.deepEqual(readdirSync(join(out, s)).sort(), SAMPLE_FILES, `${what}: ${s} is whole`);
  }
});

test('pack-blender interrupted while it packs a directory of Blender renders: only whole samples', async (t) => {
  if (!requireTool(t, '/usr/bin/blender', 'blender')) return;
  // One real frame from Debian's Blender (the repo's test scene through blender/render.sh), as 16 files.
  const work = tempDir(t);
  const scene = spawnSync('/usr/bin/blender', ['-b', '--factory-startup', '-P', join(REPO, 'blender/make_test_scene.py'), '--', '--output', join(work, 'test.blend')], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(scene.status, 0, scene.stderr);
  const render = spawnSync(join(REPO, 'blender/render.sh'), [join(work, 'test.blend'), '--output', join(work, 'r'), '--width', '320', '--height', '240', '--start-frame', '1', '--end-frame', '1', '--samples', '1'], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, BLENDER: '/usr/bin/blender' },
  });
  assert.equal(render.status, 0, render.stderr);
  const renders = join(work, 'renders');
  mkdirSync(renders);
  for (let i = 1; i <= 16; i++) copyFileSync(join(work, 'r', '0001.exr'), join(renders, `${String(i).padStart(4, '0')}.exr`));
  const samples = (out: string) => (existsSync(out) ? readdirSync(out).filter((f) => f.startsWith('sample_')) : []);
  const moments: Array<[string, 'SIGINT' | 'SIGTERM', (out: string) => (p: Probe) => boolean, number]> = [
    // Node's start-up or the first EXR (whichever it is by then: both must end cleanly).
    ['soon after launch', 'SIGINT', () => () => true, 800],
    ['after the first sample', 'SIGTERM', (out) => () => samples(out).length >= 1, 0],
    ['mid-sample', 'SIGINT', (out) => () => samples(out).length >= 2, 170],
  ];
  for (const [what, signal, ready, delay] of moments) {
    const out = join(tempDir(t), 'full');
    const r = await interrupt(['pack-blender', '--exr-dir', renders, '--output', out], signal, ready(out), delay);
    assertStopped(t, r, signal, what);
    assert.deepEqual(leftovers(join(out, '..')), [], `${what}: nothing staged left`);
    const done = samples(out);
    assert.ok(done.length < 16, `${what}: stopped before the end`);
    // render.sh's EXRs carry Cycles' Vector pass, so a whole sample has its motion.bin too.
    const whole = [...SAMPLE_FILES, MOTION_FILE].sort();
    for (const s of done) assert.deepEqual(readdirSync(join(out, s)).sort(), whole, `${what}: ${s} is whole`);
    assert.ok(done.every((s) => whole.every((f) => statSync(join(out, s, f)).size > 0)));
  }
});

test('demo interrupted while it starts the GPU, renders and while ffmpeg encodes: no render, no ffmpeg left', async (t) => {
  if (!gpuOk(t)) return;
  const ffmpeg = existsSync('/usr/bin/ffmpeg');
  // A small .seq (one CNN: a short load) with the example's music, so ffmpeg muxes audio too.
  const dir = tempDir(t);
  copyFileSync(join(REPO, 'examples/demo/music.wav'), join(dir, 'music.wav'));
  writeFileSync(
    join(dir, 'demo.seq'),
    'BPM 120\nAUDIO music.wav\nSEQUENCE 0 0 "scene"\nEFFECT + GBufferEffect prev_cnn -> gbuf_feat0 gbuf_feat1 0 4\nEFFECT + CNNv3Effect gbuf_feat0 gbuf_feat1 -> sink 0 4\n',
  );
  const encoding = (p: Probe) => children(p.pid).some((c) => c.includes('ffmpeg') && c.includes('demo.mp4'));
  const moments: Array<[string, 'SIGINT' | 'SIGTERM', (p: Probe) => boolean, number]> = [
    // Whatever it is doing by then (opening the device, compiling the effects' pipelines, the
    // first frames): it stops at the next safe point.
    ['as the GPU driver loads', 'SIGINT', (p) => gpuLoaded(p.pid), 0],
    ['soon after the GPU driver loaded', 'SIGTERM', (p) => gpuLoaded(p.pid), 400],
    ['mid-render', 'SIGINT', (p) => p.out.includes('Rendering '), 300],
  ];
  if (ffmpeg) moments.push(['while ffmpeg encodes (Ctrl-C reaches it too)', 'SIGINT', encoding, 0], ['while ffmpeg encodes (SIGTERM to cnnv3 only)', 'SIGTERM', encoding, 0]);
  for (const [what, signal, ready, delay] of moments) {
    const parent = tempDir(t);
    const out = join(parent, 'render');
    const r = await interrupt(['demo', join(dir, 'demo.seq'), '--out', out, '--width', '64', '--height', '36', '--fps', '12', '--to', '2'], signal, ready, delay);
    assertStopped(t, r, signal, what);
    assert.deepEqual(readdirSync(parent), [], `${what}: no render and nothing staged beside --out`);
    if (r.out.includes('Rendering ')) assert.match(r.err, /cnnv3 demo: interrupted .*; nothing written to /, what);
  }
});
