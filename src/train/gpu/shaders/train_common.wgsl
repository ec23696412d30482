// Shared by every training kernel (prepended by the pipeline builder in src/train/gpu/).
//
// Buffers (one bind group layout for all kernels):
//   state  f32: params[NP] | adam m[NP] | adam v[NP] | grad[NP] | loss per step[...]
//          params in the parameter table's order (src/model/params.ts).
//   data   vec4f: the training set, 6 vec4 per pixel: features 0–3, 4–7, 8–11, 12–15, 16–19, target RGBA.
//   act    vec4f: every activation / activation gradient of the batch, channels in groups of
//          four (a vec4 per pixel and group; lanes past the layer's width hold 0), planar per
//          (patch, group): index ((n · groups + g) · side + y) · side + x.
//   parts  f32: per-patch info, weight-gradient partials, per-tile loss partials, per-patch FiLM grads.
//   lookup vec4u: image table [base pixel, width, height, style (two halves, or NO_STYLE)] then the
//   epoch order [image, cx, cy, 0].
//   st     the step's record (dynamic offset: one record per step of a submitted chunk).
// Every gradient is a sum in a fixed order (no atomics), so a run is reproducible on one device.
//
// The pixel kernels run one workgroup per (8×8 tile, patch, channel group): a thread holds one
// vec4 of accumulators, never an array indexed at run time (NVIDIA compilers put those in
// local memory). The weights a workgroup needs are staged in workgroup memory as vec4 over the
// four channels of its group, so each input value costs four vec4 multiply-adds.

