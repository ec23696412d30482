// draco3dgltf ships no types; the player imports its decoder factory (src/tool/draco-decoder.ts).
declare module 'draco3dgltf/draco_decoder_gltf_nodejs.js' {
  const createDecoderModule: (opts: { wasmBinary: ArrayBuffer }) => Promise<unknown>;
  export default createDecoderModule;
}
