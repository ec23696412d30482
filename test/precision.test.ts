// The effect's precisions (effect/precision.ts). No adapter here offers shader-f16, so the
// f16-arithmetic shaders cannot run; what can be checked without one is checked:
// - the f16 modules are the f32 ones with exactly the precision block rewritten (no drift);
// - every f16 module type-checks, pipelines and bind groups included, on Dawn's null backend
//   (Tint, the compiler Chromium uses; it offers every feature and executes nothing), which is
//   shown to reject broken f16 shaders;
// - parity's f16 tolerance against an emulation of the network that rounds every operation to f16;
// - on this machine's adapter: 'auto' runs f32, 'f16' is refused naming shader-f16.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { effectModules, type EffectPath } from '../src/effect/cnn-effect.js';
import { CnnNodeEffect } from '../src/effect/cnn-node-effect.js';
import { completePlanes, FeaturePass } from '../src/effect/feature-pass.js';
import { TextureNodes } from '../src/effect/nodes.js';
import { F16_ENABLE, F16_REWRITES, resolvePrecision, shaderForArithmetic } from '../src/effect/precision.js';
import { computeFeatures, NUM_FEATURES } from '../src/dataset/features.js';
import { packFeatures, unpackFeatures } from '../src/dataset/gpu-pack.js';
import { isCnnV3Error } from '../src/errors.js';
import { evalFilmMlp, readFilmMlpBin, readWeightsBin } from '../src/export/read.js';
import { createValidationDevice } from '../src/gpu/device-node.js';
import { makeModelConfig, type ModelConfig } from '../src/model/config.js';
import { buildParamTable } from '../src/model/params.js';
import { avgpoolForward, concatForward, forward, residualBase, tensor, upsampleForward, type Tensor } from '../src/model/reference.js';
import { roundToHalf } from '../src/util/half.js';
import { PARITY_TOLERANCES } from '../src/verify/parity.js';
import { randomPlanes, randomWeights } from '../src/verify/random-input.js';
import { destroyGpuContextAfter, testGpuContext } from './gpu-helpers.js';
import { runCli } from './helpers.js';

destroyGpuContextAfter();

const PATHS: EffectPath[] = ['fast', 'general'];

test('the f32 build is the WGSL source as written; the f16 build differs from it only in the precision block', () => {
  for (const path of PATHS) {
    const f32 = effectModules(path, 'f32');
    const f16 = effectModules(path, 'f16');
    for (const [i, m] of f32.entries()) {
      assert.equal(m.code, m.sources.join('\n'), `${m.shader}: the f32 module is its sources unchanged`);
      const a = m.code.split('\n');
      const b = f16[i]!.code.split('\n');
      assert.equal(b[0], F16_ENABLE, `${m.shader}: enable f16 first`);
      assert.equal(b.length, a.length + 1);
      const changed = a.flatMap((line, k) => (line === b[k + 1] ? [] : [[line, b[k + 1]]]));
      assert.deepEqual(changed, F16_REWRITES.map(([x, y]) => [x, y]), `${m.shader}: only the precision block differs`);
    }
  }
  assert.throws(() => shaderForArithmetic('fn main() {}', 'f16'), /expected the line "alias act = f32;" once/);
  assert.equal(shaderForArithmetic('anything', 'f32'), 'anything');
});

let validation: Promise<GPUDevice> | undefined;
const validationDevice = () => (validation ??= createValidationDevice(['shader-f16', 'timestamp-query']));
after(async () => (await validation)?.destroy());

/** The first validation error of `f` on `device`, or null. */
async function validationError(device: GPUDevice, f: () => void): Promise<string | null> {
  device.pushErrorScope('validation');
  f();
  const e = await device.popErrorScope();
  return e ? e.message : null;
}

const CONFIGS: Array<{ config: ModelConfig; path?: EffectPath }> = [
  { config: makeModelConfig([4, 8], 5) },
  { config: makeModelConfig([4, 8], 5, 'residual') },
  { config: makeModelConfig([3, 5], 5) },
  { config: makeModelConfig([1, 2], 3) },
  { config: makeModelConfig([4, 8], 5, 'residual'), path: 'general' },
  { config: makeModelConfig([8, 16], 5) },
  { config: makeModelConfig([13, 30], 5, 'residual') },
];

