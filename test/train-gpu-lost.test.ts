// A GPU lost in the middle of `cnnv3 train --device gpu` (issue 8, bad input): the device is
// really destroyed (GPUDevice.destroy(), which resolves `device.lost` as a driver reset would)
// while epoch 3 runs. Its own file: the destroyed device must not be shared with other tests.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseTrainOptions } from '../src/cli/commands/train.js';
import { bufferIO } from '../src/cli/io.js';
import { isCnnV3Error } from '../src/errors.js';
import type { GpuContext } from '../src/gpu/context.js';
import { SWIFTSHADER_ICD } from '../src/gpu/device-node.js';
import { loadCheckpoint } from '../src/checkpoint/checkpoint-node.js';
import { train } from '../src/train/trainer-node.js';
import { Rng } from '../src/util/rng.js';
import { requireTool, runCli, tempDir } from './helpers.js';
import { sampleFiles, writeSample } from './sample-fixtures.js';

test('the GPU lost in epoch 3: one clear error, the last good epoch saved, --resume continues from it', async (t) => {
  if (!requireTool(t, '/usr/lib/x86_64-linux-gnu/libvulkan.so.1', 'libvulkan1')) return;
  if (!requireTool(t, SWIFTSHADER_ICD, 'chromium')) return;
  const dir = tempDir(t);
  const rng = new Rng(3);
  for (const name of ['a', 'b']) {
    const w = 20, h = 16;
    const albedo = Uint8Array.from({ length: w * h * 3 }, () => Math.floor(rng.next() * 256));
    writeSample(join(dir, 'data', name), sampleFiles({ width: w, height: h, albedo }));
  }
  const ck = join(dir, 'ck');
  const args = ['--input', join(dir, 'data'), '--patch-size', '8', '--patches-per-image', '4', '--batch-size', '4', '--seed', '5', '--epochs', '5', '--checkpoint-every', '0', '--device', 'gpu', '--checkpoint-dir', ck];
  const opts = parseTrainOptions(args);
  assert.notEqual(opts, 'help');
  if (opts === 'help') return;

  let ctx: GpuContext | undefined;
  const io = bufferIO();
  const stdout = io.stdout;
  io.stdout = (text: string) => {
    stdout(text);
    // Epoch 2 is done and reported; pull the device away before epoch 3 can finish.
    if (text.startsWith('Epoch 2/5')) ctx!.device.destroy();
  };
  const error = await train(opts, io, { onGpu: (c) => (ctx = c) }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(ctx, 'the run opened a GPU');
  assert.ok(isCnnV3Error(error), `a CnnV3Error, got ${String(error)}`);
  const kept = join(ck, 'checkpoint_epoch_2.safetensors');
  assert.match(error.message, new RegExp(`^The GPU was lost in epoch 3 \\(.+\\); the last good checkpoint is ${kept.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: continue with --resume `));
  assert.doesNotMatch(error.message, /\n/);
  const ckpt = await loadCheckpoint(kept);
  assert.equal(ckpt.epoch, 2);
  assert.equal(ckpt.step, 2 * 2);

  // A new process-level device: the run continues from the saved epoch to the end.
  const resumed = await runCli(['train', ...args, '--resume', kept]);
  assert.equal(resumed.code, 0, resumed.err);
  assert.match(resumed.out, /Epoch 3\/5[\s\S]*Epoch 5\/5/);
});
