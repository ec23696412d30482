import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../src/model/config.js';
import { buildParamTable } from '../src/model/params.js';
import { decodeRgba, encodePlanes } from '../src/jobs/jobs.js';
import { referenceOutput } from '../src/verify/parity.js';
import { randomPlanes, randomWeights } from '../src/verify/random-input.js';
import { chromiumRunner, type GpuRunner } from '../src/jobs/runner-node.js';
import { UNIFORM_LAYOUTS } from '../src/gpu/uniforms.js';
import { WGSL as EFFECT_WGSL } from '../src/effect/shaders.generated.js';
import { WGSL as DEMO_WGSL } from '../src/demo/shaders.generated.js';
import { WGSL as TRAIN_WGSL } from '../src/train/gpu/shaders.generated.js';

const WGSL: Record<string, string> = { ...EFFECT_WGSL, ...DEMO_WGSL, ...TRAIN_WGSL };
import { evalFilmMlp, identityFilm, readFilmMlpBin } from '../src/export/read.js';
import { toBase64 } from '../src/util/base64.js';
import { fromHalfBits, toHalfBits } from '../src/util/half.js';
import { closeRunners, testRunner, type RunnerKind } from './gpu-helpers.js';
import { REPO, runCli } from './helpers.js';

after(closeRunners);

const COND = [0.1, 0.5, 0.9, 0.3, 0.7];

// ---------------------------------------------------------------- WGSL struct layout vs the TS writer

const TYPES: Record<string, { size: number; align: number }> = {
  u32: { size: 4, align: 4 },
  f32: { size: 4, align: 4 },
  vec2f: { size: 8, align: 8 },
  vec3u: { size: 12, align: 16 },
  vec4f: { size: 16, align: 16 },
  vec4u: { size: 16, align: 16 },
  mat4x4f: { size: 64, align: 16 },
};

/** Offsets and size of a WGSL struct under WGSL's uniform layout rules. */
function wgslLayout(body: string): { size: number; offsets: Record<string, number> } {
  let offset = 0;
  let maxAlign = 1;
  const offsets: Record<string, number> = {};
  for (const m of body.replace(/\/\/[^\n]*/g, '').matchAll(/(\w+)\s*:\s*(\w+)/g)) {
    const t = TYPES[m[2]!];
    assert.ok(t, `unknown WGSL type ${m[2]}`);
    offset = Math.ceil(offset / t.align) * t.align;
    offsets[m[1]!] = offset;
    offset += t.size;
    maxAlign = Math.max(maxAlign, t.align);
  }
  return { size: Math.ceil(offset / maxAlign) * maxAlign, offsets };
}

test('the uniform structs in every WGSL file match the TypeScript layouts (SPEC §7)', () => {
  const seen = new Set<string>();
  // The struct types of every `var<uniform>`: the ones TypeScript writes. Other structs (stage
  // I/O, values built inside a shader) have no host layout, nor have plain arrays (the staged
  // weights of conv3_common: vec4s, checked by parity).
  const uniformTypes = new Set(Object.values(WGSL).flatMap((code) => [...code.matchAll(/var<uniform>\s+\w+\s*:\s*(\w+)\b(?!\s*<)/g)].map((m) => m[1]!)));
  for (const [file, code] of Object.entries(WGSL)) {
    for (const m of code.matchAll(/struct (\w+) \{([^}]*)\}/g)) {
      if (!uniformTypes.has(m[1]!)) continue;
      const name = m[1]! as keyof typeof UNIFORM_LAYOUTS;
      const ts = UNIFORM_LAYOUTS[name];
      assert.ok(ts, `${file}: struct ${name} has no TypeScript layout`);
      const w = wgslLayout(m[2]!);
      assert.equal(w.size, ts.size, `${file}: ${name} size`);
      for (const [field, off] of Object.entries(ts.offsets)) assert.equal(w.offsets[field], off, `${file}: ${name}.${field}`);
      seen.add(name);
    }
  }
  assert.deepEqual([...seen].sort(), Object.keys(UNIFORM_LAYOUTS).sort());
  assert.deepEqual([...uniformTypes].sort(), Object.keys(UNIFORM_LAYOUTS).sort(), 'every uniform has a TypeScript layout');
  assert.deepEqual([UNIFORM_LAYOUTS.CnnV3Params4ch.size, UNIFORM_LAYOUTS.CnnV3ParamsEnc1.size], [64, 96]);
});

