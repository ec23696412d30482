/**
 * The one internal error of the OpenEXR reader: a problem with the file's bytes, phrased for a
 * user. `readExr` turns it into `fileError(file, message)`; nothing here knows the file's name.
 */
export class ExrProblem extends Error {
  override readonly name = 'ExrProblem';
}

export function problem(message: string): never {
  throw new ExrProblem(message);
}

/** A read past the end of the file: every message says "truncated". */
export function truncated(what: string): never {
  throw new ExrProblem(`truncated (${what})`);
}
