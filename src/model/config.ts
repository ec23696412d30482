/**
 * The network's configuration, in one place: its shape, defaults, limits, how a user writes it
 * (`--enc-channels 4,8`), how checkpoints store it (`config` JSON metadata, SPEC §5.6) and how the
 * exported weights file carries it (the extension trailer, SPEC §6 + export.ts). Every consumer
 * (trainer, export, infer, eval, parity, the tool, the demo, CNNv3Effect) goes through here.
 */
import { CnnV3Error, fileError } from '../errors.js';

/** The network's shape (SPEC §4): the two encoder widths and the FiLM condition size. */
export interface ModelConfig {
  /** C0, C1: channels at full and half resolution (`--enc-channels`, default 4,8). */
  encChannels: [number, number];
  /** D: length of the FiLM condition vector (`--film-cond-dim`, default 5). */
  filmCondDim: number;
  /**
   * How dec0's output becomes RGBA. Absent = `'sigmoid'`, the playbook's network bit for bit.
   * `'residual'` (opt-in, `--output-mode residual`): y = clamp(base + tanh(FiLM(conv)), 0, 1)
   * with base = (albedo.rgb, 1 − transp) from input channels 0–2 and 19, and dec0 initialised
   * to zero so training starts at the identity. See README "Near-identity styles" for why.
   */
  output?: OutputMode;
  /**
   * The condition entry (index into FILM_COND_NAMES) trained as a strength knob
   * (`--strength-cond`): 0 gives the unstylised input, 1 the full style. Absent: none.
   */
  strengthCond?: number;
  /** Whether training fed samples' style coordinates (style.json) as style_p0/style_p1. */
  styleConds?: boolean;
}

export const OUTPUT_MODES = ['sigmoid', 'residual'] as const;
export type OutputMode = (typeof OUTPUT_MODES)[number];

export const DEFAULT_MODEL_CONFIG: ModelConfig = { encChannels: [4, 8], filmCondDim: 5 };

/**
 * The widest channel count and condition size any part accepts: the trainer's flags, checkpoints
 * and weight files alike (the parameter count grows with the square of a width).
 */
export const MAX_CONFIG_WIDTH = 64;

/** Input channels (SPEC §3) and output channels (RGBA). */
export const IN_CHANNELS = 20;
export const OUT_CHANNELS = 4;
/** Hidden width of the FiLM MLP. */
export const FILM_HIDDEN = 16;

/** The condition vector's entries, in order (SPEC §4). */
export const FILM_COND_NAMES = ['beat_phase', 'beat_norm', 'audio_intensity', 'style_p0', 'style_p1'] as const;

/** Input channels the residual output adds to: albedo r, g, b, and transp (alpha base = 1 − transp). */
export const RESIDUAL_BASE_CHANNELS = [0, 1, 2, 19] as const;

/** The output mode of a config (absent means the playbook's sigmoid). */
export function outputMode(cfg: ModelConfig): OutputMode {
  return cfg.output ?? 'sigmoid';
}

/** What a model's condition entries were trained to mean, beyond the playbook's random draw. */
export interface ConditionControls {
  strengthCond?: number;
  styleConds?: boolean;
}

/** A config in its canonical form: optional keys present only when they differ from the playbook. */
export function makeModelConfig(encChannels: readonly [number, number], filmCondDim: number, output: OutputMode = 'sigmoid', controls: ConditionControls = {}): ModelConfig {
  const config: ModelConfig = { encChannels: [encChannels[0], encChannels[1]], filmCondDim };
  if (output !== 'sigmoid') config.output = output;
  if (controls.strengthCond !== undefined) config.strengthCond = controls.strengthCond;
  if (controls.styleConds) config.styleConds = true;
  return config;
}

/** Whether two configs describe the same network: widths, condition size, output mode. */
export function sameNetwork(a: ModelConfig, b: ModelConfig): boolean {
  return a.encChannels[0] === b.encChannels[0] && a.encChannels[1] === b.encChannels[1] && a.filmCondDim === b.filmCondDim && outputMode(a) === outputMode(b);
}

/** Whether two configs are the same model: the same network with its conditions meaning the same. */
export function sameModelConfig(a: ModelConfig, b: ModelConfig): boolean {
  return sameNetwork(a, b) && a.strengthCond === b.strengthCond && Boolean(a.styleConds) === Boolean(b.styleConds);
}

