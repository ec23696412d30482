/**
 * The demo's files in Node: paths in a `.seq` are relative to the `.seq` file's directory; the
 * bundled example weights sit in the repository's examples/weights (two levels above both
 * src/demo and dist/demo). Video is decoded by ffmpeg when it is on PATH.
 */
import { spawnSync } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { CnnV3Error, fileError } from '../errors.js';
import { readInputFile } from '../util/read-node.js';
import type { DemoAssets, VideoFrames } from './effects.js';
import { nodeGltfDecoders } from './gbuffer/decoders-node.js';
import type { FitMode } from '../image/fit.js';
import type { Raster } from '../image/image.js';

export const BUNDLED_WEIGHTS_DIR = new URL('../../examples/weights/', import.meta.url).pathname;

/** Whether a program is on PATH (what `command -v` says). */
export function onPath(program: string): boolean {
  return spawnSync('/bin/sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0;
}

/** At most this many bytes of decoded video are held (a long clip at a large size is refused). */
const MAX_VIDEO_BYTES = 1 << 30;

/** ffmpeg's filters for image/fit.ts's modes (contain's bars black, as fitImage's). */
export function ffmpegFitFilter(width: number, height: number, fit: FitMode): string {
  switch (fit) {
    case 'stretch':
      return `scale=${width}:${height}`;
    case 'contain':
      return `scale=${width}:${height}:force_original_aspect_ratio=decrease,pad=${width}:${height}:-1:-1:black`;
    case 'cover':
      return `scale=${width}:${height}:force_original_aspect_ratio=increase,crop=${width}:${height}`;
  }
}

/** Every frame of a video at width×height (fitted as `fit` says) through ffmpeg, at `fps`. */
function ffmpegVideo(path: string, width: number, height: number, fps: number, fit: FitMode): VideoFrames {
  const frameBytes = width * height * 3;
  const r = spawnSync(
    'ffmpeg',
    ['-v', 'error', '-nostdin', '-i', path, '-vf', `fps=${fps},${ffmpegFitFilter(width, height, fit)}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
    { maxBuffer: MAX_VIDEO_BYTES, encoding: 'buffer' },
  );
  if (r.error) throw fileError(path, `cannot decode the video with ffmpeg (${r.error.message})`);
  if (r.status !== 0) throw fileError(path, `ffmpeg cannot decode this video: ${r.stderr.toString().trim().split('\n').pop() ?? 'unknown error'}`);
  const count = Math.floor(r.stdout.length / frameBytes);
  if (count === 0) throw fileError(path, 'the video has no frames');
  const all = new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, count * frameBytes);
  return {
    frameAt(t: number): Raster {
      const i = Math.min(count - 1, Math.max(0, Math.floor(t * fps + 1e-6)));
      return { width, height, channels: 3, depth: 8, data: all.subarray(i * frameBytes, (i + 1) * frameBytes) };
    },
    destroy() {},
  };
}

export function nodeAssets(seqPath: string, fps: number): DemoAssets {
  const base = dirname(resolve(seqPath));
  const at = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const hasFfmpeg = onPath('ffmpeg');
  const assets: DemoAssets = {
    read: (path, what) => readInputFile(at(path), what),
    gltfDecoders: nodeGltfDecoders(),
    async bundledWeights() {
      try {
        const [weights, film] = await Promise.all([readFile(`${BUNDLED_WEIGHTS_DIR}cnn_v3_weights.bin`), readFile(`${BUNDLED_WEIGHTS_DIR}cnn_v3_film_mlp.bin`)]);
        return { weights, film };
      } catch (e) {
        throw new CnnV3Error(`the bundled example weights are missing from ${BUNDLED_WEIGHTS_DIR} (${(e as NodeJS.ErrnoException).code}): give weights=`);
      }
    },
    resolver(path) {
      const dir = dirname(at(path));
      return (uri) => readInputFile(isAbsolute(uri) ? uri : resolve(dir, decodeURIComponent(uri)), `file ${uri} referenced by ${path}`);
    },
  };
  if (hasFfmpeg) {
    assets.openVideo = async (path, width, height, fit) => {
      const file = at(path);
      // Named here, before ffmpeg's own wording can get in the way.
      const kind = await stat(file).then((s) => (s.isDirectory() ? 'a directory' : 'ok'), () => 'not found');
      if (kind !== 'ok') throw fileError(file, kind === 'not found' ? 'video not found' : 'video is a directory');
      return ffmpegVideo(file, width, height, fps, fit);
    };
  }
  else assets.videoUnsupported = 'video needs ffmpeg on PATH in Node (apt-get install ffmpeg), and it is not there';
  return assets;
}
