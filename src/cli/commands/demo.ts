/**
 * `cnnv3 demo FILE.seq --out DIR`: renders a `.seq` headless through Dawn to numbered PNGs and,
 * with ffmpeg on PATH, DIR/demo.mp4 (with the AUDIO track when there is one).
 *
 * Nothing half-written: frames and video are rendered into a hidden staging directory beside
 * DIR, which replaces DIR only when everything succeeded. An existing DIR is replaced only when
 * it holds nothing but an earlier render's files (or nothing at all).
 */
import { spawn, spawnSync } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { nodeAssets, onPath } from '../../demo/assets-node.js';
import { DemoEngine, seqDuration, type FrameInfo } from '../../demo/engine.js';
import { DEFAULT_DEMO_FIT } from '../../demo/effects.js';
import { checkAllFrames } from '../../demo/graph.js';
import { parseSeq } from '../../demo/seq.js';
import { CnnV3Error, fileError } from '../../errors.js';
import type { GpuContext } from '../../gpu/context.js';
import { createNodeGpu } from '../../gpu/device-node.js';
import { readRgba16f, readRgba32f, readRgba32u } from '../../gpu/readback.js';
import { floatRgbaTo8 } from '../../image/image.js';
import { encodePng } from '../../image/png.js';
import { stagingName, unstage, writeFileAtomic } from '../../util/atomic-node.js';
import { formatStability, StabilityMeter, stabilityJson, stabilityPlotPng } from '../../demo/stability.js';
import { fromHalfBits } from '../../util/half.js';
import { fitFlag, helpAsked, intFlag, numberFlag, parseFlags, stringFlag, valueFlags } from '../args.js';
import { readInputFile } from '../../util/read-node.js';
import { interruptExitCode, onInterrupt } from '../interrupt.js';
import type { CliIO } from '../io.js';
import { ProgressBar } from '../progress.js';

export const DEMO_HELP = `Usage: cnnv3 demo FILE.seq --out DIR [--width 320] [--height 180] [--fps 30]
                  [--from S] [--to S] [--fit cover|contain|stretch] [--stability [--stability-json F]]

Renders a .seq demo (SPEC §8) headless on WebGPU through Dawn (a hardware GPU, else
SwiftShader) to DIR/frame_00000.png, frame_00001.png, … (frame i shows t = from + i/fps), then
DIR/demo.mp4 (H.264, else MPEG-4; yuv420p; with the AUDIO track) when ffmpeg is on PATH.
--to defaults to the end of the last effect. Paths inside the .seq are relative to it.
--fit: how an ImageFeaturesEffect photo or video meets a frame of another shape: cover (scale
to fill, centre crop; the default), contain (letterbox: the whole image, black bars) or stretch.
--stability prints the temporal stability of the output: the mean absolute frame-to-frame
change of the CNN output against that of its albedo input, per second of the clip, and the
drift over each still shot (frames whose input does not change): PSNR of its later outputs
against its first. It also writes DIR/stability.png beside the frames: the per-frame change of
the output and of its albedo input against time, a dashed line at each cut (the running effects
change). Where the CNN reads a GBufferEffect, it also prints the warping error E_warp of Lai et
al. 2018 per second and over the clip: the output against the previous output carried along
the G-buffer's own motion (rendered only when measuring), pixels occluded in the previous
frame left out by a depth test, cuts not crossed; photo and video sequences have no motion
(n/a, "not available"). --stability-json FILE also writes those figures as JSON (with every
frame's change).
DIR is replaced only if it is empty or holds an earlier render; nothing is half-written.
`;

/** Most frames one render may have (a typo in --to or --fps, not a demo). */
const MAX_FRAMES = 100_000;
const OUTPUT_FILE = /^(frame_\d{5,}\.png|demo\.mp4|stability\.png)$/;

export const frameName = (i: number): string => `frame_${String(i).padStart(5, '0')}.png`;

async function checkOut(out: string): Promise<void> {
  const s = await stat(out).catch(() => undefined);
  if (!s) return;
  if (!s.isDirectory()) throw fileError(out, '--out must be a directory, and this is a file');
  const foreign = (await readdir(out)).filter((f) => !OUTPUT_FILE.test(f));
  if (foreign.length > 0) {
    throw fileError(out, `--out holds files that are not from cnnv3 demo (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}): give an empty or new directory`);
  }
}

/** Albedo (ch 0–2) of a gbuf_feat0 texture, as float RGBA (alpha 0). */
function albedoOf(feat0: Uint32Array): Float32Array {
  const out = new Float32Array(feat0.length);
  for (let p = 0; p < feat0.length / 4; p++) {
    const w0 = feat0[p * 4]!;
    out[p * 4] = fromHalfBits(w0 & 0xffff);
    out[p * 4 + 1] = fromHalfBits(w0 >>> 16);
    out[p * 4 + 2] = fromHalfBits(feat0[p * 4 + 1]! & 0xffff);
  }
  return out;
}

