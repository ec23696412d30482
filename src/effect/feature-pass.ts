/**
 * Feature packing on the GPU: a caller hands in a sample's planes (or a photo's), this uploads
 * them as textures and a compute pass writes the 20 channels packed into the `gbuf_feat0/1`
 * nodes (SPEC §3), reading the previous output from `prev_cnn` when that node exists.
 */
import type { Sample } from '../dataset/sample.js';
import { hasAlpha, toRgba8, type Raster } from '../image/image.js';
import type { TextureNodes } from './nodes.js';
import { WGSL } from './shaders.generated.js';

/** A sample's planes; missing ones take the neutral photo values of SPEC §2. */
export interface FeaturePlanes {
  width: number;
  height: number;
  /** RGB, 3 bytes per pixel. */
  albedo: Uint8Array;
  /** Octahedral RG, 2 bytes per pixel (default 128, 128). */
  normal?: Uint8Array;
  /** depth.png values (default 0). */
  depth?: Uint16Array;
  matid?: Uint8Array;
  /** Default 255 (lit). */
  shadow?: Uint8Array;
  /** Default 0 (opaque). */
  transp?: Uint8Array;
}

/** The planes with SPEC §2's neutral values filled in (also what the CPU features are computed from). */
export function completePlanes(p: FeaturePlanes): Required<FeaturePlanes> {
  const n = p.width * p.height;
  return {
    width: p.width,
    height: p.height,
    albedo: p.albedo,
    normal: p.normal ?? new Uint8Array(n * 2).fill(128),
    depth: p.depth ?? new Uint16Array(n),
    matid: p.matid ?? new Uint8Array(n),
    shadow: p.shadow ?? new Uint8Array(n).fill(255),
    transp: p.transp ?? new Uint8Array(n),
  };
}

export function planesFromSample(s: Sample): FeaturePlanes {
  return { width: s.width, height: s.height, albedo: s.albedo, normal: s.normal, depth: s.depth, matid: s.matid, shadow: s.shadow, transp: s.transp };
}

/** A photo in simple mode: albedo from its colour, transp = 255 − alpha. */
export function planesFromPhoto(photo: Raster): FeaturePlanes {
  const rgba = toRgba8(photo);
  const n = photo.width * photo.height;
  const albedo = new Uint8Array(n * 3);
  const transp = new Uint8Array(n);
  for (let p = 0; p < n; p++) {
    albedo[p * 3] = rgba[p * 4]!;
    albedo[p * 3 + 1] = rgba[p * 4 + 1]!;
    albedo[p * 3 + 2] = rgba[p * 4 + 2]!;
    if (hasAlpha(photo)) transp[p] = 255 - rgba[p * 4 + 3]!;
  }
  return { width: photo.width, height: photo.height, albedo, transp };
}

export const FEATURE_NODES = { feat0: 'gbuf_feat0', feat1: 'gbuf_feat1', prev: 'prev_cnn' } as const;

const INPUT_NODES = {
  albedoMatid: 'cnn_in_albedo_matid',
  normalShadowTransp: 'cnn_in_normal_shadow_transp',
  depth: 'cnn_in_depth',
  zero: 'cnn_in_zero',
} as const;

export class FeaturePass {
  private readonly pipeline: GPUComputePipeline;
  private bindGroup?: GPUBindGroup;
  private boundTo: GPUTexture[] = [];

  constructor(
    readonly device: GPUDevice,
    readonly outputs: { feat0: string; feat1: string; prev: string } = FEATURE_NODES,
  ) {
    const module = device.createShaderModule({ label: 'cnn_v3 pack_features', code: WGSL.pack_features });
    this.pipeline = device.createComputePipeline({ label: 'cnn_v3 pack_features', layout: 'auto', compute: { module, entryPoint: 'main' } });
  }

