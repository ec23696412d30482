/**
 * A `.seq` parameter that may change over time: `style_p0=0.3` (constant) or
 * `style_p0=0:1,4:0,6:0.5` (keyframes `time:value`, time in seconds from the effect's start,
 * increasing). Between keyframes the value moves linearly, or along smoothstep with
 * `ease=smooth`; before the first and after the last it holds. Values lie in [0, 1].
 */
export type Ease = 'linear' | 'smooth';
export const EASES: readonly Ease[] = ['linear', 'smooth'];

export interface Track {
  /** (time, value) pairs with strictly increasing times; one pair for a constant. */
  keys: ReadonlyArray<readonly [number, number]>;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Parses a track; a problem is thrown as a message naming the key (the caller adds file:line). */
export function parseTrack(key: string, text: string): Track {
  const num = (s: string, what: string): number => {
    if (!NUMBER.test(s)) throw new Error(`${key}=${text}: ${what} "${s}" is not a number`);
    return Number(s);
  };
  const value = (s: string): number => {
    const v = num(s, 'value');
    if (v < 0 || v > 1) throw new Error(`${key}=${text}: value ${s} is outside [0, 1]`);
    return v;
  };
  if (!text.includes(':')) {
    if (!NUMBER.test(text)) throw new Error(`bad number "${text}" for ${key}`);
    const v = Number(text);
    if (v < 0 || v > 1) throw new Error(`${key}=${text} is outside [0, 1]`);
    return { keys: [[0, v]] };
  }
  const keys = text.split(',').map((part): [number, number] => {
    const [t, v, ...rest] = part.split(':');
    if (t === undefined || v === undefined || rest.length > 0) throw new Error(`${key}=${text}: "${part}" is not time:value`);
    return [num(t, 'time'), value(v)];
  });
  for (let i = 1; i < keys.length; i++) {
    if (!(keys[i]![0] > keys[i - 1]![0])) throw new Error(`${key}=${text}: keyframe times must increase (${keys[i - 1]![0]} then ${keys[i]![0]})`);
  }
  return { keys };
}

/** The track's value at `t` seconds. */
export function trackAt(track: Track, t: number, ease: Ease = 'linear'): number {
  const k = track.keys;
  if (t <= k[0]![0]) return k[0]![1];
  const last = k[k.length - 1]!;
  if (t >= last[0]) return last[1];
  let i = 1;
  while (k[i]![0] < t) i++;
  const [t0, v0] = k[i - 1]!;
  const [t1, v1] = k[i]!;
  let u = (t - t0) / (t1 - t0);
  if (ease === 'smooth') u = u * u * (3 - 2 * u);
  return v0 + (v1 - v0) * u;
}