// ---------------------------------------------------------------- parity through Chromium on SwiftShader

function job(config: ModelConfig, planes: ReturnType<typeof randomPlanes>, seed: number, withFilm = true) {
  const w = randomWeights(config, seed);
  return { config, planes: encodePlanes(planes), weights: toBase64(w.weights), ...(withFilm ? { film: toBase64(w.film) } : {}), cond: COND };
}

type ParityCase = [ModelConfig, number, number, number];

/** Parity of random weights and planes for each (config, width, height, seed), every node named on failure. */
async function assertParity(runner: GpuRunner, cases: ParityCase[]): Promise<void> {
  for (const [config, w, h, seed] of cases) {
    const j = job(config, randomPlanes(w, h, seed), seed);
    j.cond = COND.slice(0, config.filmCondDim);
    const r = await runner.parity(j);
    const summary = r.nodes.map((n) => `${n.node}: ${n.maxAbsError.toExponential(1)}${n.pass ? '' : ` FAIL ${n.mismatches.join('; ')}`}`).join(', ');
    assert.ok(r.pass, `${w}×${h} enc=[${config.encChannels}] D=${config.filmCondDim}: ${summary}`);
    assert.equal(r.nodes.length, 7);
  }
}

for (const kind of ['dawn', 'chromium'] as RunnerKind[]) {
  test(`parity on ${kind}: random weights and inputs at many sizes (1×1, odd, non-square) and configs`, async (t) => {
  const runner = await testRunner(t, kind);
  if (!runner) return;
  const cases: ParityCase[] = [
    [DEFAULT_MODEL_CONFIG, 1, 1, 1],
    [DEFAULT_MODEL_CONFIG, 2, 3, 2],
    [DEFAULT_MODEL_CONFIG, 17, 11, 3],
    [DEFAULT_MODEL_CONFIG, 64, 48, 4],
    [DEFAULT_MODEL_CONFIG, 3, 70, 5],
    [DEFAULT_MODEL_CONFIG, 129, 67, 6],
    [{ encChannels: [3, 5], filmCondDim: 5 }, 23, 9, 7],
    [{ encChannels: [4, 8], filmCondDim: 2 }, 10, 10, 8],
    // The opt-in residual output: dec0 adds to the packed albedo and transp.
    [{ ...DEFAULT_MODEL_CONFIG, output: 'residual' }, 19, 13, 9],
    [{ encChannels: [3, 5], filmCondDim: 5, output: 'residual' }, 2, 1, 10],
  ];
  await assertParity(runner, cases);
});
}

test('parity on sample directories: a real photo (simple) and a G-buffer sample (full)', async (t) => {
  const runner = await testRunner(t, 'dawn');
  if (!runner) return;
  const dir = join(REPO, 'out', 'test-gpu');
  const s = await runCli(['pack-photo', '--photo', join(REPO, 'examples/photos/coffee.png'), '--output', join(dir, 'coffee')]);
  assert.equal(s.code, 0, s.err);
  const r = await runCli(['parity', '--sample', join(dir, 'coffee'), '--seed', '9', '--json']);
  assert.equal(r.code, 0, r.err + r.out);
  const report = JSON.parse(r.out) as { pass: boolean; width: number; nodes: Array<{ node: string; psnr: number | string }> };
  assert.equal(report.pass, true);
  assert.equal(report.width, 320);
  // A full-mode sample directory (every geometric plane populated) through the CLI as well.
  const g = randomPlanes(21, 13, 11);
  const { sampleFiles, writeSample } = await import('./sample-fixtures.js');
  const rgb = (a: Uint8Array) => Uint8Array.from({ length: (a.length / 2) * 3 }, (_, i) => (i % 3 === 2 ? 0 : a[Math.floor(i / 3) * 2 + (i % 3)]!));
  writeSample(join(dir, 'gbuffer'), sampleFiles({ width: 21, height: 13, albedo: g.albedo, normal: rgb(g.normal!), depth: g.depth!, matid: g.matid!, shadow: g.shadow!, transp: g.transp! }));
  const full = await runCli(['parity', '--sample', join(dir, 'gbuffer'), '--seed', '10']);
  assert.equal(full.code, 0, full.err + full.out);
  assert.match(full.out, /PASS\n$/);
});

