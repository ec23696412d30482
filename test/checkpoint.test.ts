import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../src/checkpoint/checkpoint.js';
import { loadCheckpoint, saveCheckpoint } from '../src/checkpoint/checkpoint-node.js';
import { decodeSafetensors, encodeSafetensors, type SafetensorsTensorIn } from '../src/checkpoint/safetensors.js';
import { CnnV3Error } from '../src/errors.js';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../src/model/config.js';
import { buildParamTable } from '../src/model/params.js';
import { requireTool, SYSTEM_PYTHON, tempDir } from './helpers.js';
import { bits, makeCheckpoint, pattern } from './checkpoint-fixtures.js';
import { f32hex, pythonReadSafetensors } from './safetensors-oracle.js';

const FILE = 'ckpt.safetensors';

function assertSame(got: Checkpoint, want: Omit<Checkpoint, 'hadConfig'>): void {
  assert.deepEqual(got.config, want.config);
  assert.equal(got.inputMode, want.inputMode);
  assert.deepEqual(bits(got.params), bits(want.params));
  assert.equal(got.optim === undefined, want.optim === undefined);
  if (got.optim && want.optim) {
    assert.deepEqual(bits(got.optim.expAvg), bits(want.optim.expAvg));
    assert.deepEqual(bits(got.optim.expAvgSq), bits(want.optim.expAvgSq));
  }
  assert.equal(got.epoch, want.epoch);
  assert.ok(Object.is(got.loss, want.loss), `loss ${got.loss} vs ${want.loss}`);
  assert.equal(got.step, want.step);
  assert.deepEqual(got.extra, want.extra);
}

test('round trip with optimiser state, default config', () => {
  const ckpt = makeCheckpoint();
  const back = decodeCheckpoint(encodeCheckpoint(ckpt), FILE);
  assertSame(back, ckpt);
  assert.equal(back.hadConfig, true);
});

test('tensor names and metadata are the PyTorch-compatible ones of SPEC §5.6', () => {
  const table = buildParamTable(DEFAULT_MODEL_CONFIG);
  const file = decodeSafetensors(encodeCheckpoint(makeCheckpoint()), FILE);
  const model = ['enc0', 'enc1', 'bottleneck', 'dec1', 'dec0'].flatMap((l) => [`${l}.weight`, `${l}.bias`]);
  model.push('film_mlp.0.weight', 'film_mlp.0.bias', 'film_mlp.2.weight', 'film_mlp.2.bias');
  const optim = model.flatMap((n) => [`optim.${n}.exp_avg`, `optim.${n}.exp_avg_sq`]);
  assert.deepEqual([...file.tensors.keys()], [...model, ...optim]);
  for (const p of table.params) assert.deepEqual(file.tensors.get(p.name)!.shape, p.shape);
  assert.deepEqual(file.tensors.get('enc1.weight')!.shape, [8, 4, 3, 3]);
  assert.deepEqual(file.tensors.get('film_mlp.2.weight')!.shape, [40, 16]);
  assert.deepEqual(file.metadata, {
    epoch: '200',
    loss: '0.012345',
    step: '4000',
    config: '{"enc_channels":[4,8],"film_cond_dim":5,"input_mode":"simple"}',
  });
  // Without optimiser state: only the model's tensors.
  const bare = decodeSafetensors(encodeCheckpoint(makeCheckpoint(DEFAULT_MODEL_CONFIG, false)), FILE);
  assert.deepEqual([...bare.tensors.keys()], model);
  assert.equal(decodeCheckpoint(encodeCheckpoint(makeCheckpoint(DEFAULT_MODEL_CONFIG, false)), FILE).optim, undefined);
});

