"""Where a video's flicker comes from: ``python -m benchmarks.video_flicker [--frames 5 --height 480 ...]``.

One plane (Y) of the synthetic moving scene of the video benchmark, quantized
to ``--bits``, solved in one process (no Dask) four ways: each frame's 2-D
plate (started as the video path starts it), the chunk's temporal QP whole
(``spacetime``), the same QP in the 256-px spatial tiles the temporal mode
used before (``--tiles``), and each of them with and without the adaptive
blend with the bin centres: each frame's 2-D weights (what frame by frame
applies) and, for the temporal rows, the chunk's weights that the temporal
mode applies (:mod:`qpsolve.distributed.temporal_blend`: opened where the
frames' plates drift in step).  Writes
``benchmarks/results/distributed/flicker_<h>p.md`` and ``.png`` (the error of
one frame-to-frame change against the truth, per method).
"""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

import numpy as np

from qpsolve.imaging.io import atomic_output


def solve_all(frames, height, width, speed, bits, weights, tiles):
    """Every method's ``(T, h, w)`` answer, the truth, envelopes and blend weights; seconds per solve."""
    from qpsolve.distributed.clips import moving_scene, quantize
    from qpsolve.distributed.temporal import frame_blend_weights, frame_envelopes, solve_temporal_block
    from qpsolve.distributed.video import _tiled, plane_start
    from qpsolve.imaging.image import dequantize

    truth = moving_scene(frames, height, width, speed=speed)[0]
    q = quantize([truth], bits)[0]
    step, crange = 2.0 ** (8 - bits), (0.0, 255.0)
    lo, hi = frame_envelopes(q, step, crange, {"bc": "even"})
    w = frame_blend_weights(lo, hi, True)
    xs, seconds, notes = {"bin midpoint": q + step / 2}, {}, {}
    t = time.perf_counter()
    plates = []
    for f in q:
        s = plane_start(f, step, crange, {"bc": "even"})
        plates.append(dequantize(f, step=step, data_range=crange, bc="even", adaptive=False,
                                 x0=None if s is None else s.ravel()))
    xs["frame by frame"] = np.stack(plates)
    seconds["frame by frame"] = time.perf_counter() - t
    for weight in weights:
        for tile in [None] + list(tiles):
            name = f"temporal w={weight:g}" + ("" if tile is None else f", {tile}-px tiles")
            msgs = []

            def chunk(b, x0, weight=weight):
                r = solve_temporal_block(b[0], b[1], {"bc": "even", "temporal_weight": weight}, x0=x0)
                msgs.append((r.solver, r.success, r.iterations))
                return r.x.reshape(b[0].shape)

            t = time.perf_counter()
            xs[name] = _tiled((lo, hi), xs["frame by frame"], chunk, tile, min(32, (tile or 64) // 4))
            seconds[name] = time.perf_counter() - t
            ok = sum(m[1] for m in msgs)
            notes[name] = (f"{len(msgs)} by {'/'.join(sorted({m[0] for m in msgs}))}, {ok} certified, "
                           f"{max(m[2] for m in msgs)} Newton steps at most")
            print(name, f"{seconds[name]:.1f} s", notes[name], flush=True)
    return truth, lo, hi, w, xs, seconds, notes


def write(out_dir, args, truth, lo, hi, w, xs, seconds, notes, started, uptime):
    from qpsolve.distributed.temporal_blend import chunk_blend_weights, drift_evidence

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from qpsolve.distributed.temporal import blend
    from qpsolve.distributed.video import flicker, psnr

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"flicker_{args.height}p" + ("" if args.speed == 2 else f"_speed{args.speed:g}")
    wc = chunk_blend_weights(lo, hi, xs["frame by frame"])
    m = drift_evidence(xs["frame by frame"], 2.0 ** (8 - args.bits))
    lines = [f"# Where the flicker comes from ({args.width}x{args.height}, {args.frames} frames)", "",
             f"`python -m benchmarks.video_flicker {' '.join(args.argv)}`, {started} UTC, one process, "
             f"machine shared with three other helpers (`uptime`: `{uptime}`), so seconds are noisy. Y plane of the "
             f"video benchmark's moving scene ({args.speed:g} px per frame), {args.bits} bits; flicker = mean "
             "absolute error of the frame differences against the truth, PSNR against the truth, 8-bit units. "
             "`plain`: the certified plate itself; `2-D blend`: `c + w (x - c)` with each frame's 2-D adaptive blend "
             f"weights `w` (mean {w.mean():.2f} here), what frame by frame returns by default; `chunk blend`: the "
             "same with the chunk's weights `w + (1 - w) m` (`m`: the frames' plates' drift evidence, mean "
             f"{m.mean():.2f} here), what `--temporal` returns by default (the whole clip is one chunk here).", "",
             "| method | plain PSNR dB | plain flicker | 2-D blend PSNR dB | 2-D blend flicker | chunk blend PSNR dB "
             "| chunk blend flicker | seconds | solves |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, x in xs.items():
        if name == "bin midpoint":
            lines.append(f"| {name} | {psnr(x, truth, 255):.2f} | {flicker(x, truth):.4f} | - | - | - | - | - | - |")
            continue
        b = blend(x, lo, hi, w)
        chunk = "- | -"
        if name != "frame by frame":
            bc = blend(x, lo, hi, wc)
            chunk = f"{psnr(bc, truth, 255):.2f} | {flicker(bc, truth):.4f}"
        lines.append(f"| {name} | {psnr(x, truth, 255):.2f} | {flicker(x, truth):.4f} | {psnr(b, truth, 255):.2f} | "
                     f"{flicker(b, truth):.4f} | {chunk} | {seconds[name]:.1f} | "
                     f"{notes.get(name, '2-D dequantize per frame (auto)')} |")
    lines.append("")
    with atomic_output(out_dir / f"{stem}.md") as tmp:
        Path(tmp).write_text("\n".join(lines))
    t = min(2, truth.shape[0] - 2)
    dt = truth[t + 1] - truth[t]
    shown = [(n, x) for n, x in xs.items() if n != "bin midpoint" and ("w=" not in n or n.startswith(
        f"temporal w={args.weights[0]:g}"))]
    panels = ([(f"{n}, plain", x) for n, x in shown] + [(f"{n}, 2-D blend", blend(x, lo, hi, w)) for n, x in shown[:2]]
              + [(f"{shown[1][0]}, chunk blend", blend(shown[1][1], lo, hi, wc))])
    cols = 3
    rows = (len(panels) + 1 + cols - 1) // cols
    fig, ax = plt.subplots(rows, cols, figsize=(5 * cols, 3 * rows))
    ax = np.atleast_1d(ax).ravel()
    im = ax[0].imshow(dt, cmap="viridis")
    ax[0].set_title(f"true change, frame {t + 1} to {t + 2} (levels)", fontsize=9)
    fig.colorbar(im, ax=ax[0])
    for a, (name, x) in zip(ax[1:], panels):
        e = (x[t + 1] - x[t]) - dt
        im = a.imshow(e, cmap="RdBu", vmin=-1, vmax=1)
        a.set_title(f"{name}\nerror of the change: mean |e| {np.abs(e).mean():.3f}", fontsize=9)
        fig.colorbar(im, ax=a)
    for a in ax:
        a.set_xticks([])
        a.set_yticks([])
    fig.suptitle(f"{args.width}x{args.height}, {args.bits} bits, {args.speed:g} px/frame, Y: error of one "
                 "frame-to-frame change (8-bit levels, clipped to +-1)")
    fig.tight_layout()
    with atomic_output(out_dir / f"{stem}.png") as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
    print("\n".join(lines))


def main(argv=None):
    import sys

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="benchmarks/results/distributed")
    ap.add_argument("--frames", type=int, default=5)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--width", type=int, default=854)
    ap.add_argument("--speed", type=float, default=2.0)
    ap.add_argument("--bits", type=int, default=3)
    ap.add_argument("--weights", type=float, nargs="+", default=[0.1, 1.0])
    ap.add_argument("--tiles", type=int, nargs="*", default=[256])
    args = ap.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    uptime = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    res = solve_all(args.frames, args.height, args.width, args.speed, args.bits, args.weights, args.tiles)
    write(args.out, args, *res, started, uptime)


if __name__ == "__main__":
    main()
