// Shared by every training kernel (prepended by the pipeline builder in src/gpu/train/).
//
// Buffers (one bind group layout for all kernels):
//   state  f32: params[NP] | adam m[NP] | adam v[NP] | grad[NP] | loss per step[...]
//          params in the parameter table's order (src/model/params.ts).
//   data   vec4f: the training set, 6 vec4 per pixel: features 0–3, 4–7, 8–11, 12–15, 16–19, target RGBA.
//   act    f32: per-patch info and every activation / activation gradient of the batch, NHWC.
//   parts  f32: per-tile weight-gradient partials, per-workgroup loss partials, per-patch FiLM grads.
//   lookup vec4u: image table [base pixel, width, height, 0] then the epoch order [image, cx, cy, 0].
//   st     the step's record (dynamic offset: one record per step of a submitted chunk).
// Every gradient is a sum in a fixed order (no atomics), so a run is reproducible on one device.

struct TrainStep {
  n: u32,          // patches in this step (≤ the batch size)
  step: u32,       // global Adam step, 1-based: also the PRNG counter
  first: u32,      // index into meta of this step's first order entry
  loss_slot: u32,  // where the step's loss goes in state
  lr: f32,
  bc1: f32,        // 1 − β1^step
  bc2: f32,        // 1 − β2^step
  inv_count: f32,  // 1 / (n · S² · 4): the loss is a mean over every RGBA value of the batch
  seed: u32,
  drop_p: f32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<storage, read_write> state: array<f32>;
@group(0) @binding(1) var<storage, read> data: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> act: array<f32>;
@group(0) @binding(3) var<storage, read_write> parts: array<f32>;
@group(0) @binding(4) var<storage, read> lookup: array<vec4u>;
@group(0) @binding(5) var<uniform> st: TrainStep;

// The network's shape (SPEC §4) and the patch side.
override C0: u32 = 4u;
override C1: u32 = 8u;
override D: u32 = 5u;
override S: u32 = 64u;
// 0: y = sigmoid(FiLM(conv)); 1: y = clamp(base + tanh(FiLM(conv)), 0, 1) (ModelConfig.output).
override OUTPUT_MODE: u32 = 0u;
override S1: u32 = (S + 1u) / 2u;
override S2: u32 = (S1 + 1u) / 2u;
override NP: u32 = 2740u;

// Parameter offsets (weights; a conv layer's bias follows its weights), from the table.
override P_ENC0: u32 = 0u;
override P_ENC1: u32 = 724u;
override P_BOTT: u32 = 1020u;
override P_DEC1: u32 = 1092u;
override P_DEC0: u32 = 1672u;
override P_M0W: u32 = 1964u;
override P_M0B: u32 = 2044u;
override P_M2W: u32 = 2060u;
override P_M2B: u32 = 2828u;

// Offsets in act.
override A_PI: u32 = 0u;   // patch info, PI_STRIDE floats per patch
override A_Z0: u32 = 0u;   // enc0 conv output (pre-FiLM), S²·C0 per patch
override A_Z1: u32 = 0u;   // enc1 conv output, S1²·C1
override A_B: u32 = 0u;    // bottleneck output (after relu), S2²·C1
override A_Z2: u32 = 0u;   // dec1 conv output, S1²·C0
override A_Z3: u32 = 0u;   // dec0 conv output, S²·4
override A_G3: u32 = 0u;   // dL/d(dec0 FiLM output), S²·4
override A_DC0: u32 = 0u;  // dL/d cat(up(d1), e0), S²·2C0
override A_G2: u32 = 0u;   // dL/d(dec1 FiLM output), S1²·C0
override A_DC1: u32 = 0u;  // dL/d cat(up(b), e1), S1²·2C1
override A_GB: u32 = 0u;   // dL/d(bottleneck conv output), S2²·C1
override A_G1: u32 = 0u;   // dL/d(enc1 FiLM output), S1²·C1
override A_G0: u32 = 0u;   // dL/d(enc0 FiLM output), S²·C0

// Offsets in parts: per layer, one record per (patch, 8×8 tile): the layer's weight and bias
// gradients, then (FiLM layers) Σ g·z and Σ g per channel.
override R_ENC0: u32 = 0u;
override R_ENC1: u32 = 0u;
override R_BOTT: u32 = 0u;
override R_DEC1: u32 = 0u;
override R_DEC0: u32 = 0u;
override R_LOSS: u32 = 0u;  // per (patch, forward workgroup of 64 pixels)
override R_FB: u32 = 0u;    // per patch: dL/dFiLM[FO] then dL/d(hidden pre-relu)[HID]

const HID: u32 = 16u;
const IN0: u32 = 20u;
const OUTC: u32 = 4u;
// Largest channel count a thread keeps in registers (gpu-trainer.ts refuses wider networks).
const MAXC: u32 = 16u;
const MAXC2: u32 = 32u;

override FO: u32 = 2u * (C0 + C1 + C0 + OUTC);
// FiLM output layout (SPEC §4): γ0 β0 γ1 β1 γ2 β2 γ3 β3.
override F_G0: u32 = 0u;
override F_B0: u32 = C0;
override F_G1: u32 = 2u * C0;
override F_B1: u32 = 2u * C0 + C1;
override F_G2: u32 = 2u * C0 + 2u * C1;
override F_B2: u32 = 3u * C0 + 2u * C1;
override F_G3: u32 = 4u * C0 + 2u * C1;
override F_B3: u32 = 4u * C0 + 2u * C1 + OUTC;

// Patch info: cond[D] hidden[HID] film[FO] then x0, y0, image, dropout mask (as u32 bits).
override PI_HID: u32 = D;
override PI_FILM: u32 = D + HID;
override PI_META: u32 = D + HID + FO;
override PI_STRIDE: u32 = D + HID + FO + 4u;

// Tiles of 8×8 pixels per patch at each resolution (weight-gradient workgroups).
override TW0: u32 = (S + 7u) / 8u;
override TW1: u32 = (S1 + 7u) / 8u;
override TW2: u32 = (S2 + 7u) / 8u;
// Forward workgroups of 64 pixels per patch at full resolution (loss partials).
override NWG0: u32 = (S * S + 63u) / 64u;

// ---------------------------------------------------------------- counter-based PRNG

fn hash_u32(v: u32) -> u32 {
  // lowbias32 (Chris Wellons): a full-avalanche 32-bit mix.
  var x = v;
  x = x ^ (x >> 16u);
  x = x * 0x7feb352du;
  x = x ^ (x >> 15u);
  x = x * 0x846ca68bu;
  x = x ^ (x >> 16u);
  return x;
}

/** Uniform in [0, 1) for draw k of patch n in this step; depends on (seed, step, n, k) only. */
fn rand01(n: u32, k: u32) -> f32 {
  let h = hash_u32(hash_u32(hash_u32(st.seed ^ 0x9e3779b9u) ^ st.step) ^ (n * 0x85ebca6bu)) ;
  return f32(hash_u32(h ^ (k * 0xc2b2ae35u + 0x27d4eb2fu)) >> 8u) * (1.0 / 16777216.0);
}

// ---------------------------------------------------------------- patch info

fn pinfo(n: u32, k: u32) -> f32 {
  return act[A_PI + n * PI_STRIDE + k];
}

fn film(n: u32, k: u32) -> f32 {
  return act[A_PI + n * PI_STRIDE + PI_FILM + k];
}

fn pmeta(n: u32, k: u32) -> u32 {
  return bitcast<u32>(act[A_PI + n * PI_STRIDE + PI_META + k]);
}

// The dropout keep factors of vec4 j of a pixel's features (SPEC §5.4): geometric {3..7},
// context {8, 18, 19}, temporal {9, 10, 11}; mask bits 0, 1, 2.
fn dropout_keep(mask: u32, j: u32) -> vec4f {
  let geo = select(1.0, 0.0, (mask & 1u) != 0u);
  let ctx = select(1.0, 0.0, (mask & 2u) != 0u);
  let tmp = select(1.0, 0.0, (mask & 4u) != 0u);
  switch j {
    case 0u: { return vec4f(1.0, 1.0, 1.0, geo); }
    case 1u: { return vec4f(geo); }
    case 2u: { return vec4f(ctx, tmp, tmp, tmp); }
    case 4u: { return vec4f(1.0, 1.0, ctx, ctx); }
    default: { return vec4f(1.0); }
  }
}

// Index in data of the patch pixel (y, x), or −1 outside the patch or where the image is
// smaller than the patch (zero padding).
fn patch_pixel(n: u32, y: i32, x: i32) -> i32 {
  if (y < 0 || x < 0 || y >= i32(S) || x >= i32(S)) {
    return -1;
  }
  let im = lookup[pmeta(n, 2u)];
  let ix = i32(pmeta(n, 0u)) + x;
  let iy = i32(pmeta(n, 1u)) + y;
  if (ix >= i32(im.y) || iy >= i32(im.z)) {
    return -1;
  }
  return i32(im.x + u32(iy) * im.y + u32(ix));
}

// Vec4 j of a patch pixel: features (j < 5, dropout applied) or the target (j = 5); zero outside.
fn patch_vec(n: u32, j: u32, y: i32, x: i32) -> vec4f {
  let q = patch_pixel(n, y, x);
  if (q < 0) {
    return vec4f(0.0);
  }
  return data[u32(q) * 6u + j] * dropout_keep(pmeta(n, 3u), j);
}

fn x_in(n: u32, i: u32, y: i32, x: i32) -> f32 {
  return patch_vec(n, i / 4u, y, x)[i % 4u];
}

// ---------------------------------------------------------------- activations (FiLM + relu applied on read)

fn inside_sq(y: i32, x: i32, side: u32) -> bool {
  return y >= 0 && x >= 0 && y < i32(side) && x < i32(side);
}

fn a0(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let z = act[A_Z0 + ((n * S + y) * S + x) * C0 + c];
  return max(film(n, F_G0 + c) * z + film(n, F_B0 + c), 0.0);
}

fn a1(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let z = act[A_Z1 + ((n * S1 + y) * S1 + x) * C1 + c];
  return max(film(n, F_G1 + c) * z + film(n, F_B1 + c), 0.0);
}

fn a2(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let z = act[A_Z2 + ((n * S1 + y) * S1 + x) * C0 + c];
  return max(film(n, F_G2 + c) * z + film(n, F_B2 + c), 0.0);
}

fn bval(n: u32, c: u32, y: u32, x: u32) -> f32 {
  return act[A_B + ((n * S2 + y) * S2 + x) * C1 + c];
}

// Pixels of the 2×2 block of a pooled pixel that exist (ceil-size pooling, partial blocks).
fn block_count(py: u32, px: u32, side: u32) -> f32 {
  return f32((min(2u * py + 2u, side) - 2u * py) * (min(2u * px + 2u, side) - 2u * px));
}

fn pool0(n: u32, c: u32, py: u32, px: u32) -> f32 {
  var s = 0.0;
  for (var dy = 0u; dy < 2u; dy++) {
    for (var dx = 0u; dx < 2u; dx++) {
      let y = 2u * py + dy;
      let x = 2u * px + dx;
      if (y < S && x < S) { s += a0(n, c, y, x); }
    }
  }
  return s / block_count(py, px, S);
}

fn pool1(n: u32, c: u32, py: u32, px: u32) -> f32 {
  var s = 0.0;
  for (var dy = 0u; dy < 2u; dy++) {
    for (var dx = 0u; dx < 2u; dx++) {
      let y = 2u * py + dy;
      let x = 2u * px + dx;
      if (y < S1 && x < S1) { s += a1(n, c, y, x); }
    }
  }
  return s / block_count(py, px, S1);
}

// ---------------------------------------------------------------- the five conv layers
// Layer ids: 0 enc0, 1 enc1, 2 bottleneck, 3 dec1, 4 dec0.

fn layer_in_ch(l: u32) -> u32 {
  switch l {
    case 0u: { return IN0; }
    case 1u: { return C0; }
    case 2u: { return C1; }
    case 3u: { return 2u * C1; }
    default: { return 2u * C0; }
  }
}

fn layer_out_ch(l: u32) -> u32 {
  switch l {
    case 0u: { return C0; }
    case 1u, 2u: { return C1; }
    case 3u: { return C0; }
    default: { return OUTC; }
  }
}

fn layer_k(l: u32) -> u32 {
  return select(3u, 1u, l == 2u);
}

fn layer_side(l: u32) -> u32 {
  switch l {
    case 0u, 4u: { return S; }
    case 1u, 3u: { return S1; }
    default: { return S2; }
  }
}

fn layer_param(l: u32) -> u32 {
  switch l {
    case 0u: { return P_ENC0; }
    case 1u: { return P_ENC1; }
    case 2u: { return P_BOTT; }
    case 3u: { return P_DEC1; }
    default: { return P_DEC0; }
  }
}

// Input channel i of layer l at (y, x) of the layer's resolution, zero padded.
fn layer_in(l: u32, n: u32, i: u32, y: i32, x: i32) -> f32 {
  if (!inside_sq(y, x, layer_side(l))) {
    return 0.0;
  }
  let uy = u32(y);
  let ux = u32(x);
  switch l {
    case 0u: { return x_in(n, i, y, x); }
    case 1u: { return pool0(n, i, uy, ux); }
    case 2u: { return pool1(n, i, uy, ux); }
    case 3u: {
      if (i < C1) { return bval(n, i, uy >> 1u, ux >> 1u); }
      return a1(n, i - C1, uy, ux);
    }
    default: {
      if (i < C0) { return a2(n, i, uy >> 1u, ux >> 1u); }
      return a0(n, i - C0, uy, ux);
    }
  }
}

// dL/d(conv output) of layer l (dec0, dec1, bottleneck, enc1), zero outside the layer.
fn layer_dz(l: u32, n: u32, o: u32, y: i32, x: i32) -> f32 {
  if (!inside_sq(y, x, layer_side(l))) {
    return 0.0;
  }
  let uy = u32(y);
  let ux = u32(x);
  switch l {
    case 1u: { return film(n, F_G1 + o) * act[A_G1 + ((n * S1 + uy) * S1 + ux) * C1 + o]; }
    case 2u: { return act[A_GB + ((n * S2 + uy) * S2 + ux) * C1 + o]; }
    case 3u: { return film(n, F_G2 + o) * act[A_G2 + ((n * S1 + uy) * S1 + ux) * C0 + o]; }
    case 4u: { return film(n, F_G3 + o) * act[A_G3 + ((n * S + uy) * S + ux) * OUTC + o]; }
    default: { return film(n, F_G0 + o) * act[A_G0 + ((n * S + uy) * S + ux) * C0 + o]; }
  }
}

// The conv outputs of layer l at (y, x): bias + Σ W · input (SPEC §4: OIHW, zero padding).
fn conv_forward(l: u32, n: u32, y: i32, x: i32) -> array<f32, MAXC> {
  let cin = layer_in_ch(l);
  let cout = layer_out_ch(l);
  let k = layer_k(l);
  let pw = layer_param(l);
  let pad = i32(k / 2u);
  var acc: array<f32, MAXC>;
  for (var o = 0u; o < cout; o++) {
    acc[o] = state[pw + cout * cin * k * k + o];
  }
  for (var i = 0u; i < cin; i++) {
    for (var ky = 0u; ky < k; ky++) {
      for (var kx = 0u; kx < k; kx++) {
        let v = layer_in(l, n, i, y + i32(ky) - pad, x + i32(kx) - pad);
        for (var o = 0u; o < cout; o++) {
          acc[o] += state[pw + ((o * cin + i) * k + ky) * k + kx] * v;
        }
      }
    }
  }
  return acc;
}

// dL/d(input) of layer l at (y, x) of its input: Σ_o Σ_k W[o, i, k] · dz[o, p − k + pad].
fn conv_input_grad(l: u32, n: u32, y: i32, x: i32) -> array<f32, MAXC2> {
  let cin = layer_in_ch(l);
  let cout = layer_out_ch(l);
  let k = layer_k(l);
  let pw = layer_param(l);
  let pad = i32(k / 2u);
  var acc: array<f32, MAXC2>;
  for (var o = 0u; o < cout; o++) {
    for (var ky = 0u; ky < k; ky++) {
      for (var kx = 0u; kx < k; kx++) {
        let g = layer_dz(l, n, o, y - i32(ky) + pad, x - i32(kx) + pad);
        for (var i = 0u; i < cin; i++) {
          acc[i] += state[pw + ((o * cin + i) * k + ky) * k + kx] * g;
        }
      }
    }
  }
  return acc;
}
