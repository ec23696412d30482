// AssemblyScript source of the WebAssembly SIMD kernels behind src/model/fast.ts.
// Compiled by `npm run build:wasm` (scripts/build-wasm.mjs) into kernels.generated.ts; a test
// recompiles it and checks that the committed bytes are up to date. kernels-js.ts holds a plain
// JS twin of every export (same arguments, same results up to float rounding) as the fallback.
//
// Layouts. Every pointer is a byte offset into the one imported memory; strides are in floats.
//   Activations: HWC float32, channel fastest. A pixel is `C` floats; a row is `row` floats, so
//     the same kernel reads a dense buffer (row = W·C) or the interior of a zero-bordered one.
//     A convolution reads its input, and its weight gradient reads the output gradient too, from
//     a buffer with a zero border of (K−1)/2, given by its top-left corner: no bounds checks.
//   Conv weights: float32 [g][ky][kx][ci][4]. Output channels come in groups of 4 (co = 4g + lane)
//     and lanes past Cout are zero, so one v128 load gives one input's weights for 4 outputs.
//   Weight gradients: float64 [ky][kx][ci][4·G] (G groups), bias gradients float64 [4·G]; lanes
//     past Cout hold garbage and are never read back.
// Reading past the end: a vector load of a partial group, and a last partial block of inputs,
// read up to 7 floats past what they use; the arena leaves 32 bytes of slack after every buffer.
// This module has no static data and allocates nothing: the arena owns all of the memory.
//
// Arithmetic: activations and weights float32, products summed in float32 (as PyTorch does);
// weight gradients are summed in float32 over one output row and then added into float64, which
// keeps them within rounding of the float64 reference however large the image.
//
// Speed notes (x64, V8): a kernel is bound by its loads more than by its arithmetic, so each loop
// is arranged for many vector multiply-adds per load: a broadcast input meets 2 groups' weights
// (conv, Cout > 4) or the weights of every tap it reaches (conv3, convWeightGrad3), and 8–12
// accumulators stay in registers across the loop.

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

// ---------------------------------------------------------------- convolution

// Forward convolution, stride 1: out[y][x][co] = bias[co] + Σ in[y+ky][x+kx][ci]·w[co][ci][ky][kx].
// `inP` is the top-left of the padded input (H+K−1 rows), `bias` 0 for none. One kernel row of
// one pixel is K·Cin contiguous floats (j = kx·Cin + ci), so the inner loops walk them with a
// pointer, broadcasting each input to meet its weights.
export function conv(inP: usize, inRow: i32, H: i32, W: i32, Cin: i32, K: i32, w: usize, bias: usize, Cout: i32, out: usize, outRow: i32): void {
  const groups = (Cout + 3) >> 2;
  const gStride = (<usize>(K * K * Cin)) << 4; // bytes between groups' weights
  const op = (<usize>Cout) << 2;
  let g = 0;
  for (; g + 2 <= groups; g += 2) {
    const b = bias + ((<usize>g) << 4);
    conv2g(inP, inRow, H, W, Cin, K, w + (<usize>g) * gStride, gStride, bias != 0 ? v128.load(b) : f32x4.splat(0), bias != 0 ? v128.load(b, 16) : f32x4.splat(0), min(4, Cout - 4 * (g + 1)), out + ((<usize>(4 * g)) << 2), op, outRow);
  }
  if (g < groups) {
    const b = bias != 0 ? v128.load(bias + ((<usize>g) << 4)) : f32x4.splat(0);
    const lanes = min(4, Cout - 4 * g);
    if (K == 3) conv3(inP, inRow, H, W, Cin, w + (<usize>g) * gStride, b, lanes, out + ((<usize>(4 * g)) << 2), op, outRow);
    else conv1g(inP, inRow, H, W, Cin, K, w + (<usize>g) * gStride, b, lanes, out + ((<usize>(4 * g)) << 2), op, outRow);
  }
}

