#!/usr/bin/env python3
"""The CNN v3 network (SPEC §4) in PyTorch, timed the way a user who picked PyTorch would run it.

Reads the files `npm run bench:infer -- --write-weights=DIR` writes: the same random weights
(cnn_v3_weights.bin: f16 conv values, SPEC §6), FiLM MLP (cnn_v3_film_mlp.bin), condition, and a
37×23 check case (the quantised features and the float64 reference output), so the comparison is
the same network on the same weights. The FiLM MLP runs once, on the CPU side, as the effect's
setFilmParams does; what is timed is the five convolutions from the 20 feature channels to RGBA.

Modes (CUDA events around each frame, median and p10–p90 over the timed frames):
  eager-fp32        plain module, fp32, NCHW (cudnn.benchmark on)
  graph-fp16        fp16, the eager module captured in a CUDA graph
  compile-fp16-cl   torch.compile(mode="max-autotune"), fp16, channels-last
Usage: python3 bench/torch/bench_torch.py DIR [--sizes 1280x720,1920x1080,3840x2160]
       [--frames 200] [--modes eager-fp32,graph-fp16,compile-fp16-cl] [--json OUT]
"""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

FILM_HIDDEN = 16
IN_CHANNELS = 20


def read_model(d):
    meta = json.load(open(os.path.join(d, 'bench.json')))
    c0, c1 = meta['enc_channels']
    D = meta['film_cond_dim']
    shapes = [('enc0', c0, IN_CHANNELS, 3), ('enc1', c1, c0, 3), ('bottleneck', c1, c1, 1), ('dec1', c0, 2 * c1, 3), ('dec0', 4, 2 * c0, 3)]
    n = sum(o * i * k * k + o for _, o, i, k in shapes)
    raw = open(os.path.join(d, 'cnn_v3_weights.bin'), 'rb').read()
    halves = np.frombuffer(raw[: 2 * n], dtype='<f2').astype(np.float32)
    convs, at = {}, 0
    for name, o, i, k in shapes:
        w = halves[at: at + o * i * k * k].reshape(o, i, k, k)
        at += o * i * k * k
        b = halves[at: at + o]
        at += o
        convs[name] = (torch.from_numpy(w.copy()), torch.from_numpy(b.copy()))
    F_out = 2 * (c0 + c1 + c0 + 4)
    mlp = np.frombuffer(open(os.path.join(d, 'cnn_v3_film_mlp.bin'), 'rb').read(), dtype='<f4').astype(np.float64)
    w0 = mlp[: FILM_HIDDEN * D].reshape(FILM_HIDDEN, D)
    b0 = mlp[FILM_HIDDEN * D: FILM_HIDDEN * D + FILM_HIDDEN]
    off = FILM_HIDDEN * D + FILM_HIDDEN
    w1 = mlp[off: off + F_out * FILM_HIDDEN].reshape(F_out, FILM_HIDDEN)
    b1 = mlp[off + F_out * FILM_HIDDEN: off + F_out * FILM_HIDDEN + F_out]
    cond = np.array(meta['cond'], dtype=np.float64)
    film = w1 @ np.maximum(w0 @ cond + b0, 0) + b1
    # γ0 β0 γ1 β1 γ2 β2 γ3 β3 (SPEC §4), as f32 like the effect's uniforms.
    parts, at = {}, 0
    for layer, ch in (('enc0', c0), ('enc1', c1), ('dec1', c0), ('dec0', 4)):
        parts[layer] = (torch.tensor(film[at: at + ch], dtype=torch.float32), torch.tensor(film[at + ch: at + 2 * ch], dtype=torch.float32))
        at += 2 * ch
    return meta, convs, parts


class CnnV3(torch.nn.Module):
    """SPEC §4: stride 1, zero padding, avgpool with ceil (partial blocks average what they have),
    nearest ×2 up cropped to the skip, cat(up, skip), FiLM γ⊙x+β."""

    def __init__(self, convs, film):
        super().__init__()
        for name, (w, b) in convs.items():
            self.register_buffer(f'{name}_w', w)
            self.register_buffer(f'{name}_b', b)
        for layer, (g, bt) in film.items():
            self.register_buffer(f'{layer}_g', g.view(1, -1, 1, 1))
            self.register_buffer(f'{layer}_beta', bt.view(1, -1, 1, 1))

    @staticmethod
    def pool(x):
        return F.avg_pool2d(x, 2, ceil_mode=True, count_include_pad=False)

    @staticmethod
    def up(x, like):
        return F.interpolate(x, scale_factor=2, mode='nearest')[:, :, : like.shape[2], : like.shape[3]]

    def forward(self, x):
        e0 = F.relu(self.enc0_g * F.conv2d(x, self.enc0_w, self.enc0_b, padding=1) + self.enc0_beta)
        e1 = F.relu(self.enc1_g * F.conv2d(self.pool(e0), self.enc1_w, self.enc1_b, padding=1) + self.enc1_beta)
        b = F.relu(F.conv2d(self.pool(e1), self.bottleneck_w, self.bottleneck_b))
        d1 = F.relu(self.dec1_g * F.conv2d(torch.cat([self.up(b, e1), e1], 1), self.dec1_w, self.dec1_b, padding=1) + self.dec1_beta)
        z = self.dec0_g * F.conv2d(torch.cat([self.up(d1, e0), e0], 1), self.dec0_w, self.dec0_b, padding=1) + self.dec0_beta
        return torch.sigmoid(z)


