/**
 * Plots held-out PSNR per epoch for each run of a study: `node dist/bench/study-plot.js
 * OUT.png RUN_DIR...` reads each run's train_log.jsonl (from `cnnv3 train --val-split`), draws
 * one line per run named after its directory, and prints each run's best held-out PSNR.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { seriesPlotPng, type PlotSeries } from '../image/plot.js';

const COLOURS: Array<[number, number, number]> = [[200, 60, 20], [30, 90, 200], [40, 150, 60], [150, 60, 170], [200, 150, 20], [90, 90, 90]];

const [out, ...runs] = process.argv.slice(2);
if (!out || runs.length === 0) {
  console.error('usage: study-plot OUT.png RUN_DIR...');
  process.exit(2);
}
const series: PlotSeries[] = runs.map((dir, k) => {
  const log = readFileSync(join(dir, 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { val_psnr?: number });
  const values = log.map((r) => r.val_psnr ?? NaN);
  const best = Math.max(...values.filter(Number.isFinite));
  const at = values.indexOf(best) + 1;
  console.log(`${basename(dir).padEnd(16)} best held-out PSNR ${best.toFixed(2)} dB at epoch ${at} of ${values.length}; last ${values.at(-1)!.toFixed(2)} dB`);
  return { name: basename(dir), values, colour: COLOURS[k % COLOURS.length]! };
});
writeFileSync(out, seriesPlotPng(series, 'held-out PSNR (dB)'));
console.log(`wrote ${out}`);