test('loss, epoch and step round-trip exactly; extra metadata is kept', () => {
  for (const loss of [0.1 + 0.2, 1 / 3, 5e-324, 1e300, 2 ** -40, 0, 123456789.123, NaN]) {
    const ckpt = { ...makeCheckpoint(DEFAULT_MODEL_CONFIG, false), loss, epoch: 7, step: 2 ** 40, extra: { git: 'abc123', note: 'ünï "x"' } };
    assertSame(decodeCheckpoint(encodeCheckpoint(ckpt), FILE), ckpt);
  }
  assert.throws(() => encodeCheckpoint({ ...makeCheckpoint(), extra: { loss: '1' } }), /reserved key "loss"/);
  assert.throws(() => encodeCheckpoint({ ...makeCheckpoint(), epoch: 1.5 }), /epoch must be a non-negative integer/);
  assert.throws(() => encodeCheckpoint({ ...makeCheckpoint(), params: new Float32Array(3) }), /params has 3 values, the model has 2740/);
});

test('non-default enc_channels, film_cond_dim and input mode', () => {
  const config: ModelConfig = { encChannels: [3, 5], filmCondDim: 2 };
  const ckpt = { ...makeCheckpoint(config), inputMode: 'full' as const };
  const bytes = encodeCheckpoint(ckpt);
  assert.equal(decodeSafetensors(bytes, FILE).metadata['config'], '{"enc_channels":[3,5],"film_cond_dim":2,"input_mode":"full"}');
  assertSame(decodeCheckpoint(bytes, FILE), ckpt);
});

// ---- files made by hand (as a converter or an old version would) --------------------------

function modelTensors(config: ModelConfig, params: Float32Array): SafetensorsTensorIn[] {
  return buildParamTable(config).params.map((p) => ({ name: p.name, dtype: 'F32', shape: p.shape, data: params.subarray(p.offset, p.offset + p.size) }));
}

function refuses(bytes: Uint8Array, pattern: RegExp | string): void {
  assert.throws(
    () => decodeCheckpoint(bytes, FILE),
    (e: unknown) => {
      assert.ok(e instanceof CnnV3Error, `a CnnV3Error, got ${String(e)}`);
      assert.ok(e.message.startsWith(`${FILE}: `), e.message);
      if (typeof pattern === 'string') assert.equal(e.message, pattern);
      else assert.match(e.message, pattern);
      return true;
    },
  );
}

test('a checkpoint without config is read with the defaults; without epoch/loss/step too', () => {
  const params = pattern(2740, 5);
  const bytes = encodeSafetensors(modelTensors(DEFAULT_MODEL_CONFIG, params), {});
  const ckpt = decodeCheckpoint(bytes, FILE);
  assert.equal(ckpt.hadConfig, false);
  assert.deepEqual(ckpt.config, DEFAULT_MODEL_CONFIG);
  assert.equal(ckpt.inputMode, 'simple');
  assert.deepEqual(bits(ckpt.params), bits(params));
  assert.equal(ckpt.epoch, 0);
  assert.equal(ckpt.step, 0);
  assert.ok(Number.isNaN(ckpt.loss));
  // A config with only some keys: the others take their defaults.
  const partial = encodeSafetensors(modelTensors(DEFAULT_MODEL_CONFIG, params), { config: '{"enc_channels":[4,8]}' });
  const p = decodeCheckpoint(partial, FILE);
  assert.equal(p.hadConfig, true);
  assert.deepEqual(p.config, DEFAULT_MODEL_CONFIG);
});

test('tensors whose shapes disagree with the config are refused, naming tensor, shapes and config', () => {
  const tensors = modelTensors(DEFAULT_MODEL_CONFIG, pattern(2740, 1));
  const i = tensors.findIndex((t) => t.name === 'enc1.weight');
  tensors[i] = { name: 'enc1.weight', dtype: 'F32', shape: [8, 6, 3, 3], data: pattern(8 * 6 * 9, 2) };
  const meta = { config: '{"enc_channels":[4,8],"film_cond_dim":5,"input_mode":"simple"}' };
  refuses(encodeSafetensors(tensors, meta), 'ckpt.safetensors: tensor enc1.weight has shape [8, 6, 3, 3], expected [8, 4, 3, 3] for enc_channels=[4, 8] film_cond_dim=5');
  // Without config, the message says the expectation comes from the defaults.
  refuses(encodeSafetensors(tensors, {}), /expected \[8, 4, 3, 3\] for enc_channels=\[4, 8\] film_cond_dim=5 \(the defaults: the checkpoint has no config metadata\)$/);
  // A whole checkpoint of another size under a config that does not match it.
  const other = encodeCheckpoint(makeCheckpoint({ encChannels: [8, 16], filmCondDim: 5 }));
  const file = decodeSafetensors(other, FILE);
  const lying = encodeSafetensors(
    [...file.tensors].map(([name, t]) => ({ name, dtype: 'F32', shape: t.shape, data: t.data })),
    { ...file.metadata, config: '{"enc_channels":[4,8],"film_cond_dim":5}' },
  );
  refuses(lying, /tensor enc0\.weight has shape \[8, 20, 3, 3\], expected \[4, 20, 3, 3\]/);
});

