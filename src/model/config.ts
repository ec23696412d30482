/** The network's shape (SPEC §4): the two encoder widths and the FiLM condition size. */
export interface ModelConfig {
  /** C0, C1: channels at full and half resolution (`--enc-channels`, default 4,8). */
  encChannels: [number, number];
  /** D: length of the FiLM condition vector (`--film-cond-dim`, default 5). */
  filmCondDim: number;
}

export const DEFAULT_MODEL_CONFIG: ModelConfig = { encChannels: [4, 8], filmCondDim: 5 };

/** Input channels (SPEC §3) and output channels (RGBA). */
export const IN_CHANNELS = 20;
export const OUT_CHANNELS = 4;
/** Hidden width of the FiLM MLP. */
export const FILM_HIDDEN = 16;

/** The condition vector's entries, in order (SPEC §4). */
export const FILM_COND_NAMES = ['beat_phase', 'beat_norm', 'audio_intensity', 'style_p0', 'style_p1'] as const;
