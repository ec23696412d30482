/**
 * Plots as PNGs, with no dependencies: axes, a light grid, the curves and labels in a 3×5 pixel
 * font. A loss curve (log scale when the loss spans more than a decade); series on one axis.
 */
import { encodePng } from './png.js';

const GLYPHS: Record<string, string> = {
  '0': '111101101101111', '1': '010110010010111', '2': '111001111100111', '3': '111001111001111',
  '4': '101101111001001', '5': '111100111001111', '6': '111100111101111', '7': '111001001001001',
  '8': '111101111101111', '9': '111101111001111', '.': '000000000000010', '-': '000000111000000',
  '+': '000010111010000', e: '000111111100111', p: '000111101111100', o: '000111101101111',
  c: '000111100100111', h: '100100111101101', l: '110010010010111', s: '000011110001110',
  ' ': '000000000000000', g: '000111101111011', v: '000101101101010', a: '000110011111111', '(': '010100100100010', ')': '010001001001010',
  d: '001001111101111', b: '100100111101111', n: '000110101101101', r: '000110100100100', i: '010000010010010',
  t: '010111010010011', m: '000111111101101', f: '011100110100100', u: '000101101101111', k: '100101110101101',
  x: '000101010010101', z: '000111001010111', w: '000101101111111', y: '000101111001110', j: '001000001001110',
  q: '000111101111001', P: '110101110100100', S: '011100010001110', N: '101111111111101', R: '110101110101101',
  B: '110101110101110', '=': '000111000111000', '/': '001001010100100', '_': '000000000000111', ':': '000010000010000',
};

type Rgb = [number, number, number];

class Canvas {
  readonly data: Uint8Array;
  constructor(readonly width: number, readonly height: number) {
    this.data = new Uint8Array(width * height * 3).fill(255);
  }
  set(x: number, y: number, c: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.data.set(c, (y * this.width + x) * 3);
  }
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb): void {
    const n = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    for (let i = 0; i <= n; i++) this.set(x0 + ((x1 - x0) * i) / n, y0 + ((y1 - y0) * i) / n, c);
  }
  text(x: number, y: number, s: string, c: Rgb, scale = 2): void {
    for (const ch of s) {
      const g = GLYPHS[ch] ?? GLYPHS[' ']!;
      for (let r = 0; r < 5; r++) {
        for (let k = 0; k < 3; k++) {
          if (g[r * 3 + k] !== '1') continue;
          for (let dy = 0; dy < scale; dy++) for (let dx = 0; dx < scale; dx++) this.set(x + k * scale + dx, y + r * scale + dy, c);
        }
      }
      x += 4 * scale;
    }
  }
}

const fmt = (v: number) => (v === 0 ? '0' : v >= 0.01 && v < 1000 ? v.toPrecision(3) : v.toExponential(1).replace('e+', 'e'));

/** Renders losses per epoch (epoch k at index k − 1) to a PNG; `val` (blue) beside the training loss. */
export function lossCurvePng(losses: number[], firstEpoch = 1, width = 640, height = 360, val: number[] = []): Uint8Array {
  const cv = new Canvas(width, height);
  const left = 70, right = 20, top = 24, bottom = 36;
  const pw = width - left - right;
  const ph = height - top - bottom;
  const finite = [...losses, ...val].filter((v) => Number.isFinite(v) && v > 0);
  const lo = finite.length ? Math.min(...finite) : 1e-3;
  const hi = finite.length ? Math.max(...finite) : 1;
  const log = hi / lo > 10;
  const tf = (v: number) => (log ? Math.log10(v) : v);
  const a = tf(lo), b = tf(hi) === tf(lo) ? tf(lo) + 1 : tf(hi);
  const yOf = (v: number) => top + ph - ((tf(v) - a) / (b - a)) * ph;
  const xOf = (i: number) => left + (losses.length <= 1 ? pw / 2 : (i / (losses.length - 1)) * pw);
  const grid: Rgb = [225, 225, 225];
  const axis: Rgb = [60, 60, 60];
  for (let k = 0; k <= 4; k++) {
    const y = top + (ph * k) / 4;
    cv.line(left, y, left + pw, y, grid);
    const v = log ? 10 ** (b - ((b - a) * k) / 4) : b - ((b - a) * k) / 4;
    cv.text(4, y - 5, fmt(v), axis);
  }
  cv.line(left, top, left, top + ph, axis);
  cv.line(left, top + ph, left + pw, top + ph, axis);
  cv.text(left, 4, log ? 'loss (log)' : 'loss', axis);
  cv.text(left, top + ph + 8, String(firstEpoch), axis);
  const lastLabel = String(firstEpoch + losses.length - 1);
  cv.text(left + pw - lastLabel.length * 8, top + ph + 8, lastLabel, axis);
  cv.text(left + pw / 2 - 20, top + ph + 8, 'epoch', axis);
  const series = (values: number[], colour: Rgb) => {
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!(Number.isFinite(v) && v > 0)) continue;
      const x = xOf(i), y = yOf(v);
      if (i > 0 && Number.isFinite(values[i - 1]!) && values[i - 1]! > 0) cv.line(xOf(i - 1), yOf(values[i - 1]!), x, y, colour);
      for (let d = -1; d <= 1; d++) cv.line(x - 1, y + d, x + 1, y + d, colour);
    }
  };
  series(losses, [200, 60, 20]);
  if (val.length > 0) {
    series(val, [30, 90, 200]);
    cv.text(left + pw - 14 * 8, 4, 'val', [30, 90, 200]);
    cv.text(left + pw - 9 * 8, 4, 'loss', [200, 60, 20]);
  }
  return encodePng({ width, height, channels: 3, depth: 8, data: cv.data });
}