test('missing model tensors, partial optimiser state, non-finite values are refused', () => {
  const tensors = modelTensors(DEFAULT_MODEL_CONFIG, pattern(2740, 1));
  refuses(encodeSafetensors(tensors.filter((t) => t.name !== 'film_mlp.2.bias'), {}), /missing tensor film_mlp\.2\.bias \(shape \[40\] for enc_channels=\[4, 8\] film_cond_dim=5/);
  const half = [...tensors, { name: 'optim.enc0.weight.exp_avg', dtype: 'F32' as const, shape: [4, 20, 3, 3], data: new Float32Array(720) }];
  refuses(encodeSafetensors(half, {}), /incomplete optimiser state: 1 of 28 optim\.\* tensors, optim\.enc0\.weight\.exp_avg_sq is missing$/);
  const nan = tensors.map((t) => (t.name === 'dec0.bias' ? { ...t, data: new Float32Array([1, NaN, Infinity, 2]) } : t));
  refuses(encodeSafetensors(nan, {}), /tensor dec0\.bias holds 2 non-finite values \(NaN or ±Inf\)$/);
});

test('malformed config or counters are refused', () => {
  const tensors = modelTensors(DEFAULT_MODEL_CONFIG, pattern(2740, 1));
  const with_ = (meta: Record<string, string>) => encodeSafetensors(tensors, meta);
  refuses(with_({ config: '{enc_channels' }), /config metadata is not JSON/);
  refuses(with_({ config: '[4, 8]' }), /config metadata is not a JSON object/);
  refuses(with_({ config: '{"enc_channels":[4]}' }), /enc_channels must be two integers in 1\.\.64, got \[4\]$/);
  refuses(with_({ config: '{"enc_channels":[4,0]}' }), /enc_channels must be two integers in 1\.\.64/);
  refuses(with_({ config: '{"film_cond_dim":2.5}' }), /film_cond_dim must be an integer in 1\.\.64, got 2\.5$/);
  refuses(with_({ config: '{"input_mode":"rgb"}' }), /input_mode must be simple or full, got "rgb"$/);
  refuses(with_({ epoch: 'ten' }), /epoch metadata must be a non-negative integer, got "ten"$/);
  refuses(with_({ step: '-1' }), /step metadata must be a non-negative integer/);
  refuses(with_({ epoch: '1.5' }), /epoch metadata must be a non-negative integer/);
  refuses(with_({ loss: '' }), /loss metadata is not a number: ""$/);
  refuses(with_({ loss: '0x10' }), /loss metadata is not a number/);
});

test('unknown tensors are ignored', () => {
  const params = pattern(2740, 1);
  const tensors = modelTensors(DEFAULT_MODEL_CONFIG, params);
  tensors.push({ name: 'ema.enc0.weight', dtype: 'F32', shape: [2], data: new Float32Array(2) });
  const ckpt = decodeCheckpoint(encodeSafetensors(tensors, {}), FILE);
  assert.deepEqual(bits(ckpt.params), bits(params));
  assert.equal(ckpt.optim, undefined);
});

test('model tensors stored as F64 (e.g. converted from a float64 state dict) are read as f32', () => {
  // Our writer only writes F32, so this file is laid out by hand.
  const table = buildParamTable(DEFAULT_MODEL_CONFIG);
  const values = Array.from({ length: table.total }, (_, i) => 0.1 * (i - 1000));
  const header: Record<string, unknown> = {};
  for (const p of table.params) header[p.name] = { dtype: 'F64', shape: p.shape, data_offsets: [p.offset * 8, (p.offset + p.size) * 8] };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const bytes = new Uint8Array(8 + json.length + table.total * 8);
  const dv = new DataView(bytes.buffer);
  dv.setBigUint64(0, BigInt(json.length), true);
  bytes.set(json, 8);
  values.forEach((v, i) => dv.setFloat64(8 + json.length + 8 * i, v, true));
  const ckpt = decodeCheckpoint(bytes, FILE);
  assert.deepEqual(Array.from(ckpt.params), Array.from(Float32Array.from(values)));
});

test('the checkpoint is not a safetensors file: named, one line', () => {
  refuses(new Uint8Array(0), /not a safetensors file: too short/);
  refuses(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]), /PNG image/);
  const whole = encodeCheckpoint(makeCheckpoint());
  refuses(whole.subarray(0, whole.length - 100), /truncated safetensors file/);
});

