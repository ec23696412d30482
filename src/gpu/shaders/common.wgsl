// Shared by every CNN pass (prepended by the pipeline builder).
// Weights: one read-only buffer of f16 pairs, the layout of cnn_v3_weights.bin (SPEC §6):
// weight (o, i, ky, kx) of a layer at base + ((o·IN + i)·K + ky)·K + kx, bias o at
// base + OUT·IN·K·K + o; half k in word k/2, even k in the low 16 bits.

fn get_w(base: u32, idx: u32) -> f32 {
  let i = base + idx;
  let pair = unpack2x16float(weights[i >> 1u]);
  return select(pair.x, pair.y, (i & 1u) == 1u);
}

fn inside(p: vec2i, size: vec2i) -> bool {
  return all(p >= vec2i(0)) && all(p < size);
}

// Eight halves of an rgba32uint texel, as two vec4f.
fn unpack8(t: vec4u) -> array<vec4f, 2> {
  let a = unpack2x16float(t.x);
  let b = unpack2x16float(t.y);
  let c = unpack2x16float(t.z);
  let d = unpack2x16float(t.w);
  return array<vec4f, 2>(vec4f(a, b), vec4f(c, d));
}

fn pack8(lo: vec4f, hi: vec4f) -> vec4u {
  return vec4u(pack2x16float(lo.xy), pack2x16float(lo.zw), pack2x16float(hi.xy), pack2x16float(hi.zw));
}
