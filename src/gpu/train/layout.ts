/**
 * Where everything lives in the training kernels' buffers (train_common.wgsl), computed once from
 * the parameter table, the patch side and the batch size. The offsets travel to WGSL as override
 * constants, so this file is the one definition of the layout.
 */
import { FILM_HIDDEN, IN_CHANNELS, OUT_CHANNELS } from '../../model/config.js';
import type { ParamTable } from '../../model/params.js';

/** Conv layer ids in the kernels: enc0, enc1, bottleneck, dec1, dec0 (the table's order). */
export const LAYER_IDS = { enc0: 0, enc1: 1, bottleneck: 2, dec1: 3, dec0: 4 } as const;

/** Pixels per side of the weight-gradient tiles (train_wgrad.wgsl) and threads per pixel workgroup. */
export const TILE = 8;
export const PIXELS_PER_WORKGROUP = 64;

export interface TrainLayout {
  side: number;
  maxBatch: number;
  /** Floats in each buffer. */
  stateFloats: number;
  actFloats: number;
  partsFloats: number;
  /** Loss slots after the four parameter-sized regions of state. */
  lossSlots: number;
  /** Sides at full, half and quarter resolution. */
  sides: [number, number, number];
  /** Tiles per patch side for each conv layer, in layer-id order. */
  tilesW: number[];
  /** Override constants shared by every training kernel. */
  constants: Record<string, number>;
}

const ceilDiv = (a: number, b: number) => Math.ceil(a / b);

/** Per conv layer (layer-id order): channels in/out, kernel size and side. */
export function layerShapes(table: ParamTable, side: number): Array<{ cin: number; cout: number; k: number; side: number; film: boolean }> {
  const s1 = ceilDiv(side, 2);
  const s2 = ceilDiv(s1, 2);
  const sides = [side, s1, s2, s1, side];
  return table.convs.map((c, i) => ({ cin: c.in, cout: c.out, k: c.k, side: sides[i]!, film: c.name !== 'bottleneck' }));
}

export function trainLayout(table: ParamTable, side: number, maxBatch: number, lossSlots: number): TrainLayout {
  const [c0, c1] = table.config.encChannels;
  const D = table.config.filmCondDim;
  const B = maxBatch;
  const s1 = ceilDiv(side, 2);
  const s2 = ceilDiv(s1, 2);
  const p0 = side * side;
  const p1 = s1 * s1;
  const p2 = s2 * s2;
  const fo = table.filmOut;
  const piStride = D + FILM_HIDDEN + fo + 4;

  let act = 0;
  const take = (floats: number) => {
    const at = act;
    act += floats;
    return at;
  };
  const A = {
    A_PI: take(B * piStride),
    A_Z0: take(B * p0 * c0),
    A_Z1: take(B * p1 * c1),
    A_B: take(B * p2 * c1),
    A_Z2: take(B * p1 * c0),
    A_Z3: take(B * p0 * OUT_CHANNELS),
    A_G3: take(B * p0 * OUT_CHANNELS),
    A_DC0: take(B * p0 * 2 * c0),
    A_G2: take(B * p1 * c0),
    A_DC1: take(B * p1 * 2 * c1),
    A_GB: take(B * p2 * c1),
    A_G1: take(B * p1 * c1),
    A_G0: take(B * p0 * c0),
  };

  const shapes = layerShapes(table, side);
  const tilesW = shapes.map((s) => ceilDiv(s.side, TILE));
  let parts = 0;
  const R: Record<string, number> = {};
  shapes.forEach((s, i) => {
    const rec = s.cout * s.cin * s.k * s.k + (s.film ? 3 : 1) * s.cout;
    R[['R_ENC0', 'R_ENC1', 'R_BOTT', 'R_DEC1', 'R_DEC0'][i]!] = parts;
    parts += B * tilesW[i]! ** 2 * rec;
  });
  const nwg0 = ceilDiv(p0, PIXELS_PER_WORKGROUP);
  R['R_LOSS'] = parts;
  parts += B * nwg0;
  R['R_FB'] = parts;
  parts += B * (fo + FILM_HIDDEN);

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
    NWG0: nwg0,
  };
  if (shapes[0]!.cin !== IN_CHANNELS) throw new Error('enc0 must read the 20 feature channels');
  return {
    side,
    maxBatch,
    stateFloats: 4 * table.total + lossSlots,
    actFloats: act,
    partsFloats: parts,
    lossSlots,
    sides: [side, s1, s2],
    tilesW,
    constants,
  };
}
