// Weight gradients of conv layer LAYER: one workgroup per (strip of TPW 8×8 tiles of the layer's
// output, patch, slot of CPW (output group, input group, tap) combinations). Per tile, the input
// halo (every input group) and dz = γ·g (every output group) are staged in workgroup memory;
// thread (phase, combination) accumulates the 4×4 block dW[og lanes, ig lanes, tap] as four
// vec4 over the pixels q ≡ phase (mod NPH), and the phases are summed at the end. Each workgroup
// writes its own record of partials (no atomics):
//   [dW (OIHW)] [db] and, for FiLM layers, [Σ g·z] [Σ g] per output channel
// (the bias and FiLM sums by the slot-0 workgroup, from per-thread sums over its pixels).
override LAYER: u32 = 0u;
override TPW: u32 = 1u;      // tiles per workgroup
override CPW: u32 = 45u;     // combinations per workgroup (≤ TILE_PX)
override NPH: u32 = 1u;      // ⌊TILE_PX / CPW⌋ threads share a combination
override HW: u32 = 10u;      // halo side: TILE + K − 1
override WG_IN: u32 = 500u;  // max(input groups · HW², 256) vec4
override WG_DZ: u32 = TILE_PX;   // output groups · TILE_PX vec4

var<workgroup> in_s: array<vec4f, WG_IN>;
var<workgroup> dz_s: array<vec4f, WG_DZ>;
var<workgroup> gz_s: array<vec4f, WG_DZ>;
var<workgroup> gs_s: array<vec4f, WG_DZ>;

// dW[o, in_channel(ig, c), tap] for the lanes o of output group og.
fn store_dw(rec: u32, og: u32, ig: u32, c: u32, tap: u32, v: vec4f) {
  let i = in_channel(LAYER, ig, c);
  if (i < 0) {
    return;
  }
  let cin = layer_in_ch(LAYER);
  let cout = layer_out_ch(LAYER);
  let kk = layer_kk(LAYER);
  for (var lane = 0u; lane < 4u; lane++) {
    let o = 4u * og + lane;
    if (o < cout) {
      parts[rec + (o * cin + u32(i)) * kk + tap] = v[lane];
    }
  }
}

@compute @workgroup_size(TILE_PX)
fn wgrad(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let n = wg.y;
  if (n >= st.n) {
    return;
  }
  let side = layer_side(LAYER);
  let tw = layer_tiles_w(LAYER);
  let cin = layer_in_ch(LAYER);
  let cout = layer_out_ch(LAYER);
  let kk = layer_kk(LAYER);
  let igs = layer_in_groups(LAYER);
  let ogs = layer_out_groups(LAYER);
  let nw = cout * cin * kk;
  let film_layer = LAYER != 2u;
  let rec = layer_parts(LAYER) + (n * layer_records(LAYER) + wg.x) * (nw + select(cout, 3u * cout, film_layer));
  let pad = select(1, 0, kk == 1u);
  let sums = wg.z == 0u;

  let phase = li / CPW;
  let combo = wg.z * CPW + li % CPW;
  let busy = phase < NPH && combo < ogs * igs * kk;
  let og = combo / (igs * kk);
  let ig = (combo / kk) % igs;
  let tap = combo % kk;
  let ky = tap / 3u;
  let kx = tap % 3u;
  var a0 = vec4f(0.0);
  var a1 = vec4f(0.0);
  var a2 = vec4f(0.0);
  var a3 = vec4f(0.0);
  for (var o = 0u; o < ogs; o++) {
    gz_s[o * TILE_PX + li] = vec4f(0.0);
    gs_s[o * TILE_PX + li] = vec4f(0.0);
  }
  let pr = patch_ref(n);
  let halo = HW * HW;
  let t_end = min((wg.x + 1u) * TPW, tw * tw);
  for (var t = wg.x * TPW; t < t_end; t++) {
    let ty0 = (t / tw) * TILE;
    let tx0 = (t % tw) * TILE;
    workgroupBarrier();
    for (var r = li; r < halo; r += TILE_PX) {
      let yy = i32(ty0 + r / HW) - pad;
      let xx = i32(tx0 + r % HW) - pad;
      if (LAYER == 0u) {
        let q = patch_pixel(pr, yy, xx);
        for (var j = 0u; j < 5u; j++) {
          in_s[j * halo + r] = input_vec(n, pr, q, yy, xx, j);
        }
      } else {
        for (var g = 0u; g < igs; g++) {
          in_s[g * halo + r] = in_vec(LAYER, n, g, yy, xx);
        }
      }
    }
    let y = ty0 + li / TILE;
    let x = tx0 + li % TILE;
    for (var o = 0u; o < ogs; o++) {
      let g = g_vec(LAYER, n, o, i32(y), i32(x));
      dz_s[o * TILE_PX + li] = gamma4(LAYER, n, o) * g;
      if (sums && y < side && x < side) {
        gs_s[o * TILE_PX + li] += g;
        if (film_layer) {
          gz_s[o * TILE_PX + li] += g * z_vec(LAYER, n, o, y, x);
        }
      }
    }
    workgroupBarrier();
    if (busy) {
      let at_in = ig * halo + ky * HW + kx;
      for (var q = phase; q < TILE_PX; q += NPH) {
        let d = dz_s[og * TILE_PX + q];
        let v = in_s[at_in + (q / TILE) * HW + q % TILE];
        a0 += d * v.x;
        a1 += d * v.y;
        a2 += d * v.z;
        a3 += d * v.w;
      }
    }
  }
  if (NPH > 1u) {
    // The phases' sums meet in in_s (free once the last tile is done).
    workgroupBarrier();
    if (busy && phase > 0u) {
      let b = ((phase - 1u) * CPW + li % CPW) * 4u;
      in_s[b] = a0;
      in_s[b + 1u] = a1;
      in_s[b + 2u] = a2;
      in_s[b + 3u] = a3;
    }
    workgroupBarrier();
    if (busy && phase == 0u) {
      for (var p = 1u; p < NPH; p++) {
        let b = ((p - 1u) * CPW + li) * 4u;
        a0 += in_s[b];
        a1 += in_s[b + 1u];
        a2 += in_s[b + 2u];
        a3 += in_s[b + 3u];
      }
    }
  }
  if (busy && phase == 0u) {
    store_dw(rec, og, ig, 0u, tap, a0);
    store_dw(rec, og, ig, 1u, tap, a1);
    store_dw(rec, og, ig, 2u, tap, a2);
    store_dw(rec, og, ig, 3u, tap, a3);
  }
  if (sums) {
    workgroupBarrier();
    if (li < ogs) {
      var sg = vec4f(0.0);
      var sgz = vec4f(0.0);
      for (var q = 0u; q < TILE_PX; q++) {
        sg += gs_s[li * TILE_PX + q];
        sgz += gz_s[li * TILE_PX + q];
      }
      // db = Σ dz = γ · Σ g (γ is one value per patch and channel).
      let db = gamma4(LAYER, n, li) * sg;
      for (var lane = 0u; lane < 4u; lane++) {
        let o = 4u * li + lane;
        if (o < cout) {
          parts[rec + nw + o] = db[lane];
          if (film_layer) {
            parts[rec + nw + cout + o] = sgz[lane];
            parts[rec + nw + 2u * cout + o] = sg[lane];
          }
        }
      }
    }
  }
}
