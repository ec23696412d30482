/**
 * Where everything lives in the training kernels' buffers (train_common.wgsl), computed once from
 * the parameter table, the patch side and the batch size. The offsets travel to WGSL as override
 * constants, so this file is the one definition of the layout.
 */
import { FILM_HIDDEN, IN_CHANNELS } from '../../model/config.js';
import type { ParamTable } from '../../model/params.js';

/** Conv layer ids in the kernels: enc0, enc1, bottleneck, dec1, dec0 (the table's order). */
export const LAYER_IDS = { enc0: 0, enc1: 1, bottleneck: 2, dec1: 3, dec0: 4 } as const;

/**
 * The numbers the training kernels and this code must agree on, set on every pipeline as override
 * constants (train_common.wgsl declares them without defaults): TILE, pixels per side of the tiles
 * every pixel kernel works on (one workgroup of TILE² threads per tile); FILM_THREADS, film_back's
 * workgroup; REDUCE_ROW, reduce_adam's workgroups per dispatch row; FBI_STRIDE, words of a
 * patch's feedback info (--feedback-p).
 */
export const KERNEL_CONSTANTS = { TILE: 8, FILM_THREADS: 256, REDUCE_ROW: 4096, FBI_STRIDE: 8 } as const;
export const TILE = KERNEL_CONSTANTS.TILE;
/** Threads of a pixel kernel's workgroup. */
export const TILE_PX = TILE * TILE;
/**
 * Weight-gradient workgroups a step aims at per layer: enough to fill a large GPU, few enough
 * records to reduce. On an H100, 512 beat 1024, 2048 and 4096 at batch 16 and 256 (bench variants).
 */
export const WGRAD_GROUPS = 512;

export interface TrainLayout {
  side: number;
  maxBatch: number;
  /** Floats in state and parts; vec4 in act. */
  stateFloats: number;
  actVec4s: number;
  partsFloats: number;
  /** Loss slots after the four parameter-sized regions of state. */
  lossSlots: number;
  /** Sides at full, half and quarter resolution. */
  sides: [number, number, number];
  /** Tiles per patch side for each conv layer, in layer-id order. */
  tilesW: number[];
  /** Weight-gradient tiles per workgroup and records per patch, in layer-id order. */
  tilesPerRecord: number[];
  records: number[];
  /** Channel groups of four of C0 and C1. */
  groups: [number, number];
  /** Override constants shared by every training kernel. */
  constants: Record<string, number>;
}

const ceilDiv = (a: number, b: number) => Math.ceil(a / b);

/** Per conv layer (layer-id order): channels in/out, input and output groups of four, kernel size and side. */
export function layerShapes(table: ParamTable, side: number): Array<{ cin: number; cout: number; inGroups: number; outGroups: number; k: number; side: number; film: boolean }> {
  const s1 = ceilDiv(side, 2);
  const s2 = ceilDiv(s1, 2);
  const sides = [side, s1, s2, s1, side];
  const [g0, g1] = table.config.encChannels.map((c) => ceilDiv(c, 4)) as [number, number];
  const inGroups = [5, g0, g1, 2 * g1, 2 * g0];
  const outGroups = [g0, g1, g1, g0, 1];
  return table.convs.map((c, i) => ({ cin: c.in, cout: c.out, inGroups: inGroups[i]!, outGroups: outGroups[i]!, k: c.k, side: sides[i]!, film: c.name !== 'bottleneck' }));
}

/**
 * `feedback`: room for a --feedback-p run (the fed-back output A_FB and the feedback info R_FBI),
 * placed after everything else so that the other offsets are those of a run without it.
 */