test('every f16 shader type-checks with the constants the effect sets, and its passes encode (Tint on Dawn\'s null backend)', async () => {
  const device = await validationDevice();
  for (const { config, path } of CONFIGS) {
    const what = `enc=[${config.encChannels}] ${config.output ?? 'sigmoid'}${path ? ` ${path}` : ''}`;
    const nodes = new TextureNodes(device);
    const features = new FeaturePass(device);
    let cnn: CnnNodeEffect | undefined;
    const err = await validationError(device, () => {
      cnn = new CnnNodeEffect(device, { config, precision: 'f16', ...(path ? { path } : {}) });
      features.upload(randomPlanes(21, 13, 1), nodes);
      cnn.effect.uploadWeights(device.queue, randomWeights(config, 1).weights);
      cnn.effect.enableTimestamps();
      const encoder = device.createCommandEncoder({ label: 'f16 validation' });
      features.encode(encoder, nodes);
      cnn.render(encoder, {}, nodes);
      device.queue.submit([encoder.finish()]);
    });
    assert.equal(err, null, what);
    assert.equal(cnn!.effect.precision, 'f16', what);
    // 'auto' takes f16 on a device that has it.
    const auto = new CnnNodeEffect(device, { config });
    assert.equal(auto.effect.precision, 'f16');
    auto.destroy();
    cnn!.destroy();
    nodes.destroy();
  }
});

test('the validator rejects broken f16 shaders: f16 and f32 mixed without a conversion', async () => {
  const device = await validationDevice();
  const compile = (code: string, constants: Record<string, number> = {}) =>
    validationError(device, () => {
      const module = device.createShaderModule({ label: 'broken f16', code });
      device.createComputePipeline({ label: 'broken f16', layout: 'auto', compute: { module, entryPoint: 'main', constants } });
    });
  assert.match((await compile('enable f16;\n@compute @workgroup_size(1) fn main() { let a = 1.0h; let b = 2.0f; let c = a + b; }')) ?? '', /no matching overload for 'operator \+ \(f16, f32\)'/);
  // The real enc0 module with one conversion taken out: valid in f32, rejected in f16.
  const enc0 = effectModules('fast', 'f32').find((m) => m.shader === 'enc0')!.code;
  const from = 'let wa = vec4a(w[i + ch]);';
  assert.ok(enc0.includes(from));
  const broken = enc0.replace(from, 'let wa = w[i + ch];');
  assert.equal(await compile(broken, { C0: 4 }), null);
  assert.match((await compile(shaderForArithmetic(broken, 'f16'), { C0: 4 })) ?? '', /vec4<f32>.*f16|f16.*vec4<f32>/);
  assert.equal(await compile(shaderForArithmetic(enc0, 'f16'), { C0: 4 }), null);
});

// ---------------------------------------------------------------- the f16 tolerance

const h = roundToHalf;

/** conv2d with every product and every sum rounded to f16 (the order of the reference's loops). */
function convF16(x: Tensor, weight: ArrayLike<number>, bias: ArrayLike<number>, outC: number, k: number): Tensor {
  const y = tensor(outC, x.h, x.w);
  const pad = (k - 1) / 2;
  for (let o = 0; o < outC; o++) {
    for (let yy = 0; yy < x.h; yy++) {
      for (let xx = 0; xx < x.w; xx++) {
        let acc = h(bias[o]!);
        for (let ky = 0; ky < k; ky++) {
          const sy = yy + ky - pad;
          if (sy < 0 || sy >= x.h) continue;
          for (let kx = 0; kx < k; kx++) {
            const sx = xx + kx - pad;
            if (sx < 0 || sx >= x.w) continue;
            for (let i = 0; i < x.c; i++) acc = h(acc + h(weight[((o * x.c + i) * k + ky) * k + kx]! * x.data[(i * x.h + sy) * x.w + sx]!));
          }
        }
        y.data[(o * x.h + yy) * x.w + xx] = acc;
      }
    }
  }
  return y;
}

const mapT = (t: Tensor, f: (v: number, i: number) => number) => tensor(t.c, t.h, t.w, t.data.map(f));

function filmF16(x: Tensor, gamma: ArrayLike<number>, beta: ArrayLike<number>, relu: boolean): Tensor {
  const hw = x.h * x.w;
  return mapT(x, (v, i) => {
    const c = Math.floor(i / hw);
    const y = h(h(h(gamma[c]!) * v) + h(beta[c]!));
    return relu ? Math.max(0, y) : y;
  });
}

/** avgpool with its sum and mean rounded: an upper bound on the shader's (it rounds the sum each add). */
const poolF16 = (x: Tensor) => mapT(avgpoolForward(mapT(x, h)), (v) => h(h(v * 4) / 4));

