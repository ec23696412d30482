// Mutation fuzzing of the file parsers (issue 9), OpenEXR's way: overwrite windows of random
// bytes across real inputs, hammer the header bytes with boundary values, truncate, splice.
//
//   npm run fuzz -- --seconds 60 [--seed 1] [--exr FILE_OR_DIR ...]
//
// Targets: decodePng (our encoder's output plus scikit-image's palette PNGs when present),
// decodeCheckpoint/decodeSafetensors (a real checkpoint from encodeCheckpoint) and, if
// src/exr/exr.ts exists, readExr (an uncompressed file written here, plus any .exr given or
// found). The time is split evenly between the targets, which run one after another in a
// worker thread each. A parser may return or throw a CnnV3Error; anything else is a finding,
// and so is one input that takes longer than --hang-ms (the worker is stopped and restarted).
// Findings are saved under out/fuzz/<target>-<kind>-<n>.<ext> with a .txt beside each.
//
// Runs through tsx (package.json: "fuzz": "node --import tsx scripts/fuzz.mjs").
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearInterval, setInterval } from 'node:timers';
import { TextDecoder, TextEncoder } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const REPO = new URL('..', import.meta.url).pathname;
const OUT = join(REPO, 'out', 'fuzz');
const MAX_INPUT = 1 << 22;

// ---- shared: PRNG and mutators -----------------------------------------------------------

const INTERESTING8 = [0, 1, 2, 7, 8, 0x10, 0x20, 0x3f, 0x40, 0x7f, 0x80, 0x81, 0xfe, 0xff];
const INTERESTING32 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

/** Replaces one number in a safetensors header with a boundary value (keeps the length field right). */
function mutateSafetensorsNumber(b, rnd) {
  if (b.length < 8) return b;
  const n = Number(new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true));
  if (n > b.length - 8) return b;
  const text = new TextDecoder().decode(b.subarray(8, 8 + n));
  const nums = [...text.matchAll(/-?\d+(\.\d+)?([eE][+-]?\d+)?/g)];
  if (nums.length === 0) return b;
  const m = nums[Math.floor(rnd() * nums.length)];
  const values = ['0', '-1', '1', '4', '3928', '9007199254740991', '9007199254740992', '1e308', '1e400', '0.5', '4294967296', '18446744073709551615', String(Math.floor(rnd() * 1e6))];
  const v = values[Math.floor(rnd() * values.length)];
  const json = new TextEncoder().encode(text.slice(0, m.index) + v + text.slice(m.index + m[0].length));
  const out = new Uint8Array(8 + json.length + (b.length - 8 - n));
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(b.subarray(8 + n), 8 + json.length);
  return out;
}

/** One mutant of `seed` (a copy). `kind` picks the format-aware extras. */
function mutate(seed, rnd, kind, fixPngCrcs) {
  let b = seed.slice();
  const pick = (a) => a[Math.floor(rnd() * a.length)];
  const rounds = 1 + Math.floor(rnd() * 3);
  for (let r = 0; r < rounds; r++) {
    const op = rnd();
    const headerEnd = Math.min(b.length, kind === 'safetensors' ? 256 : 64);
    if (op < 0.4 && b.length > 0) {
      // A window of random bytes anywhere.
      const w = pick([1, 1, 2, 4, 8, 16, 64]);
      const p = Math.floor(rnd() * b.length);
      for (let i = p; i < Math.min(b.length, p + w); i++) b[i] = Math.floor(rnd() * 256);
    } else if (op < 0.65 && headerEnd > 0) {
      // Hammer the header bytes with boundary values.
      const p = Math.floor(rnd() * headerEnd);
      if (rnd() < 0.5) b[p] = pick(INTERESTING8);
      else {
        const v = pick(INTERESTING32);
        const le = kind !== 'png';
        for (let k = 0; k < 4 && p + k < b.length; k++) b[p + k] = le ? (v >>> (8 * k)) & 255 : (v >>> (24 - 8 * k)) & 255;
      }
    } else if (op < 0.75) {
      b = b.subarray(0, Math.floor(rnd() * b.length)).slice();
    } else if (op < 0.85 && b.length > 2) {
      // Duplicate or drop a slice.
      const p = Math.floor(rnd() * b.length);
      const q = Math.min(b.length, p + 1 + Math.floor(rnd() * 64));
      const n = new Uint8Array(b.length + (rnd() < 0.5 ? q - p : -(q - p)));
      if (n.length > b.length) {
        n.set(b.subarray(0, q));
        n.set(b.subarray(p), q);
      } else {
        n.set(b.subarray(0, p));
        n.set(b.subarray(q), p);
      }
      b = n;
    } else if (kind === 'safetensors') {
      b = mutateSafetensorsNumber(b, rnd);
    } else if (b.length > 0) {
      const p = Math.floor(rnd() * b.length);
      b[p] ^= 1 << Math.floor(rnd() * 8);
    }
  }
  // Repaired CRCs get mutations past the CRC check, into the decoder proper.
  if (kind === 'png' && rnd() < 0.7) fixPngCrcs(b);
  return b;
}

