/**
 * The one error type a user sees: a message that names the file (or flag) and the problem.
 * The CLI prints `cnnv3: <message>` without a stack trace and exits non-zero; anything else
 * escaping is a bug and keeps its stack.
 */
export class CnnV3Error extends Error {
  override readonly name = 'CnnV3Error';
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** `<file>: <problem>` — the shape of every message about a bad input file. */
export function fileError(file: string, problem: string): CnnV3Error {
  return new CnnV3Error(`${file}: ${problem}`);
}

export function isCnnV3Error(e: unknown): e is CnnV3Error {
  return e instanceof CnnV3Error;
}
