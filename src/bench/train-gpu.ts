/**
 * `npm run bench:train:gpu`: the WebGPU trainer on a 50-sample 640×360 dataset, 256 patches of
 * 64×64 per image (12,800 patches an epoch), default channels. For batch 16 and batch 256: the
 * wall time of one epoch (order upload, every step's patch cut, dropout, conditions, forward,
 * backward and Adam on the GPU, losses and state read back) and patches/s from it; then one step
 * per kernel from timestamp queries. The one-time load (features and keypoints on the CPU, the
 * upload) is timed apart. `--quick` runs a tiny version (for a software adapter).
 * Anchors (issue 8): the playbook's PyTorch trainer on an H100, 3,661 patches/s at batch 16 and
 * 46,483 at batch 256. Goals: ≥ 20,000 and ≥ 200,000 patches/s, ≤ 0.5 s for the epoch.
 */
import { gpuAwait } from '../gpu/context.js';
import { openTrainGpu } from '../train/gpu/device-node.js';
import { GpuTrainer } from '../train/gpu/gpu-trainer.js';
import { GpuTrainEngine } from '../train/gpu/gpu-engine.js';
import { runTrainingLoop } from '../train/loop.js';
import { DEFAULT_MODEL_CONFIG } from '../model/config.js';
import { initParams } from '../model/init.js';
import { buildParamTable } from '../model/params.js';
import { prepareImage, type TrainImage } from '../train/data.js';
import { Rng } from '../util/rng.js';
import type { Sample } from '../dataset/sample.js';

const ANCHOR = { 16: 3661, 256: 46483 } as const;
const GOAL = { 16: 20000, 256: 200000 } as const;
const GOAL_EPOCH_S = 0.5;

/** A seeded sample of smooth colour blobs plus noise: real corners for Harris, every plane set. */
function syntheticSample(index: number, width: number, height: number): Sample {
  const rng = new Rng(1000 + index);
  const n = width * height;
  const blobs = Array.from({ length: 12 }, () => ({ x: rng.int(width), y: rng.int(height), r: 10 + rng.int(60), c: [rng.int(256), rng.int(256), rng.int(256)] }));
  const albedo = new Uint8Array(n * 3);
  const target = new Uint8Array(n * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      let c = [40, 40, 40];
      for (const b of blobs) if (Math.abs(x - b.x) < b.r && Math.abs(y - b.y) < b.r) c = b.c;
      for (let k = 0; k < 3; k++) {
        albedo[p * 3 + k] = Math.min(255, c[k]! + rng.int(16));
        target[p * 4 + k] = 255 - albedo[p * 3 + k]!;
      }
      target[p * 4 + 3] = 255;
    }
  }
  const u8 = (k: number) => Uint8Array.from({ length: n * k }, () => rng.int(256));
  return {
    name: `synthetic_${index}`,
    kind: 'simple',
    width,
    height,
    albedo,
    normal: u8(2),
    depth: Uint16Array.from({ length: n }, () => rng.int(65536)),
    matid: u8(1),
    shadow: u8(1),
    transp: new Uint8Array(n),
    target,
    targetWidth: width,
    targetHeight: height,
  };
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

/**
 * Per kernel, GPU ms per dispatch in kernel order: the median over `reps` single steps of its own
 * pass of REPEAT back-to-back dispatches (each with the barrier Dawn puts between dispatches, as
 * in a real step), divided by REPEAT: Dawn quantises timestamps to about 65 µs.
 */
