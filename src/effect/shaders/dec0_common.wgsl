// dec0's output, shared by its fast and general passes (dec0.wgsl, wide_dec0.wgsl): from
// z = FiLM(conv3x3(cat(up(d1), e0))), y = sigmoid(z), or with RESIDUAL (the opt-in residual
// output, ModelConfig.output) y = clamp(base + tanh(z), 0, 1), base = (albedo.rgb, 1 − transp)
// read from the packed features (channels 0–2 and 19). Bindings 4–6 follow the pass's d1 (2)
// and e0 (3).
override RESIDUAL: bool = false;

@group(0) @binding(4) var feat0_tex: texture_2d<u32>;
@group(0) @binding(5) var feat1_tex: texture_2d<u32>;
@group(0) @binding(6) var out_tex: texture_storage_2d<rgba16float, write>;

fn write_output(p: vec2i, z: vec4a) {
  if (RESIDUAL) {
    let f0 = textureLoad(feat0_tex, p, 0);
    let base = vec4a(vec4f(unpack2x16float(f0.x), unpack2x16float(f0.y).x, 1.0 - unpack4x8unorm(textureLoad(feat1_tex, p, 0).z).w));
    // tanh is flat to the f16 output beyond ±TANH_LIMIT (common.wgsl); clamping first keeps
    // exp-based tanh implementations finite.
    textureStore(out_tex, p, vec4f(clamp(base + tanh(clamp(z, vec4a(-TANH_LIMIT), vec4a(TANH_LIMIT))), vec4a(0.0), vec4a(1.0))));
  } else {
    // exp(−z) overflowing (to +inf, z < −11 in f16) gives 1 / inf = 0, the sigmoid's limit.
    textureStore(out_tex, p, vec4f(1.0 / (1.0 + exp(-z))));
  }
}
