import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeSafetensors, encodeSafetensors, type SafetensorsTensorIn } from '../src/checkpoint/safetensors.js';
import { CnnV3Error } from '../src/errors.js';
import { requireTool, SYSTEM_PYTHON, tempDir } from './helpers.js';
import { f32hex, pythonReadSafetensors, pythonWriteSafetensors } from './safetensors-oracle.js';
import { craftSafetensors } from './checkpoint-fixtures.js';

const FILE = 'model.safetensors';

/** Bit patterns, so NaN and −0 compare exactly. */
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

function sampleTensors(): SafetensorsTensorIn[] {
  return [
    { name: 'b', dtype: 'F32', shape: [2, 3], data: new Float32Array([1, -0, NaN, Infinity, 1e-45, -3.5]) },
    // Integer-like names would jump to the front of a JS object: the writer must keep the order.
    { name: '10', dtype: 'F32', shape: [], data: new Float32Array([42]) },
    { name: 'empty', dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
    { name: '0', dtype: 'F32', shape: [3], data: new Float32Array([0.1, 0.2, 0.3]) },
  ];
}

const META = { epoch: '3', 'ünïcode': 'çødé "quoted"\n', empty: '' };

test('round trip: tensors in the given order, contiguous, 8-byte aligned data, metadata', () => {
  const tensors = sampleTensors();
  const bytes = encodeSafetensors(tensors, META);
  const dv = new DataView(bytes.buffer);
  const n = Number(dv.getBigUint64(0, true));
  assert.equal(n % 8, 0, 'data starts 8-byte aligned');
  const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  assert.match(headerText, /^\{.*\} *$/s, 'JSON object padded with spaces');
  const header = JSON.parse(headerText) as Record<string, { data_offsets: [number, number] }>;
  // Offsets contiguous in the given order.
  let pos = 0;
  for (const t of tensors) {
    assert.deepEqual(header[t.name]!.data_offsets, [pos, pos + t.data.length * 4], t.name);
    pos += t.data.length * 4;
  }
  assert.equal(bytes.length, 8 + n + pos);
  // Header order as given (checked on the text: JSON.parse would reorder "0" and "10").
  const at = tensors.map((t) => headerText.indexOf(`${JSON.stringify(t.name)}:{`));
  assert.deepEqual([...at].sort((a, b) => a - b), at);
  assert.ok(headerText.indexOf('"__metadata__"') < at[0]!);

  const back = decodeSafetensors(bytes, FILE);
  assert.deepEqual([...back.tensors.keys()].sort(), tensors.map((t) => t.name).sort());
  for (const t of tensors) {
    const got = back.tensors.get(t.name)!;
    assert.equal(got.dtype, 'F32');
    assert.deepEqual(got.shape, t.shape);
    assert.deepEqual(bits(got.data), bits(t.data), t.name);
  }
  assert.deepEqual(back.metadata, META);
});

test('no metadata and no tensors: still a valid file', () => {
  const bytes = encodeSafetensors([], {});
  assert.equal(new TextDecoder().decode(bytes.subarray(8)).trim(), '{}');
  const back = decodeSafetensors(bytes, FILE);
  assert.equal(back.tensors.size, 0);
  assert.deepEqual(back.metadata, {});
});

test('the writer refuses inconsistent input (a programming error, not a user one)', () => {
  const t = (shape: number[], n: number): SafetensorsTensorIn => ({ name: 'x', dtype: 'F32', shape, data: new Float32Array(n) });
  assert.throws(() => encodeSafetensors([t([2, 2], 3)]), /does not hold 3 values/);
  assert.throws(() => encodeSafetensors([t([2], 2), t([2], 2)]), /duplicate/);
  assert.throws(() => encodeSafetensors([{ ...t([1], 1), name: '__metadata__' }]), /bad or duplicate/);
  assert.throws(() => encodeSafetensors([], { k: 1 as unknown as string }), /must be a string/);
});

test('an independent Python reader sees the same tensors and metadata', (t) => {
  if (!requireTool(t, SYSTEM_PYTHON, 'python3-numpy')) return;
  const dir = tempDir(t);
  const path = join(dir, FILE);
  const tensors = sampleTensors();
  writeFileSync(path, encodeSafetensors(tensors, META));
  const py = pythonReadSafetensors(path);
  t.diagnostic(`python reader: ${py.reader}`);
  assert.deepEqual(py.order, tensors.map((x) => x.name));
  assert.deepEqual(py.metadata, META);
  for (const x of tensors) {
    const got = py.tensors[x.name]!;
    assert.equal(got.dtype, 'F32');
    assert.deepEqual(got.shape, x.shape);
    assert.equal(got.f32hex, f32hex(x.data), x.name);
  }
});

test('reads a file another writer made: F16, BF16, F64, no padding, data out of header order', (t) => {
  if (!requireTool(t, SYSTEM_PYTHON, 'python3-numpy')) return;
  const dir = tempDir(t);
  const path = join(dir, 'py.safetensors');
  const headerLen = pythonWriteSafetensors(path);
  assert.notEqual(headerLen % 8, 0, 'the fixture is meant to be unaligned');
  const back = decodeSafetensors(readFileSync(path), path);
  const py = pythonReadSafetensors(path);
  assert.deepEqual([...back.tensors.keys()], py.order);
  assert.deepEqual(back.metadata, { epoch: '7', note: 'written by python' });
  for (const [name, want] of Object.entries(py.tensors)) {
    const got = back.tensors.get(name)!;
    assert.equal(got.dtype, want.dtype, name);
    assert.deepEqual(got.shape, want.shape, name);
    assert.equal(f32hex(got.data), want.f32hex, name);
  }
  // The values themselves (exactly representable in every dtype except 1e-3 in F16 / BF16).
  const w64 = back.tensors.get('w64')!.data;
  assert.deepEqual(Array.from(w64), Array.from(new Float32Array([1.5, -0, 65504, 2 ** -24, -3.25, 1e-3])));
  assert.equal(back.tensors.get('wbf')!.data[0], 1.5);
  assert.equal(back.tensors.get('w16')!.data[3], 2 ** -24);
});

// ---- malformed files ---------------------------------------------------------------------


const f32 = (shape: number[], begin: number, end: number) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });

