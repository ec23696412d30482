/** A training worker thread: computes the gradients of its share of each batch (engine.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import type { ModelConfig } from '../../model/config.js';
import { FastModel } from '../../model/fast.js';
import type { LossKind } from '../../model/loss.js';
import { buildParamTable } from '../../model/params.js';
import { runImages, type BatchBuffers } from './engine.js';

interface Init {
  config: ModelConfig;
  buffers: BatchBuffers;
  loss: LossKind;
}

export interface WorkerJob {
  from: number;
  to: number;
  side: number;
  count: number;
}

const { config, buffers, loss } = workerData as Init;
const model = new FastModel(buildParamTable(config), { loss });
parentPort!.on('message', (job: WorkerJob) => {
  runImages(model, buffers, job.from, job.to, job.side, job.count);
  parentPort!.postMessage('done');
});