test('parity\'s f16 tolerance holds for the network with every operation rounded to f16 (odd and even sizes, narrow and wide)', () => {
  const tol = PARITY_TOLERANCES.nodeF16;
  for (const [enc, output, W, H, seed] of [[[4, 8], 'sigmoid', 64, 36, 1], [[4, 8], 'residual', 37, 23, 2], [[16, 32], 'sigmoid', 23, 15, 3]] as const) {
    const config = makeModelConfig(enc, 5, output);
    const table = buildParamTable(config);
    const w = randomWeights(config, seed);
    const planes = completePlanes(randomPlanes(W, H, seed));
    const f = unpackFeatures(packFeatures(computeFeatures(planes), W, H));
    const x = tensor(NUM_FEATURES, H, W);
    for (let p = 0; p < W * H; p++) for (let c = 0; c < NUM_FEATURES; c++) x.data[c * W * H + p] = f[p * NUM_FEATURES + c]!;
    const params = readWeightsBin(config, w.weights, 'weights');
    const cond = [0.1, 0.7, 0.3, 0.9, 0.2];
    const film = Array.from(evalFilmMlp(readFilmMlpBin(config, w.film, 'film'), cond), Math.fround);
    // The parity reference: float64, nodes rounded where the GPU stores them.
    const ref: Record<string, Float64Array> = {};
    forward(table, params, x, cond, film, (node, t) => {
      for (let i = 0; i < t.data.length; i++) t.data[i] = h(t.data[i]!);
      ref[node] = Float64Array.from(t.data);
    });
    const P = (name: string) => {
      const e = table.byName.get(name)!;
      return params.subarray(e.offset, e.offset + e.size);
    };
    const F = (layer: keyof typeof table.film) => {
      const q = table.film[layer];
      return [film.slice(q.gamma, q.gamma + q.channels), film.slice(q.beta, q.beta + q.channels)] as const;
    };
    const conv = (name: string, t: Tensor) => {
      const s = table.convs.find((c) => c.name === name)!;
      return convF16(t, P(`${name}.weight`), P(`${name}.bias`), s.out, s.k);
    };
    // The unorm8 features become f16 in the shader (vec4a(unpack4x8unorm)): rounded too.
    const e0 = filmF16(conv('enc0', mapT(x, h)), ...F('enc0'), true);
    const e1 = filmF16(conv('enc1', poolF16(e0)), ...F('enc1'), true);
    const b = mapT(conv('bottleneck', poolF16(e1)), (v) => Math.max(0, v));
    const d1 = filmF16(conv('dec1', concatForward(upsampleForward(b, e1.h, e1.w), e1)), ...F('dec1'), true);
    const z = filmF16(conv('dec0', concatForward(upsampleForward(d1, e0.h, e0.w), e0)), ...F('dec0'), false);
    const base = mapT(residualBase(x), h);
    // tanh and exp computed exactly, then rounded (the GPU's own are within a few f16 ulps).
    const y = output === 'residual' ? mapT(z, (v, i) => Math.min(1, Math.max(0, h(base.data[i]! + h(Math.tanh(Math.max(-5, Math.min(5, v)))))))) : mapT(z, (v) => h(1 / h(1 + h(Math.exp(-v)))));
    for (const [node, t] of Object.entries({ e0, e1, b, d1, y })) {
      const r = ref[node]!;
      let worst = 0;
      for (let i = 0; i < r.length; i++) {
        const err = Math.abs(h(t.data[i]!) - r[i]!);
        worst = Math.max(worst, err / (tol.atol + tol.rtol * Math.abs(r[i]!)));
      }
      // Within a quarter of the tolerance: the rest is the margin parity.ts argues for.
      assert.ok(worst <= 0.25, `enc=[${enc}] ${output} ${W}×${H} ${node}: ${worst.toFixed(3)} of the f16 tolerance`);
    }
  }
});

// ---------------------------------------------------------------- this machine's adapter

test('on an adapter without shader-f16: auto runs f32, f16 is refused naming shader-f16, and the CLI says so in one line', async (t) => {
  const ctx = await testGpuContext(t);
  if (!ctx) return;
  if (ctx.device.features.has('shader-f16')) return t.skip('this adapter has shader-f16');
  assert.equal(ctx.shaderF16, false);
  assert.equal(resolvePrecision(ctx.device, 'auto'), 'f32');
  assert.equal(resolvePrecision(ctx.device), 'f32');
  const config = makeModelConfig([4, 8], 5);
  const cnn = new CnnNodeEffect(ctx.device, { config });
  assert.equal(cnn.effect.precision, 'f32');
  cnn.destroy();
  assert.throws(
    () => new CnnNodeEffect(ctx.device, { config, precision: 'f16' }),
    (e: unknown) => isCnnV3Error(e) && /'shader-f16'/.test(e.message) && /D3D12/.test(e.message) && /Metal/.test(e.message),
  );
  assert.throws(() => resolvePrecision(ctx.device, 'f8' as never), /precision must be one of auto, f32, f16/);

  const refused = await runCli(['parity', '--random', '--size', '8x6', '--precision', 'f16']);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /^cnnv3: precision f16 needs the WebGPU feature 'shader-f16'/);
  assert.equal(refused.err.trim().split('\n').length, 1, refused.err);
  const bad = await runCli(['infer', '--precision', 'f64', '--weights', 'x', '--output', 'y']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--precision must be auto, f32, f16/);
  // The precision that runs here passes parity at odd and even sizes.
  for (const size of ['37x23', '64x36']) {
    const r = await runCli(['parity', '--random', '--size', size, '--precision', 'auto', '--json']);
    assert.equal(r.code, 0, r.out + r.err);
    const report = JSON.parse(r.out) as { precision: string; pass: boolean };
    assert.equal(report.precision, 'f32');
    assert.equal(report.pass, true);
  }
});
