import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { encodeCheckpoint } from '../src/checkpoint/checkpoint.js';
import { encodeSafetensors } from '../src/checkpoint/safetensors.js';
import { expectedFilmBytes, expectedWeightBytes, exportReport, exportWeights, formatFixedLikePython } from '../src/export/export.js';
import { DEFAULT_MODEL_CONFIG, TRAILER_BYTES, hasTrailer, type ModelConfig } from '../src/model/config.js';
import { fromHalfBits } from '../src/util/half.js';
import { buildParamTable, convHalfOffsets } from '../src/model/params.js';
import { makeCheckpoint, pattern } from './checkpoint-fixtures.js';
import { REPO, requireTool, runCli, SYSTEM_PYTHON, tempDir } from './helpers.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

// A config small enough to write its files out by hand, with an odd number of conv values:
// the count is odd exactly when C1 is odd and C0 even.
const SMALL: ModelConfig = { encChannels: [2, 1], filmCondDim: 1 };

test('the small config: 569 conv halves (odd), 338 MLP floats, layer offsets', () => {
  const table = buildParamTable(SMALL);
  assert.equal(table.convCount, 569);
  assert.equal(table.mlpCount, 338);
  assert.deepEqual(convHalfOffsets(table), { enc0: 0, enc1: 362, bottleneck: 381, dec1: 383, dec0: 421 });
  // 285 u32, the last one half padding, then the 16-byte trailer every non-playbook model carries.
  assert.equal(expectedWeightBytes(SMALL), 1140 + 16);
  assert.equal(expectedFilmBytes(SMALL), 1352);
});

test('cnn_v3_weights.bin and cnn_v3_film_mlp.bin, byte for byte, for a hand-built checkpoint', () => {
  const table = buildParamTable(SMALL);
  const params = new Float32Array(table.total);
  // Conv values (halves), index → value; everything else is +0.
  const conv: Array<[number, number]> = [
    [0, 1 + 2 ** -11], //   tie between 0x3c00 (even) and 0x3c01 → 0x3c00
    [1, 1 + 3 * 2 ** -11], // tie between 0x3c01 and 0x3c02 (even) → 0x3c02
    [2, 2 ** -24], //       smallest subnormal → 0x0001
    [3, 0], //              +0 → 0x0000
    [4, -0], //             −0 → 0x8000
    [5, 65520], //          the tie above the largest finite half → +Inf 0x7c00
    [6, -1e6], //           overflow → −Inf 0xfc00
    [7, 65504], //          largest finite → 0x7bff
    [8, 2 ** -25], //       subnormal tie → 0 (even)
    [9, 3 * 2 ** -25], //   subnormal tie → 0x0002 (even)
    [10, 0.1], //           → 0x2e66
    [11, -2], //            → 0xc000
    [362, 0.5], //          enc1.weight[0] → 0x3800
    [381, 0.25], //         bottleneck.weight[0] → 0x3400
    [383, 2], //            dec1.weight[0] → 0x4000
    [421, -0.5], //         dec0.weight[0] → 0xb800
    [568, 1], //            dec0.bias[3], the last half: low half of the last u32 → 0x3c00
  ];
  for (const [i, v] of conv) params[i] = v;
  // FiLM MLP floats, index within the MLP → value.
  const mlp: Array<[number, number]> = [
    [0, 1], //     L0 weight[0][0]
    [1, -2],
    [2, 0.1],
    [3, -0],
    [4, 65520], // stays finite in f32
    [16, 3], //    L0 bias[0]
    [32, 4], //    L1 weight[0][0]
    [320, 5], //   L1 bias[0]
    [337, 0.25], // L1 bias[17], the last float
  ];
  for (const [i, v] of mlp) params[table.convCount + i] = v;

  const { weights, film, halfOverflow } = exportWeights(SMALL, params);
  assert.equal(halfOverflow, 2);

  // Halves stored little-endian two per u32 (h[2k] low, h[2k+1] high), so the file is the halves
  // in order, each as 2 LE bytes: u32[0] = 0x3c023c00 reads as bytes 00 3c 02 3c.
  const zeros = (halves: number) => '0000'.repeat(halves);
  const expectedWeights =
    '003c023c010000000080007c00fcff7b00000200662e00c0' + // halves 0..11
    zeros(350) + '0038' + // 12..361, enc1 at 362
    zeros(18) + '0034' + // 363..380, bottleneck at 381
    zeros(1) + '0040' + // 382, dec1 at 383
    zeros(37) + '00b8' + // 384..420, dec0 at 421
    zeros(146) + '003c' + // 422..567, the last value at 568
    '0000' + // the padding high half of the last u32
    '434e5831' + '00000000' + '0200' + '0100' + '0100' + '0000'; // trailer: "CNX1", flags 0, C0 2, C1 1, D 1
  assert.equal(hex(weights), expectedWeights);
  assert.equal(weights.length, 1156);
  assert.equal(new DataView(weights.buffer).getUint32(0, true), 0x3c023c00);
  assert.equal(new DataView(weights.buffer).getUint32(1136, true), 0x00003c00);

  const f = (n: number) => '00000000'.repeat(n);
  const expectedFilm =
    '0000803f' + '000000c0' + 'cdcccc3d' + '00000080' + '00f07f47' + // 1, −2, 0.1, −0, 65520
    f(11) + '00004040' + // L0 bias[0] = 3 at 16
    f(15) + '00008040' + // L1 weight[0][0] = 4 at 32
    f(287) + '0000a040' + // L1 bias[0] = 5 at 320
    f(16) + '0000803e'; // the last float, 0.25, at 337
  assert.equal(hex(film), expectedFilm);
  assert.equal(film.length, 1352);
});

