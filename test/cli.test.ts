// The command line itself: --version, help, and typos answered with the nearest valid name.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { nearest } from '../src/cli/args.js';
import { REPO, runCli } from './helpers.js';

test('cnnv3 --version and -V print the package version; the usage names it', async () => {
  const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const r = await runCli([flag]);
    assert.equal(r.code, 0);
    assert.equal(r.out, `cnnv3 ${version}\n`);
  }
  assert.match((await runCli(['--help'])).out, /cnnv3 --version/);
});

test('an unknown command or flag: exit 2, one message with the nearest valid name when there is one', async () => {
  const cmd = await runCli(['trian']);
  assert.equal(cmd.code, 2);
  assert.match(cmd.err, /^cnnv3: unknown command "trian" \(did you mean train\?\)/);
  const far = await runCli(['frobnicate']);
  assert.match(far.err, /^cnnv3: unknown command "frobnicate"\n/);
  const flag = await runCli(['train', '--epoch', '3']);
  assert.equal(flag.code, 2);
  assert.equal(flag.err, "cnnv3 train: unknown option '--epoch' (did you mean --epochs?) (see cnnv3 train --help)\n");
  assert.match((await runCli(['infer', '--weigths', 'w.bin'])).err, /did you mean --weights\?/);
  assert.match((await runCli(['eval', '--stlye', '1,0'])).err, /did you mean --style\?/);
  assert.doesNotMatch((await runCli(['train', '--zzz'])).err, /did you mean/);
});

test('nearest: swaps, drops and additions within a third of the word; nothing for a stranger', () => {
  assert.equal(nearest('trian', ['train', 'tool']), 'train');
  assert.equal(nearest('epoch', ['epochs', 'lr']), 'epochs');
  assert.equal(nearest('lr-shedule', ['lr-schedule', 'lr']), 'lr-schedule');
  assert.equal(nearest('x', ['lr', 'seed']), undefined);
  assert.equal(nearest('banana', ['train', 'eval']), undefined);
});
