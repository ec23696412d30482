/**
 * The render-graph check of one frame (SPEC §8, §11). Browser-safe: no Node imports.
 *
 * Nodes are named textures, created on first write at the output size. Rules, over a frame's
 * effects in render order (timeline.ts):
 * - `sink` is the screen: effects write it, none may read it.
 * - `prev_cnn` is provided by the engine (the previous frame's CNNv3Effect output, black on the
 *   first frame and after a seek): any effect may read it, none may write it.
 * - An effect reading a node it writes itself is a cycle; so is A→B→…→A through nodes written
 *   and read inside the one frame. Cycles are reported before order problems.
 * - Any other node must be written by an earlier effect of the same frame, else
 *   `file:line: node X is read before anything writes it`.
 * - Several effects may write the same node (later ones draw over it).
 * Errors name the reading effect's `file:line`.
 */
import { fileError } from '../errors.js';
import type { SeqFile } from './seq.js';
import { boundaries, resolveFrame, type ActiveEffect } from './timeline.js';

export const SINK = 'sink';
export const PREV_CNN = 'prev_cnn';

export interface PlanStep {
  active: ActiveEffect;
  className: string;
  line: number;
  inputs: string[];
  outputs: string[];
}

export interface FramePlan {
  steps: PlanStep[];
  /** Textures the frame creates, in order of first write (not sink, not prev_cnn). */
  textures: string[];
  /** Whether anything draws to the screen this frame. */
  writesSink: boolean;
}

const label = (a: ActiveEffect): string => `${a.effect.className} (line ${a.effect.line})`;

/** Finds a cycle among the frame's effects; returns the effect indices around it, or null. */
function findCycle(active: readonly ActiveEffect[]): number[] | null {
  const n = active.length;
  // edge i → j when j reads a node i writes (i ≠ j).
  const next: number[][] = active.map((a, i) =>
    active.flatMap((b, j) => (i !== j && b.effect.inputs.some((x) => x !== PREV_CNN && a.effect.outputs.includes(x)) ? [j] : [])),
  );
  const state = new Array<number>(n).fill(0); // 0 new, 1 on stack, 2 done
  const stack: number[] = [];
  const visit = (i: number): number[] | null => {
    state[i] = 1;
    stack.push(i);
    for (const j of next[i]!) {
      if (state[j] === 1) return [...stack.slice(stack.indexOf(j)), j];
      if (state[j] === 0) {
        const c = visit(j);
        if (c) return c;
      }
    }
    stack.pop();
    state[i] = 2;
    return null;
  };
  for (let i = 0; i < n; i++) {
    if (state[i] === 0) {
      const c = visit(i);
      if (c) return c;
    }
  }
  return null;
}

/** Checks one frame's ordered effects and returns its execution plan. */
export function planFrame(file: string, active: readonly ActiveEffect[]): FramePlan {
  for (const a of active) {
    const where = `${file}:${a.effect.line}`;
    if (a.effect.outputs.includes(PREV_CNN)) {
      throw fileError(where, `node ${PREV_CNN} is provided by the engine; an effect cannot write it`);
    }
    for (const x of a.effect.inputs) {
      if (x === SINK) throw fileError(where, `node ${SINK} is the screen; it cannot be read`);
      if (a.effect.outputs.includes(x)) {
        throw fileError(where, `${a.effect.className} reads node ${x}, which it writes itself (a cycle)`);
      }
    }
  }
  const cycle = findCycle(active);
  if (cycle) {
    const first = active[cycle[0]!]!;
    throw fileError(`${file}:${first.effect.line}`, `cycle between effects: ${cycle.map((i) => label(active[i]!)).join(' → ')}`);
  }
  const written = new Set<string>([PREV_CNN]);
  const textures: string[] = [];
  const steps: PlanStep[] = [];
  for (const a of active) {
    for (const x of a.effect.inputs) {
      if (!written.has(x)) throw fileError(`${file}:${a.effect.line}`, `node ${x} is read before anything writes it`);
    }
    for (const x of a.effect.outputs) {
      if (!written.has(x) && x !== SINK) textures.push(x);
      written.add(x);
    }
    steps.push({
      active: a,
      className: a.effect.className,
      line: a.effect.line,
      inputs: [...a.effect.inputs],
      outputs: [...a.effect.outputs],
    });
  }
  return { steps, textures, writesSink: written.has(SINK) };
}

/** Plans the frame at absolute time t. */
export function planAt(seq: SeqFile, t: number): FramePlan {
  return planFrame(seq.file, resolveFrame(seq, t));
}

/**
 * Checks every distinct frame of the file: the active set only changes at effect starts and
 * ends, so planning at each boundary covers the whole timeline. Call once after parseSeq so a
 * bad graph fails at load rather than mid-playback.
 */
export function checkAllFrames(seq: SeqFile): void {
  for (const t of boundaries(seq)) planAt(seq, t);
}
