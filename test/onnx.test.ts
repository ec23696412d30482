// The ONNX export (src/export/onnx.ts) run in onnxruntime-node against the float64 reference
// forward (src/model/reference.ts), for several model configs and odd image sizes, and the CLI
// route: `cnnv3 export --onnx` + `cnnv3 inspect --dump-features --layout nchw` on a real sample.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { encodeCheckpoint } from '../src/checkpoint/checkpoint.js';
import { computeFeatures, NUM_FEATURES } from '../src/dataset/features.js';
import { loadSampleDir } from '../src/dataset/sample-node.js';
import { exportWeights } from '../src/export/export.js';
import { exportOnnx, ONNX_IR_VERSION, ONNX_OPSET } from '../src/export/onnx.js';
import { encodeOnnxModel, type OnnxGraph } from '../src/export/onnx-proto.js';
import { readWeightsBin } from '../src/export/read.js';
import { DEFAULT_MODEL_CONFIG, IN_CHANNELS, makeModelConfig, MAX_CONFIG_WIDTH, OUT_CHANNELS, type ModelConfig } from '../src/model/config.js';
import { initParams } from '../src/model/init.js';
import { buildParamTable } from '../src/model/params.js';
import { forward, tensor } from '../src/model/reference.js';
import { Rng } from '../src/util/rng.js';
import { makeCheckpoint } from './checkpoint-fixtures.js';
import { maxAbsDiff, runCli, tempDir } from './helpers.js';
import { sampleFiles, writeSample } from './sample-fixtures.js';

/** The bound the ONNX graph (float32 in onnxruntime) must meet against the float64 reference. */
const TOLERANCE = 1e-4;

/**
 * PyTorch-style initial values, plus a small random value wherever init leaves a 0 (FiLM β, and
 * for the residual output all of dec0), so every path through the graph carries signal.
 */
function liveParams(config: ModelConfig, seed: number): Float32Array {
  const params = initParams(buildParamTable(config), seed);
  const rng = new Rng(seed + 1000);
  for (let i = 0; i < params.length; i++) if (params[i] === 0) params[i] = rng.uniform(-0.3, 0.3);
  return params;
}

/** Random features in each channel's range: normals and depth gradients in [−1, 1], the rest in [0, 1]. */
function randomFeatures(rng: Rng, h: number, w: number): Float32Array {
  const f = new Float32Array(IN_CHANNELS * h * w);
  for (let c = 0; c < IN_CHANNELS; c++) {
    const signed = [3, 4, 6, 7].includes(c);
    for (let p = 0; p < h * w; p++) f[c * h * w + p] = signed ? rng.uniform(-1, 1) : rng.uniform(0, 1);
  }
  return f;
}

/** The reference forward of one CHW float32 image (widened exactly to float64). */
function reference(config: ModelConfig, params: Float32Array, chw: Float32Array, h: number, w: number, cond: ArrayLike<number>): Float64Array {
  return forward(buildParamTable(config), params, tensor(IN_CHANNELS, h, w, Float64Array.from(chw)), cond).y.data;
}

async function runOnnx(model: Uint8Array, features: Float32Array, cond: Float32Array, n: number, h: number, w: number): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await InferenceSession.create(model);
  try {
    assert.deepEqual(session.inputNames, ['features', 'cond']);
    assert.deepEqual(session.outputNames, ['rgba']);
    const out = await session.run({
      features: new OrtTensor('float32', features, [n, IN_CHANNELS, h, w]),
      cond: new OrtTensor('float32', cond, [n, cond.length / n]),
    });
    const rgba = out['rgba']!;
    return { data: rgba.data as Float32Array, dims: rgba.dims };
  } finally {
    await session.release();
  }
}

