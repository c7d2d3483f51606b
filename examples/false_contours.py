"""Before/after crops of a smooth area: false contours of a 4-bit photograph removed.

Takes the sky of scikit-image's ``camera`` (a smooth gradient), truncates it
to ``--bits`` bits, de-quantizes it with the paper's model (``adaptive=False``)
and with the default (content-adaptive) ``dequantize``, and writes one PNG with the original, the quantized input
(false contours), both reconstructions and the midpoint baseline, contrast
stretched so the bands are visible.  Run::

    python examples/false_contours.py --out false_contours.png
"""

from __future__ import annotations

import argparse

from skimage import data

import qpsolve as qs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bits", type=int, default=4)
    ap.add_argument("--crop", type=int, nargs=4, default=[0, 96, 300, 396],
                    metavar=("R0", "R1", "C0", "C1"), help="rows and columns of the smooth area")
    ap.add_argument("--out", default="false_contours.png")
    args = ap.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from skimage.metrics import peak_signal_noise_ratio as psnr

    r0, r1, c0, c1 = args.crop
    truth = data.camera()[r0:r1, c0:c1]
    st = 2 ** (8 - args.bits)
    q = (truth >> (8 - args.bits)) << (8 - args.bits)
    panels = [("original (8 bit)", truth.astype(float)), (f"{args.bits}-bit input", q.astype(float)),
              ("midpoint v + step/2", q + st / 2.0)]
    for label, kw in (("plate (paper)", {"adaptive": False}), ("default (adaptive)", {})):
        out, res = qs.dequantize(q, bits=args.bits, return_result=True, **kw)
        panels.append((f"{label} [{res.status!s}]", out))
    lo, hi = float(truth.min()), float(truth.max()) + st
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6))
    for ax, (label, img) in zip(axes, panels):
        ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
        p = "" if img is panels[0][1] else f"\nPSNR {psnr(truth.astype(float), img, data_range=255):.2f} dB"
        ax.set_title(label + p, fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    for label, img in panels[1:]:
        print(f"{label:32s} PSNR {psnr(truth.astype(float), img, data_range=255):.2f} dB")


if __name__ == "__main__":
    main()
