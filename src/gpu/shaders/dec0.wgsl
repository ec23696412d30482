// dec0: y = sigmoid(FiLM(conv3x3(cat(up(d1), e0), 2·C0→4), γ3, β3)), full resolution → rgba16float RGBA.
// With RESIDUAL (the opt-in residual output, ModelConfig.output): y = clamp(base + tanh(FiLM(…)), 0, 1),
// base = (albedo.rgb, 1 − transp) read from the packed features (channels 0–2 and 19).
//
// Each thread computes the two pixels (2m, y), (2m + 1, y) that share a d1 texel: a row of the
// 3×3 window is four texels of e0 and three of d1, read once and shared by both outputs, and
// every weight read from workgroup memory serves both pixels.
override C0: u32 = 4u;
override RESIDUAL: bool = false;

@group(0) @binding(0) var<storage, read> weights: array<u32>;
@group(0) @binding(1) var<uniform> params: CnnV3Params4ch;
@group(0) @binding(2) var dec1_tex: texture_2d<f32>;
@group(0) @binding(3) var enc0_tex: texture_2d<f32>;
@group(0) @binding(4) var feat0_tex: texture_2d<u32>;
@group(0) @binding(5) var feat1_tex: texture_2d<u32>;
@group(0) @binding(6) var out_tex: texture_storage_2d<rgba16float, write>;

const OUT: u32 = 4u;
// Threads per workgroup along x and y; the output tile is (2·WG_X) × WG_Y (CNNv3Effect's tile).
const WG_X: u32 = 8u;
const WG_Y: u32 = 16u;
const THREADS: u32 = WG_X * WG_Y;
// [tap][ci over the 2·C0 cat channels] → vec4 over RGBA.
var<workgroup> w: array<vec4f, 72>;
var<workgroup> bias: vec4f;

// Texels of e0 and d1 for window column x; zero outside the full-resolution image.
fn skip_at(x: i32, y: i32, size: vec2i) -> vec4f {
  if (x < 0 || x >= size.x) { return vec4f(0.0); }
  return textureLoad(enc0_tex, vec2i(x, y), 0);
}

fn up_at(x: i32, y: i32, size: vec2i) -> vec4f {
  if (x < 0 || x >= size.x) { return vec4f(0.0); }
  return textureLoad(dec1_tex, vec2i(x / 2, y / 2), 0);
}

fn outputs(p: vec2i, acc: vec4f) {
  let z = params.gamma * acc + params.beta;
  if (RESIDUAL) {
    let f0 = textureLoad(feat0_tex, p, 0);
    let base = vec4f(unpack2x16float(f0.x), unpack2x16float(f0.y).x, 1.0 - unpack4x8unorm(textureLoad(feat1_tex, p, 0).z).w);
    // tanh is flat to f16 beyond ±15; clamping first keeps exp-based tanh implementations finite.
    textureStore(out_tex, p, clamp(base + tanh(clamp(z, vec4f(-15.0), vec4f(15.0))), vec4f(0.0), vec4f(1.0)));
  } else {
    textureStore(out_tex, p, 1.0 / (1.0 + exp(-z)));
  }
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let base = params.weight_offset;
  let IN = 2u * C0;
  for (var k = li; k < 9u * IN; k += THREADS) {
    let tap = k / IN;
    let ci = k % IN;
    var v = vec4f(0.0);
    for (var co = 0u; co < OUT; co++) { v[co] = get_w(base, (co * IN + ci) * 9u + tap); }
    w[tap * 8u + ci] = v;
  }
  if (li == 0u) {
    var b = vec4f(0.0);
    for (var co = 0u; co < OUT; co++) { b[co] = get_w(base, OUT * IN * 9u + co); }
    bias = b;
  }
  workgroupBarrier();

  let size = vec2i(textureDimensions(out_tex));
  let p = vec2i(i32((wid.x * WG_X + lid.x) * 2u), i32(wid.y * WG_Y + lid.y));
  if (p.x >= size.x || p.y >= size.y) { return; }
  var acc0 = bias;
  var acc1 = bias;
  for (var ky = 0u; ky < 3u; ky++) {
    let y = p.y + i32(ky) - 1;
    if (y < 0 || y >= size.y) { continue; }
    // Columns p.x − 1 … p.x + 2: pixel 0 uses 0–2, pixel 1 uses 1–3; columns 1 and 2 share a d1 texel.
    let s0 = skip_at(p.x - 1, y, size);
    let s1 = skip_at(p.x, y, size);
    let s2 = skip_at(p.x + 1, y, size);
    let s3 = skip_at(p.x + 2, y, size);
    let u0 = up_at(p.x - 1, y, size);
    let u12 = up_at(p.x, y, size);
    let u2 = select(vec4f(0.0), u12, p.x + 1 < size.x);
    let u3 = up_at(p.x + 2, y, size);
    let r = ky * 24u;
    for (var ci = 0u; ci < C0; ci++) {
      let wua = w[r + ci]; let wsa = w[r + C0 + ci];
      let wub = w[r + 8u + ci]; let wsb = w[r + 8u + C0 + ci];
      let wuc = w[r + 16u + ci]; let wsc = w[r + 16u + C0 + ci];
      acc0 += wua * u0[ci] + wsa * s0[ci] + wub * u12[ci] + wsb * s1[ci] + wuc * u2[ci] + wsc * s2[ci];
      acc1 += wua * u12[ci] + wsa * s1[ci] + wub * u2[ci] + wsb * s2[ci] + wuc * u3[ci] + wsc * s3[ci];
    }
  }
  outputs(p, acc0);
  if (p.x + 1 < size.x) { outputs(p + vec2i(1, 0), acc1); }
}
