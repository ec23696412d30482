/**
 * Writes that never leave a torn result: stage next to the destination, then rename.
 * A staged name starts with '.', which the dataset scan skips.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { appendFile, mkdir, rm, stat, truncate } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileError } from '../errors.js';

/** Staged files and folders not yet renamed into place or removed: what an interrupted process must delete. */
const staged = new Set<string>();

/** A fresh staging path beside `path`, tracked until `unstage` (see removeStaged). */
export function stagingName(path: string, tag: string): string {
  const rand = Math.floor(Math.random() * 0xffffffff).toString(16);
  const name = join(dirname(path), `.${basename(path)}.${tag}-${process.pid}-${rand}`);
  staged.add(name);
  return name;
}

/** The staged path is gone or has become the real one: no longer the interrupt handler's business. */
export function unstage(name: string): void {
  staged.delete(name);
}

/**
 * Deletes every staged file and folder now, synchronously: for a signal handler that is about to
 * end the process (Ctrl-C mid-write must leave nothing half-written behind).
 */
export function removeStaged(): void {
  for (const name of staged) rmSync(name, { recursive: true, force: true });
  staged.clear();
}

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large',
  EIO: 'input/output error',
  ENOTDIR: 'a parent path is a file',
  EEXIST: 'a parent path is a file',
  EISDIR: 'is a directory',
};

/**
 * Why a file-system call failed, for a message that already names the file: the errno's meaning,
 * never the path Node appends (which may be a staging file the user never asked for).
 */
export function fsReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const known = err.code === undefined ? undefined : REASONS[err.code];
  if (known) return known;
  // Node's text is "CODE: meaning, syscall 'path'": keep "CODE: meaning".
  return err.message.split(', ')[0] ?? err.message;
}

/**
 * `mkdir -p`, one level at a time, so a failure carries the kernel's own errno (a recursive
 * mkdir in Node reports ENOENT on a read-only file system, for one).
 */
export async function makeDirs(dir: string): Promise<void> {
  const missing: string[] = [];
  let d = dir;
  while ((await kindOf(d)) === 'missing') {
    missing.push(d);
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  for (const m of missing.reverse()) {
    try {
      await mkdir(m);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || (await kindOf(m)) !== 'dir') throw e;
    }
  }
  if ((await kindOf(dir)) === 'file') {
    throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), { code: 'ENOTDIR' });
  }
}

async function kindOf(path: string): Promise<'missing' | 'file' | 'dir'> {
  try {
    return (await stat(path)).isDirectory() ? 'dir' : 'file';
  } catch {
    return 'missing';
  }
}

/** Creates the parent directories of `path`, naming `path` when that fails. */
export async function ensureParent(path: string): Promise<void> {
  try {
    await makeDirs(dirname(path));
  } catch (e) {
    throw fileError(path, `cannot create its directory (${fsReason(e)})`);
  }
}

export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  if ((await kindOf(path)) === 'dir') throw fileError(path, 'output path is a directory');
  await ensureParent(path);
  const tmp = stagingName(path, 'tmp');
  try {
    // Synchronous, so an interrupt lands before or after, never while a write the signal handler
    // cannot see is still creating the staged file on another thread.
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw fileError(path, `cannot write (${fsReason(e)})`);
  } finally {
    unstage(tmp);
  }
}

/**
 * Writes a whole directory of files at once: the directory appears complete or not at all.
 * An existing directory at `dir` is replaced; an existing file is refused.
 */
export async function writeDirAtomic(dir: string, files: Record<string, Uint8Array>): Promise<void> {
  const existing = await kindOf(dir);
  if (existing === 'file') throw fileError(dir, 'output path is a file');
  await ensureParent(dir);
  const tmp = stagingName(dir, 'tmp');
  try {
    // Synchronous for the same reason as writeFileAtomic: no write still in flight at an interrupt.
    mkdirSync(tmp);
    for (const [name, data] of Object.entries(files)) writeFileSync(join(tmp, name), data);
    if (existing === 'dir') {
      // The old sample is not tracked: an interrupt between the two renames must not delete it.
      const old = stagingName(dir, 'old');
      unstage(old);
      renameSync(dir, old);
      renameSync(tmp, dir);
      await rm(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, dir);
    }
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw fileError(dir, `cannot write (${fsReason(e)})`);
  } finally {
    unstage(tmp);
  }
}

/**
 * Appends to a log: the text lands whole or not at all. A write that comes up short (a full
 * disk) is cut back to where the file ended, so no torn line is left for a reader to trip on.
 */
export async function appendWhole(path: string, text: string): Promise<void> {
  let size = 0;
  try {
    size = (await stat(path)).size;
  } catch {
    // A missing log: appending creates it, and a failure leaves it empty.
  }
  try {
    await appendFile(path, text);
  } catch (e) {
    await truncate(path, size).catch(() => undefined);
    throw fileError(path, `cannot append (${fsReason(e)})`);
  }
}