// ---- on disk -----------------------------------------------------------------------------

test('saveCheckpoint / loadCheckpoint: atomic, overwrites, no staging files left', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'sub', 'checkpoint_epoch_1.safetensors');
  const a = makeCheckpoint();
  await saveCheckpoint(path, a);
  assertSame(await loadCheckpoint(path), a);
  const b = { ...makeCheckpoint(DEFAULT_MODEL_CONFIG, false), epoch: 2 };
  await saveCheckpoint(path, b);
  assertSame(await loadCheckpoint(path), b);
  assert.deepEqual(readdirSync(join(dir, 'sub')), ['checkpoint_epoch_1.safetensors']);
});

test('loadCheckpoint: missing file, directory, bad bytes each name the path', async (t) => {
  const dir = tempDir(t);
  const check = async (path: string, pattern: RegExp) => {
    await assert.rejects(loadCheckpoint(path), (e: unknown) => {
      assert.ok(e instanceof CnnV3Error);
      assert.ok(e.message.startsWith(`${path}: `), e.message);
      assert.match(e.message, pattern);
      return true;
    });
  };
  await check(join(dir, 'nope.safetensors'), /: checkpoint not found$/);
  await check(join(dir, 'nope', 'deeper.safetensors'), /: checkpoint not found$/);
  mkdirSync(join(dir, 'ckdir'));
  await check(join(dir, 'ckdir'), /is a directory, not a checkpoint file/);
  writeFileSync(join(dir, 'empty.safetensors'), '');
  await check(join(dir, 'empty.safetensors'), /too short/);
});

test('Python sees the checkpoint as a state dict once optim.* is filtered out', (t) => {
  if (!requireTool(t, SYSTEM_PYTHON, 'python3-numpy')) return;
  const dir = tempDir(t);
  const path = join(dir, 'ckpt.safetensors');
  const ckpt = makeCheckpoint();
  writeFileSync(path, encodeCheckpoint(ckpt));
  const py = pythonReadSafetensors(path);
  const table = buildParamTable(DEFAULT_MODEL_CONFIG);
  const stateDict = py.order.filter((k) => !k.startsWith('optim.'));
  assert.deepEqual(stateDict, table.params.map((p) => p.name));
  for (const p of table.params) {
    assert.deepEqual(py.tensors[p.name]!.shape, p.shape);
    assert.equal(py.tensors[p.name]!.f32hex, f32hex(ckpt.params.subarray(p.offset, p.offset + p.size)));
  }
  assert.deepEqual(JSON.parse(py.metadata['config']!), { enc_channels: [4, 8], film_cond_dim: 5, input_mode: 'simple' });
  assert.equal(readFileSync(path).length, Number(readFileSync(path).readBigUint64LE(0)) + 8 + 3 * 2740 * 4);
});
