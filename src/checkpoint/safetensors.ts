/**
 * The safetensors container (https://github.com/huggingface/safetensors), browser-safe:
 *
 *   u64 LE  N            length of the header
 *   N bytes JSON header  {"__metadata__": {str: str}, "<name>": {"dtype", "shape", "data_offsets": [begin, end]}}
 *   data                 the tensors' bytes; offsets are relative to the start of this section
 *
 * The writer pads the header with spaces so the data starts 8-byte aligned (as the reference
 * implementation does) and lays the tensors out contiguously in the order given. The reader
 * accepts any valid file with float tensors (F32, F16, BF16, F64, all returned as Float32Array)
 * and checks every field, since a checkpoint is user input: each problem becomes one
 * `<file>: <problem>` error.
 */
import { CnnV3Error, fileError } from '../errors.js';
import { fromHalfBits } from '../util/half.js';

/** The dtypes the reader converts to float32. The writer only writes F32. */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'F64';

const ITEM_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/** Every dtype of the format, so that a valid-but-unsupported one gets a precise message. */
const KNOWN_DTYPES = new Set(['BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'I32', 'U32', 'I64', 'U64', 'F16', 'BF16', 'F32', 'F64']);

export interface SafetensorsTensorIn {
  name: string;
  dtype: 'F32';
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsTensor {
  /** The dtype stored in the file; `data` holds the values converted to float32. */
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  /** In file order (the header's key order). */
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

export interface SafetensorsLimits {
  /** Largest header accepted, in bytes. The reference implementation's limit: 100 MB. */
  maxHeaderBytes: number;
}

export const SAFETENSORS_LIMITS: SafetensorsLimits = { maxHeaderBytes: 100_000_000 };

const METADATA_KEY = '__metadata__';

const shapeText = (shape: readonly unknown[]) => `[${shape.join(', ')}]`;

/** Element count of a shape; undefined when the shape is not an array of non-negative integers. */
function elementCount(shape: unknown): number | undefined {
  if (!Array.isArray(shape)) return undefined;
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) return undefined;
    n *= d;
  }
  return n;
}

export function encodeSafetensors(tensors: readonly SafetensorsTensorIn[], metadata: Record<string, string> = {}): Uint8Array {
  // Inputs come from this program, not from a user: a bad one is a bug, so a plain Error.
  const entries: string[] = [];
  const metaEntries = Object.entries(metadata);
  for (const [k, v] of metaEntries) {
    if (typeof v !== 'string') throw new Error(`safetensors metadata ${JSON.stringify(k)} must be a string`);
  }
  // Built by hand rather than with JSON.stringify of an object, which would move integer-like
  // tensor names ("0", "1") to the front and break "in the given order".
  if (metaEntries.length > 0) {
    entries.push(`${JSON.stringify(METADATA_KEY)}:{${metaEntries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
  }
  const seen = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    if (t.name === METADATA_KEY || t.name === '' || seen.has(t.name)) throw new Error(`safetensors: bad or duplicate tensor name ${JSON.stringify(t.name)}`);
    seen.add(t.name);
    if (t.dtype !== 'F32') throw new Error(`safetensors: tensor ${t.name}: only F32 is written`);
    const n = elementCount(t.shape);
    if (n === undefined || n !== t.data.length) {
      throw new Error(`safetensors: tensor ${t.name}: shape ${shapeText(t.shape)} does not hold ${t.data.length} values`);
    }
    const end = offset + n * 4;
    entries.push(`${JSON.stringify(t.name)}:{"dtype":"F32","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${entries.join(',')}}`);
  // Pad with spaces (valid JSON whitespace) so that 8 + N, the data start, is a multiple of 8.
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let p = 8 + headerLen;
  for (const t of tensors) {
    // DataView, not a Float32Array copy: the file is little-endian whatever the host is.
    for (let i = 0; i < t.data.length; i++, p += 4) dv.setFloat32(p, t.data[i]!, true);
  }
  return out;
}

/** What a file that is not safetensors looks like, for a message better than "bad header". */
function sniff(bytes: Uint8Array): string {
  const starts = (...sig: number[]) => sig.every((b, i) => bytes[i] === b);
  if (starts(0x89, 0x50, 0x4e, 0x47)) return ' (it is a PNG image)';
  if (starts(0xff, 0xd8, 0xff)) return ' (it is a JPEG image)';
  // torch.save writes a zip archive: the playbook's .pth checkpoints.
  if (starts(0x50, 0x4b, 0x03, 0x04)) return ' (it is a zip archive, e.g. a PyTorch .pth checkpoint; convert it to .safetensors)';
  if (starts(0x76, 0x2f, 0x31, 0x01)) return ' (it is an OpenEXR image)';
  return '';
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface Entry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

function parseEntry(name: string, raw: unknown, fail: (p: string) => Error): Entry {
  if (!isPlainObject(raw)) throw fail(`tensor ${name}: header entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = raw;
  if (typeof dtype !== 'string') throw fail(`tensor ${name}: missing dtype`);
  if (!(dtype in ITEM_BYTES)) {
    const what = KNOWN_DTYPES.has(dtype) ? 'unsupported' : 'unknown';
    throw fail(`tensor ${name} has ${what} dtype ${JSON.stringify(dtype)} (expected F32, F16, BF16 or F64)`);
  }
  const count = elementCount(shape);
  if (count === undefined) throw fail(`tensor ${name}: shape must be an array of non-negative integers, got ${JSON.stringify(shape) ?? 'nothing'}`);
  const itemBytes = ITEM_BYTES[dtype as SafetensorsDtype];
  const dims = shape as number[];
  if (!Number.isSafeInteger(count * itemBytes)) throw fail(`tensor ${name}: shape ${shapeText(dims)} is too large`);
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0) ||
    offsets[0] > offsets[1]
  ) {
    throw fail(`tensor ${name}: data_offsets must be [begin, end] with 0 ≤ begin ≤ end, got ${JSON.stringify(offsets) ?? 'nothing'}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end - begin !== count * itemBytes) {
    throw fail(`tensor ${name}: shape ${shapeText(dims)} of ${dtype} needs ${count * itemBytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
  }
  return { name, dtype: dtype as SafetensorsDtype, shape: dims, begin, end };
}

function readValues(dv: DataView, start: number, e: Entry): Float32Array {
  const n = (e.end - e.begin) / ITEM_BYTES[e.dtype];
  const out = new Float32Array(n);
  const p = start + e.begin;
  switch (e.dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(p + 4 * i, true);
      break;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(p + 8 * i, true);
      break;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = fromHalfBits(dv.getUint16(p + 2 * i, true));
      break;
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const one = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < n; i++) {
        one.setUint32(0, dv.getUint16(p + 2 * i, true) << 16);
        out[i] = one.getFloat32(0);
      }
      break;
    }
  }
  return out;
}

/**
 * The first key that occurs twice in one object of `text`, which is valid JSON (JSON.parse
 * accepted it); `within` is the top-level key whose value holds that object. An iterative scan,
 * so any nesting depth JSON.parse allowed is fine.
 */
export function findDuplicateKey(text: string): { key: string; within?: string } | undefined {
  // One entry per open object (its keys so far) or array (null).
  const stack: Array<Set<string> | null> = [];
  let topKey: string | undefined;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */) {
      stack.push(new Set());
      i++;
    } else if (c === 0x5b /* [ */) {
      stack.push(null);
      i++;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      i++;
    } else if (c === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 0x5c /* \ */) {
          escaped = true;
          j += 2;
        } else if (d === 0x22) break;
        else j++;
      }
      const literal = text.slice(i, j + 1);
      i = j + 1;
      // A string is a key when the next non-blank character is a colon.
      let k = i;
      while (k < n && (text[k] === ' ' || text[k] === '\t' || text[k] === '\n' || text[k] === '\r')) k++;
      const keys = stack[stack.length - 1];
      if (text[k] === ':' && keys) {
        const key = escaped ? (JSON.parse(literal) as string) : literal.slice(1, -1);
        if (keys.has(key)) return stack.length === 1 || topKey === undefined ? { key } : { key, within: topKey };
        keys.add(key);
        if (stack.length === 1) topKey = key;
      }
    } else i++;
  }
  return undefined;
}

/**
 * Parses and checks a safetensors file. `name` (the file's path) starts every error message.
 * Checks: header length (non-zero, within the file and the limit), header JSON, each entry's
 * dtype, shape and offsets, that the tensors tile the data section exactly (no overlap, gap or
 * trailing bytes; a short data section means a truncated file), that no JSON key occurs twice
 * in one object, and that metadata values are strings. NaN and ±Inf values are returned as they
 * are (the container allows them); decodeCheckpoint refuses them in a model's tensors.
 * Only CnnV3Error leaves this function.
 */
export function decodeSafetensors(bytes: Uint8Array, name: string, limits: Partial<SafetensorsLimits> = {}): SafetensorsFile {
  try {
    return decode(bytes, name, limits);
  } catch (e) {
    // Anything but a CnnV3Error here is a case the checks missed: still one message naming the file.
    if (e instanceof CnnV3Error) throw e;
    throw fileError(name, `not a readable safetensors file (${e instanceof Error ? e.message : String(e)})`);
  }
}

function decode(bytes: Uint8Array, name: string, limits: Partial<SafetensorsLimits>): SafetensorsFile {
  const maxHeader = limits.maxHeaderBytes ?? SAFETENSORS_LIMITS.maxHeaderBytes;
  const fail = (problem: string) => fileError(name, problem);
  const notSafetensors = (problem: string) => fail(`not a safetensors file${sniff(bytes) || `: ${problem}`}`);

  if (bytes.length === 0) throw fail('not a safetensors file: too short (the file is empty)');
  if (bytes.length < 8) throw fail(`not a safetensors file: too short (${bytes.length} bytes; truncated?)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Read as BigInt: a u64 from a foreign file can exceed 2^53.
  const headerLen64 = dv.getBigUint64(0, true);
  if (headerLen64 === 0n) throw notSafetensors('header length is 0');
  if (headerLen64 > BigInt(maxHeader)) throw notSafetensors(`header length ${headerLen64} is over the ${maxHeader}-byte limit`);
  const headerLen = Number(headerLen64);
  const after = bytes.length - 8;
  if (headerLen > after) {
    // A plausible length that runs past the end is what cutting a real file short gives.
    const s = sniff(bytes);
    if (s) throw fail(`not a safetensors file${s}`);
    throw fail(`truncated safetensors file: the header declares ${headerLen} bytes but only ${after} follow`);
  }

  let header: unknown;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
    header = JSON.parse(text);
  } catch {
    throw notSafetensors('header is not JSON');
  }
  if (!isPlainObject(header)) throw notSafetensors(`header is not JSON (expected an object, got ${header === null ? 'null' : Array.isArray(header) ? 'an array' : typeof header})`);
  // JSON.parse keeps the last of two equal keys without a word: two entries for one tensor
  // would silently drop one of them (and leave a "gap" or wrong data), so refuse them.
  const dup = findDuplicateKey(text);
  if (dup) throw fail(`header has the key ${JSON.stringify(dup.key)} twice${dup.within === undefined ? '' : ` inside ${JSON.stringify(dup.within)}`}`);

  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [key, raw] of Object.entries(header)) {
    if (key === METADATA_KEY) {
      if (!isPlainObject(raw)) throw fail('__metadata__ is not an object of strings');
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') throw fail(`__metadata__ value of ${JSON.stringify(k)} is not a string (got ${JSON.stringify(v)})`);
      }
      // fromEntries defines own properties, so a key like "__proto__" stays a plain key.
      metadata = Object.fromEntries(Object.entries(raw as Record<string, string>));
      continue;
    }
    entries.push(parseEntry(key, raw, fail));
  }

  // The tensors must tile [0, dataLen) exactly, in some order.
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: Entry | undefined;
  for (const e of byOffset) {
    if (e.begin < pos) throw fail(`tensors ${prev!.name} and ${e.name} overlap (data_offsets [${prev!.begin}, ${prev!.end}] and [${e.begin}, ${e.end}])`);
    if (e.begin > pos) {
      throw fail(`${e.begin - pos} unused bytes before tensor ${e.name} (data_offsets start at ${e.begin}, the previous tensor ends at ${pos})`);
    }
    pos = e.end;
    prev = e;
  }
  if (pos > dataLen) throw fail(`truncated safetensors file: the header describes ${pos} bytes of tensor data but only ${dataLen} follow`);
  if (pos < dataLen) throw fail(`${dataLen - pos} trailing bytes after the tensor data (the header describes ${pos} bytes)`);

  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: readValues(dv, dataStart, e) });
  return { tensors, metadata };
}
