/**
 * The `.seq` demo file parser (SPEC §8). Browser-safe: no Node imports.
 *
 * Grammar, one directive a line:
 *   BPM <n>                                   optional, once, default 120, n > 0
 *   AUDIO <path>                              optional, once
 *   SEQUENCE <start_s> <priority> "<name>"
 *   EFFECT <+|=|-> <Class> <in...> -> <out...> <start_s> <end_s> [key=value ...]
 *
 * Conventions chosen here:
 * - Lines end in LF, CRLF or a lone CR. A leading BOM is stripped. A NUL byte anywhere is refused.
 * - A line longer than MAX_LINE_CHARS (64 Ki UTF-16 units) is refused before it is tokenised.
 * - `#` starts a comment unless it is inside double quotes. Quotes group text with spaces into one
 *   token (also inside a value: `scene="my scene.glb"`); there are no escapes; a quote left open is
 *   an error. Directive names and effect classes are case-sensitive.
 * - Numbers are plain decimals (`12`, `-1.5`, `.5`, `2e3`); `NaN`, `Infinity`, hex and anything that
 *   overflows to ±Infinity (`1e309`) are refused. Start times are ≥ 0; an effect needs end > start.
 *   A sequence priority is an integer. The absolute times (sequence start + effect time, float64)
 *   must be finite and keep end > start.
 * - Level: an integer layer order inside one sequence. Each sequence starts at level 0; `+` gives
 *   the previous effect's level + 1, `=` the same level, `-` level − 1 (so the first effect of a
 *   sequence is at 1, 0 or −1). Lower levels render first (underneath); see timeline.ts.
 * - Node names are identifiers (`[A-Za-z_][A-Za-z0-9_]*`); an effect may have no inputs but needs
 *   at least one output. Graph rules (sink, prev_cnn, read-before-write) are checked in graph.ts.
 * - key=value params follow the times; values are kept as strings, keys are checked per class:
 *   GBufferEffect: scene, animation (a name or index of the scene's, `all` or `none`; checked
 *   against the scene when it loads), speed (a number: the animation clock's rate, default 1);
 *   ImageFeaturesEffect: image or video (exactly one);
 *   CNNv3Effect: weights, film, style_p0, style_p1 (style_* numbers in [0, 1]).
 * Every error is a CnnV3Error `file:line: message` (`file: no SEQUENCE` for a file without one).
 */
import { fileError } from '../errors.js';
import { EASES, parseTrack } from './keyframes.js';
import { PRECISIONS } from '../effect/precision.js';

export const MAX_LINE_CHARS = 64 * 1024;
export const DEFAULT_BPM = 120;

export const EFFECT_CLASSES = ['GBufferEffect', 'ImageFeaturesEffect', 'CNNv3Effect'] as const;
export type EffectClass = (typeof EFFECT_CLASSES)[number];

/** Known `key=value` params of each effect class. */
export const EFFECT_KEYS: Readonly<Record<EffectClass, readonly string[]>> = {
  GBufferEffect: ['scene', 'animation', 'speed'],
  ImageFeaturesEffect: ['image', 'video'],
  CNNv3Effect: ['weights', 'film', 'style_p0', 'style_p1', 'strength', 'ease', 'precision'],
};

/** CNNv3Effect keys that take a value or keyframes (keyframes.ts). */
export const TRACK_KEYS: readonly string[] = ['style_p0', 'style_p1', 'strength'];

export type LevelOp = '+' | '=' | '-';

export interface SeqEffect {
  /** 1-based line in the file. */
  line: number;
  op: LevelOp;
  className: EffectClass;
  inputs: string[];
  outputs: string[];
  /** Seconds, relative to the sequence start. */
  start: number;
  end: number;
  /** Null-prototype record of the validated params, values as written. */
  params: Record<string, string>;
  /** Layer order within the sequence (see the header comment). */
  level: number;
  /** Position among all effects of the file (file order). */
  index: number;
}

export interface SeqSequence {
  line: number;
  /** Absolute start, seconds. */
  start: number;
  priority: number;
  name: string;
  effects: SeqEffect[];
  /** Position among the sequences of the file. */
  index: number;
}

export interface SeqFile {
  file: string;
  bpm: number;
  audio?: string;
  sequences: SeqSequence[];
}

interface Token {
  text: string;
  /** Whether any part of it was inside quotes (then `->`, `=`, `#` in it are plain text). */
  quoted: boolean;
  /** Offset of the first `=` outside quotes, or −1. */
  eq: number;
}

/** A problem on the current line; parseSeq prefixes `file:line: `. */
class LineError extends Error {}

