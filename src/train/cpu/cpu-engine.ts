/**
 * The CPU TrainEngine: each step cuts the batch's patches from the images in memory, applies the
 * channel dropout and draws the conditions from the run's random stream (SPEC §5.4), gets the
 * batch gradient from a GradientEngine (worker threads in Node, see engine-node.ts) and applies
 * Adam. Browser-safe: the thread pool is handed in.
 */
import { NUM_FEATURES } from '../../dataset/features.js';
import { OUT_CHANNELS } from '../../model/config.js';
import type { ParamTable } from '../../model/params.js';
import { Adam, decayedParams } from '../adam.js';
import type { TrainImage } from '../data.js';
import { stepsOf, type EpochOutcome, type EpochPlan, type TrainEngine, type TrainState } from '../engine.js';
import { FastModel } from '../../model/fast.js';
import { addAlbedoNoise, applyChannelDropout, applyConditionControls, cropHwc, drawFeedbackViews, exposePatch, patchOrigin, randomCondition, setPrev, type FeedbackView } from '../patches.js';
import type { Rng } from '../../util/rng.js';
import type { GradientEngine } from './engine.js';

export interface CpuEngineOptions {
  batchSize: number;
  /** Patch side (or the full-image side). */
  side: number;
  channelDropoutP: number;
  /**
   * `--feedback-p`: the fraction of patches whose prev.rgb is the network's own output (current
   * weights, no gradient through it) for the same place a few pixels away and slightly
   * differently exposed — one or two earlier frames — instead of 0.
   */
  feedbackP?: number;
  /**
   * `--temporal-weight W`, on feedback patches: adds W·‖(y − y_prev) − (t − t_prev)‖², the
   * output's change between the previous view and this one beyond its target's change (flow-free).
   * As y_prev, t_prev and t are constants, the sum is (1 + W)·‖y − t′‖² plus a constant, with
   * t′ = t + W/(1 + W)·(y_prev − t_prev): the patch trains on t′ (Adam does not see the scale).
   */
  temporalWeight?: number;
  /**
   * `--feedback-noise S`, on feedback patches: sensor-like noise on the albedo of this view and of
   * each earlier one, independent per frame, uniform in ±σ with σ drawn in [0, S] per patch (the
   * target stays clean), so the network can learn to average it away with prev.rgb.
   */
  feedbackNoise?: number;
  /**
   * `--feedback-still S`, on feedback patches: the fraction whose earlier views are the same
   * view (no shift, no exposure change; fresh noise each frame with --feedback-noise) — a still
   * camera, where prev.rgb is aligned and averaging it with the noisy input pays; the rest move.
   */
  feedbackStill?: number;
  /** `--weight-decay W`: AdamW's decoupled decay of the conv weights (adam.ts), 0 = none. */
  weightDecay?: number;
}

export class CpuTrainEngine implements TrainEngine {
  readonly description: string;
  private readonly params: Float32Array;
  private readonly adam: Adam;
  private readonly grad: Float64Array;
  private readonly decayed: Uint8Array | undefined;
  /** The forward passes of --feedback-p, on this thread with the step's weights. */
  private feedbackModel: FastModel | undefined;
  private feedbackView = new Float32Array(0);
  /** The previous view's target, for --temporal-weight (reused patch to patch). */
  private feedbackTarget = new Float32Array(0);
  /** The latest earlier view's output (prev.rgb of the next), reused across patches. */
  private feedbackPrev = new Float32Array(0);

  constructor(
    readonly table: ParamTable,
    readonly images: ReadonlyArray<TrainImage>,
    readonly gradients: GradientEngine,
    readonly opts: CpuEngineOptions,
  ) {
    this.description = `cpu (${gradients.threads} thread${gradients.threads === 1 ? '' : 's'})`;
    this.params = new Float32Array(table.total);
    this.adam = new Adam(table.total);
    this.grad = new Float64Array(table.total);
    this.decayed = (opts.weightDecay ?? 0) > 0 ? decayedParams(table) : undefined;
  }

  setState(s: TrainState): void {
    this.params.set(s.params);
    this.adam.expAvg.set(s.m);
    this.adam.expAvgSq.set(s.v);
    this.adam.step = s.step;
  }

