import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../src/model/config.js';
import { FastModel } from '../src/model/fast.js';
import { initParams } from '../src/model/init.js';
import { buildParamTable } from '../src/model/params.js';
import { forward, lossAndGrad, tensor, type Tensor } from '../src/model/reference.js';
import { jsKernels } from '../src/model/wasm/kernels-js.js';
import { Arena, wasmKernels, type Kernels } from '../src/model/wasm/kernels.js';
import { Rng } from '../src/util/rng.js';
import { REPO } from './helpers.js';

test('the committed kernels.generated.ts is what kernels.as compiles to', () => {
  const r = spawnSync(process.execPath, [`${REPO}scripts/build-wasm.mjs`, '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr + r.stdout);
});

// ---------------------------------------------------------------- kernel by kernel: wasm vs JS

/**
 * Runs `run` with the JS kernels and then, from the same memory, with the wasm kernels, and
 * compares the named regions: every float of them, gaps included, so a kernel writing where it
 * must not shows up too. `tol` is relative, to the value plus a tenth of the region's largest (float32
 * sums of many terms cancel); 0 asks for the same bits.
 */
function compare(arena: Arena, regions: Array<{ what: string; f64?: boolean; at: number; n: number; tol: number }>, run: (k: Kernels) => number | void): void {
  const wasm = wasmKernels(arena);
  assert.ok(wasm, 'this Node has WebAssembly SIMD');
  const js = jsKernels(arena);
  const before = new Uint8Array(arena.memory.buffer).slice();
  const rJs = run(js);
  const got = regions.map((r) => (r.f64 ? arena.f64 : arena.f32).slice(r.at, r.at + r.n));
  new Uint8Array(arena.memory.buffer).set(before);
  const rWasm = run(wasm);
  if (typeof rJs === 'number') assert.ok(Object.is(rWasm, rJs), `returned ${rWasm} vs ${rJs}`);
  regions.forEach((r, i) => {
    const a = (r.f64 ? arena.f64 : arena.f32).subarray(r.at, r.at + r.n);
    const b = got[i]!;
    let scale = 0;
    for (const v of b) scale = Math.max(scale, Math.abs(v));
    for (let j = 0; j < r.n; j++) {
      const ok = r.tol === 0 ? Object.is(a[j], b[j]) : Math.abs(a[j]! - b[j]!) <= r.tol * (Math.abs(b[j]!) + 0.1 * scale);
      assert.ok(ok, `${r.what}[${j}]: wasm ${a[j]} vs js ${b[j]}`);
    }
  });
}

function fill(arena: Arena, at: number, n: number, rng: Rng, zeroFraction = 0): void {
  for (let i = 0; i < n; i++) arena.f32[at + i] = rng.next() < zeroFraction ? 0 : Math.fround(rng.uniform(-1, 1));
}

test('wasm conv and convWeightGrad match the JS twin, for any channel count, width and stride', () => {
  const rng = new Rng(5);
  for (const [H, W, Cin, K, Cout] of [
    [4, 9, 20, 3, 4], [5, 13, 3, 3, 6], [3, 17, 8, 1, 5], [6, 8, 13, 3, 4], [2, 3, 16, 3, 16], [7, 21, 4, 3, 8], [1, 1, 1, 3, 1], [3, 5, 2, 3, 2],
    [4, 11, 6, 1, 3], [2, 9, 5, 1, 12], [3, 10, 7, 3, 9],
  ] as Array<[number, number, number, number, number]>) {
    const arena = new Arena();
    const pad = K - 1;
    const inRow = (W + pad) * Cin + 3; // a little wider than the rows: strides are honoured
    const inP = arena.allocF32((H + pad) * inRow);
    const C4 = (Cout + 3) & ~3;
    const w = arena.allocF32((C4 / 4) * K * K * Cin * 4);
    const bias = arena.allocF32(C4);
    const outRow = W * Cout + 5;
    const out = arena.allocF32(H * outRow);
    const dRow = (W + pad) * Cout + 2; // with a border, like the input
    const d = arena.allocF32((H + pad) * dRow);
    const gw = arena.allocF64(K * K * Cin * C4);
    const gb = arena.allocF64(C4);
    fill(arena, inP, (H + pad) * inRow, rng, 0.2);
    for (let g = 0; g < C4 / 4; g++) {
      for (let j = 0; j < K * K * Cin; j++) for (let l = 0; l < 4; l++) if (4 * g + l < Cout) arena.f32[w + (g * K * K * Cin + j) * 4 + l] = Math.fround(rng.uniform(-1, 1));
    }
    fill(arena, bias, Cout, rng);
    arena.f32.fill(7, out, out + H * outRow); // must survive in the gaps
    // Zero border, dead pixels and a dead row, as after a relu.
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const at = d + (y + pad / 2) * dRow + (x + pad / 2) * Cout;
        if (y !== 1 && x % 3 !== 0) fill(arena, at, Cout, rng, 0.3);
      }
    }
    for (let i = 0; i < K * K * Cin * C4; i++) arena.f64[gw + i] = rng.uniform(-1, 1); // added into
    const label = `H${H} W${W} Cin${Cin} K${K} Cout${Cout}`;
    compare(arena, [{ what: `conv ${label}`, at: out, n: H * outRow, tol: 1e-5 }], (k) => k.conv(inP, inRow, H, W, Cin, K, w, bias, Cout, out, outRow));
    compare(arena, [{ what: `conv no bias ${label}`, at: out, n: H * outRow, tol: 1e-5 }], (k) => k.conv(inP, inRow, H, W, Cin, K, w, -1, Cout, out, outRow));
    // Lanes past Cout of the gradients are scratch; compare the real ones.
    const gwRegions = [];
    for (let j = 0; j < K * K * Cin; j++) gwRegions.push({ what: `gw ${label} input ${j}`, f64: true, at: gw + j * C4, n: Cout, tol: 1e-5 });
    compare(arena, [...gwRegions, { what: `gb ${label}`, f64: true, at: gb, n: Cout, tol: 1e-5 }], (k) =>
      k.convWeightGrad(inP, inRow, H, W, Cin, K, d, dRow, Cout, gw, gb));
  }
});

