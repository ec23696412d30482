// Shared by every CNN pass (prepended by the pipeline builder, CNNv3Effect).

// Precision (CNNv3Effect's `precision`): this text is the f32 build exactly as it runs. The f16
// build (effect/precision.ts, shaderForArithmetic) puts `enable f16;` first and rewrites these
// lines, nothing else, so the two cannot drift: every activation is computed as `act` (vec2a,
// vec4a, mat4x4a), converted from what textures, uniforms and unpack functions give (f32) where
// it is read and back to f32 where it is stored or packed. Weights stay f32 in their buffers
// (a uniform array of f16 vec4s is not allowed: 16-byte strides) and are converted at use.
alias act = f32;
alias vec2a = vec2<f32>;
alias vec4a = vec4<f32>;
alias mat4x4a = mat4x4<f32>;
// dec0's residual output clamps its tanh argument to ±TANH_LIMIT (dec0_common.wgsl): tanh is
// flat to an f16 output beyond ±5 (1 − tanh(5) < half an ulp below 1), and exp-based tanh
// implementations overflow f16 past ±5.5 (e^11 > 65504), f32 only far beyond ±15.
const TANH_LIMIT = 15.0;

// The uniform structs of the passes (SPEC §7), one definition each; a test checks them against
// the TypeScript layouts in uniforms.ts.
struct CnnV3Params4ch {
  weight_offset: u32,
  _pad: vec3u,
  gamma: vec4f,
  beta: vec4f,
}

struct CnnV3ParamsEnc1 {
  weight_offset: u32,
  _pad: vec3u,
  gamma_lo: vec4f,
  gamma_hi: vec4f,
  beta_lo: vec4f,
  beta_hi: vec4f,
}

// Weights: one read-only buffer of f16 pairs, the layout of cnn_v3_weights.bin (SPEC §6):
// weight (o, i, ky, kx) of a layer at base + ((o·IN + i)·K + ky)·K + kx, bias o at
// base + OUT·IN·K·K + o; half k in word k/2, even k in the low 16 bits.
@group(0) @binding(0) var<storage, read> weights: array<u32>;

fn get_w(base: u32, idx: u32) -> f32 {
  let i = base + idx;
  let pair = unpack2x16float(weights[i >> 1u]);
  return select(pair.x, pair.y, (i & 1u) == 1u);
}

// FiLM, γ ⊙ x + β per channel, and the relu after it in every FiLM layer but dec0.
// γ/β come as f32 from their buffers.
fn apply_film(x: vec4a, gamma: vec4f, beta: vec4f) -> vec4a {
  return vec4a(gamma) * x + vec4a(beta);
}

fn film_relu(x: vec4a, gamma: vec4f, beta: vec4f) -> vec4a {
  return max(apply_film(x, gamma, beta), vec4a(0.0));
}

fn inside(p: vec2i, size: vec2i) -> bool {
  return all(p >= vec2i(0)) && all(p < size);
}

// Eight halves of an rgba32uint texel, as two vec4a.
fn unpack8(t: vec4u) -> array<vec4a, 2> {
  let a = unpack2x16float(t.x);
  let b = unpack2x16float(t.y);
  let c = unpack2x16float(t.z);
  let d = unpack2x16float(t.w);
  return array<vec4a, 2>(vec4a(vec4f(a, b)), vec4a(vec4f(c, d)));
}

fn pack8(lo: vec4a, hi: vec4a) -> vec4u {
  return vec4u(pack2x16float(vec2f(lo.xy)), pack2x16float(vec2f(lo.zw)), pack2x16float(vec2f(hi.xy)), pack2x16float(vec2f(hi.zw)));
}

// Winograd F(2×2, 3×3) (Lavin & Gray): a 2×2 output block of a 3×3 convolution from the 4×4
// input window d as Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A, 16 multiplies per (input, output) channel
// pair instead of 36. Every value here is a vec4 over four channels, in the arithmetic type (vec4a).

// The weights' side, U = G g Gᵀ, is computed once per upload on the CPU (stageEnc1 in
// cnn-effect.ts), in f32 step by step: G along ky gives rows ξ, then G along kx columns ν, with
// G(a, b, c) = (a, ½(a + b + c), ½(a − b + c), c).

// Bᵀ along one axis: four inputs → four.
fn wino_in(a: vec4a, b: vec4a, c: vec4a, d: vec4a) -> array<vec4a, 4> {
  return array<vec4a, 4>(a - c, b + c, c - b, b - d);
}

// Aᵀ M A: the 2×2 block (y00, y01, y10, y11), row-major, from the 16 products m[ξ·4 + ν].
fn wino_out(m: array<vec4a, 16>) -> array<vec4a, 4> {
  let s00 = m[0] + m[4] + m[8];
  let s01 = m[1] + m[5] + m[9];
  let s02 = m[2] + m[6] + m[10];
  let s03 = m[3] + m[7] + m[11];
  let s10 = m[4] - m[8] - m[12];
  let s11 = m[5] - m[9] - m[13];
  let s12 = m[6] - m[10] - m[14];
  let s13 = m[7] - m[11] - m[15];
  return array<vec4a, 4>(s00 + s01 + s02, s01 - s02 - s03, s10 + s11 + s12, s11 - s12 - s13);
}
