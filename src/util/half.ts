/**
 * IEEE 754 binary16 conversion with round-to-nearest-even, as both the weight export (SPEC §6)
 * and the CPU model of WGSL's pack2x16float (SPEC §3) need it. Bit-exact: subnormals, ±0,
 * overflow to ±Inf (|x| ≥ 65520), NaN → quiet NaN 0x7e00.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Rounds a number to the nearest f32 first (as a GPU holds it), then to f16 bits. */
export function toHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;

  if (exp === 0xff) return sign | (mant !== 0 ? 0x7e00 : 0x7c00);
  // Unbiased exponent; f16 bias is 15, f32 bias is 127.
  const e = exp - 127;
  if (e > 15) return sign | 0x7c00;
  if (e >= -14) {
    // Normal f16: keep 10 mantissa bits, round the 13 dropped ones to nearest even.
    let h = ((e + 15) << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h += 1; // may carry into exp: correct, up to Inf
    return sign | h;
  }
  if (e < -25) return sign; // below half the smallest subnormal: rounds to ±0
  // Subnormal f16: value = mant16 · 2^-24. Shift the implicit-1 mantissa into place.
  mant |= 0x800000;
  const shift = -e - 14 + 13; // 14..24 extra bits dropped
  let h = mant >>> shift;
  const rest = mant & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (rest > halfway || (rest === halfway && (h & 1) === 1)) h += 1;
  return sign | h;
}

export function fromHalfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant !== 0 ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** The value a float takes after a round trip through f16. */
export function roundToHalf(value: number): number {
  return fromHalfBits(toHalfBits(value));
}
