/**
 * The tool's "train" panel: options, start/stop, progress, a live loss curve, and the trained
 * model as the two .bin downloads or loaded straight into the viewer. The training itself is
 * train-run.ts; the page hands in what is loaded and how to show errors and use weights.
 */
import type { Sample } from '../dataset/sample.js';
import { FILM_MLP_FILE, WEIGHTS_FILE } from '../export/export.js';
import { OUTPUT_MODES, type OutputMode } from '../model/config.js';
import { PAGE_LOSSES, trainInPage, type PageTrainOptions, type PageTrainResult } from './train-run.js';

export interface TrainPanelHost {
  /** The loaded input as a training sample; throws (with the reason) when it cannot be one. */
  currentSample(): Sample;
  setStatus(text: string): void;
  showError(e: unknown): void;
  /** Loads trained weights into the viewer's effect and re-renders. */
  useWeights(weights: Uint8Array, film: Uint8Array, label: string): void;
}

const byTestId = <T extends HTMLElement>(id: string) => {
  const el = document.querySelector<T>(`[data-testid=${id}]`);
  if (!el) throw new Error(`the page lacks [data-testid=${id}]`);
  return el;
};

interface CurvePoint {
  /** Position in epochs (a step's loss sits within its epoch). */
  x: number;
  loss: number;
}

/** The loss curve: step losses as dots, epoch means as a line, log scale on y. */
class LossCurve {
  private steps: CurvePoint[] = [];
  private epochs: CurvePoint[] = [];
  private total = 1;

  constructor(private readonly canvas: HTMLCanvasElement) {
    this.draw();
  }

  reset(total: number): void {
    this.steps = [];
    this.epochs = [];
    this.total = total;
    delete this.canvas.dataset['points'];
    delete this.canvas.dataset['losses'];
    this.draw();
  }

  add(epoch: number, mean: number, stepLosses: Float32Array): void {
    stepLosses.forEach((l, i) => this.steps.push({ x: epoch - 1 + (i + 1) / stepLosses.length, loss: l }));
    this.epochs.push({ x: epoch, loss: mean });
    // For scripts driving the page: the epoch means so far.
    this.canvas.dataset['points'] = String(this.epochs.length);
    this.canvas.dataset['losses'] = JSON.stringify(this.epochs.map((p) => p.loss));
    this.draw();
  }

  private draw(): void {
    const g = this.canvas.getContext('2d');
    if (!g) return;
    const { width: W, height: H } = this.canvas;
    const pad = { l: 44, r: 6, t: 6, b: 16 };
    g.fillStyle = '#111317';
    g.fillRect(0, 0, W, H);
    g.font = '10px ui-monospace, monospace';
    g.fillStyle = '#888';
    const all = [...this.steps, ...this.epochs].map((p) => p.loss).filter((l) => l > 0 && Number.isFinite(l));
    if (all.length === 0) {
      g.fillText('loss per epoch appears here', pad.l, H / 2);
      return;
    }
    let lo = Math.log10(Math.min(...all));
    let hi = Math.log10(Math.max(...all));
    if (hi - lo < 1e-3) {
      lo -= 0.05;
      hi += 0.05;
    }
    const px = (x: number) => pad.l + (x / this.total) * (W - pad.l - pad.r);
    const py = (l: number) => pad.t + ((hi - Math.log10(l)) / (hi - lo)) * (H - pad.t - pad.b);
    g.fillText(10 ** hi < 0.01 ? (10 ** hi).toExponential(1) : (10 ** hi).toFixed(3), 2, pad.t + 8);
    g.fillText(10 ** lo < 0.01 ? (10 ** lo).toExponential(1) : (10 ** lo).toFixed(3), 2, H - pad.b);
    g.fillText(`epoch ${this.total}`, W - 60, H - 3);
    g.fillStyle = 'rgba(106, 167, 255, 0.35)';
    for (const p of this.steps) if (p.loss > 0) g.fillRect(px(p.x) - 1, py(p.loss) - 1, 2, 2);
    g.strokeStyle = '#6aa7ff';
    g.fillStyle = '#6aa7ff';
    g.lineWidth = 1.5;
    g.beginPath();
    this.epochs.forEach((p, i) => (i === 0 ? g.moveTo(px(p.x), py(p.loss)) : g.lineTo(px(p.x), py(p.loss))));
    g.stroke();
    for (const p of this.epochs) g.fillRect(px(p.x) - 2, py(p.loss) - 2, 4, 4);
  }
}

