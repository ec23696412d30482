/** Checkpoint files on disk (Node only): atomic saves, loads with one-line errors. */
import { readFile, stat } from 'node:fs/promises';
import { fileError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-node.js';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from './checkpoint.js';

/** Writes to a temporary file and renames it, so a crash never leaves a torn checkpoint. */
export async function saveCheckpoint(path: string, ckpt: Omit<Checkpoint, 'hadConfig'>): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(ckpt));
}

/** Reads `path` as raw bytes, with the messages a user needs for the usual mistakes. */
export async function readCheckpointBytes(path: string): Promise<Uint8Array> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw fileError(path, 'checkpoint not found');
    throw fileError(path, `cannot read checkpoint (${code ?? (e as Error).message})`);
  }
  if (isDir) throw fileError(path, 'is a directory, not a checkpoint file (give one checkpoint_epoch_N.safetensors)');
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw fileError(path, `cannot read checkpoint (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  return decodeCheckpoint(await readCheckpointBytes(path), path);
}
