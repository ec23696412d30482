import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CnnV3Error } from '../src/errors.js';
import { checkAllFrames, planAt, planFrame } from '../src/demo/graph.js';
import { MAX_LINE_CHARS, parseSeq } from '../src/demo/seq.js';
import { beatAt, boundaries, resolveFrame } from '../src/demo/timeline.js';

const PLAYBOOK = [
  'SEQUENCE 0 0 "Scene with CNN v3"',
  'EFFECT + GBufferEffect prev_cnn -> gbuf_feat0 gbuf_feat1 0 60',
  'EFFECT + CNNv3Effect gbuf_feat0 gbuf_feat1 -> sink 0 60',
].join('\n');

/** Asserts that `fn` throws a CnnV3Error with exactly `message`. */
function throwsExactly(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CnnV3Error, `not a CnnV3Error: ${String(e)}`);
    assert.equal(e.message, message);
    return true;
  });
}

const bad = (text: string, message: string): void => throwsExactly(() => parseSeq(text, 'demo.seq'), message);

test("the playbook's wiring example parses and plans", () => {
  const seq = parseSeq(PLAYBOOK, 'demo.seq');
  assert.equal(seq.bpm, 120);
  assert.equal(seq.audio, undefined);
  assert.equal(seq.sequences.length, 1);
  const s = seq.sequences[0]!;
  assert.deepEqual([s.start, s.priority, s.name, s.line], [0, 0, 'Scene with CNN v3', 1]);
  const [g, c] = s.effects;
  assert.deepEqual(
    [g!.className, g!.op, g!.inputs, g!.outputs, g!.start, g!.end, g!.level, g!.line],
    ['GBufferEffect', '+', ['prev_cnn'], ['gbuf_feat0', 'gbuf_feat1'], 0, 60, 1, 2],
  );
  assert.deepEqual([c!.className, c!.inputs, c!.outputs, c!.level, c!.line], ['CNNv3Effect', ['gbuf_feat0', 'gbuf_feat1'], ['sink'], 2, 3]);
  const plan = planAt(seq, 0);
  assert.deepEqual(plan.steps.map((x) => [x.className, x.line, x.inputs, x.outputs]), [
    ['GBufferEffect', 2, ['prev_cnn'], ['gbuf_feat0', 'gbuf_feat1']],
    ['CNNv3Effect', 3, ['gbuf_feat0', 'gbuf_feat1'], ['sink']],
  ]);
  assert.deepEqual(plan.textures, ['gbuf_feat0', 'gbuf_feat1']);
  assert.equal(plan.writesSink, true);
  assert.deepEqual(planAt(seq, 60).steps, []); // end is exclusive
  checkAllFrames(seq);
});

test('comments, BOM, CRLF, lone CR, quotes, params, several sequences', () => {
  const text =
    '\uFEFF# a demo\r\n' +
    'BPM 90   # slower\r\n' +
    'AUDIO "music files/track.wav"\r\n' +
    '\r\n' +
    '   \t \r\n' +
    'SEQUENCE 0 1 "intro # not a comment"\r\n' +
    'EFFECT + ImageFeaturesEffect -> feat0 feat1 0 4 image="photos/a b.png"\r' +
    'EFFECT + CNNv3Effect feat0 feat1 -> sink 0 4 weights=w.bin film=f.bin style_p0=0.25 style_p1=1 # tail\n' +
    'SEQUENCE 2.5 -3 "overlay"\n' +
    'EFFECT = GBufferEffect prev_cnn -> g0 g1 0 1.5 scene=scenes/city.glb\n' +
    'EFFECT + CNNv3Effect g0 g1 -> sink 0 1.5 style_p0=0\n';
  const seq = parseSeq(text, 'demo.seq');
  assert.equal(seq.bpm, 90);
  assert.equal(seq.audio, 'music files/track.wav');
  assert.deepEqual(seq.sequences.map((s) => [s.name, s.start, s.priority, s.line]), [
    ['intro # not a comment', 0, 1, 6],
    ['overlay', 2.5, -3, 9],
  ]);
  const [img, cnn] = seq.sequences[0]!.effects;
  assert.deepEqual(img!.inputs, []);
  assert.deepEqual({ ...img!.params }, { image: 'photos/a b.png' });
  assert.deepEqual({ ...cnn!.params }, { weights: 'w.bin', film: 'f.bin', style_p0: '0.25', style_p1: '1' });
  assert.deepEqual(seq.sequences[1]!.effects.map((e) => [e.level, e.line, e.index]), [[0, 10, 2], [1, 11, 3]]);
  assert.deepEqual({ ...seq.sequences[1]!.effects[0]!.params }, { scene: 'scenes/city.glb' });
  // At t=3 both sequences run; priority -3 renders before priority 1.
  assert.deepEqual(resolveFrame(seq, 3).map((a) => a.effect.line), [10, 11, 7, 8]);
  assert.deepEqual(boundaries(seq), [0, 2.5, 4]);
  checkAllFrames(seq);
});