const NODE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const KEY_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Splits one line into tokens, dropping a trailing comment. Throws a plain message on error. */
function tokenize(line: string): Token[] {
  const tokens: Token[] = [];
  let cur: Token | null = null;
  let inQuote = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (inQuote) {
      if (c === '"') inQuote = false;
      else cur!.text += c;
      continue;
    }
    if (c === '#') break;
    if (c === ' ' || c === '\t' || c === '\f' || c === '\v') {
      if (cur) tokens.push(cur);
      cur = null;
      continue;
    }
    cur ??= { text: '', quoted: false, eq: -1 };
    if (c === '"') {
      inQuote = true;
      cur.quoted = true;
    } else {
      if (c === '=' && cur.eq < 0) cur.eq = cur.text.length;
      cur.text += c;
    }
  }
  if (inQuote) throw new LineError('unterminated quote');
  if (cur) tokens.push(cur);
  return tokens;
}

function parseNumber(tok: Token | undefined, what: string): number {
  if (tok === undefined) throw new LineError(`missing ${what}`);
  if (tok.quoted || !DECIMAL.test(tok.text)) throw new LineError(`bad number "${tok.text}" for ${what}`);
  const v = Number(tok.text);
  if (!Number.isFinite(v)) throw new LineError(`number "${tok.text}" for ${what} is out of range`);
  return v;
}

function parseStart(tok: Token | undefined, what: string): number {
  const v = parseNumber(tok, what);
  if (v < 0) throw new LineError(`${what} ${tok!.text} is negative`);
  return v === 0 ? 0 : v; // no -0
}

function isEffectClass(s: string): s is EffectClass {
  return (EFFECT_CLASSES as readonly string[]).includes(s);
}

function checkNode(tok: Token, side: string): string {
  if (tok.quoted || !NODE_NAME.test(tok.text)) throw new LineError(`bad ${side} node name "${tok.text}"`);
  return tok.text;
}

function parseParams(className: EffectClass, toks: Token[]): Record<string, string> {
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  const known = EFFECT_KEYS[className];
  for (const t of toks) {
    const key = t.text.slice(0, t.eq);
    const value = t.text.slice(t.eq + 1);
    if (!KEY_NAME.test(key)) throw new LineError(`bad key "${key}"`);
    if (!known.includes(key)) {
      throw new LineError(`unknown key "${key}" for ${className} (known: ${known.join(', ')})`);
    }
    if (Object.prototype.hasOwnProperty.call(params, key)) throw new LineError(`duplicate key "${key}"`);
    if (value === '') throw new LineError(`empty value for key "${key}"`);
    if (TRACK_KEYS.includes(key)) {
      try {
        parseTrack(key, value);
      } catch (e) {
        throw new LineError((e as Error).message);
      }
    }
    if (key === 'ease' && !(EASES as readonly string[]).includes(value)) throw new LineError(`ease=${value}: must be one of ${EASES.join(', ')}`);
    if (key === 'precision' && !(PRECISIONS as readonly string[]).includes(value)) throw new LineError(`precision=${value}: must be one of ${PRECISIONS.join(', ')}`);
    if (key === 'speed' && (t.quoted || !DECIMAL.test(value) || !Number.isFinite(Number(value)))) throw new LineError(`speed=${value}: must be a number (the animation clock's rate, 1 = as authored)`);
    params[key] = value;
  }
  if (className === 'ImageFeaturesEffect') {
    const n = Number('image' in params) + Number('video' in params);
    if (n !== 1) throw new LineError('ImageFeaturesEffect needs exactly one of image= or video=');
  }
  return params;
}

interface State {
  bpm: number | undefined;
  audio: string | undefined;
  sequences: SeqSequence[];
  effectCount: number;
  level: number;
}

