// enc1: e1 = relu(FiLM(conv3x3(avgpool(e0), C0→C1), γ1, β1)), ½ resolution → rgba32uint (8 halves).
override C0: u32 = 4u;
override C1: u32 = 8u;

struct CnnV3ParamsEnc1 {
  weight_offset: u32,
  _pad: vec3u,
  gamma_lo: vec4f,
  gamma_hi: vec4f,
  beta_lo: vec4f,
  beta_hi: vec4f,
}

@group(0) @binding(0) var<storage, read> weights: array<u32>;
@group(0) @binding(1) var<uniform> params: CnnV3ParamsEnc1;
@group(0) @binding(2) var enc0_tex: texture_2d<f32>;
@group(0) @binding(3) var out_tex: texture_storage_2d<rgba32uint, write>;

// [tap][ci] → output channels 0..3 (lo) and 4..7 (hi).
var<workgroup> w_lo: array<vec4f, 36>;
var<workgroup> w_hi: array<vec4f, 36>;
var<workgroup> bias_lo: vec4f;
var<workgroup> bias_hi: vec4f;

// 2×2 mean of e0 at pooled position q; a block cut by the edge averages what it has.
fn pooled(q: vec2i, full: vec2i) -> vec4f {
  var s = vec4f(0.0);
  var n = 0.0;
  for (var dy = 0; dy < 2; dy++) {
    for (var dx = 0; dx < 2; dx++) {
      let p = 2 * q + vec2i(dx, dy);
      if (inside(p, full)) { s += textureLoad(enc0_tex, p, 0); n += 1.0; }
    }
  }
  return s / n;
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let base = params.weight_offset;
  for (var k = lid; k < 9u * C0; k += 64u) {
    let tap = k / C0;
    let ci = k % C0;
    var lo = vec4f(0.0);
    var hi = vec4f(0.0);
    for (var co = 0u; co < C1; co++) {
      let v = get_w(base, (co * C0 + ci) * 9u + tap);
      if (co < 4u) { lo[co] = v; } else { hi[co - 4u] = v; }
    }
    w_lo[tap * 4u + ci] = lo;
    w_hi[tap * 4u + ci] = hi;
  }
  if (lid == 0u) {
    var lo = vec4f(0.0);
    var hi = vec4f(0.0);
    for (var co = 0u; co < C1; co++) {
      let v = get_w(base, C1 * C0 * 9u + co);
      if (co < 4u) { lo[co] = v; } else { hi[co - 4u] = v; }
    }
    bias_lo = lo;
    bias_hi = hi;
  }
  workgroupBarrier();

  let full = vec2i(textureDimensions(enc0_tex));
  let size = vec2i(textureDimensions(out_tex));
  let p = vec2i(gid.xy);
  if (!inside(p, size)) { return; }
  var lo = bias_lo;
  var hi = bias_hi;
  for (var ky = 0; ky < 3; ky++) {
    for (var kx = 0; kx < 3; kx++) {
      let q = p + vec2i(kx - 1, ky - 1);
      if (!inside(q, size)) { continue; }
      let x = pooled(q, full);
      let tap = u32(ky * 3 + kx) * 4u;
      for (var ci = 0u; ci < C0; ci++) {
        lo += w_lo[tap + ci] * x[ci];
        hi += w_hi[tap + ci] * x[ci];
      }
    }
  }
  lo = max(params.gamma_lo * lo + params.beta_lo, vec4f(0.0));
  hi = max(params.gamma_hi * hi + params.beta_hi, vec4f(0.0));
  textureStore(out_tex, p, pack8(lo, hi));
}