test('levels: + / = / - relative to the previous effect, reset per sequence; lower level first', () => {
  const seq = parseSeq(
    [
      'SEQUENCE 0 0 "a"',
      'EFFECT + CNNv3Effect g0 -> sink 0 10', // level 1
      'EFFECT - GBufferEffect prev_cnn -> g0 0 10', // level 0
      'EFFECT = GBufferEffect prev_cnn -> h0 0 10', // level 0
      'EFFECT - GBufferEffect prev_cnn -> k0 0 10', // level -1
      'SEQUENCE 0 0 "b"',
      'EFFECT - GBufferEffect prev_cnn -> m0 0 10', // level -1 (fresh start at 0)
    ].join('\n'),
    'demo.seq',
  );
  assert.deepEqual(seq.sequences.flatMap((s) => s.effects.map((e) => e.level)), [1, 0, 0, -1, -1]);
  // Same priority: sequence file order first, then level, then file order.
  assert.deepEqual(resolveFrame(seq, 5).map((a) => a.effect.line), [5, 3, 4, 2, 7]);
  const plan = planAt(seq, 5);
  assert.deepEqual(plan.textures, ['k0', 'g0', 'h0', 'm0']);
});

test('timeline boundaries: start inclusive, end exclusive, effect times relative to the sequence', () => {
  const seq = parseSeq(
    ['SEQUENCE 10 0 "s"', 'EFFECT + GBufferEffect prev_cnn -> sink 1 2', 'EFFECT + GBufferEffect prev_cnn -> sink 2 3'].join('\n'),
    'demo.seq',
  );
  const at = (t: number) => resolveFrame(seq, t).map((a) => a.effect.line);
  assert.deepEqual(at(0), []);
  assert.deepEqual(at(1), []);
  assert.deepEqual(at(10.999), []);
  assert.deepEqual(at(11), [2]);
  assert.deepEqual(at(11.5), [2]);
  assert.deepEqual(at(12), [3]);
  assert.deepEqual(at(12.999), [3]);
  assert.deepEqual(at(13), []);
  const a = resolveFrame(seq, 11.5)[0]!;
  assert.deepEqual([a.start, a.end, a.localTime], [11, 12, 0.5]);
  assert.throws(() => resolveFrame(seq, NaN), RangeError);
});

test('beat values, hand-computed', () => {
  assert.deepEqual(beatAt(0, 120), { beat_time: 0, beat_phase: 0, beat_norm: 0 });
  assert.deepEqual(beatAt(0.5, 120), { beat_time: 1, beat_phase: 0, beat_norm: 0.125 });
  assert.deepEqual(beatAt(0.75, 120), { beat_time: 1.5, beat_phase: 0.5, beat_norm: 0.1875 });
  assert.deepEqual(beatAt(4, 120), { beat_time: 8, beat_phase: 0, beat_norm: 0 });
  assert.deepEqual(beatAt(4.25, 120), { beat_time: 8.5, beat_phase: 0.5, beat_norm: 0.0625 });
  assert.deepEqual(beatAt(1, 90), { beat_time: 1.5, beat_phase: 0.5, beat_norm: 0.1875 });
  assert.deepEqual(beatAt(-0.25, 120), { beat_time: -0.5, beat_phase: 0.5, beat_norm: 0.9375 });
});

