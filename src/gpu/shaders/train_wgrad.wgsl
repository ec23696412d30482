// Weight gradients of conv layer LAYER: one workgroup per (patch, 8×8 tile of the layer's output).
// The tile's dz and a chunk of input channels (with the 3×3 halo) are staged in workgroup
// memory; thread j owns input channel / tap pairs and accumulates every output channel over the
// 64 pixels. Each workgroup writes one record of partials (its own slot: no atomics):
//   [dW (OIHW)] [db] and, for FiLM layers, [Σ g·z] [Σ g] per output channel.
override LAYER: u32 = 0u;
override CHUNK: u32 = 20u;   // input channels staged at once
override WG_IN: u32 = 2000u; // CHUNK · (8 + K − 1)²
override WG_DZ: u32 = 256u;  // output channels · 64

var<workgroup> in_s: array<f32, WG_IN>;
var<workgroup> dz_s: array<f32, WG_DZ>;

fn layer_tiles_w(l: u32) -> u32 {
  switch l {
    case 0u, 4u: { return TW0; }
    case 1u, 3u: { return TW1; }
    default: { return TW2; }
  }
}

fn layer_parts(l: u32) -> u32 {
  switch l {
    case 0u: { return R_ENC0; }
    case 1u: { return R_ENC1; }
    case 2u: { return R_BOTT; }
    case 3u: { return R_DEC1; }
    default: { return R_DEC0; }
  }
}

// (g, z) of output channel o at a pixel of a FiLM layer: the gradient at the FiLM output and the conv output.
fn layer_gz(l: u32, n: u32, o: u32, y: u32, x: u32) -> vec2f {
  switch l {
    case 0u: {
      let i = ((n * S + y) * S + x) * C0 + o;
      return vec2f(act[A_G0 + i], act[A_Z0 + i]);
    }
    case 1u: {
      let i = ((n * S1 + y) * S1 + x) * C1 + o;
      return vec2f(act[A_G1 + i], act[A_Z1 + i]);
    }
    case 3u: {
      let i = ((n * S1 + y) * S1 + x) * C0 + o;
      return vec2f(act[A_G2 + i], act[A_Z2 + i]);
    }
    default: {
      let i = ((n * S + y) * S + x) * OUTC + o;
      return vec2f(act[A_G3 + i], act[A_Z3 + i]);
    }
  }
}

@compute @workgroup_size(64)
fn wgrad(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let n = wg.y;
  if (n >= st.n) {
    return;
  }
  let side = layer_side(LAYER);
  let tw = layer_tiles_w(LAYER);
  let ty0 = (wg.x / tw) * 8u;
  let tx0 = (wg.x % tw) * 8u;
  let cin = layer_in_ch(LAYER);
  let cout = layer_out_ch(LAYER);
  let k = layer_k(LAYER);
  let kk2 = k * k;
  let pad = i32(k / 2u);
  let hw = 8u + k - 1u;
  let nw = cout * cin * kk2;
  let film_layer = LAYER != 2u;
  let rec_size = nw + select(cout, 3u * cout, film_layer);
  let rec = layer_parts(LAYER) + (n * tw * tw + wg.x) * rec_size;

  for (var o = 0u; o < cout; o++) {
    dz_s[o * 64u + li] = layer_dz(LAYER, n, o, i32(ty0 + li / 8u), i32(tx0 + li % 8u));
  }
  for (var c0 = 0u; c0 < cin; c0 += CHUNK) {
    let cn = min(CHUNK, cin - c0);
    workgroupBarrier();
    if (LAYER == 0u && CHUNK == IN0) {
      // The features: each halo pixel read once as five vec4 (dropout applied).
      let mask = pmeta(n, 3u);
      for (var r = li; r < hw * hw; r += 64u) {
        let q = patch_pixel(n, i32(ty0 + r / hw) - pad, i32(tx0 + r % hw) - pad);
        for (var j = 0u; j < 5u; j++) {
          var v = vec4f(0.0);
          if (q >= 0) {
            v = data[u32(q) * 6u + j] * dropout_keep(mask, j);
          }
          for (var c = 0u; c < 4u; c++) {
            in_s[(4u * j + c) * hw * hw + r] = v[c];
          }
        }
      }
    } else {
      for (var e = li; e < cn * hw * hw; e += 64u) {
        let ci = e / (hw * hw);
        let r = e % (hw * hw);
        in_s[e] = layer_in(LAYER, n, c0 + ci, i32(ty0 + r / hw) - pad, i32(tx0 + r % hw) - pad);
      }
    }
    workgroupBarrier();
    for (var j = li; j < cn * kk2; j += 64u) {
      let ci = j / kk2;
      let kk = j % kk2;
      let ky = kk / k;
      let kx = kk % k;
      var acc: array<f32, MAXC>;
      for (var o = 0u; o < cout; o++) {
        acc[o] = 0.0;
      }
      for (var q = 0u; q < 64u; q++) {
        let v = in_s[(ci * hw + q / 8u + ky) * hw + q % 8u + kx];
        for (var o = 0u; o < cout; o++) {
          acc[o] += dz_s[o * 64u + q] * v;
        }
      }
      for (var o = 0u; o < cout; o++) {
        parts[rec + (o * cin + c0 + ci) * kk2 + kk] = acc[o];
      }
    }
  }
  if (li < cout) {
    var db = 0.0;
    for (var q = 0u; q < 64u; q++) {
      db += dz_s[li * 64u + q];
    }
    parts[rec + nw + li] = db;
    if (film_layer) {
      var dg = 0.0;
      var dbeta = 0.0;
      for (var q = 0u; q < 64u; q++) {
        let y = ty0 + q / 8u;
        let x = tx0 + q % 8u;
        if (y < side && x < side) {
          let gz = layer_gz(LAYER, n, li, y, x);
          dg += gz.x * gz.y;
          dbeta += gz.x;
        }
      }
      parts[rec + nw + cout + li] = dg;
      parts[rec + nw + 2u * cout + li] = dbeta;
    }
  }
}
