// The layering rule in eslint.config.js (ARCHITECTURE.md): library code may not import the CLI,
// the tool or the benchmarks, and the effect may not import the trainer. Linted as if the text
// stood at the given path, so the rule is shown to fire, not just to be configured.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ESLint } from 'eslint';
import { REPO } from './helpers.js';

async function restricted(path: string, source: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: REPO });
  const [result] = await eslint.lintText(source, { filePath: `${REPO}/${path}` });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

test('library code importing the CLI, the tool or a benchmark fails the lint', async () => {
  assert.match((await restricted('src/demo/x.ts', "import { bufferIO } from '../cli/io.js';\nexport const io = bufferIO;\n")).join(), /may not import the CLI/);
  assert.match((await restricted('src/train/gpu/x.ts', "import { ProgressBar } from '../../cli/progress.js';\nexport const p = ProgressBar;\n")).join(), /may not import the CLI/);
  assert.match((await restricted('src/model/x.ts', "import { trainInPage } from '../tool/train-run.js';\nexport const t = trainInPage;\n")).join(), /may not import the HTML tool/);
  assert.match((await restricted('src/export/x.ts', "export * from '../bench/infer.js';\n")).join(), /may not import the benchmarks/);
});

test('the effect importing the trainer fails the lint; the trainer importing the model does not', async () => {
  assert.match((await restricted('src/effect/x.ts', "import { runTrainingLoop } from '../train/loop.js';\nexport const r = runTrainingLoop;\n")).join(), /may not import the trainer/);
  assert.deepEqual(await restricted('src/train/x.ts', "import { buildParamTable } from '../model/params.js';\nexport const b = buildParamTable;\n"), []);
  // The CLI and the tool sit on top and may import anything.
  assert.deepEqual(await restricted('src/cli/commands/x.ts', "import { train } from '../../train/trainer-node.js';\nexport const t = train;\n"), []);
});
