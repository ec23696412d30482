// AssemblyScript source of the WebAssembly SIMD kernels behind src/model/fast.ts.
// Compiled by `npm run build:wasm` (scripts/build-wasm.mjs) into kernels.generated.ts; a test
// recompiles it and checks that the committed bytes are up to date. kernels.ts holds a plain
// JS twin of every export (same arguments, same results up to float rounding) as the fallback.
//
// Layouts. Every pointer is a byte offset into the one imported memory; strides are in floats.
//   Activations: HWC float32, channel fastest. A pixel is `C` floats; a row is `row` floats, so
//     the same kernel reads a dense buffer (row = W·C) or the interior of a zero-bordered one.
//     A convolution reads its input from a buffer with a border of (K−1)/2 and starts at its
//     top-left corner, so it needs no bounds checks.
//   Conv weights: float32 [g][ky][kx][ci][4]. Output channels come in groups of 4 (co = 4g + lane)
//     and lanes past Cout are zero, so one v128 load gives one input's weights for 4 outputs.
//   Weight gradients: float64 [ky][kx][ci][4·G] (G groups), bias gradients float64 [4·G]; lanes
//     past Cout hold garbage and are never read back.
// Memory that a kernel reads: a vector load of a partial group reads up to 3 floats past the end
// of a pixel; the arena leaves 16 bytes of slack after every buffer so this stays in bounds.
//
// Arithmetic: activations and weights float32, products summed in float32 (as PyTorch does);
// weight gradients are summed in float32 over one output row and then added into float64, which
// keeps them within rounding of the float64 reference however large the image.

// Stores the first `lanes` (1–4) floats of v: a partial group must not touch the next pixel.
@inline function storeLanes(p: usize, v: v128, lanes: i32): void {
  if (lanes == 4) {
    v128.store(p, v);
    return;
  }
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (lanes > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (lanes > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

// Adds the 4 float32 lanes of v into the 4 float64s at p.
@inline function flush(p: usize, v: v128): void {
  v128.store(p, f64x2.add(v128.load(p), f64x2.promote_low_f32x4(v)));
  v128.store(p, f64x2.add(v128.load(p, 16), f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3))), 16);
}

// Forward convolution, stride 1: out[y][x][co] = bias[co] + Σ in[y+ky][x+kx][ci]·w[co][ci][ky][kx].
// `inP` is the top-left of the padded input (H+K−1 rows), `bias` 0 for none. One kernel row of
// one pixel is K·Cin contiguous floats, so the inner loop walks them with a pointer, broadcasting
// each input to meet its 4 weights. Eight pixels at a time share every weight load and give eight
// independent add chains, which hides the add latency.
export function conv(inP: usize, inRow: i32, H: i32, W: i32, Cin: i32, K: i32, w: usize, bias: usize, Cout: i32, out: usize, outRow: i32): void {
  const rowLen = K * Cin;
  const groups = (Cout + 3) >> 2;
  const px = (<usize>Cin) << 2;
  const px2 = px * 2, px3 = px * 3, px4 = px * 4, px5 = px * 5, px6 = px * 6, px7 = px * 7;
  const op = (<usize>Cout) << 2;
  for (let g = 0; g < groups; g++) {
    const wg = w + ((<usize>(g * K * rowLen)) << 4);
    const b = bias != 0 ? v128.load(bias + ((<usize>g) << 4)) : f32x4.splat(0);
    const lanes = min(4, Cout - 4 * g);
    for (let y = 0; y < H; y++) {
      const inY = inP + ((<usize>(y * inRow)) << 2);
      const outY = out + ((<usize>(y * outRow + 4 * g)) << 2);
      let x = 0;
      for (; x + 8 <= W; x += 8) {
        let a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b;
        for (let ky = 0; ky < K; ky++) {
          let p = inY + ((<usize>(ky * inRow + x * Cin)) << 2);
          let q = wg + ((<usize>(ky * rowLen)) << 4);
          const qEnd = q + ((<usize>rowLen) << 4);
          for (; q < qEnd; q += 16, p += 4) {
            const wv = v128.load(q);
            a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(p), wv));
            a1 = f32x4.add(a1, f32x4.mul(v128.load32_splat(p + px), wv));
            a2 = f32x4.add(a2, f32x4.mul(v128.load32_splat(p + px2), wv));
            a3 = f32x4.add(a3, f32x4.mul(v128.load32_splat(p + px3), wv));
            a4 = f32x4.add(a4, f32x4.mul(v128.load32_splat(p + px4), wv));
            a5 = f32x4.add(a5, f32x4.mul(v128.load32_splat(p + px5), wv));
            a6 = f32x4.add(a6, f32x4.mul(v128.load32_splat(p + px6), wv));
            a7 = f32x4.add(a7, f32x4.mul(v128.load32_splat(p + px7), wv));
          }
        }
        const o = outY + (<usize>x) * op;
        storeLanes(o, a0, lanes);
        storeLanes(o + op, a1, lanes);
        storeLanes(o + op * 2, a2, lanes);
        storeLanes(o + op * 3, a3, lanes);
        storeLanes(o + op * 4, a4, lanes);
        storeLanes(o + op * 5, a5, lanes);
        storeLanes(o + op * 6, a6, lanes);
        storeLanes(o + op * 7, a7, lanes);
      }
      for (; x < W; x++) {
        let a = b;
        for (let ky = 0; ky < K; ky++) {
          let p = inY + ((<usize>(ky * inRow + x * Cin)) << 2);
          let q = wg + ((<usize>(ky * rowLen)) << 4);
          const qEnd = q + ((<usize>rowLen) << 4);
          for (; q < qEnd; q += 16, p += 4) a = f32x4.add(a, f32x4.mul(v128.load32_splat(p), v128.load(q)));
        }
        storeLanes(outY + (<usize>x) * op, a, lanes);
      }
    }
  }
}

