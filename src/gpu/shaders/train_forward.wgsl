// Training forward pass (SPEC §4–5). Entry points, in dispatch order:
//   patch_setup   one thread per patch: origin, condition, dropout draws, FiLM MLP → patch info
//   conv_fwd      one thread per pixel of layer LAYER (0 enc0, 1 enc1, 2 bottleneck, 3 dec1)
//   dec0_fwd      one thread per full-res pixel: output, loss, dL/d(FiLM output) and loss partials
override LAYER: u32 = 0u;

// Top-left of a `S` window centred on c, shifted inside [0, n) (patches.ts patchOrigin).
fn patch_origin(c: u32, n: u32) -> u32 {
  if (n <= S) {
    return 0u;
  }
  return u32(min(i32(n - S), max(0, i32(c) - i32(S / 2u))));
}

@compute @workgroup_size(64)
fn patch_setup(@builtin(global_invocation_id) gid: vec3u) {
  let n = gid.x;
  if (n >= st.n) {
    return;
  }
  let entry = lookup[st.first + n];
  let im = lookup[entry.x];
  let base = A_PI + n * PI_STRIDE;
  // Draws 0..D−1: the condition, uniform in [0, 1) (SPEC §5.4); D..D+2: the three dropout groups.
  for (var d = 0u; d < D; d++) {
    act[base + d] = rand01(n, d);
  }
  var mask = 0u;
  if (rand01(n, D) < st.drop_p) { mask |= 1u; }
  if (rand01(n, D + 1u) < st.drop_p * 0.67) { mask |= 2u; }
  if (rand01(n, D + 2u) < 0.5) { mask |= 4u; }
  // FiLM MLP: Linear(D→16) → relu → Linear(16→FO).
  for (var h = 0u; h < HID; h++) {
    var s = state[P_M0B + h];
    for (var d = 0u; d < D; d++) {
      s += state[P_M0W + h * D + d] * act[base + d];
    }
    act[base + PI_HID + h] = max(s, 0.0);
  }
  for (var o = 0u; o < FO; o++) {
    var s = state[P_M2B + o];
    for (var h = 0u; h < HID; h++) {
      s += state[P_M2W + o * HID + h] * act[base + PI_HID + h];
    }
    act[base + PI_FILM + o] = s;
  }
  act[base + PI_META + 0u] = bitcast<f32>(patch_origin(entry.y, im.y));
  act[base + PI_META + 1u] = bitcast<f32>(patch_origin(entry.z, im.z));
  act[base + PI_META + 2u] = bitcast<f32>(entry.x);
  act[base + PI_META + 3u] = bitcast<f32>(mask);
}

// enc0 reads each input pixel once as five vec4 (conv_forward would fetch it per channel).
fn enc0_forward(n: u32, y: i32, x: i32) -> array<f32, MAXC> {
  var acc: array<f32, MAXC>;
  for (var o = 0u; o < C0; o++) {
    acc[o] = state[P_ENC0 + C0 * IN0 * 9u + o];
  }
  let mask = pmeta(n, 3u);
  for (var ky = 0u; ky < 3u; ky++) {
    for (var kx = 0u; kx < 3u; kx++) {
      let q = patch_pixel(n, y + i32(ky) - 1, x + i32(kx) - 1);
      if (q < 0) {
        continue;
      }
      for (var j = 0u; j < 5u; j++) {
        let v = data[u32(q) * 6u + j] * dropout_keep(mask, j);
        for (var c = 0u; c < 4u; c++) {
          let i = 4u * j + c;
          for (var o = 0u; o < C0; o++) {
            acc[o] += state[P_ENC0 + ((o * IN0 + i) * 3u + ky) * 3u + kx] * v[c];
          }
        }
      }
    }
  }
  return acc;
}

@compute @workgroup_size(64)
fn conv_fwd(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let n = wg.y;
  let side = layer_side(LAYER);
  let p = wg.x * 64u + li;
  if (n >= st.n || p >= side * side) {
    return;
  }
  let y = p / side;
  let x = p % side;
  var z: array<f32, MAXC>;
  if (LAYER == 0u) {
    z = enc0_forward(n, i32(y), i32(x));
  } else {
    z = conv_forward(LAYER, n, i32(y), i32(x));
  }
  let cout = layer_out_ch(LAYER);
  for (var o = 0u; o < cout; o++) {
    switch LAYER {
      case 0u: { act[A_Z0 + (n * S * S + p) * C0 + o] = z[o]; }
      case 1u: { act[A_Z1 + (n * S1 * S1 + p) * C1 + o] = z[o]; }
      case 2u: { act[A_B + (n * S2 * S2 + p) * C1 + o] = max(z[o], 0.0); }
      default: { act[A_Z2 + (n * S1 * S1 + p) * C0 + o] = z[o]; }
    }
  }
}

var<workgroup> loss_s: array<f32, 64>;

@compute @workgroup_size(64)
fn dec0_fwd(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let n = wg.y;
  let p = wg.x * 64u + li;
  var sse = 0.0;
  if (n < st.n && p < S * S) {
    let y = i32(p / S);
    let x = i32(p % S);
    let z = conv_forward(4u, n, y, x);
    let t = patch_vec(n, 5u, y, x);
    let alb = patch_vec(n, 0u, y, x);
    let tr = patch_vec(n, 4u, y, x).w;
    let base = vec4f(alb.xyz, 1.0 - tr);
    for (var o = 0u; o < OUTC; o++) {
      let f = film(n, F_G3 + o) * z[o] + film(n, F_B3 + o);
      var out: f32;
      var dout: f32; // d out / d f
      if (OUTPUT_MODE == 1u) {
        // tanh saturates in f32 long before 15; the clamp keeps exp() inside tanh finite.
        let th = tanh(clamp(f, -15.0, 15.0));
        let pre = base[o] + th;
        out = clamp(pre, 0.0, 1.0);
        dout = select(0.0, 1.0 - th * th, pre > 0.0 && pre < 1.0);
      } else {
        out = 1.0 / (1.0 + exp(-f));
        dout = out * (1.0 - out);
      }
      let diff = out - t[o];
      sse += diff * diff;
      act[A_Z3 + (n * S * S + p) * OUTC + o] = z[o];
      act[A_G3 + (n * S * S + p) * OUTC + o] = 2.0 * diff * st.inv_count * dout;
    }
  }
  loss_s[li] = sse;
  workgroupBarrier();
  for (var w = 32u; w > 0u; w >>= 1u) {
    if (li < w) {
      loss_s[li] += loss_s[li + w];
    }
    workgroupBarrier();
  }
  if (li == 0u && n < st.n) {
    parts[R_LOSS + n * NWG0 + wg.x] = loss_s[0];
  }
}
