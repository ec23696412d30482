// CNNv3Effect's general path: every width the trainer accepts runs on the GPU (intermediates in
// rgba16float texture arrays, γ/β from a storage buffer) and passes parity node by node; it
// agrees with the fast path on a model both run; the view pass shows its channels; and a wide
// model goes train → export → infer / eval / parity with its config read from the weights file.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { nodeAssets } from '../src/demo/assets-node.js';
import { DemoEngine } from '../src/demo/engine.js';
import { parseSeq } from '../src/demo/seq.js';
import { gpuAwait } from '../src/gpu/context.js';
import { CnnNodeEffect } from '../src/effect/cnn-node-effect.js';
import { cnnNodeLayouts, scaledSize, type EffectPath } from '../src/effect/cnn-effect.js';
import { FeaturePass } from '../src/effect/feature-pass.js';
import { TextureNodes } from '../src/effect/nodes.js';
import { ViewPass } from '../src/effect/view-pass.js';
import { weightsFileConfig } from '../src/export/read.js';
import { readRgba16f, readTextureBytes } from '../src/gpu/readback.js';
import { decodeRgba, encodePlanes, type InferJob } from '../src/jobs/jobs.js';
import type { GpuRunner } from '../src/jobs/runner-node.js';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../src/model/config.js';
import { randomPlanes, randomWeights } from '../src/verify/random-input.js';
import { Rng } from '../src/util/rng.js';
import { toBase64 } from '../src/util/base64.js';
import { closeRunners, destroyGpuContextAfter, testGpuContext, testRunner } from './gpu-helpers.js';
import { REPO, runCli, tempDir } from './helpers.js';
import { sampleFiles, writeSample } from './sample-fixtures.js';

after(closeRunners);
destroyGpuContextAfter();

const COND = [0.1, 0.5, 0.9, 0.3, 0.7];
const WIDE: ModelConfig = { encChannels: [8, 16], filmCondDim: 5 };

function job(config: ModelConfig, w: number, h: number, seed: number, path?: EffectPath): InferJob {
  const { weights, film } = randomWeights(config, seed);
  const cond = Array.from({ length: config.filmCondDim }, (_, i) => COND[i % COND.length]!);
  return { config, planes: encodePlanes(randomPlanes(w, h, seed)), weights: toBase64(weights), film: toBase64(film), cond, ...(path ? { path } : {}) };
}

type Case = [ModelConfig, number, number, number, EffectPath?];

async function assertGeneralParity(runner: GpuRunner, cases: Case[]): Promise<void> {
  for (const [config, w, h, seed, path] of cases) {
    const r = await runner.parity(job(config, w, h, seed, path));
    const summary = r.nodes.map((n) => `${n.node}: ${n.maxAbsError.toExponential(1)}${n.pass ? '' : ` FAIL ${n.mismatches.join('; ')}`}`).join(', ');
    assert.ok(r.pass, `${w}×${h} enc=[${config.encChannels}] D=${config.filmCondDim} ${config.output ?? 'sigmoid'}: ${summary}`);
    assert.equal(r.path, 'general');
    const layouts = cnnNodeLayouts(config, 'general');
    assert.deepEqual(r.nodes.map((n) => n.node), ['features (gbuf_feat0/1)', layouts.enc0.name, layouts.enc1.name, layouts.bottleneck.name, layouts.dec1.name, 'output', 'output (end to end)']);
    assert.deepEqual(r.nodes.slice(1, 5).map((n) => n.channels), [config.encChannels[0], config.encChannels[1], config.encChannels[1], config.encChannels[0]]);
  }
}

test('general path parity on dawn: wide models (sigmoid and residual) and small ones forced onto it, odd and even sizes', async (t) => {
  const runner = await testRunner(t, 'dawn');
  if (!runner) return;
  await assertGeneralParity(runner, [
    [WIDE, 37, 23, 1],
    [WIDE, 64, 48, 2],
    [{ ...WIDE, output: 'residual' }, 37, 23, 3],
    [{ ...WIDE, output: 'residual' }, 64, 48, 4],
    // Fits the fast path; forced onto the general one (a node of one partly used layer).
    [{ encChannels: [2, 3], filmCondDim: 5 }, 37, 23, 5, 'general'],
    [{ encChannels: [2, 3], filmCondDim: 5 }, 64, 48, 6, 'general'],
    // Wider at full resolution than at half: a C1 under one layer of C0.
    [{ encChannels: [6, 4], filmCondDim: 3 }, 37, 23, 7],
    [{ encChannels: [6, 4], filmCondDim: 3, output: 'residual' }, 64, 48, 8],
    // The extremes: the widest model (several weight chunks per pass) and a 1×1 image.
    [{ encChannels: [64, 64], filmCondDim: 64 }, 17, 9, 9],
    [{ encChannels: [5, 9], filmCondDim: 1, output: 'residual' }, 1, 1, 10],
  ]);
});

test('general path parity in Chromium (the page the tool runs in)', async (t) => {
  const runner = await testRunner(t, 'chromium');
  if (!runner) return;
  await assertGeneralParity(runner, [[{ ...WIDE, output: 'residual' }, 37, 23, 11]]);
});

