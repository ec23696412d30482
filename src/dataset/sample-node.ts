/** Node side of the dataset: sample directories on disk and their discovery. */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { CnnV3Error, fileError } from '../errors.js';
import { SAMPLE_MARKER, type InputMode, type SampleFileName, type STYLE_FILE } from './layout.js';
import { loadSample, type Sample, type SampleSource } from './sample.js';

export function dirSource(dir: string, name: string = dir): SampleSource {
  return {
    name,
    label: (file: SampleFileName | typeof STYLE_FILE) => join(dir, file),
    read: async (file: SampleFileName | typeof STYLE_FILE) => {
      try {
        return await readFile(join(dir, file));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return undefined;
        throw fileError(join(dir, file), `cannot read (${code ?? (e as Error).message})`);
      }
    },
  };
}

export async function loadSampleDir(dir: string, name?: string): Promise<Sample> {
  return loadSample(dirSource(dir, name));
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Every directory under `root` that holds albedo.png, sorted. With a mode, `root/<mode>/` is
 * scanned when it exists, else the whole root (playbook §1c). Hidden directories are skipped:
 * the writers stage samples in `.name.tmp-*` siblings, which must never be read.
 */
export async function discoverSamples(root: string, mode?: InputMode): Promise<string[]> {
  if (!(await isDir(root))) {
    if (await isFile(root)) throw fileError(root, 'is a file, not a dataset directory');
    throw fileError(root, 'no such directory');
  }
  let scan = root;
  if (mode && (await isDir(join(root, mode)))) scan = join(root, mode);
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    if (await isFile(join(dir, SAMPLE_MARKER))) {
      found.push(dir);
      return;
    }
    const entries = await readdir(dir, { withFileTypes: true });
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules') await walk(join(dir, e.name));
    }
  };
  await walk(scan);
  if (found.length === 0) throw new CnnV3Error(`No samples found in ${scan}: no directory holds ${SAMPLE_MARKER}`);
  return found;
}

/** A sample's name for listings: its path relative to the dataset root (or its own path). */
export function sampleName(root: string, dir: string): string {
  const rel = relative(root, dir);
  return rel === '' ? dir : rel;
}