export function trainLayout(table: ParamTable, side: number, maxBatch: number, lossSlots: number, wgradGroups = WGRAD_GROUPS, feedback = false): TrainLayout {
  const [c0, c1] = table.config.encChannels;
  const g0 = ceilDiv(c0, 4);
  const g1 = ceilDiv(c1, 4);
  const D = table.config.filmCondDim;
  const B = maxBatch;
  const s1 = ceilDiv(side, 2);
  const s2 = ceilDiv(s1, 2);
  const p0 = side * side;
  const p1 = s1 * s1;
  const p2 = s2 * s2;
  const fo = table.filmOut;
  const piStride = D + FILM_HIDDEN + fo + 4;

  // Activation regions in order: name, pixels per patch, channel groups (see train_common.wgsl).
  const regions: Array<[string, number, number]> = [
    ['A_Z0', p0, g0], ['A_E0', p0, g0], ['A_P0', p1, g0],
    ['A_Z1', p1, g1], ['A_E1', p1, g1], ['A_P1', p2, g1], ['A_B', p2, g1],
    ['A_Z2', p1, g0], ['A_E2', p1, g0], ['A_Z3', p0, 1], ['A_G3', p0, 1],
    ['A_DS0', p0, g0], ['A_G2', p1, g0], ['A_DS1', p1, g1], ['A_GB', p2, g1], ['A_G1', p1, g1], ['A_G0', p0, g0],
  ];
  if (feedback) regions.push(['A_FB', p0, 1]);
  let act = 0;
  const A: Record<string, number> = {};
  for (const [name, pixels, groups] of regions) {
    A[name] = act;
    act += B * pixels * groups;
  }

  const shapes = layerShapes(table, side);
  const tilesW = shapes.map((s) => ceilDiv(s.side, TILE));
  let parts = 0;
  const R: Record<string, number> = { R_PI: 0 };
  parts += B * piStride;
  const names = ['ENC0', 'ENC1', 'BOTT', 'DEC1', 'DEC0'];
  const tilesPerRecord: number[] = [];
  const records: number[] = [];
  shapes.forEach((s, i) => {
    const tiles = tilesW[i]! ** 2;
    const tpw = Math.max(1, Math.min(tiles, Math.floor((B * tiles) / wgradGroups)));
    tilesPerRecord.push(tpw);
    records.push(ceilDiv(tiles, tpw));
    const rec = s.cout * s.cin * s.k * s.k + (s.film ? 3 : 1) * s.cout;
    R[`R_${names[i]}`] = parts;
    R[`RN_${names[i]}`] = records[i]!;
    parts += B * records[i]! * rec;
  });
  R['R_LOSS'] = parts;
  parts += B * tilesW[0]! ** 2;
  R['R_FB'] = parts;
  parts += B * (fo + FILM_HIDDEN);
  if (feedback) {
    R['R_FBI'] = parts;
    parts += B * KERNEL_CONSTANTS.FBI_STRIDE;
  }

  const off = (name: string) => table.byName.get(name)!.offset;
  const constants: Record<string, number> = {
    C0: c0,
    C1: c1,
    D,
    S: side,
    S1: s1,
    S2: s2,
    NP: table.total,
    P_ENC0: off('enc0.weight'),
    P_ENC1: off('enc1.weight'),
    P_BOTT: off('bottleneck.weight'),
    P_DEC1: off('dec1.weight'),
    P_DEC0: off('dec0.weight'),
    P_M0W: off('film_mlp.0.weight'),
    P_M0B: off('film_mlp.0.bias'),
    P_M2W: off('film_mlp.2.weight'),
    P_M2B: off('film_mlp.2.bias'),
    ...A,
    ...R,
    FO: fo,
    F_G0: table.film.enc0.gamma,
    F_B0: table.film.enc0.beta,
    F_G1: table.film.enc1.gamma,
    F_B1: table.film.enc1.beta,
    F_G2: table.film.dec1.gamma,
    F_B2: table.film.dec1.beta,
    F_G3: table.film.dec0.gamma,
    F_B3: table.film.dec0.beta,
    PI_HID: D,
    PI_FILM: D + FILM_HIDDEN,
    PI_META: D + FILM_HIDDEN + fo,
    PI_STRIDE: piStride,
    TW0: tilesW[0]!,
    TW1: tilesW[1]!,
    TW2: tilesW[2]!,
    G0N: g0,
    G1N: g1,
  };
  if (shapes[0]!.cin !== IN_CHANNELS) throw new Error('enc0 must read the 20 feature channels');
  return {
    side,
    maxBatch,
    stateFloats: 4 * table.total + lossSlots,
    actVec4s: act,
    partsFloats: parts,
    lossSlots,
    sides: [side, s1, s2],
    tilesW,
    tilesPerRecord,
    records,
    groups: [g0, g1],
    constants,
  };
}