const CONFIGS: Array<{ label: string; config: ModelConfig; sizes: Array<[number, number]> }> = [
  // [W, H]: odd sizes (a partial pooling block on both axes at both levels), and the smallest.
  { label: 'default (enc 4,8, D 5, sigmoid)', config: DEFAULT_MODEL_CONFIG, sizes: [[37, 23], [1, 1], [2, 3], [6, 5], [8, 8]] },
  { label: 'wide residual (enc 8,12, D 5)', config: makeModelConfig([8, 12], 5, 'residual'), sizes: [[37, 23], [5, 2]] },
  { label: 'narrow (enc 3,2, D 2, strength_cond, style_conds)', config: makeModelConfig([3, 2], 2, 'sigmoid', { strengthCond: 1, styleConds: true }), sizes: [[37, 23]] },
  { label: 'long condition residual (enc 5,3, D 7)', config: makeModelConfig([5, 3], 7, 'residual'), sizes: [[19, 30]] },
  { label: `widest (enc ${MAX_CONFIG_WIDTH},${MAX_CONFIG_WIDTH}, D ${MAX_CONFIG_WIDTH}, residual)`, config: makeModelConfig([MAX_CONFIG_WIDTH, MAX_CONFIG_WIDTH], MAX_CONFIG_WIDTH, 'residual'), sizes: [[7, 5]] },
];

for (const { label, config, sizes } of CONFIGS) {
  test(`ONNX graph = reference forward within ${TOLERANCE}: ${label}`, async (t) => {
    const params = liveParams(config, 7);
    const model = exportOnnx(config, params);
    const D = config.filmCondDim;
    const rng = new Rng(11);
    let worst = 0;
    for (const [w, h] of sizes) {
      const n = 2; // a batch of two, each with its own features and condition
      const hw = h * w;
      const features = new Float32Array(n * IN_CHANNELS * hw);
      for (let s = 0; s < n; s++) features.set(randomFeatures(rng, h, w), s * IN_CHANNELS * hw);
      const cond = Float32Array.from({ length: n * D }, () => rng.uniform(0, 1));
      const { data, dims } = await runOnnx(model, features, cond, n, h, w);
      assert.deepEqual(dims, [n, OUT_CHANNELS, h, w]);
      for (let s = 0; s < n; s++) {
        const got = data.subarray(s * OUT_CHANNELS * hw, (s + 1) * OUT_CHANNELS * hw);
        const x = features.subarray(s * IN_CHANNELS * hw, (s + 1) * IN_CHANNELS * hw);
        const want = reference(config, params, x, h, w, cond.subarray(s * D, (s + 1) * D));
        const err = maxAbsDiff(got, want);
        assert.ok(err <= TOLERANCE, `${w}×${h} sample ${s}: max |onnx − reference| = ${err}`);
        worst = Math.max(worst, err);
        if (w * h >= 100) {
          // Not a constant image, and the condition is live: the other sample's condition is far off.
          assert.ok(Math.max(...got) - Math.min(...got) > 0.05, `${w}×${h}: output spread`);
          const otherCond = cond.subarray((1 - s) * D, (2 - s) * D);
          assert.ok(maxAbsDiff(got, reference(config, params, x, h, w, otherCond)) > 1e-3, 'the condition changes the output');
        }
      }
    }
    t.diagnostic(`${label}: max |onnx − reference| = ${worst.toExponential(2)} over ${sizes.map(([w, h]) => `${w}×${h}`).join(', ')} (batch 2)`);
  });
}

test("weights 'f16': the conv values of cnn_v3_weights.bin, the MLP in float32", async (t) => {
  const config = makeModelConfig([4, 6], 5, 'residual');
  const params = liveParams(config, 3);
  const table = buildParamTable(config);
  // The reference on the .bin's values: conv values read back from the packed halves.
  const binParams = params.slice();
  binParams.set(readWeightsBin(config, exportWeights(config, params).weights, 'w.bin'));
  const [w, h] = [21, 13];
  const features = randomFeatures(new Rng(5), h, w);
  const cond = Float32Array.from([0.2, 0.9, 0.4, 0.6, 0.1]);
  const half = await runOnnx(exportOnnx(config, params, { weights: 'f16' }), features, cond, 1, h, w);
  const full = await runOnnx(exportOnnx(config, params), features, cond, 1, h, w);
  const err = maxAbsDiff(half.data, reference(config, binParams, features, h, w, cond));
  assert.ok(err <= TOLERANCE, `f16 weights: max |onnx − reference on the .bin's values| = ${err}`);
  assert.ok(maxAbsDiff(half.data, full.data) > 1e-5, 'rounding the conv values to f16 shows in the output');
  assert.equal(table.convCount + table.mlpCount, params.length);
  t.diagnostic(`f16 weights: max |onnx − reference| = ${err.toExponential(2)}, f16 vs f32 ONNX differ by ${maxAbsDiff(half.data, full.data).toExponential(2)}`);
});

