/**
 * The glTF decoders Node supplies to GBufferEffect (scene.ts `GltfDecoders`): Draco through the
 * `draco3dgltf` package, an Emscripten build that reads its .wasm beside it with `fs`, which is
 * why it is kept out of the browser-safe library (the player page bundles its own copy).
 */
import { createRequire } from 'node:module';
import type { GltfDecoders } from './scene.js';

let draco: Promise<unknown> | undefined;

export function nodeGltfDecoders(): GltfDecoders {
  return {
    draco: () => {
      draco ??= (async () => {
        const require = createRequire(import.meta.url);
        const mod = require('draco3dgltf') as { createDecoderModule: (opts?: object) => Promise<unknown> };
        return mod.createDecoderModule({});
      })();
      return draco;
    },
  };
}
