"""The temporal mode's blend on synthetic and real clips: ``python -m benchmarks.temporal_blend [--clips ...]``.

One chunk of ``--frames`` frames per clip, one plane (Y / gray), quantized to
``--bits`` and solved in one process (no Dask) as the video path solves it:
each frame's 2-D plate (from the coarse-to-fine start) and the chunk's
temporal QP (``solve_chunk``'s rules: whole by ``spacetime`` when it fits,
otherwise ``pcg`` or tiles).  Reported per clip: the plates, frame by frame
(each frame's 2-D blend, the default of that mode), the temporal plate
blended by each frame's 2-D weights (the temporal mode before
:mod:`qpsolve.distributed.temporal_blend`) and by the chunk's weights (now),
with PSNR and flicker over the whole picture and over its smooth part
(:func:`qpsolve.metrics.smooth_region` of the truth: where banding shows).

Clips: ``synthetic`` (the video benchmark's drifting blob at ``--size``,
``--speed`` px per frame), ``coffee`` and ``rocket`` (scikit-image's
photographs, gray, scaled by 0.6 and cropped to 200 x 320, panned by a
sub-pixel shift per frame with cubic interpolation -- coffee also brightens
by 0.4 levels per frame -- so the truth is a real picture moving as a camera
pan moves it), ``coffee-integer`` (coffee panned by exactly one pixel per
frame: every frame the same picture shifted).  Writes
``benchmarks/results/distributed/temporal_blend.md`` (``--out``).
"""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

import numpy as np

from qpsolve.imaging.io import atomic_output

CLIPS = ("synthetic", "coffee", "rocket", "coffee-integer")


def clip_truth(name, frames, size, speed):
    """The clip's truth, ``(T, h, w)`` floats in 0..255, and a one-line description."""
    if name == "synthetic":
        from qpsolve.distributed.clips import moving_scene

        h, w = size
        return moving_scene(frames, h, w, speed=speed)[0], f"drifting blob {w}x{h}, {speed:g} px/frame"
    from scipy import ndimage
    from skimage import color, data, transform

    img = data.rocket() if name == "rocket" else data.coffee()
    g = transform.rescale(color.rgb2gray(img) * 255.0, 0.6, anti_aliasing=True)
    h, w = 200, 320
    out = []
    for t in range(frames):
        if name == "coffee-integer":
            out.append(g[10:10 + h, 10 + t:10 + t + w] * 0.92 + 8)
            what = "coffee 320x200, panned 1 px/frame exactly"
        elif name == "coffee":
            s = ndimage.shift(g, (0.3 * t, -0.7 * t), order=3, mode="nearest")
            out.append(s[10:10 + h, 10:10 + w] * 0.92 + 8 + 0.4 * t)
            what = "coffee 320x200, panned (0.7, 0.3) px/frame, brightening 0.4 levels/frame"
        else:
            s = ndimage.shift(g, (0.2 * t, -0.6 * t), order=3, mode="nearest")
            out.append(s[5:5 + h, 5:5 + w])
            what = "rocket 320x200 (sky), panned (0.6, 0.2) px/frame"
    return np.clip(np.stack(out), 0, 255), what


def solve_clip(truth, bits):
    """``(lo, hi, plates, temporal plate, seconds)`` of one chunk, solved as the video path solves it."""
    from qpsolve.distributed.clips import quantize
    from qpsolve.distributed.video import solve_chunk

    q = quantize([truth], bits)[0]
    step, crange = 2.0 ** (8 - bits), (0.0, 255.0)
    t = time.perf_counter()
    plates = solve_chunk([q], step, crange, False, {"bc": "even", "adaptive": False})[0][0]
    t2 = time.perf_counter() - t
    t = time.perf_counter()
    x, info = solve_chunk([q], step, crange, True, {"bc": "even", "adaptive": False})
    t3 = time.perf_counter() - t
    from qpsolve.distributed.temporal import frame_envelopes

    lo, hi = frame_envelopes(q, step, crange, {"bc": "even"})
    solves = f"{sum(info['certified'])} of {len(info['certified'])} certified"
    return q, lo, hi, plates, x[0], (t2, t3), solves


