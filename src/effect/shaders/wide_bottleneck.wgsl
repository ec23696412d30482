// bottleneck, general path: b = relu(conv1x1(avgpool(e1), C1→C1)), ¼ resolution. No FiLM.
override C1: u32 = 8u;

@group(0) @binding(2) var enc1_tex: texture_2d_array<f32>;
@group(0) @binding(3) var out_tex: texture_storage_2d_array<rgba16float, write>;

const K: u32 = 1u;
override IN: u32 = C1;
override OUT: u32 = C1;
override IN_LAYERS: u32 = (C1 + 3u) / 4u;

fn in_channel(c: u32) -> u32 {
  return select(NO_CHANNEL, c, c < C1);
}

fn fetch(q: vec2i, layer: u32) -> vec4f {
  return pooled(enc1_tex, q, layer);
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let size = vec2i(textureDimensions(out_tex));
  let p = vec2i(gid.xy);
  let live = inside(p, size);
  let acc = wide_conv(p, size, live, wid.z, li);
  if (live) { textureStore(out_tex, p, wid.z, max(acc, vec4f(0.0))); }
}
