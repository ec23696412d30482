/**
 * `npm run bench:train:cpu`: training throughput of the CPU trainer in patches/s, at batch 16,
 * 64×64 patches and the default channels, for 1 thread and for every core. Each step is the
 * real one: patch crops from the bundled example photos, channel dropout, conditions, the
 * gradient on the worker threads, and Adam.
 * Anchor (issue 3): the playbook's PyTorch trainer, 499 patches/s on 2 CPU threads.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NUM_FEATURES } from '../dataset/features.js';
import type { SampleFileName } from '../dataset/layout.js';
import { loadSample } from '../dataset/sample.js';
import { decodeImage } from '../image/decode.js';
import { DEFAULT_MODEL_CONFIG, OUT_CHANNELS } from '../model/config.js';
import { initParams } from '../model/init.js';
import { buildParamTable } from '../model/params.js';
import { packPhotoSample } from '../pack/photo.js';
import { Adam } from '../train/adam.js';
import { prepareImage, type TrainImage } from '../train/data.js';
import { createEngine, defaultThreads } from '../train/cpu/engine-node.js';
import { applyChannelDropout, cropHwc, patchOrigin, randomCondition } from '../train/patches.js';
import { Rng } from '../util/rng.js';

const ANCHOR = 499;
const BATCH = 16;
const SIDE = 64;
const root = new URL('../../examples/', import.meta.url).pathname;

async function main(): Promise<void> {
  const table = buildParamTable(DEFAULT_MODEL_CONFIG);
  const images: TrainImage[] = [];
  for (const [i, f] of readdirSync(join(root, 'photos')).sort().entries()) {
    const files = packPhotoSample(decodeImage(readFileSync(join(root, 'photos', f)), f));
    const sample = await loadSample({ name: f, label: (n) => n, read: async (n: SampleFileName) => files[n] });
    images.push(prepareImage(sample, { fullImage: false, imageSize: 256, patchSize: SIDE, patchesPerImage: 64, detector: 'harris', seed: 1 }, i));
  }
  const order = images.flatMap((im, i) => im.centres.map((_, k) => [i, k] as const));
  const D = table.config.filmCondDim;
  const px = SIDE * SIDE;
  const counts = [...new Set([1, defaultThreads()])];
  console.log(`bench:train:cpu  batch ${BATCH}, ${SIDE}×${SIDE} patches, enc=[4, 8], ${images.length} example photos, node ${process.version}`);
  for (const threads of counts) {
    const engine = await createEngine(table, BATCH, SIDE, threads);
    const params = initParams(table, 1);
    const adam = new Adam(table.total);
    const grad = new Float64Array(table.total);
    const rng = new Rng(1);
    const step = async (s: number) => {
      for (let j = 0; j < BATCH; j++) {
        const [i, k] = order[(s * BATCH + j) % order.length]!;
        const im = images[i]!;
        const c = im.centres[k]!;
        const x0 = patchOrigin(c.x, SIDE, im.width);
        const y0 = patchOrigin(c.y, SIDE, im.height);
        const input = engine.buffers.inputs.subarray(j * px * NUM_FEATURES, (j + 1) * px * NUM_FEATURES);
        cropHwc(im.features, im.width, im.height, NUM_FEATURES, x0, y0, SIDE, input);
        cropHwc(im.target, im.width, im.height, OUT_CHANNELS, x0, y0, SIDE, engine.buffers.targets.subarray(j * px * OUT_CHANNELS, (j + 1) * px * OUT_CHANNELS));
        applyChannelDropout(input, px, 0.3, rng);
        randomCondition(D, rng, engine.buffers.conds.subarray(j * D, (j + 1) * D));
      }
      engine.buffers.params.set(params);
      await engine.compute(BATCH, SIDE, grad);
      adam.update(params, grad, 1e-3);
    };
    for (let s = 0; s < 5; s++) await step(s); // warm-up: JIT and worker start
    const steps = 40;
    const t0 = performance.now();
    for (let s = 0; s < steps; s++) await step(s);
    const seconds = (performance.now() - t0) / 1000;
    const rate = (steps * BATCH) / seconds;
    console.log(`  ${threads} thread${threads === 1 ? ' ' : 's'}: ${rate.toFixed(1)} patches/s  (${((seconds / steps) * 1000).toFixed(1)} ms/step; anchor ${ANCHOR} patches/s on 2 threads → ratio ${(rate / ANCHOR).toFixed(2)})`);
    await engine.close();
  }
}

await main();
