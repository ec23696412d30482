// Issue 9 item 6 (the part train-crash.test.ts does not cover): a full disk and a read-only
// checkpoint directory. The suite runs as root, for whom chmod blocks nothing, so every error here
// is a genuine one from the kernel: a tiny tmpfs that fills up (ENOSPC), the same tmpfs remounted
// read-only (EROFS), an immutable directory (chattr +i: EPERM, even for root), and a file-size
// limit (ulimit -f: the write comes up short, then EFBIG). Where mount or chattr is not allowed
// (an unprivileged container) those tests skip loudly; the file-size limit needs no privilege.
// Each time: one line naming the file, exit 1, the previous checkpoint byte for byte as it was
// and loadable, and no staging file left behind.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { loadCheckpoint, saveCheckpoint } from '../src/checkpoint/checkpoint-node.js';
import { CnnV3Error } from '../src/errors.js';
import { makeCheckpoint } from './checkpoint-fixtures.js';
import { IN_CI, REPO, runCli, tempDir } from './helpers.js';
import { sampleFiles, writeSample } from './sample-fixtures.js';

// A checkpoint of the default model (params + both Adam moments) is about 36 KB: 9 pages of
// tmpfs. 64 KiB holds one checkpoint and the log, not a second checkpoint.
const SMALL_FS = '64k';

// CI runs as root on a machine like this one, where both are allowed: there the test fails
// rather than skip (no skips in CI); elsewhere it skips loudly.
function skipLoudly(t: TestContext, why: string): void {
  if (IN_CI) assert.fail(`${t.name}: ${why} (CI must run this test)`);
  console.warn(`\n*** SKIPPING ${t.name}: ${why} ***\n`);
  t.skip(why);
}

/** A tmpfs of `size` at a new directory, or undefined (the test skipped) where mount is not allowed. */
function mountTmpfs(t: TestContext, size: string): string | undefined {
  const dir = join(tempDir(t), 'fs');
  mkdirSync(dir);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    skipLoudly(t, `cannot mount a tmpfs here (${String((e as { stderr?: Buffer }).stderr ?? e).trim()}); needs root with CAP_SYS_ADMIN`);
    return undefined;
  }
  return dir;
}

function remountReadOnly(dir: string): void {
  execFileSync('mount', ['-o', 'remount,ro', dir], { stdio: 'pipe' });
}

/** Unmounts in `finally`: a mount left behind would make tempDir's cleanup fail. */
async function withMount(t: TestContext, size: string, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = mountTmpfs(t, size);
  if (!dir) return;
  try {
    await body(dir);
  } finally {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  }
}

/** Rejects with one CnnV3Error line, exactly `message`. */
async function rejectsWith(p: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CnnV3Error, `a CnnV3Error, got ${e instanceof Error ? e.stack : String(e)}`);
    assert.equal(e.message, message);
    return true;
  });
}

/** The checkpoint at `path` is the bytes it had, and loads as the epoch it was. */
async function intact(path: string, bytes: Uint8Array, epoch: number): Promise<void> {
  assert.deepEqual(new Uint8Array(readFileSync(path)), bytes, `${path} changed`);
  assert.equal((await loadCheckpoint(path)).epoch, epoch);
}

/** Nothing in `dir` but these names: no staging file (they start with '.') left behind. */
function onlyFiles(dir: string, names: string[]): void {
  assert.deepEqual(readdirSync(dir).sort(), [...names].sort());
}

// ---------------------------------------------------------------------------------------------
// The checkpoint writer