test('default config: 3928 + 3104 bytes, layer offsets of SPEC §6, the OIHW index formula', () => {
  const table = buildParamTable(DEFAULT_MODEL_CONFIG);
  assert.deepEqual(convHalfOffsets(table), { enc0: 0, enc1: 724, bottleneck: 1020, dec1: 1092, dec0: 1672 });
  assert.equal(table.convCount, 1964);
  assert.equal(expectedWeightBytes(DEFAULT_MODEL_CONFIG), 3928);
  assert.equal(expectedFilmBytes(DEFAULT_MODEL_CONFIG), 3104);
  // Each value = its own index (exact in f16 below 2048): the half at position i must read i.
  const params = Float32Array.from({ length: table.total }, (_, i) => i);
  const { weights, film } = exportWeights(DEFAULT_MODEL_CONFIG, params);
  assert.equal(weights.length, 3928);
  assert.equal(film.length, 3104);
  const dv = new DataView(weights.buffer);
  const half = (i: number) => fromHalfBits(dv.getUint16(2 * i, true));
  for (const c of table.convs) {
    const base = convHalfOffsets(table)[c.name];
    // The last weight (o, i, ky, kx) = (OUT−1, IN−1, K−1, K−1) and the last bias.
    const w = base + (((c.out - 1) * c.in + (c.in - 1)) * c.k + (c.k - 1)) * c.k + (c.k - 1);
    assert.equal(half(w), table.byName.get(`${c.name}.weight`)!.offset + table.byName.get(`${c.name}.weight`)!.size - 1);
    const b = base + c.out * c.in * c.k * c.k + (c.out - 1);
    assert.equal(half(b), table.byName.get(`${c.name}.bias`)!.offset + c.out - 1);
  }
  // dec1 (16→4, 3×3): weight (o=2, i=11, ky=1, kx=2).
  assert.equal(half(1092 + ((2 * 16 + 11) * 3 + 1) * 3 + 2), 1092 + 2 * 144 + 11 * 9 + 1 * 3 + 2);
  // The MLP: float j is parameter convCount + j.
  assert.equal(new DataView(film.buffer).getFloat32(4 * 775, true), 2739);
  assert.equal(new DataView(film.buffer).getFloat32(4 * 80, true), 1964 + 80); // L0 bias[0]
});

