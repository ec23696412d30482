/**
 * The render graph's view of CNNv3Effect: node names instead of textures. The demo engine, the
 * tool, `infer` and the parity check run the network this way; the intermediates land in the
 * graph's node pool under `nodeLayouts`' names, where a viewer or a readback finds them.
 */
import { CnnV3Error } from '../errors.js';
import { CNNv3Effect, OUTPUT_FORMAT, type CnnEffectInit } from './cnn-effect.js';
import { FEATURE_NODES } from './feature-pass.js';
import type { TextureNodes } from './nodes.js';

export const CNN_OUTPUT_NODE = 'cnn_v3_output';

export class CnnNodeEffect {
  readonly effect: CNNv3Effect;

  constructor(
    device: GPUDevice,
    init: CnnEffectInit,
    readonly inputs: readonly [string, string] = [FEATURE_NODES.feat0, FEATURE_NODES.feat1],
    readonly outputs: readonly [string] = [CNN_OUTPUT_NODE],
  ) {
    this.effect = new CNNv3Effect(device, init);
  }

  /** Encodes the five passes from the input nodes (packed features) to the output node. */
  render(encoder: GPUCommandEncoder, _params: unknown, nodes: TextureNodes): void {
    const [feat0, feat1] = this.inputs.map((name) => {
      const t = nodes.get(name);
      if (!t) throw new CnnV3Error(`CNNv3Effect: node ${name} is read before anything writes it`);
      return t;
    }) as [GPUTexture, GPUTexture];
    const usage = GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_SRC;
    const output = nodes.ensure(this.outputs[0], OUTPUT_FORMAT, feat0.width, feat0.height, usage).texture;
    this.effect.encodePasses(encoder, feat0, feat1, output, nodes);
  }

  destroy(): void {
    this.effect.destroy();
  }
}
