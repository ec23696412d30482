// Issue 9 (hostile checkpoints and weight files): safetensors header, offsets, duplicate keys,
// dtypes, shapes, non-finite values; the .bin readers' size checks.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint/checkpoint.js';
import { decodeSafetensors, encodeSafetensors, findDuplicateKey } from '../src/checkpoint/safetensors.js';
import { CnnV3Error } from '../src/errors.js';
import { exportWeights, expectedFilmBytes, expectedWeightBytes } from '../src/export/export.js';
import { readFilmMlpBin, readWeightsBin } from '../src/export/read.js';
import { DEFAULT_MODEL_CONFIG } from '../src/model/config.js';
import { craftSafetensors, makeCheckpoint } from './checkpoint-fixtures.js';
import { REPO, runCli, tempDir } from './helpers.js';
import { sampleFiles, writeSample } from './sample-fixtures.js';

const FILE = 'model.safetensors';


function refuses(run: () => unknown, file: string, pattern: RegExp): void {
  assert.throws(run, (e: unknown) => {
    assert.ok(e instanceof CnnV3Error, `a CnnV3Error, got ${String(e)}`);
    assert.ok(e.message.startsWith(`${file}: `), `names the file: ${e.message}`);
    assert.ok(!e.message.includes('\n'), 'one line');
    assert.match(e.message, pattern);
    return true;
  });
}
const refusesST = (bytes: Uint8Array, pattern: RegExp) => refuses(() => decodeSafetensors(bytes, FILE), FILE, pattern);

test('header length: 2^64 − 1, just over 100 MB, past the end, 0 — all refused before allocating', () => {
  refusesST(craftSafetensors('{}', 0, 2n ** 64n - 1n), /header length 18446744073709551615 is over the 100000000-byte limit/);
  refusesST(craftSafetensors('{}', 0, 100_000_001n), /header length 100000001 is over the 100000000-byte limit/);
  refusesST(craftSafetensors('{}', 0, 100_000_000n), /truncated safetensors file: the header declares 100000000 bytes but only 2 follow/);
  refusesST(craftSafetensors('{}', 0, 3n), /truncated safetensors file: the header declares 3 bytes but only 2 follow/);
  refusesST(craftSafetensors('', 0, 0n), /header length is 0/);
});

test('duplicate JSON keys are refused (JSON.parse would keep the last one silently)', () => {
  const t = (b: number, e: number) => `{"dtype":"F32","shape":[1],"data_offsets":[${b},${e}]}`;
  refusesST(craftSafetensors(`{"a":${t(0, 4)},"a":${t(0, 4)}}`, 4), /header has the key "a" twice$/);
  // Written differently, the same key: escapes are decoded before comparing.
  refusesST(craftSafetensors(`{"ab":${t(0, 4)},"a\\u0062":${t(4, 8)}}`, 8), /header has the key "ab" twice$/);
  refusesST(craftSafetensors(`{"__metadata__":{"k":"1","k":"2"}}`), /header has the key "k" twice inside "__metadata__"$/);
  refusesST(craftSafetensors(`{"x":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}`, 4), /the key "dtype" twice inside "x"$/);
  refusesST(craftSafetensors(`{"__metadata__":{},"__metadata__":{}}`), /the key "__metadata__" twice$/);
  // Equal keys in different objects, keys that look alike, strings in arrays, are all fine.
  const ok = craftSafetensors(`{"__metadata__":{"a":"\\"a\\":","b":"a"},"a":${t(0, 4)},"a ":{"dtype":"F32","shape":[],"data_offsets":[4,8]}}`, 8);
  assert.deepEqual([...decodeSafetensors(ok, FILE).tensors.keys()], ['a', 'a ']);
  assert.equal(findDuplicateKey('{"a":[{"a":1},{"a":2}],"b":["a","a"]}'), undefined);
  assert.deepEqual(findDuplicateKey('{"a":[{"b":1,"c":{"d":[]},"b":2}]}'), { key: 'b', within: 'a' });
  assert.deepEqual(findDuplicateKey(' { "\\\\" : 1 , "\\\\" : 2 } '), { key: '\\' });
  // Deep nesting is no problem for the iterative scan.
  assert.equal(findDuplicateKey(`{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`), undefined);
});

