/**
 * Writes that never leave a torn result: stage next to the destination, then rename.
 * A staged name starts with '.', which the dataset scan skips.
 */
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileError } from '../errors.js';

function stagingName(path: string, tag: string): string {
  const rand = Math.floor(Math.random() * 0xffffffff).toString(16);
  return join(dirname(path), `.${basename(path)}.${tag}-${process.pid}-${rand}`);
}

function problem(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const reasons: Record<string, string> = {
    EACCES: 'permission denied',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on device',
    ENOTDIR: 'a parent path is a file',
    EEXIST: 'a parent path is a file',
    EISDIR: 'is a directory',
  };
  return (err.code && reasons[err.code]) ?? err.message;
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
    await mkdir(dirname(path), { recursive: true });
  } catch (e) {
    throw fileError(path, `cannot create its directory (${problem(e)})`);
  }
}

export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  if ((await kindOf(path)) === 'dir') throw fileError(path, 'output path is a directory');
  await ensureParent(path);
  const tmp = stagingName(path, 'tmp');
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw fileError(path, `cannot write (${problem(e)})`);
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
    await mkdir(tmp);
    for (const [name, data] of Object.entries(files)) await writeFile(join(tmp, name), data);
    if (existing === 'dir') {
      const old = stagingName(dir, 'old');
      await rename(dir, old);
      await rename(tmp, dir);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(tmp, dir);
    }
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw fileError(dir, `cannot write (${problem(e)})`);
  }
}
