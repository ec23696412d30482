// Shared by the fast path's 3×3 passes with at most four outputs (enc0, dec1, dec0; prepended
// after common.wgsl): the layer's weights, unpacked once per workgroup into workgroup memory.
// The pass declares:
//   IN, OUT (≤ 4): the layer's input and output channels;
//   STRIDE ≥ IN: the staged slots per tap (a constant: it sizes the array);
//   THREADS: its workgroup's threads;
//   params: its uniforms (binding 1), whose weight_offset is the layer's.

// [tap][ci] → vec4 over the output channels: weight (co, ci, tap) is w[tap·STRIDE + ci][co].
var<workgroup> w: array<vec4f, 9u * STRIDE>;
var<workgroup> bias: vec4f;

// The weights (co, ci, tap) for co < OUT, as one vec4 over co (OIHW order, SPEC §6).
fn conv3_weights4(base: u32, ci: u32, tap: u32) -> vec4f {
  var v = vec4f(0.0);
  for (var co = 0u; co < OUT; co++) { v[co] = get_w(base, (co * IN + ci) * 9u + tap); }
  return v;
}

// The OUT biases, after the weights.
fn conv3_bias4(base: u32) -> vec4f {
  var b = vec4f(0.0);
  for (var co = 0u; co < OUT; co++) { b[co] = get_w(base, OUT * IN * 9u + co); }
  return b;
}

// Fills w and bias; every thread of the workgroup calls it (it ends on a barrier).
fn stage_conv3(li: u32) {
  let base = params.weight_offset;
  for (var k = li; k < 9u * IN; k += THREADS) {
    let tap = k / IN;
    let ci = k % IN;
    w[tap * STRIDE + ci] = conv3_weights4(base, ci, tap);
  }
  if (li == 0u) {
    bias = conv3_bias4(base);
  }
  workgroupBarrier();
}
