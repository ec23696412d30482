// The 20 feature channels of SPEC §3, computed from a sample's planes on the GPU and packed:
// feat0 = pack2x16float (ch0,ch1) (ch2,ch3) (ch4,ch5) (ch6,ch7);
// feat1 = pack4x8unorm (ch8..11) (ch12..15) (ch16..19), fourth word 0.
// Inputs: albedo_matid (rgba8unorm: albedo.rgb, matid), normal_shadow_transp (rgba8unorm:
// oct normal r, g, shadow, transp), depth (r32float, depth.png / 65535), prev (previous output).

@group(0) @binding(0) var albedo_matid: texture_2d<f32>;
@group(0) @binding(1) var normal_shadow_transp: texture_2d<f32>;
@group(0) @binding(2) var depth_tex: texture_2d<f32>;
@group(0) @binding(3) var prev_tex: texture_2d<f32>;
@group(0) @binding(4) var feat0: texture_storage_2d<rgba32uint, write>;
@group(0) @binding(5) var feat1: texture_storage_2d<rgba32uint, write>;

fn depth_at(p: vec2i, size: vec2i) -> f32 {
  return textureLoad(depth_tex, clamp(p, vec2i(0), size - 1), 0).x;
}

// Mean albedo over the aligned block×block tile holding p; an edge tile averages what it has.
fn tile_mean(p: vec2i, size: vec2i, block: i32) -> vec3f {
  let origin = (p / block) * block;
  var s = vec3f(0.0);
  var n = 0.0;
  for (var dy = 0; dy < block; dy++) {
    for (var dx = 0; dx < block; dx++) {
      let q = origin + vec2i(dx, dy);
      if (all(q < size)) { s += textureLoad(albedo_matid, q, 0).rgb; n += 1.0; }
    }
  }
  return s / n;
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let size = vec2i(textureDimensions(albedo_matid));
  let p = vec2i(gid.xy);
  if (any(p >= size)) { return; }
  let am = textureLoad(albedo_matid, p, 0);
  let nst = textureLoad(normal_shadow_transp, p, 0);
  let normal = nst.xy * 2.0 - 1.0;
  let depth = depth_at(p, size);
  let grad = vec2f(
    (depth_at(p + vec2i(1, 0), size) - depth_at(p - vec2i(1, 0), size)) / 2.0,
    (depth_at(p + vec2i(0, 1), size) - depth_at(p - vec2i(0, 1), size)) / 2.0,
  );
  let prev = textureLoad(prev_tex, p, 0).rgb;
  let mip1 = tile_mean(p, size, 2);
  let mip2 = tile_mean(p, size, 4);
  textureStore(feat0, p, vec4u(
    pack2x16float(am.rg),
    pack2x16float(vec2f(am.b, normal.x)),
    pack2x16float(vec2f(normal.y, depth)),
    pack2x16float(grad),
  ));
  textureStore(feat1, p, vec4u(
    pack4x8unorm(vec4f(am.a, prev)),
    pack4x8unorm(vec4f(mip1, mip2.r)),
    pack4x8unorm(vec4f(mip2.gb, nst.z, nst.w)),
    0u,
  ));
}
