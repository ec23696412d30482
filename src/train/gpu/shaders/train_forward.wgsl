// Training forward pass (SPEC §4–5). Entry points, in dispatch order:
//   patch_setup  one workgroup per patch: origin, condition, dropout draws, FiLM MLP → patch info
//                (and a feedback run's draws: which patches, their earlier views, their noise)
//   conv_fwd     one workgroup per (8×8 tile, patch, output group) of layer LAYER (0 enc0,
//                1 enc1, 2 bottleneck, 3 dec1): z and e = relu(FiLM(z)) (the bottleneck: relu(z));
//                enc0 and enc1 also write avgpool(e) of the tile, the next layer's input
//   dec0_fwd     the same for dec0: output, loss (mse or l1: LOSS), g = dL/d(FiLM output), the tile's loss partial
// A feedback run (FEEDBACK) dispatches conv_fwd and dec0_fwd for each earlier frame first (FRAME 2,
// then 1): those passes see only the feedback patches that have the frame, and dec0 writes its
// output to A_FB, the next frame's prev.rgb, instead of a loss.
override LAYER: u32 = 0u;
// 4 · input groups · taps of the layer: its weights for one output group, vec4 over the group.
override WSZ: u32 = 180u;

var<workgroup> w_s: array<vec4f, WSZ>;
var<workgroup> e_s: array<vec4f, TILE_PX>;
var<workgroup> loss_s: array<f32, TILE_PX>;

// Top-left of a `S` window centred on c, shifted inside [0, n) (patches.ts patchOrigin).
fn patch_origin(c: u32, n: u32) -> u32 {
  if (n <= S) {
    return 0u;
  }
  return u32(min(i32(n - S), max(0, i32(c) - i32(S / 2u))));
}

// patch_origin of a centre moved by an earlier frame's shift, which may leave the image.
fn shifted_origin(c: u32, shift: i32, n: u32) -> u32 {
  return patch_origin(u32(max(0, i32(c) + shift)), n);
}

// A shift of one frame: uniform over the integers in [−FB_SHIFT, FB_SHIFT] (patches.ts drawFeedbackViews).
fn frame_shift(n: u32, k: u32) -> i32 {
  return i32(floor(rand01(n, k) * f32(2 * FB_SHIFT + 1))) - FB_SHIFT;
}

// A feedback run's draws for patch n (cpu-engine.ts feedbackViews and feedBack): whether it feeds
// back, one or two earlier frames, still or moved, σ, then per frame its shift and exposure.
fn feedback_setup(n: u32, entry: vec4u, im: vec4u) {
  let base = R_FBI + n * FBI_STRIDE;
  for (var k = 0u; k < FBI_STRIDE; k++) {
    parts[base + k] = 0.0;
  }
  if (rand01(n, FB_DRAW) >= FB_P) {
    return;
  }
  let frames = select(2u, 1u, rand01(n, FB_DRAW + 1u) < 0.5);
  let still = FB_STILL > 0.0 && rand01(n, FB_DRAW + 2u) < FB_STILL;
  parts[base] = bitcast<f32>(frames);
  parts[base + 1u] = FB_NOISE * rand01(n, FB_DRAW + 3u);
  var dx = 0;
  var dy = 0;
  for (var f = 1u; f <= frames; f++) {
    let k = FB_DRAW + 4u + 3u * (f - 1u);
    dx += frame_shift(n, k);
    dy += frame_shift(n, k + 1u);
    var exposure = 1.0 + (rand01(n, k + 2u) * 2.0 - 1.0) * FB_EXPOSURE;
    var sx = dx;
    var sy = dy;
    if (still) {
      sx = 0;
      sy = 0;
      exposure = 1.0;
    }
    let w = base + fb_frame_word(f);
    parts[w] = bitcast<f32>(shifted_origin(entry.y, sx, im.y));
    parts[w + 1u] = bitcast<f32>(shifted_origin(entry.z, sy, im.z));
    parts[w + 2u] = exposure;
  }
}

var<workgroup> absent_s: u32;

// Whether patch n has no frame FRAME to run (not a feedback patch, or a one-frame chain in frame 2).
// Called by the whole workgroup: a storage value is not uniform, so it goes through workgroup memory.
fn frame_absent(n: u32, li: u32) -> bool {
  if (li == 0u) {
    absent_s = select(0u, 1u, fb_word(n, 0u) < FRAME);
  }
  return workgroupUniformLoad(&absent_s) != 0u;
}

