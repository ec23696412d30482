/**
 * Simple mode's first pass: a caller's photo texture → the G-buffer planes of a photo sample
 * (SPEC §2), so a photo on the GPU takes the same feature pass as a rendered G-buffer.
 */
import type { TextureNodes } from './nodes.js';
import { WGSL } from './shaders.generated.js';

const PLANE_NODES = { albedoMatid: 'cnn_v3_photo_albedo_matid', normalShadowTransp: 'cnn_v3_photo_normal_shadow_transp', depth: 'cnn_v3_photo_depth' } as const;

export class PhotoPlanesPass {
  private readonly pipeline: GPUComputePipeline;
  private bindGroup?: GPUBindGroup;
  private boundTo: GPUTexture[] = [];

  constructor(readonly device: GPUDevice) {
    const module = device.createShaderModule({ label: 'cnn_v3 photo_planes', code: WGSL.photo_planes });
    this.pipeline = device.createComputePipeline({ label: 'cnn_v3 photo_planes', layout: 'auto', compute: { module, entryPoint: 'main' } });
  }

  /** Encodes the pass; the planes live in `nodes` (depth stays 0: a photo has none). */
  encode(encoder: GPUCommandEncoder, photo: GPUTexture, nodes: TextureNodes): { albedoMatid: GPUTexture; normalShadowTransp: GPUTexture; depth: GPUTexture } {
    const { width, height } = photo;
    const usage = GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.TEXTURE_BINDING;
    const planes = {
      albedoMatid: nodes.ensure(PLANE_NODES.albedoMatid, 'rgba8unorm', width, height, usage).texture,
      normalShadowTransp: nodes.ensure(PLANE_NODES.normalShadowTransp, 'rgba8unorm', width, height, usage).texture,
      depth: nodes.ensure(PLANE_NODES.depth, 'r32float', width, height, GPUTextureUsage.TEXTURE_BINDING).texture,
    };
    const textures = [photo, planes.albedoMatid, planes.normalShadowTransp];
    if (!this.bindGroup || textures.some((t, k) => t !== this.boundTo[k])) {
      this.bindGroup = this.device.createBindGroup({
        label: 'cnn_v3 photo_planes',
        layout: this.pipeline.getBindGroupLayout(0),
        entries: textures.map((t, k) => ({ binding: k, resource: t.createView({ label: `${t.label} view` }) })),
      });
      this.boundTo = textures;
    }
    const pass = encoder.beginComputePass({ label: 'cnn_v3 photo_planes' });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroup);
    pass.dispatchWorkgroups(Math.ceil(width / 8), Math.ceil(height / 8));
    pass.end();
    return planes;
  }
}