const REPEAT = 50;
async function kernelTimes(device: GPUDevice, trainer: GpuTrainer, reps: number, nextStep: () => number): Promise<number[]> {
  const kernels = trainer.kernels;
  const qs = device.createQuerySet({ label: 'bench train timestamps', type: 'timestamp', count: 2 * kernels.length });
  const resolve = device.createBuffer({ label: 'bench train timestamps resolve', size: 16 * kernels.length, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ label: 'bench train timestamps read', size: 16 * kernels.length, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  const per: number[][] = kernels.map(() => []);
  for (let rep = 0; rep < reps; rep++) {
    trainer.run([{ n: trainer.config.maxBatch, first: 0, step: nextStep(), lr: 1e-3, lossSlot: 0 }], qs, REPEAT);
    const enc = device.createCommandEncoder({ label: 'bench train timestamps' });
    enc.resolveQuerySet(qs, 0, 2 * kernels.length, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, read, 0, 16 * kernels.length);
    device.queue.submit([enc.finish()]);
    await gpuAwait(read.mapAsync(GPUMapMode.READ));
    const t = new BigUint64Array(read.getMappedRange().slice(0));
    read.unmap();
    kernels.forEach((_, i) => per[i]!.push(Number(t[2 * i + 1]! - t[2 * i]!) / 1e6 / REPEAT));
  }
  qs.destroy();
  resolve.destroy();
  read.destroy();
  return per.map(median);
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const samples = quick ? 2 : 50;
  const perImage = quick ? 16 : 256;
  const [W, H] = quick ? [160, 90] : [640, 360];
  const side = 64;
  const table = buildParamTable(DEFAULT_MODEL_CONFIG);
  const ctx = await openTrainGpu('gpu');
  if (!ctx) throw new Error('no GPU');
  const lim = ctx.device.limits;
  console.log(`bench:train:gpu  ${ctx.adapterName}${ctx.software ? ' (software: figures only for comparison)' : ''}; node ${process.version}`);
  console.log(`  limits: maxStorageBufferBindingSize ${(lim.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MB, maxBufferSize ${(lim.maxBufferSize / 2 ** 20).toFixed(0)} MB, workgroup memory ${lim.maxComputeWorkgroupStorageSize} B; timestamps ${ctx.timestamps ? 'yes' : 'no'}`);

  const tLoad = performance.now();
  const images: TrainImage[] = [];
  for (let i = 0; i < samples; i++) {
    images.push(prepareImage(syntheticSample(i, W, H), { fullImage: false, imageSize: 256, patchSize: side, patchesPerImage: perImage, detector: 'harris', seed: 1 }, i));
  }
  const prepS = (performance.now() - tLoad) / 1000;
  const order: Array<[number, number]> = [];
  images.forEach((im, i) => im.centres.forEach((_, k) => order.push([i, k])));
  console.log(`  dataset: ${samples} samples ${W}×${H}, ${perImage} patches of ${side}×${side} each = ${order.length} patches/epoch; features + Harris keypoints on the CPU ${prepS.toFixed(2)} s`);

  const results: Record<number, { epochS: number; rate: number }> = {};
  for (const batch of [16, 256] as const) {
    const tUp = performance.now();
    const engine = await GpuTrainEngine.create(ctx, table, images, { batchSize: batch, side, channelDropoutP: 0.3, seed: 1 });
    const session = engine.session;
    await session.trainer.done();
    const uploadS = (performance.now() - tUp) / 1000;
    const steps = Math.ceil(order.length / batch);
    // The one training loop: epoch 1 warms up (pipeline compilation on first use, clocks); epochs 2–3 are timed.
    const { records } = await runTrainingLoop(
      engine,
      { table, images, valImages: [], initial: initParams(table, 1) },
      { epochs: quick ? 2 : 3, batchSize: batch, lr: 1e-3, lrSchedule: 'constant', checkpointEvery: 0, seed: batch },
      undefined,
    );
    let step = records.at(-1)!.step;
    const lastLoss = records.at(-1)!.loss;
    const epochS = Math.min(...records.slice(1).map((r) => r.seconds));
    const rate = order.length / epochS;
    results[batch] = { epochS, rate };
    console.log(
      `  batch ${String(batch).padStart(3)}: epoch ${epochS.toFixed(3)} s (${steps} steps, ${((epochS / steps) * 1000).toFixed(3)} ms/step) → ${rate.toFixed(0)} patches/s; ` +
        `anchor ${ANCHOR[batch]} → ${(rate / ANCHOR[batch]).toFixed(2)}×; goal ${GOAL[batch]}: ${rate >= GOAL[batch] ? 'met' : 'missed'}  (set-up + upload ${uploadS.toFixed(2)} s; loss ${lastLoss.toFixed(4)})`,
    );
    // GPU throughput without the epoch's order upload and read-backs: steps in chunks, one wait.
    {
      const n = Math.min(steps, quick ? 4 : 400);
      const per = session.trainer.config.maxBatch;
      // Distinct patches per step (the epoch's last order): repeating one batch would serve its data from cache.
      const specs = Array.from({ length: n }, (_, i) => ({ n: per, first: (i * per) % (order.length - per + 1), step: step + i + 1, lr: 1e-3, lossSlot: 0 }));
      step += n;
      const t0 = performance.now();
      session.trainer.run(specs);
      await session.trainer.done();
      const s = (performance.now() - t0) / n;
      console.log(`    steady state: ${n} steps submitted together, ${s.toFixed(3)} ms/step → ${((per / s) * 1000).toFixed(0)} patches/s`);
    }
    if (ctx.timestamps) {
      const ms = await kernelTimes(ctx.device, session.trainer, quick ? 2 : 20, () => ++step);
      const total = ms.reduce((a, b) => a + b, 0);
      console.log(`    per kernel (ms per dispatch: median of ${quick ? 2 : 20} runs of ${REPEAT} dispatches in one pass; sum ${total.toFixed(3)} ms/step = ${((batch / total) * 1000).toFixed(0)} patches/s of GPU time):`);
      const rows = session.trainer.kernels.map((k, i) => ({ name: k.name, ms: ms[i]! })).sort((a, b) => b.ms - a.ms);
      console.log(`      ${rows.map((r) => `${r.name} ${r.ms.toFixed(3)} (${((100 * r.ms) / total).toFixed(0)}%)`).join(', ')}`);
      // Variants (CNNV3_BENCH_VARIANTS=2048/64,1024/256: weight-gradient workgroup target / reduce threads): wgrad kernels and the reduce.
      for (const variant of (process.env['CNNV3_BENCH_VARIANTS'] ?? '').split(',').filter(Boolean)) {
        const [groups, threads] = variant.split('/').map(Number) as [number, number];
        const t = await GpuTrainer.create(ctx.device, { ...session.trainer.config, wgradGroups: groups, reduceThreads: threads }, session.set);
        t.writeState(initParams(table, 1), new Float32Array(table.total), new Float32Array(table.total));
        const v = await kernelTimes(ctx.device, t, quick ? 2 : 20, () => ++step);
        const picked = t.kernels.map((k, i) => ({ name: k.name, ms: v[i]! })).filter((r) => /^wgrad|reduce|film/.test(r.name));
        console.log(`    variant ${variant} (tiles per record ${t.layout.tilesPerRecord.join('/')}): ${picked.map((r) => `${r.name} ${r.ms.toFixed(3)}`).join(', ')}; sum ${picked.reduce((a, r) => a + r.ms, 0).toFixed(3)}`);
        t.destroy();
      }
    }
    await engine.close();
  }
  const e = results[16]!.epochS;
  console.log(`  one epoch (12,800 patches of 64×64 at batch 16, the default): ${e.toFixed(3)} s; goal ≤ ${GOAL_EPOCH_S} s: ${e <= GOAL_EPOCH_S ? 'met' : 'missed'}; at batch 256: ${results[256]!.epochS.toFixed(3)} s`);
  ctx.device.destroy();
}

await main();
