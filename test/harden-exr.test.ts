// Issue 9 item 2 (hostile OpenEXR files): each case is one field of a file oiiotool wrote,
// corrupted on its own. readExr must throw a CnnV3Error naming the file and the problem, quickly
// and without allocating what the file declares; `cnnv3 pack-blender` must print that one line,
// exit non-zero and leave nothing in its output directory.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test, type TestContext } from 'node:test';
import { zlibSync } from 'fflate';
import { CnnV3Error } from '../src/errors.js';
import { readExr } from '../src/exr/exr.js';
import {
  attribute,
  attributeBytes,
  attributeValue,
  channelList,
  cloneExr,
  concat,
  i32s,
  joinExr,
  splitExr,
  tableStart,
  type ExrFileBytes,
} from './exr-fixtures.js';
import { requireTool, runCli, tempDir } from './helpers.js';

const OIIOTOOL = '/usr/bin/oiiotool';

// 40 × 36: HALF R, G, B, A and a FLOAT depth, named as Blender names them so that the unmutated
// files pack. Bytes per line: 4 × 2 × 40 + 4 × 40.
const W = 40;
const H = 36;
const LINE_BYTES = W * (4 * 2 + 4);
const KINDS = ['none', 'rle', 'zips', 'zip', 'piz', 'tile-zip'] as const;
type Kind = (typeof KINDS)[number];

let fixtureDir: string | undefined;
let fixtures: Map<Kind, Uint8Array> | undefined;
after(() => {
  if (fixtureDir) rmSync(fixtureDir, { recursive: true, force: true });
});

