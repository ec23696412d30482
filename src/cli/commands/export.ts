import { CnnV3Error } from '../../errors.js';
import { FILM_MLP_FILE, WEIGHTS_FILE } from '../../export/export.js';
import { exportCheckpointFile } from '../../export/export-node.js';
import { ONNX_OPSET, ONNX_WEIGHTS, type OnnxWeights } from '../../export/onnx.js';
import { helpAsked, parseFlags, stringFlag } from '../args.js';
import type { CliIO } from '../io.js';

export const EXPORT_HELP = `Usage:
  cnnv3 export CKPT [--output DIR] [--onnx FILE [--onnx-weights f32|f16]]

Converts a training checkpoint (.safetensors) into the two files the WebGPU effect loads
(playbook §3), written to DIR (default export/):
  ${WEIGHTS_FILE}   conv weights + biases as f16 pairs packed in little-endian u32
  ${FILM_MLP_FILE}  FiLM MLP weights + biases as little-endian f32
--onnx FILE also writes the whole network (FiLM MLP included) as an ONNX model, opset ${ONNX_OPSET}:
inputs features (N, 20, H, W) and cond (N, D), output rgba (N, 4, H, W), float32. Given
without --output, only FILE is written. --onnx-weights f32 (default) keeps the checkpoint's
values; f16 rounds the conv values to half, as ${WEIGHTS_FILE} holds them.
A checkpoint whose tensor shapes disagree with its config is refused; one without config
metadata is read as enc_channels=[4, 8] film_cond_dim=5.
`;

export async function exportCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(
    'export',
    argv,
    {
      output: { type: 'string', short: 'o' },
      onnx: { type: 'string' },
      'onnx-weights': { type: 'string' },
    },
    true,
  );
  if (helpAsked(values, io, EXPORT_HELP)) return 0;
  if (positionals.length !== 1) throw new CnnV3Error('cnnv3 export: expected one checkpoint file (see cnnv3 export --help)', 2);
  const onnx = stringFlag(values, 'onnx');
  const weightsRaw = stringFlag(values, 'onnx-weights');
  if (weightsRaw !== undefined && onnx === undefined) throw new CnnV3Error('cnnv3 export: --onnx-weights needs --onnx FILE', 2);
  if (weightsRaw !== undefined && !(ONNX_WEIGHTS as readonly string[]).includes(weightsRaw)) {
    throw new CnnV3Error(`cnnv3 export: --onnx-weights must be one of ${ONNX_WEIGHTS.join(', ')}, got ${JSON.stringify(weightsRaw)}`, 2);
  }
  if (onnx === '') throw new CnnV3Error('cnnv3 export: --onnx needs a file name', 2);
  // With --onnx alone only the ONNX file is written; the runtime files go to DIR when asked for.
  const output = stringFlag(values, 'output') ?? (onnx === undefined ? 'export' : undefined);
  const result = await exportCheckpointFile(positionals[0]!, output, {
    ...(onnx !== undefined ? { onnx } : {}),
    ...(weightsRaw !== undefined ? { onnxWeights: weightsRaw as OnnxWeights } : {}),
  });
  for (const w of result.warnings) io.stderr(`cnnv3 export: warning: ${w}\n`);
  io.stdout(result.report);
  return 0;
}
