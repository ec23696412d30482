// cnn-v3 inside a three.js app: WebGPURenderer draws the scene once lit (left) and once into an
// MRT G-buffer (right); CNNv3Effect runs on the renderer's own GPUDevice, reading the MRT
// textures, between the scene and the screen. The G-buffer follows the conventions the effect
// was trained on (SPEC §2, Blender's route): sRGB-encoded base colour, world normal in
// Blender's Z-up axes octahedral-encoded, 1 / (view depth + 1).
import * as THREE from 'three/webgpu';
import { abs, diffuseColor, float, Fn, If, mrt, normalWorld, positionView, select, sRGBTransferOETF, vec2, vec3, vec4 } from 'three/tsl';
import { CNNv3Effect, FILM_COND_NAMES } from 'cnn-v3/effect';
import { canvasView, condSliders, readTexture } from '../shared/gpu.js';

const params = new URLSearchParams(location.search);
// The Blender example model was trained on G-buffers: full mode.
const WEIGHTS = params.get('weights') ?? '../blender/cnn_v3_weights.bin';
const FILM = params.get('film') ?? '../blender/cnn_v3_film_mlp.bin';
const status = document.getElementById('status');

async function bytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.arrayBuffer();
}

// SPEC §2's octahedral encoding of a unit normal, to 0..1.
const octEncode = Fn(([n]) => {
  const p = n.xy.div(abs(n.x).add(abs(n.y)).add(abs(n.z))).toVar();
  If(n.z.lessThan(0), () => {
    const s = vec2(select(p.x.greaterThanEqual(0), float(1), float(-1)), select(p.y.greaterThanEqual(0), float(1), float(-1)));
    p.assign(vec2(float(1).sub(abs(p.y)), float(1).sub(abs(p.x))).mul(s));
  });
  return p.clamp(-1, 1).mul(0.5).add(0.5);
});

// The MRT outputs, one per G-buffer texture the effect reads (CNNv3Effect's GBufferTextures).
const nWorld = normalWorld.normalize();
const nBlender = vec3(nWorld.x, nWorld.z.negate(), nWorld.y); // three (Y up) → Blender (Z up)
const GBUFFER_MRT = mrt({
  albedoMatid: vec4(sRGBTransferOETF(diffuseColor.rgb.clamp(0, 1)), 0), // material id 0
  normalShadowTransp: vec4(octEncode(nBlender), 1, 0), // lit everywhere, opaque
  depth: vec4(float(1).div(positionView.z.negate().add(1)), 0, 0, 1),
});

function makeScene() {
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(0x000000);
  const add = (geometry, color, x, y, z) => {
    const mesh = new THREE.Mesh(geometry, new THREE.MeshStandardNodeMaterial({ color, roughness: 0.6 }));
    mesh.position.set(x, y, z);
    scene.add(mesh);
    return mesh;
  };
  const floor = add(new THREE.PlaneGeometry(12, 12), 0x8a8f80, 0, 0, 0);
  floor.rotation.x = -Math.PI / 2;
  const spinning = [
    add(new THREE.TorusKnotGeometry(0.7, 0.25, 128, 24), 0xc0392b, -1.6, 1.2, 0),
    add(new THREE.BoxGeometry(1.2, 1.2, 1.2), 0x2e86c1, 0.6, 0.6, 0.8),
    add(new THREE.SphereGeometry(0.8, 48, 24), 0xf1c40f, 2.0, 0.8, -0.8),
  ];
  scene.add(new THREE.HemisphereLight(0xbfd4ff, 0x403020, 1.2));
  const sun = new THREE.DirectionalLight(0xffffff, 2.5);
  sun.position.set(4, 8, 3);
  scene.add(sun);
  const camera = new THREE.PerspectiveCamera(50, 16 / 9, 0.1, 100);
  camera.position.set(0, 3.2, 7);
  camera.lookAt(0, 0.8, 0);
  return {
    scene,
    camera,
    at(t) {
      spinning.forEach((m, i) => m.rotation.set(0.4 * t + i, 0.7 * t + i * 0.5, 0));
    },
  };
}

async function main() {
  const lit = document.getElementById('lit');
  const styled = document.getElementById('styled');
  const { width, height } = styled;
  const renderer = new THREE.WebGPURenderer({ canvas: lit, antialias: false });
  renderer.setPixelRatio(1);
  renderer.setSize(width, height, false);
  await renderer.init();
  if (!renderer.backend.isWebGPUBackend) throw new Error('three.js fell back to WebGL: this example needs WebGPU');
  const device = renderer.backend.device;

  // The G-buffer: one render target, three named attachments the MRT node writes by name.
  const gbuffer = new THREE.RenderTarget(width, height, { count: 3, type: THREE.HalfFloatType, depthBuffer: true });
  ['albedoMatid', 'normalShadowTransp', 'depth'].forEach((name, i) => (gbuffer.textures[i].name = name));

  const [weights, film] = await Promise.all([bytes(WEIGHTS), bytes(FILM)]);
  const fx = new CNNv3Effect(device, { weights, film });
  const view = canvasView(device, styled);
  const sliders = condSliders(document.getElementById('sliders'), FILM_COND_NAMES.slice(0, fx.config.filmCondDim), () => animate.checked || frame(time));
  const animate = document.getElementById('animate');
  const { scene, camera, at } = makeScene();

  // three.js's GPUTexture behind a render-target texture (valid once three has rendered into it).
  const gpuTexture = (texture) => renderer.backend.get(texture).texture;

  let output;
  let time = 0;
  function frame(t) {
    time = t;
    at(t);
    renderer.setRenderTarget(null);
    renderer.setMRT(null);
    renderer.render(scene, camera);
    renderer.setRenderTarget(gbuffer);
    renderer.setMRT(GBUFFER_MRT);
    renderer.render(scene, camera);
    renderer.setRenderTarget(null);
    renderer.setMRT(null);

    // Our commands go after three's on the same queue, so they see this frame's G-buffer.
    const encoder = device.createCommandEncoder({ label: 'cnn-v3 after three.js' });
    const [albedoMatid, normalShadowTransp, depth] = gbuffer.textures.map(gpuTexture);
    output = fx.render(encoder, { input: { gbuffer: { albedoMatid, normalShadowTransp, depth } }, cond: sliders.values() });
    view.draw(encoder, output);
    device.queue.submit([encoder.finish()]);
  }

  const t0 = performance.now();
  renderer.setAnimationLoop(() => {
    if (animate.checked) frame((performance.now() - t0) / 1000);
  });
  frame(0);

  // For the suite: a still frame at a time, its G-buffer and output read back.
  window.cnnv3Example = {
    async renderAt(t, cond) {
      animate.checked = false;
      if (cond) sliders.set(cond);
      frame(t);
      await device.queue.onSubmittedWorkDone();
    },
    readGBuffer: async () => Object.fromEntries(await Promise.all(gbuffer.textures.map(async (tex) => [tex.name, await readTexture(device, gpuTexture(tex))]))),
    readOutput: () => readTexture(device, output),
  };
  status.textContent = `three.js r${THREE.REVISION} on WebGPU · model ${fx.config.encChannels.join('/')} · move the sliders`;
  status.dataset.state = 'ready';
}

main().catch((err) => {
  status.textContent = `error: ${err.message}`;
  status.dataset.state = 'error';
  console.error(err);
});
