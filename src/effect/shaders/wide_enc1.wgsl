// enc1, general path: e1 = relu(FiLM(conv3x3(avgpool(e0), C0→C1), γ1, β1)), ½ resolution.
override C0: u32 = 4u;
override C1: u32 = 8u;

@group(0) @binding(2) var enc0_tex: texture_2d_array<f32>;
@group(0) @binding(3) var out_tex: texture_storage_2d_array<rgba16float, write>;

const K: u32 = 3u;
override IN_A: u32 = C0;
const IN_B: u32 = 0u;
override OUT: u32 = C1;

fn fetch(q: vec2i, layer: u32) -> vec4a {
  return pooled(enc0_tex, q, layer);
}

fn store(p: vec2i, g: u32, acc: vec4a) {
  textureStore(out_tex, p, g, vec4f(film_relu(acc, wide_gamma(g), wide_beta(g))));
}