test('parity detects a mismatch: the reference given one different weight fails', async (t) => {
  const runner = await testRunner(t, 'dawn');
  if (!runner) return;
  const j = job(DEFAULT_MODEL_CONFIG, randomPlanes(16, 16, 21), 21);
  const w = Buffer.from(j.weights, 'base64');
  // enc0 weight (0, 0, 1, 1): the centre tap of albedo.r → output channel 0; nudge it by 0.25.
  const idx = (0 * 20 + 0) * 9 + 4;
  w.writeUInt16LE(toHalfBits(fromHalfBits(w.readUInt16LE(idx * 2)) + 0.25), idx * 2);
  const r = await runner.parity({ ...j, referenceWeights: w.toString('base64') });
  assert.equal(r.pass, false);
  const enc0 = r.nodes.find((n) => n.node === 'cnn_v3_enc0')!;
  assert.equal(enc0.pass, false);
  assert.ok(enc0.mismatches.length > 0 && /ch 0/.test(enc0.mismatches[0]!), enc0.mismatches[0]);
});

test('parity is checked layer by layer: a different enc1 weight fails enc1 alone, the end-to-end line reports the rest', async (t) => {
  const runner = await testRunner(t, 'dawn');
  if (!runner) return;
  const j = job(DEFAULT_MODEL_CONFIG, randomPlanes(16, 16, 22), 22);
  const w = Buffer.from(j.weights, 'base64');
  const enc1 = buildParamTable(DEFAULT_MODEL_CONFIG).byName.get('enc1.weight')!;
  // The centre tap of enc1's input 0 → output 0, nudged by 4: only e1 is computed from it.
  const idx = enc1.offset + 4;
  w.writeUInt16LE(toHalfBits(fromHalfBits(w.readUInt16LE(idx * 2)) + 4), idx * 2);
  const r = await runner.parity({ ...j, referenceWeights: w.toString('base64') });
  const byName = new Map(r.nodes.map((n) => [n.node, n]));
  assert.equal(r.pass, false);
  assert.equal(byName.get('cnn_v3_enc0')!.pass, true);
  assert.equal(byName.get('cnn_v3_enc1')!.pass, false);
  // Downstream layers start from the GPU's own e1, so their arithmetic still agrees …
  for (const n of ['cnn_v3_dec1', 'output']) assert.equal(byName.get(n)!.pass, true, n);
  // … while the whole reference network, run on its own, moves away from the GPU's picture.
  const e2e = byName.get('output (end to end)')!;
  assert.ok(e2e.informational && e2e.maxAbsError > 8 * 2 ** -11, `end to end ${e2e.maxAbsError}`);
});