// ---- the file itself, read with a protobuf reader written here from the wire format ---------------

type Field = { field: number; wire: number; int?: bigint; bytes?: Uint8Array };

/** The fields of one message; every length is checked against what is left. */
function readFields(buf: Uint8Array): Field[] {
  let o = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (o >= buf.length) throw new Error('truncated varint');
      const b = buf[o++]!;
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return BigInt.asIntN(64, v);
    }
    throw new Error('varint longer than 10 bytes');
  };
  const take = (n: number): Uint8Array => {
    if (n < 0 || o + n > buf.length) throw new Error(`field of ${n} bytes at ${o}, only ${buf.length - o} left`);
    return buf.subarray(o, (o += n));
  };
  const out: Field[] = [];
  while (o < buf.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ field, wire, int: varint() });
    else if (wire === 2) out.push({ field, wire, bytes: take(Number(varint())) });
    else if (wire === 5) out.push({ field, wire, bytes: take(4) });
    else if (wire === 1) out.push({ field, wire, bytes: take(8) });
    else throw new Error(`wire type ${wire}`);
  }
  return out;
}
const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b);
const all = (fs: Field[], n: number) => fs.filter((f) => f.field === n);
const one = (fs: Field[], n: number): Field => {
  const m = all(fs, n);
  assert.equal(m.length, 1, `field ${n} once`);
  return m[0]!;
};
/** ValueInfoProto → name and dims (numbers, or names for symbolic ones). */
function valueInfo(b: Uint8Array): { name: string; elem: number; dims: Array<number | string> } {
  const f = readFields(b);
  const tensorType = readFields(one(readFields(one(f, 2).bytes!), 1).bytes!);
  const dims = all(readFields(one(tensorType, 2).bytes!), 1).map((d) => {
    const df = readFields(d.bytes!)[0]!;
    return df.field === 1 ? Number(df.int) : text(df.bytes);
  });
  return { name: text(one(f, 1).bytes), elem: Number(one(tensorType, 1).int), dims };
}

test('the .onnx file: IR version, opset, named inputs and outputs, every initializer its size', () => {
  const config = makeModelConfig([6, 10], 3, 'residual', { strengthCond: 2 });
  const params = liveParams(config, 1);
  const model = readFields(exportOnnx(config, params));
  assert.equal(one(model, 1).int, BigInt(ONNX_IR_VERSION));
  assert.equal(ONNX_IR_VERSION, 8);
  assert.ok(ONNX_OPSET >= 17);
  const opset = readFields(one(model, 8).bytes!);
  assert.equal(text(one(opset, 1).bytes), '');
  assert.equal(one(opset, 2).int, BigInt(ONNX_OPSET));
  assert.equal(text(one(model, 2).bytes), 'cnn-v3');
  const meta = Object.fromEntries(all(model, 14).map((m) => readFields(m.bytes!)).map((kv) => [text(one(kv, 1).bytes), text(one(kv, 2).bytes)]));
  assert.deepEqual(JSON.parse(meta['cnnv3.config']!), { enc_channels: [6, 10], film_cond_dim: 3, output: 'residual', strength_cond: 'audio_intensity' });
  assert.equal(meta['cnnv3.cond'], 'beat_phase,beat_norm,audio_intensity');
  assert.equal(meta['cnnv3.features']!.split(',').length, 20);

  const graph = readFields(one(model, 7).bytes!);
  assert.deepEqual(all(graph, 11).map((v) => valueInfo(v.bytes!)), [
    { name: 'features', elem: 1, dims: ['N', 20, 'H', 'W'] },
    { name: 'cond', elem: 1, dims: ['N', 3] },
  ]);
  assert.deepEqual(all(graph, 12).map((v) => valueInfo(v.bytes!)), [{ name: 'rgba', elem: 1, dims: ['N', 4, 'H', 'W'] }]);
  // Initializers: raw_data holds exactly prod(dims) values; the parameters are all there, as float32.
  const table = buildParamTable(config);
  const inits = new Map(
    all(graph, 5).map((ti) => {
      const f = readFields(ti.bytes!);
      const dims = all(f, 1).map((d) => Number(d.int));
      const type = Number(one(f, 2).int);
      const raw = one(f, 9).bytes!;
      assert.equal(raw.length, dims.reduce((a, b) => a * b, 1) * (type === 1 ? 4 : 8), text(one(f, 8).bytes));
      return [text(one(f, 8).bytes), { dims, raw }] as const;
    }),
  );
  for (const p of table.params) {
    const init = inits.get(p.name);
    assert.ok(init, p.name);
    assert.deepEqual(init.dims, p.shape, p.name);
    const v = new DataView(init.raw.buffer, init.raw.byteOffset, init.raw.byteLength);
    for (let i = 0; i < p.size; i++) assert.equal(v.getFloat32(4 * i, true), params[p.offset + i], `${p.name}[${i}]`);
  }
  const ops = all(graph, 1).map((n) => text(one(readFields(n.bytes!), 4).bytes));
  assert.equal(ops.filter((o) => o === 'Conv').length, 5);
  assert.equal(ops.filter((o) => o === 'Gemm').length, 2);
  assert.equal(ops.at(-1), 'Clip');
});