test('saveCheckpoint on a full filesystem: one error naming the file, the previous checkpoint intact, no temp file', async (t) => {
  await withMount(t, SMALL_FS, async (dir) => {
    const first = join(dir, 'checkpoint_epoch_1.safetensors');
    await saveCheckpoint(first, { ...makeCheckpoint(), epoch: 1 });
    const before = new Uint8Array(readFileSync(first));
    assert.ok(before.length > 32 << 10 && before.length < 40 << 10, `${before.length} bytes`);
    const second = join(dir, 'checkpoint_epoch_2.safetensors');
    await rejectsWith(saveCheckpoint(second, { ...makeCheckpoint(), epoch: 2 }), `${second}: cannot write (no space left on device)`);
    // Overwriting in place (as best.safetensors is) fails the same way and keeps the old one.
    await rejectsWith(saveCheckpoint(first, { ...makeCheckpoint(), epoch: 3 }), `${first}: cannot write (no space left on device)`);
    await intact(first, before, 1);
    onlyFiles(dir, ['checkpoint_epoch_1.safetensors']);
  });
});

test('saveCheckpoint on a read-only filesystem: one error naming the file, the previous checkpoint intact', async (t) => {
  await withMount(t, '1m', async (dir) => {
    const first = join(dir, 'checkpoint_epoch_1.safetensors');
    await saveCheckpoint(first, { ...makeCheckpoint(), epoch: 1 });
    const before = new Uint8Array(readFileSync(first));
    remountReadOnly(dir);
    const second = join(dir, 'checkpoint_epoch_2.safetensors');
    await rejectsWith(saveCheckpoint(second, makeCheckpoint()), `${second}: cannot write (read-only file system)`);
    await rejectsWith(saveCheckpoint(first, makeCheckpoint()), `${first}: cannot write (read-only file system)`);
    // A checkpoint directory that does not exist yet cannot be made there either.
    const deeper = join(dir, 'run2', 'checkpoint_epoch_1.safetensors');
    await rejectsWith(saveCheckpoint(deeper, makeCheckpoint()), `${deeper}: cannot create its directory (read-only file system)`);
    await intact(first, before, 1);
    onlyFiles(dir, ['checkpoint_epoch_1.safetensors']);
  });
});