// Weight and bias gradients of a convolution: gw[ky][kx][ci][co] += Σ_y,x in[y+ky][x+kx][ci]·d[y][x][co],
// gb[co] += Σ d[y][x][co]. `d` is the output gradient (H rows of dRow floats). Per output row it
// first lists the pixels whose gradient is not all zero (after a relu, many are), in `live`
// (W ints of scratch); then for each group of 4 outputs and each run of 8 contiguous kernel-row
// inputs it keeps 8 accumulators in registers across the row's live pixels.
export function convWeightGrad(inP: usize, inRow: i32, H: i32, W: i32, Cin: i32, K: i32, d: usize, dRow: i32, Cout: i32, gw: usize, gb: usize, live: usize): void {
  const rowLen = K * Cin;
  const groups = (Cout + 3) >> 2;
  const gwStride = (<usize>(groups * 4)) << 3; // bytes between consecutive inputs j in gw
  const dp = (<usize>Cout) << 2;
  const px = (<usize>Cin) << 2;
  const zero = f32x4.splat(0);
  for (let y = 0; y < H; y++) {
    const dY = d + ((<usize>(y * dRow)) << 2);
    let n = 0;
    for (let x = 0; x < W; x++) {
      const dx = dY + (<usize>x) * dp;
      for (let c = 0; c < Cout; c++) {
        if (load<f32>(dx + ((<usize>c) << 2)) != 0) {
          store<i32>(live + ((<usize>n) << 2), x);
          n++;
          break;
        }
      }
    }
    if (n == 0) continue;
    const liveEnd = live + ((<usize>n) << 2);
    for (let g = 0; g < groups; g++) {
      const dg = dY + ((<usize>g) << 4);
      let s = zero;
      for (let l = live; l < liveEnd; l += 4) s = f32x4.add(s, v128.load(dg + (<usize>load<i32>(l)) * dp));
      flush(gb + ((<usize>g) << 5), s);
      for (let ky = 0; ky < K; ky++) {
        const inY = inP + ((<usize>((y + ky) * inRow)) << 2);
        const gwRow = gw + ((<usize>(ky * rowLen)) * gwStride) + ((<usize>g) << 5);
        let j = 0;
        for (; j + 8 <= rowLen; j += 8) {
          let a0 = zero, a1 = zero, a2 = zero, a3 = zero, a4 = zero, a5 = zero, a6 = zero, a7 = zero;
          const inJ = inY + ((<usize>j) << 2);
          for (let l = live; l < liveEnd; l += 4) {
            const x = <usize>load<i32>(l);
            const dv = v128.load(dg + x * dp);
            const p = inJ + x * px;
            a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(p), dv));
            a1 = f32x4.add(a1, f32x4.mul(v128.load32_splat(p, 4), dv));
            a2 = f32x4.add(a2, f32x4.mul(v128.load32_splat(p, 8), dv));
            a3 = f32x4.add(a3, f32x4.mul(v128.load32_splat(p, 12), dv));
            a4 = f32x4.add(a4, f32x4.mul(v128.load32_splat(p, 16), dv));
            a5 = f32x4.add(a5, f32x4.mul(v128.load32_splat(p, 20), dv));
            a6 = f32x4.add(a6, f32x4.mul(v128.load32_splat(p, 24), dv));
            a7 = f32x4.add(a7, f32x4.mul(v128.load32_splat(p, 28), dv));
          }
          const q = gwRow + (<usize>j) * gwStride;
          flush(q, a0);
          flush(q + gwStride, a1);
          flush(q + gwStride * 2, a2);
          flush(q + gwStride * 3, a3);
          flush(q + gwStride * 4, a4);
          flush(q + gwStride * 5, a5);
          flush(q + gwStride * 6, a6);
          flush(q + gwStride * 7, a7);
        }
        for (; j + 4 <= rowLen; j += 4) {
          let a0 = zero, a1 = zero, a2 = zero, a3 = zero;
          const inJ = inY + ((<usize>j) << 2);
          for (let l = live; l < liveEnd; l += 4) {
            const x = <usize>load<i32>(l);
            const dv = v128.load(dg + x * dp);
            const p = inJ + x * px;
            a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(p), dv));
            a1 = f32x4.add(a1, f32x4.mul(v128.load32_splat(p, 4), dv));
            a2 = f32x4.add(a2, f32x4.mul(v128.load32_splat(p, 8), dv));
            a3 = f32x4.add(a3, f32x4.mul(v128.load32_splat(p, 12), dv));
          }
          const q = gwRow + (<usize>j) * gwStride;
          flush(q, a0);
          flush(q + gwStride, a1);
          flush(q + gwStride * 2, a2);
          flush(q + gwStride * 3, a3);
        }
        for (; j < rowLen; j++) {
          let a = zero;
          const inJ = inY + ((<usize>j) << 2);
          for (let l = live; l < liveEnd; l += 4) {
            const x = <usize>load<i32>(l);
            a = f32x4.add(a, f32x4.mul(v128.load32_splat(inJ + x * px), v128.load(dg + x * dp)));
          }
          flush(gwRow + (<usize>j) * gwStride, a);
        }
      }
    }
  }
}

