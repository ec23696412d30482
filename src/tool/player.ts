/**
 * The demo player page: plays a `.seq` (the bundled example by default, or one picked with its
 * files) with the same engine `cnnv3 demo` renders headless, on the page's WebGPU, with its
 * AUDIO track. The clock is the wall clock (performance.now); the audio element follows it and
 * is put back in step when it drifts, so a blocked or missing audio output never stalls the
 * picture. Seeking (or looping to the start) makes prev_cnn black, as SPEC §8 says.
 */
import filmUrl from '../../examples/weights/cnn_v3_film_mlp.bin?url';
import weightsUrl from '../../examples/weights/cnn_v3_weights.bin?url';
import exampleSeq from '../../examples/demo/example.seq?raw';
import { SinkBlit } from '../demo/blit.js';
import { fitImage, type DemoAssets, type VideoFrames } from '../demo/effects.js';
import type { FitMode } from '../image/fit.js';
import { DemoEngine } from '../demo/engine.js';
import { parseSeq, type SeqFile } from '../demo/seq.js';
import { CnnV3Error, fileError } from '../errors.js';
import { contextFromGpu, type GpuContext } from '../gpu/context.js';
import { $, setStatus, showAdapter, showError } from './page-status.js';
import { loadDracoDecoder } from './draco-decoder.js';

const EXAMPLE_PATH = 'examples/demo/example.seq';
/** The example's files, by repository path (Vite copies each into the build). */
const BUNDLED: Record<string, string> = Object.fromEntries(
  Object.entries({
    ...import.meta.glob<string>('../../examples/demo/*.{wav,png,jpg,glb,gltf,bin,mp4,webm}', { query: '?url', import: 'default', eager: true }),
    ...import.meta.glob<string>('../../examples/photos/*.{png,jpg}', { query: '?url', import: 'default', eager: true }),
    ...import.meta.glob<string>('../../examples/blender/*.{glb,bin}', { query: '?url', import: 'default', eager: true }),
  }).map(([k, v]) => [k.replace(/^(\.\.\/)+/, ''), v]),
);

const params = new URLSearchParams(location.search);
const size = (key: string, fallback: number) => {
  const v = Number(params.get(key) ?? fallback);
  return Number.isInteger(v) && v >= 1 && v <= 4096 ? v : fallback;
};
const WIDTH = size('width', 320);
const HEIGHT = size('height', 180);
const FPS_HINT = 60;

const ui = {
  canvas: $<HTMLCanvasElement>('player-canvas'),
  play: $<HTMLButtonElement>('play'),
  seek: $<HTMLInputElement>('seek'),
  time: $<HTMLElement>('time'),
  beat: $<HTMLElement>('beat'),
  fps: $<HTMLElement>('fps'),
  seqName: $<HTMLElement>('seq-name'),
  seqInput: $<HTMLInputElement>('seq-input'),
  audioNote: $<HTMLElement>('audio-note'),
};
async function fetchBytes(url: string, name: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw fileError(name, `cannot load (HTTP ${r.status})`);
  return new Uint8Array(await r.arrayBuffer());
}

/** `path` as written in a .seq at `seqPath`, as a repository-style path without leading slash. */
const resolvePath = (seqPath: string, path: string) => decodeURIComponent(new URL(path, `http://x/${seqPath}`).pathname.slice(1));
const baseName = (p: string) => p.split(/[\\/]/).pop() ?? p;

/** A video played along in a hidden element; each frame is grabbed at the demo's size. */
async function browserVideo(bytes: Uint8Array, name: string, width: number, height: number, fit: FitMode): Promise<VideoFrames> {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>]));
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  video.src = url;
  await new Promise<void>((resolve, reject) => {
    video.onloadeddata = () => resolve();
    video.onerror = () => reject(fileError(name, 'this browser cannot decode the video'));
  });
  const grab = new OffscreenCanvas(video.videoWidth, video.videoHeight);
  const g = grab.getContext('2d', { willReadFrequently: true })!;
  return {
    frameAt(t) {
      const target = Math.min(t, Math.max(0, video.duration - 0.01));
      if (Math.abs(video.currentTime - target) > 0.25) video.currentTime = target;
      if (video.paused && t < video.duration) void video.play().catch(() => {});
      g.drawImage(video, 0, 0);
      const img = g.getImageData(0, 0, grab.width, grab.height);
      return fitImage({ width: grab.width, height: grab.height, channels: 4, depth: 8, data: new Uint8Array(img.data.buffer) }, width, height, fit);
    },
    destroy() {
      video.pause();
      URL.revokeObjectURL(url);
    },
  };
}

