/**
 * `npm run bench:train:cpu`: training throughput of the CPU trainer in patches/s, at batch 16,
 * 64×64 patches and the default channels, for 1 thread and for every core: epochs of the one
 * training loop on the CPU engine (patch crops from the bundled example photos, channel dropout,
 * conditions, the gradient on the worker threads, and Adam).
 * Anchor (issue 3): the playbook's PyTorch trainer, 499 patches/s on 2 CPU threads.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SampleFileName } from '../dataset/layout.js';
import { loadSample } from '../dataset/sample.js';
import { decodeImage } from '../image/decode.js';
import { DEFAULT_MODEL_CONFIG } from '../model/config.js';
import { initParams } from '../model/init.js';
import { buildParamTable } from '../model/params.js';
import { packPhotoSample } from '../pack/photo.js';
import { prepareImage, type TrainImage } from '../train/data.js';
import { CpuTrainEngine } from '../train/cpu/cpu-engine.js';
import { createEngine, defaultThreads } from '../train/cpu/engine-node.js';
import { runTrainingLoop } from '../train/loop.js';

const ANCHOR = 499;
const BATCH = 16;
const SIDE = 64;
const EPOCHS = 3;
const root = new URL('../../examples/', import.meta.url).pathname;

async function main(): Promise<void> {
  const table = buildParamTable(DEFAULT_MODEL_CONFIG);
  const images: TrainImage[] = [];
  for (const [i, f] of readdirSync(join(root, 'photos')).sort().entries()) {
    const files = packPhotoSample(decodeImage(readFileSync(join(root, 'photos', f)), f));
    const sample = await loadSample({ name: f, label: (n) => n, read: async (n: SampleFileName) => files[n] });
    images.push(prepareImage(sample, { fullImage: false, imageSize: 256, patchSize: SIDE, patchesPerImage: 64, detector: 'harris', seed: 1 }, i));
  }
  const patches = images.reduce((n, im) => n + im.centres.length, 0);
  const counts = [...new Set([1, defaultThreads()])];
  console.log(`bench:train:cpu  batch ${BATCH}, ${SIDE}×${SIDE} patches, enc=[4, 8], ${images.length} example photos (${patches} patches an epoch), node ${process.version}`);
  for (const threads of counts) {
    const engine = new CpuTrainEngine(table, images, await createEngine(table, BATCH, SIDE, threads), { batchSize: BATCH, side: SIDE, channelDropoutP: 0.3 });
    // The one training loop; epoch 1 warms up (JIT, worker start), the best of the others counts.
    const { records } = await runTrainingLoop(
      engine,
      { table, images, valImages: [], initial: initParams(table, 1) },
      { epochs: EPOCHS, batchSize: BATCH, lr: 1e-3, lrSchedule: 'constant', checkpointEvery: 0, seed: 1 },
      undefined,
    );
    const seconds = Math.min(...records.slice(1).map((r) => r.seconds));
    const rate = patches / seconds;
    const steps = Math.ceil(patches / BATCH);
    console.log(`  ${threads} thread${threads === 1 ? ' ' : 's'}: ${rate.toFixed(1)} patches/s  (${((seconds / steps) * 1000).toFixed(1)} ms/step; anchor ${ANCHOR} patches/s on 2 threads → ratio ${(rate / ANCHOR).toFixed(2)})`);
    await engine.close();
  }
}

await main();
