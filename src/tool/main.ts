/**
 * The HTML WebGPU tool (SPEC §10): load weights and an input, move the FiLM sliders, look at
 * the output, any input channel or intermediate channel, the target and the difference, with
 * GPU time per frame. Built with Vite from the same library code the CLI runs.
 */
import filmUrl from '../../examples/weights/cnn_v3_film_mlp.bin?url';
import weightsUrl from '../../examples/weights/cnn_v3_weights.bin?url';
import { FEATURE_NAMES } from '../dataset/features.js';
import { SAMPLE_FILES, STYLE_FILE, type SampleFileName } from '../dataset/layout.js';
import { loadSample, type Sample } from '../dataset/sample.js';
import { CnnV3Error } from '../errors.js';
import { readFilmMlpBin, readWeightsBin, weightsFileConfig } from '../export/read.js';
import { cnnNodeLayouts, type CnnNode } from '../effect/cnn-effect.js';
import { CnnNodeEffect } from '../effect/cnn-node-effect.js';
import { contextFromGpu, type GpuContext } from '../gpu/context.js';
import { FEATURE_NODES, FeaturePass, planesFromPhoto, planesFromSample, type FeaturePlanes } from '../effect/feature-pass.js';
import { TextureNodes } from '../effect/nodes.js';
import { readRgba16f, readRgba32u } from '../gpu/readback.js';
import { TARGET_NODE, ViewPass, type ViewLayout, type ViewSource } from '../effect/view-pass.js';
import { decodeImage } from '../image/decode.js';
import { encodePng } from '../image/png.js';
import { readExrParts } from '../exr/exr.js';
import { packBlenderSample } from '../pack/blender.js';
import { packPhotoSample } from '../pack/photo.js';
import { floatRgbaTo8, type Raster } from '../image/image.js';
import { psnr } from '../image/metrics.js';
import { zeroPackedChannels } from '../dataset/gpu-pack.js';
import { CHANNEL_GROUPS, measureAblation, type Ablation } from '../eval/ablate.js';
import { setupTrainPanel } from './train-panel.js';
import { DEFAULT_MODEL_CONFIG, FILM_COND_NAMES, STYLE_COND_INDEX, sameModelConfig, type ModelConfig } from '../model/config.js';
import { $, setStatus, showAdapter, showError } from './page-status.js';

// The model of the loaded weights file: its extension trailer (e.g. the residual output) says
// when it is not the playbook's default; loading such a file rebuilds the effect.
let config: ModelConfig = DEFAULT_MODEL_CONFIG;
const OUTPUT = 'cnn_v3_output';


// ---------------------------------------------------------------- UI state

const ui = {
  gpuTime: $<HTMLElement>('gpu-time'),
  psnr: $<HTMLElement>('psnr'),
  size: $<HTMLElement>('size'),
  canvas: $<HTMLCanvasElement>('output-canvas'),
  weightsNote: $<HTMLElement>('weights-note'),
  inputNote: $<HTMLElement>('input-note'),
  viewSelect: $<HTMLSelectElement>('view-select'),
  layoutSelect: $<HTMLSelectElement>('layout-select'),
  split: $<HTMLInputElement>('split'),
  gain: $<HTMLInputElement>('gain'),
};

const sliders = new Map<string, HTMLInputElement>();
const sliderLabels = new Map<string, HTMLSpanElement>();
for (const name of FILM_COND_NAMES) {
  const label = document.createElement('label');
  const text = document.createElement('span');
  text.dataset['testid'] = `slider-label-${name}`;
  const input = document.createElement('input');
  input.type = 'range';
  input.min = '0';
  input.max = '1';
  input.step = '0.01';
  input.value = name.startsWith('style') ? '0.5' : '0';
  input.dataset['testid'] = `slider-${name}`;
  input.addEventListener('input', () => scheduleRender());
  label.append(text, ' ', input);
  $('sliders').append(label);
  sliders.set(name, input);
  sliderLabels.set(name, text);
}

/**
 * Names the sliders after what the loaded model learned (ModelConfig.strengthCond/styleConds):
 * its strength knob says "strength" and starts at 1 (the full style), its style entries say
 * which style axis they are; entries past the model's condition are disabled.
 */