test("matches the playbook's numpy packing (astype(float16), u16[0::2] | u16[1::2] << 16)", (t) => {
  if (!requireTool(t, SYSTEM_PYTHON, 'python3-numpy')) return;
  const dir = tempDir(t);
  const script = String.raw`
import sys
import numpy as np
p = np.frombuffer(open(sys.argv[1], 'rb').read(), dtype='<f4')
n = int(sys.argv[2])
with np.errstate(over='ignore'):
    u16 = p[:n].astype(np.float16).view(np.uint16)
if len(u16) % 2:
    u16 = np.append(u16, np.uint16(0))
u32 = u16[0::2].astype(np.uint32) | (u16[1::2].astype(np.uint32) << 16)
open(sys.argv[3], 'wb').write(u32.astype('<u4').tobytes())
open(sys.argv[4], 'wb').write(p[n:].astype('<f4').tobytes())`;
  for (const config of [DEFAULT_MODEL_CONFIG, SMALL, { encChannels: [6, 3], filmCondDim: 3 } as ModelConfig]) {
    const table = buildParamTable(config);
    // Magnitudes from 2^-30 (below the subnormals) to 2^17 (past the f16 range), both signs.
    const params = pattern(table.total, 7).map((v, i) => v * 2 ** ((i % 48) - 30));
    const flat = join(dir, 'params.f32');
    writeFileSync(flat, Buffer.from(params.buffer));
    execFileSync(SYSTEM_PYTHON, ['-c', script, flat, String(table.convCount), join(dir, 'w.bin'), join(dir, 'f.bin')]);
    const ours = exportWeights(config, params);
    // The halves are numpy's; a non-playbook model's file ends in the 16-byte config trailer.
    const halves = ours.weights.subarray(0, ours.weights.length - (hasTrailer(config) ? TRAILER_BYTES : 0));
    assert.equal(hex(halves), hex(readFileSync(join(dir, 'w.bin'))), `weights for ${JSON.stringify(config)}`);
    assert.equal(hex(ours.film), hex(readFileSync(join(dir, 'f.bin'))), `film for ${JSON.stringify(config)}`);
  }
});

const DEFAULT_REPORT = `Checkpoint: epoch=200 loss=0.012345
enc_channels=[4, 8] film_cond_dim=5
cnn_v3_weights.bin
  1964 f16 values → 982 u32 → 3928 bytes
  Upload via CNNv3Effect.uploadWeights(queue, data, 3928)
cnn_v3_film_mlp.bin
  L0: weight (16, 5) + bias (16,)
  L1: weight (40, 16) + bias (40,)
  776 f32 values → 3104 bytes
`;

test("the report: playbook numbers for the defaults, the table's for other configs", () => {
  assert.equal(exportReport({ epoch: 200, loss: 0.012345 }, buildParamTable(DEFAULT_MODEL_CONFIG)), DEFAULT_REPORT);
  assert.equal(
    exportReport({ epoch: 3, loss: 0.0078125 }, buildParamTable(SMALL)),
    `Checkpoint: epoch=3 loss=0.007812
enc_channels=[2, 1] film_cond_dim=1
cnn_v3_weights.bin
  569 f16 values → 285 u32 → 1140 bytes + 16-byte extension trailer (enc_channels=[2, 1] film_cond_dim=1)
  Upload via CNNv3Effect.uploadWeights(queue, data, 1156)
cnn_v3_film_mlp.bin
  L0: weight (16, 1) + bias (16,)
  L1: weight (18, 16) + bias (18,)
  338 f32 values → 1352 bytes
`,
  );
});

test('loss is printed as Python f"{loss:.6f}" would', () => {
  assert.equal(formatFixedLikePython(0.012345, 6), '0.012345');
  assert.equal(formatFixedLikePython(1 / 3, 6), '0.333333');
  assert.equal(formatFixedLikePython(0.0078125, 6), '0.007812'); // exact tie → even (toFixed: 0.007813)
  assert.equal(formatFixedLikePython(0.0234375, 6), '0.023438'); // exact tie → even, upwards
  assert.equal(formatFixedLikePython(2.5, 0), '2');
  assert.equal(formatFixedLikePython(-2.5, 0), '-2');
  assert.equal(formatFixedLikePython(1e-9, 6), '0.000000');
  assert.equal(formatFixedLikePython(NaN, 6), 'nan');
  assert.equal(formatFixedLikePython(Infinity, 6), 'inf');
  assert.equal(formatFixedLikePython(-Infinity, 6), '-inf');
});

// ---- the CLI -----------------------------------------------------------------------------

function saveCkpt(dir: string, bytes: Uint8Array, name = 'checkpoint_epoch_200.safetensors'): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

