/**
 * Photo → sample (playbook §1a, SPEC §2): the photo is the albedo, geometry is neutral
 * (normal (128,128,0), depth 0, matid 0, shadow 255), transp = 255 − alpha, and the target is
 * the stylised image (or a copy of the photo). The target keeps its own size; the dataset
 * resizes it to the albedo when it loads the sample.
 */
import { dropChannels, hasAlpha, toRgba8, type Raster } from '../image/image.js';
import { encodePng } from '../image/png.js';
import type { SampleFiles } from '../dataset/layout.js';

/** The neutral octahedral normal: (128,128) decodes to ≈ (0,0), i.e. facing the camera. */
export const NEUTRAL_NORMAL = [128, 128, 0] as const;

export function packPhotoSample(photo: Raster, target?: Raster): SampleFiles {
  const { width, height } = photo;
  const n = width * height;
  const rgba = toRgba8(photo);

  const transp = new Uint8Array(n);
  if (hasAlpha(photo)) for (let p = 0; p < n; p++) transp[p] = 255 - rgba[p * 4 + 3]!;

  const normal = new Uint8Array(n * 3);
  for (let p = 0; p < n; p++) {
    normal[p * 3] = NEUTRAL_NORMAL[0];
    normal[p * 3 + 1] = NEUTRAL_NORMAL[1];
    normal[p * 3 + 2] = NEUTRAL_NORMAL[2];
  }
  const gray8 = (fill: number): Uint8Array => new Uint8Array(n).fill(fill);
  const targetRaster = target ?? photo;

  return {
    'albedo.png': encodePng({ width, height, channels: 3, depth: 8, data: dropChannels(rgba, 4, 3) }),
    'normal.png': encodePng({ width, height, channels: 3, depth: 8, data: normal }),
    'depth.png': encodePng({ width, height, channels: 1, depth: 16, data: new Uint16Array(n) }),
    'matid.png': encodePng({ width, height, channels: 1, depth: 8, data: gray8(0) }),
    'shadow.png': encodePng({ width, height, channels: 1, depth: 8, data: gray8(255) }),
    'transp.png': encodePng({ width, height, channels: 1, depth: 8, data: transp }),
    'target.png': encodePng({
      width: targetRaster.width,
      height: targetRaster.height,
      channels: 4,
      depth: 8,
      data: target ? toRgba8(target) : rgba,
    }),
  };
}