function labelSliders(): void {
  FILM_COND_NAMES.forEach((name, k) => {
    const input = sliders.get(name)!;
    let text: string = name;
    if (config.strengthCond === k) text = `strength (${name}): 0 = the input, 1 = the style`;
    else if (config.styleConds && (STYLE_COND_INDEX as readonly number[]).includes(k)) text = `style axis ${k - STYLE_COND_INDEX[0] + 1} (${name})`;
    const becameStrength = config.strengthCond === k && !sliderLabels.get(name)!.textContent!.startsWith('strength');
    sliderLabels.get(name)!.textContent = text;
    if (becameStrength) input.value = '1';
    input.disabled = k >= config.filmCondDim;
  });
}
labelSliders();

// View choices: the output, the 20 input channels, every intermediate channel of the loaded
// model (rebuilt when a weights file brings another model), target, diff.
let sources: Array<{ label: string; source: ViewSource }> = [];
function fillViewSelect(): void {
  const shown = ui.viewSelect.selectedOptions[0]?.text;
  sources = [{ label: 'output', source: { kind: 'output' } }];
  FEATURE_NAMES.forEach((n, c) => sources.push({ label: `input ${c}: ${n}`, source: { kind: 'feature', channel: c } }));
  const layouts = cnnNodeLayouts(config);
  for (const node of Object.keys(layouts) as CnnNode[]) {
    const { name, channels } = layouts[node];
    for (let c = 0; c < channels; c++) sources.push({ label: `${name} ch ${c}`, source: { kind: 'node', node, channel: c } });
  }
  sources.push({ label: 'target', source: { kind: 'target' } }, { label: '|output − target|', source: { kind: 'diff' } });
  ui.viewSelect.replaceChildren(...sources.map((s, i) => new Option(s.label, String(i))));
  // The same choice stays shown where the new model has it (not an intermediate channel it lacks).
  ui.viewSelect.value = String(Math.max(0, sources.findIndex((s) => s.label === shown)));
}
fillViewSelect();
for (const el of [ui.viewSelect, ui.layoutSelect, ui.split, ui.gain]) el.addEventListener('input', () => scheduleRender());

// ---------------------------------------------------------------- GPU

interface Gpu {
  ctx: GpuContext;
  canvas: GPUCanvasContext;
  format: GPUTextureFormat;
  nodes: TextureNodes;
  features: FeaturePass;
  effect: CnnNodeEffect;
  view: ViewPass;
  timestamps: boolean;
}

let gpu: Gpu | undefined;
let planes: FeaturePlanes | undefined;
let target: Uint8Array | undefined;
let planesDirty = false;

// ---------------------------------------------------------------- frame history (prev_cnn)

const feedback = $<HTMLInputElement>('feedback');
/** Set when the history must start black: a new input, "reset history", feedback switched off. */
let historyDirty = true;

function historyNode(g: Gpu, width: number, height: number): GPUTexture {
  const usage = GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST | GPUTextureUsage.RENDER_ATTACHMENT;
  return g.nodes.ensure(FEATURE_NODES.prev, 'rgba16float', width, height, usage).texture;
}

function clearHistory(encoder: GPUCommandEncoder, g: Gpu, width: number, height: number): void {
  const view = historyNode(g, width, height).createView({ label: 'prev_cnn clear view' });
  encoder.beginRenderPass({ label: 'clear prev_cnn', colorAttachments: [{ view, loadOp: 'clear', storeOp: 'store', clearValue: { r: 0, g: 0, b: 0, a: 1 } }] }).end();
}

feedback.addEventListener('change', () => {
  historyDirty = true;
  scheduleRender();
});
$('reset-history').addEventListener('click', () => {
  historyDirty = true;
  scheduleRender();
});
let video: HTMLVideoElement | undefined;
// What the train panel trains on: the loaded input as a sample, else why it cannot be one. A
// photo becomes a sample (as `cnnv3 pack-photo` makes it) once its target is picked.
let trainable: Sample | undefined;
let untrainable = 'train: load a photo with its target, a sample or an EXR first';
let photo: { raster: Raster; name: string } | undefined;

