// enc1: e1 = relu(FiLM(conv3x3(avgpool(e0), C0→C1), γ1, β1)), ½ resolution → rgba32uint (8 halves).
//
// A workgroup of 8×8 threads computes a 16×16 tile, each thread a 2×2 block by Winograd
// F(2×2, 3×3) (common.wgsl). The 18×18 halo of avgpool(e0) is pooled once per workgroup into
// workgroup memory (f32, zero outside the ½ image), so every e0 texel is read about once
// instead of nine times.
override C0: u32 = 4u;
override C1: u32 = 8u;

@group(0) @binding(1) var<uniform> params: CnnV3ParamsEnc1;
@group(0) @binding(2) var enc0_tex: texture_2d<f32>;
@group(0) @binding(3) var out_tex: texture_storage_2d<rgba32uint, write>;

const TILE: u32 = 16u;
const HALO: u32 = 18u;
const CELLS: u32 = 324u;
const THREADS: u32 = 64u;
const ROUNDS: u32 = 6u; // ⌈CELLS / THREADS⌉: a fixed count, so the loads can all be issued before the stores

// Transformed weights of output channels 4h..4h + 3 (h = 0 lo, 1 hi) per ξ·4 + ν, a 4×4 block:
// column = input channel, row = output channel − 4h.
var<workgroup> u: array<array<mat4x4f, 16>, 2>;
var<workgroup> bias_lo: vec4f;
var<workgroup> bias_hi: vec4f;
var<workgroup> pool: array<vec4f, CELLS>;

// 2×2 mean of e0 at pooled position q; a block cut by the edge averages what it has.
fn pooled(q: vec2i, full: vec2i) -> vec4f {
  var s = vec4f(0.0);
  var n = 0.0;
  for (var dy = 0; dy < 2; dy++) {
    for (var dx = 0; dx < 2; dx++) {
      let p = 2 * q + vec2i(dx, dy);
      if (inside(p, full)) { s += textureLoad(enc0_tex, p, 0); n += 1.0; }
    }
  }
  return s / n;
}

// Bᵀ d B of the 4×4 window whose top-left halo cell is i, as v[ξ·4 + ν].
fn window(i: u32) -> array<vec4f, 16> {
  let r0 = wino_in(pool[i], pool[i + 1u], pool[i + 2u], pool[i + 3u]);
  let r1 = wino_in(pool[i + HALO], pool[i + HALO + 1u], pool[i + HALO + 2u], pool[i + HALO + 3u]);
  let r2 = wino_in(pool[i + 2u * HALO], pool[i + 2u * HALO + 1u], pool[i + 2u * HALO + 2u], pool[i + 2u * HALO + 3u]);
  let r3 = wino_in(pool[i + 3u * HALO], pool[i + 3u * HALO + 1u], pool[i + 3u * HALO + 2u], pool[i + 3u * HALO + 3u]);
  return array<vec4f, 16>(
    r0[0] - r2[0], r0[1] - r2[1], r0[2] - r2[2], r0[3] - r2[3],
    r1[0] + r2[0], r1[1] + r2[1], r1[2] + r2[2], r1[3] + r2[3],
    r2[0] - r1[0], r2[1] - r1[1], r2[2] - r1[2], r2[3] - r1[3],
    r1[0] - r3[0], r1[1] - r3[1], r1[2] - r3[2], r1[3] - r3[3],
  );
}

// U ⊙ V for output channels 4h..4h + 3.
fn products(h: u32, v: array<vec4f, 16>) -> array<vec4f, 16> {
  return array<vec4f, 16>(
    u[h][0] * v[0], u[h][1] * v[1], u[h][2] * v[2], u[h][3] * v[3],
    u[h][4] * v[4], u[h][5] * v[5], u[h][6] * v[6], u[h][7] * v[7],
    u[h][8] * v[8], u[h][9] * v[9], u[h][10] * v[10], u[h][11] * v[11],
    u[h][12] * v[12], u[h][13] * v[13], u[h][14] * v[14], u[h][15] * v[15],
  );
}

fn store(p: vec2i, size: vec2i, lo: vec4f, hi: vec4f) {
  if (inside(p, size)) {
    let a = film_relu(lo, params.gamma_lo, params.beta_lo);
    let b = film_relu(hi, params.gamma_hi, params.beta_hi);
    textureStore(out_tex, p, pack8(a, b));
  }
}

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let base = params.weight_offset;
  if (li < 4u) {
    // Column li: the 3×3 taps of input channel li, transformed (zero past C0).
    var lo: array<vec4f, 9>;
    var hi: array<vec4f, 9>;
    if (li < C0) {
      for (var tap = 0u; tap < 9u; tap++) {
        for (var co = 0u; co < C1; co++) {
          let v = get_w(base, (co * C0 + li) * 9u + tap);
          if (co < 4u) { lo[tap][co] = v; } else { hi[tap][co - 4u] = v; }
        }
      }
    }
    let wl = wino_weights(lo);
    let wh = wino_weights(hi);
    for (var k = 0u; k < 16u; k++) {
      u[0][k][li] = wl[k];
      u[1][k][li] = wh[k];
    }
  }
  if (li == 4u) {
    var lo = vec4f(0.0);
    var hi = vec4f(0.0);
    for (var co = 0u; co < C1; co++) {
      let v = get_w(base, C1 * C0 * 9u + co);
      if (co < 4u) { lo[co] = v; } else { hi[co - 4u] = v; }
    }
    bias_lo = lo;
    bias_hi = hi;
  }

  let full = vec2i(textureDimensions(enc0_tex));
  let size = vec2i(textureDimensions(out_tex));
  let origin = vec2i(wid.xy * TILE) - 1;
  for (var r = 0u; r < ROUNDS; r++) {
    let k = li + r * THREADS;
    let q = origin + vec2i(i32(k % HALO), i32(k / HALO));
    var v = vec4f(0.0);
    if (k < CELLS && inside(q, size)) { v = pooled(q, full); }
    if (k < CELLS) { pool[k] = v; }
  }
  workgroupBarrier();

  let q = lid.xy * 2u;
  let v = window(q.y * HALO + q.x);
  let lo = wino_out(products(0u, v));
  let hi = wino_out(products(1u, v));
  let p = origin + 1 + vec2i(q);
  store(p, size, bias_lo + lo[0], bias_hi + hi[0]);
  store(p + vec2i(1, 0), size, bias_lo + lo[1], bias_hi + hi[1]);
  store(p + vec2i(0, 1), size, bias_lo + lo[2], bias_hi + hi[2]);
  store(p + vec2i(1, 1), size, bias_lo + lo[3], bias_hi + hi[3]);
}
