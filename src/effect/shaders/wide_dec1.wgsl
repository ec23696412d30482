// dec1, general path: d1 = relu(FiLM(conv3x3(cat(up(b), e1), 2·C1→C0), γ2, β2)), ½ resolution.
// Input layers 0..G_A−1 are up(b), the rest e1.
override C0: u32 = 4u;
override C1: u32 = 8u;

@group(0) @binding(2) var bottleneck_tex: texture_2d_array<f32>;
@group(0) @binding(3) var enc1_tex: texture_2d_array<f32>;
@group(0) @binding(4) var out_tex: texture_storage_2d_array<rgba16float, write>;

const K: u32 = 3u;
override IN_A: u32 = C1;
override IN_B: u32 = C1;
override OUT: u32 = C0;

fn fetch(q: vec2i, layer: u32) -> vec4a {
  return fetch_up_cat(bottleneck_tex, enc1_tex, q, layer);
}

fn store(p: vec2i, g: u32, acc: vec4a) {
  textureStore(out_tex, p, g, vec4f(film_relu(acc, wide_gamma(g), wide_beta(g))));
}
