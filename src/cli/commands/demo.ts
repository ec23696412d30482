/**
 * `cnnv3 demo FILE.seq --out DIR`: renders a `.seq` headless through Dawn to numbered PNGs and,
 * with ffmpeg on PATH, DIR/demo.mp4 (with the AUDIO track when there is one).
 *
 * Nothing half-written: frames and video are rendered into a hidden staging directory beside
 * DIR, which replaces DIR only when everything succeeded. An existing DIR is replaced only when
 * it holds nothing but an earlier render's files (or nothing at all).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { nodeAssets, onPath } from '../../demo/assets-node.js';
import { DemoEngine, seqDuration, type FrameInfo } from '../../demo/engine.js';
import { checkAllFrames } from '../../demo/graph.js';
import { parseSeq } from '../../demo/seq.js';
import { CnnV3Error, fileError } from '../../errors.js';
import { createNodeGpu } from '../../gpu/device-node.js';
import { readRgba16f, readRgba32u } from '../../gpu/readback.js';
import { floatRgbaTo8 } from '../../image/image.js';
import { encodePng } from '../../image/png.js';
import { stagingName, unstage } from '../../util/atomic-node.js';
import { fromHalfBits } from '../../util/half.js';
import { helpAsked, intFlag, numberFlag, parseFlags, stringFlag, valueFlags } from '../args.js';
import { readInputFile } from '../../util/read-node.js';
import { interruptExitCode, onInterrupt } from '../interrupt.js';
import type { CliIO } from '../io.js';
import { ProgressBar } from '../progress.js';

export const DEMO_HELP = `Usage: cnnv3 demo FILE.seq --out DIR [--width 320] [--height 180] [--fps 30]
                  [--from S] [--to S] [--stability]

Renders a .seq demo (SPEC §8) headless on WebGPU through Dawn (a hardware GPU, else
SwiftShader) to DIR/frame_00000.png, frame_00001.png, … (frame i shows t = from + i/fps), then
DIR/demo.mp4 (H.264, else MPEG-4; yuv420p; with the AUDIO track) when ffmpeg is on PATH.
--to defaults to the end of the last effect. Paths inside the .seq are relative to it.
--stability prints the temporal stability of the output: the mean absolute frame-to-frame
change of the CNN output against that of its albedo input, per second of the clip.
DIR is replaced only if it is empty or holds an earlier render; nothing is half-written.
`;

/** Most frames one render may have (a typo in --to or --fps, not a demo). */
const MAX_FRAMES = 100_000;
const OUTPUT_FILE = /^(frame_\d{5,}\.png|demo\.mp4)$/;

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

/** The RGB mean absolute difference of two float RGBA images. */
function meanAbsRgb(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let p = 0; p < a.length / 4; p++) for (let c = 0; c < 3; c++) s += Math.abs(a[p * 4 + c]! - b[p * 4 + c]!);
  return s / ((a.length / 4) * 3);
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

export interface StabilityRow {
  second: number;
  pairs: number;
  output: number;
  albedo: number;
}

/** Per-second means of the frame-to-frame changes, and the totals (the `total` row, second −1). */
export class StabilityMeter {
  private last: { output: Float32Array; albedo: Float32Array } | undefined;
  private readonly rows = new Map<number, StabilityRow>();

  /** Adds a frame; a frame without a CNN output breaks the chain (no pair across it). */
  add(second: number, frame: { output: Float32Array; albedo: Float32Array } | undefined): void {
    if (frame && this.last && this.last.output.length === frame.output.length) {
      const row = this.rows.get(second) ?? { second, pairs: 0, output: 0, albedo: 0 };
      row.pairs++;
      row.output += meanAbsRgb(frame.output, this.last.output);
      row.albedo += meanAbsRgb(frame.albedo, this.last.albedo);
      this.rows.set(second, row);
    }
    this.last = frame;
  }

  table(): { rows: StabilityRow[]; total: StabilityRow } {
    const rows = [...this.rows.values()].sort((a, b) => a.second - b.second).map((r) => ({ ...r, output: r.output / r.pairs, albedo: r.albedo / r.pairs }));
    const pairs = rows.reduce((n, r) => n + r.pairs, 0);
    const mean = (k: 'output' | 'albedo') => (pairs === 0 ? 0 : rows.reduce((s, r) => s + r[k] * r.pairs, 0) / pairs);
    return { rows, total: { second: -1, pairs, output: mean('output'), albedo: mean('albedo') } };
  }
}

const ratio = (r: StabilityRow): string => (r.albedo > 0 ? (r.output / r.albedo).toFixed(3) : '—');

export function formatStability(t: ReturnType<StabilityMeter['table']>): string {
  const line = (label: string, r: StabilityRow) =>
    `${label.padStart(7)}  ${String(r.pairs).padStart(5)}  ${r.output.toFixed(5).padStart(10)}  ${r.albedo.toFixed(5).padStart(10)}  ${ratio(r).padStart(7)}\n`;
  let s = `Temporal stability: mean |Δ| between consecutive frames (RGB, 0..1)\n${'second'.padStart(7)}  ${'pairs'.padStart(5)}  ${'output Δ'.padStart(10)}  ${'albedo Δ'.padStart(10)}  ${'ratio'.padStart(7)}\n`;
  for (const r of t.rows) s += line(`${r.second}`, r);
  s += line('all', t.total);
  s += t.total.pairs === 0
    ? 'No consecutive frames with a CNNv3Effect: nothing to compare.\n'
    : `ratio = output Δ / albedo Δ: ${ratio(t.total)} (below 1: the effect changes less than its input; — where the input is still)\n`;
  return s;
}

