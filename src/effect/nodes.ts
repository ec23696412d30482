/**
 * Named textures shared between effects (the render graph's nodes). A node is created on first
 * write at the size and format its writer asks for, and recreated when either changes.
 */
export class TextureNodes {
  private readonly textures = new Map<string, GPUTexture>();

  constructor(private readonly device: GPUDevice) {}

  get(name: string): GPUTexture | undefined {
    return this.textures.get(name);
  }

  /**
   * The node's texture, (re)created to match; `layers` > 1 makes it a texture array. Returns
   * whether it is new (bind groups must follow).
   */
  ensure(name: string, format: GPUTextureFormat, width: number, height: number, usage: GPUTextureUsageFlags, layers = 1): { texture: GPUTexture; created: boolean } {
    const t = this.textures.get(name);
    if (t && t.format === format && t.width === width && t.height === height && t.depthOrArrayLayers === layers && (t.usage & usage) === usage) {
      return { texture: t, created: false };
    }
    t?.destroy();
    const texture = this.device.createTexture({ label: name, format, size: { width, height, depthOrArrayLayers: layers }, usage });
    this.textures.set(name, texture);
    return { texture, created: true };
  }

  /** Registers a texture made elsewhere (e.g. an uploaded input) under a name. */
  set(name: string, texture: GPUTexture): void {
    const t = this.textures.get(name);
    if (t && t !== texture) t.destroy();
    this.textures.set(name, texture);
  }

  names(): string[] {
    return [...this.textures.keys()];
  }

  destroy(): void {
    for (const t of this.textures.values()) t.destroy();
    this.textures.clear();
  }
}
