// enc1: e1 = relu(FiLM(conv3x3(avgpool(e0), C0→C1), γ1, β1)), ½ resolution → rgba32uint (8 halves),
// and, fused, the bottleneck: b = relu(conv1x1(avgpool(e1), C1→C1)), ¼ resolution → rgba32uint.
//
// A workgroup of 8×8 threads computes a 16×16 tile of e1, each thread a 2×2 block by Winograd
// F(2×2, 3×3) (common.wgsl). The 18×18 halo of avgpool(e0) is pooled once per workgroup into
// workgroup memory (vec4a, zero outside the ½ image), so every e0 texel is read about once
// instead of nine times. A thread's 2×2 block is exactly one avgpool block of e1, so it also
// writes that block's bottleneck texel: the mean of its e1 values as stored (rounded to f16, as
// the bottleneck pass read them back), then the 1×1 conv. No pass, no e1 re-read for b.

@group(0) @binding(1) var<uniform> params: CnnV3ParamsEnc1;
@group(0) @binding(2) var enc0_tex: texture_2d<f32>;
@group(0) @binding(3) var out_tex: texture_storage_2d<rgba32uint, write>;
@group(0) @binding(4) var bottleneck_tex: texture_storage_2d<rgba32uint, write>;

const TILE: u32 = 16u;
const HALO: u32 = 18u;
const CELLS: u32 = 324u;
const THREADS: u32 = 64u;
const ROUNDS: u32 = 6u; // ⌈CELLS / THREADS⌉: a fixed count, so the loads can all be issued before the stores

// The weights, staged as f32 at upload (CNNv3Effect.uploadWeights, stageEnc1 in cnn-effect.ts):
// u[16h + ξ·4 + ν]: the Winograd-transformed enc1 weights G g Gᵀ of output channels 4h..4h + 3 as a
// 4×4 block (column = input channel, row = output channel − 4h; zero past C0 and C1);
// u[32 + 2·(co / 4) + ci / 4]: the bottleneck's 1×1 weights (column ci % 4, row co % 4);
// u[36]: columns enc1 bias lo, hi, bottleneck bias lo, hi.
@group(0) @binding(8) var<uniform> u: array<mat4x4f, 37>;
var<workgroup> pool: array<vec4a, CELLS>;

// 2×2 mean of e0 at pooled position q; a block cut by the edge averages what it has.
fn pooled(q: vec2i, full: vec2i) -> vec4a {
  var s = vec4a(0.0);
  var n: act = 0.0;
  for (var dy = 0; dy < 2; dy++) {
    for (var dx = 0; dx < 2; dx++) {
      let p = 2 * q + vec2i(dx, dy);
      if (inside(p, full)) { s += vec4a(textureLoad(enc0_tex, p, 0)); n += 1.0; }
    }
  }
  return s / n;
}

// Bᵀ d B of the 4×4 window whose top-left halo cell is i, as v[ξ·4 + ν].
fn window(i: u32) -> array<vec4a, 16> {
  let r0 = wino_in(pool[i], pool[i + 1u], pool[i + 2u], pool[i + 3u]);
  let r1 = wino_in(pool[i + HALO], pool[i + HALO + 1u], pool[i + HALO + 2u], pool[i + HALO + 3u]);
  let r2 = wino_in(pool[i + 2u * HALO], pool[i + 2u * HALO + 1u], pool[i + 2u * HALO + 2u], pool[i + 2u * HALO + 3u]);
  let r3 = wino_in(pool[i + 3u * HALO], pool[i + 3u * HALO + 1u], pool[i + 3u * HALO + 2u], pool[i + 3u * HALO + 3u]);
  return array<vec4a, 16>(
    r0[0] - r2[0], r0[1] - r2[1], r0[2] - r2[2], r0[3] - r2[3],
    r1[0] + r2[0], r1[1] + r2[1], r1[2] + r2[2], r1[3] + r2[3],
    r2[0] - r1[0], r2[1] - r1[1], r2[2] - r1[2], r2[3] - r1[3],
    r1[0] - r3[0], r1[1] - r3[1], r1[2] - r3[2], r1[3] - r3[3],
  );
}

