/** Hand-built samples: planes in, the seven encoded PNGs out. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePng } from '../src/image/png.js';
import type { SampleFiles } from '../src/dataset/layout.js';

export interface Planes {
  width: number;
  height: number;
  albedo?: Uint8Array; // RGB
  normal?: Uint8Array; // RGB
  depth?: Uint16Array;
  matid?: Uint8Array;
  shadow?: Uint8Array;
  transp?: Uint8Array;
  target?: { width: number; height: number; data: Uint8Array }; // RGBA
}

export function sampleFiles(p: Planes): SampleFiles {
  const { width, height } = p;
  const n = width * height;
  const albedo = p.albedo ?? new Uint8Array(n * 3).fill(100);
  const normal = p.normal ?? Uint8Array.from({ length: n * 3 }, (_, i) => (i % 3 === 2 ? 0 : 128));
  const target = p.target ?? { width, height, data: new Uint8Array(n * 4).fill(200) };
  return {
    'albedo.png': encodePng({ width, height, channels: 3, depth: 8, data: albedo }),
    'normal.png': encodePng({ width, height, channels: 3, depth: 8, data: normal }),
    'depth.png': encodePng({ width, height, channels: 1, depth: 16, data: p.depth ?? new Uint16Array(n) }),
    'matid.png': encodePng({ width, height, channels: 1, depth: 8, data: p.matid ?? new Uint8Array(n) }),
    'shadow.png': encodePng({ width, height, channels: 1, depth: 8, data: p.shadow ?? new Uint8Array(n).fill(255) }),
    'transp.png': encodePng({ width, height, channels: 1, depth: 8, data: p.transp ?? new Uint8Array(n) }),
    'target.png': encodePng({ width: target.width, height: target.height, channels: 4, depth: 8, data: target.data }),
  };
}

export function writeSample(dir: string, files: Partial<SampleFiles>): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  return dir;
}
