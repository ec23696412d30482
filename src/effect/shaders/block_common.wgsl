// Shared by the fast path's full-resolution 3×3 passes (enc0, dec0; prepended after
// conv3_common.wgsl). Each thread computes a 2×2 block of pixels: its 4×4 window of input texels
// is read once, a row at a time, and shared by the four outputs (16 reads instead of 36), and
// every weight read from workgroup memory serves two pixels. The pass declares:
//   Row and load_row(x, y, size): the texels of window row y at columns x − 1 … x + 2, zero
//     outside the image (rows outside it are never loaded);
//   add_row(r, row, acc0, acc1): adds a row under the weight row r = ky·3·STRIDE to two
//     horizontally adjacent pixels: pixel 0 uses columns 0–2, pixel 1 columns 1–3;
//   store(p, size, acc): the output of pixel p from its convolution acc (nothing outside the image).

// Threads per workgroup along x and y; the output tile is (2·WG_X) × (2·WG_Y) (CNNv3Effect's tile).
const WG_X: u32 = 8u;
const WG_Y: u32 = 16u;

// The block of thread lid of workgroup wid in an image of `size`.
fn conv3_block(wid: vec3u, lid: vec3u, size: vec2i) {
  let p = vec2i((wid.xy * vec2u(WG_X, WG_Y) + lid.xy) * 2u);
  if (p.x >= size.x || p.y >= size.y) { return; }
  // acc_ij: pixel p + (j, i).
  let bias = vec4a(w[BIAS]);
  var acc00 = bias;
  var acc01 = bias;
  var acc10 = bias;
  var acc11 = bias;
  // Window rows p.y − 1 … p.y + 2 (row p.y is always inside): row t is ky = t for pixel row 0 and
  // ky = t − 1 for row 1. Written out, not looped, so every weight index is a constant (a uniform
  // operand of the multiply, not a load).
  if (p.y >= 1) {
    let row = load_row(p.x, p.y - 1, size);
    add_row(0u, row, &acc00, &acc01);
  }
  {
    let row = load_row(p.x, p.y, size);
    add_row(3u * STRIDE, row, &acc00, &acc01);
    add_row(0u, row, &acc10, &acc11);
  }
  if (p.y + 1 < size.y) {
    let row = load_row(p.x, p.y + 1, size);
    add_row(6u * STRIDE, row, &acc00, &acc01);
    add_row(3u * STRIDE, row, &acc10, &acc11);
  }
  if (p.y + 2 < size.y) {
    let row = load_row(p.x, p.y + 2, size);
    add_row(6u * STRIDE, row, &acc10, &acc11);
  }
  store(p, size, acc00);
  store(p + vec2i(1, 0), size, acc01);
  store(p + vec2i(0, 1), size, acc10);
  store(p + vec2i(1, 1), size, acc11);
}