/** The fixtures, written by one oiiotool run the first time a test needs them. */
function files(t: TestContext): Map<Kind, Uint8Array> | undefined {
  if (!requireTool(t, OIIOTOOL, 'openimageio-tools')) return undefined;
  if (fixtures) return fixtures;
  fixtureDir = mkdtempSync(join(tmpdir(), 'cnnv3-harden-exr-'));
  const corners = 'topleft=0,0,0,1:topright=1,0.5,0,1:bottomleft=0,1,0.25,0.5:bottomright=1,1,1,0';
  const names = ['R', 'G', 'B', 'A'].map((c) => `ViewLayer.Combined.${c}`);
  execFileSync(
    OIIOTOOL,
    [
      '--nosoftwareattrib',
      '--pattern', `fill:${corners}`, `${W}x${H}`, '4',
      '--pattern', 'fill:top=0.5:bottom=9', `${W}x${H}`, '1',
      '--chappend', '--chnames', [...names, 'ViewLayer.Depth.Z'].join(','),
      '-d', 'half', '-d', 'ViewLayer.Depth.Z=float',
      ...['none', 'rle', 'zips', 'zip', 'piz'].flatMap((c) => ['--compression', c, '-o', `${c}.exr`]),
      '--tile', '16', '16', '--compression', 'zip', '-o', 'tile-zip.exr',
    ],
    { cwd: fixtureDir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  fixtures = new Map(KINDS.map((k) => [k, new Uint8Array(readFileSync(join(fixtureDir!, `${k}.exr`)))]));
  return fixtures;
}

function parsed(t: TestContext, kind: Kind): ExrFileBytes | undefined {
  const bytes = files(t)?.get(kind);
  return bytes && splitExr(bytes);
}

/** The file with `change` applied to a copy of its parts. */
function mutated(file: ExrFileBytes, change: (f: ExrFileBytes) => void): Uint8Array {
  const copy = cloneExr(file);
  change(copy);
  return joinExr(copy);
}

function setBox(f: ExrFileBytes, name: string, box: [number, number, number, number]): void {
  attribute(f, name).value = i32s(...box);
}

/** The bytes with a little-endian 32- or 64-bit value written at `at`. */
function patched(bytes: Uint8Array, at: number, value: number | bigint, width: 4 | 8 = 4): Uint8Array {
  const out = bytes.slice();
  const v = new DataView(out.buffer);
  if (width === 4) v.setInt32(at, Number(value), true);
  else v.setBigInt64(at, BigInt(value), true);
  return out;
}

const entry = (bytes: Uint8Array, i: number) => tableStart(bytes) + 8 * i;
const chunkAt = (bytes: Uint8Array, i: number) => Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(entry(bytes, i), true));

// ---------------------------------------------------------------------------------------------
// PIZ: the Huffman table inside a chunk (bit-exact positions, to corrupt one code length)

/** Bit offset (from the chunk data's start) of the first non-zero code length in a PIZ chunk's table. */
function firstCodeLength(data: Uint8Array): number {
  const u16 = (p: number) => data[p]! | (data[p + 1]! << 8);
  const u32 = (p: number) => new DataView(data.buffer, data.byteOffset).getUint32(p, true);
  const [min, max] = [u16(0), u16(2)];
  const huf = 4 + (min <= max ? max - min + 1 : 0) + 4; // bitmap, then the Huffman length
  const [im, iM] = [u32(huf), u32(huf + 4)];
  let bit = (huf + 20) * 8;
  const bits = (n: number) => {
    let v = 0;
    for (let i = 0; i < n; i++, bit++) v = v * 2 + ((data[bit >> 3]! >> (7 - (bit & 7))) & 1);
    return v;
  };
  for (let sym = im; sym <= iM; sym++) {
    const at = bit;
    const l = bits(6);
    if (l === 63) sym += bits(8) + 6 - 1; // a long run of zero lengths
    else if (l >= 59) sym += l - 59 + 2 - 1; // a short run
    else if (l > 0) return at;
  }
  throw new Error('no code length in the table');
}

function setBits(data: Uint8Array, at: number, n: number, value: number): void {
  for (let i = 0; i < n; i++) {
    const bit = at + i;
    const mask = 1 << (7 - (bit & 7));
    if ((value >> (n - 1 - i)) & 1) data[bit >> 3]! |= mask;
    else data[bit >> 3]! &= ~mask;
  }
}

// ---------------------------------------------------------------------------------------------
// The cases

interface Case {
  name: string;
  /** The corrupted file, or undefined when the tools are missing (the test then skips). */
  make: (t: TestContext) => Uint8Array | undefined;
  /** The problem, after "bad.exr: ". */
  message: RegExp;
}

const zipLines = 16;
const CASES: Case[] = [
  // Windows
  {
    name: 'data window xMin > xMax',
    make: (t) => {
      const f = parsed(t, 'zip');
      return f && mutated(f, (m) => setBox(m, 'dataWindow', [39, 0, 0, 35]));
    },
    message: /^empty data window \(39,0\)-\(0,35\)$/,
  },
  {
    name: 'data window yMin > yMax',
    make: (t) => {
      const f = parsed(t, 'zip');
      return f && mutated(f, (m) => setBox(m, 'dataWindow', [0, 35, 39, 0]));
    },
    message: /^empty data window \(0,35\)-\(39,0\)$/,
  },
  {
    name: 'data window beyond +2^30 (a small window far out)',
    make: (t) => {
      const f = parsed(t, 'zip');
      return f && mutated(f, (m) => setBox(m, 'dataWindow', [2 ** 30, 0, 2 ** 30 + W - 1, H - 1]));
    },
    message: /^data window \(1073741824,0\)-\(1073741863,35\) has a coordinate beyond ±1073741823$/,
  },
  {
    name: 'data window beyond -2^30',
    make: (t) => {
      const f = parsed(t, 'zip');
      return f && mutated(f, (m) => setBox(m, 'dataWindow', [0, -(2 ** 30) - 5, W - 1, -(2 ** 30) - 5 + H - 1]));
    },
    message: /^data window \(0,-1073741829\)-\(39,-1073741794\) has a coordinate beyond ±1073741823$/,
  },
  {
    name: 'display window beyond ±2^30',
    make: (t) => {
      const f = parsed(t, 'zip');
      return f && mutated(f, (m) => setBox(m, 'displayWindow', [-(2 ** 31), 0, 2 ** 31 - 1, 35]));
    },
    message: /^display window \(-2147483648,0\)-\(2147483647,35\) has a coordinate beyond ±1073741823$/,
  },

  // The offset table
  {
    name: 'an offset past the end of the file',
    make: (t) => {
      const b = files(t)?.get('zip');
      return b && patched(b, entry(b, 1), b.length + 100, 8);
    },
    message: /^truncated \(chunk 1 starts at byte (\d+), past the end of the file \(\d+ bytes\)\)$/,
  },
  {
    name: 'an offset pointing into the header',
    make: (t) => {
      const b = files(t)?.get('zip');
      return b && patched(b, entry(b, 1), 20, 8);
    },
    message: /^chunk 1 has offset 20, inside the header$/,
  },
  {
    name: 'an offset pointing into the offset table',
    make: (t) => {
      const b = files(t)?.get('zip');
      return b && patched(b, entry(b, 2), entry(b, 1), 8);
    },
    message: /^chunk 2 has offset \d+, inside the header$/,
  },
  {
    name: 'a negative offset',
    make: (t) => {
      const b = files(t)?.get('zip');
      return b && patched(b, entry(b, 0), -8n, 8);
    },
    message: /^chunk 0 has a negative offset -8$/,
  },
  {
    name: 'offsets out of order (two entries swapped)',
    make: (t) => {
      const b = files(t)?.get('zip');
      return b && patched(patched(b, entry(b, 0), chunkAt(b, 1), 8), entry(b, 1), chunkAt(b, 0), 8);
    },
    message: /^chunk 0 says it starts at line 16, expected 0$/,
  },
  {
    name: 'two offsets pointing at the same chunk',
    make: (t) => {
      const b = files(t)?.get('zip');
      return b && patched(b, entry(b, 2), chunkAt(b, 1), 8);
    },
    message: /^chunk 2 says it starts at line 16, expected 32$/,
  },

  // Chunk headers
  {
    name: "a chunk whose y lies below the data window",
    make: (t) => {
      const f = parsed(t, 'zip');
      return f && mutated(f, (m) => (m.chunks[1]!.coords[0] = 1000));
    },
    message: /^chunk 1 is for line 1000, outside the data window \(lines 0 to 35\)$/,
  },
  {
    name: "a chunk whose y lies above the data window (-2^31)",
    make: (t) => {
      const f = parsed(t, 'zip');
      return f && mutated(f, (m) => (m.chunks[0]!.coords[0] = -(2 ** 31)));
    },
    message: /^chunk 0 is for line -2147483648, outside the data window \(lines 0 to 35\)$/,
  },
  {
    name: 'a tile outside the data window',
    make: (t) => {
      const f = parsed(t, 'tile-zip');
      return f && mutated(f, (m) => (m.chunks[4]!.coords = [50, 1, 0, 0]));
    },
    message: /^chunk 4 is tile \(50,1\) of level \(0,0\), outside the 3x3 tiles of level 0$/,
  },
  {
    name: 'a packed size larger than the rest of the file',
    make: (t) => {
      const b = files(t)?.get('zip');
      return b && patched(b, chunkAt(b, 2) + 4, 1_000_000);
    },
    message: /^truncated \(chunk 2 needs 1000000 bytes from byte \d+, the file has \d+\)$/,
  },
  {
    name: 'a packed size of 2^31 - 1',
    make: (t) => {
      const b = files(t)?.get('zip');
      return b && patched(b, chunkAt(b, 0) + 4, 2 ** 31 - 1);
    },
    message: /^truncated \(chunk 0 needs 2147483647 bytes from byte \d+, the file has \d+\)$/,
  },
  {
    name: 'a negative packed size',
    make: (t) => {
      const b = files(t)?.get('zip');
      return b && patched(b, chunkAt(b, 0) + 4, -1);
    },
    message: /^chunk 0 has a negative size -1$/,
  },
  {
    name: 'a packed size larger than the unpacked size (NONE)',
    make: (t) => {
      const f = parsed(t, 'none');
      return f && mutated(f, (m) => (m.chunks[0]!.data = concat([m.chunks[0]!.data, new Uint8Array(20)])));
    },
    message: new RegExp(`^chunk 0 holds ${LINE_BYTES + 20} bytes, more than the ${LINE_BYTES} bytes of its pixels$`),
  },
  {
    name: 'a packed size larger than the unpacked size (ZIP)',
    make: (t) => {
      const f = parsed(t, 'zip');
      const more = zlibSync(new Uint8Array(zipLines * LINE_BYTES + 1));
      return f && mutated(f, (m) => (m.chunks[1]!.data = concat([more, new Uint8Array(zipLines * LINE_BYTES)])));
    },
    message: new RegExp(`^chunk 1 holds \\d+ bytes, more than the ${zipLines * LINE_BYTES} bytes of its pixels$`),
  },

  // ZIP and RLE
  {
    name: 'ZIP data inflating to one byte more than expected',
    make: (t) => {
      const f = parsed(t, 'zip');
      return f && mutated(f, (m) => (m.chunks[0]!.data = zlibSync(new Uint8Array(zipLines * LINE_BYTES + 1))));
    },
    message: new RegExp(`^chunk 0: zlib data inflates to more than ${zipLines * LINE_BYTES} bytes$`),
  },
  {
    name: 'ZIP data inflating to 7 MiB (a bomb, still smaller than the 7680 bytes it stands for)',
    make: (t) => {
      const f = parsed(t, 'zip');
      const bomb = zlibSync(new Uint8Array(7 << 20), { level: 9 });
      assert.ok(bomb.length < zipLines * LINE_BYTES, `${bomb.length} bytes`);
      return f && mutated(f, (m) => (m.chunks[0]!.data = bomb));
    },
    message: new RegExp(`^chunk 0: zlib data inflates to more than ${zipLines * LINE_BYTES} bytes$`),
  },
  {
    name: 'ZIP data inflating to one byte fewer than expected',
    make: (t) => {
      const f = parsed(t, 'zip');
      return f && mutated(f, (m) => (m.chunks[0]!.data = zlibSync(new Uint8Array(zipLines * LINE_BYTES - 1))));
    },
    message: new RegExp(`^chunk 0: zlib data inflates to ${zipLines * LINE_BYTES - 1} bytes, expected ${zipLines * LINE_BYTES}$`),
  },
  {
    name: 'ZIPS data inflating to more than one line',
    make: (t) => {
      const f = parsed(t, 'zips');
      return f && mutated(f, (m) => (m.chunks[5]!.data = zlibSync(new Uint8Array(2 * LINE_BYTES))));
    },
    message: new RegExp(`^chunk 5: zlib data inflates to more than ${LINE_BYTES} bytes$`),
  },
  {
    name: 'RLE data decoding to more bytes than expected',
    make: (t) => {
      const f = parsed(t, 'rle');
      // Each (127, v) pair is 128 copies of v: 4 pairs make 512 bytes for a 480-byte line.
      return f && mutated(f, (m) => (m.chunks[3]!.data = Uint8Array.from([127, 1, 127, 2, 127, 3, 127, 4])));
    },
    message: new RegExp(`^chunk 3: RLE data decodes to more than ${LINE_BYTES} bytes$`),
  },
  {
    name: 'RLE data decoding to fewer bytes than expected',
    make: (t) => {
      const f = parsed(t, 'rle');
      return f && mutated(f, (m) => (m.chunks[3]!.data = Uint8Array.from([127, 1, 127, 2, 127, 3])));
    },
    message: new RegExp(`^chunk 3: RLE data decodes to 384 bytes, expected ${LINE_BYTES}$`),
  },

  // PIZ
  ...[46, 58].map(
    (bits): Case => ({
      name: `a PIZ Huffman code length of ${bits}`,
      make: (t) => {
        const f = parsed(t, 'piz');
        return (
          f &&
          mutated(f, (m) => {
            const data = m.chunks[0]!.data;
            setBits(data, firstCodeLength(data), 6, bits);
          })
        );
      },
      message: new RegExp(`^chunk 0: corrupt PIZ data \\(a Huffman code of ${bits} bits; the longest allowed is 45\\)$`),
    }),
  ),
  {
    name: 'a PIZ bitmap range past the bitmap (maxNonZero 8192)',
    make: (t) => {
      const f = parsed(t, 'piz');
      return f && mutated(f, (m) => m.chunks[0]!.data.set([0, 0, 0x00, 0x20], 0));
    },
    message: /^chunk 0: corrupt PIZ data \(bitmap range 0 to 8192, past its 8192 bytes\)$/,
  },
  {
    name: 'a PIZ bitmap range past the end of the chunk',
    make: (t) => {
      const f = parsed(t, 'piz');
      // minNonZero 0, maxNonZero 8191: the whole bitmap, more than the 1000 bytes left of the chunk.
      return f && mutated(f, (m) => (m.chunks[0]!.data = concat([Uint8Array.from([0, 0, 0xff, 0x1f]), m.chunks[0]!.data.subarray(4, 1000)])));
    },
    message: /^chunk 0: corrupt PIZ data \(bitmap past the end\)$/,
  },
  {
    name: 'a PIZ wavelet size mismatch: more values than the chunk holds',
    make: (t) => {
      // One column fewer: each line of chunk 0 has 39 samples but its data holds 40.
      const f = parsed(t, 'piz');
      return f && mutated(f, (m) => setBox(m, 'dataWindow', [0, 0, W - 2, H - 1]));
    },
    message: /^chunk 0: corrupt PIZ data \(more values than the chunk holds\)$/,
  },
  {
    name: 'a PIZ wavelet size mismatch: fewer values than the chunk holds',
    make: (t) => {
      const f = parsed(t, 'piz');
      return f && mutated(f, (m) => setBox(m, 'dataWindow', [0, 0, W, H - 1]));
    },
    message: /^chunk 0: corrupt PIZ data \(7680 values decoded, expected 7872\)$/,
  },

  // Attributes
  {
    name: 'an attribute of declared size 2^31 (negative as the signed size field)',
    make: (t) => {
      const b = files(t)?.get('zip');
      return b && patched(b, attributeValue(b, 'channels') - 4, -(2 ** 31));
    },
    message: /^attribute "channels" has a negative size -2147483648$/,
  },
  {
    name: 'an attribute of declared size 2^31 - 1',
    make: (t) => {
      const b = files(t)?.get('zip');
      return b && patched(b, attributeValue(b, 'channels') - 4, 2 ** 31 - 1);
    },
    message: /^attribute "channels" is 2147483647 bytes, over the limit of 16777216$/,
  },
  {
    name: '10,000 attributes',
    make: (t) => {
      const f = parsed(t, 'zip');
      const many = Array.from({ length: 10_000 }, (_, i) => ({ name: `a${i}`, type: 'int', value: i32s(i) }));
      return f && mutated(f, (m) => m.attributes.push(...many));
    },
    message: /^part 0 has more than 4096 attributes \(the limit\)$/,
  },
  {
    name: 'an attribute name with no NUL before the end of the file',
    make: (t) => {
      const b = files(t)?.get('zip');
      return b && concat([b.subarray(0, 8), new TextEncoder().encode('channels'.repeat(4))]);
    },
    message: /^truncated \(an attribute name runs past the end of the file\)$/,
  },
  {
    name: 'an attribute name of 300 bytes with no NUL',
    make: (t) => {
      const b = files(t)?.get('zip');
      return b && concat([b.subarray(0, 8), new Uint8Array(300).fill(0x61), b.subarray(8)]);
    },
    message: /^an attribute name is longer than 255 bytes \(no terminating NUL\)$/,
  },
  {
    name: 'an attribute type name of 300 bytes with no NUL',
    make: (t) => {
      const b = files(t)?.get('zip');
      return b && concat([b.subarray(0, 8), new TextEncoder().encode('myThing\0'), new Uint8Array(300).fill(0x61), b.subarray(8)]);
    },
    message: /^the type name of attribute "myThing" is longer than 255 bytes \(no terminating NUL\)$/,
  },
  {
    name: 'an attribute name holding a newline (the message stays one line)',
    make: (t) => {
      const b = files(t)?.get('zip');
      return b && concat([b.subarray(0, 8), new TextEncoder().encode('bad\nname\0int\0'), i32s(-1), b.subarray(8)]);
    },
    message: /^attribute "bad\\x0aname" has a negative size -1$/,
  },
  {
    name: 'a channel name with no NUL',
    make: (t) => {
      const f = parsed(t, 'zip');
      return f && mutated(f, (m) => (attribute(m, 'channels').value = new TextEncoder().encode('ViewLayer.Combined.R')));
    },
    message: /^attribute "channels" of type chlist is malformed: a channel entry is cut off$/,
  },
  {
    name: 'duplicate channels',
    make: (t) => {
      const f = parsed(t, 'none');
      const R = { name: 'ViewLayer.Combined.R', pixelType: 1 };
      return f && mutated(f, (m) => (attribute(m, 'channels').value = channelList([R, R, R, R, { name: 'ViewLayer.Depth.Z', pixelType: 2 }])));
    },
    message: /^channel "ViewLayer\.Combined\.R" appears twice$/,
  },
  {
    name: 'an attribute that appears twice (two data windows)',
    make: (t) => {
      const f = parsed(t, 'zip');
      return f && mutated(f, (m) => m.attributes.push({ name: 'dataWindow', type: 'box2i', value: i32s(0, 0, 9, 9) }));
    },
    message: /^attribute "dataWindow" appears twice$/,
  },

  // Enumerations
  ...[13, 42, 255].map(
    (code): Case => ({
      name: `unknown compression ${code}`,
      make: (t) => {
        const f = parsed(t, 'zip');
        return f && mutated(f, (m) => (attribute(m, 'compression').value = Uint8Array.of(code)));
      },
      message: new RegExp(`^unsupported compression ${code}$`),
    }),
  ),
  ...[3, -1, 2 ** 31 - 1].map(
    (type): Case => ({
      name: `unknown pixel type ${type}`,
      make: (t) => {
        const f = parsed(t, 'none');
        const list = ['A', 'B', 'G', 'R'].map((c) => ({ name: `ViewLayer.Combined.${c}`, pixelType: 1 }));
        return f && mutated(f, (m) => (attribute(m, 'channels').value = channelList([...list, { name: 'ViewLayer.Depth.Z', pixelType: type }])));
      },
      message: new RegExp(`^attribute "channels" of type chlist is malformed: channel "ViewLayer\\.Depth\\.Z" has unknown pixel type ${type}$`),
    }),
  ),
  ...(
    [
      ['x', 0, 1],
      ['y', 1, 0],
      ['x', -2, 1],
    ] as const
  ).map(
    ([axis, xs, ys]): Case => ({
      name: `${axis} sampling ${axis === 'x' ? xs : ys}`,
      make: (t) => {
        const f = parsed(t, 'none');
        const list = ['A', 'B', 'G', 'R'].map((c) => ({ name: `ViewLayer.Combined.${c}`, pixelType: 1 }));
        const z = { name: 'ViewLayer.Depth.Z', pixelType: 2, xSampling: xs, ySampling: ys };
        return f && mutated(f, (m) => (attribute(m, 'channels').value = channelList([...list, z])));
      },
      message: new RegExp(`^attribute "channels" of type chlist is malformed: channel "ViewLayer\\.Depth\\.Z" has sampling ${xs} ${ys}`),
    }),
  ),
];

// ---------------------------------------------------------------------------------------------

test('the fixtures: split and joined back byte for byte, decoded, and packed by the CLI', async (t) => {
  const all = files(t);
  if (!all) return;
  const ref = readExr(all.get('none')!, 'none.exr');
  for (const [kind, bytes] of all) {
    assert.deepEqual(joinExr(splitExr(bytes)), bytes, `${kind}: split and join`);
    const img = readExr(bytes, `${kind}.exr`);
    for (const [name, v] of ref.channels) assert.deepEqual(img.channels.get(name), v, `${kind} ${name}`);
  }
  // The chunks the cases corrupt are stored compressed (smaller than their pixels), so the
  // decoder really runs on them.
  assert.ok(splitExr(all.get('zip')!).chunks[0]!.data.length < zipLines * LINE_BYTES);
  assert.ok(splitExr(all.get('rle')!).chunks[3]!.data.length < LINE_BYTES);
  assert.ok(splitExr(all.get('piz')!).chunks[0]!.data.length < 32 * LINE_BYTES);
  const dir = tempDir(t);
  const out = join(dir, 'D');
  writeFileSync(join(dir, 'good.exr'), all.get('zip')!);
  const r = await runCli(['pack-blender', '--exr', join(dir, 'good.exr'), '--output', out]);
  assert.equal(r.code, 0, r.err);
  assert.ok(readdirSync(out).includes('target.png'));
});

for (const c of CASES) {
  test(`EXR: ${c.name}`, async (t) => {
    const bytes = c.make(t);
    if (!bytes) return;
    const arrayBuffers = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    let message = '';
    assert.throws(
      () => readExr(bytes, 'bad.exr'),
      (e: unknown) => {
        assert.ok(e instanceof CnnV3Error, `a CnnV3Error, got ${e instanceof Error ? e.stack : String(e)}`);
        message = e.message;
        return true;
      },
    );
    const ms = performance.now() - t0;
    const grown = process.memoryUsage().arrayBuffers - arrayBuffers;
    assert.ok(message.startsWith('bad.exr: '), `names the file: ${message}`);
    assert.ok(!message.includes('\n'), `one line: ${message}`);
    const problem = message.slice('bad.exr: '.length);
    assert.match(problem, c.message);
    assert.ok(ms < 1000, `${ms.toFixed(0)} ms`);
    assert.ok(grown < 4 << 20, `${grown} bytes of buffers allocated`);

    // The CLI: the same one line, exit 1, no output directory, nothing staged beside it.
    const dir = tempDir(t);
    const bad = join(dir, 'bad.exr');
    writeFileSync(bad, bytes);
    const out = join(dir, 'D');
    const r = await runCli(['pack-blender', '--exr', bad, '--output', out]);
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    assert.equal(r.err, `cnnv3: ${bad}: ${problem}\n`);
    assert.equal(existsSync(out), false);
    assert.deepEqual(readdirSync(dir), ['bad.exr']);
  });
}

test('the header cases do not depend on the fixture: a header of 10,000 attributes is refused in bounded time', () => {
  // Built from nothing: the magic number, version 2 and 10,000 one-int attributes.
  const attrs = Array.from({ length: 10_000 }, (_, i) => attributeBytes({ name: `a${i}`, type: 'int', value: i32s(i) }));
  const bytes = concat([Uint8Array.of(0x76, 0x2f, 0x31, 0x01, 2, 0, 0, 0), ...attrs, Uint8Array.of(0)]);
  const t0 = performance.now();
  assert.throws(() => readExr(bytes, 'many.exr'), /^CnnV3Error: many\.exr: part 0 has more than 4096 attributes \(the limit\)$/);
  assert.ok(performance.now() - t0 < 200);
});