async function initGpu(): Promise<Gpu> {
  const ctx = await contextFromGpu(navigator.gpu, ' in this browser: use a recent Chrome or Edge (or Chromium with --enable-unsafe-webgpu)');
  showAdapter(ctx.adapterName);
  const canvas = ui.canvas.getContext('webgpu');
  if (!canvas) throw new Error('this canvas cannot show WebGPU output');
  const format = navigator.gpu.getPreferredCanvasFormat();
  const nodes = new TextureNodes(ctx.device);
  const effect = new CnnNodeEffect(ctx.device, { config }, [FEATURE_NODES.feat0, FEATURE_NODES.feat1], [OUTPUT]);
  const timestamps = effect.effect.enableTimestamps();
  return { ctx, canvas, format, nodes, features: new FeaturePass(ctx.device), effect, view: new ViewPass(ctx, format), timestamps };
}

function filmValues(): number[] {
  return FILM_COND_NAMES.map((n) => Number(sliders.get(n)!.value));
}

let pending = false;
function scheduleRender(): void {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    render().catch(showError);
  });
}

async function render(): Promise<void> {
  if (!gpu) return;
  if (!planes) {
    setStatus('ready');
    return;
  }
  setStatus('rendering');
  const g = gpu;
  const { device } = g.ctx;
  if (planesDirty) {
    g.features.upload(planes, g.nodes);
    if (target) {
      const { texture } = g.nodes.ensure(TARGET_NODE, 'rgba8unorm', planes.width, planes.height, GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST);
      device.queue.writeTexture({ texture }, target as Uint8Array<ArrayBuffer>, { bytesPerRow: planes.width * 4 }, { width: planes.width, height: planes.height });
    }
    planesDirty = false;
  }
  g.effect.effect.setFilmParams(filmValues());
  const layout = ui.layoutSelect.value as ViewLayout;
  const [cw, ch] = ViewPass.canvasSize(planes.width, planes.height, layout);
  if (ui.canvas.width !== cw || ui.canvas.height !== ch) {
    ui.canvas.width = cw;
    ui.canvas.height = ch;
  }
  g.canvas.configure({ device, format: g.format, alphaMode: 'opaque' });
  const source = sources[Number(ui.viewSelect.value)]!.source;
  const hasTarget = target !== undefined;
  const shown: ViewSource = !hasTarget && (source.kind === 'target' || source.kind === 'diff') ? { kind: 'output' } : source;
  const t0 = performance.now();
  device.pushErrorScope('validation');
  const encoder = device.createCommandEncoder({ label: 'tool frame' });
  if (historyDirty) {
    clearHistory(encoder, g, planes.width, planes.height);
    historyDirty = false;
  }
  g.features.encode(encoder, g.nodes);
  g.effect.render(encoder, {}, g.nodes);
  // Feedback: this output is the next frame's prev.rgb, as in the demo engine.
  if (feedback.checked) encoder.copyTextureToTexture({ texture: g.nodes.get(OUTPUT)! }, { texture: historyNode(g, planes.width, planes.height) }, { width: planes.width, height: planes.height });
  g.view.encode(encoder, g.canvas.getCurrentTexture().createView(), g.nodes, OUTPUT, {
    source: shown,
    layout,
    split: Number(ui.split.value),
    gain: Number(ui.gain.value),
    nodeLayouts: g.effect.effect.nodeLayouts,
  });
  device.queue.submit([encoder.finish()]);
  const gpuError = await device.popErrorScope();
  if (gpuError) throw new Error(`WebGPU: ${gpuError.message}`);
  await device.queue.onSubmittedWorkDone();
  const wall = performance.now() - t0;
  const timings = g.timestamps ? await g.effect.effect.readTimings() : undefined;
  ui.gpuTime.textContent = timings ? `GPU ${timings.total.toFixed(3)} ms (timestamp queries)` : `frame ${wall.toFixed(2)} ms (wall clock: no timestamp queries)`;
  ui.size.textContent = `${planes.width}×${planes.height}`;
  ui.psnr.textContent = hasTarget ? `PSNR vs target ${targetPsnr(await readRgba16f(device, g.nodes.get(OUTPUT)!), target!).toFixed(2)} dB` : '';
  setStatus('ready');
}