var<workgroup> hid_s: array<f32, HID>;

// One workgroup per patch: the draws, then the FiLM MLP with one thread per hidden unit and per output.
@compute @workgroup_size(TILE_PX)
fn patch_setup(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let n = wg.x;
  if (n >= st.n) {
    return;
  }
  let base = R_PI + n * PI_STRIDE;
  // Draws 0..D−1: the condition, uniform in [0, 1) (SPEC §5.4) or the image's style; D..D+2: the three dropout groups.
  if (li < D) {
    parts[base + li] = cond_value(n, li);
  }
  // FiLM MLP: Linear(D→16) → relu → Linear(16→FO); each hidden thread draws the condition itself.
  if (li < HID) {
    var s = state[P_M0B + li];
    for (var d = 0u; d < D; d++) {
      s += state[P_M0W + li * D + d] * cond_value(n, d);
    }
    hid_s[li] = max(s, 0.0);
    parts[base + PI_HID + li] = max(s, 0.0);
  }
  workgroupBarrier();
  for (var o = li; o < FO; o += TILE_PX) {
    var s = state[P_M2B + o];
    for (var h = 0u; h < HID; h++) {
      s += state[P_M2W + o * HID + h] * hid_s[h];
    }
    parts[base + PI_FILM + o] = s;
  }
  if (li == 0u) {
    let entry = lookup[st.first + n];
    let im = lookup[entry.x];
    var mask = 0u;
    if (rand01(n, D) < st.drop_p) { mask |= 1u; }
    if (rand01(n, D + 1u) < st.drop_p * 0.67) { mask |= 2u; }
    if (rand01(n, D + 2u) < 0.5) { mask |= 4u; }
    parts[base + PI_META + 0u] = bitcast<f32>(patch_origin(entry.y, im.y));
    parts[base + PI_META + 1u] = bitcast<f32>(patch_origin(entry.z, im.z));
    parts[base + PI_META + 2u] = bitcast<f32>(entry.x);
    parts[base + PI_META + 3u] = bitcast<f32>(mask);
    if (FEEDBACK) {
      feedback_setup(n, entry, im);
    }
  }
}

// w_s[(4·ig + c)·kk + tap] = W[4·og + lane, in_channel(ig, c), tap] over the lanes.
fn stage_weights(l: u32, og: u32, li: u32) {
  let kk = layer_kk(l);
  let slots = 4u * layer_in_groups(l) * kk;
  for (var e = li; e < slots; e += TILE_PX) {
    let s = e / kk;
    let tap = e % kk;
    var w = vec4f(0.0);
    for (var lane = 0u; lane < 4u; lane++) {
      w[lane] = weight(l, 4u * og + lane, s / 4u, s % 4u, tap);
    }
    w_s[e] = w;
  }
}

// Output group og of layer l's conv (bias + Σ W · input, zero padding) at (y, x).
// (Staging enc0's feature halo in workgroup memory instead measured slower on an H100: 0.177 vs 0.148 ms at batch 256.)
fn conv_out(l: u32, n: u32, og: u32, y: i32, x: i32) -> vec4f {
  let kk = layer_kk(l);
  var acc = bias4(l, og);
  if (l == 0u) {
    // The features: each tap's pixel read as five vec4, dropout applied.
    let pr = patch_ref(n);
    for (var tap = 0u; tap < 9u; tap++) {
      let yy = y + i32(tap / 3u) - 1;
      let xx = x + i32(tap % 3u) - 1;
      let q = patch_pixel(pr, yy, xx);
      // A feedback patch's zero padding inside the patch is not zero (prev.rgb, noise).
      if (q < 0 && !(FEEDBACK && inside_sq(yy, xx, S))) {
        continue;
      }
      for (var j = 0u; j < 5u; j++) {
        let v = input_vec(n, pr, q, yy, xx, j);
        let b = 36u * j + tap;
        acc += w_s[b] * v.x + w_s[b + 9u] * v.y + w_s[b + 18u] * v.z + w_s[b + 27u] * v.w;
      }
    }
    return acc;
  }
  let pad = select(1, 0, kk == 1u);
  let groups = layer_in_groups(l);
  for (var tap = 0u; tap < kk; tap++) {
    let yy = y + i32(tap / 3u) - pad;
    let xx = x + i32(tap % 3u) - pad;
    for (var ig = 0u; ig < groups; ig++) {
      let v = in_vec(l, n, ig, yy, xx);
      let b = 4u * ig * kk + tap;
      acc += w_s[b] * v.x + w_s[b + kk] * v.y + w_s[b + 2u * kk] * v.z + w_s[b + 3u * kk] * v.w;
    }
  }
  return acc;
}

