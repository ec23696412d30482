// Shared by the fast path's 3×3 passes with at most four outputs (enc0, dec1, dec0; prepended
// after common.wgsl): the layer's weights, unpacked to f32 once per upload (CNNv3Effect.
// uploadWeights, stageConv3 in cnn-effect.ts) into a uniform buffer of vec4s. Uniform memory
// with indices known at compile time lets the GPU feed each weight straight into its multiply
// (NVIDIA's constant banks) instead of a load per use from workgroup or storage memory.
// The pass declares:
//   IN, OUT (≤ 4): the layer's input and output channels;
//   STRIDE ≥ IN: the staged slots per tap (a constant: it sizes the array);
//   EXTRA: vec4s the pass stages after the biases (dec0: up(d1)'s folded weights, stageFoldedUp
//     in cnn-effect.ts), 0 for none.

// [tap][ci] → vec4 over the output channels: weight (co, ci, tap) is w[tap·STRIDE + ci][co]
// (zero for co ≥ OUT); the OUT biases follow at w[BIAS], then the pass's EXTRA vec4s at w[FOLD].
// f32 here, converted to vec4a at use.
@group(0) @binding(8) var<uniform> w: array<vec4f, 9u * STRIDE + 1u + EXTRA>;
const BIAS: u32 = 9u * STRIDE;
const FOLD: u32 = BIAS + 1u;