test('the general path agrees with the fast path on the playbook model; the fast path refuses wide models', async (t) => {
  const runner = await testRunner(t, 'dawn');
  if (!runner) return;
  for (const config of [DEFAULT_MODEL_CONFIG, { ...DEFAULT_MODEL_CONFIG, output: 'residual' } as ModelConfig]) {
    const fast = decodeRgba(await runner.infer(job(config, 45, 27, 12)));
    const general = decodeRgba(await runner.infer(job(config, 45, 27, 12, 'general')));
    let worst = 0;
    for (let i = 0; i < fast.length; i++) worst = Math.max(worst, Math.abs(fast[i]! - general[i]!));
    // Both store f16 nodes; only the f32 summation order differs, which can flip an f16 rounding.
    assert.ok(worst <= 2 ** -9, `fast vs general: max |Δ| ${worst}`);
  }
  await assert.rejects(runner.infer(job(WIDE, 4, 4, 1, 'fast')), /enc_channels=\[8, 16\] does not fit the fast path's node formats \(at most \[4, 8\]\)/);
});

test('the view pass shows a channel of a general-path node (a layer of its texture array)', async (t) => {
  const ctx = await testGpuContext(t);
  if (!ctx) return;
  const { device } = ctx;
  const [W, H] = [29, 18];
  const nodes = new TextureNodes(device);
  const features = new FeaturePass(device);
  const cnn = new CnnNodeEffect(device, { config: WIDE });
  const effect = cnn.effect;
  const view = new ViewPass(ctx, 'rgba8unorm');
  const canvas = device.createTexture({ label: 'test view target', size: { width: W, height: H }, format: 'rgba8unorm', usage: GPUTextureUsage.RENDER_ATTACHMENT | GPUTextureUsage.COPY_SRC });
  try {
    const w = randomWeights(WIDE, 13);
    features.upload(randomPlanes(W, H, 13), nodes);
    effect.uploadWeights(device.queue, w.weights);
    effect.uploadFilmMlp(w.film);
    effect.setFilmParams(COND);
    const layout = effect.nodeLayouts.enc1;
    assert.deepEqual([layout.name, layout.layers], ['cnn_v3_enc1_c16', 4]);
    const channel = 13;
    const encoder = device.createCommandEncoder({ label: 'test view' });
    features.encode(encoder, nodes);
    cnn.render(encoder, {}, nodes);
    view.encode(encoder, canvas.createView({ label: 'test view target view' }), nodes, 'cnn_v3_output', {
      source: { kind: 'node', node: 'enc1', channel },
      layout: 'single',
      split: 0.5,
      gain: 1,
      nodeLayouts: effect.nodeLayouts,
    });
    device.queue.submit([encoder.finish()]);
    const shown = await readTextureBytes(device, canvas);
    const e1 = await readRgba16f(device, nodes.get(layout.name)!);
    const [w2, h2] = scaledSize(W, H, 2);
    let worst = 0;
    let lit = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const q = Math.floor((y * h2) / H) * w2 + Math.floor((x * w2) / W);
        const v = e1[((channel >> 2) * w2 * h2 + q) * 4 + (channel & 3)]!;
        const want = Math.round(Math.min(1, Math.max(0, v)) * 255);
        worst = Math.max(worst, Math.abs(shown[(y * W + x) * 4]! - want));
        if (want > 0) lit++;
      }
    }
    assert.ok(worst <= 1, `view vs node channel: max difference ${worst} levels`);
    assert.ok(lit > W * H * 0.1, `channel ${channel} is mostly zero (${lit} lit pixels): a weak check`);
  } finally {
    canvas.destroy();
    effect.destroy();
    nodes.destroy();
  }
});

test('a demo frame with CNN effects of three widths: each keeps its own nodes, no validation error', async (t) => {
  const ctx = await testGpuContext(t);
  if (!ctx) return;
  const dir = tempDir(t);
  copyFileSync(join(REPO, 'examples/photos/cat.png'), join(dir, 'cat.png'));
  const models: Array<[string, ModelConfig]> = [['wide', WIDE], ['mixed', { encChannels: [6, 4], filmCondDim: 5, output: 'residual' }]];
  for (const [name, config] of models) {
    const w = randomWeights(config, 14);
    writeFileSync(join(dir, `${name}.bin`), w.weights);
    writeFileSync(join(dir, `${name}_film.bin`), w.film);
  }
  const path = join(dir, 'demo.seq');
  writeFileSync(path, [
    'SEQUENCE 0 0 "s"',
    'EFFECT + ImageFeaturesEffect -> f0 f1 0 10 image=cat.png',
    'EFFECT + CNNv3Effect f0 f1 -> wide 0 10 weights=wide.bin film=wide_film.bin',
    'EFFECT + CNNv3Effect f0 f1 -> mixed 0 10 weights=mixed.bin film=mixed_film.bin',
    'EFFECT + CNNv3Effect f0 f1 -> sink 0 10',
    '',
  ].join('\n'));
  const engine = await DemoEngine.load(ctx, parseSeq(readFileSync(path, 'utf8'), path), nodeAssets(path, 10), { width: 23, height: 17, fps: 10 });
  t.after(() => engine.destroy());
  ctx.device.pushErrorScope('validation');
  engine.renderFrame(0, 0.1);
  engine.renderFrame(0.1, 0.1);
  const error = await gpuAwait(ctx.device.popErrorScope());
  assert.equal(error, null, error?.message);
  for (const n of ['cnn_v3_enc0', 'cnn_v3_enc0_c8', 'cnn_v3_enc0_c6', 'cnn_v3_bottleneck_c16', 'cnn_v3_bottleneck_c4']) assert.ok(engine.nodes.names().includes(n), n);
  const wide = await readRgba16f(ctx.device, engine.nodes.get('wide')!);
  const mixed = await readRgba16f(ctx.device, engine.nodes.get('mixed')!);
  assert.ok(wide.some((v) => Math.abs(v - 0.5) > 0.05), 'the wide effect is not gray');
  assert.ok(wide.some((v, i) => Math.abs(v - mixed[i]!) > 0.05), 'the two wide effects differ');
});

