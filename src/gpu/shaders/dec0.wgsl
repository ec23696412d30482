// dec0: y = sigmoid(FiLM(conv3x3(cat(up(d1), e0), 2·C0→4), γ3, β3)), full resolution → rgba16float RGBA.
// With RESIDUAL (the opt-in residual output, ModelConfig.output): y = clamp(base + tanh(FiLM(…)), 0, 1),
// base = (albedo.rgb, 1 − transp) read from the packed features (channels 0–2 and 19).
override C0: u32 = 4u;
override RESIDUAL: bool = false;

@group(0) @binding(0) var<storage, read> weights: array<u32>;
@group(0) @binding(1) var<uniform> params: CnnV3Params4ch;
@group(0) @binding(2) var dec1_tex: texture_2d<f32>;
@group(0) @binding(3) var enc0_tex: texture_2d<f32>;
@group(0) @binding(4) var feat0_tex: texture_2d<u32>;
@group(0) @binding(5) var feat1_tex: texture_2d<u32>;
@group(0) @binding(6) var out_tex: texture_storage_2d<rgba16float, write>;

const OUT: u32 = 4u;
// [tap][ci over the 2·C0 cat channels] → vec4 over RGBA.
var<workgroup> w: array<vec4f, 72>;
var<workgroup> bias: vec4f;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let base = params.weight_offset;
  let IN = 2u * C0;
  for (var k = lid; k < 9u * IN; k += 64u) {
    let tap = k / IN;
    let ci = k % IN;
    var v = vec4f(0.0);
    for (var co = 0u; co < OUT; co++) { v[co] = get_w(base, (co * IN + ci) * 9u + tap); }
    w[tap * 8u + ci] = v;
  }
  if (lid == 0u) {
    var b = vec4f(0.0);
    for (var co = 0u; co < OUT; co++) { b[co] = get_w(base, OUT * IN * 9u + co); }
    bias = b;
  }
  workgroupBarrier();

  let size = vec2i(textureDimensions(out_tex));
  let p = vec2i(gid.xy);
  if (!inside(p, size)) { return; }
  var acc = bias;
  for (var ky = 0; ky < 3; ky++) {
    for (var kx = 0; kx < 3; kx++) {
      let q = p + vec2i(kx - 1, ky - 1);
      if (!inside(q, size)) { continue; }
      let up = textureLoad(dec1_tex, q / 2, 0);
      let skip = textureLoad(enc0_tex, q, 0);
      let tap = u32(ky * 3 + kx) * 8u;
      for (var ci = 0u; ci < C0; ci++) {
        acc += w[tap + ci] * up[ci];
        acc += w[tap + C0 + ci] * skip[ci];
      }
    }
  }
  let z = params.gamma * acc + params.beta;
  if (RESIDUAL) {
    let f0 = textureLoad(feat0_tex, p, 0);
    let base = vec4f(unpack2x16float(f0.x), unpack2x16float(f0.y).x, 1.0 - unpack4x8unorm(textureLoad(feat1_tex, p, 0).z).w);
    // tanh is flat to f16 beyond ±15; clamping first keeps exp-based tanh implementations finite.
    textureStore(out_tex, p, clamp(base + tanh(clamp(z, vec4f(-15.0), vec4f(15.0))), vec4f(0.0), vec4f(1.0)));
  } else {
    textureStore(out_tex, p, 1.0 / (1.0 + exp(-z)));
  }
}
