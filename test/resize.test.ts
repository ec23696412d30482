import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeImage } from '../src/image/decode.js';
import { toRgba8 } from '../src/image/image.js';
import { resizeLanczos3, resizeNearest } from '../src/image/resize.js';
import { requireTool, SKIMAGE_DATA, SYSTEM_PYTHON } from './helpers.js';

test('Lanczos-3 agrees with PIL within one level on a real photo, shrinking and enlarging', (t) => {
  if (!requireTool(t, SKIMAGE_DATA, 'python3-skimage')) return;
  const path = join(SKIMAGE_DATA, 'chelsea.png');
  const img = decodeImage(readFileSync(path), path);
  const rgba = toRgba8(img);
  for (const [w, h] of [[157, 101], [451, 300], [600, 333], [37, 200]] as const) {
    const mine = resizeLanczos3(rgba, img.width, img.height, 4, w, h);
    const pil = execFileSync(SYSTEM_PYTHON, [
      '-c',
      `import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert('RGBA').resize((${w}, ${h}), Image.LANCZOS)
sys.stdout.buffer.write(im.tobytes())`,
      path,
    ]);
    let worst = 0;
    let off = 0;
    for (let i = 0; i < mine.length; i++) {
      const d = Math.abs(mine[i]! - pil[i]!);
      worst = Math.max(worst, d);
      if (d > 0) off++;
    }
    assert.ok(worst <= 1, `${w}×${h}: max diff ${worst}`);
    // PIL rounds to 8 bits between its two passes; this resampler keeps floats, so a few
    // percent of values land one level apart.
    assert.ok(off < mine.length * 0.15, `${w}×${h}: ${off} of ${mine.length} values differ`);
  }
});

test('resampling keeps a constant image constant and is the identity at the same size', () => {
  const src = new Uint8Array(5 * 3 * 2).fill(77);
  assert.deepEqual(Array.from(resizeLanczos3(src, 5, 3, 2, 11, 7)), new Array(11 * 7 * 2).fill(77));
  assert.deepEqual(Array.from(resizeLanczos3(src, 5, 3, 2, 2, 1)), new Array(2 * 1 * 2).fill(77));
  const ramp = Uint8Array.from({ length: 12 }, (_, i) => i * 20);
  assert.deepEqual(resizeLanczos3(ramp, 4, 3, 1, 4, 3), ramp);
  assert.deepEqual(Array.from(resizeNearest(Uint16Array.from([1, 2, 3, 4]), 2, 2, 1, 4, 2)), [1, 1, 2, 2, 3, 3, 4, 4]);
});
