// enc0: e0 = relu(FiLM(conv3x3(features, 20→C0), γ0, β0)), full resolution → rgba16float.
//
// Each thread computes two horizontally adjacent pixels: a row of the 3×3 window is four
// texels of each feature texture, read once and shared by both outputs (4 reads instead of 6),
// and every weight read from workgroup memory serves both pixels. The texels stay packed in
// registers and are unpacked one word (2 or 4 channels) at a time; no private arrays, so
// nothing can fall to local memory.
override C0: u32 = 4u;

@group(0) @binding(0) var<storage, read> weights: array<u32>;
@group(0) @binding(1) var<uniform> params: CnnV3Params4ch;
@group(0) @binding(2) var feat0: texture_2d<u32>;
@group(0) @binding(3) var feat1: texture_2d<u32>;
@group(0) @binding(4) var out_tex: texture_storage_2d<rgba16float, write>;

const IN: u32 = 20u;
// Threads per workgroup along x and y; the output tile is (2·WG_X) × WG_Y (CNNv3Effect's tile).
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

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let base = params.weight_offset;
  for (var k = li; k < 180u; k += THREADS) {
    let tap = k / IN;
    let ci = k % IN;
    var v = vec4f(0.0);
    for (var co = 0u; co < C0; co++) { v[co] = get_w(base, (co * IN + ci) * 9u + tap); }
    w[k] = v;
  }
  if (li == 0u) {
    var b = vec4f(0.0);
    for (var co = 0u; co < C0; co++) { b[co] = get_w(base, C0 * IN * 9u + co); }
    bias = b;
  }
  workgroupBarrier();

  let size = vec2i(textureDimensions(feat0));
  let p = vec2i(i32((wid.x * WG_X + lid.x) * 2u), i32(wid.y * WG_Y + lid.y));
  if (p.x >= size.x || p.y >= size.y) { return; }
  var acc0 = bias;
  var acc1 = bias;
  for (var ky = 0u; ky < 3u; ky++) {
    let y = p.y + i32(ky) - 1;
    if (y < 0 || y >= size.y) { continue; }
    // Columns p.x − 1 … p.x + 2: pixel 0 uses 0–2, pixel 1 uses 1–3.
    let a0 = texel0(vec2i(p.x - 1, y), size);
    let a1 = texel0(vec2i(p.x, y), size);
    let a2 = texel0(vec2i(p.x + 1, y), size);
    let a3 = texel0(vec2i(p.x + 2, y), size);
    let b0 = texel1(vec2i(p.x - 1, y), size);
    let b1 = texel1(vec2i(p.x, y), size);
    let b2 = texel1(vec2i(p.x + 1, y), size);
    let b3 = texel1(vec2i(p.x + 2, y), size);
    let r = ky * 3u * IN;
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
      acc0 += wa0 * v0.x + wa1 * v0.y + wb0 * v1.x + wb1 * v1.y + wc0 * v2.x + wc1 * v2.y;
      acc1 += wa0 * v1.x + wa1 * v1.y + wb0 * v2.x + wb1 * v2.y + wc0 * v3.x + wc1 * v3.y;
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
        acc0 += wa * u0[ch] + wb * u1[ch] + wc * u2[ch];
        acc1 += wa * u1[ch] + wb * u2[ch] + wc * u3[ch];
      }
    }
  }
  textureStore(out_tex, p, max(params.gamma * acc0 + params.beta, vec4f(0.0)));
  if (p.x + 1 < size.x) { textureStore(out_tex, p + vec2i(1, 0), max(params.gamma * acc1 + params.beta, vec4f(0.0))); }
}