/** PSNR of the output's RGB (clamped to [0, 1]) against the 8-bit target. */
function targetPsnr(out: Float32Array, tgt: Uint8Array): number {
  return psnr(Float64Array.from(out, (v) => Math.min(1, Math.max(0, v))), Float64Array.from(tgt, (v) => v / 255), 4, [0, 1, 2]);
}

// ---------------------------------------------------------------- inputs the model relies on

// `cnnv3 eval --ablate` on the page's GPU: the loaded input's features are packed once, then the
// effect runs on them as they are and with each channel group zeroed in the packed texels (the
// same groups and the same zeros as the CLI's reference), each output scored against the target.
const ablateUi = { button: $<HTMLButtonElement>('ablate-measure'), note: $<HTMLElement>('ablate-note'), bars: $<HTMLElement>('ablate-bars') };
const NEEDS_TARGET = 'needs a target: load a photo and its "target for the photo", a sample or an EXR with a target';
let ablating = false;
/** Bumped by every weights or FiLM file: a measurement that sees it change stops. */
let modelVersion = 0;

function ablateState(state: 'idle' | 'needs-target' | 'measuring' | 'done' | 'failed', note: string): void {
  ablateUi.note.dataset['state'] = state;
  ablateUi.note.textContent = note;
}

/** The panel for a new input or model: what Measure will do, or why it cannot. */
function resetAblation(): void {
  if (ablating) return; // the measurement under way notices the change and stops
  ablateUi.bars.replaceChildren();
  if (target) ablateState('idle', 'Measure: PSNR against the target with every input, then with each input group zeroed');
  else ablateState('needs-target', NEEDS_TARGET);
}

function showAblation(a: Ablation, cond: number[]): void {
  const widest = Math.max(0.01, ...a.rows.map((r) => r.drop));
  const cells = a.rows.flatMap((r, k) => {
    const name = document.createElement('span');
    name.textContent = r.group;
    name.title = `channels ${r.channels.join(', ')}: ${r.channels.map((c) => FEATURE_NAMES[c]).join(', ')}`;
    const bar = document.createElement('div');
    bar.className = k === 0 && r.drop > 0 ? 'ablate-bar top' : 'ablate-bar';
    bar.style.width = `${(100 * Math.max(0, r.drop)) / widest}%`;
    const num = document.createElement('span');
    num.className = 'num';
    num.textContent = `${r.drop >= 0 ? '−' : '+'}${Math.abs(r.drop).toFixed(2)} dB`;
    num.title = `${r.psnr.toFixed(2)} dB PSNR without ${r.group}`;
    Object.assign(num.dataset, { testid: 'ablate-row', group: r.group, drop: String(r.drop), psnr: String(r.psnr) });
    return [name, bar, num];
  });
  ablateUi.bars.replaceChildren(...cells);
  ablateUi.bars.dataset['full'] = String(a.full);
  const top = a.rows[0]!;
  const most = top.drop > 0 ? `It relies most on ${top.group}: ${top.drop.toFixed(2)} dB lost without it.` : 'Zeroing no group costs anything.';
  ablateState(
    'done',
    `every input: ${a.full.toFixed(2)} dB PSNR; PSNR lost with each group zeroed below. ${most} ` +
      `(One frame with prev black, as cnnv3 eval scores it; condition ${cond.map((v) => +v.toFixed(2)).join(',')}; on ${gpu!.ctx.adapterName}.)`,
  );
}

