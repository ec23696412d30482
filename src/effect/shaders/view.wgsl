// Shows one thing on a canvas: the output, one of the 20 input channels, one channel of an
// intermediate node, the target, or |output − target|; alone, split against the input albedo,
// or side by side with it. Sources are read with textureLoad at the image pixel under the
// fragment (nodes at lower resolution are indexed at the scaled position).

struct View {
  mode: u32,      // 0 output, 1 feature channel, 2 rgba16float node channel, 3 8-halves node channel, 4 target, 5 |output − target|,
                  // 6 channel of an rgba16float array node (the general path's: channel c in layer c / 4)
  channel: u32,
  arrangement: u32, // 0 single, 1 split at `split`, 2 side by side (canvas is twice as wide)
  signed_: u32,   // 1: map [-1, 1] to [0, 1]
  split: f32,
  gain: f32,
  _pad: vec2f,
}

@group(0) @binding(0) var<uniform> view: View;
@group(0) @binding(1) var out_tex: texture_2d<f32>;
@group(0) @binding(2) var feat0: texture_2d<u32>;
@group(0) @binding(3) var feat1: texture_2d<u32>;
@group(0) @binding(4) var node_f: texture_2d<f32>;
@group(0) @binding(5) var node_u: texture_2d<u32>;
@group(0) @binding(6) var target_tex: texture_2d<f32>;
@group(0) @binding(7) var node_a: texture_2d_array<f32>;

@vertex
fn vs(@builtin(vertex_index) i: u32) -> @builtin(position) vec4f {
  let uv = vec2f(f32((i << 1u) & 2u), f32(i & 2u));
  return vec4f(uv * 2.0 - 1.0, 0.0, 1.0);
}

fn feature(p: vec2i, c: u32) -> f32 {
  if (c < 8u) {
    let w = textureLoad(feat0, p, 0)[c / 2u];
    return unpack2x16float(w)[c % 2u];
  }
  let k = c - 8u;
  let w = textureLoad(feat1, p, 0)[k / 4u];
  return unpack4x8unorm(w)[k % 4u];
}

fn albedo(p: vec2i) -> vec3f {
  return vec3f(feature(p, 0u), feature(p, 1u), feature(p, 2u));
}

fn scaled(p: vec2i, full: vec2u, node: vec2u) -> vec2i {
  return vec2i((vec2u(p) * node) / full);
}

fn shown(p: vec2i) -> vec3f {
  let full = textureDimensions(out_tex);
  let out = textureLoad(out_tex, p, 0);
  var v = 0.0;
  switch view.mode {
    case 0u: { return out.rgb; }
    case 4u: { return textureLoad(target_tex, p, 0).rgb; }
    case 5u: { return abs(out.rgb - textureLoad(target_tex, p, 0).rgb) * view.gain; }
    case 1u: { v = feature(p, view.channel); }
    case 2u: { v = textureLoad(node_f, scaled(p, full, textureDimensions(node_f)), 0)[view.channel]; }
    case 6u: { v = textureLoad(node_a, scaled(p, full, textureDimensions(node_a)), view.channel / 4u, 0)[view.channel % 4u]; }
    default: {
      let t = textureLoad(node_u, scaled(p, full, textureDimensions(node_u)), 0)[view.channel / 2u];
      v = unpack2x16float(t)[view.channel % 2u];
    }
  }
  v *= view.gain;
  if (view.signed_ == 1u) { v = v * 0.5 + 0.5; }
  return vec3f(clamp(v, 0.0, 1.0));
}

@fragment
fn fs(@builtin(position) pos: vec4f) -> @location(0) vec4f {
  let size = vec2i(textureDimensions(out_tex));
  var p = vec2i(pos.xy);
  if (view.arrangement == 2u) {
    if (p.x < size.x) { return vec4f(albedo(p), 1.0); }
    p.x -= size.x;
  } else if (view.arrangement == 1u && f32(p.x) < view.split * f32(size.x)) {
    return vec4f(albedo(p), 1.0);
  }
  return vec4f(shown(p), 1.0);
}
