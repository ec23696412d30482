/**
 * The player page's Draco decoder (KHR_draco_mesh_compression, scene.ts `GltfDecoders`):
 * draco3dgltf's Emscripten build, loaded only when a scene needs it, its .wasm fetched from the
 * build (Vite copies it) and handed over as `wasmBinary`, so the module's Node branch (which
 * reads the file with `fs`) never runs.
 */
import wasmUrl from 'draco3dgltf/draco_decoder_gltf.wasm?url';

export async function loadDracoDecoder(): Promise<unknown> {
  const r = await fetch(wasmUrl);
  if (!r.ok) throw new Error(`cannot load draco_decoder_gltf.wasm (HTTP ${r.status})`);
  const wasmBinary = await r.arrayBuffer();
  const mod = (await import('draco3dgltf/draco_decoder_gltf_nodejs.js')) as { default: (opts: { wasmBinary: ArrayBuffer }) => Promise<unknown> };
  return mod.default({ wasmBinary });
}