struct TrainStep {
  n: u32,          // patches in this step (≤ the batch size)
  step: u32,       // global Adam step, 1-based: also the PRNG counter
  first: u32,      // index into meta of this step's first order entry
  loss_slot: u32,  // where the step's loss goes in state
  lr: f32,
  bc1: f32,        // 1 − β1^step
  bc2: f32,        // 1 − β2^step
  inv_count: f32,  // 1 / (n · S² · 4): the loss is a mean over every RGBA value of the batch (mse or l1)
  seed: u32,
  drop_p: f32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<storage, read_write> state: array<f32>;
@group(0) @binding(1) var<storage, read> data: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> act: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> parts: array<f32>;
@group(0) @binding(4) var<storage, read> lookup: array<vec4u>;
@group(0) @binding(5) var<uniform> st: TrainStep;

// The network's shape (SPEC §4) and the patch side.
// Shared with TypeScript through KERNEL_CONSTANTS (layout.ts), set on every pipeline: no defaults here.
override TILE: u32;          // pixels per side of a tile; a pixel kernel's workgroup is TILE × TILE threads
override TILE_PX: u32 = TILE * TILE;
override FILM_THREADS: u32;  // film_back's workgroup
override REDUCE_ROW: u32;    // reduce_adam workgroups per dispatch row

override C0: u32 = 4u;
override C1: u32 = 8u;
override D: u32 = 5u;
override S: u32 = 64u;
// 0: y = sigmoid(FiLM(conv)); 1: y = clamp(base + tanh(FiLM(conv)), 0, 1) (ModelConfig.output).
override OUTPUT_MODE: u32 = 0u;
// --loss (model/loss.ts): 0 mse, 1 l1 (mean |y − t|, gradient sign(y − t)).
override LOSS: u32 = 0u;
// --weight-decay: AdamW's decoupled decay, p ← p·(1 − lr·WD) before the Adam step, on the conv
// weights only (adam.ts decayedParams); 0 = none.
override WD: f32 = 0.0;
// Condition controls (ModelConfig.styleConds / strengthCond): images' style coordinates feed
// style_p0/p1; STRENGTH = entry + 1 of the condition that scales the style (0 = none).
override STYLE_CONDS: bool = false;
override STRENGTH: u32 = 0u;
override S1: u32 = (S + 1u) / 2u;
override S2: u32 = (S1 + 1u) / 2u;
override NP: u32 = 2740u;
// Channel groups of four.
override G0N: u32 = (C0 + 3u) / 4u;
override G1N: u32 = (C1 + 3u) / 4u;

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

// Offsets in act (vec4 units). z = conv output before FiLM, e = after FiLM and relu,
// p = avgpool(e), g = dL/d(FiLM output) with relu' applied, ds = dL/d(the skip half of a cat).
override A_Z0: u32 = 0u;   // full, G0N
override A_E0: u32 = 0u;   // full, G0N
override A_P0: u32 = 0u;   // ½, G0N
override A_Z1: u32 = 0u;   // ½, G1N
override A_E1: u32 = 0u;   // ½, G1N
override A_P1: u32 = 0u;   // ¼, G1N
override A_B: u32 = 0u;    // ¼, G1N: bottleneck output after relu
override A_Z2: u32 = 0u;   // ½, G0N
override A_E2: u32 = 0u;   // ½, G0N
override A_Z3: u32 = 0u;   // full, 1
override A_G3: u32 = 0u;   // full, 1: dL/d(dec0 FiLM output)
override A_DS0: u32 = 0u;  // full, G0N: dL/d e0 through dec0's cat
override A_G2: u32 = 0u;   // ½, G0N
override A_DS1: u32 = 0u;  // ½, G1N: dL/d e1 through dec1's cat
override A_GB: u32 = 0u;   // ¼, G1N: dL/d(bottleneck conv output)
override A_G1: u32 = 0u;   // ½, G1N
override A_G0: u32 = 0u;   // full, G0N

// Offsets in parts: patch info (PI_STRIDE floats per patch); per layer, RN_* records per patch,
// each over a strip of tiles: the layer's weight and bias gradients, then (FiLM layers) Σ g·z
// and Σ g per channel.
override R_PI: u32 = 0u;
override R_ENC0: u32 = 0u;
override R_ENC1: u32 = 0u;
override R_BOTT: u32 = 0u;
override R_DEC1: u32 = 0u;
override R_DEC0: u32 = 0u;
override R_LOSS: u32 = 0u;  // per (patch, full-resolution tile)
override R_FB: u32 = 0u;    // per patch: dL/dFiLM[FO] then dL/d(hidden pre-relu)[HID]
override RN_ENC0: u32 = 1u;
override RN_ENC1: u32 = 1u;
override RN_BOTT: u32 = 1u;
override RN_DEC1: u32 = 1u;
override RN_DEC0: u32 = 1u;

// Where layer l's weight-gradient records start in the partials buffer, and how many a patch has.
fn layer_parts(l: u32) -> u32 {
  switch l {
    case 0u: { return R_ENC0; }
    case 1u: { return R_ENC1; }
    case 2u: { return R_BOTT; }
    case 3u: { return R_DEC1; }
    default: { return R_DEC0; }
  }
}

fn layer_records(l: u32) -> u32 {
  switch l {
    case 0u: { return RN_ENC0; }
    case 1u: { return RN_ENC1; }
    case 2u: { return RN_BOTT; }
    case 3u: { return RN_DEC1; }
    default: { return RN_DEC0; }
  }
}

const HID: u32 = 16u;
const IN0: u32 = 20u;
const OUTC: u32 = 4u;

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

// --feedback-p (cpu-engine.ts feedBack, patches.ts): a fraction FB_P of the patches see as prev.rgb
// the network's own output (the step's weights, no gradient) for one or two earlier views of the
// same place, each shifted by up to FB_SHIFT px a frame and exposed by 1 ± FB_EXPOSURE; FB_STILL of
// them keep the same view; FB_NOISE bounds the per-patch σ of the albedo noise of every frame;
// TEMPORAL_A = W/(1 + W) of --temporal-weight W rewrites their target. The forward kernels run
// once per frame, oldest first: FRAME 2 (two frames back), 1 (one back), then 0 (the trained one).
override FEEDBACK: bool = false;
override FRAME: u32 = 0u;
override FB_P: f32 = 0.0;
override FB_STILL: f32 = 0.0;
override FB_NOISE: f32 = 0.0;
override TEMPORAL_A: f32 = 0.0;
// Set from patches.ts FEEDBACK_MAX_SHIFT and FEEDBACK_MAX_EXPOSURE.
override FB_SHIFT: i32 = 0;
override FB_EXPOSURE: f32 = 0.0;
// The output of the latest earlier frame, per patch (full resolution, one group): the next frame's prev.rgb.
override A_FB: u32 = 0u;
// Per patch, FBI_STRIDE words: frames (0 = not a feedback patch, 1 or 2), σ, then per earlier
// frame f = 1, 2 its origin x0, y0 (u32) and exposure (f32).
override R_FBI: u32 = 0u;
override FBI_STRIDE: u32;
// rand01 draw numbers: the feedback draws follow the condition and dropout ones; the noise draws
// come after them, three per (frame, pixel).
override FB_DRAW: u32 = D + 3u;
override NOISE_DRAW: u32 = D + 16u;

// Tiles of 8×8 pixels per patch side at each resolution.
override TW0: u32 = (S + TILE - 1u) / TILE;
override TW1: u32 = (S1 + TILE - 1u) / TILE;
override TW2: u32 = (S2 + TILE - 1u) / TILE;

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

// Condition entry d of patch n: the image's style coordinates for style_p0/p1 when training uses
// them and the image has some, else the playbook's uniform draw.
fn cond_value(n: u32, d: u32) -> f32 {
  if (STYLE_CONDS && (d == 3u || d == 4u)) {
    let style = lookup[lookup[st.first + n].x].w;
    if (style != 0xffffffffu) {
      return unpack2x16float(style)[d - 3u];
    }
  }
  return rand01(n, d);
}

// ---------------------------------------------------------------- patch info

fn pinfo(n: u32, k: u32) -> f32 {
  return parts[R_PI + n * PI_STRIDE + k];
}

fn film(n: u32, k: u32) -> f32 {
  return parts[R_PI + n * PI_STRIDE + PI_FILM + k];
}

fn pmeta(n: u32, k: u32) -> u32 {
  return bitcast<u32>(parts[R_PI + n * PI_STRIDE + PI_META + k]);
}

// FiLM values k0 + 4g … k0 + 4g + 3 of patch n, 0 past `count` (padding lanes of a group).
fn film4(n: u32, k0: u32, g: u32, count: u32) -> vec4f {
  var v = vec4f(0.0);
  for (var c = 0u; c < 4u; c++) {
    if (4u * g + c < count) {
      v[c] = film(n, k0 + 4u * g + c);
    }
  }
  return v;
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

// Where patch n lies in the training set, read once per thread.
struct PatchRef {
  base: u32,   // data pixel of the image's (0, 0)
  width: u32,
  w: i32,      // pixels of the patch that exist in the image (the rest is zero padding)
  h: i32,
  x0: u32,
  y0: u32,
  mask: u32,
}

// An earlier frame's view carries no dropout (cpu-engine.ts crops it whole).
fn patch_ref(n: u32) -> PatchRef {
  let im = lookup[pmeta(n, 2u)];
  var x0 = pmeta(n, 0u);
  var y0 = pmeta(n, 1u);
  var mask = pmeta(n, 3u);
  if (FRAME > 0u) {
    x0 = fb_word(n, fb_frame_word(FRAME));
    y0 = fb_word(n, fb_frame_word(FRAME) + 1u);
    mask = 0u;
  }
  let w = min(i32(S), i32(im.y) - i32(x0));
  let h = min(i32(S), i32(im.z) - i32(y0));
  return PatchRef(im.x, im.y, w, h, x0, y0, mask);
}

fn fb_word(n: u32, k: u32) -> u32 {
  return bitcast<u32>(parts[R_FBI + n * FBI_STRIDE + k]);
}

fn fb_float(n: u32, k: u32) -> f32 {
  return parts[R_FBI + n * FBI_STRIDE + k];
}

// Where earlier frame f (1 or 2) starts in a patch's feedback info.
fn fb_frame_word(f: u32) -> u32 {
  return 2u + 3u * (f - 1u);
}

// Index in act of the fed-back output at patch pixel (y, x).
fn fb_at(n: u32, y: u32, x: u32) -> u32 {
  return A_FB + (n * S + y) * S + x;
}

// Frame FRAME's albedo noise at patch pixel (y, x): uniform in ±σ, fresh per frame, pixel and channel.
fn albedo_noise(n: u32, y: i32, x: i32, sigma: f32) -> vec3f {
  let k = NOISE_DRAW + ((FRAME * S + u32(y)) * S + u32(x)) * 3u;
  return (vec3f(rand01(n, k), rand01(n, k + 1u), rand01(n, k + 2u)) * 2.0 - 1.0) * sigma;
}

// Features vec4 j of the input of frame FRAME of a feedback run at patch pixel (y, x), inside the
// patch (data pixel q, −1 for zero padding). As cpu-engine.ts feedBack builds it: an earlier view
// is exposed (albedo and its means, clamped to 1); every frame of a feedback patch gets albedo
// noise, padding included; prev.rgb is the frame before's output (the trained frame's, whatever
// its temporal dropout drew; the oldest view keeps the data's).
fn feedback_vec(n: u32, pr: PatchRef, q: i32, y: i32, x: i32, j: u32) -> vec4f {
  var v = vec4f(0.0);
  if (q >= 0) {
    v = data[u32(q) * 6u + j];
  }
  let frames = fb_word(n, 0u);
  if (FRAME == 0u) {
    v *= dropout_keep(pr.mask, j);
    if (frames == 0u) {
      return v;
    }
  } else {
    let e = fb_float(n, fb_frame_word(FRAME) + 2u);
    switch j {
      case 0u: { v = vec4f(min(v.xyz * e, vec3f(1.0)), v.w); }
      case 3u: { v = min(v * e, vec4f(1.0)); }
      case 4u: { v = vec4f(min(v.xy * e, vec2f(1.0)), v.zw); }
      default: {}
    }
  }
  let sigma = fb_float(n, 1u);
  if (j == 0u && sigma > 0.0) {
    v = vec4f(clamp(v.xyz + albedo_noise(n, y, x, sigma), vec3f(0.0), vec3f(1.0)), v.w);
  }
  if (j == 2u && FRAME < frames) {
    v = vec4f(v.x, act[fb_at(n, u32(y), u32(x))].xyz);
  }
  return v;
}

// Features vec4 j of the input the network sees at patch pixel (y, x) (data pixel q, −1 outside
// the patch or the image): the data with the patch's dropout, and a feedback run's changes.
fn input_vec(n: u32, pr: PatchRef, q: i32, y: i32, x: i32, j: u32) -> vec4f {
  if (FEEDBACK) {
    if (!inside_sq(y, x, S)) {
      return vec4f(0.0);
    }
    return feedback_vec(n, pr, q, y, x, j);
  }
  return feature_vec(q, j, pr.mask);
}

// Index in data of the patch pixel (y, x), or −1 outside the patch or the image (zero padding).
fn patch_pixel(pr: PatchRef, y: i32, x: i32) -> i32 {
  if (y < 0 || x < 0 || y >= pr.h || x >= pr.w) {
    return -1;
  }
  return i32(pr.base + (pr.y0 + u32(y)) * pr.width + pr.x0 + u32(x));
}

// ---------------------------------------------------------------- layers
// Layer ids: 0 enc0, 1 enc1, 2 bottleneck, 3 dec1, 4 dec0.

fn inside_sq(y: i32, x: i32, side: u32) -> bool {
  return y >= 0 && x >= 0 && y < i32(side) && x < i32(side);
}

// Index in act of group g of a tensor with `groups` groups at (y, x) of patch n.
fn at(base: u32, n: u32, groups: u32, g: u32, side: u32, y: u32, x: u32) -> u32 {
  return base + ((n * groups + g) * side + y) * side + x;
}

// Pixels of the 2×2 block of a pooled pixel that exist (ceil-size pooling, partial blocks).
fn block_count(py: u32, px: u32, side: u32) -> f32 {
  return f32((min(2u * py + 2u, side) - 2u * py) * (min(2u * px + 2u, side) - 2u * px));
}

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

// Input groups: a cat input is two groups-of-four halves (the upsampled one first).
fn layer_in_groups(l: u32) -> u32 {
  switch l {
    case 0u: { return 5u; }
    case 1u: { return G0N; }
    case 2u: { return G1N; }
    case 3u: { return 2u * G1N; }
    default: { return 2u * G0N; }
  }
}

fn layer_out_groups(l: u32) -> u32 {
  switch l {
    case 0u, 3u: { return G0N; }
    case 1u, 2u: { return G1N; }
    default: { return 1u; }
  }
}

fn layer_kk(l: u32) -> u32 {
  return select(9u, 1u, l == 2u);
}

fn layer_side(l: u32) -> u32 {
  switch l {
    case 0u, 4u: { return S; }
    case 1u, 3u: { return S1; }
    default: { return S2; }
  }
}

fn layer_tiles_w(l: u32) -> u32 {
  switch l {
    case 0u, 4u: { return TW0; }
    case 1u, 3u: { return TW1; }
    default: { return TW2; }
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

// The layer's input channel of lane c of input group ig, or −1 for a padding lane.
fn in_channel(l: u32, ig: u32, c: u32) -> i32 {
  var half = 0u;
  var g = ig;
  var width = layer_in_ch(l);
  if (l == 3u || l == 4u) {
    let hg = select(G0N, G1N, l == 3u);
    width = width / 2u;
    if (ig >= hg) {
      half = width;
      g = ig - hg;
    }
  }
  let i = 4u * g + c;
  return select(-1, i32(half + i), i < width);
}

// Weight W[o, in_channel(l, ig, c), tap], 0 for padding lanes / channels.
fn weight(l: u32, o: u32, ig: u32, c: u32, tap: u32) -> f32 {
  let i = in_channel(l, ig, c);
  if (i < 0 || o >= layer_out_ch(l)) {
    return 0.0;
  }
  return state[layer_param(l) + (o * layer_in_ch(l) + u32(i)) * layer_kk(l) + tap];
}

// Bias of output group og (0 for padding lanes).
fn bias4(l: u32, og: u32) -> vec4f {
  let cout = layer_out_ch(l);
  let at0 = layer_param(l) + cout * layer_in_ch(l) * layer_kk(l);
  var v = vec4f(0.0);
  for (var c = 0u; c < 4u; c++) {
    if (4u * og + c < cout) {
      v[c] = state[at0 + 4u * og + c];
    }
  }
  return v;
}

// γ of output group og of a FiLM layer (1 for the bottleneck, which has none).
// Where FiLM layer l's γ start in the MLP's output; its β follow its channels (SPEC §4's order).
fn film_gamma_of(l: u32) -> u32 {
  switch l {
    case 0u: { return F_G0; }
    case 1u: { return F_G1; }
    case 3u: { return F_G2; }
    default: { return F_G3; }
  }
}

fn gamma4(l: u32, n: u32, og: u32) -> vec4f {
  if (l == 2u) {
    return vec4f(1.0);
  }
  return film4(n, film_gamma_of(l), og, layer_out_ch(l));
}

fn beta4(l: u32, n: u32, og: u32) -> vec4f {
  return film4(n, film_gamma_of(l) + layer_out_ch(l), og, layer_out_ch(l));
}

// Input group ig of layer l ≥ 1 at (y, x) of its resolution, zero padded.
fn in_vec(l: u32, n: u32, ig: u32, y: i32, x: i32) -> vec4f {
  if (!inside_sq(y, x, layer_side(l))) {
    return vec4f(0.0);
  }
  let uy = u32(y);
  let ux = u32(x);
  switch l {
    case 1u: { return act[at(A_P0, n, G0N, ig, S1, uy, ux)]; }
    case 2u: { return act[at(A_P1, n, G1N, ig, S2, uy, ux)]; }
    case 3u: {
      if (ig < G1N) { return act[at(A_B, n, G1N, ig, S2, uy >> 1u, ux >> 1u)]; }
      return act[at(A_E1, n, G1N, ig - G1N, S1, uy, ux)];
    }
    default: {
      if (ig < G0N) { return act[at(A_E2, n, G0N, ig, S1, uy >> 1u, ux >> 1u)]; }
      return act[at(A_E0, n, G0N, ig - G0N, S, uy, ux)];
    }
  }
}

// Features vec4 j (dropout applied) of data pixel q, zero for q < 0.
fn feature_vec(q: i32, j: u32, mask: u32) -> vec4f {
  if (q < 0) {
    return vec4f(0.0);
  }
  return data[u32(q) * 6u + j] * dropout_keep(mask, j);
}

// g (dL/d FiLM output, relu' applied) of output group og of layer l at (y, x); zero outside.
fn g_vec(l: u32, n: u32, og: u32, y: i32, x: i32) -> vec4f {
  if (!inside_sq(y, x, layer_side(l))) {
    return vec4f(0.0);
  }
  let uy = u32(y);
  let ux = u32(x);
  switch l {
    case 0u: { return act[at(A_G0, n, G0N, og, S, uy, ux)]; }
    case 1u: { return act[at(A_G1, n, G1N, og, S1, uy, ux)]; }
    case 2u: { return act[at(A_GB, n, G1N, og, S2, uy, ux)]; }
    case 3u: { return act[at(A_G2, n, G0N, og, S1, uy, ux)]; }
    default: { return act[at(A_G3, n, 1u, 0u, S, uy, ux)]; }
  }
}

// The conv output z of output group og of a FiLM layer at (y, x) inside the layer.
fn z_vec(l: u32, n: u32, og: u32, y: u32, x: u32) -> vec4f {
  switch l {
    case 0u: { return act[at(A_Z0, n, G0N, og, S, y, x)]; }
    case 1u: { return act[at(A_Z1, n, G1N, og, S1, y, x)]; }
    case 3u: { return act[at(A_Z2, n, G0N, og, S1, y, x)]; }
    default: { return act[at(A_Z3, n, 1u, 0u, S, y, x)]; }
  }
}