test('wasm pointwise kernels give the same bits as the JS twin', () => {
  const rng = new Rng(6);
  for (const [H, W, C, C2] of [[5, 7, 3, 5], [8, 8, 4, 4], [3, 2, 8, 16], [1, 1, 1, 2]] as Array<[number, number, number, number]>) {
    const arena = new Arena();
    const n = H * W;
    const H1 = (H + 1) >> 1, W1 = (W + 1) >> 1;
    const a = arena.allocF32(n * (C + C2));
    const b = arena.allocF32(n * (C + C2));
    const dst = arena.allocF32((H + 2) * (W + 2) * (C + C2));
    const low = arena.allocF32(H1 * W1 * C);
    const film = arena.allocF64(4 * Math.max(C, 4));
    const dFilm = arena.allocF64(4 * Math.max(C, 4));
    const runs = arena.allocI32(6);
    const flags = arena.allocI32(C + C2);
    fill(arena, a, n * (C + C2), rng, 0.2);
    fill(arena, b, n * (C + C2), rng, 0.2);
    fill(arena, dst, (H + 2) * (W + 2) * (C + C2), rng);
    fill(arena, low, H1 * W1 * C, rng);
    for (let i = 0; i < 4 * Math.max(C, 4); i++) arena.f64[film + i] = rng.uniform(-2, 2);
    const [gamma, beta] = [film, film + Math.max(C, 4)];
    const [dGamma, dBeta] = [dFilm, dFilm + Math.max(C, 4)];
    const label = `${H}×${W}×${C}`;
    const all = (what: string) => [
      { what: `${what} a`, at: a, n: n * (C + C2), tol: 0 },
      { what: `${what} b`, at: b, n: n * (C + C2), tol: 0 },
      { what: `${what} dst`, at: dst, n: (H + 2) * (W + 2) * (C + C2), tol: 0 },
      { what: `${what} low`, at: low, n: H1 * W1 * C, tol: 0 },
      { what: `${what} film grads`, f64: true, at: dFilm, n: 4 * Math.max(C, 4), tol: 0 },
    ];
    compare(arena, all(`filmRelu ${label}`), (k) => k.filmRelu(a, n, C, gamma, beta, b));
    for (const pad of [0, 1]) {
      compare(arena, all(`filmReluBackward pad ${pad} ${label}`), (k) => k.filmReluBackward(a, b, dst, H, W, C, gamma, dGamma, dBeta, pad ? dst : b, pad));
      compare(arena, all(`avgpool pad ${pad} ${label}`), (k) => k.avgpool(a, H, W, C, dst, pad));
    }
    compare(arena, all(`filmReluBackward in place ${label}`), (k) => k.filmReluBackward(a, b, dst, H, W, C, gamma, dGamma, dBeta, dst, 0));
    compare(arena, all(`avgpoolBackward ${label}`), (k) => k.avgpoolBackward(low, H, W, C, a));
    compare(arena, all(`upsampleConcat ${label}`), (k) => k.upsampleConcat(low, W1, C, a, H, W, C2, dst));
    compare(arena, all(`upsampleConcatBackward ${label}`), (k) => k.upsampleConcatBackward(a, H, W, C, C2, low, H1, W1, b));
    compare(arena, all(`relu ${label}`), (k) => k.relu(a, n * C));
    compare(arena, all(`reluMask ${label}`), (k) => k.reluMask(a, b, n * C));
    // The wasm sigmoid runs in float32 (see kernels.as).
    compare(arena, [{ what: `filmSigmoid ${label}`, at: b, n: n * 4, tol: 1e-6 }], (k) => k.filmSigmoid(a, n, gamma, beta, b));
    compare(arena, all(`lossGrad ${label}`), (k) => k.lossGrad(a, b, dst, H, W, gamma, dGamma, dBeta, 0.01, dst));
    arena.f32.fill(0, a, a + n * (C + C2));
    for (let p = 0; p < n; p += 2) for (let c = 0; c < C + C2; c += 3) arena.f32[a + p * (C + C2) + c] = 1;
    compare(arena, [{ what: `activeChannels ${label}`, at: flags, n: C + C2, tol: 0 }], (k) => k.activeChannels(a, n, C + C2, flags));
    arena.f32[a + 1] = -0; // counts as used
    compare(arena, [{ what: `activeChannels −0 ${label}`, at: flags, n: C + C2, tol: 0 }], (k) => k.activeChannels(a, n, C + C2, flags));
    // Pack channels [1, C2) then [0, 1) (a run of ≥ 4 takes the vector path when C2 ≥ 5).
    arena.i32.set([1, 0, C2 - 1, 0, C2 - 1, 1], runs);
    compare(arena, all(`gatherChannels ${label}`), (k) => k.gatherChannels(b, H, W, C + C2, runs, 2, C2, dst));
  }
});