// Two groups (8 outputs) at once, four pixels: each broadcast input meets 2 weight vectors, so 4
// broadcasts and 2 weight loads feed 8 vector multiply-adds. The second group may be partial.
function conv2g(inP: usize, inRow: i32, H: i32, W: i32, Cin: i32, K: i32, w: usize, gStride: usize, b0: v128, b1: v128, lanes1: i32, out: usize, op: usize, outRow: i32): void {
  const rowLen = K * Cin;
  const px = (<usize>Cin) << 2;
  const px2 = px * 2, px3 = px * 3;
  for (let y = 0; y < H; y++) {
    const inY = inP + ((<usize>(y * inRow)) << 2);
    const outY = out + ((<usize>(y * outRow)) << 2);
    let x = 0;
    for (; x + 4 <= W; x += 4) {
      let a0 = b0, a1 = b0, a2 = b0, a3 = b0, c0 = b1, c1 = b1, c2 = b1, c3 = b1;
      for (let ky = 0; ky < K; ky++) {
        let p = inY + ((<usize>(ky * inRow + x * Cin)) << 2);
        let q = w + ((<usize>(ky * rowLen)) << 4);
        const qEnd = q + ((<usize>rowLen) << 4);
        for (; q < qEnd; q += 16, p += 4) {
          const w0 = v128.load(q);
          const w1 = v128.load(q + gStride);
          const v0 = v128.load32_splat(p);
          const v1 = v128.load32_splat(p + px);
          const v2 = v128.load32_splat(p + px2);
          const v3 = v128.load32_splat(p + px3);
          a0 = f32x4.add(a0, f32x4.mul(v0, w0));
          c0 = f32x4.add(c0, f32x4.mul(v0, w1));
          a1 = f32x4.add(a1, f32x4.mul(v1, w0));
          c1 = f32x4.add(c1, f32x4.mul(v1, w1));
          a2 = f32x4.add(a2, f32x4.mul(v2, w0));
          c2 = f32x4.add(c2, f32x4.mul(v2, w1));
          a3 = f32x4.add(a3, f32x4.mul(v3, w0));
          c3 = f32x4.add(c3, f32x4.mul(v3, w1));
        }
      }
      const o = outY + (<usize>x) * op;
      v128.store(o, a0);
      storeLanes(o + 16, c0, lanes1);
      v128.store(o + op, a1);
      storeLanes(o + op + 16, c1, lanes1);
      v128.store(o + op * 2, a2);
      storeLanes(o + op * 2 + 16, c2, lanes1);
      v128.store(o + op * 3, a3);
      storeLanes(o + op * 3 + 16, c3, lanes1);
    }
    for (; x < W; x++) {
      let a = b0, c = b1;
      for (let ky = 0; ky < K; ky++) {
        let p = inY + ((<usize>(ky * inRow + x * Cin)) << 2);
        let q = w + ((<usize>(ky * rowLen)) << 4);
        const qEnd = q + ((<usize>rowLen) << 4);
        for (; q < qEnd; q += 16, p += 4) {
          const v = v128.load32_splat(p);
          a = f32x4.add(a, f32x4.mul(v, v128.load(q)));
          c = f32x4.add(c, f32x4.mul(v, v128.load(q + gStride)));
        }
      }
      const o = outY + (<usize>x) * op;
      v128.store(o, a);
      storeLanes(o + 16, c, lanes1);
    }
  }
}