/** `--strength-cond NAME` → its index; the condition must be long enough to hold it. */
export function parseStrengthCond(command: string, raw: string, filmCondDim: number): number {
  const k = (FILM_COND_NAMES as readonly string[]).indexOf(raw);
  if (k < 0) throw new CnnV3Error(`cnnv3 ${command}: --strength-cond must be one of ${FILM_COND_NAMES.join(', ')}, got ${JSON.stringify(raw)}`, 2);
  if (k >= filmCondDim) throw new CnnV3Error(`cnnv3 ${command}: --strength-cond ${raw} is entry ${k} of the condition, but --film-cond-dim is ${filmCondDim}`, 2);
  return k;
}

/** The style entries of the condition vector (style_p0, style_p1). */
export const STYLE_COND_INDEX = [3, 4] as const;

/** Whether a config is the playbook's network (whose files carry no extension). */
export function isPlaybookConfig(config: ModelConfig): boolean {
  return sameModelConfig(config, DEFAULT_MODEL_CONFIG);
}

/** `enc_channels=[4, 8] film_cond_dim=5`, as the export report and error messages write it. */
export function describeConfig(config: ModelConfig): string {
  const strength = config.strengthCond === undefined ? '' : ` strength_cond=${FILM_COND_NAMES[config.strengthCond]}`;
  return `enc_channels=[${config.encChannels.join(', ')}] film_cond_dim=${config.filmCondDim}${outputMode(config) === 'residual' ? ' output=residual' : ''}${strength}${config.styleConds ? ' style_conds' : ''}`;
}

/** Whether a value is a width this project accepts. */
export const isConfigWidth = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 1 && x <= MAX_CONFIG_WIDTH;

/** `--enc-channels C0,C1` as a user writes it; `command` names the CLI command in the message. */
export function parseEncChannels(command: string, raw: string): [number, number] {
  const parts = raw.split(',').map((p) => p.trim());
  const nums = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : NaN));
  if (parts.length !== 2 || !nums.every(isConfigWidth)) {
    throw new CnnV3Error(`cnnv3 ${command}: --enc-channels must be two integers 1..${MAX_CONFIG_WIDTH} like 4,8, got ${JSON.stringify(raw)}`, 2);
  }
  return [nums[0]!, nums[1]!];
}

/** `--film-cond-dim N`. */
export function parseFilmCondDim(command: string, raw: string): number {
  const v = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!isConfigWidth(v)) throw new CnnV3Error(`cnnv3 ${command}: --film-cond-dim must be an integer 1..${MAX_CONFIG_WIDTH}, got ${JSON.stringify(raw)}`, 2);
  return v;
}

/** `--output-mode M`. */
export function parseOutputMode(command: string, raw: string): OutputMode {
  if (!(OUTPUT_MODES as readonly string[]).includes(raw)) {
    throw new CnnV3Error(`cnnv3 ${command}: --output-mode must be one of ${OUTPUT_MODES.join(', ')}, got ${JSON.stringify(raw)}`, 2);
  }
  return raw as OutputMode;
}

/**
 * The checkpoint's `config` metadata object (snake_case keys, as the playbook's PyTorch
 * checkpoint has them); `output` only when it is not the sigmoid, so default checkpoints stay
 * byte-identical. `extra` keys (e.g. input_mode) follow the model's.
 */
export function configToJson(config: ModelConfig, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    enc_channels: [...config.encChannels],
    film_cond_dim: config.filmCondDim,
    ...extra,
    ...(outputMode(config) !== 'sigmoid' ? { output: outputMode(config) } : {}),
    ...(config.strengthCond !== undefined ? { strength_cond: FILM_COND_NAMES[config.strengthCond] } : {}),
    ...(config.styleConds ? { style_conds: true } : {}),
  };
}

/**
 * The model part of a `config` metadata object: a missing key takes its default (like
 * `cfg.get(key, default)` in the playbook's script), a present but malformed one is an error
 * naming `file`.
 */
