// enc0: e0 = relu(FiLM(conv3x3(features, 20→C0), γ0, β0)), full resolution → rgba16float.
//
// Each thread computes a 2×2 block of pixels: its 4×4 window of texels of each feature texture
// is read once, a row at a time, and shared by the four outputs (16 reads instead of 36), and
// every weight read from workgroup memory serves two pixels. The texels stay packed in
// registers and are unpacked one word (2 or 4 channels) at a time; no private arrays, so
// nothing can fall to local memory.
override C0: u32 = 4u;

@group(0) @binding(0) var<storage, read> weights: array<u32>;
@group(0) @binding(1) var<uniform> params: CnnV3Params4ch;
@group(0) @binding(2) var feat0: texture_2d<u32>;
@group(0) @binding(3) var feat1: texture_2d<u32>;
@group(0) @binding(4) var out_tex: texture_storage_2d<rgba16float, write>;

const IN: u32 = 20u;
// Threads per workgroup along x and y; the output tile is (2·WG_X) × (2·WG_Y) (CNNv3Effect's tile).
const WG_X: u32 = 8u;
const WG_Y: u32 = 16u;
const THREADS: u32 = WG_X * WG_Y;
// Weights unpacked once per workgroup as [ky][kx][ci] → vec4 over output channels.
var<workgroup> w: array<vec4f, 180>;
var<workgroup> bias: vec4f;

// A texel of a feature texture, zero words (zero features) outside the image.
fn texel0(q: vec2i, size: vec2i) -> vec4u {
  if (q.x < 0 || q.x >= size.x) { return vec4u(0u); }
  return textureLoad(feat0, q, 0);
}

fn texel1(q: vec2i, size: vec2i) -> vec4u {
  if (q.x < 0 || q.x >= size.x) { return vec4u(0u); }
  return textureLoad(feat1, q, 0);
}

// Adds one window row (columns 0–3, packed) under the weight row r = ky·3·IN to two
// horizontally adjacent pixels: pixel 0 uses columns 0–2, pixel 1 columns 1–3.
fn add_row(r: u32, a0: vec4u, a1: vec4u, a2: vec4u, a3: vec4u, b0: vec4u, b1: vec4u, b2: vec4u, b3: vec4u,
           acc0: ptr<function, vec4f>, acc1: ptr<function, vec4f>) {
  var s0 = *acc0;
  var s1 = *acc1;
  // Channels 0–7: four words of two halves each.
  for (var wd = 0u; wd < 4u; wd++) {
    let v0 = unpack2x16float(a0[wd]);
    let v1 = unpack2x16float(a1[wd]);
    let v2 = unpack2x16float(a2[wd]);
    let v3 = unpack2x16float(a3[wd]);
    let i = r + 2u * wd;
    let wa0 = w[i]; let wa1 = w[i + 1u];
    let wb0 = w[i + IN]; let wb1 = w[i + IN + 1u];
    let wc0 = w[i + 2u * IN]; let wc1 = w[i + 2u * IN + 1u];
    s0 += wa0 * v0.x + wa1 * v0.y + wb0 * v1.x + wb1 * v1.y + wc0 * v2.x + wc1 * v2.y;
    s1 += wa0 * v1.x + wa1 * v1.y + wb0 * v2.x + wb1 * v2.y + wc0 * v3.x + wc1 * v3.y;
  }
  // Channels 8–19: three words of four unorm bytes each.
  for (var wd = 0u; wd < 3u; wd++) {
    let u0 = unpack4x8unorm(b0[wd]);
    let u1 = unpack4x8unorm(b1[wd]);
    let u2 = unpack4x8unorm(b2[wd]);
    let u3 = unpack4x8unorm(b3[wd]);
    let i = r + 8u + 4u * wd;
    for (var ch = 0u; ch < 4u; ch++) {
      let wa = w[i + ch];
      let wb = w[i + IN + ch];
      let wc = w[i + 2u * IN + ch];
      s0 += wa * u0[ch] + wb * u1[ch] + wc * u2[ch];
      s1 += wa * u1[ch] + wb * u2[ch] + wc * u3[ch];
    }
  }
  *acc0 = s0;
  *acc1 = s1;
}

fn store(p: vec2i, size: vec2i, acc: vec4f) {
  if (all(p < size)) { textureStore(out_tex, p, max(params.gamma * acc + params.beta, vec4f(0.0))); }
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let base = params.weight_offset;
  for (var k = li; k < 180u; k += THREADS) {
    let tap = k / IN;
    let ci = k % IN;
    w[k] = conv3_weights4(base, C0, IN, ci, tap);
  }
  if (li == 0u) {
    bias = conv3_bias4(base, C0, IN);
  }
  workgroupBarrier();

  let size = vec2i(textureDimensions(feat0));
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
    let a0 = texel0(vec2i(p.x - 1, y), size);
    let a1 = texel0(vec2i(p.x, y), size);
    let a2 = texel0(vec2i(p.x + 1, y), size);
    let a3 = texel0(vec2i(p.x + 2, y), size);
    let b0 = texel1(vec2i(p.x - 1, y), size);
    let b1 = texel1(vec2i(p.x, y), size);
    let b2 = texel1(vec2i(p.x + 1, y), size);
    let b3 = texel1(vec2i(p.x + 2, y), size);
    if (t < 3u) { add_row(t * 3u * IN, a0, a1, a2, a3, b0, b1, b2, b3, &acc00, &acc01); }
    if (t > 0u) { add_row((t - 1u) * 3u * IN, a0, a1, a2, a3, b0, b1, b2, b3, &acc10, &acc11); }
  }
  store(p, size, acc00);
  store(p + vec2i(1, 0), size, acc01);
  store(p + vec2i(0, 1), size, acc10);
  store(p + vec2i(1, 1), size, acc11);
}
