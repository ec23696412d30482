import { CnnV3Error } from '../../errors.js';
import { FILM_MLP_FILE, WEIGHTS_FILE } from '../../export/export.js';
import { exportCheckpointFile } from '../../export/export-node.js';
import { helpAsked, parseFlags, stringFlag } from '../args.js';
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

export async function exportCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(
    'export',
    argv,
    {
      output: { type: 'string', short: 'o' },
    },
    true,
  );
  if (helpAsked(values, io, EXPORT_HELP)) return 0;
  if (positionals.length !== 1) throw new CnnV3Error('cnnv3 export: expected one checkpoint file (see cnnv3 export --help)', 2);
  const output = stringFlag(values, 'output') ?? 'export';
  const result = await exportCheckpointFile(positionals[0]!, output);
  for (const w of result.warnings) io.stderr(`cnnv3 export: warning: ${w}\n`);
  io.stdout(result.report);
  return 0;
}
