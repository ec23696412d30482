/**
 * WAV decoding for the demo's AUDIO track and the per-frame audio_intensity (SPEC §8).
 * Browser-safe: no Node imports.
 *
 * Accepted: RIFF/WAVE with a `fmt ` chunk of format 1 (PCM, 16 or 24 bit), 3 (IEEE float,
 * 32 bit) or 0xFFFE (WAVE_FORMAT_EXTENSIBLE whose sub-format is one of those), one or two
 * channels, and a `data` chunk. Chunks are walked by their declared sizes (odd sizes padded to
 * even, as RIFF says); unknown chunks (LIST, fact, cue …) are skipped. A chunk that runs past
 * the end of the file, a missing or second `fmt `/`data`, a block align that disagrees with
 * the format, or a data size that is not whole frames is refused with `file: problem`.
 * Samples become float in [−1, 1] (PCM: v / 2^(bits−1)); float samples are kept as written,
 * except that NaN/±Infinity are refused since they would poison every peak.
 */
import { fileError } from '../errors.js';

export interface WavAudio {
  sampleRate: number;
  channels: number;
  /** Sample frames (one sample per channel each). */
  frames: number;
  /** One Float32Array per channel. */
  data: Float32Array[];
  /** Seconds. */
  duration: number;
  /** The stored format, for messages: e.g. "PCM 16-bit", "float 32-bit". */
  format: string;
}

const FORMAT_PCM = 1;
const FORMAT_FLOAT = 3;
const FORMAT_EXTENSIBLE = 0xfffe;
/** Upper bound on a sane sample rate; anything above is a corrupt header, not audio. */
const MAX_SAMPLE_RATE = 1_000_000;

const fourcc = (b: Uint8Array, o: number): string => String.fromCharCode(b[o]!, b[o + 1]!, b[o + 2]!, b[o + 3]!);

interface Chunk {
  id: string;
  offset: number;
  size: number;
}

function walkChunks(bytes: Uint8Array, dv: DataView, name: string): Chunk[] {
  if (bytes.length === 0) throw fileError(name, 'empty file, not a WAV');
  if (bytes.length < 12) throw fileError(name, `not a WAV file (${bytes.length} bytes, shorter than a RIFF header)`);
  if (fourcc(bytes, 0) !== 'RIFF') {
    throw fileError(name, fourcc(bytes, 0) === 'RF64' ? 'RF64 (64-bit WAV) is not supported' : 'not a WAV file (no RIFF header)');
  }
  if (fourcc(bytes, 8) !== 'WAVE') throw fileError(name, `a RIFF file of type "${fourcc(bytes, 8)}", not WAVE`);
  const riffEnd = 8 + dv.getUint32(4, true);
  if (riffEnd > bytes.length) throw fileError(name, `truncated: the RIFF header says ${riffEnd} bytes, the file has ${bytes.length}`);
  const chunks: Chunk[] = [];
  let o = 12;
  while (o + 8 <= riffEnd) {
    const id = fourcc(bytes, o);
    const size = dv.getUint32(o + 4, true);
    if (o + 8 + size > riffEnd) throw fileError(name, `truncated: chunk "${id}" at byte ${o} says ${size} bytes, only ${riffEnd - o - 8} follow`);
    chunks.push({ id, offset: o + 8, size });
    o += 8 + size + (size & 1);
  }
  return chunks;
}