export function setupTrainPanel(host: TrainPanelHost): void {
  const el = {
    set: byTestId<HTMLElement>('train-set'),
    add: byTestId<HTMLButtonElement>('train-add'),
    clear: byTestId<HTMLButtonElement>('train-clear'),
    epochs: byTestId<HTMLInputElement>('train-epochs'),
    patchSize: byTestId<HTMLInputElement>('train-patch-size'),
    patches: byTestId<HTMLInputElement>('train-patches'),
    batch: byTestId<HTMLInputElement>('train-batch'),
    lr: byTestId<HTMLInputElement>('train-lr'),
    seed: byTestId<HTMLInputElement>('train-seed'),
    output: byTestId<HTMLSelectElement>('train-output'),
    lossKind: byTestId<HTMLSelectElement>('train-loss-kind'),
    weightDecay: byTestId<HTMLInputElement>('train-weight-decay'),
    start: byTestId<HTMLButtonElement>('train-start'),
    stop: byTestId<HTMLButtonElement>('train-stop'),
    state: byTestId<HTMLElement>('train-state'),
    epoch: byTestId<HTMLElement>('train-epoch'),
    rate: byTestId<HTMLElement>('train-rate'),
    loss: byTestId<HTMLElement>('train-loss'),
    curve: new LossCurve(byTestId<HTMLCanvasElement>('train-curve')),
    exports: byTestId<HTMLElement>('train-export'),
    weights: byTestId<HTMLAnchorElement>('download-weights'),
    film: byTestId<HTMLAnchorElement>('download-film'),
    use: byTestId<HTMLButtonElement>('train-use'),
  };
  for (const mode of OUTPUT_MODES) el.output.add(new Option(mode, mode));
  for (const kind of PAGE_LOSSES) el.lossKind.add(new Option(kind, kind));

  // Samples added to the set; empty means "train on whatever is loaded".
  const added: Sample[] = [];
  let running = false;
  let stopAsked = false;
  let trained: PageTrainResult | undefined;

  const setState = (s: 'idle' | 'training' | 'done' | 'stopped' | 'failed') => {
    el.state.textContent = s;
    el.start.disabled = s === 'training';
    el.stop.disabled = s !== 'training';
  };
  const showSet = () => {
    el.set.textContent = added.length === 0 ? 'trains on the loaded input (it needs a target)' : `training set: ${added.map((s) => `${s.name} ${s.width}×${s.height}`).join(', ')}`;
  };
  setState('idle');
  showSet();

  el.add.addEventListener('click', () => {
    try {
      added.push(host.currentSample());
      showSet();
    } catch (e) {
      host.showError(e);
    }
  });
  el.clear.addEventListener('click', () => {
    added.length = 0;
    showSet();
  });
  el.stop.addEventListener('click', () => {
    stopAsked = true;
    el.state.textContent = 'stopping after this epoch';
  });

  const setLink = (a: HTMLAnchorElement, bytes: Uint8Array, name: string) => {
    if (a.href.startsWith('blob:')) URL.revokeObjectURL(a.href);
    a.href = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
    a.download = name;
    a.textContent = `${name} (${bytes.length} bytes)`;
  };

  el.start.addEventListener('click', () => {
    if (running) return;
    let samples: Sample[];
    try {
      samples = added.length > 0 ? [...added] : [host.currentSample()];
    } catch (e) {
      host.showError(e);
      return;
    }
    const options = {
      epochs: Number(el.epochs.value),
      patchSize: Number(el.patchSize.value),
      patchesPerImage: Number(el.patches.value),
      batchSize: Number(el.batch.value),
      lr: Number(el.lr.value),
      seed: Number(el.seed.value),
      outputMode: el.output.value as OutputMode,
      loss: el.lossKind.value as PageTrainOptions['loss'],
      weightDecay: Number(el.weightDecay.value),
    };
    running = true;
    stopAsked = false;
    el.exports.hidden = true;
    el.curve.reset(Math.max(1, options.epochs));
    el.epoch.textContent = '–';
    el.rate.textContent = '';
    el.loss.textContent = '';
    setState('training');
    host.setStatus('training: preparing the training set');
    trainInPage(navigator.gpu, samples, options, {
      progress: (epoch, done, steps) => {
        el.epoch.textContent = `epoch ${epoch}/${options.epochs} · step ${done}/${steps}`;
      },
      epoch: (r) => {
        el.epoch.textContent = `epoch ${r.epoch}/${r.epochs}`;
        el.rate.textContent = `${r.patchesPerSecond.toFixed(0)} patches/s`;
        el.loss.textContent = `loss ${r.loss.toFixed(6)}`;
        el.curve.add(r.epoch, r.loss, r.stepLosses);
        host.setStatus(`training: epoch ${r.epoch}/${r.epochs}`);
      },
      shouldStop: () => stopAsked,
    })
      .then((result) => {
        trained = result;
        setLink(el.weights, result.exported.weights, WEIGHTS_FILE);
        setLink(el.film, result.exported.film, FILM_MLP_FILE);
        el.exports.hidden = false;
        const overflow = result.exported.halfOverflow > 0 ? ` · ${result.exported.halfOverflow} weights beyond the f16 range became ±Inf` : '';
        setState(result.epochs < options.epochs ? 'stopped' : 'done');
        host.setStatus(`trained ${result.epochs} epoch${result.epochs === 1 ? '' : 's'} on ${samples.length} sample${samples.length === 1 ? '' : 's'} (${result.adapterName})${overflow}`);
      })
      .catch((e: unknown) => {
        setState('failed');
        host.showError(e);
      })
      .finally(() => {
        running = false;
      });
  });

  el.use.addEventListener('click', () => {
    if (!trained) return;
    try {
      host.useWeights(trained.exported.weights, trained.exported.film, `trained in the page (${trained.epochs} epochs)`);
    } catch (e) {
      host.showError(e);
    }
  });
}