test('the encoder refuses a graph that reads an undefined value or an initializer of the wrong size', () => {
  const base: OnnxGraph = {
    name: 'g',
    nodes: [{ opType: 'Relu', name: 'r', inputs: ['x'], outputs: ['y'] }],
    initializers: [],
    inputs: [{ name: 'x', type: 'float32', shape: [1] }],
    outputs: [{ name: 'y', type: 'float32', shape: [1] }],
  };
  const model = (graph: OnnxGraph) => encodeOnnxModel({ irVersion: 8, opset: 17, producerName: 't', graph });
  assert.ok(model(base).length > 0);
  assert.throws(() => model({ ...base, nodes: [{ opType: 'Relu', name: 'r', inputs: ['z'], outputs: ['y'] }] }), /node r \(Relu\) reads "z" before anything defines it/);
  assert.throws(() => model({ ...base, initializers: [{ name: 'w', type: 'float32', dims: [2, 3], values: [1, 2, 3] }] }), /initializer w has 3 values, its dims \[2, 3\] need 6/);
  assert.throws(() => model({ ...base, outputs: [{ name: 'q', type: 'float32', shape: [1] }] }), /output "q" is never produced/);
  assert.throws(() => model({ ...base, nodes: [...base.nodes, { opType: 'Relu', name: 'r2', inputs: ['x'], outputs: ['y'] }] }), /value "y" is defined twice/);
});

// ---- the CLI: export --onnx, inspect --dump-features --layout nchw, onnxruntime on a real sample ----

/** A G-buffer sample of odd size with every plane varied (seeded). */
function writeVariedSample(dir: string, width: number, height: number): string {
  const rng = new Rng(42);
  const n = width * height;
  const bytes = (count: number) => Uint8Array.from({ length: count }, () => rng.int(256));
  return writeSample(
    dir,
    sampleFiles({
      width,
      height,
      albedo: bytes(3 * n),
      normal: Uint8Array.from({ length: 3 * n }, (_, i) => (i % 3 === 2 ? 0 : rng.int(256))),
      depth: Uint16Array.from({ length: n }, () => 1000 + rng.int(60000)),
      matid: bytes(n),
      shadow: bytes(n),
      transp: bytes(n),
    }),
  );
}

function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return Float32Array.from({ length: b.length / 4 }, (_, i) => dv.getFloat32(4 * i, true));
}

function saveCheckpoint(dir: string, config: ModelConfig, seed: number): { path: string; params: Float32Array } {
  const params = liveParams(config, seed);
  const path = join(dir, 'checkpoint_epoch_200.safetensors');
  writeFileSync(path, encodeCheckpoint({ ...makeCheckpoint(config, false), params }));
  return { path, params };
}

