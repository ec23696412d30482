/**
 * `npm run bench:infer`: GPU time per frame of CNNv3Effect's five passes at 640×360, 1280×720
 * and 1920×1080 (timestamp queries when the adapter has them, else wall time over many frames),
 * frames per second, and where the time goes per pass. Frames are submitted back to back (a GPU
 * waited on after every frame stays at its idle clock). Runs on a hardware GPU through Dawn when
 * there is one, else on SwiftShader (software: figures only for comparison).
 * Anchor (issue 4): the playbook's network in PyTorch, fp16 + CUDA graphs, 1.20 ms per
 * 1920×1080 frame on an H100 (fp32 eager 1.66 ms); goal ≤ 0.30 ms.
 */
import { DEFAULT_MODEL_CONFIG, makeModelConfig, parseEncChannels } from '../model/config.js';
import { inferJob } from '../jobs/jobs.js';
import { randomPlanes, randomWeights } from '../verify/random-input.js';
import { openGpuRunner, type RunnerChoice } from '../jobs/runner-node.js';

const ANCHOR_MS = 1.2;
const GOAL_MS = 0.3;

async function main(): Promise<void> {
  const choice = (process.argv.find((a) => a.startsWith('--gpu='))?.slice(6) ?? 'auto') as RunnerChoice;
  const frames = Number(process.argv.find((a) => a.startsWith('--frames='))?.slice(9) ?? 200);
  // --enc-channels=C0,C1 times a wider model (the general path beyond [4, 8]).
  const enc = process.argv.find((a) => a.startsWith('--enc-channels='))?.slice(15);
  const config = enc === undefined ? DEFAULT_MODEL_CONFIG : makeModelConfig(parseEncChannels('bench:infer', enc), DEFAULT_MODEL_CONFIG.filmCondDim);
  const runner = await openGpuRunner(choice);
  try {
    console.log(`bench:infer  CNNv3Effect enc=[${config.encChannels.join(', ')}], ${runner.description}, ${frames} timed frames per size`);
    const w = randomWeights(config, 1);
    for (const [width, height] of [[640, 360], [1280, 720], [1920, 1080]] as const) {
      const r = await runner.infer({ ...inferJob({ config, ...w }, randomPlanes(width, height, 1), new Array<number>(config.filmCondDim).fill(0.5)), timingFrames: frames });
      const ms = r.gpuMs!;
      const how = r.timestamps ? `GPU timestamps, 5 CNN passes; ${r.wallMs!.toFixed(3)} ms/frame wall incl. feature packing` : 'wall time per frame incl. feature packing';
      let line = `  ${`${width}×${height}`.padEnd(10)} ${ms.toFixed(3).padStart(8)} ms/frame  ${(1000 / ms).toFixed(0).padStart(6)} fps  (${how})`;
      if (width === 1920) line += `\n             vs anchor ${ANCHOR_MS} ms: ${(ANCHOR_MS / ms).toFixed(2)}× faster; goal ≤ ${GOAL_MS} ms: ${ms <= GOAL_MS ? 'met' : 'missed'}`;
      console.log(line);
      if (r.passMs) console.log(`             per pass: ${Object.entries(r.passMs).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')} ms`);
    }
  } finally {
    await runner.close();
  }
}

await main();