async function measureInputs(): Promise<void> {
  if (!gpu) throw new CnnV3Error('the viewer has no WebGPU device');
  if (!planes || !target) {
    resetAblation();
    return;
  }
  const g = gpu;
  const { device } = g.ctx;
  const [p, tgt, version] = [planes, target, modelVersion];
  const { width: W, height: H } = p;
  ablating = true;
  ablateUi.button.disabled = true;
  ablateUi.bars.replaceChildren();
  try {
    // The feature nodes take writes from here too; then a frame packs the input's features into them.
    const usage = GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_SRC | GPUTextureUsage.COPY_DST;
    for (const node of [FEATURE_NODES.feat0, FEATURE_NODES.feat1]) g.nodes.ensure(node, 'rgba32uint', W, H, usage);
    await render();
    const packed = [await readRgba32u(device, g.nodes.get(FEATURE_NODES.feat0)!), await readRgba32u(device, g.nodes.get(FEATURE_NODES.feat1)!)] as const;
    const cond = filmValues();
    const result = await measureAblation(
      async (zeroed) => {
        if (planes !== p || target !== tgt || modelVersion !== version || gpu !== g) throw new CnnV3Error('the input or the model changed while measuring: press Measure again');
        // prev (channels 9–11) is black in every run: one frame, as eval scores a sample.
        const z = zeroPackedChannels(packed[0], packed[1], [...CHANNEL_GROUPS.prev, ...zeroed]);
        // Written, encoded, submitted and read back with no await between: a frame rendered
        // meanwhile lands wholly before or after on the queue.
        for (const [node, words] of [[FEATURE_NODES.feat0, z.feat0], [FEATURE_NODES.feat1, z.feat1]] as const) {
          device.queue.writeTexture({ texture: g.nodes.get(node)! }, words as Uint32Array<ArrayBuffer>, { bytesPerRow: W * 16, rowsPerImage: H }, { width: W, height: H });
        }
        g.effect.effect.setFilmParams(cond);
        device.pushErrorScope('validation');
        const encoder = device.createCommandEncoder({ label: 'tool input ablation' });
        g.effect.render(encoder, {}, g.nodes);
        device.queue.submit([encoder.finish()]);
        const out = readRgba16f(device, g.nodes.get(OUTPUT)!);
        const gpuError = await device.popErrorScope();
        if (gpuError) throw new Error(`WebGPU: ${gpuError.message}`);
        return targetPsnr(await out, tgt);
      },
      (done, total, group) => ablateState('measuring', `measuring ${done + 1}/${total}: ${group === 'every input' ? group : `${group} zeroed`}…`),
    );
    showAblation(result, cond);
  } catch (e) {
    ablateState('failed', `failed: ${(e as Error).message}`);
    throw e;
  } finally {
    ablating = false;
    ablateUi.button.disabled = false;
    // The next frame packs the features again and shows the real output.
    scheduleRender();
  }
}

ablateUi.button.addEventListener('click', () => measureInputs().catch(showError));
resetAblation();

// ---------------------------------------------------------------- loading

async function bytesOf(file: File): Promise<Uint8Array> {
  return new Uint8Array(await file.arrayBuffer());
}

function setWeights(bytes: Uint8Array, label: string): void {
  const fileConfig = weightsFileConfig(bytes, label);
  readWeightsBin(fileConfig, bytes, label); // size check with the file's name
  const g = gpu!;
  if (!sameModelConfig(fileConfig, config)) {
    // A different network (the FiLM MLP of the old one no longer fits it: load the new one's).
    g.effect.destroy();
    g.effect = new CnnNodeEffect(g.ctx.device, { config: fileConfig }, [FEATURE_NODES.feat0, FEATURE_NODES.feat1], [OUTPUT]);
    g.timestamps = g.effect.effect.enableTimestamps();
    config = fileConfig;
    fillViewSelect();
    labelSliders();
  }
  g.effect.effect.uploadWeights(g.ctx.device.queue, bytes);
  ui.weightsNote.textContent = `weights: ${label}`;
  modelVersion++;
  resetAblation();
}

function setFilm(bytes: Uint8Array, label: string): void {
  readFilmMlpBin(config, bytes, label);
  gpu!.effect.effect.uploadFilmMlp(bytes, label);
  ui.weightsNote.textContent += ` · FiLM: ${label}`;
  modelVersion++;
  resetAblation();
}

/** A new input replaces the old: its video stops, the history starts black, nothing is kept for training. */
function resetInputState(): void {
  stopVideo();
  historyDirty = true;
  target = undefined;
  trainable = undefined;
  photo = undefined;
  resetAblation();
}

function setInput(p: FeaturePlanes, tgt: Uint8Array | undefined, label: string): void {
  resetInputState();
  planes = p;
  target = tgt;
  planesDirty = true;
  resetAblation();
  ui.inputNote.textContent = label;
  scheduleRender();
}

