/** `pack-photo` on files: a photo (and its target) on disk → a sample directory, written atomically. */
import { encodeStyleFile, STYLE_FILE } from '../dataset/layout.js';
import { decodeImage } from '../image/decode.js';
import { writeDirAtomic } from '../util/atomic-node.js';
import { readInputFile } from '../util/read-node.js';
import { packPhotoSample } from './photo.js';

/** Decodes the photo and target, then writes the sample directory (with style.json for `style`) in one atomic step. */
export async function packPhotoFile(photoPath: string, targetPath: string | undefined, outDir: string, style?: readonly [number, number]): Promise<void> {
  const photo = decodeImage(await readInputFile(photoPath, 'photo'), photoPath);
  const target = targetPath === undefined ? undefined : decodeImage(await readInputFile(targetPath, 'target'), targetPath);
  await writeDirAtomic(outDir, { ...packPhotoSample(photo, target), ...(style ? { [STYLE_FILE]: encodeStyleFile(style) } : {}) });
}
