/** Node-only entry: everything in the browser entry plus file-system helpers. */
export * from './index.js';
export { dirSource, discoverSamples, loadSampleDir, sampleName } from './dataset/sample-node.js';
export { writeDirAtomic, writeFileAtomic } from './util/atomic-node.js';
export { packPhotoFile } from './pack/photo-node.js';
export { loadCheckpoint, readCheckpointBytes, saveCheckpoint } from './checkpoint/checkpoint-node.js';
export { exportCheckpointFile, type ExportFileOptions, type ExportResult } from './export/export-node.js';
export { train, type TrainOutput, type TrainHooks, type TrainResult } from './train/trainer-node.js';
export { nodeAssets } from './demo/assets-node.js';
export { nodeGltfDecoders } from './demo/gbuffer/decoders-node.js';
