// bottleneck: b = relu(conv1x1(avgpool(e1), C1→C1)), ¼ resolution → rgba32uint (8 halves). No FiLM.
// One pixel per thread; the weights are unpacked once per workgroup into four 4×4 blocks.
override C1: u32 = 8u;

@group(0) @binding(1) var<uniform> params: CnnV3ParamsBottleneck;
@group(0) @binding(2) var enc1_tex: texture_2d<u32>;
@group(0) @binding(3) var out_tex: texture_storage_2d<rgba32uint, write>;

const THREADS: u32 = 64u;

// w[2·(co / 4) + ci / 4]: column = input channel ci % 4, row = output channel co % 4.
var<workgroup> w: array<mat4x4f, 4>;
var<workgroup> bias: array<vec4f, 2>;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) li: u32) {
  let base = params.weight_offset;
  if (li < 16u) {
    // Column (li % 4) of block li / 4.
    let blk = li / 4u;
    let ci = (blk % 2u) * 4u + li % 4u;
    var v = vec4f(0.0);
    if (ci < C1) {
      for (var r = 0u; r < 4u; r++) {
        let co = (blk / 2u) * 4u + r;
        if (co < C1) { v[r] = get_w(base, co * C1 + ci); }
      }
    }
    w[blk][li % 4u] = v;
  } else if (li < 18u) {
    var b = vec4f(0.0);
    for (var r = 0u; r < 4u; r++) {
      let co = (li - 16u) * 4u + r;
      if (co < C1) { b[r] = get_w(base, C1 * C1 + co); }
    }
    bias[li - 16u] = b;
  }
  workgroupBarrier();

  let half = vec2i(textureDimensions(enc1_tex));
  let size = vec2i(textureDimensions(out_tex));
  let p = vec2i(gid.xy);
  if (!inside(p, size)) { return; }
  var s_lo = vec4f(0.0);
  var s_hi = vec4f(0.0);
  var n = 0.0;
  for (var dy = 0; dy < 2; dy++) {
    for (var dx = 0; dx < 2; dx++) {
      let e = 2 * p + vec2i(dx, dy);
      if (inside(e, half)) {
        let v = unpack8(textureLoad(enc1_tex, e, 0));
        s_lo += v[0];
        s_hi += v[1];
        n += 1.0;
      }
    }
  }
  let x_lo = s_lo / n;
  let x_hi = s_hi / n;
  let y_lo = max(bias[0] + w[0] * x_lo + w[1] * x_hi, vec4f(0.0));
  let y_hi = max(bias[1] + w[2] * x_lo + w[3] * x_hi, vec4f(0.0));
  textureStore(out_tex, p, pack8(y_lo, y_hi));
}
