/**
 * The display pass: draws a chosen source (output, an input channel, an intermediate channel,
 * the target, or the difference) into a canvas texture. Used by the HTML tool and the player.
 */
import { cnnNodeLayouts, type CnnNode, type CnnNodeLayout } from './cnn-effect.js';
import { DEFAULT_MODEL_CONFIG } from '../model/config.js';
import type { GpuContext } from '../gpu/context.js';
import type { TextureNodes } from './nodes.js';
import { WGSL } from './shaders.generated.js';
import { UNIFORM_LAYOUTS } from '../gpu/uniforms.js';

export type ViewSource =
  | { kind: 'output' }
  | { kind: 'feature'; channel: number }
  | { kind: 'node'; node: CnnNode; channel: number }
  | { kind: 'target' }
  | { kind: 'diff' };

export type ViewLayout = 'single' | 'split' | 'side-by-side';

export interface ViewOptions {
  source: ViewSource;
  layout: ViewLayout;
  /** Split position in [0, 1] (split layout). */
  split: number;
  gain: number;
  /** Where the shown effect keeps its nodes (CNNv3Effect.nodeLayouts); default: the playbook model's. */
  nodeLayouts?: Readonly<Record<CnnNode, CnnNodeLayout>>;
}

export const TARGET_NODE = 'cnn_in_target';

const DEFAULT_LAYOUTS = cnnNodeLayouts(DEFAULT_MODEL_CONFIG);

/** Channels 3–4 (normal) and 6–7 (depth gradient) are signed: shown around mid-gray. */
const SIGNED_FEATURES = new Set([3, 4, 6, 7]);

export class ViewPass {
  private readonly pipeline: GPURenderPipeline;
  private readonly uniform: GPUBuffer;
  private readonly dummies: { f: GPUTexture; u: GPUTexture; a: GPUTexture };

  constructor(readonly ctx: GpuContext, readonly format: GPUTextureFormat) {
    const device = ctx.device;
    const module = device.createShaderModule({ label: 'cnn_v3 view', code: WGSL.view });
    this.pipeline = device.createRenderPipeline({
      label: 'cnn_v3 view',
      layout: 'auto',
      vertex: { module, entryPoint: 'vs' },
      fragment: { module, entryPoint: 'fs', targets: [{ format }] },
      primitive: { topology: 'triangle-list' },
    });
    this.uniform = device.createBuffer({ label: 'cnn_v3 view params', size: UNIFORM_LAYOUTS.View.size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    const usage = GPUTextureUsage.TEXTURE_BINDING;
    this.dummies = {
      f: device.createTexture({ label: 'view dummy f', size: { width: 1, height: 1 }, format: 'rgba16float', usage }),
      u: device.createTexture({ label: 'view dummy u', size: { width: 1, height: 1 }, format: 'rgba32uint', usage }),
      a: device.createTexture({ label: 'view dummy array', size: { width: 1, height: 1 }, format: 'rgba16float', usage }),
    };
  }

  /** Canvas size for the layout: the image, or twice its width side by side. */
  static canvasSize(width: number, height: number, layout: ViewLayout): [number, number] {
    return layout === 'side-by-side' ? [2 * width, height] : [width, height];
  }

  encode(encoder: GPUCommandEncoder, target: GPUTextureView, nodes: TextureNodes, output: string, opts: ViewOptions): void {
    const src = opts.source;
    const nodeName = src.kind === 'node' ? (opts.nodeLayouts ?? DEFAULT_LAYOUTS)[src.node].name : undefined;
    const nodeTex = nodeName ? nodes.get(nodeName) : undefined;
    const isU = nodeTex?.format === 'rgba32uint';
    // A general-path node of one layer is a plain 2D texture to this pass.
    const isArray = !isU && (nodeTex?.depthOrArrayLayers ?? 1) > 1;
    const mode = { output: 0, feature: 1, node: isU ? 3 : isArray ? 6 : 2, target: 4, diff: 5 }[src.kind];
    const channel = src.kind === 'feature' || src.kind === 'node' ? src.channel : 0;
    const signed = src.kind === 'feature' && SIGNED_FEATURES.has(src.channel) ? 1 : 0;
    const layout = { single: 0, split: 1, 'side-by-side': 2 }[opts.layout];
    const { size, offsets } = UNIFORM_LAYOUTS.View;
    const buf = new ArrayBuffer(size);
    const dv = new DataView(buf);
    dv.setUint32(offsets.mode, mode, true);
    dv.setUint32(offsets.channel, channel, true);
    dv.setUint32(offsets.arrangement, layout, true);
    dv.setUint32(offsets.signed_, signed, true);
    dv.setFloat32(offsets.split, opts.split, true);
    dv.setFloat32(offsets.gain, opts.gain, true);
    this.ctx.device.queue.writeBuffer(this.uniform, 0, buf);
    const out = nodes.get(output)!;
    const bindGroup = this.ctx.device.createBindGroup({
      label: 'cnn_v3 view',
      layout: this.pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: this.uniform } },
        { binding: 1, resource: out.createView() },
        { binding: 2, resource: nodes.get('gbuf_feat0')!.createView() },
        { binding: 3, resource: nodes.get('gbuf_feat1')!.createView() },
        { binding: 4, resource: (nodeTex && !isU && !isArray ? nodeTex : this.dummies.f).createView() },
        { binding: 5, resource: (nodeTex && isU ? nodeTex : this.dummies.u).createView() },
        { binding: 6, resource: (nodes.get(TARGET_NODE) ?? this.dummies.f).createView() },
        { binding: 7, resource: (isArray ? nodeTex! : this.dummies.a).createView({ label: 'cnn_v3 view node layers', dimension: '2d-array' }) },
      ],
    });
    const pass = encoder.beginRenderPass({
      label: 'cnn_v3 view',
      colorAttachments: [{ view: target, loadOp: 'clear', storeOp: 'store', clearValue: { r: 0, g: 0, b: 0, a: 1 } }],
    });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.draw(3);
    pass.end();
  }
}
