/** Draws the demo's sink onto a canvas texture (the browser player's present pass). */
import type { GpuContext } from '../gpu/context.js';
import { WGSL } from './shaders.generated.js';

export class SinkBlit {
  private readonly pipeline: GPURenderPipeline;
  private bindGroup?: GPUBindGroup;
  private boundTo?: GPUTexture;

  constructor(readonly ctx: GpuContext, readonly format: GPUTextureFormat) {
    const module = ctx.device.createShaderModule({ label: 'demo blit', code: WGSL.demo_blit });
    this.pipeline = ctx.device.createRenderPipeline({
      label: 'demo blit',
      layout: 'auto',
      vertex: { module, entryPoint: 'vs' },
      fragment: { module, entryPoint: 'fs', targets: [{ format }] },
      primitive: { topology: 'triangle-list' },
    });
  }

  encode(encoder: GPUCommandEncoder, target: GPUTextureView, sink: GPUTexture): void {
    if (!this.bindGroup || this.boundTo !== sink) {
      this.bindGroup = this.ctx.device.createBindGroup({
        label: 'demo blit',
        layout: this.pipeline.getBindGroupLayout(0),
        entries: [{ binding: 0, resource: sink.createView({ label: 'demo blit sink view' }) }],
      });
      this.boundTo = sink;
    }
    const pass = encoder.beginRenderPass({
      label: 'demo blit',
      colorAttachments: [{ view: target, loadOp: 'clear', storeOp: 'store', clearValue: { r: 0, g: 0, b: 0, a: 1 } }],
    });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroup);
    pass.draw(3);
    pass.end();
  }
}