test('cnnv3 export --onnx + inspect --dump-features --layout nchw: onnxruntime gives the reference output on a sample', async (t) => {
  const dir = tempDir(t);
  const [W, H] = [37, 23];
  const sample = writeVariedSample(join(dir, 'sample_001'), W, H);
  const config = makeModelConfig([6, 10], 5, 'residual');
  const ckpt = saveCheckpoint(dir, config, 9);

  // --onnx alone writes the ONNX file and nothing else (no export/ in the working directory).
  const onnxPath = join(dir, 'models', 'model.onnx');
  const cwd = process.cwd();
  process.chdir(dir);
  let r;
  try {
    r = await runCli(['export', ckpt.path, '--onnx', onnxPath]);
  } finally {
    process.chdir(cwd);
  }
  assert.equal(r.err, '');
  assert.equal(r.code, 0);
  assert.equal(existsSync(join(dir, 'export')), false);
  const onnxBytes = readFileSync(onnxPath);
  assert.equal(
    r.out,
    `Checkpoint: epoch=200 loss=0.012345
enc_channels=[6, 10] film_cond_dim=5 output=residual
${onnxPath}
  ONNX opset ${ONNX_OPSET}: features (N, 20, H, W) + cond (N, 5) → rgba (N, 4, H, W)
  ${buildParamTable(config).total} parameters as float32 → ${onnxBytes.length} bytes
`,
  );
  assert.deepEqual(new Uint8Array(onnxBytes), exportOnnx(config, ckpt.params), 'the file is the library export of the checkpoint');
  assert.deepEqual(readdirSync(join(dir, 'models')), ['model.onnx']);

  // Both layouts from the CLI; nchw is the transpose of the default nhwc, value for value.
  const nchw = join(dir, 'feat', 'chw.f32');
  const nhwc = join(dir, 'feat', 'hwc.f32');
  const d1 = await runCli(['inspect', sample, '--dump-features', nchw, '--layout', 'nchw']);
  assert.equal(d1.code, 0, d1.err);
  assert.equal(d1.out, `Wrote 1×20×${H}×${W} (NCHW) float32 features to ${nchw} (+ ${nchw}.json)\n`);
  assert.deepEqual(JSON.parse(readFileSync(`${nchw}.json`, 'utf8')), { width: W, height: H, channels: 20, layout: 'nchw' });
  const d2 = await runCli(['inspect', sample, '--dump-features', nhwc]);
  assert.equal(d2.code, 0, d2.err);
  assert.deepEqual(JSON.parse(readFileSync(`${nhwc}.json`, 'utf8')), { width: W, height: H, channels: 20, layout: 'nhwc' });
  const chw = readF32(nchw);
  const hwc = readF32(nhwc);
  assert.equal(chw.length, NUM_FEATURES * W * H);
  for (let c = 0; c < NUM_FEATURES; c++) for (let p = 0; p < W * H; p++) assert.equal(chw[c * W * H + p], hwc[p * NUM_FEATURES + c]);
  assert.deepEqual(hwc, computeFeatures(await loadSampleDir(sample)));

  const cond = Float32Array.from([0.25, 0.5, 0.75, 0.2, 0.9]);
  const got = await runOnnx(onnxBytes, chw, cond, 1, H, W);
  const want = reference(config, ckpt.params, chw, H, W, cond);
  const err = maxAbsDiff(got.data, want);
  assert.ok(err <= TOLERANCE, `max |onnx − reference| = ${err}`);
  assert.ok(Math.max(...got.data) - Math.min(...got.data) > 0.05);
  t.diagnostic(`CLI route (enc 6,10 residual, ${W}×${H} sample): max |onnx − reference| = ${err.toExponential(2)}`);

  // With --output too: the two runtime files and the ONNX file, one report after the other.
  const out = join(dir, 'assets');
  const both = await runCli(['export', ckpt.path, '--output', out, '--onnx', join(out, 'model.onnx'), '--onnx-weights', 'f16']);
  assert.equal(both.code, 0, both.err);
  assert.deepEqual(readdirSync(out).sort(), ['cnn_v3_film_mlp.bin', 'cnn_v3_weights.bin', 'model.onnx']);
  assert.match(both.out, /^Checkpoint: epoch=200[^]*cnn_v3_film_mlp\.bin\n[^]*model\.onnx\n {2}ONNX opset \d+: [^\n]+\n {2}\d+ parameters as float32 \(conv values rounded to f16, as in cnn_v3_weights\.bin\) → \d+ bytes\n$/);
  assert.deepEqual(new Uint8Array(readFileSync(join(out, 'model.onnx'))), exportOnnx(config, ckpt.params, { weights: 'f16' }));
  assert.match((await runCli(['export', '--help'])).out, /--onnx FILE/);
});

