// dec0: y = sigmoid(FiLM(conv3x3(cat(up(d1), e0), 2·C0→4), γ3, β3)), full resolution → rgba16float
// RGBA, or the residual output (dec0_common.wgsl).
//
// A 2×2 block of pixels per thread (block_common.wgsl): it upsamples one d1 texel, and its 4×4
// window of e0 and 3×3 of d1 are read once.
override C0: u32 = 4u;

@group(0) @binding(1) var<uniform> params: CnnV3Params4ch;
@group(0) @binding(2) var dec1_tex: texture_2d<f32>;
@group(0) @binding(3) var enc0_tex: texture_2d<f32>;

override IN: u32 = 2u * C0;
const OUT: u32 = 4u;
// Weights staged as [tap][ci over the 2·C0 cat channels].
const STRIDE: u32 = 8u;

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

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  conv3_block(wid, lid, vec2i(textureDimensions(out_tex)));
}
