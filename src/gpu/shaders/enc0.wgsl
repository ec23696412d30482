// enc0: e0 = relu(FiLM(conv3x3(features, 20→C0), γ0, β0)), full resolution → rgba16float.
override C0: u32 = 4u;

@group(0) @binding(0) var<storage, read> weights: array<u32>;
@group(0) @binding(1) var<uniform> params: CnnV3Params4ch;
@group(0) @binding(2) var feat0: texture_2d<u32>;
@group(0) @binding(3) var feat1: texture_2d<u32>;
@group(0) @binding(4) var out_tex: texture_storage_2d<rgba16float, write>;

const IN: u32 = 20u;
// Weights unpacked once per workgroup as [ky][kx][ci] → vec4 over output channels.
var<workgroup> w: array<vec4f, 180>;
var<workgroup> bias: vec4f;

fn features(p: vec2i, size: vec2i) -> array<f32, 20> {
  var f: array<f32, 20>;
  if (!inside(p, size)) { return f; }
  let a = textureLoad(feat0, p, 0);
  let b = textureLoad(feat1, p, 0);
  let a0 = unpack2x16float(a.x); let a1 = unpack2x16float(a.y);
  let a2 = unpack2x16float(a.z); let a3 = unpack2x16float(a.w);
  let b0 = unpack4x8unorm(b.x); let b1 = unpack4x8unorm(b.y); let b2 = unpack4x8unorm(b.z);
  f[0] = a0.x; f[1] = a0.y; f[2] = a1.x; f[3] = a1.y; f[4] = a2.x; f[5] = a2.y; f[6] = a3.x; f[7] = a3.y;
  f[8] = b0.x; f[9] = b0.y; f[10] = b0.z; f[11] = b0.w;
  f[12] = b1.x; f[13] = b1.y; f[14] = b1.z; f[15] = b1.w;
  f[16] = b2.x; f[17] = b2.y; f[18] = b2.z; f[19] = b2.w;
  return f;
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let base = params.weight_offset;
  for (var k = lid; k < 180u; k += 64u) {
    let tap = k / IN;
    let ci = k % IN;
    var v = vec4f(0.0);
    for (var co = 0u; co < C0; co++) { v[co] = get_w(base, (co * IN + ci) * 9u + tap); }
    w[k] = v;
  }
  if (lid == 0u) {
    var b = vec4f(0.0);
    for (var co = 0u; co < C0; co++) { b[co] = get_w(base, C0 * IN * 9u + co); }
    bias = b;
  }
  workgroupBarrier();

  let size = vec2i(textureDimensions(feat0));
  let p = vec2i(gid.xy);
  if (!inside(p, size)) { return; }
  var acc = bias;
  for (var ky = 0; ky < 3; ky++) {
    for (var kx = 0; kx < 3; kx++) {
      let f = features(p + vec2i(kx - 1, ky - 1), size);
      let row = u32(ky * 3 + kx) * IN;
      for (var ci = 0u; ci < IN; ci++) { acc += w[row + ci] * f[ci]; }
    }
  }
  textureStore(out_tex, p, max(params.gamma * acc + params.beta, vec4f(0.0)));
}