function refuses(bytes: Uint8Array, pattern: RegExp, limits?: { maxHeaderBytes: number }): void {
  assert.throws(
    () => decodeSafetensors(bytes, FILE, limits),
    (e: unknown) => {
      assert.ok(e instanceof CnnV3Error, `a CnnV3Error, got ${String(e)}`);
      assert.ok(e.message.startsWith(`${FILE}: `), `names the file: ${e.message}`);
      assert.ok(!e.message.includes('\n'), 'one line');
      assert.match(e.message, pattern);
      return true;
    },
  );
}

test('too short, empty, zero or huge header length', () => {
  refuses(new Uint8Array(0), /^model\.safetensors: not a safetensors file: too short \(the file is empty\)$/);
  refuses(new Uint8Array(5), /not a safetensors file: too short \(5 bytes; truncated\?\)$/);
  refuses(craftSafetensors('', 0, 0n), /not a safetensors file: header length is 0$/);
  // A u64 beyond 2^53 must not wrap or lose precision.
  refuses(craftSafetensors('{}', 0, 2n ** 63n + 5n), /header length 9223372036854775813 is over the 100000000-byte limit/);
  refuses(craftSafetensors('{}', 0, 100_000_001n), /header length 100000001 is over the 100000000-byte limit/);
  // The limit can be lowered by the caller.
  refuses(craftSafetensors('{"__metadata__":{"a":"bbbbbbbbbbbbbb"}}'), /is over the 16-byte limit/, { maxHeaderBytes: 16 });
});

test('a header length past the end of the file: truncated', () => {
  refuses(craftSafetensors('{}', 0, 100n), /^model\.safetensors: truncated safetensors file: the header declares 100 bytes but only 2 follow$/);
});

test('header that is not JSON, not UTF-8, or not an object', () => {
  refuses(craftSafetensors('{nope'), /^model\.safetensors: not a safetensors file: header is not JSON$/);
  const bad = craftSafetensors('{"a"}');
  bad[9] = 0xff; // invalid UTF-8 inside the header
  refuses(bad, /header is not JSON$/);
  refuses(craftSafetensors('[1, 2]'), /not a safetensors file: header is not JSON \(expected an object, got an array\)$/);
  refuses(craftSafetensors('null'), /header is not JSON \(expected an object, got null\)$/);
  refuses(craftSafetensors('42'), /header is not JSON \(expected an object, got number\)$/);
});