// ---------------------------------------------------------------- pointwise passes
// Scalar, and computed exactly as their JS twins in kernels-js.ts (float64 temporaries rounded
// to float32 on store), so the two give the same bits (but for filmSigmoid). FiLM γ, β and their gradients are float64
// arrays of C; a pixel index i stands for the C floats at i·C.

// out = relu(γ·c + β) per channel over n pixels of C channels.
export function filmRelu(c: usize, n: i32, C: i32, gamma: usize, beta: usize, out: usize): void {
  const end = (<usize>(n * C)) << 2;
  for (let i: usize = 0; i < end; i += (<usize>C) << 2) {
    for (let k = 0; k < C; k++) {
      const o = i + ((<usize>k) << 2);
      const v = load<f64>(gamma + ((<usize>k) << 3)) * <f64>load<f32>(c + o) + load<f64>(beta + ((<usize>k) << 3));
      store<f32>(out + o, <f32>(v > 0 ? v : 0));
    }
  }
}

// Through relu (mask from its output e) and FiLM: dc = [e > 0]·dE·γ into the interior of `out`
// (border `pad`; out may be dE itself when pad is 0); dγ += dc_pre·c, dβ += dc_pre.
export function filmReluBackward(c: usize, e: usize, dE: usize, H: i32, W: i32, C: i32, gamma: usize, dGamma: usize, dBeta: usize, out: usize, pad: i32): void {
  const Wp = W + 2 * pad;
  const rowBytes = (<usize>(W * C)) << 2;
  for (let y = 0; y < H; y++) {
    const i0 = (<usize>(y * W * C)) << 2;
    let o = out + ((<usize>(((y + pad) * Wp + pad) * C)) << 2);
    for (let i = i0; i < i0 + rowBytes; i += (<usize>C) << 2, o += (<usize>C) << 2) {
      for (let k = 0; k < C; k++) {
        const b = (<usize>k) << 2;
        const k8 = (<usize>k) << 3;
        const g: f64 = load<f32>(e + i + b) > 0 ? <f64>load<f32>(dE + i + b) : 0;
        store<f64>(dGamma + k8, load<f64>(dGamma + k8) + g * <f64>load<f32>(c + i + b));
        store<f64>(dBeta + k8, load<f64>(dBeta + k8) + g);
        store<f32>(o + b, <f32>(g * load<f64>(gamma + k8)));
      }
    }
  }
}