test('infer matches the CPU reference, FiLM follows --cond, zero weights give 0.5 gray; golden output', async (t) => {
  const runner = await testRunner(t, 'dawn');
  if (!runner) return;
  const config = DEFAULT_MODEL_CONFIG;
  const planes = randomPlanes(31, 17, 7);
  const w = randomWeights(config, 7);
  const base = { config, planes: encodePlanes(planes), weights: toBase64(w.weights), film: toBase64(w.film) };
  const out = decodeRgba(await runner.infer({ ...base, cond: COND }));
  const film = evalFilmMlp(readFilmMlpBin(config, w.film, 'film'), COND);
  const ref = referenceOutput(config, planes, w.weights, film, COND);
  let worst = 0;
  for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(out[i]! - ref[i]!));
  // GPU-packed features can differ from the CPU's by one unorm level (mips), hence 2^-8 here.
  assert.ok(worst < 2 ** -8, `max |gpu − cpu| ${worst}`);
  const other = decodeRgba(await runner.infer({ ...base, cond: [0.9, 0.1, 0.2, 1, 0] }));
  assert.ok(other.some((v, i) => Math.abs(v - out[i]!) > 1e-3), 'a different condition changes the output');

  const zero = decodeRgba(await runner.infer({ config, planes: base.planes, weights: toBase64(new Uint8Array(3928)), cond: COND }));
  assert.ok(zero.every((v) => v === 0.5), 'all-zero weights with identity FiLM → sigmoid(0) = 0.5');
  assert.deepEqual(Array.from(identityFilm(config).subarray(0, 8)), [1, 1, 1, 1, 0, 0, 0, 0]);

  // Golden: the output as f16 bits, committed; regenerate with UPDATE_GOLDEN=1 after a deliberate change.
  const golden = join(REPO, 'test/fixtures/golden/infer_31x17_seed7.f16');
  const bits = Uint16Array.from(out, (v) => toHalfBits(v));
  if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(golden)) {
    if (process.env['CI'] === 'true') assert.fail(`${golden} missing in CI`);
    mkdirSync(join(REPO, 'test/fixtures/golden'), { recursive: true });
    writeFileSync(golden, new Uint8Array(bits.buffer));
  }
  const g = new Uint16Array(new Uint8Array(readFileSync(golden)).buffer);
  assert.equal(g.length, bits.length);
  let drift = 0;
  for (let i = 0; i < g.length; i++) drift = Math.max(drift, Math.abs(fromHalfBits(g[i]!) - out[i]!), Math.abs(fromHalfBits(g[i]!) - ref[i]!));
  assert.ok(drift < 2 ** -8, `drift from the golden output: ${drift}`);
});

test('bad input: wrong-size weights or MLP, no adapter, an input that is neither image nor sample', async (t) => {
  const runner = await testRunner(t, 'dawn');
  if (!runner) return;
  const base = job(DEFAULT_MODEL_CONFIG, randomPlanes(4, 4, 1), 1);
  await assert.rejects(runner.infer({ ...base, weights: toBase64(new Uint8Array(100)) }), /^CnnV3Error: cnn_v3_weights\.bin: expected 3928 bytes, got 100$/);
  await assert.rejects(runner.infer({ ...base, film: toBase64(new Uint8Array(3100)) }), /cnn_v3_film_mlp\.bin: expected 3104 bytes, got 3100/);
  await assert.rejects(chromiumRunner(undefined, '/nonexistent/chromium'), /No WebGPU adapter: .*apt-get install chromium libvulkan1/);

  const dir = join(REPO, 'out', 'test-gpu-bad');
  mkdirSync(dir, { recursive: true });
  const weights = join(dir, 'w.bin');
  writeFileSync(weights, new Uint8Array(3927));
  let r = await runCli(['infer', '--weights', weights, '--photo', join(REPO, 'examples/photos/cat.png'), '--output', join(dir, 'o.png')]);
  assert.equal(r.code, 1);
  assert.equal(r.err, `cnnv3: ${weights}: expected 3928 bytes, got 3927\n`);
  writeFileSync(weights, new Uint8Array(3928));
  const notImage = join(dir, 'notes.txt');
  writeFileSync(notImage, 'hello');
  r = await runCli(['infer', '--weights', weights, '--photo', notImage, '--output', join(dir, 'o.png')]);
  assert.match(r.err, /notes\.txt: not a PNG or JPEG image/);
  r = await runCli(['infer', '--weights', weights, '--sample', dir, '--output', join(dir, 'o.png')]);
  assert.match(r.err, /test-gpu-bad: not a sample directory \(no albedo\.png\) and not an image/);
  r = await runCli(['infer', '--weights', weights, '--output', join(dir, 'o.png')]);
  assert.equal(r.code, 2);
  assert.match(r.err, /give an input: --photo P or --sample DIR/);
  assert.ok(!existsSync(join(dir, 'o.png')), 'nothing written');
});