test('offsets: overlapping, gapped, out of range, trailing bytes; zero-size tensors', () => {
  const e = (shape: number[], b: number, en: number, dtype = 'F32') => ({ dtype, shape, data_offsets: [b, en] });
  const j = (o: unknown) => JSON.stringify(o);
  refusesST(craftSafetensors(j({ a: e([4], 0, 16), z: e([0], 8, 8) }), 16), /tensors a and z overlap/);
  refusesST(craftSafetensors(j({ a: e([2], 0, 8), b: e([2], 0, 8) }), 8), /tensors a and b overlap/);
  refusesST(craftSafetensors(j({ a: e([1], 0, 4), b: e([1], 6, 10) }), 10), /2 unused bytes before tensor b/);
  refusesST(craftSafetensors(j({ a: e([1], 2 ** 53 - 4, 2 ** 53) }), 4), /data_offsets must be|unused bytes/);
  refusesST(craftSafetensors(j({ a: e([1], 2 ** 53, 2 ** 53 + 4) }), 4), /data_offsets must be \[begin, end\]/);
  // A huge tensor whose offsets agree with its shape but not with the file: no allocation.
  refusesST(craftSafetensors(j({ a: e([2 ** 40], 0, 2 ** 42) }), 4), /truncated safetensors file: the header describes 4398046511104 bytes of tensor data but only 4 follow/);
  refusesST(craftSafetensors(j({ a: e([1], 0, 4) }), 5), /1 trailing bytes after the tensor data/);
  const zero = decodeSafetensors(craftSafetensors(j({ z: e([0, 3], 0, 0), a: e([1], 0, 4), y: e([5, 0], 4, 4) }), 4), FILE);
  assert.deepEqual([...zero.tensors.values()].map((t) => t.data.length), [0, 1, 0]);
});