// ---- seeds -----------------------------------------------------------------------------

function pattern(width, height, channels, depth) {
  const n = width * height * channels;
  const data = depth === 16 ? new Uint16Array(n) : new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = ((i * 2654435761) >>> 0) % (depth === 16 ? 65536 : 256);
  return { width, height, channels, depth, data };
}

/** A minimal single-part scan-line EXR, NONE compression, HALF "Y" and FLOAT "Z". */
function tinyExr(width, height) {
  const out = [];
  const i32 = (v) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, v, true);
    out.push(...b);
  };
  const f32 = (v) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    out.push(...b);
  };
  const str = (s) => out.push(...new TextEncoder().encode(s), 0);
  const attr = (name, type, size, body) => {
    str(name);
    str(type);
    i32(size);
    body();
  };
  out.push(0x76, 0x2f, 0x31, 0x01, 2, 0, 0, 0);
  attr('channels', 'chlist', 2 * (2 + 16) + 1, () => {
    for (const [n, t] of [['Y', 1], ['Z', 2]]) {
      str(n);
      i32(t);
      out.push(0, 0, 0, 0);
      i32(1);
      i32(1);
    }
    out.push(0);
  });
  attr('compression', 'compression', 1, () => out.push(0));
  for (const w of ['dataWindow', 'displayWindow']) attr(w, 'box2i', 16, () => [0, 0, width - 1, height - 1].forEach(i32));
  attr('lineOrder', 'lineOrder', 1, () => out.push(0));
  attr('pixelAspectRatio', 'float', 4, () => f32(1));
  attr('screenWindowCenter', 'v2f', 8, () => (f32(0), f32(0)));
  attr('screenWindowWidth', 'float', 4, () => f32(1));
  out.push(0);
  const lineBytes = width * (2 + 4);
  let offset = out.length + 8 * height;
  for (let y = 0; y < height; y++, offset += 8 + lineBytes) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(offset), true);
    out.push(...b);
  }
  for (let y = 0; y < height; y++) {
    i32(y);
    i32(lineBytes);
    for (let x = 0; x < width; x++) out.push((x * 37 + y) & 255, 0x3c); // HALF ~1.x
    for (let x = 0; x < width; x++) f32(x - y * 0.5);
  }
  return new Uint8Array(out);
}

function exrFilesFrom(paths) {
  const found = [];
  const add = (p) => {
    if (!existsSync(p)) return;
    if (statSync(p).isDirectory()) {
      for (const f of readdirSync(p)) if (f.endsWith('.exr')) add(join(p, f));
    } else if (statSync(p).size <= 1 << 20) found.push(p);
  };
  paths.forEach(add);
  return found;
}

