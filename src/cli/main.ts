/** The `cnnv3` command line: a thin layer over the library, callable in-process. */
import { CnnV3Error, isCnnV3Error } from '../errors.js';
import { evalCommand } from './commands/eval.js';
import { exportCommand } from './commands/export.js';
import { inspectCommand } from './commands/inspect.js';
import { packPhotoCommand } from './commands/pack-photo.js';
import { packBlenderCommand } from './commands/pack-blender.js';
import { trainCommand } from './commands/train.js';
import { inferCommand } from './commands/infer.js';
import { parityCommand } from './commands/parity.js';
import { toolCommand } from './commands/tool.js';
import { demoCommand } from './commands/demo.js';
import { createRequire } from 'node:module';
import { nearest } from './args.js';
import { processIO, type CliIO } from './io.js';

type Command = (argv: string[], io: CliIO) => Promise<number>;

const COMMANDS: Record<string, { run: Command; summary: string }> = {
  'pack-photo': { run: packPhotoCommand, summary: 'photo (+ stylised target) → sample directory' },
  'pack-blender': { run: packBlenderCommand, summary: 'Blender multilayer EXR render(s) → sample directories' },
  inspect: { run: inspectCommand, summary: 'per-sample size, kind and feature statistics' },
  export: { run: exportCommand, summary: 'checkpoint → cnn_v3_weights.bin + cnn_v3_film_mlp.bin, or an ONNX model' },
  eval: { run: evalCommand, summary: 'PSNR / SSIM of a trained model on a dataset, with the identity baseline' },
  infer: { run: inferCommand, summary: 'run CNNv3Effect on WebGPU on a photo or sample, write the RGBA result' },
  parity: { run: parityCommand, summary: 'WebGPU effect vs the float64 CPU reference, node by node' },
  tool: { run: toolCommand, summary: 'serve the HTML WebGPU tool on 127.0.0.1' },
  demo: { run: demoCommand, summary: 'render a .seq demo headless to PNG frames (+ demo.mp4 with ffmpeg)' },
  train: { run: trainCommand, summary: 'train the U-Net + FiLM on a dataset (CPU), write safetensors checkpoints' },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([k, v]) => `  ${k.padEnd(width)}  ${v.summary}`);
  return `Usage: cnnv3 <command> [options]   (cnnv3 <command> --help for its options; cnnv3 --version)\n\nCommands:\n${lines.join('\n')}\n`;
}

/** The package's version (package.json sits two folders up from both src/cli and dist/cli). */
export function version(): string {
  return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
}

/** Runs one command line; returns the exit code. User errors print one line, never a stack. */
export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    io.stdout(`cnnv3 ${version()}\n`);
    return 0;
  }
  try {
    const command = COMMANDS[name];
    if (!command) {
      const guess = nearest(name, Object.keys(COMMANDS));
      throw new CnnV3Error(`cnnv3: unknown command ${JSON.stringify(name)}${guess ? ` (did you mean ${guess}?)` : ''}\n\n${usage()}`, 2);
    }
    return await command.run(rest, io);
  } catch (e) {
    if (!isCnnV3Error(e)) throw e;
    io.stderr(`${e.message.startsWith('cnnv3') ? '' : 'cnnv3: '}${e.message}\n`);
    return e.exitCode;
  }
}
