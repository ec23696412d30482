/**
 * Input ablation, platform-neutral: the channel groups `cnnv3 eval --ablate` and the HTML tool
 * zero one at a time, and the measurement loop both run (the CLI on the float64 reference, the
 * tool on the page's WebGPU effect), so the two report the same groups in the same order.
 */

/**
 * The input channel groups (SPEC §3's channels): what the network loses without each tells which
 * inputs it relies on. Zeroing a group feeds 0 in its channels.
 */
export const CHANNEL_GROUPS = {
  albedo: [0, 1, 2],
  normal: [3, 4],
  depth: [5, 6, 7],
  material: [8],
  prev: [9, 10, 11],
  mips: [12, 13, 14, 15, 16, 17],
  shadow: [18],
  transparency: [19],
} as const satisfies Record<string, readonly number[]>;

export type ChannelGroup = keyof typeof CHANNEL_GROUPS;

export interface AblationRow {
  group: ChannelGroup;
  channels: readonly number[];
  /** Mean RGB PSNR with the group zeroed, and how much lower that is than with every input. */
  psnr: number;
  drop: number;
}

export interface Ablation {
  /** PSNR with every input. */
  full: number;
  /** One row per group, largest loss first. */
  rows: AblationRow[];
}

/**
 * Runs `psnrWith(zeroed)` with nothing zeroed, then once per group (in CHANNEL_GROUPS' order,
 * `onStep(done, total, group)` before each), and returns the losses, largest first.
 */
export async function measureAblation(
  psnrWith: (zeroed: readonly number[]) => number | Promise<number>,
  onStep: (done: number, total: number, group: ChannelGroup | 'every input') => void = () => {},
): Promise<Ablation> {
  const groups = Object.entries(CHANNEL_GROUPS) as Array<[ChannelGroup, readonly number[]]>;
  const total = groups.length + 1;
  onStep(0, total, 'every input');
  const full = await psnrWith([]);
  const rows: AblationRow[] = [];
  for (const [k, [group, channels]] of groups.entries()) {
    onStep(k + 1, total, group);
    const psnr = await psnrWith(channels);
    rows.push({ group, channels, psnr, drop: full - psnr });
  }
  // Stable: equal losses keep CHANNEL_GROUPS' order.
  rows.sort((a, b) => b.drop - a.drop);
  return { full, rows };
}