def spread(xs):
    s = np.sort(np.array(xs))
    return {'median': float(np.quantile(s, 0.5)), 'p10': float(np.quantile(s, 0.1)), 'p90': float(np.quantile(s, 0.9))}


def time_frames(fn, frames, warmup=20):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(frames)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(frames)]
    for i in range(frames):
        starts[i].record()
        fn()
        ends[i].record()
    torch.cuda.synchronize()
    return spread([s.elapsed_time(e) for s, e in zip(starts, ends)])


def make_runner(mode, model, w, h):
    dev = 'cuda'
    if mode == 'eager-fp32':
        m = model.float().to(dev)
        x = torch.rand(1, IN_CHANNELS, h, w, device=dev)
        return lambda: m(x)
    if mode == 'graph-fp16':
        m = model.half().to(dev)
        x = torch.rand(1, IN_CHANNELS, h, w, device=dev, dtype=torch.half)
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s), torch.no_grad():
            for _ in range(3):
                m(x)
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g), torch.no_grad():
            m(x)
        return g.replay
    if mode == 'compile-fp16-cl':
        m = model.half().to(dev).to(memory_format=torch.channels_last)
        x = torch.rand(1, IN_CHANNELS, h, w, device=dev, dtype=torch.half).to(memory_format=torch.channels_last)
        # A fresh, static-shape compile per size (a second size would otherwise recompile with
        # dynamic shapes, which runs slower).
        torch._dynamo.reset()
        c = torch.compile(m, mode='max-autotune', dynamic=False)
        t0 = time.time()
        with torch.no_grad():
            c(x)
        print(f'    (compiled {w}×{h} in {time.time() - t0:.0f} s)', flush=True)
        return lambda: c(x)
    raise SystemExit(f'unknown mode {mode}')


def check(d, meta, convs, film):
    """The fp32 module on the check case against the float64 reference the JS bench wrote."""
    cw, ch = meta['check']['width'], meta['check']['height']
    x = np.fromfile(os.path.join(d, 'check_features.f32'), dtype='<f4').reshape(1, IN_CHANNELS, ch, cw)
    ref = np.fromfile(os.path.join(d, 'check_output.f32'), dtype='<f4').reshape(1, 4, ch, cw)
    m = CnnV3(convs, film).float()
    with torch.no_grad():
        y = m(torch.from_numpy(x.copy())).numpy()
        y16 = CnnV3(convs, film).half().cuda()(torch.from_numpy(x.copy()).half().cuda()).float().cpu().numpy()
    e32 = float(np.abs(y - ref).max())
    e16 = float(np.abs(y16 - ref).max())
    print(f'check {cw}×{ch} (odd sizes: partial pools, cropped ups) against the JS float64 reference: fp32 max |err| {e32:.2e} (≤ 1e-5: {"ok" if e32 <= 1e-5 else "FAIL"}), fp16 {e16:.2e}')
    return e32 <= 1e-5, e32, e16


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('dir')
    ap.add_argument('--sizes', default='1280x720,1920x1080,3840x2160')
    ap.add_argument('--frames', type=int, default=200)
    ap.add_argument('--modes', default='eager-fp32,graph-fp16,compile-fp16-cl')
    ap.add_argument('--json')
    a = ap.parse_args()
    torch.backends.cudnn.benchmark = True
    meta, convs, film = read_model(a.dir)
    ok, e32, e16 = check(a.dir, meta, convs, film)
    name = torch.cuda.get_device_name()
    print(f'bench_torch  enc={meta["enc_channels"]} torch {torch.__version__}, CUDA {torch.version.cuda}, {name}; {a.frames} frames per size', flush=True)
    results = []
    for size in a.sizes.split(','):
        w, h = map(int, size.split('x'))
        for mode in a.modes.split(','):
            with torch.no_grad():
                fn = make_runner(mode, CnnV3(convs, film), w, h)
                r = time_frames(fn, a.frames)
            results.append({'width': w, 'height': h, 'mode': mode, **r})
            print(f'  {mode:16s} {w}×{h}: {r["median"]:.3f} ({r["p10"]:.3f}–{r["p90"]:.3f}) ms/frame', flush=True)
            torch.cuda.empty_cache()
    print('\n| size | ' + ' | '.join(a.modes.split(',')) + ' | best |')
    print('|---|' + '---:|' * (len(a.modes.split(',')) + 1))
    for size in a.sizes.split(','):
        w, h = map(int, size.split('x'))
        rs = [r for r in results if r['width'] == w and r['height'] == h]
        best = min(rs, key=lambda r: r['median'])
        print(f'| {w}×{h} | ' + ' | '.join(f'{r["median"]:.3f} ({r["p10"]:.3f}–{r["p90"]:.3f})' for r in rs) + f' | {best["mode"]} {best["median"]:.3f} |')
    if a.json:
        json.dump({'device': name, 'torch': torch.__version__, 'check': {'pass': ok, 'fp32_max_abs': e32, 'fp16_max_abs': e16}, 'results': results}, open(a.json, 'w'), indent=2)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