// 2×2 mean (partial blocks average what they have) into the interior of a buffer with border pad.
export function avgpool(src: usize, H: i32, W: i32, C: i32, dst: usize, pad: i32): void {
  const H1 = (H + 1) >> 1;
  const W1 = (W + 1) >> 1;
  const Wd = W1 + 2 * pad;
  for (let y = 0; y < H1; y++) {
    const y0 = 2 * y;
    const y1 = min(y0 + 1, H - 1);
    for (let x = 0; x < W1; x++) {
      const x0 = 2 * x;
      const x1 = min(x0 + 1, W - 1);
      const inv: f64 = 1 / <f64>((y1 - y0 + 1) * (x1 - x0 + 1));
      const o = dst + ((<usize>(((y + pad) * Wd + x + pad) * C)) << 2);
      const a = src + ((<usize>((y0 * W + x0) * C)) << 2);
      const b = src + ((<usize>((y0 * W + x1) * C)) << 2);
      const c = src + ((<usize>((y1 * W + x0) * C)) << 2);
      const d = src + ((<usize>((y1 * W + x1) * C)) << 2);
      for (let k: usize = 0; k < (<usize>C) << 2; k += 4) {
        // Duplicated taps at a clipped edge are counted once.
        let s = <f64>load<f32>(a + k);
        if (x1 != x0) s += <f64>load<f32>(b + k);
        if (y1 != y0) s += <f64>load<f32>(c + k);
        if (x1 != x0 && y1 != y0) s += <f64>load<f32>(d + k);
        store<f32>(o + k, <f32>(s * inv));
      }
    }
  }
}

// Adds the pool's input gradient (dPool dense, ceil(H/2)×ceil(W/2)) into dSrc (H×W).
export function avgpoolBackward(dPool: usize, H: i32, W: i32, C: i32, dSrc: usize): void {
  const W1 = (W + 1) >> 1;
  for (let y = 0; y < H; y++) {
    const py = y >> 1;
    const ny = min(2 * py + 2, H) - 2 * py;
    for (let x = 0; x < W; x++) {
      const px = x >> 1;
      const inv: f64 = 1 / <f64>(ny * (min(2 * px + 2, W) - 2 * px));
      const o = dPool + ((<usize>((py * W1 + px) * C)) << 2);
      const s = dSrc + ((<usize>((y * W + x) * C)) << 2);
      for (let k: usize = 0; k < (<usize>C) << 2; k += 4) {
        store<f32>(s + k, <f32>(<f64>load<f32>(s + k) + <f64>load<f32>(o + k) * inv));
      }
    }
  }
}

