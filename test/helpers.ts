/** Shared test helpers: real-photo fixtures, temp dirs, the CLI in-process, an oracle decoder. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { main } from '../src/cli/main.js';
import { bufferIO } from '../src/cli/io.js';

export const IN_CI = process.env['CI'] === 'true';

/** Real photos shipped by Debian's python3-skimage (public domain / CC0, see README). */
export const SKIMAGE_DATA = '/usr/lib/python3/dist-packages/skimage/data';
/** Debian's system Python, which has PIL (an independent PNG/JPEG decoder) via python3-skimage. */
export const SYSTEM_PYTHON = '/usr/bin/python3';

export const REPO = new URL('..', import.meta.url).pathname;

/**
 * A dependency the suite needs from Debian. In CI a missing one fails the test (.ci/run
 * installs it); on a developer machine the test skips with a loud reason.
 */
export function requireTool(t: TestContext, path: string, debianPackage: string): boolean {
  if (existsSync(path)) return true;
  const why = `${path} is missing: apt-get install ${debianPackage}`;
  if (IN_CI) throw new Error(`CI must not skip: ${why}`);
  console.warn(`\n*** SKIPPING ${t.name}: ${why} ***\n`);
  t.skip(why);
  return false;
}

export function skimage(t: TestContext, file: string): string | undefined {
  const path = join(SKIMAGE_DATA, file);
  return requireTool(t, path, 'python3-skimage') ? path : undefined;
}

export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'cnnv3-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function runCli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = bufferIO();
  const code = await main(argv, io);
  return { code, out: io.out, err: io.err };
}

/** Decodes an image with PIL to 8-bit RGBA bytes (16-bit gray narrowed by round(v/257)). */
export function pilRgba(path: string): { width: number; height: number; data: Uint8Array } {
  const script = `
import sys, struct
from PIL import Image
import numpy as np
im = Image.open(sys.argv[1]); im.load()
if im.mode in ('I;16', 'I;16B', 'I'):
    a = np.round(np.array(im).astype('float64') / 257).astype('uint8'); im = Image.fromarray(a, 'L')
if im.mode == 'RGB' and im.info.get('transparency') is not None: im = im.convert('RGBA')
sys.stdout.buffer.write(struct.pack('<II', im.width, im.height) + im.convert('RGBA').tobytes())`;
  const out = execFileSync(SYSTEM_PYTHON, ['-c', script, path], { maxBuffer: 1 << 28 });
  return { width: out.readUInt32LE(0), height: out.readUInt32LE(4), data: new Uint8Array(out.subarray(8)) };
}

/** Raw samples of a PNG as PIL stores them (mode, size, and the sample values as numbers). */
export function pilRaw(path: string): { mode: string; width: number; height: number; values: number[] } {
  const script = `
import sys, json
from PIL import Image
import numpy as np
im = Image.open(sys.argv[1]); im.load()
print(json.dumps({'mode': im.mode, 'width': im.width, 'height': im.height, 'values': np.array(im).astype('int64').ravel().tolist()}))`;
  return JSON.parse(execFileSync(SYSTEM_PYTHON, ['-c', script, path], { maxBuffer: 1 << 28 }).toString()) as {
    mode: string;
    width: number;
    height: number;
    values: number[];
  };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
