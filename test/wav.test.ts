import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isCnnV3Error } from '../src/errors.js';
import { decodeWav, encodeWavPcm16, peakAbs } from '../src/demo/wav.js';
import { requireTool, tempDir } from './helpers.js';

const FFMPEG = '/usr/bin/ffmpeg';

/** A WAV built field by field, so each bad case changes exactly one thing. */
function wav(o: {
  format?: number;
  channels?: number;
  rate?: number;
  bits?: number;
  blockAlign?: number;
  data?: Uint8Array;
  riffSize?: number;
  extra?: { id: string; body: Uint8Array }[];
  fmtSize?: number;
  omitFmt?: boolean;
  omitData?: boolean;
  subFormat?: number;
}): Uint8Array {
  const channels = o.channels ?? 1;
  const bits = o.bits ?? 16;
  const chunk = (id: string, body: Uint8Array) => {
    const b = new Uint8Array(8 + body.length + (body.length & 1));
    for (let i = 0; i < 4; i++) b[i] = id.charCodeAt(i);
    new DataView(b.buffer).setUint32(4, body.length, true);
    b.set(body, 8);
    return b;
  };
  const fmt = new Uint8Array(o.fmtSize ?? (o.subFormat !== undefined ? 40 : 16));
  const fv = new DataView(fmt.buffer);
  fv.setUint16(0, o.format ?? 1, true);
  fv.setUint16(2, channels, true);
  fv.setUint32(4, o.rate ?? 8000, true);
  fv.setUint32(8, (o.rate ?? 8000) * channels * (bits / 8), true);
  if (fmt.length >= 16) {
    fv.setUint16(12, o.blockAlign ?? channels * (bits / 8), true);
    fv.setUint16(14, bits, true);
  }
  if (o.subFormat !== undefined) fv.setUint16(24, o.subFormat, true);
  const parts = [
    ...(o.extra ?? []).map((e) => chunk(e.id, e.body)),
    ...(o.omitFmt ? [] : [chunk('fmt ', fmt)]),
    ...(o.omitData ? [] : [chunk('data', o.data ?? new Uint8Array(0))]),
  ];
  const body = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(12 + body);
  out.set([0x52, 0x49, 0x46, 0x46]);
  new DataView(out.buffer).setUint32(4, o.riffSize ?? 4 + body, true);
  out.set([0x57, 0x41, 0x56, 0x45], 8);
  let p = 12;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

const i16 = (...v: number[]) => new Uint8Array(Int16Array.from(v).buffer);

test('PCM16 mono: exact sample values, with an odd-sized LIST chunk skipped before fmt', () => {
  const file = wav({ data: i16(0, 16384, -32768, 32767), extra: [{ id: 'LIST', body: new Uint8Array(5) }] });
  const a = decodeWav(file, 'a.wav');
  assert.equal(a.channels, 1);
  assert.equal(a.sampleRate, 8000);
  assert.equal(a.frames, 4);
  assert.equal(a.format, 'PCM 16-bit');
  assert.deepEqual(Array.from(a.data[0]!), [0, 0.5, -1, 32767 / 32768]);
  assert.equal(a.duration, 4 / 8000);
});

test('PCM16 stereo is de-interleaved; the encoder round-trips', () => {
  const l = Float32Array.from([0.25, -0.5, 0]);
  const r = Float32Array.from([-0.25, 0.75, 1]);
  const a = decodeWav(encodeWavPcm16([l, r], 44100), 's.wav');
  assert.equal(a.channels, 2);
  assert.equal(a.sampleRate, 44100);
  for (let i = 0; i < 3; i++) {
    assert.ok(Math.abs(a.data[0]![i]! - l[i]!) <= 1 / 32768);
    assert.ok(Math.abs(a.data[1]![i]! - r[i]!) <= 1 / 32768);
  }
});

test('float32 and extensible-float WAVs keep their values', () => {
  const f = new Uint8Array(Float32Array.from([0.125, -0.75, 1.5]).buffer);
  for (const file of [wav({ format: 3, bits: 32, data: f }), wav({ format: 0xfffe, subFormat: 3, bits: 32, data: f })]) {
    const a = decodeWav(file, 'f.wav');
    assert.equal(a.format, 'float 32-bit');
    assert.deepEqual(Array.from(a.data[0]!), [0.125, -0.75, 1.5]);
  }
});

test('PCM24: sign extension', () => {
  const a = decodeWav(wav({ bits: 24, data: Uint8Array.from([0xff, 0xff, 0x7f, 0x00, 0x00, 0x80, 0xff, 0xff, 0xff]) }), 'p.wav');
  assert.deepEqual(Array.from(a.data[0]!), [8388607 / 8388608, -1, -1 / 8388608]);
});

test('files written by ffmpeg (PCM16 stereo, PCM24, float32) decode to what ffmpeg decodes', (t) => {
  if (!requireTool(t, FFMPEG, 'ffmpeg')) return;
  const dir = tempDir(t);
  for (const [codec, ch] of [['pcm_s16le', 2], ['pcm_s24le', 1], ['pcm_f32le', 2]] as const) {
    const path = join(dir, `${codec}.wav`);
    execFileSync(FFMPEG, ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=330:sample_rate=22050:duration=0.05', '-ac', String(ch), '-af', 'volume=0.8', '-c:a', codec, path]);
    const a = decodeWav(readFileSync(path), path);
    const raw = execFileSync(FFMPEG, ['-v', 'error', '-i', path, '-f', 'f32le', '-c:a', 'pcm_f32le', '-']);
    const ref = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    assert.equal(a.channels, ch);
    assert.equal(a.sampleRate, 22050);
    assert.equal(a.frames * ch, ref.length, codec);
    let max = 0;
    for (let f = 0; f < a.frames; f++) for (let c = 0; c < ch; c++) max = Math.max(max, Math.abs(a.data[c]![f]! - ref[f * ch + c]!));
    assert.ok(max <= 1e-7, `${codec}: max diff ${max}`);
  }
});

test('bad WAV files: one clear message each, naming the file', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty', new Uint8Array(0), /empty file/],
    ['short', new Uint8Array(6), /shorter than a RIFF header/],
    ['png', Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10, 0, 0, 0, 0]), /no RIFF header/],
    ['avi', (() => { const b = wav({}); b.set([0x41, 0x56, 0x49, 0x20], 8); return b; })(), /type "AVI ", not WAVE/],
    ['truncated riff', wav({ data: i16(1, 2), riffSize: 1000 }), /truncated: the RIFF header says 1008 bytes/],
    ['cut file', (() => { const b = wav({ data: i16(1, 2, 3, 4) }); return b.subarray(0, b.length - 2); })(), /truncated: the RIFF header says 52 bytes, the file has 50/],
    ['long chunk', (() => { const b = wav({ data: i16(1, 2) }); new DataView(b.buffer).setUint32(b.length - 8, 100, true); return b; })(), /truncated: chunk "data" at byte 36 says 100 bytes, only 4 follow/],
    ['no fmt', wav({ omitFmt: true, data: i16(1) }), /no "fmt" chunk/],
    ['no data', wav({ omitData: true }), /no "data" chunk/],
    ['two data', wav({ data: i16(1), extra: [{ id: 'data', body: i16(2) }] }), /2 "data" chunks/],
    ['short fmt', wav({ fmtSize: 12, data: i16(1) }), /too short \(16 needed\)/],
    ['adpcm', wav({ format: 2, data: i16(1) }), /format tag 0x2 is not supported/],
    ['pcm8', wav({ bits: 8, data: Uint8Array.from([1, 2]) }), /PCM 8-bit WAV is not supported/],
    ['float64', wav({ format: 3, bits: 64, data: new Uint8Array(8) }), /float 64-bit WAV is not supported/],
    ['5.1', wav({ channels: 6, data: new Uint8Array(12) }), /6 channels: only mono or stereo/],
    ['rate 0', wav({ rate: 0, data: i16(1) }), /sample rate 0 Hz/],
    ['block align', wav({ channels: 2, blockAlign: 2, data: i16(1, 2) }), /block align 2 disagrees/],
    ['partial frame', wav({ channels: 2, data: i16(1, 2, 3) }), /not a whole number of 4-byte frames/],
    ['nan', wav({ format: 3, bits: 32, data: new Uint8Array(Float32Array.from([0, NaN]).buffer) }), /sample 1 of channel 0 is NaN/],
    ['rf64', (() => { const b = wav({}); b.set([0x52, 0x46, 0x36, 0x34]); return b; })(), /RF64/],
  ];
  for (const [label, bytes, re] of cases) {
    assert.throws(
      () => decodeWav(bytes, `${label}.wav`),
      (e: unknown) => isCnnV3Error(e) && e.message.startsWith(`${label}.wav: `) && re.test(e.message) && !e.message.includes('\n'),
      label,
    );
  }
});

test('peakAbs: the peak |sample| of all channels over a time span, 0 outside the audio', () => {
  const l = new Float32Array(100);
  const r = new Float32Array(100);
  l[10] = 0.3;
  r[12] = -0.6;
  l[50] = 0.9;
  const a = decodeWav(encodeWavPcm16([l, r], 100), 'p.wav'); // 100 Hz: sample i at i/100 s
  // PCM16 quantisation (×32767 written, ÷32768 read) is within 1e-4.
  const near = (x: number, y: number) => Math.abs(x - y) <= 1e-4;
  assert.ok(near(peakAbs(a, 0.1, 0.12), 0.3)); // samples 10, 11
  assert.ok(near(peakAbs(a, 0.1, 0.13), 0.6)); // stereo: the right channel's -0.6
  assert.ok(near(peakAbs(a, 0.0, 1.0), 0.9));
  assert.equal(peakAbs(a, 0.2, 0.4), 0);
  assert.ok(near(peakAbs(a, 0.5, 0.5), 0.9)); // an empty span reads the sample under t0
  assert.equal(peakAbs(a, 2, 3), 0);
});
