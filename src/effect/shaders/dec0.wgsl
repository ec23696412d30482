// dec0: y = sigmoid(FiLM(conv3x3(cat(up(d1), e0), 2·C0→4), γ3, β3)), full resolution → rgba16float RGBA.
// With RESIDUAL (the opt-in residual output, ModelConfig.output): y = clamp(base + tanh(FiLM(…)), 0, 1),
// base = (albedo.rgb, 1 − transp) read from the packed features (channels 0–2 and 19).
//
// Each thread computes the 2×2 block of pixels that upsample one d1 texel: its 4×4 window of e0
// and 3×3 of d1 are read once, a row at a time, and shared by the four outputs, and every
// weight read from workgroup memory serves two pixels.
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
// Threads per workgroup along x and y; the output tile is (2·WG_X) × (2·WG_Y) (CNNv3Effect's tile).
const WG_X: u32 = 8u;
const WG_Y: u32 = 16u;
const THREADS: u32 = WG_X * WG_Y;
// [tap][ci over the 2·C0 cat channels] → vec4 over RGBA.
var<workgroup> w: array<vec4f, 72>;
var<workgroup> bias: vec4f;

// Texels of e0 and d1 for window column x of row y; zero outside the full-resolution image.
fn skip_at(x: i32, y: i32, size: vec2i) -> vec4f {
  if (x < 0 || x >= size.x) { return vec4f(0.0); }
  return textureLoad(enc0_tex, vec2i(x, y), 0);
}

fn up_at(x: i32, y: i32, size: vec2i) -> vec4f {
  if (x < 0 || x >= size.x) { return vec4f(0.0); }
  return textureLoad(dec1_tex, vec2i(x / 2, y / 2), 0);
}

// Adds one window row (columns 0–3 of d1 and e0) under the weight row r = ky·24 to two
// horizontally adjacent pixels: pixel 0 uses columns 0–2, pixel 1 columns 1–3.
fn add_row(r: u32, u0: vec4f, u1: vec4f, u2: vec4f, u3: vec4f, s0: vec4f, s1: vec4f, s2: vec4f, s3: vec4f,
           acc0: ptr<function, vec4f>, acc1: ptr<function, vec4f>) {
  var t0 = *acc0;
  var t1 = *acc1;
  for (var ci = 0u; ci < C0; ci++) {
    let wua = w[r + ci]; let wsa = w[r + C0 + ci];
    let wub = w[r + 8u + ci]; let wsb = w[r + 8u + C0 + ci];
    let wuc = w[r + 16u + ci]; let wsc = w[r + 16u + C0 + ci];
    t0 += wua * u0[ci] + wsa * s0[ci] + wub * u1[ci] + wsb * s1[ci] + wuc * u2[ci] + wsc * s2[ci];
    t1 += wua * u1[ci] + wsa * s1[ci] + wub * u2[ci] + wsb * s2[ci] + wuc * u3[ci] + wsc * s3[ci];
  }
  *acc0 = t0;
  *acc1 = t1;
}

fn store(p: vec2i, size: vec2i, acc: vec4f) {
  if (any(p >= size)) { return; }
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
    w[tap * 8u + ci] = conv3_weights4(base, OUT, IN, ci, tap);
  }
  if (li == 0u) {
    bias = conv3_bias4(base, OUT, IN);
  }
  workgroupBarrier();

  let size = vec2i(textureDimensions(out_tex));
  let p = vec2i((wid.xy * vec2u(WG_X, WG_Y) + lid.xy) * 2u);
  if (p.x >= size.x || p.y >= size.y) { return; }
  // acc_ij: pixel p + (j, i).
  var acc00 = bias;
  var acc01 = bias;
  var acc10 = bias;
  var acc11 = bias;
  // Window rows p.y − 1 … p.y + 2: row t is ky = t for pixel row 0 and ky = t − 1 for row 1.
  for (var t = 0u; t < 4u; t++) {
    let y = p.y + i32(t) - 1;
    if (y < 0 || y >= size.y) { continue; }
    let s0 = skip_at(p.x - 1, y, size);
    let s1 = skip_at(p.x, y, size);
    let s2 = skip_at(p.x + 1, y, size);
    let s3 = skip_at(p.x + 2, y, size);
    // Columns 1 and 2 (x = p.x, p.x + 1) upsample the same d1 texel.
    let u0 = up_at(p.x - 1, y, size);
    let u1 = up_at(p.x, y, size);
    let u2 = select(vec4f(0.0), u1, p.x + 1 < size.x);
    let u3 = up_at(p.x + 2, y, size);
    if (t < 3u) { add_row(t * 24u, u0, u1, u2, u3, s0, s1, s2, s3, &acc00, &acc01); }
    if (t > 0u) { add_row((t - 1u) * 24u, u0, u1, u2, u3, s0, s1, s2, s3, &acc10, &acc11); }
  }
  store(p, size, acc00);
  store(p + vec2i(1, 0), size, acc01);
  store(p + vec2i(0, 1), size, acc10);
  store(p + vec2i(1, 1), size, acc11);
}