function makeAssets(read: (path: string, what: string) => Promise<Uint8Array>): DemoAssets {
  return {
    read,
    bundledWeights: async () => ({ weights: await fetchBytes(weightsUrl, 'cnn_v3_weights.bin'), film: await fetchBytes(filmUrl, 'cnn_v3_film_mlp.bin') }),
    resolver: (path) => (uri) => read(resolvePath(path, uri), `file ${uri} referenced by ${path}`),
    openVideo: async (path, width, height, fit) => browserVideo(await read(path, 'video'), path, width, height, fit),
    gltfDecoders: { draco: loadDracoDecoder },
  };
}

/** The bundled example: files come from the build's copies of examples/. */
function bundledAssets(seqPath: string): DemoAssets {
  return makeAssets(async (path, what) => {
    const repoPath = resolvePath(seqPath, path);
    const url = BUNDLED[repoPath];
    if (!url) throw fileError(path, `${what} is not bundled with the page (pick the .seq with its files instead)`);
    return fetchBytes(url, path);
  });
}

/** A picked .seq: its files are matched by name among the picked files. */
function pickedAssets(files: File[]): DemoAssets {
  return makeAssets(async (path, what) => {
    const file = files.find((f) => f.name === baseName(path));
    if (!file) throw fileError(path, `${what} not found among the picked files (pick it together with the .seq)`);
    return new Uint8Array(await file.arrayBuffer());
  });
}

// ---------------------------------------------------------------- playback

interface Playback {
  engine: DemoEngine;
  audio?: HTMLAudioElement;
  audioUrl?: string;
}

let gpu: { ctx: GpuContext; canvas: GPUCanvasContext; blit: SinkBlit } | undefined;
let current: Playback | undefined;
let playing = true;
/** performance.now() at demo time 0 while playing; the paused time otherwise. */
let originMs = 0;
let pausedAt = 0;
let lastT = 0;
let frames = 0;
let fpsWindow: number[] = [];

const demoTime = () => (playing ? (performance.now() - originMs) / 1000 : pausedAt);

function startAudio(t: number): void {
  const audio = current?.audio;
  if (!audio) return;
  audio.currentTime = Math.min(t, audio.duration || t);
  if (!playing) {
    audio.pause();
    return;
  }
  audio.play().then(
    () => (ui.audioNote.textContent = 'audio: playing'),
    () => (ui.audioNote.textContent = 'audio: blocked by the browser until you press play'),
  );
}

function seekTo(t: number): void {
  if (!current) return;
  current.engine.seek();
  if (playing) originMs = performance.now() - t * 1000;
  else pausedAt = t;
  lastT = t;
  startAudio(t);
}

async function initGpu(): Promise<NonNullable<typeof gpu>> {
  const ctx = await contextFromGpu(navigator.gpu, ' in this browser: use a recent Chrome or Edge (or Chromium with --enable-unsafe-webgpu)');
  showAdapter(ctx.adapterName);
  const canvas = ui.canvas.getContext('webgpu');
  if (!canvas) throw new CnnV3Error('this canvas cannot show WebGPU output');
  const format = navigator.gpu.getPreferredCanvasFormat();
  ui.canvas.width = WIDTH;
  ui.canvas.height = HEIGHT;
  canvas.configure({ device: ctx.device, format, alphaMode: 'opaque' });
  return { ctx, canvas, blit: new SinkBlit(ctx, format) };
}