@compute @workgroup_size(TILE_PX)
fn conv_fwd(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let n = wg.y;
  if (n >= st.n) {
    return;
  }
  if (FRAME > 0u && frame_absent(n, li)) {
    return;
  }
  let og = wg.z;
  stage_weights(LAYER, og, li);
  workgroupBarrier();
  let side = layer_side(LAYER);
  let tw = layer_tiles_w(LAYER);
  let ty0 = (wg.x / tw) * TILE;
  let tx0 = (wg.x % tw) * TILE;
  let y = ty0 + li / TILE;
  let x = tx0 + li % TILE;
  var e = vec4f(0.0);
  if (y < side && x < side) {
    let z = conv_out(LAYER, n, og, i32(y), i32(x));
    switch LAYER {
      case 0u: {
        e = max(gamma4(0u, n, og) * z + beta4(0u, n, og), vec4f(0.0));
        act[at(A_Z0, n, G0N, og, S, y, x)] = z;
        act[at(A_E0, n, G0N, og, S, y, x)] = e;
      }
      case 1u: {
        e = max(gamma4(1u, n, og) * z + beta4(1u, n, og), vec4f(0.0));
        act[at(A_Z1, n, G1N, og, S1, y, x)] = z;
        act[at(A_E1, n, G1N, og, S1, y, x)] = e;
      }
      case 2u: {
        act[at(A_B, n, G1N, og, S2, y, x)] = max(z, vec4f(0.0));
      }
      default: {
        e = max(gamma4(3u, n, og) * z + beta4(3u, n, og), vec4f(0.0));
        act[at(A_Z2, n, G0N, og, S1, y, x)] = z;
        act[at(A_E2, n, G0N, og, S1, y, x)] = e;
      }
    }
  }
  if (LAYER <= 1u) {
    // Tiles start at even pixels, so the 4×4 pooled pixels of this tile have their blocks here.
    e_s[li] = e;
    workgroupBarrier();
    let ps = (side + 1u) / 2u;
    let py = ty0 / 2u + li / 4u;
    let px = tx0 / 2u + li % 4u;
    if (li < 16u && py < ps && px < ps) {
      var s = vec4f(0.0);
      for (var dy = 0u; dy < 2u; dy++) {
        for (var dx = 0u; dx < 2u; dx++) {
          let ly = 2u * (li / 4u) + dy;
          let lx = 2u * (li % 4u) + dx;
          if (ty0 + ly < side && tx0 + lx < side) { s += e_s[ly * TILE + lx]; }
        }
      }
      let v = s / block_count(py, px, side);
      if (LAYER == 0u) {
        act[at(A_P0, n, G0N, og, S1, py, px)] = v;
      } else {
        act[at(A_P1, n, G1N, og, S2, py, px)] = v;
      }
    }
  }
}

// The target of the latest earlier frame at patch pixel (y, x): where that view was and as it was
// lit (colour scaled like its input's, clamped to 1), after the strength knob (cpu-engine.ts feedBack).
fn previous_target(n: u32, pr: PatchRef, y: u32, x: u32) -> vec4f {
  let w = fb_frame_word(1u);
  let im = lookup[pmeta(n, 2u)];
  let view = PatchRef(pr.base, pr.width, min(i32(S), i32(im.y) - i32(fb_word(n, w))), min(i32(S), i32(im.z) - i32(fb_word(n, w + 1u))), fb_word(n, w), fb_word(n, w + 1u), 0u);
  let q = patch_pixel(view, i32(y), i32(x));
  if (q < 0) {
    return vec4f(0.0);
  }
  var t = data[u32(q) * 6u + 5u];
  if (STRENGTH > 0u) {
    let plain = vec4f(data[u32(q) * 6u].xyz, 1.0 - data[u32(q) * 6u + 4u].w);
    t = plain + pinfo(n, STRENGTH - 1u) * (t - plain);
  }
  return vec4f(min(t.xyz * fb_float(n, w + 2u), vec3f(1.0)), t.w);
}