export function configFromJson(o: Record<string, unknown>, file: string): ModelConfig {
  const enc = o['enc_channels'] ?? [...DEFAULT_MODEL_CONFIG.encChannels];
  if (!Array.isArray(enc) || enc.length !== 2 || !enc.every(isConfigWidth)) {
    throw fileError(file, `config metadata: enc_channels must be two integers in 1..${MAX_CONFIG_WIDTH}, got ${JSON.stringify(enc)}`);
  }
  const film = o['film_cond_dim'] ?? DEFAULT_MODEL_CONFIG.filmCondDim;
  if (!isConfigWidth(film)) throw fileError(file, `config metadata: film_cond_dim must be an integer in 1..${MAX_CONFIG_WIDTH}, got ${JSON.stringify(film)}`);
  const output = o['output'] ?? 'sigmoid';
  if (!(OUTPUT_MODES as readonly unknown[]).includes(output)) {
    throw fileError(file, `config metadata: output must be ${OUTPUT_MODES.join(' or ')}, got ${JSON.stringify(output)}`);
  }
  const strength = o['strength_cond'];
  const k = strength === undefined ? undefined : (FILM_COND_NAMES as readonly unknown[]).indexOf(strength);
  if (k !== undefined && (k < 0 || k >= film)) {
    throw fileError(file, `config metadata: strength_cond must be one of ${FILM_COND_NAMES.slice(0, film).join(', ')}, got ${JSON.stringify(strength)}`);
  }
  const styles = o['style_conds'] ?? false;
  if (typeof styles !== 'boolean') throw fileError(file, `config metadata: style_conds must be true or false, got ${JSON.stringify(styles)}`);
  return makeModelConfig([enc[0] as number, enc[1] as number], film, output as OutputMode, { ...(k !== undefined ? { strengthCond: k } : {}), styleConds: styles });
}

/**
 * The weights file's extension trailer: 16 bytes after the halves whenever the model is not the
 * playbook's (another width, condition size, output or condition controls), so every consumer
 * builds the right network, and labels its inputs, from the file alone: ASCII `CNX1`, u32 flags
 * (bit 0 = residual output, bit 1 = style conditions, bits 2–8 = strength entry + 1), u16 C0,
 * u16 C1, u16 D, u16 0, little-endian. The playbook's model has none: its file is exactly the
 * playbook's, byte for byte.
 */
export const TRAILER_BYTES = 16;
export const TRAILER_MAGIC = 'CNX1';
export const TRAILER_FLAG_RESIDUAL = 1;
export const TRAILER_FLAG_STYLES = 2;
const TRAILER_STRENGTH_SHIFT = 2;
const TRAILER_KNOWN_FLAGS = TRAILER_FLAG_RESIDUAL | TRAILER_FLAG_STYLES | (0x7f << TRAILER_STRENGTH_SHIFT);

export const hasTrailer = (config: ModelConfig): boolean => !isPlaybookConfig(config);

export function encodeTrailer(config: ModelConfig): Uint8Array {
  const t = new Uint8Array(TRAILER_BYTES);
  const dv = new DataView(t.buffer);
  for (let i = 0; i < 4; i++) t[i] = TRAILER_MAGIC.charCodeAt(i);
  const flags =
    (outputMode(config) === 'residual' ? TRAILER_FLAG_RESIDUAL : 0) |
    (config.styleConds ? TRAILER_FLAG_STYLES : 0) |
    ((config.strengthCond === undefined ? 0 : config.strengthCond + 1) << TRAILER_STRENGTH_SHIFT);
  dv.setUint32(4, flags, true);
  dv.setUint16(8, config.encChannels[0], true);
  dv.setUint16(10, config.encChannels[1], true);
  dv.setUint16(12, config.filmCondDim, true);
  return t;
}

/** The config a trailer records; undefined when `tail` (the file's last 16 bytes) is no trailer. */
export function decodeTrailer(tail: Uint8Array, file: string): ModelConfig | undefined {
  if (tail.byteLength !== TRAILER_BYTES || String.fromCharCode(tail[0]!, tail[1]!, tail[2]!, tail[3]!) !== TRAILER_MAGIC) return undefined;
  const dv = new DataView(tail.buffer, tail.byteOffset, TRAILER_BYTES);
  const flags = dv.getUint32(4, true);
  const c0 = dv.getUint16(8, true), c1 = dv.getUint16(10, true), d = dv.getUint16(12, true);
  const strength = (flags >>> TRAILER_STRENGTH_SHIFT) & 0x7f;
  if ((flags & ~TRAILER_KNOWN_FLAGS) !== 0 || dv.getUint16(14, true) !== 0 || !isConfigWidth(c0) || !isConfigWidth(c1) || !isConfigWidth(d) || strength > d) {
    throw fileError(file, `unknown extension trailer (flags ${flags}, widths ${c0},${c1},${d}): written by a newer cnnv3?`);
  }
  return makeModelConfig([c0, c1], d, flags & TRAILER_FLAG_RESIDUAL ? 'residual' : 'sigmoid', {
    ...(strength > 0 ? { strengthCond: strength - 1 } : {}),
    styleConds: (flags & TRAILER_FLAG_STYLES) !== 0,
  });
}
