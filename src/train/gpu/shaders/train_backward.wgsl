// Training backward pass through the activations: one workgroup per (8×8 tile, patch, channel
// group). STAGE in dispatch order:
//   0 full, dec0: d = convᵀ(dz3) for input group ig of cat(up(d1), e0). The up(d1) groups
//     (ig < G0N) go through upsampleᵀ (the tile's 2×2 blocks) and relu'(d1) → A_G2; the e0
//     groups → A_DS0.
//   1 ½, dec1: the same with cat(up(b), e1): up(b) groups → relu'(b) → A_GB; e1 groups → A_DS1.
//   2 ½: enc1's g = (poolᵀ(convᵀ_bott(gb)) + ds1) · relu'(e1) → A_G1
//   3 full: enc0's g = (poolᵀ(convᵀ_enc1(γ1 · g1)) + ds0) · relu'(e0) → A_G0
// g is the gradient at a FiLM output (after relu'), so dz = γ · g: γ is folded into the staged weights.
override STAGE: u32 = 0u;
// 4 · output groups · taps of the stage's layer.
override WTSZ: u32 = 36u;

var<workgroup> wt_s: array<vec4f, WTSZ>;
var<workgroup> d_s: array<vec4f, TILE_PX>;

fn stage_layer() -> u32 {
  switch STAGE {
    case 0u: { return 4u; }
    case 1u: { return 3u; }
    case 2u: { return 2u; }
    default: { return 1u; }
  }
}

// wt_s[o·kk + tap] = γ[o] · W[o, in_channel(ig, c), tap] over the lanes c of input group ig.
fn stage_weights_t(l: u32, n: u32, ig: u32, li: u32) {
  let kk = layer_kk(l);
  let slots = 4u * layer_out_groups(l) * kk;
  for (var e = li; e < slots; e += TILE_PX) {
    let o = e / kk;
    let tap = e % kk;
    var w = vec4f(0.0);
    for (var c = 0u; c < 4u; c++) {
      w[c] = weight(l, o, ig, c, tap);
    }
    wt_s[e] = gamma4(l, n, o / 4u)[o % 4u] * w;
  }
}

// dL/d(the staged input group) of layer l at (y, x) of its input: Σ_o Σ_tap W · dz[o, p − tap + pad].
fn conv_t(l: u32, n: u32, y: i32, x: i32) -> vec4f {
  let kk = layer_kk(l);
  let pad = select(1, 0, kk == 1u);
  let groups = layer_out_groups(l);
  var acc = vec4f(0.0);
  for (var tap = 0u; tap < kk; tap++) {
    let yy = y - i32(tap / 3u) + pad;
    let xx = x - i32(tap % 3u) + pad;
    if (!inside_sq(yy, xx, layer_side(l))) {
      continue;
    }
    for (var og = 0u; og < groups; og++) {
      let g = g_vec(l, n, og, yy, xx);
      let b = 4u * og * kk + tap;
      acc += wt_s[b] * g.x + wt_s[b + kk] * g.y + wt_s[b + 2u * kk] * g.z + wt_s[b + 3u * kk] * g.w;
    }
  }
  return acc;
}

@compute @workgroup_size(TILE_PX)
fn backward(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let n = wg.y;
  if (n >= st.n) {
    return;
  }
  let l = stage_layer();
  let g = wg.z;
  stage_weights_t(l, n, g, li);
  workgroupBarrier();
  let full = STAGE == 0u || STAGE == 3u;
  let side = select(S1, S, full);
  let tw = select(TW1, TW0, full);
  let ty0 = (wg.x / tw) * TILE;
  let tx0 = (wg.x % tw) * TILE;
  let y = ty0 + li / TILE;
  let x = tx0 + li % TILE;
  let inside = y < side && x < side;
  if (STAGE <= 1u) {
    let up_groups = select(G1N, G0N, STAGE == 0u);
    var d = vec4f(0.0);
    if (inside) {
      d = conv_t(l, n, i32(y), i32(x));
    }
    if (g >= up_groups) {
      if (inside) {
        if (STAGE == 0u) {
          act[at(A_DS0, n, G0N, g - G0N, S, y, x)] = d;
        } else {
          act[at(A_DS1, n, G1N, g - G1N, S1, y, x)] = d;
        }
      }
      return;
    }
    d_s[li] = d;
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
          if (ty0 + ly < side && tx0 + lx < side) { s += d_s[ly * TILE + lx]; }
        }
      }
      if (STAGE == 0u) {
        let on = act[at(A_E2, n, G0N, g, S1, py, px)] > vec4f(0.0);
        act[at(A_G2, n, G0N, g, S1, py, px)] = select(vec4f(0.0), s, on);
      } else {
        let on = act[at(A_B, n, G1N, g, S2, py, px)] > vec4f(0.0);
        act[at(A_GB, n, G1N, g, S2, py, px)] = select(vec4f(0.0), s, on);
      }
    }
    return;
  }
  if (!inside) {
    return;
  }
  let py = y >> 1u;
  let px = x >> 1u;
  if (STAGE == 2u) {
    let d = conv_t(2u, n, i32(py), i32(px)) / block_count(py, px, S1) + act[at(A_DS1, n, G1N, g, S1, y, x)];
    let on = act[at(A_E1, n, G1N, g, S1, y, x)] > vec4f(0.0);
    act[at(A_G1, n, G1N, g, S1, y, x)] = select(vec4f(0.0), d, on);
  } else {
    let d = conv_t(1u, n, i32(py), i32(px)) / block_count(py, px, S) + act[at(A_DS0, n, G0N, g, S, y, x)];
    let on = act[at(A_E0, n, G0N, g, S, y, x)] > vec4f(0.0);
    act[at(A_G0, n, G0N, g, S, y, x)] = select(vec4f(0.0), d, on);
  }
}