test('cnnv3 export CKPT --output DIR: the report on stdout, both files written', async (t) => {
  const dir = tempDir(t);
  const ckpt = makeCheckpoint();
  const path = saveCkpt(dir, encodeCheckpoint(ckpt));
  const out = join(dir, 'assets', 'cnn');
  const r = await runCli(['export', path, '--output', out]);
  assert.equal(r.err, '');
  assert.equal(r.code, 0);
  assert.equal(r.out, DEFAULT_REPORT);
  const want = exportWeights(ckpt.config, ckpt.params);
  assert.deepEqual(readdirSync(out).sort(), ['cnn_v3_film_mlp.bin', 'cnn_v3_weights.bin']);
  assert.equal(hex(readFileSync(join(out, 'cnn_v3_weights.bin'))), hex(want.weights));
  assert.equal(hex(readFileSync(join(out, 'cnn_v3_film_mlp.bin'))), hex(want.film));
  // Other files in the output directory are left alone; the two are replaced.
  writeFileSync(join(out, 'keep.txt'), 'mine');
  writeFileSync(join(out, 'cnn_v3_weights.bin'), 'old');
  assert.equal((await runCli(['export', path, '-o', out])).code, 0);
  assert.equal(readFileSync(join(out, 'keep.txt'), 'utf8'), 'mine');
  assert.equal(readFileSync(join(out, 'cnn_v3_weights.bin')).length, 3928);
});

test('cnnv3 export writes to export/ by default; --help', async (t) => {
  const dir = tempDir(t);
  const path = saveCkpt(dir, encodeCheckpoint(makeCheckpoint({ encChannels: [2, 1], filmCondDim: 1 }, false)));
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    const r = await runCli(['export', path]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /569 f16 values → 285 u32 → 1140 bytes/);
    assert.equal(readFileSync(join(dir, 'export', 'cnn_v3_weights.bin')).length, 1156);
    assert.equal(readFileSync(join(dir, 'export', 'cnn_v3_film_mlp.bin')).length, 1352);
  } finally {
    process.chdir(cwd);
  }
  const help = await runCli(['export', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /cnnv3 export CKPT \[--output DIR\]/);
  assert.match((await runCli(['--help'])).out, /export +checkpoint →/);
});

test('a checkpoint without config is exported with the defaults (and says so on stderr)', async (t) => {
  const dir = tempDir(t);
  const ckpt = makeCheckpoint(DEFAULT_MODEL_CONFIG, false);
  const table = buildParamTable(DEFAULT_MODEL_CONFIG);
  const tensors = table.params.map((p) => ({ name: p.name, dtype: 'F32' as const, shape: p.shape, data: ckpt.params.subarray(p.offset, p.offset + p.size) }));
  const path = saveCkpt(dir, encodeSafetensors(tensors, { epoch: '200', loss: '0.012345' }), 'old.safetensors');
  const out = join(dir, 'out');
  const r = await runCli(['export', path, '--output', out]);
  assert.equal(r.code, 0);
  assert.equal(r.out, DEFAULT_REPORT);
  assert.equal(r.err, `cnnv3 export: warning: ${path}: no config metadata; assuming enc_channels=[4, 8] film_cond_dim=5\n`);
  assert.equal(hex(readFileSync(join(out, 'cnn_v3_weights.bin'))), hex(exportWeights(DEFAULT_MODEL_CONFIG, ckpt.params).weights));
});

test('conv values beyond the f16 range are exported as ±Inf with a warning', async (t) => {
  const dir = tempDir(t);
  const ckpt = makeCheckpoint(SMALL, false);
  ckpt.params[3] = 1e5;
  ckpt.params[4] = -7e4;
  const path = saveCkpt(dir, encodeCheckpoint(ckpt));
  const r = await runCli(['export', path, '--output', join(dir, 'out')]);
  assert.equal(r.code, 0);
  assert.equal(r.err, `cnnv3 export: warning: ${path}: 2 conv values beyond the f16 range (|x| ≥ 65520) exported as ±Inf\n`);
  assert.equal(hex(readFileSync(join(dir, 'out', 'cnn_v3_weights.bin')).subarray(6, 10)), '007c00fc');
});

/** What is at `path`: nothing, a file's bytes, or a directory's files and their bytes. */
function snapshot(path: string): unknown {
  if (!existsSync(path)) return undefined;
  if (statSync(path).isFile()) return hex(readFileSync(path));
  return readdirSync(path).map((f) => [f, hex(readFileSync(join(path, f)))]);
}