test('unknown dtype, and shape products that overflow', () => {
  refusesST(craftSafetensors('{"x":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}', 16), /tensor x has unknown dtype "F128"/);
  refusesST(craftSafetensors('{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1), /tensor x has unsupported dtype "U8"/);
  refusesST(craftSafetensors('{"x":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}', 4), /unknown dtype "f32"/);
  refusesST(craftSafetensors('{"x":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}', 8), /shape \[4294967296, 4294967296\] is too large/);
  refusesST(craftSafetensors('{"x":{"dtype":"F32","shape":[1e300],"data_offsets":[0,4]}}', 4), /shape must be an array of non-negative integers/);
  refusesST(craftSafetensors('{"x":{"dtype":"F32","shape":[0,1e300],"data_offsets":[0,0]}}', 0), /shape must be an array of non-negative integers/);
  // 2^26·2^26 = 2^52 elements ·4 bytes overflows 2^53.
  refusesST(craftSafetensors('{"x":{"dtype":"F32","shape":[67108864,67108864],"data_offsets":[0,4]}}', 4), /is too large/);
});

test('NaN / ±Inf: the container keeps them, a checkpoint refuses them in model tensors', () => {
  const t = { name: 'w', dtype: 'F32' as const, shape: [3], data: new Float32Array([NaN, Infinity, -Infinity]) };
  const back = decodeSafetensors(encodeSafetensors([t]), FILE).tensors.get('w')!;
  assert.deepEqual(Array.from(back.data), [NaN, Infinity, -Infinity]);
  const ckpt = makeCheckpoint(DEFAULT_MODEL_CONFIG, true);
  const params = ckpt.params.slice();
  params[3] = NaN;
  refuses(() => decodeCheckpoint(encodeCheckpoint({ ...ckpt, params }), 'c.safetensors'), 'c.safetensors', /tensor enc0\.weight holds 1 non-finite value \(NaN or ±Inf\)$/);
  const expAvgSq = ckpt.optim!.expAvgSq.slice();
  expAvgSq[expAvgSq.length - 1] = Infinity;
  refuses(
    () => decodeCheckpoint(encodeCheckpoint({ ...ckpt, optim: { expAvg: ckpt.optim!.expAvg, expAvgSq } }), 'c.safetensors'),
    'c.safetensors',
    /tensor optim\.\S+\.exp_avg_sq holds 1 non-finite value/,
  );
});

test('.bin weight files one byte short or long, or empty, name the file and both sizes', () => {
  const config = DEFAULT_MODEL_CONFIG;
  const { weights, film } = exportWeights(config, makeCheckpoint(config, false).params);
  assert.equal(expectedWeightBytes(config), 3928);
  assert.equal(weights.length, 3928);
  assert.equal(readWeightsBin(config, weights, 'w.bin').length > 0, true);
  assert.equal(readFilmMlpBin(config, film, 'f.bin').b1.length > 0, true);
  const fb = expectedFilmBytes(config);
  for (const n of [0, 3927, 3929, 1 << 20]) {
    const bytes = new Uint8Array(n);
    bytes.set(weights.subarray(0, Math.min(n, weights.length)));
    refuses(() => readWeightsBin(config, bytes, 'cnn_v3_weights.bin'), 'cnn_v3_weights.bin', new RegExp(`^cnn_v3_weights\\.bin: expected 3928 bytes, got ${n}$`));
  }
  for (const n of [0, fb - 1, fb + 1, fb - 4, fb + 4]) {
    refuses(() => readFilmMlpBin(config, new Uint8Array(n), 'cnn_v3_film_mlp.bin'), 'cnn_v3_film_mlp.bin', new RegExp(`^cnn_v3_film_mlp\\.bin: expected ${fb} bytes, got ${n}$`));
  }
  // As an ArrayBuffer and as a view into a larger buffer (offset, odd alignment) too.
  refuses(() => readWeightsBin(config, new ArrayBuffer(3927), 'w.bin'), 'w.bin', /expected 3928 bytes, got 3927$/);
  const big = new Uint8Array(3928 + 1);
  big.set(weights, 1);
  assert.deepEqual(readWeightsBin(config, big.subarray(1), 'w.bin'), readWeightsBin(config, weights, 'w.bin'));
  const filmNaN = film.slice();
  new DataView(filmNaN.buffer).setFloat32(0, NaN, true);
  refuses(() => readFilmMlpBin(config, filmNaN, 'f.bin'), 'f.bin', /holds NaN or infinite values/);
});

test('cnnv3 infer, parity and eval refuse .bin files one byte short or long, or empty: one line, exit 1, nothing written', async (t) => {
  const dir = tempDir(t);
  const weights = new Uint8Array(readFileSync(join(REPO, 'examples/weights/cnn_v3_weights.bin')));
  const film = new Uint8Array(readFileSync(join(REPO, 'examples/weights/cnn_v3_film_mlp.bin')));
  const [wb, fb] = [expectedWeightBytes(DEFAULT_MODEL_CONFIG), expectedFilmBytes(DEFAULT_MODEL_CONFIG)];
  assert.deepEqual([weights.length, film.length], [wb, fb]);
  const goodWeights = join(dir, 'good_weights.bin');
  const goodFilm = join(dir, 'good_film.bin');
  writeFileSync(goodWeights, weights);
  writeFileSync(goodFilm, film);
  const data = join(dir, 'ds');
  writeSample(join(data, 'sample_a'), sampleFiles({ width: 8, height: 8 }));
  const out = join(dir, 'out.png');
  const commands: Record<string, (w: string, f: string) => string[]> = {
    infer: (w, f) => ['infer', '--weights', w, '--film', f, '--sample', join(data, 'sample_a'), '--output', out],
    parity: (w, f) => ['parity', '--weights', w, '--film', f, '--size', '4x4'],
    eval: (w, f) => ['eval', '--weights', w, '--film', f, '--input', data],
  };
  const cut = (bytes: Uint8Array, n: number) => {
    const b = new Uint8Array(n);
    b.set(bytes.subarray(0, Math.min(n, bytes.length)));
    return b;
  };
  for (const [name, argv] of Object.entries(commands)) {
    for (const [which, bytes, expected] of [
      ['weights', weights, wb],
      ['film', film, fb],
    ] as const) {
      for (const n of [0, expected - 1, expected + 1]) {
        const bad = join(dir, `${name}_${which}_${n}.bin`);
        writeFileSync(bad, cut(bytes, n));
        const r = await runCli(which === 'weights' ? argv(bad, goodFilm) : argv(goodWeights, bad));
        assert.equal(r.code, 1, `${name} ${which} ${n}: ${r.err}`);
        assert.equal(r.err, `cnnv3: ${bad}: expected ${expected} bytes, got ${n}\n`, `${name} ${which} ${n}`);
        assert.equal(r.out, '', `${name} ${which} ${n}`);
      }
    }
  }
  assert.equal(existsSync(out), false);
  assert.ok(readdirSync(dir).every((f) => !f.startsWith('.')), 'no staging files');
});
