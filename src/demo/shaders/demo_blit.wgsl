// The demo player's present pass: the `sink` node (rgba16float, sRGB-encoded values as the
// network writes them) drawn opaque onto the canvas, one texel per canvas pixel (the player
// sizes its canvas to the demo).

@group(0) @binding(0) var sink_tex: texture_2d<f32>;

@vertex
fn vs(@builtin(vertex_index) i: u32) -> @builtin(position) vec4f {
  let uv = vec2f(f32((i << 1u) & 2u), f32(i & 2u));
  return vec4f(uv * 2.0 - 1.0, 0.0, 1.0);
}

@fragment
fn fs(@builtin(position) pos: vec4f) -> @location(0) vec4f {
  let p = vec2i(floor(pos.xy));
  return vec4f(clamp(textureLoad(sink_tex, p, 0).rgb, vec3f(0.0), vec3f(1.0)), 1.0);
}
