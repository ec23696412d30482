/** The multi-threaded gradient engine: worker threads over shared memory (Node). */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { OUT_CHANNELS } from '../../model/config.js';
import type { LossKind } from '../../model/loss.js';
import type { ParamTable } from '../../model/params.js';
import { allocBatchBuffers, localEngine, reduceSlots, type GradientEngine } from './engine.js';
import type { WorkerJob } from './worker.js';

export function defaultThreads(): number {
  return availableParallelism();
}

/**
 * Built, the worker is worker.js beside this file. Under tsx (the tests run the sources) a
 * worker thread does not inherit tsx's loader, so a tiny bootstrap registers it first.
 */
function spawnWorker(workerData: unknown): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url), { workerData });
  const url = new URL('./worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url)}); });`;
  return new Worker(boot, { eval: true, workerData });
}

export async function createEngine(table: ParamTable, maxBatch: number, maxSide: number, threads: number, loss: LossKind = 'mse'): Promise<GradientEngine> {
  const n = Math.max(1, Math.min(threads, maxBatch));
  if (n === 1) return localEngine(table, maxBatch, maxSide, loss);
  const buffers = allocBatchBuffers(table, maxBatch, maxSide, true);
  const workers = Array.from({ length: n }, () => spawnWorker({ config: table.config, buffers, loss }));
  await Promise.all(workers.map((w) => new Promise<void>((resolve, reject) => {
    w.once('online', () => resolve());
    w.once('error', reject);
  })));
  const run = (w: Worker, job: WorkerJob) =>
    new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      w.once('error', onError);
      w.once('message', () => {
        w.off('error', onError);
        resolve();
      });
      w.postMessage(job);
    });
  return {
    buffers,
    threads: n,
    async compute(count, side, grad) {
      const jobs: Array<Promise<void>> = [];
      const used = Math.min(n, count);
      for (let k = 0; k < used; k++) {
        const from = Math.floor((k * count) / used);
        const to = Math.floor(((k + 1) * count) / used);
        jobs.push(run(workers[k]!, { from, to, side, count: count * side * side * OUT_CHANNELS }));
      }
      await Promise.all(jobs);
      return reduceSlots(buffers, count, table.total, grad);
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