@compute @workgroup_size(TILE_PX)
fn dec0_fwd(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let n = wg.y;
  if (n >= st.n) {
    return;
  }
  if (FRAME > 0u && frame_absent(n, li)) {
    return;
  }
  stage_weights(4u, 0u, li);
  workgroupBarrier();
  let y = (wg.x / TW0) * TILE + li / TILE;
  let x = (wg.x % TW0) * TILE + li % TILE;
  var sse = 0.0;
  if (y < S && x < S) {
    let z = conv_out(4u, n, 0u, i32(y), i32(x));
    let pr = patch_ref(n);
    let q = patch_pixel(pr, i32(y), i32(x));
    var t = vec4f(0.0);
    var base = vec4f(0.0, 0.0, 0.0, 1.0);
    if (FEEDBACK) {
      // The base is the frame's own input: its albedo exposed and noised, padding included.
      base = vec4f(input_vec(n, pr, q, i32(y), i32(x), 0u).xyz, 1.0 - input_vec(n, pr, q, i32(y), i32(x), 4u).w);
    }
    if (q >= 0) {
      t = data[u32(q) * 6u + 5u];
      let alb = data[u32(q) * 6u];
      // transp (feature 19) is in the context dropout group.
      let tr = data[u32(q) * 6u + 4u].w * dropout_keep(pr.mask, 4u).w;
      if (!FEEDBACK) {
        base = vec4f(alb.xyz, 1.0 - tr);
      }
      if (STRENGTH > 0u) {
        // The strength knob: the target moves from the untouched input (strength 0) to the style (1).
        let plain = vec4f(alb.xyz, 1.0 - data[u32(q) * 6u + 4u].w);
        t = plain + pinfo(n, STRENGTH - 1u) * (t - plain);
      }
    }
    let f = gamma4(4u, n, 0u) * z + beta4(4u, n, 0u);
    var out: vec4f;
    var dout: vec4f; // d out / d f
    if (OUTPUT_MODE == 1u) {
      // tanh saturates in f32 long before 15; the clamp keeps exp() inside tanh finite.
      let th = tanh(clamp(f, vec4f(-15.0), vec4f(15.0)));
      let pre = base + th;
      out = clamp(pre, vec4f(0.0), vec4f(1.0));
      dout = select(vec4f(0.0), 1.0 - th * th, (pre > vec4f(0.0)) & (pre < vec4f(1.0)));
    } else {
      out = 1.0 / (1.0 + exp(-f));
      dout = out * (1.0 - out);
    }
    if (FRAME > 0u) {
      act[fb_at(n, y, x)] = out;
    } else {
      if (FEEDBACK && TEMPORAL_A > 0.0 && fb_word(n, 0u) > 0u) {
        t += TEMPORAL_A * (act[fb_at(n, y, x)] - previous_target(n, pr, y, x));
      }
      let diff = out - t;
      act[at(A_Z3, n, 1u, 0u, S, y, x)] = z;
      if (LOSS == 1u) {
        // l1: Σ|y − t|, d/dy = sign(y − t) (0 at equality).
        sse = dot(abs(diff), vec4f(1.0));
        act[at(A_G3, n, 1u, 0u, S, y, x)] = st.inv_count * sign(diff) * dout;
      } else {
        sse = dot(diff, diff);
        act[at(A_G3, n, 1u, 0u, S, y, x)] = 2.0 * st.inv_count * diff * dout;
      }
    }
  }
  if (FRAME > 0u) {
    return;
  }
  loss_s[li] = sse;
  workgroupBarrier();
  for (var w = 32u; w > 0u; w >>= 1u) {
    if (li < w) {
      loss_s[li] += loss_s[li + w];
    }
    workgroupBarrier();
  }
  if (li == 0u) {
    parts[R_LOSS + n * TW0 * TW0 + wg.x] = loss_s[0];
  }
}
