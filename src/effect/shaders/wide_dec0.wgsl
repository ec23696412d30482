// dec0, general path: y = sigmoid(FiLM(conv3x3(cat(up(d1), e0), 2·C0→4), γ3, β3)), full
// resolution → the rgba16float output node, as dec0.wgsl (its output, RESIDUAL included, is
// dec0_common.wgsl's). Input layers 0..G_A−1 are up(d1), the rest e0.
override C0: u32 = 4u;

@group(0) @binding(2) var dec1_tex: texture_2d_array<f32>;
@group(0) @binding(3) var enc0_tex: texture_2d_array<f32>;

const K: u32 = 3u;
override IN_A: u32 = C0;
override IN_B: u32 = C0;
const OUT: u32 = 4u;

fn fetch(q: vec2i, layer: u32) -> vec4a {
  return fetch_up_cat(dec1_tex, enc0_tex, q, layer);
}

fn store(p: vec2i, g: u32, acc: vec4a) {
  write_output(p, apply_film(acc, wide_gamma(g), wide_beta(g)));
}
