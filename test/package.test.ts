// The package as another project gets it: `npm pack`, installed from the tarball into an empty
// directory, then its `cnnv3` binary through npx, both library entries in Node, and a strict
// TypeScript consumer compiled against the shipped .d.ts files.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, tempDir } from './helpers.js';

const npm = (cwd: string, args: string[]): string => execFileSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });

test('npm pack → npm install ./cnn-v3-*.tgz in an empty project: npx cnnv3, the Node API and a strict TypeScript consumer work', (t) => {
  assert.ok(existsSync(join(REPO, 'dist/cli/bin.js')), 'dist/ is built (npm run build)');
  const packDir = tempDir(t);
  // The build is already there (npm test builds first): no prepare step again.
  const packed = JSON.parse(npm(REPO, ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir])) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const tarball = join(packDir, packed[0]!.filename);
  const paths = packed[0]!.files.map((f) => f.path);
  assert.ok(paths.includes('dist/cli/bin.js') && paths.includes('dist/index.d.ts') && paths.includes('blender/blender_export.py'));
  assert.ok(!paths.some((p) => p.startsWith('src/') || p.startsWith('test/')), 'sources and tests stay out of the package');

  const app = tempDir(t);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', type: 'module', private: true }));
  // Install scripts are skipped: Dawn's postinstall is not needed for what this test runs.
  npm(app, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', tarball]);
  const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
  assert.equal(execFileSync('npx', ['--no-install', 'cnnv3', '--version'], { cwd: app, encoding: 'utf8' }), `cnnv3 ${version}\n`);
  assert.match(execFileSync('npx', ['--no-install', 'cnnv3', '--help'], { cwd: app, encoding: 'utf8' }), /Usage: cnnv3 <command>/);

  writeFileSync(
    join(app, 'use.mjs'),
    `import { buildParamTable, DEFAULT_MODEL_CONFIG, CNNv3Effect, runTrainingLoop } from 'cnn-v3';
import { main, bufferIO } from 'cnn-v3/cli';
import { loadSampleDir } from 'cnn-v3/node';
import { CNNv3Effect as Effect, WEIGHTS_FILE } from 'cnn-v3/effect';
const io = bufferIO();
const code = await main(['--version'], io);
console.log(buildParamTable(DEFAULT_MODEL_CONFIG).total, typeof CNNv3Effect, typeof runTrainingLoop, typeof loadSampleDir, code, io.out.trim(), Effect === CNNv3Effect, WEIGHTS_FILE);
`,
  );
  assert.equal(execFileSync(process.execPath, ['use.mjs'], { cwd: app, encoding: 'utf8' }), `2740 function function function 0 cnnv3 ${version} true cnn_v3_weights.bin\n`);

  writeFileSync(
    join(app, 'consumer.ts'),
    `import { buildParamTable, makeModelConfig, describeConfig, type ModelConfig } from 'cnn-v3';
import type { CliIO } from 'cnn-v3/cli';
import { CNNv3Effect, type CnnRenderArgs } from 'cnn-v3/effect';
// The embedding API as an app types it (WebGPU's types come with the package).
export function stylise(device: GPUDevice, weights: ArrayBuffer, film: ArrayBuffer, encoder: GPUCommandEncoder, photo: GPUTexture): GPUTexture {
  const fx = new CNNv3Effect(device, { weights, film });
  const args: CnnRenderArgs = { input: photo, cond: [0, 0, 1, 1, 0] };
  return fx.render(encoder, args);
}
const config: ModelConfig = makeModelConfig([8, 16], 5, 'residual', { strengthCond: 2 });
const total: number = buildParamTable(config).total;
const io: CliIO = { stdout: () => {}, stderr: () => {}, isTTY: false };
export const summary: string = \`\${describeConfig(config)}: \${total}\${io.isTTY ? '' : ''}\`;
`,
  );
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', noEmit: true, skipLibCheck: true, lib: ['ES2023', 'DOM'], types: [] }, files: ['consumer.ts'] }),
  );
  execFileSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', app], { cwd: app, encoding: 'utf8' });
  // The same consumer with a type error is refused: the .d.ts files really type the API.
  writeFileSync(join(app, 'consumer.ts'), `import { buildParamTable } from 'cnn-v3';\nexport const n: string = buildParamTable({ encChannels: [4, 8], filmCondDim: 5 }).total;\n`);
  assert.throws(
    () => execFileSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', app], { cwd: app, encoding: 'utf8' }),
    (e: { stdout?: string }) => /Type 'number' is not assignable to type 'string'/.test(e.stdout ?? ''),
  );
});