/**
 * DIR/demo.mp4 from the frames. ffmpeg runs asynchronously, so a Ctrl-C is handled while it
 * encodes: `signal` stops it and this throws `interrupted(…)`. ffmpeg ending on a signal of
 * its own (a terminal's Ctrl-C reaches the whole process group) is an interruption too.
 */
async function encodeMp4(
  io: CliIO,
  dir: string,
  frames: number,
  fps: number,
  audio: { path: string; from: number } | undefined,
  signal: AbortSignal,
  interrupted: (where: string) => CnnV3Error,
): Promise<void> {
  const encoders = spawnSync('ffmpeg', ['-hide_banner', '-encoders'], { encoding: 'utf8' }).stdout ?? '';
  const codec = /\blibx264\b/.test(encoders) ? ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20'] : ['-c:v', 'mpeg4', '-q:v', '3'];
  const args = ['-v', 'error', '-nostdin', '-y', '-framerate', String(fps), '-i', join(dir, 'frame_%05d.png')];
  if (audio) args.push('-ss', String(audio.from), '-t', String(frames / fps), '-i', audio.path, '-map', '0:v', '-map', '1:a', '-c:a', 'aac', '-b:a', '128k');
  // yuv420p needs even sizes: an odd width or height gets one black column or row.
  args.push(...codec, '-pix_fmt', 'yuv420p', '-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2', '-movflags', '+faststart', join(dir, 'demo.mp4'));
  if (signal.aborted) throw interrupted('before ffmpeg encoded demo.mp4');
  const r = await new Promise<{ status: number | null; signal: NodeJS.Signals | null; stderr: string; error?: Error }>((done) => {
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'], signal });
    let stderr = '';
    let error: Error | undefined;
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.on('error', (e) => (error = e));
    // 'close' follows 'error' too (a failed spawn, or the abort's kill).
    child.on('close', (status, sig) => done({ status, signal: sig, stderr, ...(error ? { error } : {}) }));
  });
  // Stopped by `signal`, or 255: ffmpeg's own exit on SIGINT/SIGTERM.
  if (signal.aborted || r.signal !== null || r.status === 255) throw interrupted('while ffmpeg encoded demo.mp4');
  if (r.error || r.status !== 0) {
    const why = r.error?.message ?? (r.stderr.trim().split('\n').pop() || `exit ${r.status}`);
    throw new CnnV3Error(`cnnv3 demo: ffmpeg failed to write demo.mp4: ${why}`);
  }
  io.stdout(`Encoded demo.mp4 (${codec[1]}, yuv420p${audio ? ', with the AUDIO track' : ''})\n`);
}

