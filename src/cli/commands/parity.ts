import { CnnV3Error } from '../../errors.js';
import { inferJob } from '../../jobs/jobs.js';
import { DEFAULT_MODEL_CONFIG } from '../../model/config.js';
import { formatParityReport } from '../../verify/parity.js';
import { randomPlanes, randomWeights } from '../../verify/random-input.js';
import { openGpuRunner } from '../../jobs/runner-node.js';
import { helpAsked, intFlag, parseFlags, stringFlag } from '../args.js';
import { GPU_INPUT_FLAGS, modelConfig, parseCond, precisionChoice, readInputPlanes, readWeightFiles, runnerChoice } from '../gpu-inputs.js';
import type { CliIO } from '../io.js';

export const PARITY_HELP = `Usage: cnnv3 parity [--weights W [--film F]] [--sample DIR | --photo P | --random --size WxH] [--seed N]
                    [--cond b,n,a,s0,s1] [--json] [--gpu auto|dawn|chromium] [--precision auto|f32|f16]

Runs the WebGPU effect and the float64 CPU reference on the same input and reports, for the
packed features, every intermediate node and the output, the max absolute error and PSNR.
Exits 1 when any node is above its tolerance (derived in src/verify/parity.ts). Without --weights,
seeded random weights (and a random FiLM MLP) are used; without an input, random planes.
--precision: the effect's arithmetic, checked against its own tolerance: f32 (every adapter),
f16 (needs the adapter's shader-f16 feature; refused without it), auto (default: f16 where
the adapter has it, else f32).
`;

export async function parityCommand(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags('parity', argv, {
    ...GPU_INPUT_FLAGS,
    random: { type: 'boolean' },
    size: { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean' },
    precision: { type: 'string' },
  });
  if (helpAsked(values, io, PARITY_HELP)) return 0;
  const flagConfig = modelConfig('parity', values);
  const seed = intFlag('parity', values, 'seed', 1, 0, 2 ** 32 - 1);
  const precision = precisionChoice('parity', values);
  const weightsPath = stringFlag(values, 'weights');
  const files =
    weightsPath !== undefined
      ? await readWeightFiles(flagConfig, weightsPath, stringFlag(values, 'film'))
      : { ...randomWeights(flagConfig ?? DEFAULT_MODEL_CONFIG, seed), config: flagConfig ?? DEFAULT_MODEL_CONFIG };
  const config = files.config;
  const cond = parseCond('parity', values, config);
  let input = await readInputPlanes('parity', values);
  if (input && values['random']) throw new CnnV3Error('cnnv3 parity: --random cannot be combined with --photo or --sample', 2);
  if (!input) {
    const size = stringFlag(values, 'size') ?? '64x48';
    const m = /^(\d+)x(\d+)$/.exec(size);
    if (!m || Number(m[1]) < 1 || Number(m[2]) < 1 || Number(m[1]) > 8192 || Number(m[2]) > 8192) {
      throw new CnnV3Error(`cnnv3 parity: --size must be WxH like 64x48, got ${JSON.stringify(size)}`, 2);
    }
    input = { planes: randomPlanes(Number(m[1]), Number(m[2]), seed), label: `random ${size} (seed ${seed})` };
  }
  const runner = await openGpuRunner(runnerChoice('parity', values));
  try {
    const report = await runner.parity({ ...inferJob(files, input.planes, cond), precision });
    if (values['json']) io.stdout(`${JSON.stringify({ input: input.label, runner: runner.description, ...report }, (_k, v) => (v === Infinity ? 'inf' : v), 2)}\n`);
    else io.stdout(`Input: ${input.label}\nRunner: ${runner.description}\n${formatParityReport(report)}`);
    return report.pass ? 0 : 1;
  } finally {
    await runner.close();
  }
}
