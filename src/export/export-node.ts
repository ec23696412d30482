/** `export` on files: a checkpoint on disk → the two runtime weight files, each written atomically. */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadCheckpoint } from '../checkpoint/checkpoint-node.js';
import { fileError } from '../errors.js';
import { describeConfig } from '../model/config.js';
import { buildParamTable } from '../model/params.js';
import { writeFileAtomic } from '../util/atomic-node.js';
import { exportReport, exportWeights, FILM_MLP_FILE, WEIGHTS_FILE } from './export.js';

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
