// bottleneck: b = relu(conv1x1(avgpool(e1), C1→C1)), ¼ resolution → rgba32uint (8 halves). No FiLM.
override C1: u32 = 8u;

struct CnnV3ParamsBottleneck {
  weight_offset: u32,
  _pad: vec3u,
}

@group(0) @binding(0) var<storage, read> weights: array<u32>;
@group(0) @binding(1) var<uniform> params: CnnV3ParamsBottleneck;
@group(0) @binding(2) var enc1_tex: texture_2d<u32>;
@group(0) @binding(3) var out_tex: texture_storage_2d<rgba32uint, write>;

fn pooled(q: vec2i, half: vec2i) -> array<f32, 8> {
  var s_lo = vec4f(0.0);
  var s_hi = vec4f(0.0);
  var n = 0.0;
  for (var dy = 0; dy < 2; dy++) {
    for (var dx = 0; dx < 2; dx++) {
      let p = 2 * q + vec2i(dx, dy);
      if (inside(p, half)) {
        let v = unpack8(textureLoad(enc1_tex, p, 0));
        s_lo += v[0];
        s_hi += v[1];
        n += 1.0;
      }
    }
  }
  s_lo /= n;
  s_hi /= n;
  return array<f32, 8>(s_lo.x, s_lo.y, s_lo.z, s_lo.w, s_hi.x, s_hi.y, s_hi.z, s_hi.w);
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let half = vec2i(textureDimensions(enc1_tex));
  let size = vec2i(textureDimensions(out_tex));
  let p = vec2i(gid.xy);
  if (!inside(p, size)) { return; }
  let base = params.weight_offset;
  let x = pooled(p, half);
  var y: array<f32, 8>;
  for (var co = 0u; co < C1; co++) {
    var acc = get_w(base, C1 * C1 + co);
    for (var ci = 0u; ci < C1; ci++) { acc += get_w(base, co * C1 + ci) * x[ci]; }
    y[co] = max(acc, 0.0);
  }
  textureStore(out_tex, p, pack8(vec4f(y[0], y[1], y[2], y[3]), vec4f(y[4], y[5], y[6], y[7])));
}
