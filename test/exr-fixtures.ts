/**
 * Single-part OpenEXR files taken apart and put back together, so that a test can corrupt one
 * field of a file a real tool wrote (an attribute, an offset, a chunk's header or its data) and
 * keep everything else as the tool wrote it.
 */

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface ExrAttributeBytes {
  name: string;
  type: string;
  value: Uint8Array;
}

export interface ExrChunkBytes {
  /** The chunk header's coordinates: [y] for scan lines, [dx, dy, lx, ly] for tiles. */
  coords: number[];
  /** The packed pixel data (its length is the chunk's size field). */
  data: Uint8Array;
}

export interface ExrFileBytes {
  /** The version field (version 2 in the low byte, flags above). */
  versionField: number;
  attributes: ExrAttributeBytes[];
  /** In offset-table order. */
  chunks: ExrChunkBytes[];
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Where the offset table starts: just past the header's terminating NUL. */
export function tableStart(bytes: Uint8Array): number {
  let p = 8;
  const nul = () => {
    while (bytes[p] !== 0) p++;
    p++;
  };
  while (bytes[p] !== 0) {
    nul();
    nul();
    p += 4 + view(bytes).getInt32(p, true);
  }
  return p + 1;
}

/** The chunk offsets of a single-part file, in table order. */
export function offsetTable(bytes: Uint8Array, count: number): number[] {
  const p = tableStart(bytes);
  return Array.from({ length: count }, (_, i) => Number(view(bytes).getBigUint64(p + 8 * i, true)));
}

/** Where a single-part header keeps the value of an attribute. */
export function attributeValue(bytes: Uint8Array, name: string): number {
  let p = 8;
  while (bytes[p] !== 0) {
    const start = p;
    while (bytes[p] !== 0) p++;
    const attr = dec.decode(bytes.subarray(start, p));
    p++;
    while (bytes[p] !== 0) p++;
    p++;
    const size = view(bytes).getInt32(p, true);
    if (attr === name) return p + 4;
    p += 4 + size;
  }
  throw new Error(`no attribute ${name}`);
}

/** The file with one more attribute at the end of its header (offsets moved to match). */
export function withAttribute(bytes: Uint8Array, name: string, type: string, value: Uint8Array, chunks: number): Uint8Array {
  const offsets = offsetTable(bytes, chunks);
  const p = tableStart(bytes) - 1;
  const size = new Uint8Array(4);
  view(size).setInt32(0, value.length, true);
  const attr = new Uint8Array([...enc.encode(name), 0, ...enc.encode(type), 0, ...size, ...value]);
  const out = new Uint8Array(bytes.length + attr.length);
  out.set(bytes.subarray(0, p));
  out.set(attr, p);
  out.set(bytes.subarray(p), p + attr.length);
  const outView = view(out);
  offsets.forEach((o, i) => outView.setBigUint64(p + attr.length + 1 + 8 * i, BigInt(o + attr.length), true));
  return out;
}

/**
 * Takes a single-part file apart. The offset table is read up to the first chunk (a well-formed
 * file's chunks all follow the table), so its length needs no knowledge of the geometry.
 */
export function splitExr(bytes: Uint8Array): ExrFileBytes {
  const v = view(bytes);
  const versionField = v.getUint32(4, true);
  if ((versionField & 0x1000) !== 0) throw new Error('splitExr: multi-part files are not handled');
  const tiled = (versionField & 0x200) !== 0;
  const attributes: ExrAttributeBytes[] = [];
  let p = 8;
  const name = () => {
    const start = p;
    while (bytes[p] !== 0) p++;
    return dec.decode(bytes.subarray(start, p++));
  };
  while (bytes[p] !== 0) {
    const n = name();
    const type = name();
    const size = v.getInt32(p, true);
    attributes.push({ name: n, type, value: bytes.slice(p + 4, p + 4 + size) });
    p += 4 + size;
  }
  p++;
  const offsets: number[] = [];
  let first = bytes.length;
  while (p < first) {
    const o = Number(v.getBigUint64(p, true));
    offsets.push(o);
    first = Math.min(first, o);
    p += 8;
  }
  const chunks = offsets.map((o): ExrChunkBytes => {
    const n = tiled ? 4 : 1;
    const coords = Array.from({ length: n }, (_, i) => v.getInt32(o + 4 * i, true));
    const size = v.getInt32(o + 4 * n, true);
    const start = o + 4 * n + 4;
    return { coords, data: bytes.slice(start, start + size) };
  });
  return { versionField, attributes, chunks };
}

/** Puts a file back together: header, offset table, then the chunks in table order. */
export function joinExr(file: ExrFileBytes): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.from([0x76, 0x2f, 0x31, 0x01]), i32s(file.versionField)];
  for (const a of file.attributes) parts.push(attributeBytes(a));
  parts.push(Uint8Array.of(0));
  const headerLength = parts.reduce((s, b) => s + b.length, 0);
  const table = new Uint8Array(8 * file.chunks.length);
  parts.push(table);
  let offset = headerLength + table.length;
  file.chunks.forEach((c, i) => {
    view(table).setBigUint64(8 * i, BigInt(offset), true);
    const chunk = concat([i32s(...c.coords, c.data.length), c.data]);
    parts.push(chunk);
    offset += chunk.length;
  });
  return concat(parts);
}

/** One attribute as stored: name, NUL, type, NUL, size, value. */
export function attributeBytes(a: ExrAttributeBytes): Uint8Array {
  return concat([enc.encode(a.name), Uint8Array.of(0), enc.encode(a.type), Uint8Array.of(0), i32s(a.value.length), a.value]);
}

/** Little-endian 32-bit integers. */
export function i32s(...values: number[]): Uint8Array {
  const out = new Uint8Array(4 * values.length);
  values.forEach((x, i) => view(out).setInt32(4 * i, x, true));
  return out;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, b) => s + b.length, 0));
  let p = 0;
  for (const b of parts) {
    out.set(b, p);
    p += b.length;
  }
  return out;
}

export interface ChannelSpec {
  name: string;
  /** 0 UINT, 1 HALF, 2 FLOAT (or any other number, to test refusals). */
  pixelType: number;
  xSampling?: number;
  ySampling?: number;
}

/** A chlist attribute's value: each channel's name, NUL, type, pLinear + 3 reserved bytes, sampling; then a NUL. */
export function channelList(channels: ChannelSpec[]): Uint8Array {
  return concat([
    ...channels.map((c) =>
      concat([enc.encode(c.name), Uint8Array.of(0), i32s(c.pixelType, 0, c.xSampling ?? 1, c.ySampling ?? 1)]),
    ),
    Uint8Array.of(0),
  ]);
}

/** The value of the first attribute called `name`. */
export function attribute(file: ExrFileBytes, name: string): ExrAttributeBytes {
  const a = file.attributes.find((x) => x.name === name);
  if (!a) throw new Error(`no attribute ${name}`);
  return a;
}

/** A deep copy, for mutating one field while the original stays as written. */
export function cloneExr(file: ExrFileBytes): ExrFileBytes {
  return {
    versionField: file.versionField,
    attributes: file.attributes.map((a) => ({ ...a, value: a.value.slice() })),
    chunks: file.chunks.map((c) => ({ coords: [...c.coords], data: c.data.slice() })),
  };
}