// One group of (up to) 4 outputs for K = 3, w at that group. It walks input pixels rather
// than kernel taps: output pixels x..x+7 read input pixels x..x+9 of each kernel row, and each
// broadcast input meets the weights of the 1–3 taps that reach it, so 10 broadcasts and 3
// weight loads feed 24 vector multiply-adds (walking taps, 8 broadcasts and a weight load feed 8).
function conv3(inP: usize, inRow: i32, H: i32, W: i32, Cin: i32, w: usize, b: v128, lanes: i32, out: usize, op: usize, outRow: i32): void {
  const px = (<usize>Cin) << 2;
  const px2 = px * 2, px3 = px * 3, px4 = px * 4, px5 = px * 5, px6 = px * 6, px7 = px * 7, px8 = px * 8, px9 = px * 9;
  const wk = (<usize>Cin) << 4; // bytes between the weights of taps kx and kx + 1
  const wk2 = wk * 2;
  for (let y = 0; y < H; y++) {
    const inY = inP + ((<usize>(y * inRow)) << 2);
    const outY = out + ((<usize>(y * outRow)) << 2);
    let x = 0;
    for (; x + 8 <= W; x += 8) {
      let a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b;
      for (let ky = 0; ky < 3; ky++) {
        let p = inY + ((<usize>(ky * inRow + x * Cin)) << 2);
        const pEnd = p + px;
        let q = w + (<usize>ky) * wk * 3;
        for (; p < pEnd; p += 4, q += 16) {
          const w0 = v128.load(q);
          const w1 = v128.load(q + wk);
          const w2 = v128.load(q + wk2);
          let s = v128.load32_splat(p);
          a0 = f32x4.add(a0, f32x4.mul(s, w0));
          s = v128.load32_splat(p + px);
          a0 = f32x4.add(a0, f32x4.mul(s, w1));
          a1 = f32x4.add(a1, f32x4.mul(s, w0));
          s = v128.load32_splat(p + px2);
          a0 = f32x4.add(a0, f32x4.mul(s, w2));
          a1 = f32x4.add(a1, f32x4.mul(s, w1));
          a2 = f32x4.add(a2, f32x4.mul(s, w0));
          s = v128.load32_splat(p + px3);
          a1 = f32x4.add(a1, f32x4.mul(s, w2));
          a2 = f32x4.add(a2, f32x4.mul(s, w1));
          a3 = f32x4.add(a3, f32x4.mul(s, w0));
          s = v128.load32_splat(p + px4);
          a2 = f32x4.add(a2, f32x4.mul(s, w2));
          a3 = f32x4.add(a3, f32x4.mul(s, w1));
          a4 = f32x4.add(a4, f32x4.mul(s, w0));
          s = v128.load32_splat(p + px5);
          a3 = f32x4.add(a3, f32x4.mul(s, w2));
          a4 = f32x4.add(a4, f32x4.mul(s, w1));
          a5 = f32x4.add(a5, f32x4.mul(s, w0));
          s = v128.load32_splat(p + px6);
          a4 = f32x4.add(a4, f32x4.mul(s, w2));
          a5 = f32x4.add(a5, f32x4.mul(s, w1));
          a6 = f32x4.add(a6, f32x4.mul(s, w0));
          s = v128.load32_splat(p + px7);
          a5 = f32x4.add(a5, f32x4.mul(s, w2));
          a6 = f32x4.add(a6, f32x4.mul(s, w1));
          a7 = f32x4.add(a7, f32x4.mul(s, w0));
          s = v128.load32_splat(p + px8);
          a6 = f32x4.add(a6, f32x4.mul(s, w2));
          a7 = f32x4.add(a7, f32x4.mul(s, w1));
          s = v128.load32_splat(p + px9);
          a7 = f32x4.add(a7, f32x4.mul(s, w2));
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
      for (let ky = 0; ky < 3; ky++) {
        let p = inY + ((<usize>(ky * inRow + x * Cin)) << 2);
        let q = w + (<usize>ky) * wk * 3;
        const qEnd = q + wk * 3;
        for (; q < qEnd; q += 16, p += 4) a = f32x4.add(a, f32x4.mul(v128.load32_splat(p), v128.load(q)));
      }
      storeLanes(outY + (<usize>x) * op, a, lanes);
    }
  }
}

// One group, any K: eight pixels at a time, so that a weight load serves 8 broadcasts and the 8
// add chains hide each other's latency.
function conv1g(inP: usize, inRow: i32, H: i32, W: i32, Cin: i32, K: i32, w: usize, b: v128, lanes: i32, out: usize, op: usize, outRow: i32): void {
  const rowLen = K * Cin;
  const px = (<usize>Cin) << 2;
  const px2 = px * 2, px3 = px * 3, px4 = px * 4, px5 = px * 5, px6 = px * 6, px7 = px * 7;
  for (let y = 0; y < H; y++) {
    const inY = inP + ((<usize>(y * inRow)) << 2);
    const outY = out + ((<usize>(y * outRow)) << 2);
    let x = 0;
    for (; x + 8 <= W; x += 8) {
      let a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b;
      for (let ky = 0; ky < K; ky++) {
        let p = inY + ((<usize>(ky * inRow + x * Cin)) << 2);
        let q = w + ((<usize>(ky * rowLen)) << 4);
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
        let q = w + ((<usize>(ky * rowLen)) << 4);
        const qEnd = q + ((<usize>rowLen) << 4);
        for (; q < qEnd; q += 16, p += 4) a = f32x4.add(a, f32x4.mul(v128.load32_splat(p), v128.load(q)));
      }
      storeLanes(outY + (<usize>x) * op, a, lanes);
    }
  }
}

// ---------------------------------------------------------------- weight gradients

// Weight and bias gradients of a convolution: gw[ky][kx][ci][co] += Σ_y,x in[y+ky][x+kx][ci]·d[y][x][co],
// gb[co] += Σ d[y][x][co]. `dP` is the output gradient with a zero border of (K−1)/2, like the
// input, given by its top-left corner (dRow floats a row).
export function convWeightGrad(inP: usize, inRow: i32, H: i32, W: i32, Cin: i32, K: i32, dP: usize, dRow: i32, Cout: i32, gw: usize, gb: usize): void {
  if (K == 3) convWeightGrad3(inP, inRow, H, W, Cin, dP, dRow, Cout, gw, gb);
  else convWeightGradAny(inP, inRow, H, W, Cin, K, dP, dRow, Cout, gw, gb);
}

// K = 3. Per output row and kernel row it walks the W + 2 input pixels once per block of (up to) 4
// input channels: each broadcast input meets the output gradients of the three pixels it reaches
// (d[x'], d[x'−1], d[x'−2], kept in registers as the walk moves on; the border supplies the zeros
// at the ends: one pixel before and after a padded row are the neighbouring rows' border, or a
// zero gap), so 4 broadcasts and 1 gradient load feed 12 vector multiply-adds.
function convWeightGrad3(inP: usize, inRow: i32, H: i32, W: i32, Cin: i32, dP: usize, dRow: i32, Cout: i32, gw: usize, gb: usize): void {
  const groups = (Cout + 3) >> 2;
  const gwStride = (<usize>(groups * 4)) << 3;
  const gwTap = (<usize>Cin) * gwStride; // between taps kx and kx + 1
  const dp = (<usize>Cout) << 2;
  const px = (<usize>Cin) << 2;
  const zero = f32x4.splat(0);
  for (let y = 0; y < H; y++) {
    const dY = dP + ((<usize>((y + 1) * dRow)) << 2); // padded row y + 1, from its left border
    for (let g = 0; g < groups; g++) {
      const dg = dY + ((<usize>g) << 4);
      let s = zero;
      let bits = zero; // OR of the row's gradients: all zero (common after a relu) adds nothing
      for (let x = 1; x <= W; x++) {
        const v = v128.load(dg + (<usize>x) * dp);
        s = f32x4.add(s, v);
        bits = v128.or(bits, v);
      }
      flush(gb + ((<usize>g) << 5), s);
      if (!v128.any_true(bits)) continue;
      for (let ky = 0; ky < 3; ky++) {
        const inY = inP + ((<usize>((y + ky) * inRow)) << 2);
        const gwRow = gw + (<usize>(ky * 3)) * gwTap + ((<usize>g) << 5);
        let c = 0;
        for (; c + 4 <= Cin; c += 4) weightGradBlock(inY + ((<usize>c) << 2), W, px, dg, dp, gwRow + (<usize>c) * gwStride, gwStride, gwTap, 4);
        const r = Cin - c;
        const inC = inY + ((<usize>c) << 2);
        const gwC = gwRow + (<usize>c) * gwStride;
        if (r == 3) weightGradBlock(inC, W, px, dg, dp, gwC, gwStride, gwTap, 3);
        else if (r == 2) weightGradBlock(inC, W, px, dg, dp, gwC, gwStride, gwTap, 2);
        else if (r == 1) weightGradBlock(inC, W, px, dg, dp, gwC, gwStride, gwTap, 1);
      }
    }
  }
}

// One block of B (a constant 1–4 at each call, so the unused lanes compile away) input channels
// starting at `p` of convWeightGrad3's walk along one row. a, b, e: the sums of taps kx = 0, 1, 2.
@inline function weightGradBlock(p: usize, W: i32, px: usize, dg: usize, dp: usize, gwAt: usize, gwStride: usize, gwTap: usize, B: i32): void {
  const zero = f32x4.splat(0);
  let a0 = zero, a1 = zero, a2 = zero, a3 = zero;
  let b0 = zero, b1 = zero, b2 = zero, b3 = zero;
  let e0 = zero, e1 = zero, e2 = zero, e3 = zero;
  let q = dg - dp; // padded index −1: the previous row's right border (zero)
  let d2 = v128.load(q); // d[x' − 2] for x' = 0
  q += dp;
  let d1 = v128.load(q); // d[x' − 1]
  const pEnd = p + (<usize>(W + 2)) * px;
  for (; p < pEnd; p += px) {
    q += dp;
    const d0 = v128.load(q); // d[x']
    let v = v128.load32_splat(p);
    a0 = f32x4.add(a0, f32x4.mul(v, d0));
    b0 = f32x4.add(b0, f32x4.mul(v, d1));
    e0 = f32x4.add(e0, f32x4.mul(v, d2));
    if (B > 1) {
      v = v128.load32_splat(p, 4);
      a1 = f32x4.add(a1, f32x4.mul(v, d0));
      b1 = f32x4.add(b1, f32x4.mul(v, d1));
      e1 = f32x4.add(e1, f32x4.mul(v, d2));
    }
    if (B > 2) {
      v = v128.load32_splat(p, 8);
      a2 = f32x4.add(a2, f32x4.mul(v, d0));
      b2 = f32x4.add(b2, f32x4.mul(v, d1));
      e2 = f32x4.add(e2, f32x4.mul(v, d2));
    }
    if (B > 3) {
      v = v128.load32_splat(p, 12);
      a3 = f32x4.add(a3, f32x4.mul(v, d0));
      b3 = f32x4.add(b3, f32x4.mul(v, d1));
      e3 = f32x4.add(e3, f32x4.mul(v, d2));
    }
    d2 = d1;
    d1 = d0;
  }
  flush(gwAt, a0);
  flush(gwAt + gwTap, b0);
  flush(gwAt + gwTap * 2, e0);
  if (B > 1) {
    flush(gwAt + gwStride, a1);
    flush(gwAt + gwStride + gwTap, b1);
    flush(gwAt + gwStride + gwTap * 2, e1);
  }
  if (B > 2) {
    flush(gwAt + gwStride * 2, a2);
    flush(gwAt + gwStride * 2 + gwTap, b2);
    flush(gwAt + gwStride * 2 + gwTap * 2, e2);
  }
  if (B > 3) {
    flush(gwAt + gwStride * 3, a3);
    flush(gwAt + gwStride * 3 + gwTap, b3);
    flush(gwAt + gwStride * 3 + gwTap * 2, e3);
  }
}

// Any K (in practice the 1×1 bottleneck): per output row, group and run of 8 contiguous kernel-row
// inputs, 8 accumulators stay in registers across the row's pixels. A last partial run reads past
// the kernel row (into the next pixel, or the slack) and drops those sums.
function convWeightGradAny(inP: usize, inRow: i32, H: i32, W: i32, Cin: i32, K: i32, dP: usize, dRow: i32, Cout: i32, gw: usize, gb: usize): void {
  const pad = (K - 1) >> 1;
  const rowLen = K * Cin;
  const groups = (Cout + 3) >> 2;
  const gwStride = (<usize>(groups * 4)) << 3; // bytes between consecutive inputs j in gw
  const dp = (<usize>Cout) << 2;
  const px = (<usize>Cin) << 2;
  const zero = f32x4.splat(0);
  for (let y = 0; y < H; y++) {
    const dY = dP + ((<usize>((y + pad) * dRow + pad * Cout)) << 2);
    for (let g = 0; g < groups; g++) {
      const dg = dY + ((<usize>g) << 4);
      const dEnd = dg + (<usize>W) * dp;
      let s = zero;
      for (let q = dg; q < dEnd; q += dp) s = f32x4.add(s, v128.load(q));
      flush(gb + ((<usize>g) << 5), s);
      for (let ky = 0; ky < K; ky++) {
        const inY = inP + ((<usize>((y + ky) * inRow)) << 2);
        const gwRow = gw + ((<usize>(ky * rowLen)) * gwStride) + ((<usize>g) << 5);
        for (let j = 0; j < rowLen; j += 8) {
          let a0 = zero, a1 = zero, a2 = zero, a3 = zero, a4 = zero, a5 = zero, a6 = zero, a7 = zero;
          let p = inY + ((<usize>j) << 2);
          for (let q = dg; q < dEnd; q += dp, p += px) {
            const dv = v128.load(q);
            a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(p), dv));
            a1 = f32x4.add(a1, f32x4.mul(v128.load32_splat(p, 4), dv));
            a2 = f32x4.add(a2, f32x4.mul(v128.load32_splat(p, 8), dv));
            a3 = f32x4.add(a3, f32x4.mul(v128.load32_splat(p, 12), dv));
            a4 = f32x4.add(a4, f32x4.mul(v128.load32_splat(p, 16), dv));
            a5 = f32x4.add(a5, f32x4.mul(v128.load32_splat(p, 20), dv));
            a6 = f32x4.add(a6, f32x4.mul(v128.load32_splat(p, 24), dv));
            a7 = f32x4.add(a7, f32x4.mul(v128.load32_splat(p, 28), dv));
          }
          const r = rowLen - j;
          const q = gwRow + (<usize>j) * gwStride;
          flush(q, a0);
          if (r > 1) flush(q + gwStride, a1);
          if (r > 2) flush(q + gwStride * 2, a2);
          if (r > 3) flush(q + gwStride * 3, a3);
          if (r > 4) flush(q + gwStride * 4, a4);
          if (r > 5) flush(q + gwStride * 5, a5);
          if (r > 6) flush(q + gwStride * 6, a6);
          if (r > 7) flush(q + gwStride * 7, a7);
        }
      }
    }
  }
}