function parseLine(tokens: Token[], line: number, st: State): void {
  const head = tokens[0]!;
  const directive = head.quoted ? `"${head.text}"` : head.text;
  switch (head.quoted ? '' : head.text) {
    case 'BPM': {
      if (st.bpm !== undefined) throw new LineError('BPM given twice');
      if (tokens.length !== 2) throw new LineError('BPM takes one number: BPM <n>');
      const bpm = parseNumber(tokens[1], 'BPM');
      if (bpm <= 0) throw new LineError(`BPM ${tokens[1]!.text} must be > 0`);
      st.bpm = bpm;
      return;
    }
    case 'AUDIO': {
      if (st.audio !== undefined) throw new LineError('AUDIO given twice');
      if (tokens.length !== 2 || tokens[1]!.text === '') throw new LineError('AUDIO takes one path: AUDIO <path>');
      st.audio = tokens[1]!.text;
      return;
    }
    case 'SEQUENCE': {
      if (tokens.length !== 4) throw new LineError('SEQUENCE takes three fields: SEQUENCE <start_s> <priority> "<name>"');
      const start = parseStart(tokens[1], 'sequence start');
      const priority = parseNumber(tokens[2], 'priority');
      if (!Number.isInteger(priority)) throw new LineError(`priority ${tokens[2]!.text} is not an integer`);
      const nameTok = tokens[3]!;
      if (!nameTok.quoted) throw new LineError(`sequence name must be quoted: "${nameTok.text}"`);
      st.sequences.push({
        line, start, priority: priority === 0 ? 0 : priority, name: nameTok.text, effects: [], index: st.sequences.length,
      });
      st.level = 0;
      return;
    }
    case 'EFFECT': {
      const seq = st.sequences[st.sequences.length - 1];
      if (!seq) throw new LineError('EFFECT before any SEQUENCE');
      const opTok = tokens[1];
      const op = opTok?.text;
      if (!opTok || opTok.quoted || (op !== '+' && op !== '=' && op !== '-')) {
        throw new LineError(`EFFECT needs a level op +, = or - first, got ${opTok ? `"${opTok.text}"` : 'nothing'}`);
      }
      const classTok = tokens[2];
      if (!classTok) throw new LineError('EFFECT needs a class after the level op');
      if (classTok.quoted || !isEffectClass(classTok.text)) {
        throw new LineError(`unknown effect class "${classTok.text}" (known: ${EFFECT_CLASSES.join(', ')})`);
      }
      const className = classTok.text;
      const rest = tokens.slice(3);
      const arrows = rest.flatMap((t, i) => (!t.quoted && t.text === '->' ? [i] : []));
      if (arrows.length === 0) throw new LineError('EFFECT is missing "->" between its inputs and outputs');
      if (arrows.length > 1) throw new LineError('EFFECT has more than one "->"');
      const arrow = arrows[0]!;
      const inputs = rest.slice(0, arrow).map((t) => checkNode(t, 'input'));
      const after = rest.slice(arrow + 1);
      let firstParam = after.length;
      while (firstParam > 0 && after[firstParam - 1]!.eq >= 0) firstParam--;
      const positional = after.slice(0, firstParam);
      if (positional.length < 3) throw new LineError('EFFECT needs at least one output, then <start_s> <end_s>');
      const outputs = positional.slice(0, -2).map((t) => checkNode(t, 'output'));
      const start = parseStart(positional[positional.length - 2], 'effect start');
      const endTok = positional[positional.length - 1]!;
      const end = parseNumber(endTok, 'effect end');
      if (end <= start) throw new LineError(`effect end ${endTok.text} must be after its start ${positional[positional.length - 2]!.text}`);
      if (!(seq.start + start < seq.start + end) || !Number.isFinite(seq.start + end)) {
        throw new LineError(`effect ${start}..${end} cannot be represented at sequence start ${seq.start} (times too large)`);
      }
      const params = parseParams(className, after.slice(firstParam));
      st.level += op === '+' ? 1 : op === '-' ? -1 : 0;
      seq.effects.push({
        line, op, className, inputs, outputs, start, end, params, level: st.level, index: st.effectCount++,
      });
      return;
    }
    default:
      throw new LineError(`unknown directive ${directive}`);
  }
}

/** 1-based number of the line that holds `text[pos]` (LF, CRLF or a lone CR end a line). */
function lineNumberAt(text: string, pos: number): number {
  let line = 1;
  for (let i = 0; i < pos; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) line++;
  }
  return line;
}

/**
 * Parses `.seq` text. `file` only names the source in error messages. Lines are walked in place
 * (no array of them all: 100 MB of line breaks would be 100 M strings), and a line's end is not
 * searched for past MAX_LINE_CHARS.
 */
export function parseSeq(text: string, file: string): SeqFile {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const nul = text.indexOf('\0');
  if (nul >= 0) throw fileError(`${file}:${lineNumberAt(text, nul)}`, 'NUL byte (not a text file?)');
  const st: State = { bpm: undefined, audio: undefined, sequences: [], effectCount: 0, level: 0 };
  const n = text.length;
  let start = 0;
  for (let lineNo = 1; start <= n; lineNo++) {
    let end = start;
    const limit = Math.min(n, start + MAX_LINE_CHARS + 1);
    while (end < limit) {
      const c = text.charCodeAt(end);
      if (c === 10 || c === 13) break;
      end++;
    }
    if (end - start > MAX_LINE_CHARS) throw fileError(`${file}:${lineNo}`, `line is longer than ${MAX_LINE_CHARS} characters`);
    if (end > start) {
      try {
        const tokens = tokenize(text.slice(start, end));
        if (tokens.length > 0) parseLine(tokens, lineNo, st);
      } catch (e) {
        if (e instanceof LineError) throw fileError(`${file}:${lineNo}`, e.message);
        throw e;
      }
    }
    start = end + (text.charCodeAt(end) === 13 && text.charCodeAt(end + 1) === 10 ? 2 : 1);
  }
  if (st.sequences.length === 0) throw fileError(file, 'no SEQUENCE');
  const out: SeqFile = { file, bpm: st.bpm ?? DEFAULT_BPM, sequences: st.sequences };
  if (st.audio !== undefined) out.audio = st.audio;
  return out;
}