  /** Uploads the planes into the pass's input nodes (recreated when the size changes). */
  upload(partial: FeaturePlanes, nodes: TextureNodes): void {
    const planes = completePlanes(partial);
    const { width: W, height: H } = planes;
    const n = W * H;
    const usage = GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST;
    const am = new Uint8Array(n * 4);
    const nst = new Uint8Array(n * 4);
    const depth = new Float32Array(n);
    for (let p = 0; p < n; p++) {
      am[p * 4] = planes.albedo[p * 3]!;
      am[p * 4 + 1] = planes.albedo[p * 3 + 1]!;
      am[p * 4 + 2] = planes.albedo[p * 3 + 2]!;
      am[p * 4 + 3] = planes.matid[p]!;
      nst[p * 4] = planes.normal[p * 2]!;
      nst[p * 4 + 1] = planes.normal[p * 2 + 1]!;
      nst[p * 4 + 2] = planes.shadow[p]!;
      nst[p * 4 + 3] = planes.transp[p]!;
      depth[p] = planes.depth[p]! / 65535;
    }
    const put = (name: string, format: GPUTextureFormat, data: Uint8Array<ArrayBuffer>, bpp: number) => {
      const { texture } = nodes.ensure(name, format, W, H, usage);
      this.device.queue.writeTexture({ texture }, data, { bytesPerRow: W * bpp, rowsPerImage: H }, { width: W, height: H });
    };
    put(INPUT_NODES.albedoMatid, 'rgba8unorm', am, 4);
    put(INPUT_NODES.normalShadowTransp, 'rgba8unorm', nst, 4);
    put(INPUT_NODES.depth, 'r32float', new Uint8Array(depth.buffer), 4);
    // Black stand-in for prev_cnn before the first frame (textures start zeroed).
    nodes.ensure(INPUT_NODES.zero, 'rgba16float', W, H, usage);
  }

  /**
   * The input planes as textures of a size, for a producer that renders them on the GPU
   * (GBufferEffect) instead of uploading them; `usage` is added to what upload needs, so both
   * kinds of producer share the nodes without recreating them. Same contents as upload's:
   * albedo.rgb + matid / 255, oct normal r, g + shadow + transp (bytes / 255), depth.png / 65535.
   */
  inputTextures(nodes: TextureNodes, width: number, height: number, usage: GPUTextureUsageFlags): { albedoMatid: GPUTexture; normalShadowTransp: GPUTexture; depth: GPUTexture } {
    const all = usage | GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST;
    const ensure = (name: string, format: GPUTextureFormat) => nodes.ensure(name, format, width, height, all).texture;
    const textures = {
      albedoMatid: ensure(INPUT_NODES.albedoMatid, 'rgba8unorm'),
      normalShadowTransp: ensure(INPUT_NODES.normalShadowTransp, 'rgba8unorm'),
      depth: ensure(INPUT_NODES.depth, 'r32float'),
    };
    nodes.ensure(INPUT_NODES.zero, 'rgba16float', width, height, GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST);
    return textures;
  }

  /** The pass over the named nodes: the uploaded (or rendered) planes and `prev` when it has their size. */
  encode(encoder: GPUCommandEncoder, nodes: TextureNodes): void {
    const am = nodes.get(INPUT_NODES.albedoMatid);
    if (!am) throw new Error('FeaturePass.encode before upload');
    const { width: W, height: H } = am;
    const usage = GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_SRC;
    const feat0 = nodes.ensure(this.outputs.feat0, 'rgba32uint', W, H, usage).texture;
    const feat1 = nodes.ensure(this.outputs.feat1, 'rgba32uint', W, H, usage).texture;
    const prev = nodes.get(this.outputs.prev);
    const prevTex = prev && prev.width === W && prev.height === H ? prev : nodes.get(INPUT_NODES.zero)!;
    this.encodeTextures(encoder, { albedoMatid: am, normalShadowTransp: nodes.get(INPUT_NODES.normalShadowTransp)!, depth: nodes.get(INPUT_NODES.depth)!, prev: prevTex }, feat0, feat1);
  }

  /** The pass over textures: the planes (CNNv3Effect's GBufferTextures layout) → feat0, feat1 of their size. */
  encodeTextures(encoder: GPUCommandEncoder, planes: { albedoMatid: GPUTexture; normalShadowTransp: GPUTexture; depth: GPUTexture; prev: GPUTexture }, feat0: GPUTexture, feat1: GPUTexture): void {
    const { width: W, height: H } = planes.albedoMatid;
    const textures = [planes.albedoMatid, planes.normalShadowTransp, planes.depth, planes.prev, feat0, feat1];
    if (!this.bindGroup || textures.some((t, k) => t !== this.boundTo[k])) {
      this.bindGroup = this.device.createBindGroup({
        label: 'cnn_v3 pack_features',
        layout: this.pipeline.getBindGroupLayout(0),
        entries: textures.map((t, k) => ({ binding: k, resource: t.createView({ label: `${t.label} view` }) })),
      });
      this.boundTo = textures;
    }
    const pass = encoder.beginComputePass({ label: 'cnn_v3 pack_features' });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroup);
    pass.dispatchWorkgroups(Math.ceil(W / 8), Math.ceil(H / 8));
    pass.end();
  }
}