  async epoch({ order, lr, rng, signal }: EpochPlan, progress: (steps: number) => void): Promise<EpochOutcome> {
    const { batchSize: B, side, channelDropoutP } = this.opts;
    const buf = this.gradients.buffers;
    const D = this.table.config.filmCondDim;
    const px = side * side;
    const steps = stepsOf(order.length, B);
    const losses = new Float64Array(steps);
    const feedbackP = this.opts.feedbackP ?? 0;
    if (feedbackP > 0) {
      this.feedbackModel ??= new FastModel(this.table);
      if (this.feedbackView.length < px * NUM_FEATURES) this.feedbackView = new Float32Array(px * NUM_FEATURES);
      if (this.feedbackTarget.length < px * OUT_CHANNELS) this.feedbackTarget = new Float32Array(px * OUT_CHANNELS);
      if (this.feedbackPrev.length < px * OUT_CHANNELS) this.feedbackPrev = new Float32Array(px * OUT_CHANNELS);
    }
    for (let s = 0; s < steps; s++) {
      signal?.throwIfAborted();
      const items = order.slice(s * B, (s + 1) * B);
      if (feedbackP > 0) this.feedbackModel!.setParams(this.params);
      items.forEach(([i, k], j) => {
        const im = this.images[i]!;
        const c = im.centres[k]!;
        const x0 = patchOrigin(c.x, side, im.width);
        const y0 = patchOrigin(c.y, side, im.height);
        const input = buf.inputs.subarray(j * px * NUM_FEATURES, (j + 1) * px * NUM_FEATURES);
        const target = buf.targets.subarray(j * px * OUT_CHANNELS, (j + 1) * px * OUT_CHANNELS);
        const cond = buf.conds.subarray(j * D, (j + 1) * D);
        cropHwc(im.features, im.width, im.height, NUM_FEATURES, x0, y0, side, input);
        cropHwc(im.target, im.width, im.height, OUT_CHANNELS, x0, y0, side, target);
        applyChannelDropout(input, px, channelDropoutP, rng);
        // Every entry is drawn, controls or not, so the random stream is the playbook's.
        randomCondition(D, rng, cond);
        applyConditionControls(im, this.table.config, cond, target, x0, y0, side);
        // Drawn only with feedback on: without it the random stream stays the playbook's.
        if (feedbackP > 0 && rng.next() < feedbackP) this.feedBack(im, c, side, cond, this.feedbackViews(rng), input, target, rng);
      });
      buf.params.set(this.params);
      const sse = await this.gradients.compute(items.length, side, this.grad);
      const loss = sse / (items.length * px * OUT_CHANNELS);
      if (!Number.isFinite(loss) || !this.grad.every(Number.isFinite)) return { losses: losses.subarray(0, s), state: undefined, divergedAt: s };
      losses[s] = loss;
      this.adam.update(this.params, this.grad, lr, this.opts.weightDecay ?? 0, this.decayed);
      progress(1);
    }
    return { losses, state: { params: this.params.slice(), m: this.adam.expAvg.slice(), v: this.adam.expAvgSq.slice(), step: this.adam.step } };
  }

  /** The earlier views of a feedback patch: still ones (--feedback-still) or moved ones. */
  private feedbackViews(rng: Rng): FeedbackView[] {
    // Drawn only with --feedback-still: without it the random stream stays as before.
    const still = (this.opts.feedbackStill ?? 0) > 0 && rng.next() < this.opts.feedbackStill!;
    const views = drawFeedbackViews(rng);
    return still ? views.map(() => ({ dx: 0, dy: 0, exposure: 1 })) : views;
  }

  /** prev.rgb of `input` ← the output of the chain of earlier views, oldest first, each fed the one before. */
  private feedBack(im: TrainImage, c: { x: number; y: number }, side: number, cond: Float32Array, views: FeedbackView[], input: Float32Array, target: Float32Array, rng: Rng): void {
    const px = side * side;
    const view = this.feedbackView.subarray(0, px * NUM_FEATURES);
    const noise = this.opts.feedbackNoise ?? 0;
    const sigma = noise > 0 ? rng.next() * noise : 0;
    const out = this.feedbackPrev.subarray(0, px * OUT_CHANNELS);
    let prev: Float32Array | undefined;
    let origin = { x: 0, y: 0 };
    for (const v of views) {
      origin = { x: patchOrigin(c.x + v.dx, side, im.width), y: patchOrigin(c.y + v.dy, side, im.height) };
      cropHwc(im.features, im.width, im.height, NUM_FEATURES, origin.x, origin.y, side, view);
      exposePatch(view, px, v.exposure);
      if (sigma > 0) addAlbedoNoise(view, px, sigma, rng);
      if (prev) setPrev(view, px, prev);
      out.set(this.feedbackModel!.forward(view, side, side, cond).subarray(0, px * OUT_CHANNELS));
      prev = out;
    }
    setPrev(input, px, prev!);
    if (sigma > 0) addAlbedoNoise(input, px, sigma, rng);
    const w = this.opts.temporalWeight ?? 0;
    if (w > 0) {
      // The previous frame's target, where that view was and as it was lit (its colour scaled like its input's).
      const last = views[views.length - 1]!;
      const tPrev = this.feedbackTarget.subarray(0, px * OUT_CHANNELS);
      cropHwc(im.target, im.width, im.height, OUT_CHANNELS, origin.x, origin.y, side, tPrev);
      applyConditionControls(im, this.table.config, cond, tPrev, origin.x, origin.y, side);
      const a = w / (1 + w);
      for (let i = 0; i < px * OUT_CHANNELS; i++) {
        const t = i % OUT_CHANNELS < 3 ? Math.min(1, tPrev[i]! * last.exposure) : tPrev[i]!;
        target[i] = target[i]! + a * (prev![i]! - t);
      }
    }
  }

  close(): Promise<void> {
    return this.gradients.close();
  }
}
