// Ctrl-C in the middle of long commands: exit 130 (143 for SIGTERM) and nothing staged left
// behind — no `.NAME.tmp-…` checkpoint or sample folder beside the outputs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, runCli, tempDir } from './helpers.js';

/** Runs the CLI, sends `signal` once `ready(stdout)` holds and `delayMs` more have passed; returns the exit code. */
function interrupt(args: string[], signal: NodeJS.Signals, ready: (out: string) => boolean, delayMs: number): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/bin.ts'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let sent = false;
  return new Promise((done) => {
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (!sent && ready(out)) {
        sent = true;
        setTimeout(() => child.kill(signal), delayMs);
      }
    });
    child.on('exit', (code) => done({ code, out }));
  });
}

const staged = (dir: string): string[] => readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => /(^|\/)\.[^/]*\.(tmp|old)-/.test(f));

test('train interrupted while it writes a checkpoint every epoch: exit 130/143, no staged checkpoint left, the saved ones load', async (t) => {
  const data = tempDir(t);
  const packed = await runCli(['pack-photo', '--photos', join(REPO, 'examples/photos'), '--targets', join(REPO, 'examples/targets'), '--output', join(data, 'simple')]);
  assert.equal(packed.code, 0, packed.err);
  // Interrupts at several points of the epoch/checkpoint cycle (tiny epochs: a checkpoint every few ms).
  for (const [i, delay] of [0, 7, 23, 61, 149].entries()) {
    const ck = join(tempDir(t), 'ck');
    const signal = i % 2 === 0 ? 'SIGINT' : 'SIGTERM';
    const r = await interrupt(
      ['train', '--input', data, '--epochs', '100000', '--patch-size', '8', '--patches-per-image', '2', '--checkpoint-every', '1', '--seed', '1', '--device', 'cpu', '--threads', '1', '--checkpoint-dir', ck],
      signal,
      (out) => out.includes('Saved '),
      delay,
    );
    assert.equal(r.code, signal === 'SIGINT' ? 130 : 143, r.out);
    assert.deepEqual(staged(ck), [], `after ${delay} ms: nothing staged left`);
    const saved = readdirSync(ck).filter((f) => f.endsWith('.safetensors')).sort();
    assert.ok(saved.length > 0);
    const resumed = await runCli(['export', join(ck, saved.at(-1)!), '--output', join(ck, 'export')]);
    assert.equal(resumed.code, 0, `the last checkpoint written is whole: ${resumed.err}`);
  }
});

test('pack-photo interrupted in batch mode: no half-written sample folder', async (t) => {
  for (const delay of [0, 30, 90]) {
    const out = join(tempDir(t), 'set');
    const r = await interrupt(['pack-photo', '--photos', join(REPO, 'examples/photos'), '--targets', join(REPO, 'examples/targets'), '--output', out], 'SIGINT', () => true, delay);
    if (r.code === 0) continue; // finished before the signal came
    assert.equal(r.code, 130, r.out);
    let left: string[] = [];
    try {
      left = staged(out);
    } catch {
      // --output not created yet
    }
    assert.deepEqual(left, [], `after ${delay} ms`);
  }
});
