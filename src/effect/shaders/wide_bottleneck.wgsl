// bottleneck, general path: b = relu(conv1x1(avgpool(e1), C1→C1)), ¼ resolution. No FiLM.
override C1: u32 = 8u;

@group(0) @binding(2) var enc1_tex: texture_2d_array<f32>;
@group(0) @binding(3) var out_tex: texture_storage_2d_array<rgba16float, write>;

const K: u32 = 1u;
override IN_A: u32 = C1;
const IN_B: u32 = 0u;
override OUT: u32 = C1;

fn fetch(q: vec2i, layer: u32) -> vec4a {
  return pooled(enc1_tex, q, layer);
}

fn store(p: vec2i, g: u32, acc: vec4a) {
  textureStore(out_tex, p, g, vec4f(max(acc, vec4a(0.0))));
}
