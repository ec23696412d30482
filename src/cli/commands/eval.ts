import { CnnV3Error } from '../../errors.js';
import { evaluateDataset, type SampleScore } from '../../eval/evaluate-node.js';
import { openGpuRunner, type GpuRunner } from '../../jobs/runner-node.js';
import { INPUT_MODES, type InputMode } from '../../dataset/layout.js';
import { helpAsked, parseFlags, stringFlag } from '../args.js';
import { GPU_INPUT_FLAGS, modelConfig, parseCond, readWeightFiles } from '../gpu-inputs.js';
import type { CliIO } from '../io.js';

export const EVAL_HELP = `Usage: cnnv3 eval --weights W [--film F] --input DATASET [--input-mode simple|full]
                  [--cond b,n,a,s0,s1] [--device cpu|gpu] [--json]

Runs the trained network on every sample and prints per-sample and mean PSNR and SSIM (RGB)
against target.png, alpha PSNR separately, and the identity baseline (albedo vs target).
--device cpu (default) uses the float64 reference; gpu runs CNNv3Effect through WebGPU.
`;

const f = (v: number, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : v === Infinity ? 'inf' : 'n/a');

export async function evalCommand(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags('eval', argv, { ...GPU_INPUT_FLAGS, input: { type: 'string' }, 'input-mode': { type: 'string' }, device: { type: 'string' }, json: { type: 'boolean' } });
  if (helpAsked(values, io, EVAL_HELP)) return 0;
  const weightsPath = stringFlag(values, 'weights');
  const input = stringFlag(values, 'input');
  if (weightsPath === undefined) throw new CnnV3Error('cnnv3 eval: --weights cnn_v3_weights.bin is required', 2);
  if (input === undefined) throw new CnnV3Error('cnnv3 eval: --input DATASET is required', 2);
  const modeRaw = stringFlag(values, 'input-mode');
  if (modeRaw !== undefined && !(INPUT_MODES as readonly string[]).includes(modeRaw)) throw new CnnV3Error('cnnv3 eval: --input-mode must be simple or full', 2);
  const device = stringFlag(values, 'device') ?? 'cpu';
  if (device !== 'cpu' && device !== 'gpu') throw new CnnV3Error('cnnv3 eval: --device must be cpu or gpu', 2);
  const files = await readWeightFiles(modelConfig('eval', values), weightsPath, stringFlag(values, 'film'));
  const config = files.config;
  const cond = parseCond('eval', stringFlag(values, 'cond'), config.filmCondDim);
  const json = values['json'] === true;
  let runner: GpuRunner | undefined;
  if (device === 'gpu') runner = await openGpuRunner('auto');
  try {
    if (!json) io.stdout(`  ${'sample'.padEnd(36)} ${'PSNR'.padStart(7)} ${'SSIM'.padStart(6)} ${'alpha'.padStart(7)}   identity PSNR / SSIM\n`);
    const line = (s: SampleScore) =>
      io.stdout(`  ${s.name.padEnd(36)} ${f(s.psnr).padStart(7)} ${f(s.ssim, 4).padStart(6)} ${f(s.alpha_psnr).padStart(7)}   ${f(s.identity_psnr)} / ${f(s.identity_ssim, 4)}\n`);
    const report = await evaluateDataset(input, modeRaw as InputMode | undefined, { config, weights: files.weights, ...(files.film ? { film: files.film } : {}), cond }, runner, json ? undefined : line);
    if (json) io.stdout(`${JSON.stringify(report, (_k, v) => (v === Infinity ? 'inf' : v), 2)}\n`);
    else {
      io.stdout(`  ${'mean'.padEnd(36)} ${f(report.mean.psnr).padStart(7)} ${f(report.mean.ssim, 4).padStart(6)} ${f(report.mean.alpha_psnr).padStart(7)}   ${f(report.identity.psnr)} / ${f(report.identity.ssim, 4)}\n`);
      const gain = report.mean.psnr - report.identity.psnr;
      io.stdout(`Device: ${report.device}. The network ${gain > 0 ? `beats the identity baseline by ${f(gain)}` : `falls short of the identity baseline by ${f(-gain)}`} dB PSNR.\n`);
    }
    return 0;
  } finally {
    await runner?.close();
  }
}
