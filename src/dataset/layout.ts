/** The seven files of a sample directory (SPEC §2), in the order they are written. */
export const SAMPLE_FILES = [
  'albedo.png',
  'normal.png',
  'depth.png',
  'matid.png',
  'shadow.png',
  'transp.png',
  'target.png',
] as const;

export type SampleFileName = (typeof SAMPLE_FILES)[number];

/** The six inputs that must share one size; target.png is resized to them. */
export const INPUT_FILES = SAMPLE_FILES.filter((f) => f !== 'target.png');

/**
 * Optional: the sample's style coordinates, `{"style": [p0, p1]}` with each in [0, 1]. Training
 * feeds them as the condition's style_p0/style_p1 instead of a random draw, so one model learns
 * several styles that a slider picks between (README "Styles and strength").
 */
export const STYLE_FILE = 'style.json';

/** The file whose presence makes a directory a sample. */
export const SAMPLE_MARKER: SampleFileName = 'albedo.png';

/**
 * Optional: the per-pixel motion to the previous and next frame (`dataset/motion.ts`), from
 * Blender's Vector pass; only `eval --sequence` reads it (the warping error).
 */
export const MOTION_FILE = 'motion.bin';

/** Encoded bytes per file name: what a packer produces and a writer stores. */
export type SampleFiles = Record<SampleFileName, Uint8Array> & { [STYLE_FILE]?: Uint8Array; [MOTION_FILE]?: Uint8Array };

/** style.json's bytes for the coordinates (p0, p1). */
export function encodeStyleFile(style: readonly [number, number]): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify({ style: [style[0], style[1]] })}\n`);
}

export const INPUT_MODES = ['simple', 'full'] as const;
export type InputMode = (typeof INPUT_MODES)[number];
