// enc0: e0 = relu(FiLM(conv3x3(features, 20→C0), γ0, β0)), full resolution → rgba16float.
//
// A 2×1 block of pixels per thread (block_common.wgsl; taller blocks were slower on an H100:
// 2×2 0.140 ms, 2×4 0.197 at 1080p, against 0.104 for 2×1 with the sums below). The texels stay
// packed in registers and are unpacked one word (2 or 4 channels) at a time; no private arrays,
// so nothing can fall to local memory. Each product is added to its pixel's sum on its own
// (`s += w·v`, one fused multiply-add each) rather than as `s += w·a + w·b + …`, which costs a
// multiply and an add per expression on top of its fused ones (0.129 → 0.104 ms with 2×1 blocks).
override C0: u32 = 4u;

@group(0) @binding(1) var<uniform> params: CnnV3Params4ch;
@group(0) @binding(2) var feat0: texture_2d<u32>;
@group(0) @binding(3) var feat1: texture_2d<u32>;
@group(0) @binding(4) var out_tex: texture_storage_2d<rgba16float, write>;

const IN: u32 = 20u;
override OUT: u32 = C0;
// Weights staged as [ky][kx][ci].
const STRIDE: u32 = IN;
const EXTRA: u32 = 0u;

// A texel of a feature texture at column x of an inside row, zero words (zero features) outside
// the image.
fn texel(tex: texture_2d<u32>, x: i32, y: i32, size: vec2i) -> vec4u {
  if (x < 0 || x >= size.x) { return vec4u(0u); }
  return textureLoad(tex, vec2i(x, y), 0);
}

// Window columns 0–3 of feat0 (a) and feat1 (b), packed.
struct Row {
  a0: vec4u, a1: vec4u, a2: vec4u, a3: vec4u,
  b0: vec4u, b1: vec4u, b2: vec4u, b3: vec4u,
}

fn load_row(x: i32, y: i32, size: vec2i) -> Row {
  return Row(
    texel(feat0, x - 1, y, size), texel(feat0, x, y, size), texel(feat0, x + 1, y, size), texel(feat0, x + 2, y, size),
    texel(feat1, x - 1, y, size), texel(feat1, x, y, size), texel(feat1, x + 1, y, size), texel(feat1, x + 2, y, size),
  );
}

fn add_row(r: u32, row: Row, acc0: ptr<function, vec4a>, acc1: ptr<function, vec4a>) {
  var s0 = *acc0;
  var s1 = *acc1;
  // Channels 0–7: four words of two halves each.
  for (var wd = 0u; wd < 4u; wd++) {
    let v0 = vec2a(unpack2x16float(row.a0[wd]));
    let v1 = vec2a(unpack2x16float(row.a1[wd]));
    let v2 = vec2a(unpack2x16float(row.a2[wd]));
    let v3 = vec2a(unpack2x16float(row.a3[wd]));
    let i = r + 2u * wd;
    let wa0 = vec4a(w[i]); let wa1 = vec4a(w[i + 1u]);
    let wb0 = vec4a(w[i + STRIDE]); let wb1 = vec4a(w[i + STRIDE + 1u]);
    let wc0 = vec4a(w[i + 2u * STRIDE]); let wc1 = vec4a(w[i + 2u * STRIDE + 1u]);
    s0 += wa0 * v0.x; s0 += wa1 * v0.y; s0 += wb0 * v1.x; s0 += wb1 * v1.y; s0 += wc0 * v2.x; s0 += wc1 * v2.y;
    s1 += wa0 * v1.x; s1 += wa1 * v1.y; s1 += wb0 * v2.x; s1 += wb1 * v2.y; s1 += wc0 * v3.x; s1 += wc1 * v3.y;
  }
  // Channels 8–19: three words of four unorm bytes each.
  for (var wd = 0u; wd < 3u; wd++) {
    let u0 = vec4a(unpack4x8unorm(row.b0[wd]));
    let u1 = vec4a(unpack4x8unorm(row.b1[wd]));
    let u2 = vec4a(unpack4x8unorm(row.b2[wd]));
    let u3 = vec4a(unpack4x8unorm(row.b3[wd]));
    let i = r + 8u + 4u * wd;
    for (var ch = 0u; ch < 4u; ch++) {
      let wa = vec4a(w[i + ch]);
      let wb = vec4a(w[i + STRIDE + ch]);
      let wc = vec4a(w[i + 2u * STRIDE + ch]);
      s0 += wa * u0[ch]; s0 += wb * u1[ch]; s0 += wc * u2[ch];
      s1 += wa * u1[ch]; s1 += wb * u2[ch]; s1 += wc * u3[ch];
    }
  }
  *acc0 = s0;
  *acc1 = s1;
}

fn store(p: vec2i, size: vec2i, acc: vec4a) {
  if (all(p < size)) { textureStore(out_tex, p, vec4f(film_relu(acc, params.gamma, params.beta))); }
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  conv3_block(wid, lid, vec2i(textureDimensions(feat0)));
}
