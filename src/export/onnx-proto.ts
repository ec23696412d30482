/**
 * A hand-written encoder for the part of ONNX's protobuf schema that an inference graph needs
 * (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto), browser-safe.
 * Field numbers are those of onnx/onnx.proto (proto2); each is written next to its field below.
 *
 * Protobuf wire format in brief: a message is a sequence of fields, each a key
 * `varint(field << 3 | wire type)` followed by its value: wire type 0 a varint (int64 in two's
 * complement, so a negative value takes 10 bytes), 5 four little-endian bytes (float), 2 a
 * varint length and that many bytes (strings, bytes, nested messages). Repeated scalars of
 * proto2 are written unpacked (one key per value), which every reader accepts.
 *
 * `encodeOnnxModel` checks the graph first (`checkOnnxGraph`): every value is defined once and
 * before it is read, every initializer holds exactly as many values as its dims say, every
 * graph output is produced. A mistake in a graph builder is an Error here, not a file that a
 * runtime refuses later with a less helpful message.
 */

// ---------------------------------------------------------------- the wire format

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

const utf8 = new TextEncoder();

/** One message being written: fields are appended in order, `finish` joins them. */
class ProtoWriter {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  private push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.size += bytes.length;
  }

  private varint(value: bigint): void {
    let v = BigInt.asUintN(64, value);
    const out: number[] = [];
    do {
      const low = Number(v & 0x7fn);
      v >>= 7n;
      out.push(v === 0n ? low : low | 0x80);
    } while (v !== 0n);
    this.push(Uint8Array.from(out));
  }

  private key(field: number, wire: number): void {
    this.varint(BigInt((field << 3) | wire));
  }

  /** int64 / int32 / enum. */
  int(field: number, value: number): this {
    if (!Number.isSafeInteger(value)) throw new Error(`protobuf: field ${field}: ${value} is not an integer`);
    this.key(field, WIRE_VARINT);
    this.varint(BigInt(value));
    return this;
  }

  float(field: number, value: number): this {
    this.key(field, WIRE_I32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.key(field, WIRE_LEN);
    this.varint(BigInt(value.length));
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  message(field: number, value: ProtoWriter): this {
    return this.bytes(field, value.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

// ---------------------------------------------------------------- the ONNX objects

/** TensorProto.DataType values this encoder writes. */
const DATA_TYPE = { float32: 1, int64: 7 } as const;
export type OnnxElemType = keyof typeof DATA_TYPE;

/** A constant tensor (an initializer): values in row-major order, written as little-endian raw_data. */
export interface OnnxTensor {
  name: string;
  type: OnnxElemType;
  dims: number[];
  values: ArrayLike<number>;
}

/** An attribute value (AttributeProto.AttributeType: FLOAT 1, INT 2, STRING 3, INTS 7). */
export type OnnxAttribute = { float: number } | { int: number } | { string: string } | { ints: readonly number[] };

export interface OnnxNode {
  opType: string;
  /** Unique within the graph. */
  name: string;
  /** Value names; '' skips an optional input. */
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, OnnxAttribute>;
}

/** A graph input or output: a float tensor whose dims are numbers or symbolic names ("N"). */
export interface OnnxValueInfo {
  name: string;
  type: OnnxElemType;
  shape: Array<number | string>;
  doc?: string;
}

export interface OnnxGraph {
  name: string;
  doc?: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModel {
  irVersion: number;
  /** Version of the default ('ai.onnx') operator set. */
  opset: number;
  producerName: string;
  producerVersion?: string;
  doc?: string;
  /** ModelProto.metadata_props. */
  metadata?: Record<string, string>;
  graph: OnnxGraph;
}

const elementCount = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/** The checks `encodeOnnxModel` makes before writing anything; throws an Error naming the problem. */
export function checkOnnxGraph(graph: OnnxGraph): void {
  const defined = new Set<string>();
  const define = (name: string, what: string) => {
    if (name === '') throw new Error(`ONNX graph: ${what} has an empty name`);
    if (defined.has(name)) throw new Error(`ONNX graph: value ${JSON.stringify(name)} is defined twice (${what})`);
    defined.add(name);
  };
  for (const v of graph.inputs) define(v.name, 'a graph input');
  for (const t of graph.initializers) {
    if (!t.dims.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`ONNX graph: initializer ${t.name} has dims [${t.dims.join(', ')}]`);
    const n = elementCount(t.dims);
    if (t.values.length !== n) throw new Error(`ONNX graph: initializer ${t.name} has ${t.values.length} values, its dims [${t.dims.join(', ')}] need ${n}`);
    if (t.type === 'int64' && !Array.from(t.values).every(Number.isSafeInteger)) throw new Error(`ONNX graph: initializer ${t.name} holds a non-integer`);
    define(t.name, 'an initializer');
  }
  const nodeNames = new Set<string>();
  for (const node of graph.nodes) {
    if (nodeNames.has(node.name)) throw new Error(`ONNX graph: node name ${JSON.stringify(node.name)} used twice`);
    nodeNames.add(node.name);
    for (const i of node.inputs) {
      if (i !== '' && !defined.has(i)) throw new Error(`ONNX graph: node ${node.name} (${node.opType}) reads ${JSON.stringify(i)} before anything defines it`);
    }
    for (const o of node.outputs) define(o, `output of node ${node.name}`);
  }
  for (const v of graph.outputs) {
    if (!defined.has(v.name)) throw new Error(`ONNX graph: output ${JSON.stringify(v.name)} is never produced`);
  }
}

function tensorProto(t: OnnxTensor): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.int(1, d); // dims = 1 (repeated int64)
  w.int(2, DATA_TYPE[t.type]); // data_type = 2
  w.string(8, t.name); // name = 8
  const n = t.values.length;
  const raw = new Uint8Array(n * (t.type === 'float32' ? 4 : 8));
  const dv = new DataView(raw.buffer);
  for (let i = 0; i < n; i++) {
    if (t.type === 'float32') dv.setFloat32(4 * i, t.values[i]!, true);
    else dv.setBigInt64(8 * i, BigInt(t.values[i]!), true);
  }
  return w.bytes(9, raw); // raw_data = 9 (little-endian)
}

function attributeProto(name: string, a: OnnxAttribute): ProtoWriter {
  const w = new ProtoWriter().string(1, name); // name = 1
  // The value field, then type = 20 (AttributeType).
  if ('float' in a) return w.float(2, a.float).int(20, 1); // f = 2, FLOAT
  if ('int' in a) return w.int(3, a.int).int(20, 2); // i = 3, INT
  if ('string' in a) return w.string(4, a.string).int(20, 3); // s = 4, STRING
  for (const v of a.ints) w.int(8, v); // ints = 8
  return w.int(20, 7); // INTS
}

function nodeProto(n: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i); // input = 1
  for (const o of n.outputs) w.string(2, o); // output = 2
  w.string(3, n.name); // name = 3
  w.string(4, n.opType); // op_type = 4
  for (const [k, a] of Object.entries(n.attributes ?? {})) w.message(5, attributeProto(k, a)); // attribute = 5
  return w;
}

function valueInfoProto(v: OnnxValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) {
    // TensorShapeProto.dim = 1; Dimension: dim_value = 1 | dim_param = 2
    shape.message(1, typeof d === 'number' ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d));
  }
  const tensorType = new ProtoWriter().int(1, DATA_TYPE[v.type]).message(2, shape); // TypeProto.Tensor: elem_type = 1, shape = 2
  const w = new ProtoWriter().string(1, v.name); // name = 1
  w.message(2, new ProtoWriter().message(1, tensorType)); // type = 2; TypeProto.tensor_type = 1
  if (v.doc) w.string(3, v.doc); // doc_string = 3
  return w;
}

function graphProto(g: OnnxGraph): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, nodeProto(n)); // node = 1
  w.string(2, g.name); // name = 2
  for (const t of g.initializers) w.message(5, tensorProto(t)); // initializer = 5
  if (g.doc) w.string(10, g.doc); // doc_string = 10
  for (const v of g.inputs) w.message(11, valueInfoProto(v)); // input = 11
  for (const v of g.outputs) w.message(12, valueInfoProto(v)); // output = 12
  return w;
}

/** The bytes of a `.onnx` file (a serialised ModelProto). */
export function encodeOnnxModel(m: OnnxModel): Uint8Array {
  checkOnnxGraph(m.graph);
  const w = new ProtoWriter();
  w.int(1, m.irVersion); // ir_version = 1
  w.string(2, m.producerName); // producer_name = 2
  if (m.producerVersion) w.string(3, m.producerVersion); // producer_version = 3
  if (m.doc) w.string(6, m.doc); // doc_string = 6
  w.message(7, graphProto(m.graph)); // graph = 7
  w.message(8, new ProtoWriter().string(1, '').int(2, m.opset)); // opset_import = 8; OperatorSetIdProto: domain = 1, version = 2
  for (const [key, value] of Object.entries(m.metadata ?? {})) {
    w.message(14, new ProtoWriter().string(1, key).string(2, value)); // metadata_props = 14; StringStringEntryProto: key = 1, value = 2
  }
  return w.finish();
}
