/**
 * The uniform structs of the CNN passes (SPEC §7), as byte layouts the TypeScript writer uses.
 * A test parses the WGSL structs and checks these offsets and sizes against WGSL's layout rules.
 */

export const UNIFORM_LAYOUTS = {
  CnnV3Params4ch: { size: 64, offsets: { weight_offset: 0, gamma: 32, beta: 48 } },
  CnnV3ParamsEnc1: { size: 96, offsets: { weight_offset: 0, gamma_lo: 32, gamma_hi: 48, beta_lo: 64, beta_hi: 80 } },
  /** The display pass (view.wgsl), written by ViewPass. */
  View: { size: 32, offsets: { mode: 0, channel: 4, arrangement: 8, signed_: 12, split: 16, gain: 20 } },
  /** One training step's record (train_common.wgsl), written by src/train/gpu/gpu-trainer.ts. */
  TrainStep: {
    size: 48,
    offsets: { n: 0, step: 4, first: 8, loss_slot: 12, lr: 16, bc1: 20, bc2: 24, inv_count: 28, seed: 32, drop_p: 36 },
  },
  /** GBufferEffect's per-frame uniforms (gbuffer_raster.wgsl); matrices column-major f32. */
  GBufferFrame: { size: 224, offsets: { view_proj: 0, view: 64, light_view_proj: 128, light_dir: 192, shadow: 208 } },
  /** GBufferEffect's per-draw uniforms, one 256-byte slot each (dynamic offset). */
  GBufferObject: { size: 256, offsets: { model: 0, normal_matrix: 64, base_color: 128, emissive: 144, matid: 160, alpha_mode: 164, alpha_cutoff: 168, has_normals: 172, unlit: 176, joint_offset: 180, prev_model: 192 } },
  /** GBufferEffect's motion pass (gbuffer_raster.wgsl), written only when motion is on. */
  GBufferMotion: { size: 144, offsets: { prev_view_proj: 0, prev_view: 64, viewport: 128 } },
} as const;

/** The CNN passes' structs, written by writeUniform. */
export type UniformStruct = Exclude<keyof typeof UNIFORM_LAYOUTS, 'View' | 'TrainStep' | 'GBufferFrame' | 'GBufferObject' | 'GBufferMotion'>;

/** Writes a struct: weight_offset as u32, every other field as 4 floats (missing lanes 0). */
export function writeUniform(struct: UniformStruct, values: { weight_offset: number } & Record<string, number | ArrayLike<number>>): ArrayBuffer {
  const layout = UNIFORM_LAYOUTS[struct];
  const buf = new ArrayBuffer(layout.size);
  const dv = new DataView(buf);
  for (const [field, offset] of Object.entries(layout.offsets)) {
    const v = values[field];
    if (v === undefined) throw new Error(`${struct}.${field} missing`);
    if (field === 'weight_offset') dv.setUint32(offset, v as number, true);
    else {
      const arr = v as ArrayLike<number>;
      for (let k = 0; k < 4; k++) dv.setFloat32(offset + 4 * k, k < arr.length ? arr[k]! : 0, true);
    }
  }
  return buf;
}
