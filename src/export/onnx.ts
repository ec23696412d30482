/**
 * The whole network (SPEC §4, `model/reference.ts`) as one ONNX graph, browser-safe: the FiLM
 * MLP, the five convolutions, pooling, upsampling, skips and the output, so any ONNX runtime
 * gives the reference's output from a checkpoint alone.
 *
 *   inputs   features (N, 20, H, W) float32: the 20 channels of SPEC §3, in that order
 *            cond     (N, D)        float32: the FiLM condition (D = film_cond_dim, 5 by default)
 *   output   rgba     (N, 4, H, W)  float32
 *
 * Opset 17, IR version 8; N, H and W are free (any size, odd ones included). Weights are
 * the checkpoint's float32 values; `weights: 'f16'` rounds the conv values to half first (still
 * stored as float32), the values `cnn_v3_weights.bin` holds and the WebGPU effect computes with,
 * and keeps the MLP in float32 as `cnn_v3_film_mlp.bin` does.
 *
 * How each step of the reference is written:
 *   conv      Conv, stride 1, pads (k−1)/2 on every side (zero padding)
 *   FiLM      Gemm → Relu → Gemm (transB) gives γ/β per sample; Split in SPEC order; Unsqueeze to
 *             (N, C, 1, 1); Mul then Add
 *   avgpool   Pad by one row and column at the bottom/right in `edge` mode, then AveragePool 2×2
 *             stride 2 with floor sizes. This is exactly "output ceil(n/2), a partial block
 *             averages the pixels it has": for odd n the copied edge turns a partial block (a, b)
 *             into (a, b, a, b) and a corner (a) into (a, a, a, a); for even n the extra row is
 *             never read. It is used instead of AveragePool's ceil_mode, whose divisor for the
 *             window that overhangs the input runtimes have disagreed on.
 *   up        Resize nearest, scales (1, 1, 2, 2), asymmetric coordinates, floor
 *             (out(x, y) = in(⌊x/2⌋, ⌊y/2⌋)), then Slice to the skip's H and W (Shape of the skip)
 *   cat       Concat on channels, the upsampled tensor first
 *   output    Sigmoid; or for `output: residual`, Clip(base + Tanh(z), 0, 1) with
 *             base = Gather(features, [0, 1, 2, 19]) · (1, 1, 1, −1) + (0, 0, 0, 1)
 * strength_cond and style_conds say what the condition entries mean, not how the network
 * computes: they travel in the model's metadata (`cnnv3.config`), as in a checkpoint.
 */
import { FEATURE_NAMES } from '../dataset/features.js';
import { FILM_COND_NAMES, IN_CHANNELS, OUT_CHANNELS, RESIDUAL_BASE_CHANNELS, configToJson, describeConfig, outputMode, type ModelConfig } from '../model/config.js';
import { buildParamTable, type ConvShape, type ParamTable } from '../model/params.js';
import { roundToHalf } from '../util/half.js';
import { encodeOnnxModel, type OnnxAttribute, type OnnxModel, type OnnxNode, type OnnxTensor } from './onnx-proto.js';

export const ONNX_OPSET = 17;
export const ONNX_IR_VERSION = 8;
export const ONNX_INPUTS = { features: 'features', cond: 'cond' } as const;
export const ONNX_OUTPUT = 'rgba';

/** Which values the graph's weights hold: the checkpoint's float32, or the conv values as the .bin's halves. */
export const ONNX_WEIGHTS = ['f32', 'f16'] as const;
export type OnnxWeights = (typeof ONNX_WEIGHTS)[number];

export interface OnnxExportOptions {
  /** Default 'f32'. */
  weights?: OnnxWeights;
  producerVersion?: string;
}

const ints = (v: readonly number[]): OnnxAttribute => ({ ints: v });
const int = (v: number): OnnxAttribute => ({ int: v });
const str = (v: string): OnnxAttribute => ({ string: v });

/** Appends nodes and initializers; each op's output is named after the node. */
class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];

  op(opType: string, name: string, inputs: string[], attributes?: Record<string, OnnxAttribute>): string {
    this.nodes.push({ opType, name, inputs, outputs: [name], ...(attributes ? { attributes } : {}) });
    return name;
  }

  float(name: string, dims: number[], values: ArrayLike<number>): string {
    this.initializers.push({ name, type: 'float32', dims, values });
    return name;
  }

  int64(name: string, values: number[]): string {
    this.initializers.push({ name, type: 'int64', dims: [values.length], values });
    return name;
  }
}

