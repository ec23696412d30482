// The end of a step:
//   film_back    one workgroup per patch: its FiLM gradients (Σ over the FiLM layers' weight-
//                gradient records) and the MLP's hidden gradient → parts[R_FB]
//   reduce_adam  one workgroup of RED_WG threads per parameter: the batch sum of the gradient in a fixed
//                order (strided per thread, then a tree), then Adam (β 0.9, 0.999, ε 1e-8; with
//                WD > 0 AdamW's decay of the conv weights first) and
//                the gradient kept in state; the workgroup after the last parameter sums the loss.

fn rec_of(l: u32) -> u32 {
  let cout = layer_out_ch(l);
  return cout * layer_in_ch(l) * layer_kk(l) + select(3u * cout, cout, l == 2u);
}

var<workgroup> dfilm_s: array<f32, FO>;
var<workgroup> fpart_s: array<f32, FILM_THREADS>;

// One workgroup per patch: FiLM output o's partials are summed over the layer's records by
// ⌊FILM_THREADS / FO⌋ threads (o, phase), the phases meet in workgroup memory, then 16 threads take the
// MLP's second layer back to its hidden units.
@compute @workgroup_size(FILM_THREADS)
fn film_back(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let n = wg.x;
  let fb = R_FB + n * (FO + HID);
  let film_layers = array<u32, 4>(0u, 1u, 3u, 4u);
  let phases = FILM_THREADS / FO;
  let o = li % FO;
  let phase = li / FO;
  var sum = 0.0;
  if (phase < phases) {
    var lay = 0u;
    for (var q = 0u; q < 4u; q++) {
      if (o >= film_gamma_of(film_layers[q])) { lay = film_layers[q]; }
    }
    let cout = layer_out_ch(lay);
    let nw = cout * layer_in_ch(lay) * layer_kk(lay);
    let records = layer_records(lay);
    let rec = rec_of(lay);
    // γ entries read Σ g·z (record field nw + cout + c), β entries Σ g (nw + 2·cout + c).
    let field = nw + cout + o - film_gamma_of(lay);
    for (var t = phase; t < records; t += phases) {
      sum += parts[layer_parts(lay) + (n * records + t) * rec + field];
    }
  }
  fpart_s[li] = sum;
  workgroupBarrier();
  if (li < FO) {
    var s = 0.0;
    for (var p = 0u; p < phases; p++) {
      s += fpart_s[p * FO + li];
    }
    dfilm_s[li] = s;
    parts[fb + li] = s;
  }
  workgroupBarrier();
  if (li < HID) {
    var s = 0.0;
    for (var k = 0u; k < FO; k++) {
      s += state[P_M2W + k * HID + li] * dfilm_s[k];
    }
    parts[fb + FO + li] = select(0.0, s, pinfo(n, PI_HID + li) > 0.0);
  }
}

// Threads per reduce workgroup (a power of two): more threads, shorter chains of dependent loads.
override RED_WG: u32 = 64u;
var<workgroup> red_s: array<f32, RED_WG>;


@compute @workgroup_size(RED_WG)
fn reduce_adam(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let pi = wg.y * REDUCE_ROW + wg.x;
  var s = 0.0;
  if (pi < P_M0W) {
    var l = 0u;
    for (var c = 1u; c < 5u; c++) {
      if (pi >= layer_param(c)) { l = c; }
    }
    let local_i = pi - layer_param(l);
    let rec = rec_of(l);
    let base = layer_parts(l) + local_i;
    let count = st.n * layer_records(l);
    for (var f = li; f < count; f += RED_WG) {
      s += parts[base + f * rec];
    }
  } else if (pi < NP) {
    for (var m = li; m < st.n; m += RED_WG) {
      let fb = R_FB + m * (FO + HID);
      if (pi < P_M0B) {
        let q = pi - P_M0W;
        s += parts[fb + FO + q / D] * pinfo(m, q % D);
      } else if (pi < P_M2W) {
        s += parts[fb + FO + pi - P_M0B];
      } else if (pi < P_M2B) {
        let q = pi - P_M2W;
        s += parts[fb + q / HID] * pinfo(m, PI_HID + q % HID);
      } else {
        s += parts[fb + pi - P_M2B];
      }
    }
  } else if (pi == NP) {
    let count = st.n * TW0 * TW0;
    for (var f = li; f < count; f += RED_WG) {
      s += parts[R_LOSS + f];
    }
  }
  red_s[li] = s;
  workgroupBarrier();
  for (var w = RED_WG / 2u; w > 0u; w >>= 1u) {
    if (li < w) {
      red_s[li] += red_s[li + w];
    }
    workgroupBarrier();
  }
  if (li == 0u) {
    let g = red_s[0];
    if (pi < NP) {
      state[3u * NP + pi] = g;
      let m = 0.9 * state[NP + pi] + 0.1 * g;
      let v = 0.999 * state[2u * NP + pi] + 0.001 * g * g;
      state[NP + pi] = m;
      state[2u * NP + pi] = v;
      var p = state[pi];
      if (WD > 0.0 && pi < P_M0W) {
        // AdamW (PyTorch): p ← p·(1 − lr·WD), then the Adam step; conv weights only, not biases.
        var l = 0u;
        for (var c = 1u; c < 5u; c++) {
          if (pi >= layer_param(c)) { l = c; }
        }
        if (pi - layer_param(l) < layer_out_ch(l) * layer_in_ch(l) * layer_kk(l)) {
          p = p * (1.0 - st.lr * WD);
        }
      }
      state[pi] = p - st.lr * (m / st.bc1) / (sqrt(v / st.bc2) + 1e-8);
    } else if (pi == NP) {
      state[4u * NP + st.loss_slot] = g * st.inv_count;
    }
  }
}
