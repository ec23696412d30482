// dec0, general path: y = sigmoid(FiLM(conv3x3(cat(up(d1), e0), 2·C0→4), γ3, β3)), full
// resolution → the rgba16float output node, as dec0.wgsl (RESIDUAL included). Input layers
// 0..G0−1 are up(d1), G0..2·G0−1 are e0.
override C0: u32 = 4u;
override RESIDUAL: bool = false;

@group(0) @binding(2) var dec1_tex: texture_2d_array<f32>;
@group(0) @binding(3) var enc0_tex: texture_2d_array<f32>;
@group(0) @binding(4) var feat0_tex: texture_2d<u32>;
@group(0) @binding(5) var feat1_tex: texture_2d<u32>;
@group(0) @binding(6) var out_tex: texture_storage_2d<rgba16float, write>;

const K: u32 = 3u;
override IN: u32 = 2u * C0;
const OUT: u32 = 4u;
override G0: u32 = (C0 + 3u) / 4u;
override IN_LAYERS: u32 = 2u * G0;

fn in_channel(c: u32) -> u32 {
  let half = 4u * G0;
  if (c < half) { return select(NO_CHANNEL, c, c < C0); }
  return select(NO_CHANNEL, C0 + c - half, c - half < C0);
}

fn fetch(q: vec2i, layer: u32) -> vec4f {
  if (layer < G0) { return textureLoad(dec1_tex, q / 2, layer, 0); }
  return textureLoad(enc0_tex, q, layer - G0, 0);
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) li: u32) {
  let size = vec2i(textureDimensions(out_tex));
  let p = vec2i(gid.xy);
  let live = inside(p, size);
  let z = wide_film(wide_conv(p, size, live, 0u, li), 0u);
  if (!live) { return; }
  if (RESIDUAL) {
    let f0 = textureLoad(feat0_tex, p, 0);
    let base = vec4f(unpack2x16float(f0.x), unpack2x16float(f0.y).x, 1.0 - unpack4x8unorm(textureLoad(feat1_tex, p, 0).z).w);
    // tanh is flat to f16 beyond ±15; clamping first keeps exp-based tanh implementations finite.
    textureStore(out_tex, p, clamp(base + tanh(clamp(z, vec4f(-15.0), vec4f(15.0))), vec4f(0.0), vec4f(1.0)));
  } else {
    textureStore(out_tex, p, 1.0 / (1.0 + exp(-z)));
  }
}