test('bad dtype, shape or data_offsets', () => {
  refuses(craftSafetensors({ x: { dtype: 'Q9', shape: [1], data_offsets: [0, 4] } }, 4), /tensor x has unknown dtype "Q9" \(expected F32, F16, BF16 or F64\)$/);
  refuses(craftSafetensors({ x: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, 8), /tensor x has unsupported dtype "I64"/);
  refuses(craftSafetensors({ x: { shape: [1], data_offsets: [0, 4] } }, 4), /tensor x: missing dtype$/);
  refuses(craftSafetensors({ x: 5 }, 0), /tensor x: header entry is not an object$/);
  for (const shape of [[-1], [1.5], ['2'], 3, null, [2 ** 60]]) {
    refuses(craftSafetensors({ x: { dtype: 'F32', shape, data_offsets: [0, 4] } }, 4), /tensor x: shape must be an array of non-negative integers, got /);
  }
  refuses(craftSafetensors({ x: { dtype: 'F32', data_offsets: [0, 4] } }, 4), /shape must be an array of non-negative integers, got nothing$/);
  // Each dimension fits, the product does not.
  refuses(craftSafetensors({ x: f32([2 ** 30, 2 ** 30, 2 ** 30], 0, 4) }, 4), /tensor x: shape \[1073741824, 1073741824, 1073741824\] is too large$/);
  refuses(craftSafetensors({ x: f32([2, 3], 0, 20) }, 20), /tensor x: shape \[2, 3\] of F32 needs 24 bytes but data_offsets \[0, 20\] span 20$/);
  for (const offsets of [[8, 4], [0], 'x', [-1, 3], [0, 1.5], null]) {
    refuses(craftSafetensors({ x: { dtype: 'F32', shape: [1], data_offsets: offsets } }, 4), /tensor x: data_offsets must be \[begin, end\] with 0 ≤ begin ≤ end/);
  }
});

test('overlapping, gapped, out-of-range offsets, trailing bytes', () => {
  refuses(craftSafetensors({ a: f32([2], 0, 8), b: f32([2], 4, 12) }, 12), /tensors a and b overlap \(data_offsets \[0, 8\] and \[4, 12\]\)$/);
  refuses(craftSafetensors({ a: f32([1], 0, 4), b: f32([1], 8, 12) }, 12), /4 unused bytes before tensor b/);
  refuses(craftSafetensors({ a: f32([1], 4, 8) }, 8), /4 unused bytes before tensor a \(data_offsets start at 4/);
  refuses(craftSafetensors({ a: f32([1], 0, 4), b: f32([1], 4, 8) }, 6), /truncated safetensors file: the header describes 8 bytes of tensor data but only 6 follow$/);
  refuses(craftSafetensors({ a: f32([1], 0, 4) }, 7), /3 trailing bytes after the tensor data \(the header describes 4 bytes\)$/);
  refuses(craftSafetensors({}, 1), /1 trailing bytes after the tensor data/);
});

test('metadata values must be strings', () => {
  refuses(craftSafetensors({ __metadata__: { epoch: 3 } }), /__metadata__ value of "epoch" is not a string \(got 3\)$/);
  refuses(craftSafetensors({ __metadata__: ['a'] }), /__metadata__ is not an object of strings$/);
  // "__proto__" is an ordinary key, not a prototype.
  const back = decodeSafetensors(craftSafetensors('{"__metadata__":{"__proto__":"x"}}'), FILE);
  assert.equal(Object.getOwnPropertyDescriptor(back.metadata, '__proto__')?.value, 'x');
  assert.equal(Object.getPrototypeOf(back.metadata), Object.prototype);
});

test('other file types are named', () => {
  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  refuses(png, /^model\.safetensors: not a safetensors file \(it is a PNG image\)$/);
  const zip = new Uint8Array([0x50, 0x4b, 0x03, 0x04, 20, 0, 0, 0, 8, 0, 1, 2, 3, 4, 5, 6]);
  refuses(zip, /not a safetensors file \(it is a zip archive, e\.g\. a PyTorch \.pth checkpoint/);
  refuses(new TextEncoder().encode('hello, this is a text file\n'), /not a safetensors file: header length \d+ is over the 100000000-byte limit/);
});

test('a file cut short at any byte says it is truncated', () => {
  const whole = encodeSafetensors(sampleTensors(), META);
  for (let cut = 1; cut < whole.length; cut++) refuses(whole.subarray(0, cut), /truncated/);
  // And one extra byte is trailing data, not silently ignored.
  const longer = new Uint8Array(whole.length + 1);
  longer.set(whole);
  refuses(longer, /1 trailing bytes/);
});