async function loadPhoto(file: File): Promise<void> {
  const raster = decodeImage(await bytesOf(file), file.name);
  setInput(planesFromPhoto(raster), undefined, `photo ${file.name}`);
  photo = { raster, name: file.name };
  untrainable = `train: the photo ${file.name} has no target: pick one with "target for the photo"`;
}

/** A target for the loaded photo: enables the target views, the PSNR and training on it. */
async function loadTarget(file: File): Promise<void> {
  const p = photo;
  if (!p || video) throw new CnnV3Error(`${file.name}: a target goes with a photo: load the photo first`);
  const raster = decodeImage(await bytesOf(file), file.name);
  const files = packPhotoSample(p.raster, raster);
  const sample = await loadSample({
    name: p.name,
    label: (f: SampleFileName) => (f === 'target.png' ? file.name : `${p.name} (${f})`),
    read: async (f: SampleFileName) => files[f],
  });
  target = sample.target;
  trainable = sample;
  planesDirty = true;
  resetAblation();
  ui.inputNote.textContent = `photo ${p.name} · target ${file.name}`;
  scheduleRender();
}

async function loadSampleFiles(files: File[]): Promise<void> {
  const byName = new Map(files.map((f) => [f.name, f]));
  const missing = SAMPLE_FILES.filter((f) => !byName.has(f));
  if (missing.length > 0) throw new Error(`a sample needs its 7 PNGs; missing ${missing.join(', ')}`);
  const sample = await loadSample({
    name: 'picked sample',
    label: (f: SampleFileName) => f,
    // Optional files (style.json) may be absent: undefined, as the sample loader expects.
    read: async (f: SampleFileName | typeof STYLE_FILE) => {
      const file = byName.get(f);
      return file ? bytesOf(file) : undefined;
    },
  });
  setInput(planesFromSample(sample), sample.target, `sample (${sample.kind} mode)`);
  trainable = sample;
}

/** A Blender multilayer EXR: packed into a sample exactly as `cnnv3 pack-blender` does. */
async function loadExr(file: File): Promise<void> {
  const parts = readExrParts(await bytesOf(file), file.name); // passes may sit in any part
  const { files, warnings } = packBlenderSample(parts, { name: file.name });
  const sample = await loadSample({ name: file.name, label: (f: SampleFileName) => `${file.name} (${f})`, read: async (f: SampleFileName) => files[f] });
  setInput(planesFromSample(sample), sample.target, `EXR ${file.name} (${sample.kind} mode)${warnings.length ? ` · ${warnings.join('; ')}` : ''}`);
  trainable = sample;
}

function stopVideo(): void {
  if (!video) return;
  const v = video;
  video = undefined;
  v.pause();
  (v.srcObject as MediaStream | null)?.getTracks().forEach((t) => t.stop());
}

/** Runs a video or the webcam through the effect, one frame at a time. */
function playVideo(v: HTMLVideoElement, label: string): void {
  resetInputState();
  video = v;
  untrainable = `train: ${label} cannot be trained on: load a photo with its target, a sample or an EXR`;
  const grab = document.createElement('canvas');
  const g2d = grab.getContext('2d', { willReadFrequently: true })!;
  const frame = () => {
    if (video !== v) return;
    if (v.videoWidth > 0) {
      grab.width = v.videoWidth;
      grab.height = v.videoHeight;
      g2d.drawImage(v, 0, 0);
      const img = g2d.getImageData(0, 0, grab.width, grab.height);
      planes = planesFromPhoto({ width: img.width, height: img.height, channels: 4, depth: 8, data: new Uint8Array(img.data.buffer) });
      planesDirty = true;
      ui.inputNote.textContent = label;
      render().catch(showError);
    }
    v.requestVideoFrameCallback(frame);
  };
  v.requestVideoFrameCallback(frame);
  void v.play();
}

async function loadFile(file: File): Promise<void> {
  if (file.type.startsWith('video/')) {
    const v = document.createElement('video');
    v.muted = true;
    v.loop = true;
    v.src = URL.createObjectURL(file);
    playVideo(v, `video ${file.name}`);
    return;
  }
  if (/\.exr$/i.test(file.name)) {
    await loadExr(file);
    return;
  }
  await loadPhoto(file);
}