test('syntax errors name file:line and the problem', () => {
  const S = 'SEQUENCE 0 0 "s"\n';
  const E = (rest: string) => `${S}EFFECT + ${rest}`;
  bad('', 'demo.seq: no SEQUENCE');
  bad('\uFEFF# only a comment\r\n\r\n', 'demo.seq: no SEQUENCE');
  bad('BPM 120\nSCENE 1', 'demo.seq:2: unknown directive SCENE');
  bad('bpm 120', 'demo.seq:1: unknown directive bpm');
  bad('"BPM" 120', 'demo.seq:1: unknown directive "BPM"');
  bad('EFFECT + GBufferEffect prev_cnn -> sink 0 1\n' + S, 'demo.seq:1: EFFECT before any SEQUENCE');
  bad(E('GBufferEffect prev_cnn sink 0 1'), 'demo.seq:2: EFFECT is missing "->" between its inputs and outputs');
  bad(E('GBufferEffect a -> b -> c 0 1'), 'demo.seq:2: EFFECT has more than one "->"');
  bad(E('GBufferEffect prev_cnn -> 0 1'), 'demo.seq:2: EFFECT needs at least one output, then <start_s> <end_s>');
  bad(`${S}EFFECT * GBufferEffect prev_cnn -> sink 0 1`, 'demo.seq:2: EFFECT needs a level op +, = or - first, got "*"');
  bad(`${S}EFFECT`, 'demo.seq:2: EFFECT needs a level op +, = or - first, got nothing');
  bad(E('BlurEffect a -> b 0 1'), 'demo.seq:2: unknown effect class "BlurEffect" (known: GBufferEffect, ImageFeaturesEffect, CNNv3Effect)');
  bad(E('GBufferEffect prev_cnn -> sink NaN 1'), 'demo.seq:2: bad number "NaN" for effect start');
  bad(E('GBufferEffect prev_cnn -> sink 0 Infinity'), 'demo.seq:2: bad number "Infinity" for effect end');
  bad(E('GBufferEffect prev_cnn -> sink 0 0x10'), 'demo.seq:2: bad number "0x10" for effect end');
  bad(E('GBufferEffect prev_cnn -> sink 0 1e309'), 'demo.seq:2: number "1e309" for effect end is out of range');
  bad(E('GBufferEffect prev_cnn -> sink -1 1'), 'demo.seq:2: effect start -1 is negative');
  bad(E('GBufferEffect prev_cnn -> sink 5 2'), 'demo.seq:2: effect end 2 must be after its start 5');
  bad(E('GBufferEffect prev_cnn -> sink 5 5'), 'demo.seq:2: effect end 5 must be after its start 5');
  bad(E('GBufferEffect prev_cnn -> sink 0 "1"'), 'demo.seq:2: bad number "1" for effect end');
  bad(E('GBufferEffect prev-cnn -> sink 0 1'), 'demo.seq:2: bad input node name "prev-cnn"');
  bad(E('GBufferEffect prev_cnn -> sink k=v 0 1'), 'demo.seq:2: bad output node name "k=v"');
  bad('SEQUENCE NaN 0 "s"', 'demo.seq:1: bad number "NaN" for sequence start');
  bad('SEQUENCE -2 0 "s"', 'demo.seq:1: sequence start -2 is negative');
  bad('SEQUENCE 0 1.5 "s"', 'demo.seq:1: priority 1.5 is not an integer');
  bad('SEQUENCE 0 0 s', 'demo.seq:1: sequence name must be quoted: "s"');
  bad('SEQUENCE 0 0', 'demo.seq:1: SEQUENCE takes three fields: SEQUENCE <start_s> <priority> "<name>"');
  bad('SEQUENCE 0 0 "unterminated # name', 'demo.seq:1: unterminated quote');
  bad(E('GBufferEffect prev_cnn -> sink 0 1 scene="a.glb'), 'demo.seq:2: unterminated quote');
  bad('SEQUENCE 1e308 0 "s"\nEFFECT + GBufferEffect prev_cnn -> sink 0 1e308',
    'demo.seq:2: effect 0..1e+308 cannot be represented at sequence start 1e+308 (times too large)');
  bad('SEQUENCE 1e20 0 "s"\nEFFECT + GBufferEffect prev_cnn -> sink 0 1',
    'demo.seq:2: effect 0..1 cannot be represented at sequence start 100000000000000000000 (times too large)');
  bad('BPM 0\n' + S, 'demo.seq:1: BPM 0 must be > 0');
  bad('BPM 1e309\n' + S, 'demo.seq:1: number "1e309" for BPM is out of range');
  bad('BPM 120\nBPM 90\n' + S, 'demo.seq:2: BPM given twice');
  bad('BPM\n' + S, 'demo.seq:1: BPM takes one number: BPM <n>');
  bad('AUDIO a.wav\nAUDIO b.wav\n' + S, 'demo.seq:2: AUDIO given twice');
  bad('AUDIO\n' + S, 'demo.seq:1: AUDIO takes one path: AUDIO <path>');
});