// U ⊙ V for output channels 4h..4h + 3.
fn products(h: u32, v: array<vec4a, 16>) -> array<vec4a, 16> {
  let k = 16u * h;
  return array<vec4a, 16>(
    mat4x4a(u[k]) * v[0], mat4x4a(u[k + 1u]) * v[1], mat4x4a(u[k + 2u]) * v[2], mat4x4a(u[k + 3u]) * v[3],
    mat4x4a(u[k + 4u]) * v[4], mat4x4a(u[k + 5u]) * v[5], mat4x4a(u[k + 6u]) * v[6], mat4x4a(u[k + 7u]) * v[7],
    mat4x4a(u[k + 8u]) * v[8], mat4x4a(u[k + 9u]) * v[9], mat4x4a(u[k + 10u]) * v[10], mat4x4a(u[k + 11u]) * v[11],
    mat4x4a(u[k + 12u]) * v[12], mat4x4a(u[k + 13u]) * v[13], mat4x4a(u[k + 14u]) * v[14], mat4x4a(u[k + 15u]) * v[15],
  );
}

// The e1 texel of pixel p (FiLM, relu, packed to halves); stored when inside the ½ image.
fn e1_texel(p: vec2i, size: vec2i, lo: vec4a, hi: vec4a) -> vec4u {
  let t = pack8(film_relu(lo, params.gamma_lo, params.beta_lo), film_relu(hi, params.gamma_hi, params.beta_hi));
  if (inside(p, size)) { textureStore(out_tex, p, t); }
  return t;
}

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let full = vec2i(textureDimensions(enc0_tex));
  let size = vec2i(textureDimensions(out_tex));
  let origin = vec2i(wid.xy * TILE) - 1;
  for (var r = 0u; r < ROUNDS; r++) {
    let k = li + r * THREADS;
    let q = origin + vec2i(i32(k % HALO), i32(k / HALO));
    var v = vec4a(0.0);
    if (k < CELLS && inside(q, size)) { v = pooled(q, full); }
    if (k < CELLS) { pool[k] = v; }
  }
  workgroupBarrier();

  let q = lid.xy * 2u;
  let v = window(q.y * HALO + q.x);
  let lo = wino_out(products(0u, v));
  let hi = wino_out(products(1u, v));
  let p = origin + 1 + vec2i(q);
  let bias = mat4x4a(u[36]);
  let t00 = e1_texel(p, size, bias[0] + lo[0], bias[1] + hi[0]);
  let t01 = e1_texel(p + vec2i(1, 0), size, bias[0] + lo[1], bias[1] + hi[1]);
  let t10 = e1_texel(p + vec2i(0, 1), size, bias[0] + lo[2], bias[1] + hi[2]);
  let t11 = e1_texel(p + vec2i(1, 1), size, bias[0] + lo[3], bias[1] + hi[3]);

  // The bottleneck texel p / 2: the mean of the block's inside pixels (p itself always is, when
  // the texel is), summed in the order the bottleneck pass read them (row by row).
  if (!inside(p, size)) { return; }
  var s = unpack8(t00);
  var n: act = 1.0;
  if (p.x + 1 < size.x) { let e = unpack8(t01); s[0] += e[0]; s[1] += e[1]; n += 1.0; }
  if (p.y + 1 < size.y) {
    let e = unpack8(t10); s[0] += e[0]; s[1] += e[1]; n += 1.0;
    if (p.x + 1 < size.x) { let f = unpack8(t11); s[0] += f[0]; s[1] += f[1]; n += 1.0; }
  }
  let x_lo = s[0] / n;
  let x_hi = s[1] / n;
  let y_lo = max(bias[2] + mat4x4a(u[32]) * x_lo + mat4x4a(u[33]) * x_hi, vec4a(0.0));
  let y_hi = max(bias[3] + mat4x4a(u[34]) * x_lo + mat4x4a(u[35]) * x_hi, vec4a(0.0));
  textureStore(bottleneck_tex, p / 2, pack8(y_lo, y_hi));
}
