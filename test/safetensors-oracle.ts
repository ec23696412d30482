/**
 * An independent reader and writer of safetensors files, in Python: the `safetensors` package
 * when the system Python has it, else a hand-written parser/writer on json + struct + numpy
 * that follows the format's description, not our TypeScript. Debian 12 has no
 * python3-safetensors, so CI uses the hand-written one (numpy comes with python3-skimage).
 */
import { execFileSync } from 'node:child_process';
import { SYSTEM_PYTHON } from './helpers.js';

export interface OracleTensor {
  dtype: string;
  shape: number[];
  /** The values as little-endian float32 bytes, hex (keeps NaN payloads and −0 exact). */
  f32hex: string;
}

export interface OracleFile {
  reader: 'safetensors' | 'hand';
  headerLen: number;
  /** Tensor names in header order. */
  order: string[];
  metadata: Record<string, string>;
  tensors: Record<string, OracleTensor>;
}

const READ = String.raw`
import sys, json, struct
import numpy as np
path = sys.argv[1]
raw = open(path, 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
header = json.loads(raw[8:8 + n].decode('utf-8'))
order = [k for k in header if k != '__metadata__']
def as_f32(a): return np.ascontiguousarray(a, dtype='<f4').tobytes().hex()
def by_hand(h, data):
    b, e = h['data_offsets']
    if h['dtype'] == 'BF16':  # numpy has no bfloat16: it is the top half of a float32
        a = (np.frombuffer(data[b:e], dtype='<u2').astype('<u4') << 16).view('<f4')
    else:
        a = np.frombuffer(data[b:e], dtype={'F32': '<f4', 'F16': '<f2', 'F64': '<f8'}[h['dtype']])
    return a.reshape(h['shape'])
try:
    from safetensors import safe_open
    reader = 'safetensors'
    out = {}
    with safe_open(path, framework='numpy') as f:
        meta = f.metadata() or {}
        for k in f.keys():
            # numpy cannot hold BF16, so the package refuses it; read that one by hand.
            a = by_hand(header[k], raw[8 + n:]) if header[k]['dtype'] == 'BF16' else f.get_tensor(k)
            out[k] = {'dtype': header[k]['dtype'], 'shape': list(a.shape), 'f32hex': as_f32(a)}
except ImportError:
    reader = 'hand'
    meta = header.get('__metadata__', {})
    assert all(isinstance(v, str) for v in meta.values())
    data = raw[8 + n:]
    spans = sorted((header[k]['data_offsets'][0], header[k]['data_offsets'][1]) for k in order)
    pos = 0
    for b, e in spans:
        assert b == pos, 'tensors must tile the data section'
        pos = e
    assert pos == len(data), 'no trailing bytes'
    out = {}
    for k in order:
        a = by_hand(header[k], data)
        out[k] = {'dtype': header[k]['dtype'], 'shape': list(a.shape), 'f32hex': as_f32(a)}
print(json.dumps({'reader': reader, 'headerLen': n, 'order': order, 'metadata': meta, 'tensors': out}))
`;

/** Reads a safetensors file with Python. */
export function pythonReadSafetensors(path: string): OracleFile {
  return JSON.parse(execFileSync(SYSTEM_PYTHON, ['-c', READ, path], { maxBuffer: 1 << 26 }).toString()) as OracleFile;
}

const WRITE = String.raw`
import sys, json, struct
import numpy as np
path = sys.argv[1]
# Written by hand (not with the safetensors package) to exercise what other writers do:
# no padding after the JSON, tensors stored in an order different from the header's, and the
# dtypes other than F32.
f32 = np.array([1.5, -0.0, 65504.0, 2.0**-24, -3.25, 1e-3], dtype='<f4')
bf16 = (f32.view('<u4') >> 16).astype('<u2')  # truncation: exactly representable inputs
tensors = [
    ('w16', 'F16', [2, 3], f32.astype('<f2').tobytes()),
    ('w32', 'F32', [3, 2], f32.tobytes()),
    ('w64', 'F64', [6], f32.astype('<f8').tobytes()),
    ('wbf', 'BF16', [1, 6], bf16.tobytes()),
    ('empty', 'F32', [0, 5], b''),
]
data = b''
header = {'__metadata__': {'epoch': '7', 'note': 'written by python'}}
for name, dtype, shape, blob in reversed(tensors):
    data_offsets = [len(data), len(data) + len(blob)]
    data += blob
    header[name] = {'dtype': dtype, 'shape': shape, 'data_offsets': data_offsets}
# Header key order: the tensors as listed (data is in reverse order).
ordered = {'__metadata__': header['__metadata__']}
for name, _, _, _ in tensors: ordered[name] = header[name]
h = json.dumps(ordered, separators=(',', ':')).encode()
open(path, 'wb').write(struct.pack('<Q', len(h)) + h + data)
print(len(h))
`;

/** Writes a fixed file (see WRITE) with Python; returns its header length. */
export function pythonWriteSafetensors(path: string): number {
  return Number(execFileSync(SYSTEM_PYTHON, ['-c', WRITE, path]).toString().trim());
}

/** The bytes of a Float32Array as little-endian hex, for comparison with OracleTensor.f32hex. */
export function f32hex(a: Float32Array): string {
  const out = new Uint8Array(a.length * 4);
  const dv = new DataView(out.buffer);
  a.forEach((v, i) => dv.setFloat32(i * 4, v, true));
  return Buffer.from(out).toString('hex');
}
