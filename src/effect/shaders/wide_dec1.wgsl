// dec1, general path: d1 = relu(FiLM(conv3x3(cat(up(b), e1), 2·C1→C0), γ2, β2)), ½ resolution.
// Input layers 0..G1−1 are up(b), G1..2·G1−1 are e1 (each padded to whole layers).
override C0: u32 = 4u;
override C1: u32 = 8u;

@group(0) @binding(2) var bottleneck_tex: texture_2d_array<f32>;
@group(0) @binding(3) var enc1_tex: texture_2d_array<f32>;
@group(0) @binding(4) var out_tex: texture_storage_2d_array<rgba16float, write>;

const K: u32 = 3u;
override IN: u32 = 2u * C1;
override OUT: u32 = C0;
override G1: u32 = (C1 + 3u) / 4u;
override IN_LAYERS: u32 = 2u * G1;

fn in_channel(c: u32) -> u32 {
  let half = 4u * G1;
  if (c < half) { return select(NO_CHANNEL, c, c < C1); }
  return select(NO_CHANNEL, C1 + c - half, c - half < C1);
}

fn fetch(q: vec2i, layer: u32) -> vec4f {
  if (layer < G1) { return textureLoad(bottleneck_tex, q / 2, layer, 0); }
  return textureLoad(enc1_tex, q, layer - G1, 0);
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let size = vec2i(textureDimensions(out_tex));
  let p = vec2i(gid.xy);
  let live = inside(p, size);
  let acc = wide_conv(p, size, live, wid.z, li);
  if (live) { textureStore(out_tex, p, wid.z, max(wide_film(acc, wid.z), vec4f(0.0))); }
}
