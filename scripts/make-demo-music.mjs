// Writes examples/demo/music.wav: 8 s of synthetic music at 120 BPM (a kick on every beat, a
// hi-hat on the off-beats, a bass line), generated here from formulas, so it is ours to give
// away: CC0. Deterministic (fixed-seed noise). Run: node --import tsx scripts/make-demo-music.mjs
import { writeFileSync } from 'node:fs';
import { encodeWavPcm16 } from '../src/demo/wav.ts';

const RATE = 16000;
const SECONDS = 8;
const BPM = 120;
const beat = 60 / BPM;
const n = RATE * SECONDS;
const out = new Float32Array(n);
let seed = 12345;
const noise = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
const bass = [55, 55, 65.41, 49]; // A1 A1 C2 G1, one note per bar
for (let i = 0; i < n; i++) {
  const t = i / RATE;
  const inBeat = t % beat;
  const beatIndex = Math.floor(t / beat);
  // Kick: a falling sine with a fast decay; accented on the first beat of a bar.
  const accent = beatIndex % 4 === 0 ? 1 : 0.7;
  const kick = accent * Math.sin(2 * Math.PI * (50 * inBeat + 60 * (1 - Math.exp(-inBeat * 30)) / 30)) * Math.exp(-inBeat * 9);
  // Hi-hat: short noise burst half a beat later.
  const off = (t + beat / 2) % beat;
  const hat = 0.18 * noise() * Math.exp(-off * 60);
  // Bass: a soft square-ish tone, ducked under the kick.
  const f = bass[Math.floor(t / (4 * beat)) % bass.length];
  const bassTone = 0.16 * Math.tanh(3 * Math.sin(2 * Math.PI * f * t)) * (1 - Math.exp(-inBeat * 6));
  // The last half second fades out.
  const fade = Math.min(1, (SECONDS - t) / 0.5);
  out[i] = 0.8 * (kick + hat + bassTone) * fade;
}
const path = new URL('../examples/demo/music.wav', import.meta.url).pathname;
writeFileSync(path, encodeWavPcm16([out], RATE));
console.log(`wrote ${path}: ${SECONDS} s, ${RATE} Hz mono PCM16, ${BPM} BPM`);