test('params: known keys per class, duplicates, ranges', () => {
  const S = 'SEQUENCE 0 0 "s"\r\n# c\r\n';
  const E = (rest: string) => `${S}EFFECT + ${rest}`;
  bad(E('CNNv3Effect a -> sink 0 1 weights=a.bin weights=b.bin'), 'demo.seq:3: duplicate key "weights"');
  bad(E('CNNv3Effect a -> sink 0 1 scene=x.glb'), 'demo.seq:3: unknown key "scene" for CNNv3Effect (known: weights, film, style_p0, style_p1, strength, ease, precision)');
  bad(E('CNNv3Effect a -> sink 0 1 precision=f64'), 'demo.seq:3: precision=f64: must be one of auto, f32, f16');
  bad(E('GBufferEffect prev_cnn -> sink 0 1 weights=w.bin'), 'demo.seq:3: unknown key "weights" for GBufferEffect (known: scene, animation, speed)');
  bad(E('GBufferEffect prev_cnn -> sink 0 1 __proto__=x'), 'demo.seq:3: unknown key "__proto__" for GBufferEffect (known: scene, animation, speed)');
  bad(E('GBufferEffect prev_cnn -> sink 0 1 speed=fast'), "demo.seq:3: speed=fast: must be a number (the animation clock's rate, 1 = as authored)");
  bad(E('GBufferEffect prev_cnn -> sink 0 1 speed=1e999'), "demo.seq:3: speed=1e999: must be a number (the animation clock's rate, 1 = as authored)");
  bad(E('CNNv3Effect a -> sink 0 1 style_p0=1.5'), 'demo.seq:3: style_p0=1.5 is outside [0, 1]');
  bad(E('CNNv3Effect a -> sink 0 1 style_p1=-0.1'), 'demo.seq:3: style_p1=-0.1 is outside [0, 1]');
  bad(E('CNNv3Effect a -> sink 0 1 style_p1=NaN'), 'demo.seq:3: bad number "NaN" for style_p1');
  bad(E('CNNv3Effect a -> sink 0 1 weights='), 'demo.seq:3: empty value for key "weights"');
  bad(E('CNNv3Effect a -> sink 0 1 =x'), 'demo.seq:3: bad key ""');
  bad(E('ImageFeaturesEffect -> f 0 1'), 'demo.seq:3: ImageFeaturesEffect needs exactly one of image= or video=');
  bad(E('ImageFeaturesEffect -> f 0 1 image=a.png video=b.mp4'), 'demo.seq:3: ImageFeaturesEffect needs exactly one of image= or video=');
  const ok = parseSeq(E('ImageFeaturesEffect -> f 0 1 video=clip.mp4'), 'demo.seq');
  assert.deepEqual({ ...ok.sequences[0]!.effects[0]!.params }, { video: 'clip.mp4' });
});

test('NUL bytes and over-long lines are refused with their line', () => {
  bad('SEQUENCE 0 0 "s"\nEFFECT + GBuffer\0Effect', 'demo.seq:2: NUL byte (not a text file?)');
  bad('\0', 'demo.seq:1: NUL byte (not a text file?)');
  const long = 'SEQUENCE 0 0 "s"\n# ' + 'x'.repeat(MAX_LINE_CHARS);
  bad(long, `demo.seq:2: line is longer than ${MAX_LINE_CHARS} characters`);
  // A line of exactly the limit is fine.
  parseSeq('SEQUENCE 0 0 "s"\n#' + 'x'.repeat(MAX_LINE_CHARS - 1), 'demo.seq');
  // A huge single line fails fast, without tokenising 8 MB.
  const t0 = Date.now();
  bad('EFFECT ' + 'a '.repeat(4 << 20), `demo.seq:1: line is longer than ${MAX_LINE_CHARS} characters`);
  assert.ok(Date.now() - t0 < 2000);
});