// ---------------------------------------------------------------- pointwise passes
// Computed exactly as their JS twins in kernels-js.ts (float64 temporaries rounded to float32 on
// store), so the two give the same bits (but for filmSigmoid). Where the channel counts are
// multiples of 4, one f32x4 holds 4 channels of a pixel and its float64 arithmetic runs as two
// f64x2 halves: the same operations in the same order as the scalar code, lane by lane. FiLM γ, β
// and their gradients are float64 arrays of C.

// The float32 lanes 0–1 (lo) and 2–3 (hi) of v as float64, and back.
@inline function lo(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}
@inline function hi(v: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3));
}
@inline function demote(l: v128, h: v128): v128 {
  return v128.shuffle<f32>(f32x4.demote_f64x2_zero(l), f32x4.demote_f64x2_zero(h), 0, 1, 4, 5);
}

// out = relu(γ·c + β) per channel over n pixels of C channels.
export function filmRelu(c: usize, n: i32, C: i32, gamma: usize, beta: usize, out: usize): void {
  const end = (<usize>(n * C)) << 2;
  const step = (<usize>C) << 2;
  if ((C & 3) == 0) {
    const zero = f64x2.splat(0);
    for (let i: usize = 0; i < end; i += step) {
      for (let k: usize = 0; k < step; k += 16) {
        const v = v128.load(c + i + k);
        const g = gamma + (k << 1), b = beta + (k << 1); // channel k/4 as a float64 offset
        const l = f64x2.add(f64x2.mul(v128.load(g), lo(v)), v128.load(b));
        const h = f64x2.add(f64x2.mul(v128.load(g, 16), hi(v)), v128.load(b, 16));
        v128.store(out + i + k, demote(v128.and(l, f64x2.gt(l, zero)), v128.and(h, f64x2.gt(h, zero))));
      }
    }
    return;
  }
  for (let i: usize = 0; i < end; i += step) {
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
  const step = (<usize>C) << 2;
  const rowBytes = (<usize>W) * step;
  for (let y = 0; y < H; y++) {
    const i0 = (<usize>(y * W)) * step;
    let o = out + (<usize>((y + pad) * Wp + pad)) * step;
    if ((C & 3) == 0) {
      const zero = f32x4.splat(0);
      for (let i = i0; i < i0 + rowBytes; i += step, o += step) {
        for (let k: usize = 0; k < step; k += 16) {
          const g = v128.and(v128.load(dE + i + k), f32x4.gt(v128.load(e + i + k), zero));
          const cv = v128.load(c + i + k);
          const gl = lo(g), gh = hi(g);
          const k2 = k << 1; // channel k/4 as a float64 offset
          v128.store(dGamma + k2, f64x2.add(v128.load(dGamma + k2), f64x2.mul(gl, lo(cv))));
          v128.store(dGamma + k2, f64x2.add(v128.load(dGamma + k2, 16), f64x2.mul(gh, hi(cv))), 16);
          v128.store(dBeta + k2, f64x2.add(v128.load(dBeta + k2), gl));
          v128.store(dBeta + k2, f64x2.add(v128.load(dBeta + k2, 16), gh), 16);
          v128.store(o + k, demote(f64x2.mul(gl, v128.load(gamma + k2)), f64x2.mul(gh, v128.load(gamma + k2, 16))));
        }
      }
      continue;
    }
    for (let i = i0; i < i0 + rowBytes; i += step, o += step) {
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
  const step = (<usize>C) << 2;
  for (let y = 0; y < H1; y++) {
    const y0 = 2 * y;
    const y1 = min(y0 + 1, H - 1);
    for (let x = 0; x < W1; x++) {
      const x0 = 2 * x;
      const x1 = min(x0 + 1, W - 1);
      const inv: f64 = 1 / <f64>((y1 - y0 + 1) * (x1 - x0 + 1));
      const o = dst + (<usize>((y + pad) * Wd + x + pad)) * step;
      const a = src + (<usize>(y0 * W + x0)) * step;
      const b = src + (<usize>(y0 * W + x1)) * step;
      const c = src + (<usize>(y1 * W + x0)) * step;
      const d = src + (<usize>(y1 * W + x1)) * step;
      // Duplicated taps at a clipped edge are counted once.
      if ((C & 3) == 0) {
        const iv = f64x2.splat(inv);
        for (let k: usize = 0; k < step; k += 16) {
          let v = v128.load(a + k);
          let l = lo(v), h = hi(v);
          if (x1 != x0) {
            v = v128.load(b + k);
            l = f64x2.add(l, lo(v));
            h = f64x2.add(h, hi(v));
          }
          if (y1 != y0) {
            v = v128.load(c + k);
            l = f64x2.add(l, lo(v));
            h = f64x2.add(h, hi(v));
          }
          if (x1 != x0 && y1 != y0) {
            v = v128.load(d + k);
            l = f64x2.add(l, lo(v));
            h = f64x2.add(h, hi(v));
          }
          v128.store(o + k, demote(f64x2.mul(l, iv), f64x2.mul(h, iv)));
        }
        continue;
      }
      for (let k: usize = 0; k < step; k += 4) {
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
  const step = (<usize>C) << 2;
  for (let y = 0; y < H; y++) {
    const py = y >> 1;
    const ny = min(2 * py + 2, H) - 2 * py;
    for (let x = 0; x < W; x++) {
      const px = x >> 1;
      const inv: f64 = 1 / <f64>(ny * (min(2 * px + 2, W) - 2 * px));
      const o = dPool + (<usize>(py * W1 + px)) * step;
      const s = dSrc + (<usize>(y * W + x)) * step;
      if ((C & 3) == 0) {
        const iv = f64x2.splat(inv);
        for (let k: usize = 0; k < step; k += 16) {
          const sv = v128.load(s + k), ov = v128.load(o + k);
          v128.store(s + k, demote(f64x2.add(lo(sv), f64x2.mul(lo(ov), iv)), f64x2.add(hi(sv), f64x2.mul(hi(ov), iv))));
        }
        continue;
      }
      for (let k: usize = 0; k < step; k += 4) {
        store<f32>(s + k, <f32>(<f64>load<f32>(s + k) + <f64>load<f32>(o + k) * inv));
      }
    }
  }
}

// Copies n floats (n·4 bytes = len): by vectors when n is a multiple of 4.
@inline function copy(to: usize, from: usize, len: usize): void {
  if ((len & 15) == 0) {
    for (let k: usize = 0; k < len; k += 16) v128.store(to + k, v128.load(from + k));
  } else {
    for (let k: usize = 0; k < len; k += 4) store<i32>(to + k, load<i32>(from + k));
  }
}

// Writes cat(up(low), skip) into the interior of a padded (border 1) buffer of Cl + Cs channels.
export function upsampleConcat(low: usize, Wl: i32, Cl: i32, skip: usize, H: i32, W: i32, Cs: i32, dstP: usize): void {
  const C = Cl + Cs;
  const Wp = W + 2;
  const lBytes = (<usize>Cl) << 2, sBytes = (<usize>Cs) << 2;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const o = dstP + ((<usize>(((y + 1) * Wp + x + 1) * C)) << 2);
      copy(o, low + ((<usize>(((y >> 1) * Wl + (x >> 1)) * Cl)) << 2), lBytes);
      copy(o + lBytes, skip + ((<usize>((y * W + x) * Cs)) << 2), sBytes);
    }
  }
}

// Splits d(cat) (dense): sets dLow (Hl×Wl, summing the 2×2 copies) and dSkip.
export function upsampleConcatBackward(dCat: usize, H: i32, W: i32, Cl: i32, Cs: i32, dLow: usize, Hl: i32, Wl: i32, dSkip: usize): void {
  const C = Cl + Cs;
  const lBytes = (<usize>Cl) << 2, sBytes = (<usize>Cs) << 2;
  memory.fill(dLow, 0, (<usize>(Hl * Wl * Cl)) << 2);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const o = dCat + ((<usize>((y * W + x) * C)) << 2);
      const l = dLow + ((<usize>(((y >> 1) * Wl + (x >> 1)) * Cl)) << 2);
      if ((Cl & 3) == 0) {
        for (let k: usize = 0; k < lBytes; k += 16) {
          const lv = v128.load(l + k), ov = v128.load(o + k);
          v128.store(l + k, demote(f64x2.add(lo(lv), lo(ov)), f64x2.add(hi(lv), hi(ov))));
        }
      } else {
        for (let k: usize = 0; k < lBytes; k += 4) store<f32>(l + k, <f32>(<f64>load<f32>(l + k) + <f64>load<f32>(o + k)));
      }
      copy(dSkip + ((<usize>((y * W + x) * Cs)) << 2), o + lBytes, sBytes);
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
  const end = (<usize>n) << 4;
  let i: usize = 0;
  // Four pixels an iteration: V8 builds each vector constant anew per iteration, so share them.
  for (; i + 64 <= end; i += 64) {
    v128.store(y + i, sigmoid4(f32x4.add(f32x4.mul(gv, v128.load(z + i)), bv)));
    v128.store(y + i, sigmoid4(f32x4.add(f32x4.mul(gv, v128.load(z + i, 16)), bv)), 16);
    v128.store(y + i, sigmoid4(f32x4.add(f32x4.mul(gv, v128.load(z + i, 32)), bv)), 32);
    v128.store(y + i, sigmoid4(f32x4.add(f32x4.mul(gv, v128.load(z + i, 48)), bv)), 48);
  }
  for (; i < end; i += 16) v128.store(y + i, sigmoid4(f32x4.add(f32x4.mul(gv, v128.load(z + i)), bv)));
}

@inline function sigmoid4(v: v128): v128 {
  const one = f32x4.splat(1);
  // pmin/pmax: plain minps/maxps (the NaN-exact min/max cost several instructions on x64).
  const t = f32x4.pmin(f32x4.pmax(f32x4.neg(v), f32x4.splat(-80)), f32x4.splat(80));
  // k = round(t·log2 e): adding 1.5·2²³ rounds to an integer and leaves it in the low mantissa bits.
  const kBits = f32x4.add(f32x4.mul(t, f32x4.splat(1.44269504)), f32x4.splat(12582912));
  const k = f32x4.sub(kBits, f32x4.splat(12582912));
  const r = f32x4.sub(f32x4.sub(t, f32x4.mul(k, f32x4.splat(0.693145752))), f32x4.mul(k, f32x4.splat(1.42860677e-6)));
  let p = f32x4.splat(1.0 / 5040.0);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 720.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 120.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 24.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 6.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(0.5));
  p = f32x4.add(f32x4.mul(p, r), one);
  p = f32x4.add(f32x4.mul(p, r), one);
  const scale = i32x4.shl(i32x4.add(i32x4.sub(kBits, i32x4.splat(0x4b400000)), i32x4.splat(127)), 23);
  return f32x4.div(one, f32x4.add(one, f32x4.mul(p, scale)));
}

// Squared error of the RGBA output y against t, summed (returned), and its gradient through the
// sigmoid and dec0's FiLM: g = scale·(y − t)·y(1 − y); dγ += g·z, dβ += g; γ·g into the interior
// of the padded (border 1) gP. One pixel's 4 channels are two f64x2 halves; the squared error is
// summed per channel and the four sums added at the end as (0 + 1) + (2 + 3), as the JS twin does.
export function lossGrad(y: usize, t: usize, z: usize, H: i32, W: i32, gamma: usize, dGamma: usize, dBeta: usize, scale: f64, gP: usize): f64 {
  const sc = f64x2.splat(scale);
  const one = f64x2.splat(1);
  const gl = v128.load(gamma), gh = v128.load(gamma, 16);
  let dgl = v128.load(dGamma), dgh = v128.load(dGamma, 16);
  let dbl = v128.load(dBeta), dbh = v128.load(dBeta, 16);
  let sl = f64x2.splat(0), sh = f64x2.splat(0);
  for (let yy = 0; yy < H; yy++) {
    let o = gP + ((<usize>(((yy + 1) * (W + 2) + 1) * 4)) << 2);
    const i0 = (<usize>(yy * W)) << 4;
    for (let i = i0; i < i0 + ((<usize>W) << 4); i += 16, o += 16) {
      const yv = v128.load(y + i), tv = v128.load(t + i), zv = v128.load(z + i);
      const yl = lo(yv), yh = hi(yv);
      const diffL = f64x2.sub(yl, lo(tv)), diffH = f64x2.sub(yh, hi(tv));
      sl = f64x2.add(sl, f64x2.mul(diffL, diffL));
      sh = f64x2.add(sh, f64x2.mul(diffH, diffH));
      const gL = f64x2.mul(f64x2.mul(f64x2.mul(sc, diffL), yl), f64x2.sub(one, yl));
      const gH = f64x2.mul(f64x2.mul(f64x2.mul(sc, diffH), yh), f64x2.sub(one, yh));
      dgl = f64x2.add(dgl, f64x2.mul(gL, lo(zv)));
      dgh = f64x2.add(dgh, f64x2.mul(gH, hi(zv)));
      dbl = f64x2.add(dbl, gL);
      dbh = f64x2.add(dbh, gH);
      v128.store(o, demote(f64x2.mul(gL, gl), f64x2.mul(gH, gh)));
    }
  }
  v128.store(dGamma, dgl);
  v128.store(dGamma, dgh, 16);
  v128.store(dBeta, dbl);
  v128.store(dBeta, dbh, 16);
  return (f64x2.extract_lane(sl, 0) + f64x2.extract_lane(sl, 1)) + (f64x2.extract_lane(sh, 0) + f64x2.extract_lane(sh, 1));
}

// flags[c] = 1 if channel c of the n-pixel, C-channel image x has a nonzero bit somewhere (so −0
// counts as used), else 0. Four channels at a time when C allows, OR-ing their bits down the image
// and stopping once all four are seen in use: a used channel is nonzero within the first pixels.
export function activeChannels(x: usize, n: i32, C: i32, flags: usize): void {
  const step = (<usize>C) << 2;
  const end = x + (<usize>n) * step;
  let c = 0;
  if ((C & 3) == 0) {
    for (; c < C; c += 4) {
      let bits = i32x4.splat(0);
      let p = x + ((<usize>c) << 2);
      while (p < end && !i32x4.all_true(bits)) {
        const stop = min(end, p + 16 * step);
        for (; p < stop; p += step) bits = v128.or(bits, v128.load(p));
      }
      const f = flags + ((<usize>c) << 2);
      store<i32>(f, i32x4.extract_lane(bits, 0) != 0 ? 1 : 0);
      store<i32>(f, i32x4.extract_lane(bits, 1) != 0 ? 1 : 0, 4);
      store<i32>(f, i32x4.extract_lane(bits, 2) != 0 ? 1 : 0, 8);
      store<i32>(f, i32x4.extract_lane(bits, 3) != 0 ? 1 : 0, 12);
    }
  }
  for (; c < C; c++) {
    let p = x + ((<usize>c) << 2);
    while (p < end && load<i32>(p) == 0) p += step;
    store<i32>(flags + ((<usize>c) << 2), p < end ? 1 : 0);
  }
}

// Packs the used channels of the H×W×C image x into dstP (nA channels, zero border of 1, border
// included: it moves with nA). They come as runs of consecutive channels, nRuns triples at `runs`
// (first source channel, first packed channel, length), copied 4 floats at a time; a run's last
// vector may overlap its previous one.
export function gatherChannels(x: usize, H: i32, W: i32, C: i32, runs: usize, nRuns: i32, nA: i32, dstP: usize): void {
  const px = (<usize>nA) << 2;
  const rowBytes = (<usize>(W + 2)) * px;
  memory.fill(dstP, 0, rowBytes);
  memory.fill(dstP + (<usize>(H + 1)) * rowBytes, 0, rowBytes);
  const runsEnd = runs + (<usize>nRuns) * 12;
  for (let y = 0; y < H; y++) {
    let o = dstP + (<usize>(y + 1)) * rowBytes;
    memory.fill(o, 0, px);
    memory.fill(o + (<usize>(W + 1)) * px, 0, px);
    o += px;
    let s = x + ((<usize>(y * W * C)) << 2);
    for (let xx = 0; xx < W; xx++, s += (<usize>C) << 2, o += px) {
      for (let r = runs; r < runsEnd; r += 12) {
        const from = s + ((<usize>load<i32>(r)) << 2);
        const to = o + ((<usize>load<i32>(r, 4)) << 2);
        const len = (<usize>load<i32>(r, 8)) << 2;
        if (len >= 16) {
          let k: usize = 0;
          for (; k + 16 <= len; k += 16) v128.store(to + k, v128.load(from + k));
          if (k < len) v128.store(to + len - 16, v128.load(from + len - 16));
        } else {
          for (let k: usize = 0; k < len; k += 4) store<i32>(to + k, load<i32>(from + k));
        }
      }
    }
  }
}
