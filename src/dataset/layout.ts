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

/** The file whose presence makes a directory a sample. */
export const SAMPLE_MARKER: SampleFileName = 'albedo.png';

/** Encoded PNG bytes per file name: what a packer produces and a writer stores. */
export type SampleFiles = Record<SampleFileName, Uint8Array>;

export const INPUT_MODES = ['simple', 'full'] as const;
export type InputMode = (typeof INPUT_MODES)[number];