export interface PlotSeries {
  name: string;
  values: number[];
  colour: [number, number, number];
}

export interface SeriesPlotOptions {
  /** The x axis's label (default `epoch`). */
  xLabel?: string;
  /** The labels at the x axis's two ends (default 1 and the longest series' length). */
  xEnds?: [string, string];
  /** Indices at which to draw a dashed vertical marker (a cut, a clip boundary). */
  markers?: number[];
  /** The y range from the data as it is (0 included), not rounded out to whole numbers. */
  tight?: boolean;
}

/**
 * Several series against epochs (or frames) on one linear axis, with a legend: the study plots
 * (held-out PSNR per epoch for each training setting), the demo's per-frame change. A value
 * that is not finite leaves a gap in its line.
 */
export function seriesPlotPng(series: PlotSeries[], yLabel: string, width = 720, height = 400, options: SeriesPlotOptions = {}): Uint8Array {
  const cv = new Canvas(width, height);
  const left = 70, right = 180, top = 28, bottom = 36;
  const pw = width - left - right;
  const ph = height - top - bottom;
  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  // A loop, not Math.min(...all): a demo's per-frame series can exceed the engine's argument limit.
  const dataLo = all.length ? all.reduce((a, b) => Math.min(a, b)) : 0;
  const dataHi = all.length ? all.reduce((a, b) => Math.max(a, b)) : 1;
  const lo = options.tight ? Math.min(0, dataLo) : Math.floor(dataLo);
  const hi = options.tight ? (dataHi > lo ? lo + (dataHi - lo) * 1.05 : lo + 1) : Math.ceil(dataHi);
  const n = Math.max(...series.map((s) => s.values.length));
  const xOf = (i: number) => left + (n <= 1 ? pw / 2 : (i / (n - 1)) * pw);
  const yOf = (v: number) => top + ph - ((v - lo) / Math.max(1e-9, hi - lo)) * ph;
  const axis: Rgb = [60, 60, 60];
  for (let k = 0; k <= 4; k++) {
    const y = top + (ph * k) / 4;
    cv.line(left, y, left + pw, y, [225, 225, 225]);
    cv.text(4, y - 5, fmt(hi - ((hi - lo) * k) / 4), axis);
  }
  for (const i of options.markers ?? []) {
    const x = xOf(i);
    for (let y = top; y < top + ph; y += 6) cv.line(x, y, x, Math.min(top + ph, y + 3), [150, 150, 150]);
  }
  cv.line(left, top, left, top + ph, axis);
  cv.line(left, top + ph, left + pw, top + ph, axis);
  cv.text(left, 6, yLabel, axis);
  const [first, last] = options.xEnds ?? ['1', String(n)];
  const xLabel = options.xLabel ?? 'epoch';
  cv.text(left, top + ph + 8, first, axis);
  cv.text(left + pw - last.length * 8, top + ph + 8, last, axis);
  cv.text(left + pw / 2 - xLabel.length * 4, top + ph + 8, xLabel, axis);
  series.forEach((s, k) => {
    for (let i = 0; i < s.values.length; i++) {
      const a = s.values[i - 1], b = s.values[i]!;
      if (!Number.isFinite(b)) continue;
      if (a !== undefined && Number.isFinite(a)) {
        for (let d = -1; d <= 1; d++) cv.line(xOf(i - 1), yOf(a) + d / 2, xOf(i), yOf(b) + d / 2, s.colour);
      } else if (!Number.isFinite(s.values[i + 1] ?? NaN)) {
        for (let d = -1; d <= 1; d++) cv.line(xOf(i) - 1, yOf(b) + d, xOf(i) + 1, yOf(b) + d, s.colour); // a lone point
      }
    }
    const ly = top + 10 + k * 18;
    for (let d = 0; d < 3; d++) cv.line(left + pw + 12, ly + d, left + pw + 32, ly + d, s.colour);
    cv.text(left + pw + 38, ly - 4, s.name, axis);
  });
  return encodePng({ width, height, channels: 3, depth: 8, data: cv.data });
}
