/** Reading a user's input file whole, with one message naming it when that fails. */
import { readFile, stat } from 'node:fs/promises';
import { CnnV3Error, fileError } from '../errors.js';

/** The bytes of `path`; `what` names it in the message ("weights file", "photo", …). */
export async function readInputFile(path: string, what: string): Promise<Uint8Array> {
  try {
    if ((await stat(path)).isDirectory()) throw fileError(path, `${what} is a directory`);
    return await readFile(path);
  } catch (e) {
    if (e instanceof CnnV3Error) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw fileError(path, code === 'ENOENT' ? `${what} not found` : `cannot read ${what} (${code})`);
  }
}