/** Decodes a WAV file; `name` only names it in error messages. */
export function decodeWav(bytes: Uint8Array, name: string): WavAudio {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks = walkChunks(bytes, dv, name);
  const one = (id: string): Chunk => {
    const found = chunks.filter((c) => c.id === id);
    if (found.length === 0) throw fileError(name, `no "${id.trim()}" chunk`);
    if (found.length > 1) throw fileError(name, `${found.length} "${id.trim()}" chunks (one expected)`);
    return found[0]!;
  };
  const fmt = one('fmt ');
  if (fmt.size < 16) throw fileError(name, `"fmt" chunk of ${fmt.size} bytes is too short (16 needed)`);
  let format = dv.getUint16(fmt.offset, true);
  const channels = dv.getUint16(fmt.offset + 2, true);
  const sampleRate = dv.getUint32(fmt.offset + 4, true);
  const blockAlign = dv.getUint16(fmt.offset + 12, true);
  const bits = dv.getUint16(fmt.offset + 14, true);
  if (format === FORMAT_EXTENSIBLE) {
    if (fmt.size < 40) throw fileError(name, `WAVE_FORMAT_EXTENSIBLE "fmt" chunk of ${fmt.size} bytes is too short (40 needed)`);
    format = dv.getUint16(fmt.offset + 24, true);
  }
  const kind = format === FORMAT_PCM ? 'PCM' : format === FORMAT_FLOAT ? 'float' : undefined;
  if (!kind) throw fileError(name, `WAV format tag 0x${format.toString(16)} is not supported (PCM 16/24-bit or float 32-bit)`);
  const supported = kind === 'PCM' ? bits === 16 || bits === 24 : bits === 32;
  if (!supported) throw fileError(name, `${kind} ${bits}-bit WAV is not supported (PCM 16/24-bit or float 32-bit)`);
  if (channels !== 1 && channels !== 2) throw fileError(name, `${channels} channels: only mono or stereo WAV is supported`);
  if (sampleRate === 0 || sampleRate > MAX_SAMPLE_RATE) throw fileError(name, `sample rate ${sampleRate} Hz is not valid`);
  const bytesPerSample = bits / 8;
  if (blockAlign !== channels * bytesPerSample) {
    throw fileError(name, `block align ${blockAlign} disagrees with ${channels} × ${bits}-bit samples (${channels * bytesPerSample})`);
  }
  const data = one('data');
  if (data.size % blockAlign !== 0) throw fileError(name, `"data" chunk of ${data.size} bytes is not a whole number of ${blockAlign}-byte frames`);
  const frames = data.size / blockAlign;
  const out = Array.from({ length: channels }, () => new Float32Array(frames));
  for (let f = 0; f < frames; f++) {
    for (let c = 0; c < channels; c++) {
      const at = data.offset + f * blockAlign + c * bytesPerSample;
      let v: number;
      if (kind === 'float') {
        v = dv.getFloat32(at, true);
        if (!Number.isFinite(v)) throw fileError(name, `sample ${f} of channel ${c} is ${v} (not a finite number)`);
      } else if (bits === 16) {
        v = dv.getInt16(at, true) / 32768;
      } else {
        const u = bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16);
        v = ((u << 8) >> 8) / 8388608;
      }
      out[c]![f] = v;
    }
  }
  return { sampleRate, channels, frames, data: out, duration: frames / sampleRate, format: `${kind} ${bits}-bit` };
}

/**
 * audio_intensity over the time span [t0, t1) seconds: the peak |sample| over all channels,
 * 0 outside the audio. A span shorter than one sample still reads the sample under t0.
 */
export function peakAbs(audio: WavAudio, t0: number, t1: number): number {
  // The slack keeps float noise (0.12 · 100 = 12.000000000000002) from taking one sample more.
  const eps = 1e-9;
  const first = Math.max(0, Math.floor(t0 * audio.sampleRate + eps));
  const last = Math.min(audio.frames, Math.max(first + 1, Math.ceil(t1 * audio.sampleRate - eps)));
  let peak = 0;
  for (const ch of audio.data) {
    for (let i = first; i < last; i++) {
      const a = Math.abs(ch[i]!);
      if (a > peak) peak = a;
    }
  }
  return peak;
}

/** Encodes mono or stereo float samples as a PCM16 WAV (the example music and test fixtures). */
export function encodeWavPcm16(channels: Float32Array[], sampleRate: number): Uint8Array {
  const n = channels[0]?.length ?? 0;
  const c = channels.length;
  const dataBytes = n * c * 2;
  const bytes = new Uint8Array(44 + dataBytes);
  const dv = new DataView(bytes.buffer);
  const put = (o: number, s: string) => {
    for (let i = 0; i < 4; i++) bytes[o + i] = s.charCodeAt(i);
  };
  put(0, 'RIFF');
  dv.setUint32(4, 36 + dataBytes, true);
  put(8, 'WAVE');
  put(12, 'fmt ');
  dv.setUint32(16, 16, true);
  dv.setUint16(20, FORMAT_PCM, true);
  dv.setUint16(22, c, true);
  dv.setUint32(24, sampleRate, true);
  dv.setUint32(28, sampleRate * c * 2, true);
  dv.setUint16(32, c * 2, true);
  dv.setUint16(34, 16, true);
  put(36, 'data');
  dv.setUint32(40, dataBytes, true);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < c; k++) {
      const v = Math.max(-1, Math.min(1, channels[k]![i]!));
      dv.setInt16(44 + (i * c + k) * 2, Math.round(v * 32767), true);
    }
  }
  return bytes;
}