/** A failing command: exit `code`, exactly one line on stderr matching `pattern`, nothing on stdout. */
async function failsWith(argv: string[], code: number, pattern: RegExp): Promise<void> {
  const r = await runCli(argv);
  assert.equal(r.code, code, `${argv.join(' ')}: ${r.err}`);
  assert.equal(r.out, '');
  assert.match(r.err, /^cnnv3[^\n]*\n$/, `one line: ${JSON.stringify(r.err)}`);
  assert.doesNotMatch(r.err, /\bat .*:\d+:\d+|Error:/, 'no stack trace');
  assert.match(r.err, pattern);
}

test('bad input: an unknown --layout, --layout without a dump, a bad --onnx path or --onnx-weights; nothing written', async (t) => {
  const dir = tempDir(t);
  const sample = writeVariedSample(join(dir, 's'), 5, 3);
  const dump = join(dir, 'feat.f32');
  await failsWith(['inspect', sample, '--dump-features', dump, '--layout', 'chw'], 2, /^cnnv3 inspect: --layout must be one of nhwc, nchw, got "chw"\n$/);
  await failsWith(['inspect', sample, '--dump-features', dump, '--layout', 'NCHW'], 2, /--layout must be one of nhwc, nchw, got "NCHW"/);
  await failsWith(['inspect', sample, '--layout', 'nchw'], 2, /^cnnv3 inspect: --layout applies to --dump-features FILE only\n$/);
  await failsWith(['inspect', sample, '--dump-features', dump, '--layuot', 'nchw'], 2, /unknown option '--layuot' \(did you mean --layout\?\)/);
  assert.equal(existsSync(dump), false);

  const { path } = saveCheckpoint(dir, DEFAULT_MODEL_CONFIG, 1);
  const out = join(dir, 'out');
  // The ONNX path is a directory: refused before the runtime files are written.
  mkdirSync(join(dir, 'model.onnx'));
  await failsWith(['export', path, '--output', out, '--onnx', join(dir, 'model.onnx')], 1, /^cnnv3: [^\n]*model\.onnx: output path is a directory\n$/);
  assert.equal(existsSync(out), false);
  // A parent of the ONNX path is a file.
  writeFileSync(join(dir, 'file'), 'x');
  await failsWith(['export', path, '--output', out, '--onnx', join(dir, 'file', 'sub', 'm.onnx')], 1, /m\.onnx: cannot create its directory \(a parent path is a file\)\n$/);
  assert.equal(existsSync(out), false);
  assert.equal(readFileSync(join(dir, 'file'), 'utf8'), 'x');
  await failsWith(['export', path, '--onnx', join(dir, 'm.onnx'), '--onnx-weights', 'f8'], 2, /^cnnv3 export: --onnx-weights must be one of f32, f16, got "f8"\n$/);
  await failsWith(['export', path, '--onnx-weights', 'f16'], 2, /^cnnv3 export: --onnx-weights needs --onnx FILE\n$/);
  await failsWith(['export', path, '--onnx', ''], 2, /--onnx needs a file name/);
  // A checkpoint that is no checkpoint: no ONNX file appears.
  const bad = join(dir, 'bad.safetensors');
  writeFileSync(bad, new Uint8Array(3));
  await failsWith(['export', bad, '--onnx', join(dir, 'm.onnx')], 1, /bad\.safetensors: not a safetensors file/);
  assert.equal(existsSync(join(dir, 'm.onnx')), false);
});
