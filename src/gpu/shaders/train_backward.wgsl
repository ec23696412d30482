// Training backward pass through the activations, one thread per pixel; STAGE in dispatch order:
//   0 full: dL/d cat0 = convᵀ(dz dec0)                    → A_DC0
//   1 half: dec1's g = upsampleᵀ(dcat0[:C0]) · relu'     → A_G2
//   2 half: dL/d cat1 = convᵀ(dz dec1)                    → A_DC1
//   3 ¼:    bottleneck's g = upsampleᵀ(dcat1[:C1]) · relu' → A_GB
//   4 half: enc1's g = (poolᵀ(convᵀ(dz bott)) + dcat1[C1:]) · relu'  → A_G1
//   5 full: enc0's g = (poolᵀ(convᵀ(dz enc1)) + dcat0[C0:]) · relu'  → A_G0
// g is the gradient at a FiLM output (before relu'), so dz = γ · g and the FiLM grads are Σ g·z, Σ g.
override STAGE: u32 = 0u;

fn stage_side() -> u32 {
  switch STAGE {
    case 0u, 5u: { return S; }
    case 3u: { return S2; }
    default: { return S1; }
  }
}

@compute @workgroup_size(64)
fn backward(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let n = wg.y;
  let side = stage_side();
  let p = wg.x * 64u + li;
  if (n >= st.n || p >= side * side) {
    return;
  }
  let y = p / side;
  let x = p % side;
  switch STAGE {
    case 0u: {
      let d = conv_input_grad(4u, n, i32(y), i32(x));
      for (var i = 0u; i < 2u * C0; i++) {
        act[A_DC0 + (n * S * S + p) * 2u * C0 + i] = d[i];
      }
    }
    case 1u: {
      for (var c = 0u; c < C0; c++) {
        var s = 0.0;
        for (var dy = 0u; dy < 2u; dy++) {
          for (var dx = 0u; dx < 2u; dx++) {
            let fy = 2u * y + dy;
            let fx = 2u * x + dx;
            if (fy < S && fx < S) { s += act[A_DC0 + ((n * S + fy) * S + fx) * 2u * C0 + c]; }
          }
        }
        let on = a2(n, c, y, x) > 0.0;
        act[A_G2 + (n * S1 * S1 + p) * C0 + c] = select(0.0, s, on);
      }
    }
    case 2u: {
      let d = conv_input_grad(3u, n, i32(y), i32(x));
      for (var i = 0u; i < 2u * C1; i++) {
        act[A_DC1 + (n * S1 * S1 + p) * 2u * C1 + i] = d[i];
      }
    }
    case 3u: {
      for (var c = 0u; c < C1; c++) {
        var s = 0.0;
        for (var dy = 0u; dy < 2u; dy++) {
          for (var dx = 0u; dx < 2u; dx++) {
            let hy = 2u * y + dy;
            let hx = 2u * x + dx;
            if (hy < S1 && hx < S1) { s += act[A_DC1 + ((n * S1 + hy) * S1 + hx) * 2u * C1 + c]; }
          }
        }
        let on = bval(n, c, y, x) > 0.0;
        act[A_GB + (n * S2 * S2 + p) * C1 + c] = select(0.0, s, on);
      }
    }
    case 4u: {
      let d = conv_input_grad(2u, n, i32(y >> 1u), i32(x >> 1u));
      let cnt = block_count(y >> 1u, x >> 1u, S1);
      for (var c = 0u; c < C1; c++) {
        let g = d[c] / cnt + act[A_DC1 + (n * S1 * S1 + p) * 2u * C1 + C1 + c];
        act[A_G1 + (n * S1 * S1 + p) * C1 + c] = select(0.0, g, a1(n, c, y, x) > 0.0);
      }
    }
    default: {
      let d = conv_input_grad(1u, n, i32(y >> 1u), i32(x >> 1u));
      let cnt = block_count(y >> 1u, x >> 1u, S);
      for (var c = 0u; c < C0; c++) {
        let g = d[c] / cnt + act[A_DC0 + (n * S * S + p) * 2u * C0 + C0 + c];
        act[A_G0 + (n * S * S + p) * C0 + c] = select(0.0, g, a0(n, c, y, x) > 0.0);
      }
    }
  }
}
