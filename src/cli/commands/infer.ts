import { CnnV3Error } from '../../errors.js';
import { decodeRgba, inferJob } from '../../jobs/jobs.js';
import { openGpuRunner } from '../../jobs/runner-node.js';
import { floatRgbaTo8 } from '../../image/image.js';
import { encodePng } from '../../image/png.js';
import { writeFileAtomic } from '../../util/atomic-node.js';
import { helpAsked, parseFlags, stringFlag } from '../args.js';
import { GPU_INPUT_FLAGS, modelConfig, parseCond, precisionChoice, readInputPlanes, readWeightFiles, runnerChoice } from '../gpu-inputs.js';
import type { CliIO } from '../io.js';

export const INFER_HELP = `Usage: cnnv3 infer --weights W [--film F] (--photo P | --sample DIR) [--cond b,n,a,s0,s1]
                   --output OUT.png [--alpha] [--output-raw OUT.f32] [--gpu auto|dawn|chromium]
                   [--precision auto|f32|f16]

Runs CNNv3Effect headless on WebGPU and writes the RGBA result. A photo is packed in simple mode
(no geometry); a sample directory in full mode. Without --film, FiLM is the identity; --cond
defaults to 0.5 for every entry. OUT.png is opaque RGB; --alpha keeps the network's alpha (RGBA).
--output-raw writes little-endian float32 RGBA, row-major.
--gpu: auto (= dawn) runs in this process through Dawn on a hardware GPU, else on SwiftShader
(Debian's chromium + libvulkan1); chromium runs the same job in a headless Chromium page.
--precision: the arithmetic (intermediates are stored as f16 either way): f32 on every adapter;
f16 needs the adapter's shader-f16 feature (D3D12, Metal, many mobile GPUs); auto (default)
takes f16 where the adapter has it, else f32.
The model (widths, condition size, output mode) is read from the weights file; --enc-channels
and --film-cond-dim, if given, only check that the file holds that model.
`;

export async function inferCommand(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags('infer', argv, { ...GPU_INPUT_FLAGS, precision: { type: 'string' }, output: { type: 'string', short: 'o' }, 'output-raw': { type: 'string' }, alpha: { type: 'boolean' } });
  if (helpAsked(values, io, INFER_HELP)) return 0;
  const weightsPath = stringFlag(values, 'weights');
  const output = stringFlag(values, 'output');
  if (weightsPath === undefined) throw new CnnV3Error('cnnv3 infer: --weights cnn_v3_weights.bin is required', 2);
  if (output === undefined) throw new CnnV3Error('cnnv3 infer: --output OUT.png is required', 2);
  const precision = precisionChoice('infer', values);
  const files = await readWeightFiles(modelConfig('infer', values), weightsPath, stringFlag(values, 'film'));
  const config = files.config;
  const cond = parseCond('infer', values, config);
  const input = await readInputPlanes('infer', values);
  if (!input) throw new CnnV3Error('cnnv3 infer: give an input: --photo P or --sample DIR', 2);

  const runner = await openGpuRunner(runnerChoice('infer', values));
  try {
    const result = await runner.infer({ ...inferJob(files, input.planes, cond), precision });
    const rgba = decodeRgba(result);
    // Opaque RGB unless asked: the network's alpha is rarely what an image viewer should show.
    const channels = values['alpha'] === true ? 4 : 3;
    await writeFileAtomic(output, encodePng({ width: result.width, height: result.height, channels, depth: 8, data: floatRgbaTo8(rgba, channels) }));
    const raw = stringFlag(values, 'output-raw');
    if (raw !== undefined) {
      const le = new Uint8Array(rgba.length * 4);
      const dv = new DataView(le.buffer);
      rgba.forEach((v, i) => dv.setFloat32(i * 4, v, true));
      await writeFileAtomic(raw, le);
    }
    io.stdout(`Rendered ${input.label} (${result.width}×${result.height}) on ${runner.description}, ${result.precision} arithmetic → ${output}${raw ? ` and ${raw}` : ''}\n`);
    return 0;
  } finally {
    await runner.close();
  }
}
