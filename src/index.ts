/// <reference types="@webgpu/types" preserve="true" />
/**
 * cnn-v3 library entry: browser-safe (no Node built-ins reachable from here).
 * Node-only helpers (directories, atomic writes) live in `cnn-v3/node`.
 */
export { CnnV3Error, fileError, isCnnV3Error } from './errors.js';
export type { Raster } from './image/image.js';
export { toRgba8 } from './image/image.js';
export { decodeImage, isJpeg } from './image/decode.js';
export { decodePng, encodePng, isPng, PNG_LIMITS, type PngLimits } from './image/png.js';
export { resizeLanczos3, resizeNearest } from './image/resize.js';
export { aspectDiffers, FIT_MODES, fitRects, fitResize, type FitMode, type FitRects, type Rect, type Resampler } from './image/fit.js';
export { packPhotoSample, NEUTRAL_NORMAL } from './pack/photo.js';
export * from './dataset/layout.js';
export { loadSample, type Sample, type SampleSource, type SampleKind } from './dataset/sample.js';
export {
  CH,
  channelStats,
  computeFeatures,
  FEATURE_NAMES,
  NUM_FEATURES,
  type ChannelStats,
  type FeatureInputs,
} from './dataset/features.js';
export * from './dataset/gpu-pack.js';
export { fromHalfBits, roundToHalf, toHalfBits } from './util/half.js';
export {
  decodeSafetensors,
  encodeSafetensors,
  SAFETENSORS_LIMITS,
  type SafetensorsDtype,
  type SafetensorsFile,
  type SafetensorsLimits,
  type SafetensorsTensor,
  type SafetensorsTensorIn,
} from './checkpoint/safetensors.js';
export {
  CHECKPOINT_DEFAULT_INPUT_MODE,
  configJson,
  decodeCheckpoint,
  describeConfig,
  encodeCheckpoint,
  optimTensorNames,
  type AdamMoments,
  type Checkpoint,
} from './checkpoint/checkpoint.js';
export {
  expectedFilmBytes,
  expectedWeightBytes,
  exportReport,
  exportWeights,
  FILM_MLP_FILE,
  WEIGHTS_FILE,
  type ExportedWeights,
} from './export/export.js';
export * from './checkpoint/safetensors.js';
export * from './checkpoint/checkpoint.js';
export * from './export/export.js';
export * from './export/read.js';
export { exportOnnx, onnxModel, ONNX_INPUTS, ONNX_IR_VERSION, ONNX_OPSET, ONNX_OUTPUT, ONNX_WEIGHTS, type OnnxExportOptions, type OnnxWeights } from './export/onnx.js';
export { isExr, readExr, readExrParts, listExrParts, channelInDisplayWindow, EXR_LIMITS, type ExrImage } from './exr/exr.js';
export { packBlenderSample, octEncode, octDecode, depthToU16, linearToSrgb8, type PackBlenderOptions, type PackBlenderResult } from './pack/blender.js';
export { decodeMotion, encodeMotion, type MotionField } from './dataset/motion.js';
export { warpBack, warpMask, warpPairError, type MotionPlanes, type WarpPair } from './demo/warp-error.js';
export { buildParamTable, describeModel, convHalfOffsets, type ParamTable, type ParamSpec } from './model/params.js';
export { DEFAULT_MODEL_CONFIG, FILM_COND_NAMES, type ModelConfig } from './model/config.js';
export { initParams } from './model/init.js';
export { forward as referenceForward, lossAndGrad as referenceLossAndGrad } from './model/reference.js';
export {
  CNNv3Effect,
  CNN_NODES,
  cnnNodeLayouts,
  fitsFastPath,
  OUTPUT_FORMAT,
  type FilmParams,
  type CnnNode,
  type CnnNodeLayout,
  type CnnEffectOptions,
  type CnnEffectInit,
  type CnnRenderArgs,
  type CnnInput,
  type GBufferTextures,
  type EffectPath,
} from './effect/cnn-effect.js';
export { CnnNodeEffect, CNN_OUTPUT_NODE } from './effect/cnn-node-effect.js';
export { PRECISIONS, resolvePrecision, shaderForArithmetic, type Arithmetic, type Precision } from './effect/precision.js';
export { FeaturePass, planesFromPhoto, planesFromSample, type FeaturePlanes } from './effect/feature-pass.js';
export { TextureNodes } from './effect/nodes.js';
export { ViewPass } from './effect/view-pass.js';
export { contextFromGpu, contextFromAdapter, type GpuContext } from './gpu/context.js';
export { runParity, referenceOutput, formatParityReport, type ParityReport } from './verify/parity.js';
export { psnr, ssim } from './image/metrics.js';
export { CHANNEL_GROUPS, measureAblation, type Ablation, type AblationRow, type ChannelGroup } from './eval/ablate.js';
export { parseSeq, type SeqFile, type SeqEffect, type SeqSequence } from './demo/seq.js';
export { resolveFrame, boundaries, beatAt, type ActiveEffect } from './demo/timeline.js';
export { planFrame, planAt, checkAllFrames, type FramePlan, type PlanStep } from './demo/graph.js';
export { decodeWav, peakAbs, encodeWavPcm16, type WavAudio } from './demo/wav.js';
export { DemoEngine, seqDuration, SINK_FORMAT, type EngineOptions, type FrameInfo } from './demo/engine.js';
export { createEffect, ImageFeaturesEffect, CNNv3EffectAdapter, type DemoEffect, type DemoAssets, type DemoFrame } from './demo/effects.js';
export { GBufferEffect, type GBufferOptions } from './demo/gbuffer/gbuffer-effect.js';
export { defaultSceneGlb } from './demo/gbuffer/default-scene.js';
export { OUTPUT_MODES, outputMode, type OutputMode } from './model/config.js';
export { makeModelConfig, sameModelConfig, STYLE_COND_INDEX, type ConditionControls } from './model/config.js';
export { runTrainingLoop, type EpochRecord, type TrainEvent, type LoopSettings, type LoopStart, type LoopHooks, type LoopResult, type Snapshot } from './train/loop.js';
export { EngineLostError, type TrainEngine, type TrainState, type EpochPlan, type EpochOutcome } from './train/engine.js';
export { CpuTrainEngine, type CpuEngineOptions } from './train/cpu/cpu-engine.js';
export { localEngine, type GradientEngine } from './train/cpu/engine.js';
export { GpuTrainEngine } from './train/gpu/gpu-engine.js';
export { trainContext } from './train/gpu/context.js';
export { prepareImage, type TrainImage } from './train/data.js';