function encodeMp4(io: CliIO, dir: string, frames: number, fps: number, audio: { path: string; from: number } | undefined): void {
  const encoders = spawnSync('ffmpeg', ['-hide_banner', '-encoders'], { encoding: 'utf8' }).stdout ?? '';
  const codec = /\blibx264\b/.test(encoders) ? ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20'] : ['-c:v', 'mpeg4', '-q:v', '3'];
  const args = ['-v', 'error', '-nostdin', '-y', '-framerate', String(fps), '-i', join(dir, 'frame_%05d.png')];
  if (audio) args.push('-ss', String(audio.from), '-t', String(frames / fps), '-i', audio.path, '-map', '0:v', '-map', '1:a', '-c:a', 'aac', '-b:a', '128k');
  // yuv420p needs even sizes: an odd width or height gets one black column or row.
  args.push(...codec, '-pix_fmt', 'yuv420p', '-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2', '-movflags', '+faststart', join(dir, 'demo.mp4'));
  const r = spawnSync('ffmpeg', args, { encoding: 'utf8' });
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
      ...valueFlags('width', 'height', 'fps', 'from', 'to'),
      stability: { type: 'boolean' },
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

  const seq = parseSeq(new TextDecoder().decode(await readInputFile(seqPath, '.seq file')), seqPath);
  checkAllFrames(seq);
  const to = numberFlag('demo', values, 'to', seqDuration(seq), 0, 1e7);
  if (!(to > from)) throw new CnnV3Error(`cnnv3 demo: --to ${to} must be after --from ${from}${values['to'] === undefined ? ' (the end of the last effect)' : ''}`, 2);
  const frames = Math.ceil((to - from) * fps - 1e-9);
  if (frames > MAX_FRAMES) throw new CnnV3Error(`cnnv3 demo: ${frames} frames is more than ${MAX_FRAMES}: check --fps and --to`, 2);
  await checkOut(out);
  const ctx = await createNodeGpu({ adapter: 'auto' });
  // Tracked: Ctrl-C (or a kill) mid-render skips `finally`, and the CLI's signal handler removes it.
  const staging = stagingName(out, 'tmp');
  let engine: DemoEngine | undefined;
  // A signal stops the render between frames, so the GPU device is destroyed before the process ends.
  let stop = false;
  const unregister = onInterrupt(() => (stop = true));
  try {
    engine = await DemoEngine.load(ctx, seq, nodeAssets(seqPath, fps), { width, height, fps });
    await mkdir(staging, { recursive: true }).catch((e: NodeJS.ErrnoException) => {
      throw fileError(out, `cannot create the output directory (${e.code})`);
    });
    io.stdout(`Rendering ${seqPath}: ${frames} frames ${width}×${height} at ${fps} fps, t = ${from}..${to} s, on ${ctx.adapterName}\n`);
    const stability = values['stability'] ? new StabilityMeter() : undefined;
    const bar = new ProgressBar(io, 'demo', frames);
    const started = performance.now();
    for (let i = 0; i < frames; i++) {
      if (stop) throw new CnnV3Error(`cnnv3 demo: interrupted at frame ${i}; nothing written to ${out}`, interruptExitCode());
      const t = from + i / fps;
      const info: FrameInfo = engine.renderFrame(t, 1 / fps);
      const rgba = await readRgba16f(ctx.device, engine.sink);
      // Synchronous: an interrupt never finds a frame write in flight in the staging folder it removes.
      writeFileSync(join(staging, frameName(i)), encodePng({ width, height, channels: 3, depth: 8, data: floatRgbaTo8(rgba, 3) }));
      if (stability) {
        const frame = info.cnn && {
          output: await readRgba16f(ctx.device, engine.nodes.get(info.cnn.output)!),
          albedo: albedoOf(await readRgba32u(ctx.device, engine.nodes.get(info.cnn.inputs[0])!)),
        };
        stability.add(Math.floor(t), frame);
      }
      bar.tick(`t=${t.toFixed(2)}s`);
    }
    const seconds = (performance.now() - started) / 1000;
    io.stdout(`Rendered ${frames} frames in ${seconds.toFixed(1)} s (${(frames / seconds).toFixed(1)} frames/s)\n`);
    const ffmpeg = onPath('ffmpeg');
    if (ffmpeg) {
      const audio = seq.audio === undefined ? undefined : { path: resolve(dirname(resolve(seqPath)), seq.audio), from };
      encodeMp4(io, staging, frames, fps, audio);
    } else {
      io.stdout('ffmpeg is not on PATH: frames only, no demo.mp4 (apt-get install ffmpeg)\n');
    }
    if (stability) io.stdout(formatStability(stability.table()));
    // Swap in the finished render; an earlier render in the way goes only after that succeeded.
    const old = `${staging}.old`;
    const hadOut = await stat(out).then(() => true, () => false);
    if (hadOut) await rename(out, old);
    await rename(staging, out);
    if (hadOut) await rm(old, { recursive: true, force: true });
    io.stdout(`Wrote ${frames} frames${ffmpeg ? ' and demo.mp4' : ''} → ${out}\n`);
    return 0;
  } finally {
    unregister();
    engine?.destroy();
    await rm(staging, { recursive: true, force: true });
    unstage(staging);
    ctx.device.destroy();
  }
}