// ---------------------------------------------------------------- the whole model: wasm, JS, reference

function toHwc(t: Tensor): Float32Array {
  const out = new Float32Array(t.c * t.h * t.w);
  for (let c = 0; c < t.c; c++) for (let p = 0; p < t.h * t.w; p++) out[p * t.c + c] = t.data[c * t.h * t.w + p]!;
  return out;
}

function assertClose(actual: ArrayLike<number>, ref: ArrayLike<number>, atol: number, rtol: number, what: string): void {
  assert.equal(actual.length, ref.length, `${what}: length`);
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(actual[i]! - ref[i]!);
    assert.ok(err <= atol + rtol * Math.abs(ref[i]!), `${what}[${i}]: ${actual[i]} vs ${ref[i]}`);
  }
}

for (const { label, cfg, h, w } of [
  { label: 'default config, 32×24', cfg: DEFAULT_MODEL_CONFIG, h: 32, w: 24 },
  { label: 'enc [3, 5] (no channel count a multiple of 4), 13×11', cfg: { encChannels: [3, 5], filmCondDim: 2 } as ModelConfig, h: 13, w: 11 },
]) {
  test(`wasm and JS kernels agree with each other and with the reference: ${label}`, () => {
    const table = buildParamTable(cfg);
    const rng = new Rng(21);
    const params = initParams(table, 21);
    const x = tensor(20, h, w);
    for (let i = 0; i < x.data.length; i++) x.data[i] = Math.fround(rng.next());
    for (const c of [3, 4, 9, 10, 11]) x.data.fill(0, c * h * w, (c + 1) * h * w); // dropped channels
    const target = tensor(4, h, w);
    for (let i = 0; i < target.data.length; i++) target.data[i] = Math.fround(rng.next());
    const cond = Array.from({ length: cfg.filmCondDim }, () => Math.fround(rng.next()));
    const refGrad = new Float64Array(table.total);
    const refLoss = lossAndGrad(table, params, [{ x, target, cond }], refGrad);
    const refY = toHwc(forward(table, params, x, cond).y);
    const scale = Math.max(...Array.from(refGrad, Math.abs));
    const count = 4 * h * w;
    const results = (['wasm', 'js'] as const).map((kernels) => {
      const m = new FastModel(table, { kernels });
      assert.equal(m.kernelKind, kernels);
      m.setParams(params);
      const y = m.forward(toHwc(x), h, w, cond).slice();
      const grad = new Float64Array(table.total);
      const sse = m.trainImage(toHwc(x), h, w, cond, toHwc(target), count, grad);
      assertClose(y, refY, 1e-6, 1e-5, `${kernels} output`);
      assert.ok(Math.abs(sse / count - refLoss) <= 1e-6 * refLoss, `${kernels} loss ${sse / count} vs ${refLoss}`);
      assertClose(grad, refGrad, 1e-5 * scale, 1e-4, `${kernels} gradient`);
      return { y, grad };
    });
    assertClose(results[0]!.y, results[1]!.y, 1e-6, 1e-5, 'wasm vs js output');
    assertClose(results[0]!.grad, results[1]!.grad, 1e-5 * scale, 1e-4, 'wasm vs js gradient');
  });
}