test('cnnv3 infer on a real photo writes the PNG and the raw float32 output', async (t) => {
  const runner = await testRunner(t, 'dawn');
  if (!runner) return;
  const dir = join(REPO, 'out', 'test-gpu-infer');
  mkdirSync(dir, { recursive: true });
  const w = randomWeights(DEFAULT_MODEL_CONFIG, 3);
  writeFileSync(join(dir, 'cnn_v3_weights.bin'), w.weights);
  writeFileSync(join(dir, 'cnn_v3_film_mlp.bin'), w.film);
  const r = await runCli([
    'infer', '--weights', join(dir, 'cnn_v3_weights.bin'), '--film', join(dir, 'cnn_v3_film_mlp.bin'),
    '--photo', join(REPO, 'examples/photos/rocket.jpg'), '--cond', '0,0,0,0.5,0.5', '--output', join(dir, 'out.png'), '--output-raw', join(dir, 'out.f32'),
  ]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /rocket\.jpg \(640×427\) on dawn: .*(SwiftShader|NVIDIA|AMD|Intel).* → /);
  const raw = readFileSync(join(dir, 'out.f32'));
  assert.equal(raw.length, 640 * 427 * 4 * 4);
  const png = readFileSync(join(dir, 'out.png'));
  assert.equal(png.readUInt32BE(16), 640);
  assert.equal(png.readUInt32BE(20), 427);
  assert.equal(png[25], 2, 'colour type 2: opaque RGB by default');
  const withAlpha = await runCli([
    'infer', '--weights', join(dir, 'cnn_v3_weights.bin'), '--film', join(dir, 'cnn_v3_film_mlp.bin'),
    '--photo', join(REPO, 'examples/photos/rocket.jpg'), '--output', join(dir, 'alpha.png'), '--alpha',
  ]);
  assert.equal(withAlpha.code, 0, withAlpha.err);
  assert.equal(readFileSync(join(dir, 'alpha.png'))[25], 6, 'colour type 6: RGBA with --alpha');
});

test('parity on dawn across workgroup-tile edges: sizes of 16k, 16k ± 1 at each resolution, small configs', async (t) => {
  const runner = await testRunner(t, 'dawn');
  if (!runner) return;
  // enc1 works in 16×16 output tiles with an 18×18 halo of pooled e0, enc0 and dec0 in 16×32
  // tiles of threads of 2×2 pixels (odd sizes leave part of a thread's block outside), the other passes
  // in 8×8 workgroups: these sizes put a tile edge, a one-pixel partial tile or an exact fit at every level.
  const cases: ParityCase[] = [
    [DEFAULT_MODEL_CONFIG, 33, 65, 31],
    [DEFAULT_MODEL_CONFIG, 32, 16, 32],
    [DEFAULT_MODEL_CONFIG, 64, 31, 33],
    [{ encChannels: [3, 5], filmCondDim: 5 }, 47, 34, 34],
    [{ encChannels: [1, 2], filmCondDim: 3 }, 35, 18, 35],
    [{ encChannels: [4, 6], filmCondDim: 5 }, 17, 49, 36],
  ];
  await assertParity(runner, cases);
});

test('parity with the trained example weights on a real JPEG photo', async (t) => {
  if (!(await testRunner(t, 'dawn'))) return;
  const r = await runCli([
    'parity', '--weights', join(REPO, 'examples/weights/cnn_v3_weights.bin'), '--film', join(REPO, 'examples/weights/cnn_v3_film_mlp.bin'),
    '--photo', join(REPO, 'examples/photos/rocket.jpg'), '--cond', '0.25,0.5,0.75,0.5,0.5',
  ]);
  assert.equal(r.code, 0, r.err + r.out);
  assert.match(r.out, /Parity 640×427 on .*\n[\s\S]*output +\S+ +\S+ +ok\n {2}output \(end to end\) +\S+ +\S+ +reported\nPASS\n$/);
});
