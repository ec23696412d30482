// Styles and strength: the training rule on one patch, and a .seq whose keyframed style morphs
// the bundled styles model (examples/styles) on the GPU, each frame matching the CPU reference
// (what `cnnv3 eval` computes) for that frame's condition.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { NUM_FEATURES } from '../src/dataset/features.js';
import { loadSample } from '../src/dataset/sample.js';
import { nodeAssets } from '../src/demo/assets-node.js';
import { coverResize } from '../src/demo/effects.js';
import { DemoEngine } from '../src/demo/engine.js';
import { parseSeq } from '../src/demo/seq.js';
import { cpuOutput } from '../src/eval/evaluate-node.js';
import { weightsFileConfig } from '../src/export/read.js';
import { readRgba16f } from '../src/gpu/readback.js';
import { decodeImage } from '../src/image/decode.js';
import { packPhotoSample } from '../src/pack/photo.js';
import { applyConditionControls } from '../src/train/patches.js';
import { destroyGpuContextAfter, testGpuContext } from './gpu-helpers.js';
import { REPO, tempDir } from './helpers.js';

test('condition controls on one patch: none leaves it alone; style replaces style_p0/p1; strength 0 is the input, 1 the target', () => {
  const image = { width: 2, height: 1, features: new Float32Array(2 * NUM_FEATURES), style: [0.25, 1] as [number, number] };
  image.features.set([0.1, 0.2, 0.3], 0);
  image.features[19] = 0.5; // transp: the input's alpha is 0.5
  const target = () => Float32Array.from([0.9, 0.8, 0.7, 1, 0.4, 0.4, 0.4, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  const cond = Float32Array.from([0.1, 0.2, 0.6, 0.3, 0.4]);

  const t0 = target();
  const c0 = cond.slice();
  applyConditionControls(image, {}, c0, t0, 0, 0, 2);
  assert.deepEqual([...c0, ...t0], [...cond, ...target()], 'the playbook: nothing changes');

  const c1 = cond.slice();
  applyConditionControls(image, { styleConds: true }, c1, target(), 0, 0, 2);
  assert.deepEqual(Array.from(c1), Array.from(Float32Array.from([0.1, 0.2, 0.6, 0.25, 1])));

  for (const [s, expected] of [
    [0, [0.1, 0.2, 0.3, 0.5]],
    [1, [0.9, 0.8, 0.7, 1]],
  ] as const) {
    const t = target();
    const c = cond.slice();
    c[2] = s;
    applyConditionControls(image, { strengthCond: 2 }, c, t, 0, 0, 2);
    assert.deepEqual(Array.from(t.subarray(0, 4)), Array.from(Float32Array.from(expected)), `strength ${s}, pixel (0, 0)`);
    // The second row of the 2×2 patch lies outside the 2×1 image: its zero target stays.
    assert.deepEqual(Array.from(t.subarray(8)), new Array<number>(8).fill(0));
  }
});

const gpu = testGpuContext;
destroyGpuContextAfter();

test('.seq keyframes morph the styles model: two times, two looks, each the CPU reference for its condition', async (t) => {
  const ctx = await gpu(t);
  if (!ctx) return;
  const [W, H] = [40, 28];
  const dir = tempDir(t);
  for (const f of ['cnn_v3_weights.bin', 'cnn_v3_film_mlp.bin']) copyFileSync(join(REPO, 'examples/styles', f), join(dir, f));
  copyFileSync(join(REPO, 'examples/photos/cat.png'), join(dir, 'cat.png'));
  // style (1,0) → (0,1) over two seconds, full strength; no audio, BPM 120.
  const seq = `SEQUENCE 0 0 "morph"
EFFECT + ImageFeaturesEffect -> f0 f1 0 4 image=cat.png
EFFECT + CNNv3Effect f0 f1 -> sink 0 4 weights=cnn_v3_weights.bin film=cnn_v3_film_mlp.bin style_p0=0:1,2:0 style_p1=0:0,2:1 strength=1
`;
  const path = join(dir, 'demo.seq');
  writeFileSync(path, seq);
  const engine = await DemoEngine.load(ctx, parseSeq(seq, path), nodeAssets(path, 10), { width: W, height: H, fps: 10 });
  t.after(() => engine.destroy());

  const weights = readFileSync(join(dir, 'cnn_v3_weights.bin'));
  const config = weightsFileConfig(weights, 'weights');
  assert.equal(config.strengthCond, 2, 'the example model has audio_intensity as its strength knob');
  const files = packPhotoSample(coverResize(decodeImage(readFileSync(join(dir, 'cat.png')), 'cat.png'), W, H));
  const sample = await loadSample({ name: 'cat', label: (f) => f, read: async (f) => (f === 'style.json' ? undefined : files[f]) });
  const frames: Float32Array[] = [];
  // [beat_phase, beat_norm, audio_intensity → strength track, style_p0, style_p1] at t = 0 and t = 3.
  for (const [time, cond] of [
    [0, [0, 0, 1, 1, 0]],
    [3, [0, 0.75, 1, 0, 1]],
  ] as const) {
    engine.renderFrame(time, 0.1);
    const gpuOut = await readRgba16f(ctx.device, engine.sink);
    const ref = cpuOutput({ config, weights, film: readFileSync(join(dir, 'cnn_v3_film_mlp.bin')), cond: [...cond] }, sample);
    let worst = 0;
    for (let i = 0; i < ref.length; i++) if (i % 4 !== 3) worst = Math.max(worst, Math.abs(gpuOut[i]! - ref[i]!));
    assert.ok(worst <= 0.02, `t = ${time}: GPU vs the CPU reference for [${cond.join(', ')}]: max |diff| ${worst}`);
    frames.push(gpuOut);
  }
  let change = 0;
  for (let i = 0; i < frames[0]!.length; i++) if (i % 4 !== 3) change += Math.abs(frames[0]![i]! - frames[1]![i]!);
  change /= (frames[0]!.length * 3) / 4;
  assert.ok(change > 0.03, `the look changes between the keyframes (mean |Δ| ${change.toFixed(4)})`);
  t.diagnostic(`mean |Δ| between style (1,0) and (0,1): ${change.toFixed(4)}`);
});