/** Runs `script` (TypeScript, through tsx) in a child under `ulimit -f blocks` (1 KiB blocks). */
function underFileSizeLimit(blocks: number, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('bash', ['-c', `ulimit -f ${blocks} && exec "$0" "$@"`, process.execPath, '--import', 'tsx', ...args], {
    cwd: REPO,
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('saveCheckpoint under a file-size limit (ulimit -f: a short write, then EFBIG): one error, nothing half-written', async (t) => {
  const dir = tempDir(t);
  const first = join(dir, 'checkpoint_epoch_1.safetensors');
  await saveCheckpoint(first, { ...makeCheckpoint(), epoch: 1 });
  const before = new Uint8Array(readFileSync(first));
  const script = join(dir, 'save.mts');
  writeFileSync(
    script,
    [
      `import { saveCheckpoint } from ${JSON.stringify(join(REPO, 'src/checkpoint/checkpoint-node.ts'))};`,
      `import { makeCheckpoint } from ${JSON.stringify(join(REPO, 'test/checkpoint-fixtures.ts'))};`,
      `try { await saveCheckpoint(process.argv[2]!, makeCheckpoint()); } catch (e) { console.log((e as Error).name + ': ' + (e as Error).message); }`,
    ].join('\n'),
  );
  // 16 KiB: the 36 KB checkpoint is cut off part way.
  for (const target of [join(dir, 'checkpoint_epoch_2.safetensors'), first]) {
    const r = underFileSizeLimit(16, [script, target]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `CnnV3Error: ${target}: cannot write (file too large)\n`);
  }
  await intact(first, before, 1);
  onlyFiles(dir, ['checkpoint_epoch_1.safetensors', 'save.mts']);
});

// ---------------------------------------------------------------------------------------------
// cnnv3 train

/** A one-sample 32×32 dataset: an epoch takes milliseconds. */
function tinyDataset(t: TestContext): string {
  const root = join(tempDir(t), 'ds');
  const n = 32 * 32;
  const target = { width: 32, height: 32, data: Uint8Array.from({ length: n * 4 }, (_, i) => (i * 37) % 251) };
  const albedo = Uint8Array.from({ length: n * 3 }, (_, i) => (i * 13) % 256);
  writeSample(join(root, 'sample_a'), sampleFiles({ width: 32, height: 32, albedo, target }));
  return root;
}

const trainArgs = (data: string, dir: string, epochs: number) => [
  'train', '--input', data, '--device', 'cpu', '--patch-size', '16', '--patches-per-image', '4', '--batch-size', '4', '--threads', '1',
  '--seed', '3', '--checkpoint-every', '1', '--checkpoint-dir', dir, '--epochs', String(epochs),
];

const epochLosses = (out: string) => [...out.matchAll(/^Epoch (\d+)\/\d+ {2}loss (\S+)/gm)].map((m) => `${m[1]}:${m[2]}`);

/** Finished progress bars ("epoch 2/3 [####] 1/1") are all that may precede the error on stderr. */
const withoutBars = (stderr: string) => stderr.replace(/^[^\n]* \[#+\] \d+\/\d+(?: [^\n]*)?\n/gm, '');

/** The CLI's failure: exit 1, and on stderr one line, exactly `message`, and no stack. */
function failedWith(r: { code: number; err: string }, message: string): void {
  assert.equal(r.code, 1, r.err);
  assert.equal(withoutBars(r.err), `cnnv3: ${message}\n`);
}

test('cnnv3 train on a filling disk: stops with one line naming the checkpoint, the last one intact and resumable', async (t) => {
  const data = tinyDataset(t);
  await withMount(t, SMALL_FS, async (dir) => {
    const r = await runCli(trainArgs(data, dir, 3));
    const first = join(dir, 'checkpoint_epoch_1.safetensors');
    assert.match(r.out, new RegExp(`Saved ${first}\\n`));
    failedWith(r, `${join(dir, 'checkpoint_epoch_2.safetensors')}: cannot write (no space left on device)`);
    onlyFiles(dir, ['checkpoint_epoch_1.safetensors', 'train_log.jsonl']);
    const before = new Uint8Array(readFileSync(first));
    await intact(first, before, 1);
    // Resumed elsewhere, it continues with the losses of an uninterrupted run.
    const elsewhere = join(tempDir(t), 'resumed');
    const resumed = await runCli([...trainArgs(data, elsewhere, 3), '--resume', first]);
    assert.equal(resumed.code, 0, resumed.err);
    const whole = await runCli(trainArgs(data, join(tempDir(t), 'whole'), 3));
    assert.equal(whole.code, 0, whole.err);
    assert.deepEqual(epochLosses(resumed.out), epochLosses(whole.out).slice(1));
    assert.deepEqual(epochLosses(r.out), epochLosses(whole.out).slice(0, 2), 'the failed run trained epochs 1 and 2 as usual');
  });
});

/** Fills the file system at `dir` to the last page: a filler written until ENOSPC, then one page given back. */
function fillAllButOnePage(dir: string): void {
  const filler = join(dir, 'filler');
  const fd = openSync(filler, 'w');
  const page = new Uint8Array(4096).fill(1);
  try {
    for (;;) writeSync(fd, page);
  } catch (e) {
    assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    closeSync(fd);
  }
  truncateSync(filler, Math.floor(statSync(filler).size / 4096 - 1) * 4096);
}

test('cnnv3 train when the log cannot grow: one line naming the log, no torn line left in it', async (t) => {
  const data = tinyDataset(t);
  await withMount(t, SMALL_FS, async (dir) => {
    fillAllButOnePage(dir);
    // No checkpoints until the end: the log's one page fills after some 17 epochs.
    const args = trainArgs(data, dir, 60).map((a, i, all) => (all[i - 1] === '--checkpoint-every' ? '0' : a));
    const r = await runCli(args);
    const log = join(dir, 'train_log.jsonl');
    failedWith(r, `${log}: cannot append (no space left on device)`);
    const text = readFileSync(log, 'utf8');
    assert.ok(text.endsWith('\n'), 'the log ends with a whole line');
    const lines = text.trimEnd().split('\n');
    assert.ok(lines.length > 5 && lines.length < 40, `${lines.length} lines`);
    lines.forEach((l, i) => assert.equal((JSON.parse(l) as { epoch: number }).epoch, i + 1));
    assert.equal(epochLosses(r.out).length, lines.length + 1, 'the epoch whose line did not fit was trained and reported');
    onlyFiles(dir, ['filler', 'train_log.jsonl']);
  });
});

test('cnnv3 train into a read-only checkpoint directory: one line naming the file, the checkpoint there intact', async (t) => {
  const data = tinyDataset(t);
  await withMount(t, '1m', async (dir) => {
    const first = join(dir, 'checkpoint_epoch_1.safetensors');
    assert.equal((await runCli(trainArgs(data, dir, 1))).code, 0);
    const before = new Uint8Array(readFileSync(first));
    const listing = readdirSync(dir);
    remountReadOnly(dir);
    // Resuming into it: the log cannot be rewritten, before any training.
    failedWith(await runCli([...trainArgs(data, dir, 2), '--resume', first]), `${join(dir, 'train_log.jsonl')}: cannot write (read-only file system)`);
    // A fresh run into a new directory there: it cannot be made.
    const sub = join(dir, 'run2');
    failedWith(await runCli(trainArgs(data, sub, 1)), `${sub}: cannot create the checkpoint directory (read-only file system)`);
    await intact(first, before, 1);
    assert.deepEqual(readdirSync(dir), listing);
  });
});

test('cnnv3 train into an immutable checkpoint directory (chattr +i): one line naming the file, the checkpoint intact', async (t) => {
  const data = tinyDataset(t);
  const dir = join(tempDir(t), 'ckpt');
  const first = join(dir, 'checkpoint_epoch_1.safetensors');
  assert.equal((await runCli(trainArgs(data, dir, 1))).code, 0);
  const before = new Uint8Array(readFileSync(first));
  const listing = readdirSync(dir);
  try {
    execFileSync('chattr', ['+i', dir], { stdio: 'pipe' });
  } catch (e) {
    skipLoudly(t, `chattr +i is not possible here (${String((e as { stderr?: Buffer }).stderr ?? e).trim()}): needs CAP_LINUX_IMMUTABLE and ext2/3/4, xfs or btrfs`);
    return;
  }
  try {
    failedWith(await runCli([...trainArgs(data, dir, 2), '--resume', first]), `${join(dir, 'train_log.jsonl')}: cannot write (operation not permitted)`);
    await intact(first, before, 1);
    assert.deepEqual(readdirSync(dir), listing);
  } finally {
    execFileSync('chattr', ['-i', dir], { stdio: 'pipe' });
  }
});

test('cnnv3 train under a file-size limit (ulimit -f): one line naming the checkpoint, exit 1, the previous one intact', async (t) => {
  const data = tinyDataset(t);
  const dir = join(tempDir(t), 'ckpt');
  const first = join(dir, 'checkpoint_epoch_1.safetensors');
  assert.equal((await runCli(trainArgs(data, dir, 1))).code, 0);
  const before = new Uint8Array(readFileSync(first));
  // 16 KiB: the log and the loss curve fit, a 36 KB checkpoint does not.
  const r = underFileSizeLimit(16, [join(REPO, 'src/cli/bin.ts'), ...trainArgs(data, dir, 2), '--resume', first]);
  assert.equal(r.status, 1, r.stderr);
  assert.equal(withoutBars(r.stderr), `cnnv3: ${join(dir, 'checkpoint_epoch_2.safetensors')}: cannot write (file too large)\n`);
  await intact(first, before, 1);
  onlyFiles(dir, ['checkpoint_epoch_1.safetensors', 'loss_curve.png', 'train_log.jsonl']);
  assert.equal(existsSync(join(dir, 'checkpoint_epoch_2.safetensors')), false);
});
