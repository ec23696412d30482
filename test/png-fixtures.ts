/** Hand-built PNGs for the codec tests: chunks with correct CRCs, so one field at a time can be made wrong. */
import { zlibSync } from 'fflate';
import { crc32 } from '../src/image/png.js';


/** One chunk with a correct CRC (so that one field at a time can be made wrong). */
export function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let k = 0; k < 4; k++) out[4 + k] = type.charCodeAt(k);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out, 4, 8 + data.length));
  return out;
}

/** Recomputes every chunk CRC in place, so that mutations reach past the CRC check. */
export function fixPngCrcs(b: Uint8Array): Uint8Array {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let pos = 8; pos + 12 <= b.length; ) {
    const end = pos + 8 + dv.getUint32(pos);
    if (end + 4 > b.length) break;
    dv.setUint32(end, crc32(b, pos + 4, end));
    pos = end + 4;
  }
  return b;
}

export function ihdr(w: number, h: number, depth: number, ct: number, interlace = 0): Uint8Array {
  const d = new Uint8Array(13);
  const dv = new DataView(d.buffer);
  dv.setUint32(0, w);
  dv.setUint32(4, h);
  d.set([depth, ct, 0, 0, interlace], 8);
  return chunk('IHDR', d);
}

export function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export const SIG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
export const png = (...chunks: Uint8Array[]) => cat(SIG, ...chunks);
export const iend = () => chunk('IEND', new Uint8Array(0));
export const idat = (raw: number[] | Uint8Array) => chunk('IDAT', zlibSync(new Uint8Array(raw)));