async function open(seq: SeqFile, assets: DemoAssets, label: string): Promise<void> {
  gpu ??= await initGpu();
  setStatus('loading');
  const engine = await DemoEngine.load(gpu.ctx, seq, assets, { width: WIDTH, height: HEIGHT, fps: FPS_HINT });
  // One frame rendered and waited for before the clock starts: the first use of each pipeline
  // compiles it (seconds on a software GPU), which would otherwise skip the opening.
  engine.renderFrame(0, 1 / FPS_HINT);
  await gpu.ctx.device.queue.onSubmittedWorkDone();
  const next: Playback = { engine };
  if (seq.audio !== undefined) {
    next.audioUrl = URL.createObjectURL(new Blob([(await assets.read(seq.audio, 'audio file')) as Uint8Array<ArrayBuffer>], { type: 'audio/wav' }));
    next.audio = new Audio(next.audioUrl);
    next.audio.preload = 'auto';
    next.audio.dataset['testid'] = 'audio';
    document.body.append(next.audio);
  }
  if (current) {
    current.engine.destroy();
    current.audio?.pause();
    current.audio?.remove();
    if (current.audioUrl) URL.revokeObjectURL(current.audioUrl);
  }
  current = next;
  ui.seqName.textContent = label;
  ui.seek.max = String(engine.duration);
  ui.audioNote.textContent = seq.audio === undefined ? 'no AUDIO in this .seq' : 'audio: starting';
  playing = true;
  ui.play.textContent = 'pause';
  seekTo(0);
  setStatus('playing');
}

function frame(): void {
  requestAnimationFrame(frame);
  if (!gpu || !current) return;
  const { engine } = current;
  let t = demoTime();
  if (t >= engine.duration) {
    seekTo(0); // loop
    t = 0;
  }
  const dt = Math.min(0.25, Math.max(1 / 240, t - lastT));
  lastT = t;
  const audio = current.audio;
  if (audio && playing && !audio.paused && t < audio.duration && Math.abs(audio.currentTime - t) > 0.15) audio.currentTime = t;
  const { device } = gpu.ctx;
  const encoder = device.createCommandEncoder({ label: 'player frame' });
  const info = engine.encodeFrame(encoder, t, dt);
  gpu.blit.encode(encoder, gpu.canvas.getCurrentTexture().createView({ label: 'player canvas view' }), engine.sink);
  device.queue.submit([encoder.finish()]);
  frames++;
  ui.canvas.dataset['frames'] = String(frames);
  ui.canvas.dataset['t'] = t.toFixed(3);
  ui.time.textContent = `${t.toFixed(2)} s`;
  ui.beat.textContent = `beat ${info.params.beat_phase.toFixed(2)} · audio ${info.params.audio_intensity.toFixed(2)}`;
  if (document.activeElement !== ui.seek) ui.seek.value = String(t);
  const now = performance.now();
  fpsWindow.push(now);
  fpsWindow = fpsWindow.filter((x) => now - x < 1000);
  ui.fps.textContent = `${fpsWindow.length} fps`;
}

ui.play.addEventListener('click', () => {
  if (!current) return;
  const t = demoTime();
  playing = !playing;
  ui.play.textContent = playing ? 'pause' : 'play';
  if (playing) originMs = performance.now() - t * 1000;
  else pausedAt = t;
  startAudio(t);
  setStatus(playing ? 'playing' : 'paused');
});

ui.seek.addEventListener('input', () => seekTo(Number(ui.seek.value)));

ui.seqInput.addEventListener('change', () => {
  const files = Array.from(ui.seqInput.files ?? []);
  const seqFile = files.find((f) => f.name.endsWith('.seq'));
  (async () => {
    if (!seqFile) throw new CnnV3Error('pick a .seq file (with the files it names)');
    const seq = parseSeq(await seqFile.text(), seqFile.name);
    await open(seq, pickedAssets(files), seqFile.name);
  })().catch(showError);
});

requestAnimationFrame(frame);
(async () => {
  await open(parseSeq(exampleSeq, EXAMPLE_PATH), bundledAssets(EXAMPLE_PATH), EXAMPLE_PATH);
})().catch(showError);
