// enc0: e0 = relu(FiLM(conv3x3(features, 20→C0), γ0, β0)), full resolution → rgba16float.
//
// Each thread computes a strip of COLS × ROWS pixels, walking down the input rows x − 1 … x + COLS
// one at a time: a row's 2·(COLS + 2) texels are loaded once and each of its 20 channels is
// unpacked once, then added to the three output rows it feeds (ky = 0, 1, 2) under the staged
// weights (conv3_common: uniform memory, constant indices once the loops unroll). Only three
// output rows are live at a time (p0 finishing, p1, p2 starting); no private arrays, so nothing
// can fall to local memory.
override C0: u32 = 4u;

@group(0) @binding(1) var<uniform> params: CnnV3Params4ch;
@group(0) @binding(2) var feat0: texture_2d<u32>;
@group(0) @binding(3) var feat1: texture_2d<u32>;
@group(0) @binding(4) var out_tex: texture_storage_2d<rgba16float, write>;

const IN: u32 = 20u;
override OUT: u32 = C0;
// Weights staged as [ky][kx][ci].
const STRIDE: u32 = IN;

// Pixels per thread (CNNv3Effect's tile: WG_X·COLS × WG_Y·ROWS).
const COLS: u32 = 4u;
const ROWS: u32 = 4u;
const WG_X: u32 = 8u;
const WG_Y: u32 = 8u;

// Output rows t − 2 (p0: ky = 2 still to add), t − 1 (p1), t (p2) of input row t; column j.
var<private> p00: vec4f; var<private> p01: vec4f; var<private> p02: vec4f; var<private> p03: vec4f;
var<private> p10: vec4f; var<private> p11: vec4f; var<private> p12: vec4f; var<private> p13: vec4f;
var<private> p20: vec4f; var<private> p21: vec4f; var<private> p22: vec4f; var<private> p23: vec4f;

// One channel's values at window columns 0–5 (x − 1 … x + 4).
struct Cols { c0: f32, c1: f32, c2: f32, c3: f32, c4: f32, c5: f32 }

// Adds channel ci of an input row to the output rows it feeds: ky0 → p2, ky1 → p1, ky2 → p0.
fn add_channel(ci: u32, v: Cols, ky0: bool, ky1: bool, ky2: bool) {
  if (ky0) {
    let a = w[ci]; let b = w[STRIDE + ci]; let c = w[2u * STRIDE + ci];
    p20 += a * v.c0 + b * v.c1 + c * v.c2;
    p21 += a * v.c1 + b * v.c2 + c * v.c3;
    p22 += a * v.c2 + b * v.c3 + c * v.c4;
    p23 += a * v.c3 + b * v.c4 + c * v.c5;
  }
  if (ky1) {
    let a = w[3u * STRIDE + ci]; let b = w[4u * STRIDE + ci]; let c = w[5u * STRIDE + ci];
    p10 += a * v.c0 + b * v.c1 + c * v.c2;
    p11 += a * v.c1 + b * v.c2 + c * v.c3;
    p12 += a * v.c2 + b * v.c3 + c * v.c4;
    p13 += a * v.c3 + b * v.c4 + c * v.c5;
  }
  if (ky2) {
    let a = w[6u * STRIDE + ci]; let b = w[7u * STRIDE + ci]; let c = w[8u * STRIDE + ci];
    p00 += a * v.c0 + b * v.c1 + c * v.c2;
    p01 += a * v.c1 + b * v.c2 + c * v.c3;
    p02 += a * v.c2 + b * v.c3 + c * v.c4;
    p03 += a * v.c3 + b * v.c4 + c * v.c5;
  }
}

// A texel of a feature texture at column x of an inside row, zero words (zero features) outside.
fn texel(tex: texture_2d<u32>, x: i32, y: i32, size: vec2i) -> vec4u {
  if (x < 0 || x >= size.x) { return vec4u(0u); }
  return textureLoad(tex, vec2i(x, y), 0);
}

// Input row y (inside the image) into the live output rows.
fn add_row(x: i32, y: i32, size: vec2i, ky0: bool, ky1: bool, ky2: bool) {
  let a0 = texel(feat0, x - 1, y, size); let a1 = texel(feat0, x, y, size); let a2 = texel(feat0, x + 1, y, size);
  let a3 = texel(feat0, x + 2, y, size); let a4 = texel(feat0, x + 3, y, size); let a5 = texel(feat0, x + 4, y, size);
  let b0 = texel(feat1, x - 1, y, size); let b1 = texel(feat1, x, y, size); let b2 = texel(feat1, x + 1, y, size);
  let b3 = texel(feat1, x + 2, y, size); let b4 = texel(feat1, x + 3, y, size); let b5 = texel(feat1, x + 4, y, size);
  // Channels 0–7: four words of two halves each.
  for (var wd = 0u; wd < 4u; wd++) {
    let u0 = unpack2x16float(a0[wd]); let u1 = unpack2x16float(a1[wd]); let u2 = unpack2x16float(a2[wd]);
    let u3 = unpack2x16float(a3[wd]); let u4 = unpack2x16float(a4[wd]); let u5 = unpack2x16float(a5[wd]);
    add_channel(2u * wd, Cols(u0.x, u1.x, u2.x, u3.x, u4.x, u5.x), ky0, ky1, ky2);
    add_channel(2u * wd + 1u, Cols(u0.y, u1.y, u2.y, u3.y, u4.y, u5.y), ky0, ky1, ky2);
  }
  // Channels 8–19: three words of four unorm bytes each.
  for (var wd = 0u; wd < 3u; wd++) {
    let u0 = unpack4x8unorm(b0[wd]); let u1 = unpack4x8unorm(b1[wd]); let u2 = unpack4x8unorm(b2[wd]);
    let u3 = unpack4x8unorm(b3[wd]); let u4 = unpack4x8unorm(b4[wd]); let u5 = unpack4x8unorm(b5[wd]);
    for (var ch = 0u; ch < 4u; ch++) {
      add_channel(8u + 4u * wd + ch, Cols(u0[ch], u1[ch], u2[ch], u3[ch], u4[ch], u5[ch]), ky0, ky1, ky2);
    }
  }
}

fn store(p: vec2i, size: vec2i, acc: vec4f) {
  if (all(p < size)) { textureStore(out_tex, p, film_relu(acc, params.gamma, params.beta)); }
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let size = vec2i(textureDimensions(feat0));
  let p = vec2i((wid.xy * vec2u(WG_X, WG_Y) + lid.xy) * vec2u(COLS, ROWS));
  if (p.x >= size.x || p.y >= size.y) { return; }
  let bias = w[BIAS];
  p20 = bias; p21 = bias; p22 = bias; p23 = bias;
  // Input row t is image row p.y − 1 + t: ky = 0 for output row t, 1 for t − 1, 2 for t − 2.
  for (var t = 0u; t < ROWS + 2u; t++) {
    let y = p.y + i32(t) - 1;
    if (y >= 0 && y < size.y) { add_row(p.x, y, size, (t < ROWS), (t >= 1u && t <= ROWS), (t >= 2u)); }
    if (t >= 2u) {
      let q = p + vec2i(0, i32(t) - 2);
      store(q, size, p00);
      store(q + vec2i(1, 0), size, p01);
      store(q + vec2i(2, 0), size, p02);
      store(q + vec2i(3, 0), size, p03);
    }
    p00 = p10; p01 = p11; p02 = p12; p03 = p13;
    p10 = p20; p11 = p21; p12 = p22; p13 = p23;
    p20 = bias; p21 = bias; p22 = bias; p23 = bias;
  }
}
