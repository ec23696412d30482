/**
 * The plain JS twin of kernels.as: the same kernels with the same arguments (see Kernels in
 * kernels.ts for what each does and for the layouts), for engines without WebAssembly SIMD and
 * as the tests' cross-check of the wasm. Convolution sums run in float64 (JS numbers) and round
 * once, so they differ from the wasm's float32 sums by rounding; the pointwise passes compute
 * exactly what the wasm computes.
 */
import { lanes4, type Arena, type Kernels } from './kernels.js';

export function jsKernels(arena: Arena): Kernels {
  return {
    kind: 'js',
    conv(inP, inRow, H, W, Cin, K, w, bias, Cout, out, outRow) {
      const f = arena.f32;
      const rowLen = K * Cin;
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const o = out + y * outRow + x * Cout;
          for (let co = 0; co < Cout; co++) {
            let acc = bias < 0 ? 0 : f[bias + co]!;
            for (let ky = 0; ky < K; ky++) {
              const p = inP + (y + ky) * inRow + x * Cin;
              // weights [g][ky][kx][ci][4]: input j of this kernel row is 4 floats after input j − 1
              const q = w + ((co >> 2) * K + ky) * rowLen * 4 + (co & 3);
              for (let j = 0; j < rowLen; j++) acc += f[p + j]! * f[q + 4 * j]!;
            }
            f[o + co] = acc;
          }
        }
      }
    },

    convWeightGrad(inP, inRow, H, W, Cin, K, dP, dRow, Cout, gw, gb) {
      const f = arena.f32;
      const g64 = arena.f64;
      const rowLen = K * Cin;
      const C4 = lanes4(Cout);
      const pad = (K - 1) >> 1;
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const dp = dP + (y + pad) * dRow + (x + pad) * Cout;
          for (let co = 0; co < Cout; co++) {
            const dv = f[dp + co]!;
            if (dv === 0) continue; // common after a relu
            g64[gb + co]! += dv;
            for (let ky = 0; ky < K; ky++) {
              const p = inP + (y + ky) * inRow + x * Cin;
              const q = gw + ky * rowLen * C4 + co;
              for (let j = 0; j < rowLen; j++) g64[q + j * C4]! += f[p + j]! * dv;
            }
          }
        }
      }
    },

    filmRelu(c, n, C, gamma, beta, out) {
      const f = arena.f32;
      const g64 = arena.f64;
      for (let i = 0; i < n * C; i += C) {
        for (let k = 0; k < C; k++) {
          const v = g64[gamma + k]! * f[c + i + k]! + g64[beta + k]!;
          f[out + i + k] = v > 0 ? v : 0;
        }
      }
    },

    filmReluBackward(c, e, dE, H, W, C, gamma, dGamma, dBeta, out, pad) {
      const f = arena.f32;
      const g64 = arena.f64;
      const Wp = W + 2 * pad;
      for (let y = 0; y < H; y++) {
        let o = out + ((y + pad) * Wp + pad) * C;
        for (let i = y * W * C, end = i + W * C; i < end; i += C, o += C) {
          for (let k = 0; k < C; k++) {
            const g = f[e + i + k]! > 0 ? f[dE + i + k]! : 0;
            g64[dGamma + k]! += g * f[c + i + k]!;
            g64[dBeta + k]! += g;
            f[o + k] = g * g64[gamma + k]!;
          }
        }
      }
    },

    avgpool(src, H, W, C, dst, pad) {
      const f = arena.f32;
      const H1 = (H + 1) >> 1;
      const W1 = (W + 1) >> 1;
      const Wd = W1 + 2 * pad;
      for (let y = 0; y < H1; y++) {
        const y0 = 2 * y;
        const y1 = Math.min(y0 + 1, H - 1);
        for (let x = 0; x < W1; x++) {
          const x0 = 2 * x;
          const x1 = Math.min(x0 + 1, W - 1);
          const inv = 1 / ((y1 - y0 + 1) * (x1 - x0 + 1));
          const o = dst + ((y + pad) * Wd + x + pad) * C;
          const a = src + (y0 * W + x0) * C, b = src + (y0 * W + x1) * C, c = src + (y1 * W + x0) * C, d = src + (y1 * W + x1) * C;
          for (let k = 0; k < C; k++) {
            // Duplicated taps at a clipped edge are counted once.
            let s = f[a + k]!;
            if (x1 !== x0) s += f[b + k]!;
            if (y1 !== y0) s += f[c + k]!;
            if (x1 !== x0 && y1 !== y0) s += f[d + k]!;
            f[o + k] = s * inv;
          }
        }
      }
    },

    avgpoolBackward(dPool, H, W, C, dSrc) {
      const f = arena.f32;
      const W1 = (W + 1) >> 1;
      for (let y = 0; y < H; y++) {
        const py = y >> 1;
        const ny = Math.min(2 * py + 2, H) - 2 * py;
        for (let x = 0; x < W; x++) {
          const px = x >> 1;
          const inv = 1 / (ny * (Math.min(2 * px + 2, W) - 2 * px));
          const o = dPool + (py * W1 + px) * C;
          const s = dSrc + (y * W + x) * C;
          for (let k = 0; k < C; k++) f[s + k]! += f[o + k]! * inv;
        }
      }
    },

    upsampleConcat(low, Wl, Cl, skip, H, W, Cs, dstP) {
      const f = arena.f32;
      const C = Cl + Cs;
      const Wp = W + 2;
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const o = dstP + ((y + 1) * Wp + x + 1) * C;
          const l = low + ((y >> 1) * Wl + (x >> 1)) * Cl;
          const s = skip + (y * W + x) * Cs;
          for (let k = 0; k < Cl; k++) f[o + k] = f[l + k]!;
          for (let k = 0; k < Cs; k++) f[o + Cl + k] = f[s + k]!;
        }
      }
    },

    upsampleConcatBackward(dCat, H, W, Cl, Cs, dLow, Hl, Wl, dSkip) {
      const f = arena.f32;
      const C = Cl + Cs;
      f.fill(0, dLow, dLow + Hl * Wl * Cl);
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const o = dCat + (y * W + x) * C;
          const l = dLow + ((y >> 1) * Wl + (x >> 1)) * Cl;
          const s = dSkip + (y * W + x) * Cs;
          for (let k = 0; k < Cl; k++) f[l + k]! += f[o + k]!;
          for (let k = 0; k < Cs; k++) f[s + k] = f[o + Cl + k]!;
        }
      }
    },

    relu(p, n) {
      const f = arena.f32;
      for (let i = p; i < p + n; i++) if (!(f[i]! > 0)) f[i] = 0;
    },

    reluMask(y, d, n) {
      const f = arena.f32;
      for (let i = 0; i < n; i++) if (!(f[y + i]! > 0)) f[d + i] = 0;
    },

    filmSigmoid(z, n, gamma, beta, y) {
      const f = arena.f32;
      const g64 = arena.f64;
      for (let i = 0; i < n * 4; i += 4) {
        for (let k = 0; k < 4; k++) f[y + i + k] = 1 / (1 + Math.exp(-(g64[gamma + k]! * f[z + i + k]! + g64[beta + k]!)));
      }
    },

    lossGrad(y, t, z, H, W, gamma, dGamma, dBeta, scale, gP) {
      const f = arena.f32;
      const g64 = arena.f64;
      const sse = [0, 0, 0, 0]; // per channel, added up at the end as the wasm does
      for (let yy = 0; yy < H; yy++) {
        let o = gP + ((yy + 1) * (W + 2) + 1) * 4;
        for (let i = yy * W * 4, end = i + W * 4; i < end; i += 4, o += 4) {
          for (let k = 0; k < 4; k++) {
            const yv = f[y + i + k]!;
            const diff = yv - f[t + i + k]!;
            sse[k]! += diff * diff;
            const g = scale * diff * yv * (1 - yv);
            g64[dGamma + k]! += g * f[z + i + k]!;
            g64[dBeta + k]! += g;
            f[o + k] = g * g64[gamma + k]!;
          }
        }
      }
      return sse[0]! + sse[1]! + (sse[2]! + sse[3]!);
    },

    activeChannels(x, n, C, flags) {
      const bits = arena.i32; // the bits, so that −0 counts as used, as in the wasm
      for (let c = 0; c < C; c++) {
        let p = x + c;
        const end = x + n * C;
        while (p < end && bits[p] === 0) p += C;
        arena.i32[flags + c] = p < end ? 1 : 0;
      }
    },

    gatherChannels(x, H, W, C, runs, nRuns, nA, dstP) {
      const f = arena.f32;
      const i32 = arena.i32;
      f.fill(0, dstP, dstP + (H + 2) * (W + 2) * nA); // the border too: it moves with nA
      for (let y = 0; y < H; y++) {
        let o = dstP + ((y + 1) * (W + 2) + 1) * nA;
        for (let s = x + y * W * C, end = s + W * C; s < end; s += C, o += nA) {
          for (let r = runs; r < runs + 3 * nRuns; r += 3) {
            const from = s + i32[r]!;
            const to = o + i32[r + 1]!;
            for (let k = 0; k < i32[r + 2]!; k++) i32[to + k] = i32[from + k]!;
          }
        }
      }
    },
  };
}