async function buildTarget(name, extraExr) {
  const SKIMAGE = '/usr/lib/python3/dist-packages/skimage/data';
  if (name === 'png') {
    const { decodePng, encodePng } = await import('../src/image/png.ts');
    const seeds = [
      encodePng(pattern(9, 7, 1, 8)),
      encodePng(pattern(6, 5, 1, 16)),
      encodePng(pattern(8, 6, 3, 8)),
      encodePng(pattern(5, 5, 4, 8)),
      encodePng(pattern(4, 3, 2, 16)),
    ];
    for (const f of ['palette_color.png', 'foo3x5x4indexed.png', 'checker_bilevel.png', 'palette_gray.png']) {
      if (existsSync(join(SKIMAGE, f))) seeds.push(new Uint8Array(readFileSync(join(SKIMAGE, f))));
    }
    return { seeds, ext: 'png', run: (b) => decodePng(b, 'fuzz.png') };
  }
  if (name === 'safetensors') {
    const { decodeCheckpoint, encodeCheckpoint } = await import('../src/checkpoint/checkpoint.ts');
    const { decodeSafetensors } = await import('../src/checkpoint/safetensors.ts');
    const { DEFAULT_MODEL_CONFIG } = await import('../src/model/config.ts');
    const { buildParamTable } = await import('../src/model/params.ts');
    const make = (config, optim) => {
      const n = buildParamTable(config).total;
      const p = (s) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + s) * 43.758);
      return encodeCheckpoint({ config, inputMode: 'simple', params: p(1), ...(optim ? { optim: { expAvg: p(2), expAvgSq: p(3).map(Math.abs) } } : {}), epoch: 3, loss: 0.5, step: 60, extra: { note: 'fuzz' } });
    };
    const seeds = [make(DEFAULT_MODEL_CONFIG, false), make({ encChannels: [2, 3], filmCondDim: 2 }, true)];
    let k = 0;
    // Both entry points: the checkpoint reader (which uses the container) and the bare container.
    return { seeds, ext: 'safetensors', run: (b) => (k++ & 1 ? decodeSafetensors(b, 'fuzz.safetensors') : decodeCheckpoint(b, 'fuzz.safetensors')) };
  }
  if (name === 'exr') {
    const { readExr } = await import('../src/exr/exr.ts');
    const seeds = [tinyExr(5, 3), tinyExr(1, 1)];
    for (const p of extraExr) seeds.push(new Uint8Array(readFileSync(p)));
    return { seeds, ext: 'exr', run: (b) => readExr(b, 'fuzz.exr') };
  }
  throw new Error(`unknown target ${name}`);
}

// ---- worker: the fuzz loop --------------------------------------------------------------

async function workerMain() {
  const { target, seconds, seed, shared, extraExr } = workerData;
  // A worker does not inherit the main thread's module hooks: register tsx here too.
  const { register } = await import('tsx/esm/api');
  register();
  const { CnnV3Error } = await import('../src/errors.ts');
  const { Rng } = await import('../src/util/rng.ts');
  const { fixPngCrcs } = await import('../test/png-fixtures.ts');
  const t = await buildTarget(target, extraExr);
  const beat = new Int32Array(shared, 0, 2); // [executions, input length]
  const input = new Uint8Array(shared, 8);
  const rng = new Rng(seed);
  const rnd = () => rng.next();
  const seen = new Set();
  for (const s of t.seeds) t.run(s); // the seeds themselves must decode
  const deadline = performance.now() + seconds * 1000;
  let n = 0;
  let ok = 0;
  while (performance.now() < deadline) {
    for (let inner = 0; inner < 64; inner++) {
      const s = t.seeds[Math.floor(rnd() * t.seeds.length)];
      let m = mutate(s, rnd, target === 'safetensors' ? 'safetensors' : target === 'png' ? 'png' : 'le', fixPngCrcs);
      if (m.length > MAX_INPUT) m = m.subarray(0, MAX_INPUT);
      input.set(m);
      Atomics.store(beat, 1, m.length);
      try {
        t.run(m);
        ok++;
      } catch (e) {
        if (!(e instanceof CnnV3Error)) {
          const stack = e instanceof Error ? (e.stack ?? String(e)) : String(e);
          // One finding per error type and place (not per message: those carry the bad numbers).
          const key = `${e instanceof Error ? e.name : typeof e}|${stack.split('\n').slice(1, 3).join('|')}`;
          if (!seen.has(key)) {
            seen.add(key);
            parentPort.postMessage({ type: 'finding', kind: 'crash', detail: stack, input: m.slice() });
          }
        }
      }
      n++;
      Atomics.store(beat, 0, n);
    }
  }
  parentPort.postMessage({ type: 'done', executions: n, ok });
}

// ---- main: schedule, watchdog, report ---------------------------------------------------

