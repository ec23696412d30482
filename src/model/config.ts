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
}

export const OUTPUT_MODES = ['sigmoid', 'residual'] as const;
export type OutputMode = (typeof OUTPUT_MODES)[number];

/** The output mode of a config (absent means the playbook's sigmoid). */
export function outputMode(cfg: ModelConfig): OutputMode {
  return cfg.output ?? 'sigmoid';
}

/** Whether two configs describe the same network (widths, condition size, output mode). */
export function sameModelConfig(a: ModelConfig, b: ModelConfig): boolean {
  return a.encChannels[0] === b.encChannels[0] && a.encChannels[1] === b.encChannels[1] && a.filmCondDim === b.filmCondDim && outputMode(a) === outputMode(b);
}

/** Input channels the residual output adds to: albedo r, g, b, and transp (alpha base = 1 − transp). */
export const RESIDUAL_BASE_CHANNELS = [0, 1, 2, 19] as const;

export const DEFAULT_MODEL_CONFIG: ModelConfig = { encChannels: [4, 8], filmCondDim: 5 };

/** Input channels (SPEC §3) and output channels (RGBA). */
export const IN_CHANNELS = 20;
export const OUT_CHANNELS = 4;
/** Hidden width of the FiLM MLP. */
export const FILM_HIDDEN = 16;

/** The condition vector's entries, in order (SPEC §4). */
export const FILM_COND_NAMES = ['beat_phase', 'beat_norm', 'audio_intensity', 'style_p0', 'style_p1'] as const;