def rows(truth, lo, hi, plates, x, step):
    from qpsolve.distributed.temporal import blend, frame_blend_weights
    from qpsolve.distributed.temporal_blend import chunk_blend_weights, drift_evidence
    from qpsolve.distributed.video import flicker, psnr
    from qpsolve.metrics import smooth_region

    w = frame_blend_weights(lo, hi)
    wc = chunk_blend_weights(lo, hi, plates)
    sm = np.stack([smooth_region(f, step) for f in truth])
    pair = sm[1:] & sm[:-1]

    def measure(o):
        e = np.abs(np.diff(o - truth, axis=0))
        nan = float("nan")
        return (psnr(o, truth, 255), flicker(o, truth), psnr(o[sm], truth[sm], 255) if sm.any() else nan,
                float(e[pair].mean()) if pair.any() else nan)

    out = [("bin midpoint", measure(0.5 * (lo + hi))),
           ("2-D plates", measure(plates)),
           ("frame by frame (2-D blend)", measure(blend(plates, lo, hi, w))),
           ("temporal plate", measure(x)),
           ("temporal, 2-D weights (before)", measure(blend(x, lo, hi, w))),
           ("temporal, chunk weights (now)", measure(blend(x, lo, hi, wc)))]
    return out, float(drift_evidence(plates, step).mean()), float(sm.mean())


def main(argv=None):
    import sys

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="benchmarks/results/distributed")
    ap.add_argument("--clips", nargs="+", default=list(CLIPS), choices=CLIPS)
    ap.add_argument("--frames", type=int, default=5)
    ap.add_argument("--bits", type=int, default=3)
    ap.add_argument("--size", type=int, nargs=2, default=[240, 427], metavar=("H", "W"), help="synthetic clip")
    ap.add_argument("--speeds", type=float, nargs="+", default=[1.3, 2.0], help="synthetic clip, px/frame")
    args = ap.parse_args(argv)
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    uptime = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    step = 2.0 ** (8 - args.bits)
    lines = ["# The temporal mode's blend on synthetic and real clips (issue #22)", "",
             f"`python -m benchmarks.temporal_blend {' '.join(sys.argv[1:] if argv is None else argv)}`, {started} "
             f"UTC, one process, machine shared with three other helpers (`uptime`: `{uptime}`), so seconds are "
             f"noisy. One chunk of {args.frames} frames per clip, gray / Y, truncated to {args.bits} bits; flicker = "
             "mean absolute error of the frame differences against the truth, PSNR against the truth, 8-bit units; "
             "`smooth`: the same over the truth's smooth region (`qpsolve.metrics.smooth_region`, per frame; a pair "
             "of frames where both are smooth), where banding shows. `m`: mean drift evidence of the frames' plates "
             "(`qpsolve.distributed.temporal_blend.drift_evidence`); 0 means the chunk keeps each frame's 2-D weights.",
             ""]
    jobs = [(c, s) for c in args.clips for s in (args.speeds if c == "synthetic" else [None])]
    for name, speed in jobs:
        truth, what = clip_truth(name, args.frames, tuple(args.size), speed)
        q, lo, hi, plates, x, (t2, t3), solves = solve_clip(truth, args.bits)
        table, m, smooth = rows(truth, lo, hi, plates, x, step)
        lines += [f"## {what}", "",
                  f"2-D plates {t2:.1f} s, temporal {t3:.1f} s ({solves}); m = {m:.2f}; smooth region "
                  f"{100 * smooth:.0f} % of the pixels.", "",
                  "| method | PSNR dB | flicker | smooth PSNR dB | smooth flicker |", "|---|---|---|---|---|"]
        lines += [f"| {n} | {a:.2f} | {b:.4f} | {c:.2f} | {d:.4f} |" for n, (a, b, c, d) in table]
        lines.append("")
        print("\n".join(lines[-(len(table) + 7):]), flush=True)
        _write(args.out, lines)  # after every clip: a run that is stopped keeps its finished clips
    print(f"wrote {Path(args.out) / 'temporal_blend.md'}")


def _write(out, lines):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_output(out / "temporal_blend.md") as tmp:
        Path(tmp).write_text("\n".join(lines))


if __name__ == "__main__":
    main()