/** The network of `config` with `params` (flat, parameter-table order) as an ONNX model description. */
export function onnxModel(config: ModelConfig, params: Float32Array, options: OnnxExportOptions = {}): OnnxModel {
  const table = buildParamTable(config);
  if (params.length !== table.total) throw new Error(`exportOnnx: ${params.length} parameters given, ${describeConfig(config)} has ${table.total}`);
  const weights = options.weights ?? 'f32';
  const g = new GraphBuilder();
  const value = (name: string, half: boolean): Float32Array => {
    const p = table.byName.get(name)!;
    const v = params.slice(p.offset, p.offset + p.size);
    return half ? v.map(roundToHalf) : v;
  };
  const { features, cond } = ONNX_INPUTS;

  // FiLM MLP: (N, D) → (N, F), then γ/β of each layer as (N, C, 1, 1).
  const linear = (name: string, x: string) => {
    const p = table.byName.get(`${name}.weight`)!;
    return g.op('Gemm', name, [x, g.float(`${name}.weight`, p.shape, value(`${name}.weight`, false)), g.float(`${name}.bias`, [p.shape[0]!], value(`${name}.bias`, false))], { transB: int(1) });
  };
  const filmOut = linear('film_mlp.2', g.op('Relu', 'film_mlp.1', [linear('film_mlp.0', cond)]));
  const layers = (Object.entries(table.film) as Array<[keyof ParamTable['film'], ParamTable['film']['enc0']]>).sort((a, b) => a[1].gamma - b[1].gamma);
  const parts: Array<{ name: string; size: number }> = [];
  for (const [layer, f] of layers) {
    if (f.gamma !== parts.reduce((s, p) => s + p.size, 0) || f.beta !== f.gamma + f.channels) throw new Error(`exportOnnx: FiLM output of ${layer} is not where SPEC §4 puts it`);
    parts.push({ name: `${layer}.gamma`, size: f.channels }, { name: `${layer}.beta`, size: f.channels });
  }
  g.nodes.push({
    opType: 'Split',
    name: 'film.split',
    inputs: [filmOut, g.int64('film.split.sizes', parts.map((p) => p.size))],
    outputs: parts.map((p) => `${p.name}.nc`),
    attributes: { axis: int(1) },
  });
  const spatialAxes = g.int64('axes.hw', [2, 3]);
  for (const p of parts) g.op('Unsqueeze', p.name, [`${p.name}.nc`, spatialAxes]);

  const conv = (shape: ConvShape, x: string) => {
    const pad = (shape.k - 1) / 2;
    const w = g.float(`${shape.name}.weight`, [shape.out, shape.in, shape.k, shape.k], value(`${shape.name}.weight`, weights === 'f16'));
    const b = g.float(`${shape.name}.bias`, [shape.out], value(`${shape.name}.bias`, weights === 'f16'));
    return g.op('Conv', `${shape.name}.conv`, [x, w, b], {
      kernel_shape: ints([shape.k, shape.k]),
      pads: ints([pad, pad, pad, pad]),
      strides: ints([1, 1]),
      dilations: ints([1, 1]),
      group: int(1),
    });
  };
  const film = (layer: keyof ParamTable['film'], x: string) => g.op('Add', `${layer}.film`, [g.op('Mul', `${layer}.film.scale`, [x, `${layer}.gamma`]), `${layer}.beta`]);
  const edgePad = g.int64('pool.pads', [0, 0, 0, 0, 0, 0, 1, 1]); // (N, C, H, W) begins, then ends
  const pool = (name: string, x: string) =>
    g.op('AveragePool', name, [g.op('Pad', `${name}.pad`, [x, edgePad], { mode: str('edge') })], { kernel_shape: ints([2, 2]), strides: ints([2, 2]) });
  const scales = g.float('up.scales', [4], [1, 1, 2, 2]);
  const zeros2 = g.int64('up.starts', [0, 0]);
  const up = (name: string, x: string, skip: string) => {
    const full = g.op('Resize', `${name}.resize`, [x, '', scales], { mode: str('nearest'), coordinate_transformation_mode: str('asymmetric'), nearest_mode: str('floor') });
    const size = g.op('Shape', `${name}.size`, [skip], { start: int(2), end: int(4) });
    return g.op('Slice', name, [full, zeros2, size, spatialAxes]);
  };
  const cat = (name: string, a: string, b: string) => g.op('Concat', name, [a, b], { axis: int(1) });

  const [enc0, enc1, bott, dec1, dec0] = table.convs as [ConvShape, ConvShape, ConvShape, ConvShape, ConvShape];
  const e0 = g.op('Relu', 'enc0', [film('enc0', conv(enc0, features))]);
  const e1 = g.op('Relu', 'enc1', [film('enc1', conv(enc1, pool('enc0.pool', e0)))]);
  const b = g.op('Relu', 'bottleneck', [conv(bott, pool('enc1.pool', e1))]);
  const d1 = g.op('Relu', 'dec1', [film('dec1', conv(dec1, cat('dec1.cat', up('bottleneck.up', b, e1), e1)))]);
  const z = film('dec0', conv(dec0, cat('dec0.cat', up('dec1.up', d1, e0), e0)));
  const mode = outputMode(config);
  switch (mode) {
    case 'sigmoid':
      g.op('Sigmoid', ONNX_OUTPUT, [z]);
      break;
    case 'residual': {
      // base = (albedo.rgb, 1 − transp): the four channels, each times 1 or −1, plus 0 or 1.
      const picked = g.op('Gather', 'residual.channels', [features, g.int64('residual.channel_index', [...RESIDUAL_BASE_CHANNELS])], { axis: int(1) });
      const base = g.op('Add', 'residual.base', [
        g.op('Mul', 'residual.signed', [picked, g.float('residual.sign', [1, OUT_CHANNELS, 1, 1], [1, 1, 1, -1])]),
        g.float('residual.offset', [1, OUT_CHANNELS, 1, 1], [0, 0, 0, 1]),
      ]);
      const sum = g.op('Add', 'residual.sum', [base, g.op('Tanh', 'dec0.tanh', [z])]);
      g.op('Clip', ONNX_OUTPUT, [sum, g.float('zero', [], [0]), g.float('one', [], [1])]);
      break;
    }
    default:
      throw new Error(`exportOnnx: output mode ${String(mode satisfies never)} has no ONNX form`);
  }

  const D = config.filmCondDim;
  const condNames = Array.from({ length: D }, (_, i) => FILM_COND_NAMES[i] ?? `cond${i}`);
  return {
    irVersion: ONNX_IR_VERSION,
    opset: ONNX_OPSET,
    producerName: 'cnn-v3',
    ...(options.producerVersion ? { producerVersion: options.producerVersion } : {}),
    doc: `CNN v3 U-Net + FiLM, ${describeConfig(config)}, ${weights === 'f16' ? 'conv weights rounded to f16 (as cnn_v3_weights.bin)' : 'float32 checkpoint weights'}`,
    metadata: {
      'cnnv3.config': JSON.stringify(configToJson(config)),
      'cnnv3.features': FEATURE_NAMES.join(','),
      'cnnv3.cond': condNames.join(','),
      'cnnv3.weights': weights,
    },
    graph: {
      name: 'cnn_v3',
      nodes: g.nodes,
      initializers: g.initializers,
      inputs: [
        { name: features, type: 'float32', shape: ['N', IN_CHANNELS, 'H', 'W'], doc: `the 20 feature channels (SPEC §3): ${FEATURE_NAMES.join(', ')}` },
        { name: cond, type: 'float32', shape: ['N', D], doc: `the FiLM condition: ${condNames.join(', ')}` },
      ],
      outputs: [{ name: ONNX_OUTPUT, type: 'float32', shape: ['N', OUT_CHANNELS, 'H', 'W'], doc: 'RGBA in [0, 1]' }],
    },
  };
}

/** The `.onnx` file of a model: `onnxModel` encoded. */
export function exportOnnx(config: ModelConfig, params: Float32Array, options: OnnxExportOptions = {}): Uint8Array {
  return encodeOnnxModel(onnxModel(config, params, options));
}

/** What `cnnv3 export --onnx` prints about the file. */
export function onnxReport(path: string, config: ModelConfig, bytes: number, weights: OnnxWeights): string {
  const table = buildParamTable(config);
  return [
    path,
    `  ONNX opset ${ONNX_OPSET}: ${ONNX_INPUTS.features} (N, ${IN_CHANNELS}, H, W) + ${ONNX_INPUTS.cond} (N, ${config.filmCondDim}) → ${ONNX_OUTPUT} (N, ${OUT_CHANNELS}, H, W)`,
    `  ${table.total} parameters as float32${weights === 'f16' ? ' (conv values rounded to f16, as in cnn_v3_weights.bin)' : ''} → ${bytes} bytes`,
    '',
  ].join('\n');
}
