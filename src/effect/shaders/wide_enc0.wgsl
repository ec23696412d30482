// enc0, general path: e0 = relu(FiLM(conv3x3(features, 20→C0), γ0, β0)), full resolution → the
// layers of an rgba16float array (wide_common.wgsl).
override C0: u32 = 4u;

@group(0) @binding(2) var feat0: texture_2d<u32>;
@group(0) @binding(3) var feat1: texture_2d<u32>;
@group(0) @binding(4) var out_tex: texture_storage_2d_array<rgba16float, write>;

const K: u32 = 3u;
// Channels 0–3 and 4–7 are the halves of feat0, 8–11, 12–15 and 16–19 the bytes of feat1's words.
const IN_A: u32 = 20u;
const IN_B: u32 = 0u;
override OUT: u32 = C0;

fn fetch(q: vec2i, layer: u32) -> vec4a {
  if (layer < 2u) {
    let t = textureLoad(feat0, q, 0);
    let w = select(t.xy, t.zw, layer == 1u);
    return vec4a(vec4f(unpack2x16float(w.x), unpack2x16float(w.y)));
  }
  return vec4a(unpack4x8unorm(textureLoad(feat1, q, 0)[layer - 2u]));
}

fn store(p: vec2i, g: u32, acc: vec4a) {
  textureStore(out_tex, p, g, vec4f(film_relu(acc, wide_gamma(g), wide_beta(g))));
}
