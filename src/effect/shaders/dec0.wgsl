// dec0: y = sigmoid(FiLM(conv3x3(cat(up(d1), e0), 2·C0→4), γ3, β3)), full resolution → rgba16float
// RGBA, or the residual output (dec0_common.wgsl).
//
// A 2×2 block of pixels per thread (block_common.wgsl), aligned to one d1 texel. Its e0 part is a
// 3×3 convolution over the 4×4 window of e0, read once. Its up(d1) part folds the upsampling into
// the weights: each pixel of the block sees up(d1) as a 2×2 window of d1 texels (columns x − 1,
// x, x + 1 of up(d1) are d1 columns X − 1, X, X for the even pixel, X, X, X + 1 for the odd one),
// so the taps that land on one d1 texel are summed once per upload (stageFoldedUp in
// cnn-effect.ts): 4 taps per pixel instead of 9, from 9 d1 texels per block. Blocks cut by the
// image's right or bottom edge (odd sizes), where a folded tap would reach past the edge, take the
// direct convolution (block_common's conv3_block).
override C0: u32 = 4u;

@group(0) @binding(1) var<uniform> params: CnnV3Params4ch;
@group(0) @binding(2) var dec1_tex: texture_2d<f32>;
@group(0) @binding(3) var enc0_tex: texture_2d<f32>;

override IN: u32 = 2u * C0;
const OUT: u32 = 4u;
// Weights staged as [tap][ci over the 2·C0 cat channels], then the folded up(d1) weights:
// w[FOLD + (phase·4 + tap)·UPS + ci], phase = 2·(y & 1) + (x & 1) of the pixel, tap = 2·a + b for the
// d1 texel (X − 1 + (x & 1) + b, Y − 1 + (y & 1) + a), X, Y the block's d1 texel.
const STRIDE: u32 = 8u;
const UPS: u32 = 4u;
const EXTRA: u32 = 16u * UPS;
// The folded taps are per pixel of a 2×2 block aligned to one d1 texel.
const_assert BLOCK_ROWS == 2u;

// Texels of e0 and d1 for window column x of an inside row y; zero outside the image.
fn skip_at(x: i32, y: i32, size: vec2i) -> vec4a {
  if (x < 0 || x >= size.x) { return vec4a(0.0); }
  return vec4a(textureLoad(enc0_tex, vec2i(x, y), 0));
}

fn up_at(x: i32, y: i32, size: vec2i) -> vec4a {
  if (x < 0 || x >= size.x) { return vec4a(0.0); }
  return vec4a(textureLoad(dec1_tex, vec2i(x / 2, y / 2), 0));
}

// Window columns 0–3 of up(d1) (u) and e0 (s).
struct Row {
  u0: vec4a, u1: vec4a, u2: vec4a, u3: vec4a,
  s0: vec4a, s1: vec4a, s2: vec4a, s3: vec4a,
}

fn load_row(x: i32, y: i32, size: vec2i) -> Row {
  let s0 = skip_at(x - 1, y, size);
  let s1 = skip_at(x, y, size);
  let s2 = skip_at(x + 1, y, size);
  let s3 = skip_at(x + 2, y, size);
  // Columns 1 and 2 (x, x + 1) upsample the same d1 texel.
  let u0 = up_at(x - 1, y, size);
  let u1 = up_at(x, y, size);
  let u2 = select(vec4a(0.0), u1, x + 1 < size.x);
  let u3 = up_at(x + 2, y, size);
  return Row(u0, u1, u2, u3, s0, s1, s2, s3);
}

fn add_row(r: u32, row: Row, acc0: ptr<function, vec4a>, acc1: ptr<function, vec4a>) {
  var t0 = *acc0;
  var t1 = *acc1;
  for (var ci = 0u; ci < C0; ci++) {
    let wua = vec4a(w[r + ci]); let wsa = vec4a(w[r + C0 + ci]);
    let wub = vec4a(w[r + STRIDE + ci]); let wsb = vec4a(w[r + STRIDE + C0 + ci]);
    let wuc = vec4a(w[r + 2u * STRIDE + ci]); let wsc = vec4a(w[r + 2u * STRIDE + C0 + ci]);
    t0 += wua * row.u0[ci] + wsa * row.s0[ci] + wub * row.u1[ci] + wsb * row.s1[ci] + wuc * row.u2[ci] + wsc * row.s2[ci];
    t1 += wua * row.u1[ci] + wsa * row.s1[ci] + wub * row.u2[ci] + wsb * row.s2[ci] + wuc * row.u3[ci] + wsc * row.s3[ci];
  }
  *acc0 = t0;
  *acc1 = t1;
}