// Writes cat(up(low), skip) into the interior of a padded (border 1) buffer of Cl + Cs channels.
export function upsampleConcat(low: usize, Wl: i32, Cl: i32, skip: usize, H: i32, W: i32, Cs: i32, dstP: usize): void {
  const C = Cl + Cs;
  const Wp = W + 2;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const o = dstP + ((<usize>(((y + 1) * Wp + x + 1) * C)) << 2);
      const l = low + ((<usize>(((y >> 1) * Wl + (x >> 1)) * Cl)) << 2);
      const s = skip + ((<usize>((y * W + x) * Cs)) << 2);
      for (let k = 0; k < Cl; k++) store<i32>(o + ((<usize>k) << 2), load<i32>(l + ((<usize>k) << 2)));
      for (let k = 0; k < Cs; k++) store<i32>(o + ((<usize>(Cl + k)) << 2), load<i32>(s + ((<usize>k) << 2)));
    }
  }
}

// Splits d(cat) (dense): sets dLow (Hl×Wl, summing the 2×2 copies) and dSkip.
export function upsampleConcatBackward(dCat: usize, H: i32, W: i32, Cl: i32, Cs: i32, dLow: usize, Hl: i32, Wl: i32, dSkip: usize): void {
  const C = Cl + Cs;
  memory.fill(dLow, 0, (<usize>(Hl * Wl * Cl)) << 2);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const o = dCat + ((<usize>((y * W + x) * C)) << 2);
      const l = dLow + ((<usize>(((y >> 1) * Wl + (x >> 1)) * Cl)) << 2);
      const s = dSkip + ((<usize>((y * W + x) * Cs)) << 2);
      for (let k = 0; k < Cl; k++) {
        const b = (<usize>k) << 2;
        store<f32>(l + b, <f32>(<f64>load<f32>(l + b) + <f64>load<f32>(o + b)));
      }
      for (let k = 0; k < Cs; k++) store<i32>(s + ((<usize>k) << 2), load<i32>(o + ((<usize>(Cl + k)) << 2)));
    }
  }
}

// v = max(v, 0) over n floats (NaN → 0).
export function relu(p: usize, n: i32): void {
  for (let q = p; q < p + ((<usize>n) << 2); q += 4) if (!(load<f32>(q) > 0)) store<f32>(q, 0);
}

// d = 0 wherever the relu output `y` is not positive, over n floats.
export function reluMask(y: usize, d: usize, n: i32): void {
  for (let i: usize = 0; i < (<usize>n) << 2; i += 4) if (!(load<f32>(y + i) > 0)) store<f32>(d + i, 0);
}

// y = sigmoid(γ·z + β) over n RGBA pixels, one pixel per f32x4 (y is float32, so float32 inside
// is enough: within 3e-7 relative of the float64 sigmoid). e^t is computed here rather than with
// Math.exp, which is scalar and keeps a lookup table in a data segment, and this module must own
// no memory (the arena uses all of it): t = k·ln2 + r with |r| ≤ ln2/2, e^r by its Taylor series
// to r⁷ (error < 1e-8 relative), 2^k made from exponent bits. t is clamped to ±80, where the
// sigmoid is flat to float32 anyway.
export function filmSigmoid(z: usize, n: i32, gamma: usize, beta: usize, y: usize): void {
  const g = f32x4.demote_f64x2_zero(v128.load(gamma));
  const gv = f32x4.shuffle(g, f32x4.demote_f64x2_zero(v128.load(gamma, 16)), 0, 1, 4, 5);
  const b = f32x4.demote_f64x2_zero(v128.load(beta));
  const bv = f32x4.shuffle(b, f32x4.demote_f64x2_zero(v128.load(beta, 16)), 0, 1, 4, 5);
  const one = f32x4.splat(1);
  for (let i: usize = 0; i < (<usize>n) << 4; i += 16) {
    const v = f32x4.add(f32x4.mul(gv, v128.load(z + i)), bv);
    const t = f32x4.min(f32x4.max(f32x4.neg(v), f32x4.splat(-80)), f32x4.splat(80));
    const k = f32x4.nearest(f32x4.mul(t, f32x4.splat(1.44269504)));
    const r = f32x4.sub(f32x4.sub(t, f32x4.mul(k, f32x4.splat(0.693145752))), f32x4.mul(k, f32x4.splat(1.42860677e-6)));
    let p = f32x4.splat(1.0 / 5040.0);
    p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 720.0));
    p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 120.0));
    p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 24.0));
    p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 6.0));
    p = f32x4.add(f32x4.mul(p, r), f32x4.splat(0.5));
    p = f32x4.add(f32x4.mul(p, r), one);
    p = f32x4.add(f32x4.mul(p, r), one);
    const scale = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(k), i32x4.splat(127)), 23);
    v128.store(y + i, f32x4.div(one, f32x4.add(one, f32x4.mul(p, scale))));
  }
}

