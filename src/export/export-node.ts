/**
 * `export` on files: a checkpoint on disk → the two runtime weight files and/or an ONNX model,
 * each written atomically.
 */
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { loadCheckpoint } from '../checkpoint/checkpoint-node.js';
import { fileError } from '../errors.js';
import { describeConfig } from '../model/config.js';
import { buildParamTable } from '../model/params.js';
import { writeFileAtomic } from '../util/atomic-node.js';
import { exportReport, exportWeights, FILM_MLP_FILE, formatFixedLikePython, WEIGHTS_FILE } from './export.js';
import { exportOnnx, onnxReport, type OnnxWeights } from './onnx.js';

export interface ExportResult {
  report: string;
  /** Notes for stderr: defaulted config, conv values that overflowed to ±Inf in f16. */
  warnings: string[];
  /** Set when the two runtime files were written. */
  weightsPath?: string;
  filmPath?: string;
  /** Set when an ONNX model was written. */
  onnxPath?: string;
}

export interface ExportFileOptions {
  /** Also (or, with no output directory, only) write the network as an ONNX model here. */
  onnx?: string;
  /** Which values the ONNX weights hold (onnx.ts); default 'f32', the checkpoint's. */
  onnxWeights?: OnnxWeights;
}

const kindOf = (path: string) =>
  stat(path).then(
    (s) => (s.isDirectory() ? 'dir' : 'file'),
    () => 'missing' as const,
  );

/** Refuses, before anything is written, a file path that is a directory or lies under a file. */
async function checkFileTarget(path: string): Promise<void> {
  if ((await kindOf(path)) === 'dir') throw fileError(path, 'output path is a directory');
  for (let d = dirname(path); ; d = dirname(d)) {
    const kind = await kindOf(d);
    if (kind === 'file') throw fileError(path, 'cannot create its directory (a parent path is a file)');
    if (kind === 'dir' || dirname(d) === d) return;
  }
}

/**
 * Everything is read, converted and checked before the first write, so a bad checkpoint or a
 * bad output path leaves every output untouched. `outDir` undefined writes no runtime files
 * (then `options.onnx` must be given).
 */
export async function exportCheckpointFile(ckptPath: string, outDir: string | undefined, options: ExportFileOptions = {}): Promise<ExportResult> {
  if (outDir === undefined && options.onnx === undefined) throw new Error('exportCheckpointFile: nothing to write (no output directory, no ONNX path)');
  if (outDir !== undefined && (await kindOf(outDir)) === 'file') throw fileError(outDir, 'output path is a file, expected a directory');
  if (options.onnx !== undefined) await checkFileTarget(options.onnx);
  const ckpt = await loadCheckpoint(ckptPath);
  const table = buildParamTable(ckpt.config);
  const { weights, film, halfOverflow } = exportWeights(ckpt.config, ckpt.params);
  const onnxWeights = options.onnxWeights ?? 'f32';
  const onnx = options.onnx === undefined ? undefined : exportOnnx(ckpt.config, ckpt.params, { weights: onnxWeights });

  const warnings: string[] = [];
  if (!ckpt.hadConfig) warnings.push(`${ckptPath}: no config metadata; assuming ${describeConfig(ckpt.config)}`);
  const halvesUsed = outDir !== undefined || onnxWeights === 'f16';
  if (halfOverflow > 0 && halvesUsed) warnings.push(`${ckptPath}: ${halfOverflow} conv value${halfOverflow === 1 ? '' : 's'} beyond the f16 range (|x| ≥ 65520) exported as ±Inf`);

  // Each file is staged and renamed into place: none ever appears half-written.
  const result: ExportResult = { report: '', warnings };
  if (outDir !== undefined) {
    result.weightsPath = join(outDir, WEIGHTS_FILE);
    result.filmPath = join(outDir, FILM_MLP_FILE);
    await writeFileAtomic(result.weightsPath, weights);
    await writeFileAtomic(result.filmPath, film);
    result.report = exportReport(ckpt, table);
  } else {
    result.report = `Checkpoint: epoch=${ckpt.epoch} loss=${formatFixedLikePython(ckpt.loss, 6)}\n${describeConfig(ckpt.config)}\n`;
  }
  if (options.onnx !== undefined && onnx !== undefined) {
    await writeFileAtomic(options.onnx, onnx);
    result.onnxPath = options.onnx;
    result.report += onnxReport(options.onnx, ckpt.config, onnx.length, onnxWeights);
  }
  return result;
}