test('CLI: train --enc-channels 8,16 (sigmoid and residual) → export → infer, eval and parity read the model from the file', async (t) => {
  if (!(await testRunner(t, 'dawn'))) return;
  const dir = tempDir(t);
  const rng = new Rng(4);
  for (const name of ['a', 'b']) {
    const w = 20, h = 14;
    const albedo = Uint8Array.from({ length: w * h * 3 }, () => rng.int(256));
    const target = { width: w, height: h, data: new Uint8Array(w * h * 4) };
    for (let p = 0; p < w * h; p++) {
      for (let c = 0; c < 3; c++) target.data[p * 4 + c] = 255 - albedo[p * 3 + c]!;
      target.data[p * 4 + 3] = 255;
    }
    writeSample(join(dir, 'data', name), sampleFiles({ width: w, height: h, albedo, target }));
  }
  for (const mode of ['sigmoid', 'residual'] as const) {
    const ck = join(dir, `ck-${mode}`);
    const r = await runCli(['train', '--input', join(dir, 'data'), '--enc-channels', '8,16', '--output-mode', mode, '--epochs', '1', '--patch-size', '8', '--patches-per-image', '2', '--batch-size', '2', '--seed', '1', '--device', 'cpu', '--threads', '1', '--checkpoint-dir', ck]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`Model: enc=\\[8, 16\\] film_cond_dim=5${mode === 'residual' ? ' output=residual' : ''} params=`));
    const out = join(dir, `export-${mode}`);
    const e = await runCli(['export', join(ck, 'checkpoint_epoch_1.safetensors'), '--output', out]);
    assert.equal(e.code, 0, e.err);
    const weights = join(out, 'cnn_v3_weights.bin');
    const film = join(out, 'cnn_v3_film_mlp.bin');
    assert.deepEqual(weightsFileConfig(readFileSync(weights), weights), { encChannels: [8, 16], filmCondDim: 5, ...(mode === 'residual' ? { output: 'residual' } : {}) });
    const files = ['--weights', weights, '--film', film];

    const inf = await runCli(['infer', ...files, '--sample', join(dir, 'data', 'a'), '--output', join(out, 'a.png'), '--output-raw', join(out, 'a.f32')]);
    assert.equal(inf.code, 0, inf.err);
    const raw = new Float32Array(new Uint8Array(readFileSync(join(out, 'a.f32'))).buffer);
    assert.equal(raw.length, 20 * 14 * 4);
    assert.ok(raw.some((v) => Math.abs(v - 0.5) > 1e-3), 'a trained wide model does not output gray');

    const ev = await Promise.all(['cpu', 'gpu'].map((device) => runCli(['eval', ...files, '--input', join(dir, 'data'), '--device', device, '--json'])));
    for (const x of ev) assert.equal(x.code, 0, x.err);
    const [cpu, gpu] = ev.map((x) => JSON.parse(x.out) as { samples: Array<{ psnr: number; ssim: number }> });
    for (let i = 0; i < 2; i++) {
      // The GPU quantises the features and stores f16 nodes: a small difference, as for the playbook model.
      assert.ok(Math.abs(gpu!.samples[i]!.psnr - cpu!.samples[i]!.psnr) < 0.05, `${mode} sample ${i}: GPU ${gpu!.samples[i]!.psnr} vs CPU ${cpu!.samples[i]!.psnr} dB`);
      assert.ok(Math.abs(gpu!.samples[i]!.ssim - cpu!.samples[i]!.ssim) < 1e-3);
    }

    const p = await runCli(['parity', ...files, '--sample', join(dir, 'data', 'b')]);
    assert.equal(p.code, 0, p.err + p.out);
    assert.match(p.out, /\(general path\)\n[\s\S]*cnn_v3_enc1_c16 [\s\S]*cnn_v3_dec1_c8 [\s\S]*\nPASS\n$/);
    const random = await runCli(['parity', '--weights', weights, '--random', '--size', '37x23', '--json']);
    assert.equal(random.code, 0, random.err + random.out);
    assert.equal((JSON.parse(random.out) as { pass: boolean; path: string }).path, 'general');
  }
});
