// Shared by every CNN pass (prepended by the pipeline builder, CNNv3Effect).

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
fn apply_film(x: vec4f, gamma: vec4f, beta: vec4f) -> vec4f {
  return gamma * x + beta;
}

fn film_relu(x: vec4f, gamma: vec4f, beta: vec4f) -> vec4f {
  return max(apply_film(x, gamma, beta), vec4f(0.0));
}

fn inside(p: vec2i, size: vec2i) -> bool {
  return all(p >= vec2i(0)) && all(p < size);
}

// Eight halves of an rgba32uint texel, as two vec4f.
fn unpack8(t: vec4u) -> array<vec4f, 2> {
  let a = unpack2x16float(t.x);
  let b = unpack2x16float(t.y);
  let c = unpack2x16float(t.z);
  let d = unpack2x16float(t.w);
  return array<vec4f, 2>(vec4f(a, b), vec4f(c, d));
}

fn pack8(lo: vec4f, hi: vec4f) -> vec4u {
  return vec4u(pack2x16float(lo.xy), pack2x16float(lo.zw), pack2x16float(hi.xy), pack2x16float(hi.zw));
}

// Winograd F(2×2, 3×3) (Lavin & Gray): a 2×2 output block of a 3×3 convolution from the 4×4
// input window d as Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A, 16 multiplies per (input, output) channel
// pair instead of 36. Every value here is a vec4 over four channels; f32 throughout.

// The weights' side, U = G g Gᵀ, is computed once per upload on the CPU (stageEnc1 in
// cnn-effect.ts), in f32 step by step: G along ky gives rows ξ, then G along kx columns ν, with
// G(a, b, c) = (a, ½(a + b + c), ½(a − b + c), c).

// Bᵀ along one axis: four inputs → four.
fn wino_in(a: vec4f, b: vec4f, c: vec4f, d: vec4f) -> array<vec4f, 4> {
  return array<vec4f, 4>(a - c, b + c, c - b, b - d);
}

// Aᵀ M A: the 2×2 block (y00, y01, y10, y11), row-major, from the 16 products m[ξ·4 + ν].
fn wino_out(m: array<vec4f, 16>) -> array<vec4f, 4> {
  let s00 = m[0] + m[4] + m[8];
  let s01 = m[1] + m[5] + m[9];
  let s02 = m[2] + m[6] + m[10];
  let s03 = m[3] + m[7] + m[11];
  let s10 = m[4] - m[8] - m[12];
  let s11 = m[5] - m[9] - m[13];
  let s12 = m[6] - m[10] - m[14];
  let s13 = m[7] - m[11] - m[15];
  return array<vec4f, 4>(s00 + s01 + s02, s01 - s02 - s03, s10 + s11 + s12, s11 - s12 - s13);
}
