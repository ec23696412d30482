// |x − ref| ≤ atol + rtol·|ref| for the tests that check a fast path against the float64 reference.
import assert from 'node:assert/strict';

/** |x − ref| ≤ atol + rtol·|ref| everywhere; the message names the worst entries. */
export function assertClose(actual: ArrayLike<number>, ref: ArrayLike<number>, atol: number, rtol: number, what: string, names?: (i: number) => string): void {
  assert.equal(actual.length, ref.length, `${what}: length`);
  let maxErr = 0;
  const bad: string[] = [];
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(actual[i]! - ref[i]!);
    maxErr = Math.max(maxErr, err);
    if (!(err <= atol + rtol * Math.abs(ref[i]!)) && bad.length < 5) bad.push(`${names ? names(i) : i}: ${actual[i]} vs ${ref[i]}`);
  }
  assert.deepEqual(bad, [], `${what}: max |err| ${maxErr}; first mismatches:\n  ${bad.join('\n  ')}`);
}