export async function demoCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(
    'demo',
    argv,
    {
      out: { type: 'string', short: 'o' },
      ...valueFlags('width', 'height', 'fps', 'from', 'to', 'fit'),
      stability: { type: 'boolean' },
      'stability-json': { type: 'string' },
    },
    true,
  );
  if (helpAsked(values, io, DEMO_HELP)) return 0;
  if (positionals.length !== 1) throw new CnnV3Error(`cnnv3 demo: give one FILE.seq${positionals.length > 1 ? `, got ${positionals.length} files` : ''} (see cnnv3 demo --help)`, 2);
  const seqPath = positionals[0]!;
  const outFlag = stringFlag(values, 'out');
  if (outFlag === undefined) throw new CnnV3Error('cnnv3 demo: --out DIR is required', 2);
  const out = resolve(outFlag);
  const width = intFlag('demo', values, 'width', 320, 1, 8192);
  const height = intFlag('demo', values, 'height', 180, 1, 8192);
  const fps = numberFlag('demo', values, 'fps', 30, 1e-3, 1000);
  const from = numberFlag('demo', values, 'from', 0, 0, 1e7);
  const fit = fitFlag('demo', values, DEFAULT_DEMO_FIT);

  const seq = parseSeq(new TextDecoder().decode(await readInputFile(seqPath, '.seq file')), seqPath);
  checkAllFrames(seq);
  const to = numberFlag('demo', values, 'to', seqDuration(seq), 0, 1e7);
  if (!(to > from)) throw new CnnV3Error(`cnnv3 demo: --to ${to} must be after --from ${from}${values['to'] === undefined ? ' (the end of the last effect)' : ''}`, 2);
  const frames = Math.ceil((to - from) * fps - 1e-9);
  if (frames > MAX_FRAMES) throw new CnnV3Error(`cnnv3 demo: ${frames} frames is more than ${MAX_FRAMES}: check --fps and --to`, 2);
  await checkOut(out);
  // A signal stops the command at the next safe point (the GPU device opened, between effects
  // while loading, between frames, ffmpeg stopped) and it unwinds through `finally`, so the
  // device is destroyed before the process ends: ending it under Dawn's threads can crash it.
  const interrupted = (where: string) => new CnnV3Error(`cnnv3 demo: interrupted ${where}; nothing written to ${out}`, interruptExitCode());
  const abort = new AbortController();
  const unregister = onInterrupt(() => abort.abort());
  // Tracked: a second signal ends the process at once, and the CLI's signal handler removes it.
  const staging = stagingName(out, 'tmp');
  let ctx: GpuContext | undefined;
  let engine: DemoEngine | undefined;
  try {
    ctx = await createNodeGpu({ adapter: 'auto' });
    if (abort.signal.aborted) throw interrupted('while opening the GPU');
    // The G-buffer's motion pass exists only when E_warp is measured.
    const measure = values['stability'] === true || stringFlag(values, 'stability-json') !== undefined;
    engine = await DemoEngine.load(ctx, seq, nodeAssets(seqPath, fps), { width, height, fps, fit, signal: abort.signal, motion: measure }).catch((e: unknown) => {
      throw abort.signal.aborted ? interrupted('while loading the effects') : e;
    });
    await mkdir(staging, { recursive: true }).catch((e: NodeJS.ErrnoException) => {
      throw fileError(out, `cannot create the output directory (${e.code})`);
    });
    io.stdout(`Rendering ${seqPath}: ${frames} frames ${width}×${height} at ${fps} fps, t = ${from}..${to} s, on ${ctx.adapterName}\n`);
    const stabilityJsonPath = stringFlag(values, 'stability-json');
    const stability = measure ? new StabilityMeter({ warp: true }) : undefined;
    const bar = new ProgressBar(io, 'demo', frames);
    const started = performance.now();
    for (let i = 0; i < frames; i++) {
      if (abort.signal.aborted) throw interrupted(`at frame ${i}`);
      const t = from + i / fps;
      const info: FrameInfo = engine.renderFrame(t, 1 / fps);
      const rgba = await readRgba16f(ctx.device, engine.sink);
      // Synchronous: an interrupt never finds a frame write in flight in the staging folder it removes.
      writeFileSync(join(staging, frameName(i)), encodePng({ width, height, channels: 3, depth: 8, data: floatRgbaTo8(rgba, 3) }));
      if (stability) {
        const motion = info.cnn?.motion;
        const frame = info.cnn && {
          output: await readRgba16f(ctx.device, engine.nodes.get(info.cnn.output)!),
          albedo: albedoOf(await readRgba32u(ctx.device, engine.nodes.get(info.cnn.inputs[0])!)),
          ...(motion ? { motion: { width: motion.width, height: motion.height, data: await readRgba32f(ctx.device, motion) } } : {}),
        };
        stability.add(t, frame, info.cut === true);
      }
      bar.tick(`t=${t.toFixed(2)}s`);
    }
    const seconds = (performance.now() - started) / 1000;
    io.stdout(`Rendered ${frames} frames in ${seconds.toFixed(1)} s (${(frames / seconds).toFixed(1)} frames/s)\n`);
    const ffmpeg = onPath('ffmpeg');
    if (ffmpeg) {
      const audio = seq.audio === undefined ? undefined : { path: resolve(dirname(resolve(seqPath)), seq.audio), from };
      await encodeMp4(io, staging, frames, fps, audio, abort.signal, interrupted);
    } else {
      io.stdout('ffmpeg is not on PATH: frames only, no demo.mp4 (apt-get install ffmpeg)\n');
    }
    if (abort.signal.aborted) throw interrupted('before the render was moved into place');
    if (stability) {
      const report = stability.table();
      io.stdout(formatStability(report));
      // In the staging folder like the frames: moved into place with them, or removed with them.
      writeFileSync(join(staging, 'stability.png'), stabilityPlotPng(report));
      if (stabilityJsonPath !== undefined) await writeFileAtomic(stabilityJsonPath, new TextEncoder().encode(stabilityJson(report)));
    }
    // Swap in the finished render; an earlier render in the way goes only after that succeeded.
    // Synchronous renames: no signal handler runs between them.
    const old = `${staging}.old`;
    const hadOut = await stat(out).then(() => true, () => false);
    if (hadOut) renameSync(out, old);
    renameSync(staging, out);
    unstage(staging);
    if (hadOut) await rm(old, { recursive: true, force: true });
    const extras = [...(ffmpeg ? ['demo.mp4'] : []), ...(stability ? ['stability.png'] : [])];
    io.stdout(`Wrote ${frames} frames${extras.length ? ` and ${extras.join(', ')}` : ''} → ${out}\n`);
    return 0;
  } finally {
    engine?.destroy();
    await rm(staging, { recursive: true, force: true });
    unstage(staging);
    ctx?.device.destroy();
    // Last: a signal that arrives during the cleanup's await (ffmpeg, hit by the same Ctrl-C, can
    // close before our handler runs) must still find the stopper, or the handler would end the
    // process at once, before the message of the error being thrown is printed.
    unregister();
  }
}