/** Runs a failing export: one line on stderr matching `pattern`, exit ≠ 0, `out` untouched. */
async function failsCleanly(t: TestContext, argv: string[], out: string, pattern: RegExp): Promise<void> {
  const before = snapshot(out);
  const r = await runCli(argv);
  assert.notEqual(r.code, 0, t.name);
  assert.equal(r.out, '');
  assert.match(r.err, /^cnnv3: [^\n]+\n$/, `one line: ${JSON.stringify(r.err)}`);
  assert.doesNotMatch(r.err, /\bat .*:\d+:\d+|Error:/, 'no stack trace');
  assert.match(r.err, pattern);
  assert.deepEqual(snapshot(out), before, 'output left as it was');
}

test('bad checkpoints: one line naming the file, exit ≠ 0, nothing written', async (t) => {
  const dir = tempDir(t);
  const out = join(dir, 'out');
  const run = (ckpt: string, pattern: RegExp) => failsCleanly(t, ['export', ckpt, '--output', out], out, pattern);

  await run(join(dir, 'missing.safetensors'), /missing\.safetensors: checkpoint not found$/m);
  mkdirSync(join(dir, 'checkpoints'));
  await run(join(dir, 'checkpoints'), /checkpoints: is a directory, not a checkpoint file/);
  await run(saveCkpt(dir, new Uint8Array(0), 'empty.safetensors'), /empty\.safetensors: not a safetensors file: too short \(the file is empty\)$/m);
  const whole = encodeCheckpoint(makeCheckpoint());
  await run(saveCkpt(dir, whole.subarray(0, 5000), 'cut.safetensors'), /cut\.safetensors: truncated safetensors file: the header describes \d+ bytes of tensor data but only \d+ follow$/m);
  await run(saveCkpt(dir, whole.subarray(0, 200), 'cut2.safetensors'), /cut2\.safetensors: truncated safetensors file: the header declares \d+ bytes but only 192 follow$/m);
  const png = join(dir, 'cat.png');
  copyFileSync(join(REPO, 'examples/photos/cat.png'), png);
  await run(png, /cat\.png: not a safetensors file \(it is a PNG image\)$/m);

  // Shapes that disagree with the config, with an output directory that already holds files.
  mkdirSync(out);
  writeFileSync(join(out, 'cnn_v3_weights.bin'), 'previous export');
  const table = buildParamTable(DEFAULT_MODEL_CONFIG);
  const tensors = table.params.map((p) =>
    p.name === 'enc1.weight'
      ? { name: p.name, dtype: 'F32' as const, shape: [8, 6, 3, 3], data: pattern(432, 1) }
      : { name: p.name, dtype: 'F32' as const, shape: p.shape, data: pattern(p.size, 1) },
  );
  const bad = saveCkpt(dir, encodeSafetensors(tensors, { config: '{"enc_channels":[4,8],"film_cond_dim":5,"input_mode":"simple"}' }), 'ckpt.safetensors');
  await run(bad, /ckpt\.safetensors: tensor enc1\.weight has shape \[8, 6, 3, 3\], expected \[8, 4, 3, 3\] for enc_channels=\[4, 8\] film_cond_dim=5$/m);
  assert.equal(readFileSync(join(out, 'cnn_v3_weights.bin'), 'utf8'), 'previous export');
});

test('bad output path or arguments: one line, exit ≠ 0', async (t) => {
  const dir = tempDir(t);
  const path = saveCkpt(dir, encodeCheckpoint(makeCheckpoint()));
  const file = join(dir, 'not-a-dir');
  writeFileSync(file, 'x');
  await failsCleanly(t, ['export', path, '--output', file], file, /not-a-dir: output path is a file, expected a directory$/m);
  assert.equal(readFileSync(file, 'utf8'), 'x');
  // A parent of the output directory is a file.
  await failsCleanly(t, ['export', path, '--output', join(file, 'sub')], join(dir, 'none'), /cannot create its directory \(a parent path is a file\)$/m);
  const none = join(dir, 'none');
  const noArgs = await runCli(['export']);
  assert.equal(noArgs.code, 2);
  assert.equal(noArgs.err, 'cnnv3 export: expected one checkpoint file (see cnnv3 export --help)\n');
  const two = await runCli(['export', path, path, '--output', none]);
  assert.equal(two.code, 2);
  const flag = await runCli(['export', path, '--outptu', none]);
  assert.equal(flag.code, 2);
  assert.match(flag.err, /unknown option '--outptu'/);
  assert.equal(existsSync(none), false);
});
