"""De-quantization of real photographs versus the bin-midpoint baseline.

Each scikit-image photograph is (optionally) downscaled, rounded to 8 bits,
truncated to 3, 4 and 5 bits, then reconstructed by

* ``midpoint`` -- ``v + step/2``, the baseline every method must beat;
* ``paper``    -- ``qs.dequantize(q, bits, adaptive=False)``, the plate model of the paper;
* ``default``  -- ``qs.dequantize(q, bits)``, the default call, which is content-adaptive
  (paper 6.3): textured pixels pinned to the bin midpoint (since issue #19 by a 9-pixel
  window, :func:`qpsolve.imaging.photo.textured`; the tables under ``benchmarks/results/
  photo_benchmark_*.md`` were measured with the earlier neighbour test and calibration blend;
  the full-resolution benchmark is ``python -m benchmarks.photo_quality``).  This is the method that must win;
* ``default+decorr`` -- colour images, ``color_space='decorrelated'`` (``--decorrelated``).

PSNR and SSIM are measured against the 8-bit original.  Run::

    python examples/photo_benchmark.py --size 96 --out photo_benchmark.md
    python examples/photo_benchmark.py --out photo_benchmark_full.md     # full size (needs the pcg solver)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from skimage import color, data, transform
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

import qpsolve as qs


def images():
    return {
        "camera": data.camera(),
        "moon": data.moon(),
        "astronaut (gray)": np.rint(color.rgb2gray(data.astronaut()) * 255).astype(np.uint8),
        "coffee (gray)": np.rint(color.rgb2gray(data.coffee()) * 255).astype(np.uint8),
        "astronaut (rgb)": data.astronaut(),
        "coffee (rgb)": data.coffee(),
    }


def prepare(img, size):
    """Downscale so the short side is ``size`` and centre-crop a square (``size=0``: untouched)."""
    if not size:
        return img
    h, w = img.shape[:2]
    s = size / min(h, w)
    shape = (max(size, round(h * s)), max(size, round(w * s))) + img.shape[2:]
    r = transform.resize(img, shape, anti_aliasing=True, preserve_range=True)
    h, w = r.shape[:2]
    r = r[(h - size) // 2:(h - size) // 2 + size, (w - size) // 2:(w - size) // 2 + size]
    return np.clip(np.rint(r), 0, 255).astype(np.uint8)


def metrics(truth, out, colour):
    t = truth.astype(np.float64)
    p = peak_signal_noise_ratio(t, out, data_range=255)
    s = structural_similarity(t, out, data_range=255, channel_axis=-1 if colour else None)
    return p, s


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=0, help="short side after downscaling (0: full size)")
    ap.add_argument("--bits", type=int, nargs="+", default=[3, 4, 5])
    ap.add_argument("--solver", default="auto")
    ap.add_argument("--out", help="write the Markdown table here")
    ap.add_argument("--decorrelated", action="store_true",
                    help="also run adaptive + color_space='decorrelated' on colour images (slow: one joint QP)")
    args = ap.parse_args(argv)

    start = time.perf_counter()
    rows = []
    wins = {"paper": [0, 0], "default": [0, 0]}
    uncertified = dict.fromkeys(wins, 0)
    header = ("| image | bits | method | PSNR | SSIM | beats midpoint (PSNR/SSIM) | time s |\n"
              "|---|---|---|---|---|---|---|")
    print(header)
    for name, img in images().items():
        truth = prepare(img, args.size)
        colour = truth.ndim == 3
        ca = -1 if colour else None
        for bits in args.bits:
            st = 2 ** (8 - bits)
            q = (truth >> (8 - bits)) << (8 - bits)
            mid = q + st / 2.0
            bp, bs = metrics(truth, mid, colour)
            results = [("midpoint", mid, 0.0)]
            methods = [("paper", {"adaptive": False}), ("default", {})]
            if colour and args.decorrelated:
                methods.append(("default+decorr", {"color_space": "decorrelated"}))
            for label, kw in methods:
                t0 = time.perf_counter()
                out, res = qs.dequantize(q, bits=bits, channel_axis=ca, solver=args.solver,
                                         return_result=True, **kw)
                dt = time.perf_counter() - t0
                rs = res if isinstance(res, list) else [res]
                if not all(r.success for r in rs):
                    label += " (NOT certified)"
                assert np.all(out >= q) and np.all(out <= np.minimum(q.astype(float) + st, 255)), label
                results.append((label, out, dt))
            for label, out, dt in results:
                p, s = metrics(truth, out, colour)
                if label == "midpoint":
                    beat = "-"
                else:
                    beat = f"{'yes' if p > bp else 'NO'}/{'yes' if s > bs else 'NO'}"
                    key = label.split(" (")[0]
                    if key in wins:
                        wins[key][0] += p > bp and s > bs
                        wins[key][1] += 1
                        uncertified[key] += label != key
                line = f"| {name} | {bits} | {label} | {p:.2f} | {s:.4f} | {beat} | {dt:.2f} |"
                rows.append(line)
                print(line, flush=True)
    size = f"{args.size}x{args.size} crops" if args.size else "full size"
    summary = "\n".join(f"- `{k}` beats the midpoint in both PSNR and SSIM on {w} of {n} cases"
                        + (f" ({uncertified[k]} QP(s) not certified)" if uncertified[k] else "")
                        for k, (w, n) in wins.items())
    summary += f"\n- total wall time {time.perf_counter() - start:.0f} s"
    print(summary)
    if args.out:
        from pathlib import Path

        text = (f"# De-quantization of photographs ({size}, solver={args.solver})\n\n"
                f"Command: `python examples/photo_benchmark.py --size {args.size} --out {args.out}"
                f"{' --decorrelated' if args.decorrelated else ''}`\n\n"
                + header + "\n" + "\n".join(rows) + "\n\n" + summary + "\n")
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