fn store(p: vec2i, size: vec2i, acc: vec4a) {
  if (any(p >= size)) { return; }
  write_output(p, apply_film(acc, params.gamma, params.beta));
}

// The folded block's parts: e0 window row (columns 0–3) and its taps on two pixels.
struct SkipRow { s0: vec4a, s1: vec4a, s2: vec4a, s3: vec4a }

fn load_skip_row(x: i32, y: i32, size: vec2i) -> SkipRow {
  return SkipRow(skip_at(x - 1, y, size), skip_at(x, y, size), skip_at(x + 1, y, size), skip_at(x + 2, y, size));
}

fn add_skip_row(r: u32, row: SkipRow, acc0: ptr<function, vec4a>, acc1: ptr<function, vec4a>) {
  var t0 = *acc0;
  var t1 = *acc1;
  for (var ci = 0u; ci < C0; ci++) {
    let wsa = vec4a(w[r + C0 + ci]);
    let wsb = vec4a(w[r + STRIDE + C0 + ci]);
    let wsc = vec4a(w[r + 2u * STRIDE + C0 + ci]);
    t0 += wsa * row.s0[ci] + wsb * row.s1[ci] + wsc * row.s2[ci];
    t1 += wsa * row.s1[ci] + wsb * row.s2[ci] + wsc * row.s3[ci];
  }
  *acc0 = t0;
  *acc1 = t1;
}

// d1 texel q, zero outside the ½ image.
fn d1_at(q: vec2i, half: vec2i) -> vec4a {
  if (!inside(q, half)) { return vec4a(0.0); }
  return vec4a(textureLoad(dec1_tex, q, 0));
}

// The up(d1) part of the pixel of `phase` from its 2×2 window of d1 texels (row-major).
fn up_part(phase: u32, t00: vec4a, t01: vec4a, t10: vec4a, t11: vec4a) -> vec4a {
  let k = FOLD + 4u * UPS * phase;
  var s = vec4a(0.0);
  for (var ci = 0u; ci < C0; ci++) {
    s += vec4a(w[k + ci]) * t00[ci] + vec4a(w[k + UPS + ci]) * t01[ci] + vec4a(w[k + 2u * UPS + ci]) * t10[ci] + vec4a(w[k + 3u * UPS + ci]) * t11[ci];
  }
  return s;
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let size = vec2i(textureDimensions(out_tex));
  let p = vec2i((wid.xy * vec2u(WG_X, WG_Y) + lid.xy) * 2u);
  if (p.x >= size.x || p.y >= size.y) { return; }
  if (p.x + 1 >= size.x || p.y + 1 >= size.y) {
    conv3_block(wid, lid, size);
    return;
  }
  let half = vec2i(textureDimensions(dec1_tex));
  let c = p / 2;
  let d00 = d1_at(c + vec2i(-1, -1), half);
  let d01 = d1_at(c + vec2i(0, -1), half);
  let d02 = d1_at(c + vec2i(1, -1), half);
  let d10 = d1_at(c + vec2i(-1, 0), half);
  let d11 = d1_at(c, half);
  let d12 = d1_at(c + vec2i(1, 0), half);
  let d20 = d1_at(c + vec2i(-1, 1), half);
  let d21 = d1_at(c + vec2i(0, 1), half);
  let d22 = d1_at(c + vec2i(1, 1), half);
  let bias = vec4a(w[BIAS]);
  var acc00 = bias + up_part(0u, d00, d01, d10, d11);
  var acc01 = bias + up_part(1u, d01, d02, d11, d12);
  var acc10 = bias + up_part(2u, d10, d11, d20, d21);
  var acc11 = bias + up_part(3u, d11, d12, d21, d22);
  // e0 window rows p.y − 1 … p.y + 2 (rows p.y and p.y + 1 are inside here).
  if (p.y >= 1) {
    let row = load_skip_row(p.x, p.y - 1, size);
    add_skip_row(0u, row, &acc00, &acc01);
  }
  {
    let row = load_skip_row(p.x, p.y, size);
    add_skip_row(3u * STRIDE, row, &acc00, &acc01);
    add_skip_row(0u, row, &acc10, &acc11);
  }
  {
    let row = load_skip_row(p.x, p.y + 1, size);
    add_skip_row(6u * STRIDE, row, &acc00, &acc01);
    add_skip_row(3u * STRIDE, row, &acc10, &acc11);
  }
  if (p.y + 2 < size.y) {
    let row = load_skip_row(p.x, p.y + 2, size);
    add_skip_row(6u * STRIDE, row, &acc10, &acc11);
  }
  store(p, size, acc00);
  store(p + vec2i(1, 0), size, acc01);
  store(p + vec2i(0, 1), size, acc10);
  store(p + vec2i(1, 1), size, acc11);
}
