/** Flag parsing on node:util's parseArgs, with user-facing messages instead of stack traces. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CnnV3Error } from '../errors.js';
import { FIT_MODES, type FitMode } from '../image/fit.js';

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
    let msg = err.message.split(/\.\s/)[0] ?? err.message;
    const ambiguous = /^Option '(-{1,2}[^']+)' argument is ambiguous/.exec(err.message);
    if (ambiguous) {
      // `--lr -1`: node reads a value that starts with '-' as a flag unless it is joined with '='.
      const flag = ambiguous[1]!.split(',')[0]!.trim();
      const value = argv[argv.indexOf(flag) + 1] ?? '';
      msg = `${flag} ${JSON.stringify(value)}: a value that starts with '-' is written ${flag}=${value}`;
    } else if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      msg = msg.replace(/^Unknown option/, 'unknown option');
      const flag = /'(-{1,2}[^'=]+)/.exec(err.message)?.[1];
      const guess = flag === undefined ? undefined : nearest(flag.replace(/^-+/, ''), [...Object.keys(options), 'help']);
      if (guess !== undefined) msg += ` (did you mean --${guess}?)`;
    }
    throw new CnnV3Error(`cnnv3 ${command}: ${msg.replace(/\.$/, '')} (see cnnv3 ${command} --help)`, 2);
  }
}

/**
 * The candidate closest to `word` by edit distance, when it is close enough to be a typo
 * (at most a third of its letters, and at least one, differ); else undefined.
 */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  // Optimal string alignment: insertions, deletions, substitutions and swapped neighbours cost 1.
  const distance = (a: string, b: string): number => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) {
        const row = d[i]!;
        row[j] = Math.min(d[i - 1]![j]! + 1, row[j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
        if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
      }
    }
    return d[a.length]![b.length]!;
  };
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (!best || d < best.d) best = { c, d };
  }
  return best && best.d <= Math.max(1, Math.floor(word.length / 3)) ? best.c : undefined;
}

/** Prints the command's help when -h/--help was given; the command then returns 0. */
export function helpAsked(values: Record<string, unknown>, io: { stdout(text: string): void }, help: string): boolean {
  if (values['help'] !== true) return false;
  io.stdout(help);
  return true;
}

/** Option specs for flags that take a value (`--name VALUE`): most of every command's flags. */
export function valueFlags<const N extends string>(...names: N[]): Record<N, { type: 'string' }> {
  return Object.fromEntries(names.map((n) => [n, { type: 'string' as const }])) as Record<N, { type: 'string' }>;
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

/**
 * A flag with a fixed set of values (`--NAME a|b|c`): the fallback when not given; a value
 * outside the set is one line naming the flag and the valid values, with the nearest as a guess.
 */
export function choiceFlag<T extends string>(command: string, values: Record<string, unknown>, name: string, allowed: readonly T[], fallback: T): T {
  const raw = stringFlag(values, name);
  if (raw === undefined) return fallback;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  const guess = nearest(raw, allowed);
  throw new CnnV3Error(`cnnv3 ${command}: --${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}${guess === undefined ? '' : ` (did you mean ${guess}?)`}`, 2);
}

/** `--fit stretch|contain|cover`: how an image meets a frame of another shape (image/fit.ts). */
export const fitFlag = (command: string, values: Record<string, unknown>, fallback: FitMode): FitMode => choiceFlag(command, values, 'fit', FIT_MODES, fallback);
