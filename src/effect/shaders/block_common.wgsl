// Shared by the fast path's full-resolution 3×3 passes (enc0, dec0; prepended after
// conv3_common.wgsl). Each thread computes a block of 2 × BLOCK_ROWS pixels: its window of input
// texels is read once, a row at a time, and shared by the block's outputs (16 reads instead of 36
// for a 2×2 block), and every weight operand serves two pixels. The pass declares:
//   Row and load_row(x, y, size): the texels of window row y at columns x − 1 … x + 2, zero
//     outside the image (rows outside it are never loaded);
//   add_row(r, row, acc0, acc1): adds a row under the weight row r = ky·3·STRIDE to two
//     horizontally adjacent pixels: pixel 0 uses columns 0–2, pixel 1 columns 1–3;
//   store(p, size, acc): the output of pixel p from its convolution acc (nothing outside the image).

// Threads per workgroup along x; WG_Y and conv3_block follow, written for the pass's block height
// by conv3BlockWgsl (conv3-block.ts). The output tile is (2·WG_X) × 32 (BLOCK_TILE).
const WG_X: u32 = 8u;