/** Routes dropped or picked files: weights by name, 7 PNGs as a sample, else a photo/video. */
async function handleFiles(files: File[]): Promise<void> {
  const bins = files.filter((f) => f.name.endsWith('.bin'));
  for (const b of bins) {
    if (/film/i.test(b.name)) setFilm(await bytesOf(b), b.name);
    else setWeights(await bytesOf(b), b.name);
  }
  const rest = files.filter((f) => !f.name.endsWith('.bin'));
  if (rest.length > 1 || (rest.length === 1 && (SAMPLE_FILES as readonly string[]).includes(rest[0]!.name))) await loadSampleFiles(rest);
  else if (rest.length === 1) await loadFile(rest[0]!);
  scheduleRender();
}

function onPick(id: string, handle: (files: File[]) => Promise<void>): void {
  const input = $<HTMLInputElement>(id);
  input.addEventListener('change', () => {
    const files = [...(input.files ?? [])];
    // Cleared so that picking the same file again (after fixing it, or after an error) loads it again.
    input.value = '';
    if (files.length === 0) return;
    setStatus('loading');
    handle(files).catch(showError);
  });
}

onPick('weights-input', async ([f]) => {
  setWeights(await bytesOf(f!), f!.name);
  scheduleRender();
});
onPick('film-input', async ([f]) => {
  setFilm(await bytesOf(f!), f!.name);
  scheduleRender();
});
onPick('image-input', async ([f]) => loadFile(f!));
onPick('sample-input', loadSampleFiles);
onPick('target-input', async ([f]) => loadTarget(f!));

setupTrainPanel({
  currentSample: () => {
    if (!trainable) throw new CnnV3Error(untrainable);
    return trainable;
  },
  setStatus: (text) => setStatus(text),
  showError,
  useWeights: (weights, film, label) => {
    if (!gpu) throw new CnnV3Error('the viewer has no WebGPU device');
    setWeights(weights, label);
    setFilm(film, label);
    scheduleRender();
  },
});

$('webcam').addEventListener('click', () => {
  navigator.mediaDevices
    .getUserMedia({ video: true })
    .then((stream) => {
      const v = document.createElement('video');
      v.muted = true;
      v.srcObject = stream;
      playVideo(v, 'webcam');
    })
    .catch(showError);
});

$('save').addEventListener('click', () => {
  (async () => {
    if (!gpu || !planes) throw new Error('nothing rendered yet');
    const out = await readRgba16f(gpu.ctx.device, gpu.nodes.get(OUTPUT)!);
    // Opaque, like cnnv3 infer's default: the network's alpha is rarely what a viewer should show.
    const png = encodePng({ width: planes.width, height: planes.height, channels: 3, depth: 8, data: floatRgbaTo8(out, 3) });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([png as Uint8Array<ArrayBuffer>], { type: 'image/png' }));
    a.download = 'cnn_v3_output.png';
    a.click();
  })().catch(showError);
});

document.addEventListener('dragover', (e) => {
  e.preventDefault();
  document.body.classList.add('dragging');
});
document.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
document.addEventListener('drop', (e) => {
  e.preventDefault();
  document.body.classList.remove('dragging');
  const files = [...(e.dataTransfer?.files ?? [])];
  if (files.length > 0) handleFiles(files).catch(showError);
});

// ---------------------------------------------------------------- start

(async () => {
  gpu = await initGpu();
  const [w, f] = await Promise.all([fetch(weightsUrl), fetch(filmUrl)]);
  setWeights(new Uint8Array(await w.arrayBuffer()), 'bundled example');
  setFilm(new Uint8Array(await f.arrayBuffer()), 'bundled example');
  ui.weightsNote.textContent = 'bundled example weights (examples/weights)';
  setStatus('ready');
})().catch(showError);

// A hook for scripts driving the page (tests): the output as float RGBA.
(globalThis as unknown as { cnnv3Tool: unknown }).cnnv3Tool = {
  readOutput: async () => (gpu && planes ? Array.from(await readRgba16f(gpu.ctx.device, gpu.nodes.get(OUTPUT)!)) : undefined),
};
