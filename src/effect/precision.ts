/**
 * The effect's precisions. Both store every intermediate as f16 (rgba16float texels and packed
 * halves) and read the weights as the file's halves; they differ in the arithmetic:
 * - 'f32': f32 arithmetic, every adapter; the shaders as written in shaders/*.wgsl.
 * - 'f16': f16 arithmetic (`enable f16;`), only on an adapter with the `shader-f16` feature, and
 *   only if the device was created with it (`requiredFeatures: ['shader-f16']`; contextFromAdapter
 *   asks for it whenever the adapter has it).
 * The f16 shaders are made from the same text at pipeline creation (shaderForArithmetic): the
 * sources spell the arithmetic type through aliases (common.wgsl's precision block), and the f16
 * build rewrites exactly those lines, so the two variants cannot drift apart.
 */
import { CnnV3Error } from '../errors.js';

/** What a caller asks for: 'auto' is f16 where the device has `shader-f16`, else f32. */
export type Precision = 'auto' | 'f32' | 'f16';
/** The arithmetic a pipeline runs. */
export type Arithmetic = 'f32' | 'f16';

export const PRECISIONS: readonly Precision[] = ['auto', 'f32', 'f16'];

/** Where f16 arithmetic is offered, for messages and the README. */
export const SHADER_F16_ADAPTERS =
  'Chrome/Dawn on D3D12 and Metal, and many Android/Vulkan mobile GPUs (shaderFloat16 with 16-bit storage and storageInputOutput16); ' +
  "NVIDIA's Vulkan drivers, SwiftShader and lavapipe do not offer it";

/**
 * The lines of the shaders' precision block (common.wgsl) as the f32 build has them and as the
 * f16 build rewrites them. Each must occur exactly once in every module.
 */
export const F16_REWRITES: ReadonlyArray<readonly [f32: string, f16: string]> = [
  ['alias act = f32;', 'alias act = f16;'],
  ['alias vec2a = vec2<f32>;', 'alias vec2a = vec2<f16>;'],
  ['alias vec4a = vec4<f32>;', 'alias vec4a = vec4<f16>;'],
  ['alias mat4x4a = mat4x4<f32>;', 'alias mat4x4a = mat4x4<f16>;'],
  // f16's exp overflows past 11: tanh(2x)-by-exp implementations need |x| ≤ 5.5, and tanh(5)
  // already rounds to 1 in f16.
  ['const TANH_LIMIT = 15.0;', 'const TANH_LIMIT = 5.0;'],
];

/** The first line of an f16 module: WGSL wants the directive before any declaration. */
export const F16_ENABLE = 'enable f16;';

/**
 * A module's WGSL for an arithmetic: f32 returns `code` unchanged (the f32 build is the source
 * text); f16 puts `enable f16;` first and rewrites the precision block's lines (F16_REWRITES).
 * Throws when the block is missing or repeated (a module not built from common.wgsl).
 */
export function shaderForArithmetic(code: string, arithmetic: Arithmetic): string {
  if (arithmetic === 'f32') return code;
  const lines = code.split('\n');
  for (const [from, to] of F16_REWRITES) {
    const at = lines.flatMap((l, i) => (l === from ? [i] : []));
    if (at.length !== 1) throw new CnnV3Error(`shaderForArithmetic: expected the line ${JSON.stringify(from)} once in the module, found it ${at.length} times`);
    lines[at[0]!] = to;
  }
  return `${F16_ENABLE}\n${lines.join('\n')}`;
}

/**
 * The arithmetic for a device: 'auto' takes f16 where the device has `shader-f16`; 'f16' without
 * it is the caller's error, named as such.
 */
export function resolvePrecision(device: GPUDevice, asked: Precision = 'auto'): Arithmetic {
  if (!PRECISIONS.includes(asked)) throw new CnnV3Error(`precision must be one of ${PRECISIONS.join(', ')}, got ${JSON.stringify(asked)}`);
  const has = device.features.has('shader-f16');
  if (asked === 'auto') return has ? 'f16' : 'f32';
  if (asked === 'f16' && !has) {
    throw new CnnV3Error(
      `precision f16 needs the WebGPU feature 'shader-f16', which this device does not have ` +
        `(offered by ${SHADER_F16_ADAPTERS}; a device must also be created with requiredFeatures: ['shader-f16']). Use precision f32 or auto`,
    );
  }
  return asked;
}