// Squared error of the RGBA output y against t, summed (returned), and its gradient through the
// sigmoid and dec0's FiLM: g = scale·(y − t)·y(1 − y); dγ += g·z, dβ += g; γ·g into the interior
// of the padded (border 1) gP.
export function lossGrad(y: usize, t: usize, z: usize, H: i32, W: i32, gamma: usize, dGamma: usize, dBeta: usize, scale: f64, gP: usize): f64 {
  let sse: f64 = 0;
  for (let yy = 0; yy < H; yy++) {
    let o = gP + ((<usize>(((yy + 1) * (W + 2) + 1) * 4)) << 2);
    const i0 = (<usize>(yy * W)) << 4;
    for (let i = i0; i < i0 + ((<usize>W) << 4); i += 16, o += 16) {
      for (let k: usize = 0; k < 4; k++) {
        const b = k << 2;
        const k8 = k << 3;
        const yv = <f64>load<f32>(y + i + b);
        const diff = yv - <f64>load<f32>(t + i + b);
        sse += diff * diff;
        const g = scale * diff * yv * (1 - yv);
        store<f64>(dGamma + k8, load<f64>(dGamma + k8) + g * <f64>load<f32>(z + i + b));
        store<f64>(dBeta + k8, load<f64>(dBeta + k8) + g);
        store<f32>(o + b, <f32>(g * load<f64>(gamma + k8)));
      }
    }
  }
  return sse;
}

// flags[c] = 1 if channel c of the n-pixel, C-channel image x is nonzero somewhere, else 0. A
// used channel is nonzero within the first few pixels, so its scan stops early.
export function activeChannels(x: usize, n: i32, C: i32, flags: usize): void {
  const end = x + ((<usize>(n * C)) << 2);
  const step = (<usize>C) << 2;
  for (let c = 0; c < C; c++) {
    let p = x + ((<usize>c) << 2);
    while (p < end && load<f32>(p) == 0) p += step;
    store<i32>(flags + ((<usize>c) << 2), p < end ? 1 : 0);
  }
}

// Copies channels list[0..nA) of the H×W×C image x into dstP, with its zero border of 1: all of
// it, border included, since nA (and so where the border lies) changes from image to image.
export function gatherChannels(x: usize, H: i32, W: i32, C: i32, list: usize, nA: i32, dstP: usize): void {
  const px = (<usize>nA) << 2;
  const rowBytes = (<usize>(W + 2)) * px;
  memory.fill(dstP, 0, rowBytes);
  memory.fill(dstP + (<usize>(H + 1)) * rowBytes, 0, rowBytes);
  for (let y = 0; y < H; y++) {
    let o = dstP + (<usize>(y + 1)) * rowBytes;
    memory.fill(o, 0, px);
    memory.fill(o + (<usize>(W + 1)) * px, 0, px);
    o += px;
    let s = x + ((<usize>(y * W * C)) << 2);
    for (let xx = 0; xx < W; xx++, s += (<usize>C) << 2, o += px) {
      for (let k = 0; k < nA; k++) store<i32>(o + ((<usize>k) << 2), load<i32>(s + ((<usize>load<i32>(list + ((<usize>k) << 2))) << 2)));
    }
  }
}
