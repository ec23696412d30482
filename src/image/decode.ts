/**
 * Photo decoding: PNG (own codec) and JPEG (jpeg-js), sniffed by content, not by extension.
 * EXIF orientation is not applied (as PIL does not), so a target made from the stored pixels
 * still lines up with its photo.
 */
import jpeg from 'jpeg-js';
import { fileError, isCnnV3Error } from '../errors.js';
import type { Raster } from './image.js';
import { decodePng, isPng, PNG_LIMITS } from './png.js';

export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

export function decodeImage(bytes: Uint8Array, name: string): Raster {
  if (isPng(bytes)) return decodePng(bytes, name);
  if (isJpeg(bytes)) return decodeJpeg(bytes, name);
  if (bytes.length === 0) throw fileError(name, 'empty file, not an image');
  throw fileError(name, 'not a PNG or JPEG image');
}

function decodeJpeg(bytes: Uint8Array, name: string): Raster {
  try {
    const img = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false,
      maxResolutionInMP: PNG_LIMITS.maxPixels / 1e6,
      maxMemoryUsageInMB: 2048,
    });
    if (img.width <= 0 || img.height <= 0 || img.data.length !== img.width * img.height * 3) {
      throw new Error('decoded no pixels');
    }
    return { width: img.width, height: img.height, channels: 3, depth: 8, data: img.data };
  } catch (e) {
    if (isCnnV3Error(e)) throw e;
    throw fileError(name, `not a valid JPEG: ${(e as Error).message}`);
  }
}