test('graph errors: read before write, sink read, prev_cnn written, cycles', () => {
  const plan = (lines: string[], t = 0) => planAt(parseSeq(lines.join('\n'), 'demo.seq'), t);
  throwsExactly(
    () => plan(['BPM 120', 'SEQUENCE 0 0 "s"', '# the G-buffer pass is missing', 'EFFECT + CNNv3Effect gbuf_feat0 gbuf_feat1 -> sink 0 60']),
    'demo.seq:4: node gbuf_feat0 is read before anything writes it',
  );
  // Written only by an effect that is not active yet at t=0.
  const late = ['SEQUENCE 0 0 "s"', 'EFFECT + GBufferEffect prev_cnn -> g 5 10', 'EFFECT + CNNv3Effect g -> sink 0 10'];
  throwsExactly(() => plan(late), 'demo.seq:3: node g is read before anything writes it');
  plan(late, 5);
  throwsExactly(() => checkAllFrames(parseSeq(late.join('\n'), 'demo.seq')), 'demo.seq:3: node g is read before anything writes it');
  // Written by a later effect in render order (a higher level).
  throwsExactly(
    () => plan(['SEQUENCE 0 0 "s"', 'EFFECT + CNNv3Effect g -> sink 0 1', 'EFFECT + GBufferEffect prev_cnn -> g 0 1']),
    'demo.seq:2: node g is read before anything writes it',
  );
  // Written in a sequence with a higher priority number (renders later).
  throwsExactly(
    () => plan(['SEQUENCE 0 0 "a"', 'EFFECT + CNNv3Effect g -> sink 0 1', 'SEQUENCE 0 1 "b"', 'EFFECT + GBufferEffect prev_cnn -> g 0 1']),
    'demo.seq:2: node g is read before anything writes it',
  );
  // ...but a lower priority number renders first, so this order is fine.
  plan(['SEQUENCE 0 1 "a"', 'EFFECT + CNNv3Effect g -> sink 0 1', 'SEQUENCE 0 0 "b"', 'EFFECT + GBufferEffect prev_cnn -> g 0 1']);
  throwsExactly(
    () => plan(['SEQUENCE 0 0 "s"', 'EFFECT + GBufferEffect sink -> g 0 1']),
    'demo.seq:2: node sink is the screen; it cannot be read',
  );
  throwsExactly(
    () => plan(['SEQUENCE 0 0 "s"', 'EFFECT + CNNv3Effect prev_cnn -> prev_cnn 0 1']),
    'demo.seq:2: node prev_cnn is provided by the engine; an effect cannot write it',
  );
  throwsExactly(
    () => plan(['SEQUENCE 0 0 "s"', 'EFFECT + CNNv3Effect a -> b prev_cnn 0 1']),
    'demo.seq:2: node prev_cnn is provided by the engine; an effect cannot write it',
  );
  throwsExactly(
    () => plan(['SEQUENCE 0 0 "s"', 'EFFECT + CNNv3Effect x y -> x 0 1']),
    'demo.seq:2: CNNv3Effect reads node x, which it writes itself (a cycle)',
  );
  throwsExactly(
    () => plan(['SEQUENCE 0 0 "s"', 'EFFECT + GBufferEffect y -> x 0 1', 'EFFECT + CNNv3Effect x -> y sink 0 1']),
    'demo.seq:2: cycle between effects: GBufferEffect (line 2) → CNNv3Effect (line 3) → GBufferEffect (line 2)',
  );
  throwsExactly(
    () =>
      plan([
        'SEQUENCE 0 0 "s"',
        'EFFECT + GBufferEffect c -> a 0 1',
        'EFFECT + GBufferEffect a -> b 0 1',
        'EFFECT + CNNv3Effect b -> c 0 1',
      ]),
    'demo.seq:2: cycle between effects: GBufferEffect (line 2) → GBufferEffect (line 3) → CNNv3Effect (line 4) → GBufferEffect (line 2)',
  );
  // An empty frame plans to nothing; planFrame can be called on any ordered list.
  assert.deepEqual(planFrame('demo.seq', []), { steps: [], textures: [], writesSink: false });
});

