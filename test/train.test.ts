import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { decodePng } from '../src/image/png.js';
import { REPO, runCli, tempDir } from './helpers.js';

/** Packs the bundled example photos (real photos, ImageMagick-made targets) once per test. */
async function exampleDataset(t: TestContext): Promise<string> {
  const root = tempDir(t);
  const r = await runCli(['pack-photo', '--photos', join(REPO, 'examples/photos'), '--targets', join(REPO, 'examples/targets'), '--output', join(root, 'simple')]);
  assert.equal(r.code, 0, r.err);
  return root;
}

const SMALL = ['--patch-size', '32', '--patches-per-image', '24', '--batch-size', '8', '--seed', '7'];

function epochLosses(out: string): number[] {
  return [...out.matchAll(/^Epoch \d+\/\d+ {2}loss (\S+)/gm)].map((m) => Number(m[1]));
}

test('training on real photos lowers the loss, logs every epoch and writes checkpoints and a loss curve', async (t) => {
  const data = await exampleDataset(t);
  const ckpt = join(tempDir(t), 'ckpt');
  const r = await runCli(['train', '--input', data, '--epochs', '4', '--checkpoint-dir', ckpt, '--checkpoint-every', '2', '--threads', '2', ...SMALL]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^Model: enc=\[4, 8\] film_cond_dim=5 params=2740 \(~5\.4 KB f16\)\n/);
  assert.match(r.out, /\nDevice: cpu \(2 threads\)\n/);
  assert.match(r.out, /Data: 4 samples .* 96 patches of 32×32 per epoch, seed 7\n/);
  const losses = epochLosses(r.out);
  assert.equal(losses.length, 4);
  assert.ok(losses[3]! < losses[0]!, `loss went ${losses.join(' → ')}`);
  assert.match(r.err, /epoch 1\/4 \[#+\] 12\/12/);
  assert.deepEqual(readdirSync(ckpt).sort(), ['checkpoint_epoch_2.safetensors', 'checkpoint_epoch_4.safetensors', 'loss_curve.png', 'train_log.jsonl']);
  const log = readFileSync(join(ckpt, 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  assert.deepEqual(log.map((l) => l['epoch']), [1, 2, 3, 4]);
  for (const l of log) for (const k of ['loss', 'patches_per_s', 'lr', 'seconds']) assert.equal(typeof l[k], 'number', k);
  assert.ok(Math.abs(log[3]!['loss']! - losses[3]!) < 1e-6);
  const curve = decodePng(readFileSync(join(ckpt, 'loss_curve.png')), 'loss_curve.png');
  assert.deepEqual([curve.width, curve.height], [640, 360]);
});

test('the thread count does not change the result, and --resume continues with the same losses', async (t) => {
  const data = await exampleDataset(t);
  const a = join(tempDir(t), 'a');
  const b = join(tempDir(t), 'b');
  const base = ['train', '--input', data, ...SMALL, '--detector', 'random', '--lr-schedule', 'cosine'];
  const one = await runCli([...base, '--epochs', '4', '--checkpoint-dir', a, '--checkpoint-every', '2', '--threads', '1']);
  assert.equal(one.code, 0, one.err);
  const two = await runCli([...base, '--epochs', '4', '--checkpoint-dir', b, '--checkpoint-every', '2', '--threads', '2']);
  assert.equal(two.code, 0, two.err);
  const full = epochLosses(one.out);
  assert.deepEqual(epochLosses(two.out), full, '1 and 2 threads agree exactly');
  assert.deepEqual(readFileSync(join(b, 'checkpoint_epoch_2.safetensors')), readFileSync(join(a, 'checkpoint_epoch_2.safetensors')));
  // Resume in a new directory from epoch 2: epochs 3–4 must come out as in the uninterrupted run.
  const c = join(tempDir(t), 'c');
  const resumed = await runCli([...base, '--epochs', '4', '--checkpoint-dir', c, '--resume', join(b, 'checkpoint_epoch_2.safetensors')]);
  assert.equal(resumed.code, 0, resumed.err);
  assert.match(resumed.out, /Resuming from .*checkpoint_epoch_2\.safetensors at epoch 2\n/);
  assert.deepEqual(epochLosses(resumed.out), full.slice(2), 'resumed epochs 3–4 equal the uninterrupted run');
  assert.deepEqual(readFileSync(join(c, 'checkpoint_epoch_4.safetensors')), readFileSync(join(a, 'checkpoint_epoch_4.safetensors')));
  // Resuming in the run's own directory keeps the log's earlier epochs and drops later ones.
  const again = await runCli([...base, '--epochs', '4', '--checkpoint-dir', b, '--resume', join(b, 'checkpoint_epoch_2.safetensors')]);
  assert.equal(again.code, 0, again.err);
  const log = readFileSync(join(b, 'train_log.jsonl'), 'utf8').trim().split('\n');
  assert.deepEqual(log.map((l) => (JSON.parse(l) as { epoch: number }).epoch), [1, 2, 3, 4]);
});

test('full-image mode and a patch larger than the images (zero-padded, said once)', async (t) => {
  const data = await exampleDataset(t);
  const ck = tempDir(t);
  const full = await runCli(['train', '--input', data, '--full-image', '--image-size', '24', '--epochs', '2', '--batch-size', '4', '--checkpoint-dir', join(ck, 'f'), '--seed', '1']);
  assert.equal(full.code, 0, full.err);
  assert.match(full.out, /4 images of 24×24 per epoch/);
  const big = await runCli(['train', '--input', data, '--patch-size', '300', '--patches-per-image', '1', '--epochs', '1', '--batch-size', '4', '--checkpoint-dir', join(ck, 'p'), '--seed', '1', '--threads', '2']);
  assert.equal(big.code, 0, big.err);
  assert.equal(big.err.match(/--patch-size 300 is larger than 3 image\(s\) \(e\.g\. simple\/sample_astronaut, 256×256\)/g)?.length, 1);
});

test('train bad input: one clear line, exit ≠ 0', async (t) => {
  const data = await exampleDataset(t);
  const dir = tempDir(t);
  const ck = join(dir, 'ck');
  const cases: Array<{ argv: string[]; re: RegExp; code?: number }> = [
    { argv: ['--input', join(dir, 'empty-nothing')], re: /empty-nothing: no such directory/ },
    { argv: ['--input', dir], re: /No samples found in .*: no directory holds albedo\.png/ },
    { argv: ['--input', data, '--epochz', '3'], re: /unknown option '--epochz'/, code: 2 },
    { argv: ['--input', data, '--epochs', 'ten'], re: /--epochs must be an integer ≥ 1, got "ten"/, code: 2 },
    { argv: ['--input', data, '--lr', 'fast'], re: /--lr must be a number/, code: 2 },
    { argv: ['--input', data, '--detector', 'sift'], re: /--detector must be one of harris, shi-tomasi, random/, code: 2 },
    { argv: ['--input', data, '--enc-channels', '4'], re: /--enc-channels must be two integers/, code: 2 },
    { argv: ['--input', data, '--resume', join(dir, 'nope.safetensors')], re: /nope\.safetensors: checkpoint not found/ },
  ];
  for (const { argv, re, code } of cases) {
    const r = await runCli(['train', '--checkpoint-dir', ck, ...argv]);
    assert.equal(r.code, code ?? 1, `${argv.join(' ')}: ${r.err}`);
    assert.match(r.err, re);
    assert.doesNotMatch(r.err, /\n\s+at /);
  }
  // A checkpoint of another architecture.
  const other = join(dir, 'other');
  const r0 = await runCli(['train', '--input', data, ...SMALL, '--epochs', '1', '--enc-channels', '2,3', '--checkpoint-dir', other]);
  assert.equal(r0.code, 0, r0.err);
  const r1 = await runCli(['train', '--input', data, ...SMALL, '--epochs', '3', '--checkpoint-dir', other, '--resume', join(other, 'checkpoint_epoch_1.safetensors')]);
  assert.equal(r1.code, 1);
  assert.match(r1.err, /checkpoint_epoch_1\.safetensors: checkpoint has enc_channels=\[2, 3\] film_cond_dim=5 but this run has enc_channels=\[4, 8\]/);
  const notCkpt = join(dir, 'x.safetensors');
  writeFileSync(notCkpt, 'definitely not safetensors');
  const r2 = await runCli(['train', '--input', data, '--checkpoint-dir', ck, '--resume', notCkpt]);
  assert.equal(r2.code, 1);
  assert.match(r2.err, /x\.safetensors: not a safetensors file/);
});

test('a diverging run stops at the NaN, names the epoch, keeps the last good checkpoint', async (t) => {
  const data = await exampleDataset(t);
  const ck = join(tempDir(t), 'ck');
  const r = await runCli(['train', '--input', data, ...SMALL, '--epochs', '50', '--lr', '1e5', '--checkpoint-dir', ck, '--checkpoint-every', '0']);
  assert.equal(r.code, 1, r.out);
  const m = /Loss became NaN in epoch (\d+) \(step \d+\); (.*)\. Try a lower learning rate: --lr 1e-4\n$/.exec(r.err);
  assert.ok(m, r.err);
  const epoch = Number(m[1]);
  if (epoch > 1) {
    assert.match(m[2]!, new RegExp(`the last good checkpoint is .*checkpoint_epoch_${epoch - 1}\\.safetensors`));
    assert.ok(existsSync(join(ck, `checkpoint_epoch_${epoch - 1}.safetensors`)));
  } else assert.equal(m[2], 'no checkpoint was written');
});

test('--val-split holds samples out, scores them every epoch, keeps best.safetensors; --val DIR too', async (t) => {
  const data = await exampleDataset(t);
  const ck = join(tempDir(t), 'ck');
  const r = await runCli(['train', '--input', data, ...SMALL, '--epochs', '3', '--val-split', '0.25', '--checkpoint-dir', ck]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /Validation: 1 held-out sample \(simple\/sample_\w+\)/);
  assert.match(r.out, /Data: 3 samples/);
  const lines = [...r.out.matchAll(/^Epoch \d\/3 {2}loss \S+ {2}val (\S+) \((\S+) dB\)( best)?/gm)];
  assert.equal(lines.length, 3);
  assert.equal(lines[0]![3], ' best', 'the first score is the best so far');
  const log = readFileSync(join(ck, 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { val_loss: number; val_psnr: number });
  assert.ok(log.every((l) => l.val_loss > 0 && l.val_psnr > 0));
  assert.ok(existsSync(join(ck, 'best.safetensors')));
  const other = join(tempDir(t), 'other');
  const v = await runCli(['train', '--input', data, ...SMALL, '--epochs', '1', '--val', data, '--checkpoint-dir', other]);
  assert.equal(v.code, 0, v.err);
  assert.match(v.out, /Validation: 4 held-out samples/);
  const both = await runCli(['train', '--input', data, '--val', data, '--val-split', '0.5']);
  assert.equal(both.code, 2);
  assert.match(both.err, /give --val-split or --val, not both/);
});

test('train warns when the best held-out score is below returning the input untouched, and not when it beats it', async (t) => {
  // Targets that are the photos themselves: nothing beats the identity (infinite PSNR, capped).
  const root = tempDir(t);
  const r0 = await runCli(['pack-photo', '--photos', join(REPO, 'examples/photos'), '--output', join(root, 'same')]);
  assert.equal(r0.code, 0, r0.err);
  const same = await runCli(['train', '--input', root, ...SMALL, '--epochs', '1', '--val-split', '0.25', '--checkpoint-dir', join(root, 'ck1')]);
  assert.equal(same.code, 0, same.err);
  assert.match(same.out, /the input itself scores 200\.00 dB/);
  assert.match(same.err, /^warning: the best held-out score \(\S+ dB, epoch 1\) is below returning the input untouched \(200\.00 dB\)/m);
  // The example targets (a strong grade) are far from the photos: a short run already beats the identity.
  const graded = await runCli(['train', '--input', await exampleDataset(t), ...SMALL, '--epochs', '3', '--lr', '1e-2', '--val-split', '0.25', '--checkpoint-dir', join(root, 'ck2')]);
  assert.equal(graded.code, 0, graded.err);
  assert.doesNotMatch(graded.err, /warning: the best held-out/);
});

test('--preset near-identity: residual output, uniform patches, no dropout, 16,16, L1, printed at the start; explicit flags win; a bad name is one line', async (t) => {
  const root = await exampleDataset(t);
  const r = await runCli(['train', '--input', root, ...SMALL, '--epochs', '1', '--preset', 'near-identity', '--checkpoint-dir', join(root, 'ck')]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^Preset: near-identity \(--output-mode residual --detector random --channel-dropout-p 0 --enc-channels 16,16 --loss l1; flags given explicitly win\)$/m);
  const { loadCheckpoint } = await import('../src/checkpoint/checkpoint-node.js');
  const ck = await loadCheckpoint(join(root, 'ck', 'checkpoint_epoch_1.safetensors'));
  assert.equal(ck.config.output, 'residual', 'the preset reaches the checkpoint config');
  assert.deepEqual(ck.config.encChannels, [16, 16]);

  const { parseTrainOptions } = await import('../src/cli/commands/train.js');
  const opts = parseTrainOptions(['--preset', 'near-identity', '--output-mode', 'sigmoid', '--enc-channels', '8,8']);
  assert.ok(opts !== 'help');
  assert.deepEqual([opts.outputMode, opts.detector, opts.preset, opts.encChannels, opts.channelDropoutP, opts.loss], ['sigmoid', 'random', 'near-identity', [8, 8], 0, 'l1']);
  const plain = parseTrainOptions([]);
  assert.ok(plain !== 'help');
  assert.deepEqual([plain.outputMode, plain.detector, plain.preset, plain.encChannels, plain.channelDropoutP, plain.loss], ['sigmoid', 'harris', undefined, [4, 8], 0.3, undefined]);

  const bad = await runCli(['train', '--input', root, '--preset', 'near-identiy']);
  assert.equal(bad.code, 2);
  assert.equal(bad.err, 'cnnv3 train: --preset must be one of near-identity, got "near-identiy" (did you mean near-identity?)\n');
});