test('a result does not depend on what the model computed before (threads and --resume rely on it)', () => {
  const table = buildParamTable(DEFAULT_MODEL_CONFIG);
  const params = initParams(table, 3);
  const rng = new Rng(4);
  const image = (h: number, w: number, zero: number[]) => {
    const x = new Float32Array(h * w * 20).map(() => Math.fround(rng.next()));
    for (let p = 0; p < h * w; p++) for (const c of zero) x[p * 20 + c] = 0;
    return { x, t: new Float32Array(h * w * 4).map(() => Math.fround(rng.next())), cond: [0.1, 0.2, 0.3, 0.4, 0.5] };
  };
  // Different active channel counts move the packed input's border; a different size has its own buffers.
  const first = [image(12, 10, []), image(5, 7, [1, 2]), image(12, 10, [3, 4, 5, 6, 7, 8])];
  const probe = image(12, 10, [9, 10, 11, 18, 19]);
  for (const kernels of ['wasm', 'js'] as const) {
    const run = (m: FastModel) => {
      const grad = new Float64Array(table.total);
      const sse = m.trainImage(probe.x, 12, 10, probe.cond, probe.t, 480, grad);
      return { sse, grad };
    };
    const used = new FastModel(table, { kernels });
    used.setParams(params);
    for (const im of first) used.trainImage(im.x, im.x.length === 12 * 10 * 20 ? 12 : 5, im.x.length === 12 * 10 * 20 ? 10 : 7, im.cond, im.t, 480, new Float64Array(table.total));
    const fresh = new FastModel(table, { kernels });
    fresh.setParams(params);
    assert.deepEqual(run(used), run(fresh), kernels);
  }
});