test('random token soup: parseSeq and checkAllFrames only ever throw CnnV3Error', () => {
  const words = ['SEQUENCE', 'EFFECT', 'BPM', 'AUDIO', '+', '=', '-', '->', 'GBufferEffect', 'CNNv3Effect',
    'ImageFeaturesEffect', 'prev_cnn', 'sink', 'a', 'b', '0', '1', '2.5', '-1', '1e309', 'NaN', '"n"', '"', '#',
    'scene=x', 'image=y', 'style_p0=0.5', 'weights=w', '=', '\uFEFF', '\r', '\t'];
  let seed = 12345;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  let parsed = 0;
  for (let i = 0; i < 3000; i++) {
    const lines: string[] = [];
    if (rand(2)) lines.push(`SEQUENCE ${rand(3)} ${rand(3)} "s"`);
    for (let l = rand(5); l >= 0; l--) {
      const n = rand(10);
      const ws = [rand(2) ? 'EFFECT' : words[rand(words.length)]!, words[4 + rand(3)]!];
      for (let k = 0; k < n; k++) ws.push(words[rand(words.length)]!);
      lines.push(ws.join(' '));
    }
    try {
      checkAllFrames(parseSeq(lines.join(rand(2) ? '\n' : '\r\n'), 'fuzz.seq'));
      parsed++;
    } catch (e) {
      assert.ok(e instanceof CnnV3Error, `${String(e)}\n${lines.join('\n')}`);
      assert.match(e.message, /^fuzz\.seq(:\d+)?: /);
    }
  }
  assert.ok(parsed > 0, 'some random files are valid');
});

/** Runs `fn` on a flat copy of `text` (a concatenation is flattened first, outside the measurement); returns ms and heap growth. */
function measured(text: string, fn: (t: string) => void): { ms: number; heapMB: number } {
  text.indexOf('\0'); // flattens a cons string in place, so the parser is not charged for it
  const heap = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  fn(text);
  return { ms: performance.now() - t0, heapMB: (process.memoryUsage().heapUsed - heap) / 2 ** 20 };
}

test('a 100 MB line is refused at its line number, quickly and without copying it', () => {
  for (const [text, line] of [
    ['SEQUENCE 0 0 "s"\n# ' + 'x'.repeat(100 << 20) + '\nBPM 90', 2],
    ['x'.repeat(100 << 20), 1],
    ['SEQUENCE 0 0 "s"\r\n\r\n' + 'EFFECT '.repeat(15 << 20), 3],
  ] as const) {
    const m = measured(text, (t) => bad(t, `demo.seq:${line}: line is longer than ${MAX_LINE_CHARS} characters`));
    assert.ok(m.ms < 1000, `${m.ms.toFixed(0)} ms`);
    assert.ok(m.heapMB < 32, `${m.heapMB.toFixed(0)} MB of heap`);
  }
});

test('32 M line breaks: parsed line by line in a 96 MB heap, and a NUL after them named by its line', (t) => {
  // An array of every line would be 32 M entries (256 MB): the child, limited to a 96 MB heap,
  // would die of it. A walk in place needs no more than the text.
  const dir = mkdtempSync(join(tmpdir(), 'cnnv3-seq-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, 'breaks.mts');
  writeFileSync(
    script,
    `import { parseSeq } from ${JSON.stringify(fileURLToPath(new URL('../src/demo/seq.ts', import.meta.url)))};
const breaks = 32 << 20;
const out: string[] = [];
for (const eol of ['\\n', '\\r\\n']) {
  const t0 = performance.now();
  out.push(String(parseSeq('SEQUENCE 0 0 "s"\\n' + eol.repeat(breaks / eol.length), 'demo.seq').sequences.length));
  out.push(String(performance.now() - t0 < 5000));
}
try {
  parseSeq('\\n'.repeat(breaks) + 'SEQUENCE\\0', 'demo.seq');
} catch (e) {
  out.push((e as Error).message);
}
console.log(out.join('|'));
`,
  );
  const r = spawnSync(process.execPath, ['--max-old-space-size=96', '--import', 'tsx', script], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr.slice(-2000));
  assert.equal(r.stdout.trim(), `1|true|1|true|demo.seq:${(32 << 20) + 1}: NUL byte (not a text file?)`);
});