function parseArgs(argv) {
  const o = { seconds: 30, seed: Date.now() & 0x7fffffff, hangMs: 5000, exr: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--seconds') o.seconds = Number(v());
    else if (a === '--seed') o.seed = Number(v());
    else if (a === '--hang-ms') o.hangMs = Number(v());
    else if (a === '--exr') o.exr.push(v());
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run fuzz -- [--seconds N] [--seed S] [--hang-ms MS] [--exr FILE_OR_DIR]...');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!(o.seconds > 0)) throw new Error('--seconds must be positive');
  return o;
}

function save(target, ext, kind, input, detail) {
  mkdirSync(OUT, { recursive: true });
  let k = 0;
  while (existsSync(join(OUT, `${target}-${kind}-${k}.${ext}`))) k++;
  const file = join(OUT, `${target}-${kind}-${k}.${ext}`);
  writeFileSync(file, input);
  writeFileSync(`${file}.txt`, `${detail}\n`);
  return file;
}

/** Runs one target for `seconds`, restarting the worker after a hang. */
async function campaign(target, ext, seconds, opts, extraExr) {
  const stats = { target, executions: 0, ok: 0, findings: [], seconds: 0 };
  let left = seconds;
  let seed = opts.seed;
  while (left > 0.05) {
    const shared = new SharedArrayBuffer(8 + MAX_INPUT);
    const beat = new Int32Array(shared, 0, 2);
    const started = performance.now();
    const worker = new Worker(new URL(import.meta.url), { workerData: { target, seconds: left, seed, shared, extraExr } });
    const result = await new Promise((resolve) => {
      let last = -1;
      let lastChange = performance.now();
      const timer = setInterval(() => {
        const now = Atomics.load(beat, 0);
        if (now !== last) {
          last = now;
          lastChange = performance.now();
        } else if (performance.now() - lastChange > opts.hangMs) {
          clearInterval(timer);
          const input = new Uint8Array(shared, 8, Atomics.load(beat, 1)).slice();
          void worker.terminate();
          resolve({ hang: true, executions: now, input });
        }
      }, 100);
      worker.on('message', (m) => {
        if (m.type === 'finding') {
          const file = save(target, ext, m.kind, m.input, m.detail);
          stats.findings.push({ kind: m.kind, file, detail: m.detail.split('\n')[0] });
          console.log(`  ${target}: FINDING (${m.kind}) ${m.detail.split('\n')[0]} → ${file}`);
        } else if (m.type === 'done') {
          clearInterval(timer);
          resolve(m);
        }
      });
      worker.on('error', (e) => {
        clearInterval(timer);
        resolve({ error: e, executions: Atomics.load(beat, 0) });
      });
    });
    stats.executions += result.executions ?? 0;
    stats.ok += result.ok ?? 0;
    if (result.hang) {
      const file = save(target, ext, 'hang', result.input, `no progress for ${opts.hangMs} ms on this input`);
      stats.findings.push({ kind: 'hang', file, detail: `> ${opts.hangMs} ms` });
      console.log(`  ${target}: FINDING (hang > ${opts.hangMs} ms) → ${file}`);
    }
    if (result.error) {
      // The seeds failing to decode, or the worker dying (out of memory): report and stop this target.
      stats.findings.push({ kind: 'worker-error', file: '', detail: String(result.error) });
      console.log(`  ${target}: worker failed: ${result.error?.stack ?? result.error}`);
      break;
    }
    left -= (performance.now() - started) / 1000;
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  }
  stats.seconds = seconds - Math.max(0, left);
  return stats;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const targets = [
    ['png', 'png'],
    ['safetensors', 'safetensors'],
  ];
  const extraExr = exrFilesFrom([...opts.exr, '/usr/lib/python3/dist-packages/skimage/data', join(REPO, 'test', 'fixtures')]);
  if (existsSync(join(REPO, 'src', 'exr', 'exr.ts'))) {
    try {
      await import('../src/exr/exr.ts');
      targets.push(['exr', 'exr']);
    } catch (e) {
      console.log(`exr: skipped, src/exr/exr.ts does not load (${e instanceof Error ? e.message : e})`);
    }
  } else console.log('exr: skipped, src/exr/exr.ts does not exist');
  const per = opts.seconds / targets.length;
  console.log(`fuzzing ${targets.map((t) => t[0]).join(', ')} for ${per.toFixed(1)} s each, seed ${opts.seed}`);
  const all = [];
  for (const [target, ext] of targets) {
    const s = await campaign(target, ext, per, opts, target === 'exr' ? extraExr : []);
    all.push(s);
    console.log(
      `${target}: ${s.executions} executions in ${s.seconds.toFixed(1)} s = ${Math.round(s.executions / s.seconds)}/s, ` +
        `${s.ok} decoded, ${s.executions - s.ok} refused, ${s.findings.length} finding(s)`,
    );
  }
  const findings = all.reduce((n, s) => n + s.findings.length, 0);
  console.log(findings === 0 ? 'no findings' : `${findings} finding(s) saved under ${OUT}`);
  process.exitCode = findings === 0 ? 0 : 1;
}

if (isMainThread) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(2);
  });
} else {
  await workerMain();
}
