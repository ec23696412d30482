// Issue 9 item 6: kill -9 the trainer at random points (checkpoints are written every epoch);
// each time the newest complete checkpoint loads, staged files are never mistaken for one, and
// --resume continues with exactly the losses of an uninterrupted run.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeCheckpoint } from '../src/checkpoint/checkpoint.js';
import { Rng } from '../src/util/rng.js';
import { IN_CI, REPO, runCli, tempDir } from './helpers.js';

const BIN = join(REPO, 'dist/cli/bin.js');
const RUNS = 20;

function lossesOf(logPath: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of readFileSync(logPath, 'utf8').split('\n')) {
    try {
      const r = JSON.parse(line) as { epoch: number; loss: number };
      out.set(r.epoch, r.loss);
    } catch {
      // a torn last line from the kill
    }
  }
  return out;
}

test('kill -9 during training: the newest checkpoint loads and --resume matches an uninterrupted run', { timeout: 300_000 }, async (t) => {
  if (!existsSync(BIN)) {
    if (IN_CI) assert.fail(`${BIN} missing: npm test builds it first`);
    return t.skip('dist not built');
  }
  const root = tempDir(t);
  for (const name of ['cat', 'coffee']) {
    const r = await runCli(['pack-photo', '--photo', join(REPO, `examples/photos/${name}.png`), '--target', join(REPO, `examples/targets/${name}_styled.png`), '--output', join(root, 'ds', `sample_${name}`)]);
    assert.equal(r.code, 0, r.err);
  }
  const args = (dir: string, epochs: number) => [
    BIN, 'train', '--input', join(root, 'ds'), '--patch-size', '16', '--patches-per-image', '8', '--batch-size', '4',
    '--seed', '5', '--threads', '1', '--checkpoint-every', '1', '--checkpoint-dir', dir, '--epochs', String(epochs),
  ];
  const rng = new Rng(99);
  const resumedAt: Array<{ dir: string; epoch: number }> = [];
  for (let run = 0; run < RUNS; run++) {
    const dir = join(root, `run${run}`);
    const child = spawn(process.execPath, args(dir, 100_000), { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 400 + rng.int(1600)));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    if (!existsSync(dir)) continue; // killed before it made its directory
    const files = readdirSync(dir);
    // Anything but complete checkpoints, the log and the plot is a hidden staging file.
    for (const f of files) assert.ok(/^checkpoint_epoch_\d+\.safetensors$|^train_log\.jsonl$|^\./.test(f), `unexpected file ${f}`);
    const epochs = files.map((f) => /^checkpoint_epoch_(\d+)\.safetensors$/.exec(f)).filter((m) => m).map((m) => Number(m![1]));
    if (epochs.length === 0) continue;
    const newest = Math.max(...epochs);
    const path = join(dir, `checkpoint_epoch_${newest}.safetensors`);
    const ckpt = decodeCheckpoint(new Uint8Array(readFileSync(path)), path);
    assert.equal(ckpt.epoch, newest);
    const r = spawnSync(process.execPath, [...args(dir, newest + 2), '--resume', path], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    resumedAt.push({ dir, epoch: newest });
  }
  assert.ok(resumedAt.length >= RUNS / 2, `only ${resumedAt.length} of ${RUNS} runs had written a checkpoint before the kill`);
  // The uninterrupted run (constant learning rate: --epochs does not change earlier epochs).
  const last = Math.max(...resumedAt.map((r) => r.epoch)) + 2;
  const ref = join(root, 'reference');
  const r = spawnSync(process.execPath, args(ref, last), { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const want = lossesOf(join(ref, 'train_log.jsonl'));
  for (const { dir, epoch } of resumedAt) {
    const got = lossesOf(join(dir, 'train_log.jsonl'));
    for (const e of [epoch + 1, epoch + 2]) assert.equal(got.get(e), want.get(e), `${dir}: epoch ${e} after resuming from ${epoch}`);
  }
});
