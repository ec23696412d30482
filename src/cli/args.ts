/** Flag parsing on node:util's parseArgs, with user-facing messages instead of stack traces. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CnnV3Error } from '../errors.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export function parseFlags<O extends OptionSpec>(
  command: string,
  argv: string[],
  options: O,
  allowPositionals = false,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (e) {
    const err = e as Error & { code?: string };
    let msg = err.message.split('. ')[0] ?? err.message;
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') msg = msg.replace(/^Unknown option/, 'unknown option');
    throw new CnnV3Error(`cnnv3 ${command}: ${msg.replace(/\.$/, '')} (see cnnv3 ${command} --help)`, 2);
  }
}

/** Prints the command's help when -h/--help was given; the command then returns 0. */
export function helpAsked(values: Record<string, unknown>, io: { stdout(text: string): void }, help: string): boolean {
  if (values['help'] !== true) return false;
  io.stdout(help);
  return true;
}

export function stringFlag(values: Record<string, unknown>, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** `--NAME P0,P1`: two numbers in [0, 1] (style coordinates); undefined when not given. */
export function pairFlag(command: string, values: Record<string, unknown>, name: string): [number, number] | undefined {
  const raw = stringFlag(values, name);
  if (raw === undefined) return undefined;
  const parts = raw.split(',').map((p) => p.trim());
  const v = parts.map((p) => (p === '' ? NaN : Number(p)));
  if (v.length !== 2 || !v.every((x) => Number.isFinite(x) && x >= 0 && x <= 1)) {
    throw new CnnV3Error(`cnnv3 ${command}: --${name} must be two numbers in [0, 1] like 1,0, got ${JSON.stringify(raw)}`, 2);
  }
  return [v[0]!, v[1]!];
}

/** A numeric flag within [min, max]: an integer or any finite number. */
function boundedFlag(command: string, values: Record<string, unknown>, name: string, fallback: number, min: number, max: number, kind: 'integer' | 'number'): number {
  const raw = stringFlag(values, name);
  if (raw === undefined) return fallback;
  const v = Number(raw);
  const wellFormed = kind === 'integer' ? /^[+-]?\d+$/.test(raw.trim()) && Number.isSafeInteger(v) : raw.trim() !== '' && Number.isFinite(v);
  if (!wellFormed || v < min || v > max) {
    const range = kind === 'number' ? `a number in [${min}, ${max}]` : max === Infinity ? `an integer ≥ ${min}` : `an integer ${min}..${max}`;
    throw new CnnV3Error(`cnnv3 ${command}: --${name} must be ${range}, got ${JSON.stringify(raw)}`, 2);
  }
  return v;
}

/** An integer flag with bounds; a malformed value names the flag. */
export function intFlag(command: string, values: Record<string, unknown>, name: string, fallback: number, min = -Infinity, max = Infinity): number {
  return boundedFlag(command, values, name, fallback, min, max, 'integer');
}

/** A finite number flag with bounds. */
export function numberFlag(command: string, values: Record<string, unknown>, name: string, fallback: number, min = -Infinity, max = Infinity): number {
  return boundedFlag(command, values, name, fallback, min, max, 'number');
}
