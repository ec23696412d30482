// Small WebGPU helpers the two embedding examples share (plain ESM, no dependencies): drawing
// the effect's rgba16float output onto a canvas, and reading a texture back.

const BLIT_WGSL = /* wgsl */ `
@group(0) @binding(0) var src: texture_2d<f32>;
@vertex fn vs(@builtin(vertex_index) i: u32) -> @builtin(position) vec4f {
  let p = vec2f(f32((i << 1u) & 2u), f32(i & 2u));
  return vec4f(p * 2.0 - 1.0, 0.0, 1.0);
}
@fragment fn fs(@builtin(position) pos: vec4f) -> @location(0) vec4f {
  return vec4f(clamp(textureLoad(src, vec2i(pos.xy), 0).rgb, vec3f(0.0), vec3f(1.0)), 1.0);
}`;

/**
 * A canvas showing a texture of its size as stored (the effect writes sRGB-encoded values, which
 * a non-sRGB canvas format displays as they are).
 */
export function canvasView(device, canvas) {
  const context = canvas.getContext('webgpu');
  const format = navigator.gpu.getPreferredCanvasFormat();
  context.configure({ device, format, alphaMode: 'opaque' });
  const module = device.createShaderModule({ label: 'example blit', code: BLIT_WGSL });
  const pipeline = device.createRenderPipeline({
    label: 'example blit',
    layout: 'auto',
    vertex: { module, entryPoint: 'vs' },
    fragment: { module, entryPoint: 'fs', targets: [{ format }] },
  });
  return {
    /** Records the draw of `texture` into `encoder`. */
    draw(encoder, texture) {
      const pass = encoder.beginRenderPass({
        label: 'example blit',
        colorAttachments: [{ view: context.getCurrentTexture().createView(), loadOp: 'clear', storeOp: 'store', clearValue: [0, 0, 0, 1] }],
      });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, device.createBindGroup({ label: 'example blit', layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: texture.createView() }] }));
      pass.draw(3);
      pass.end();
    },
  };
}

function halfToFloat(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

const BYTES_PER_TEXEL = { rgba16float: 8, rgba32float: 16, rgba8unorm: 4 };

/** A texture's texels as floats, 4 per pixel, row-major (rgba16float, rgba32float, rgba8unorm). */
export async function readTexture(device, texture) {
  const bpt = BYTES_PER_TEXEL[texture.format];
  if (!bpt) throw new Error(`readTexture: ${texture.format} is not supported`);
  const { width, height } = texture;
  const bytesPerRow = Math.ceil((width * bpt) / 256) * 256;
  const buffer = device.createBuffer({ label: 'example readback', size: bytesPerRow * height, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  const encoder = device.createCommandEncoder({ label: 'example readback' });
  encoder.copyTextureToBuffer({ texture }, { buffer, bytesPerRow }, [width, height]);
  device.queue.submit([encoder.finish()]);
  await buffer.mapAsync(GPUMapMode.READ);
  const mapped = buffer.getMappedRange();
  const out = new Float32Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const row = y * bytesPerRow;
    for (let i = 0; i < width * 4; i++) {
      const o = y * width * 4 + i;
      if (texture.format === 'rgba16float') out[o] = halfToFloat(new Uint16Array(mapped, row, width * 4)[i]);
      else if (texture.format === 'rgba32float') out[o] = new Float32Array(mapped, row, width * 4)[i];
      else out[o] = new Uint8Array(mapped, row, width * 4)[i] / 255;
    }
  }
  buffer.unmap();
  buffer.destroy();
  return { width, height, data: Array.from(out) };
}

/** Sliders for the model's FiLM condition; `onInput` runs on every move. */
export function condSliders(form, names, onInput) {
  const sliders = names.map((name) => {
    const label = document.createElement('label');
    const input = Object.assign(document.createElement('input'), { type: 'range', min: '0', max: '1', step: '0.01', value: '0.5', name });
    label.append(`${name} `, input);
    form.append(label);
    input.addEventListener('input', onInput);
    return input;
  });
  return {
    values: () => sliders.map((s) => Number(s.value)),
    set(values) {
      values.forEach((v, i) => (sliders[i].value = String(v)));
    },
  };
}
