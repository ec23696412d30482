// enc1, general path: e1 = relu(FiLM(conv3x3(avgpool(e0), C0→C1), γ1, β1)), ½ resolution.
override C0: u32 = 4u;
override C1: u32 = 8u;

@group(0) @binding(2) var enc0_tex: texture_2d_array<f32>;
@group(0) @binding(3) var out_tex: texture_storage_2d_array<rgba16float, write>;

const K: u32 = 3u;
override IN: u32 = C0;
override OUT: u32 = C1;
override IN_LAYERS: u32 = (C0 + 3u) / 4u;

fn in_channel(c: u32) -> u32 {
  return select(NO_CHANNEL, c, c < C0);
}

fn fetch(q: vec2i, layer: u32) -> vec4f {
  return pooled(enc0_tex, q, layer);
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let size = vec2i(textureDimensions(out_tex));
  let p = vec2i(gid.xy);
  let live = inside(p, size);
  let acc = wide_conv(p, size, live, wid.z, li);
  if (live) { textureStore(out_tex, p, wid.z, max(wide_film(acc, wid.z), vec4f(0.0))); }
}
