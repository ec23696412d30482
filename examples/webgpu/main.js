// cnn-v3 in an app that owns its WebGPU device: a photo texture in, the effect recorded into our
// own command encoder, its rgba16float output drawn onto our canvas by our own pass. Plain ESM,
// no bundler (see the import map in index.html).
import { CNNv3Effect, FILM_COND_NAMES } from 'cnn-v3/effect';
import { canvasView, condSliders, readTexture } from '../shared/gpu.js';

const params = new URLSearchParams(location.search);
const PHOTO = params.get('photo') ?? '../photos/cat.png';
// The styles example model: style_p0 / style_p1 pick a warm grade or a sepia, audio_intensity is its strength.
const WEIGHTS = params.get('weights') ?? '../styles/cnn_v3_weights.bin';
const FILM = params.get('film') ?? '../styles/cnn_v3_film_mlp.bin';

const status = document.getElementById('status');
const canvas = document.getElementById('canvas');

async function bytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.arrayBuffer();
}

/** The photo's bytes exactly as stored (no colour management, no premultiplication). */
async function photoTexture(device, url) {
  const bitmap = await createImageBitmap(new Blob([await bytes(url)]), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const texture = device.createTexture({
    label: 'example photo',
    size: [bitmap.width, bitmap.height],
    format: 'rgba8unorm',
    usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST | GPUTextureUsage.RENDER_ATTACHMENT,
  });
  device.queue.copyExternalImageToTexture({ source: bitmap }, { texture }, [bitmap.width, bitmap.height]);
  return texture;
}

async function main() {
  if (!navigator.gpu) throw new Error('WebGPU is not available in this browser');
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter');
  const device = await adapter.requestDevice({ label: 'example device' });

  const [weights, film, photo] = await Promise.all([bytes(WEIGHTS), bytes(FILM), photoTexture(device, PHOTO)]);
  document.getElementById('photo').src = PHOTO;
  const fx = new CNNv3Effect(device, { weights, film });

  canvas.width = photo.width;
  canvas.height = photo.height;
  const view = canvasView(device, canvas);
  const sliders = condSliders(document.getElementById('sliders'), FILM_COND_NAMES.slice(0, fx.config.filmCondDim), () => frame());

  let output;
  function frame() {
    const encoder = device.createCommandEncoder({ label: 'example frame' });
    output = fx.render(encoder, { input: photo, cond: sliders.values() });
    view.draw(encoder, output);
    device.queue.submit([encoder.finish()]);
  }
  frame();

  // For the suite (and the curious): the last output as floats, and the sliders set at once.
  window.cnnv3Example = {
    readOutput: async () => (await device.queue.onSubmittedWorkDone(), readTexture(device, output)),
    setCond(values) {
      sliders.set(values);
      frame();
    },
  };
  status.textContent = `${adapter.info?.description || adapter.info?.vendor || 'WebGPU'} · model ${fx.config.encChannels.join('/')} · move the sliders`;
  status.dataset.state = 'ready';
}

main().catch((err) => {
  status.textContent = `error: ${err.message}`;
  status.dataset.state = 'error';
  console.error(err);
});
