/**
 * Timeline resolution for a parsed `.seq` (SPEC §8). Browser-safe: no Node imports.
 *
 * Conventions:
 * - An effect is active at absolute time t when seqStart + effStart ≤ t < seqStart + effEnd
 *   (start inclusive, end exclusive), with the sums computed in float64.
 * - Render order within a frame: sequences by priority, LOWER priority number first (so a higher
 *   number draws later, on top), ties by sequence file order; inside a sequence by level, lower
 *   first (see seq.ts), ties by effect file order. The sort is total, hence deterministic.
 * - Beat values: beat_time = t·BPM/60, beat_phase = fract(beat_time), beat_norm =
 *   fract(beat_time/8), with fract(x) = x − floor(x) ∈ [0, 1) (also for negative t).
 */
import type { SeqEffect, SeqFile, SeqSequence } from './seq.js';

export interface ActiveEffect {
  effect: SeqEffect;
  sequence: SeqSequence;
  /** Absolute start and end of the effect, seconds. */
  start: number;
  end: number;
  /** t − start: seconds since the effect began. */
  localTime: number;
}

/** The effects active at absolute time t, in render order. */
export function resolveFrame(seq: SeqFile, t: number): ActiveEffect[] {
  if (!Number.isFinite(t)) throw new RangeError(`resolveFrame: time ${t} is not finite`);
  const active: ActiveEffect[] = [];
  for (const sequence of seq.sequences) {
    for (const effect of sequence.effects) {
      const start = sequence.start + effect.start;
      const end = sequence.start + effect.end;
      if (start <= t && t < end) active.push({ effect, sequence, start, end, localTime: t - start });
    }
  }
  return active.sort(
    (a, b) =>
      a.sequence.priority - b.sequence.priority ||
      a.sequence.index - b.sequence.index ||
      a.effect.level - b.effect.level ||
      a.effect.index - b.effect.index,
  );
}

/** Absolute times at which the set of active effects can change (every start and end), sorted. */
export function boundaries(seq: SeqFile): number[] {
  const ts = new Set<number>();
  for (const s of seq.sequences) {
    for (const e of s.effects) {
      ts.add(s.start + e.start);
      ts.add(s.start + e.end);
    }
  }
  return [...ts].sort((a, b) => a - b);
}

export interface Beat {
  beat_time: number;
  beat_phase: number;
  beat_norm: number;
}

const fract = (x: number): number => x - Math.floor(x);

/** Beat values at absolute time t (seconds) for a tempo in beats per minute. */
export function beatAt(t: number, bpm: number): Beat {
  const beat_time = (t * bpm) / 60;
  return { beat_time, beat_phase: fract(beat_time), beat_norm: fract(beat_time / 8) };
}
