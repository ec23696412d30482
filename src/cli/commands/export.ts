import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CnnV3Error, fileError } from '../../errors.js';
import { loadCheckpoint } from '../../checkpoint/checkpoint-node.js';
import { describeConfig } from '../../checkpoint/checkpoint.js';
import { exportReport, exportWeights, FILM_MLP_FILE, WEIGHTS_FILE } from '../../export/export.js';
import { buildParamTable } from '../../model/params.js';
import { writeFileAtomic } from '../../util/atomic-node.js';
import { parseFlags, stringFlag } from '../args.js';
import type { CliIO } from '../io.js';

export const EXPORT_HELP = `Usage:
  cnnv3 export CKPT [--output DIR]

Converts a training checkpoint (.safetensors) into the two files the WebGPU effect loads
(playbook §3), written to DIR (default export/):
  ${WEIGHTS_FILE}   conv weights + biases as f16 pairs packed in little-endian u32
  ${FILM_MLP_FILE}  FiLM MLP weights + biases as little-endian f32
A checkpoint whose tensor shapes disagree with its config is refused; one without config
metadata is read as enc_channels=[4, 8] film_cond_dim=5.
`;

export interface ExportResult {
  report: string;
  /** Notes for stderr: defaulted config, conv values that overflowed to ±Inf in f16. */
  warnings: string[];
  weightsPath: string;
  filmPath: string;
}

/** Everything is read and converted before the first write, so a bad checkpoint leaves DIR untouched. */
export async function exportCheckpointFile(ckptPath: string, outDir: string): Promise<ExportResult> {
  const outKind = await stat(outDir).then(
    (s) => (s.isDirectory() ? 'dir' : 'file'),
    () => 'missing',
  );
  if (outKind === 'file') throw fileError(outDir, 'output path is a file, expected a directory');
  const ckpt = await loadCheckpoint(ckptPath);
  const table = buildParamTable(ckpt.config);
  const { weights, film, halfOverflow } = exportWeights(ckpt.config, ckpt.params);

  const warnings: string[] = [];
  if (!ckpt.hadConfig) warnings.push(`${ckptPath}: no config metadata; assuming ${describeConfig(ckpt.config)}`);
  if (halfOverflow > 0) warnings.push(`${ckptPath}: ${halfOverflow} conv value${halfOverflow === 1 ? '' : 's'} beyond the f16 range (|x| ≥ 65520) exported as ±Inf`);

  // Each file is staged and renamed into place: neither ever appears half-written.
  const weightsPath = join(outDir, WEIGHTS_FILE);
  const filmPath = join(outDir, FILM_MLP_FILE);
  await writeFileAtomic(weightsPath, weights);
  await writeFileAtomic(filmPath, film);
  return { report: exportReport(ckpt, table), warnings, weightsPath, filmPath };
}

export async function exportCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(
    'export',
    argv,
    {
      output: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
    true,
  );
  if (values['help']) {
    io.stdout(EXPORT_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new CnnV3Error('cnnv3 export: expected one checkpoint file (see cnnv3 export --help)', 2);
  const output = stringFlag(values, 'output') ?? 'export';
  const result = await exportCheckpointFile(positionals[0]!, output);
  for (const w of result.warnings) io.stderr(`cnnv3 export: warning: ${w}\n`);
  io.stdout(result.report);
  return 0;
}
