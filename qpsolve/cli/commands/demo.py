"""``qpsolve demo``: the paper's 2-bit Gaussian, de-quantized and certified."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...imaging.data import gaussian, to_uint8, truncate_bits
from ...imaging.image import dequantize
from ...imaging.io import write_image


def register(sub):
    p = sub.add_parser("demo", help="de-quantize the paper's 2-bit Gaussian and report quality",
                       description="Build the paper's Gaussian test image, reduce it to 2 bits, solve the "
                                   "biharmonic QP, write before/after PNGs and print PSNR/SSIM and the certificate.")
    p.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    p.add_argument("--bits", type=int, default=2)
    p.add_argument("--solver", default="auto")
    p.add_argument("--out", default="qpsolve-demo", help="folder for the PNGs (default ./qpsolve-demo)")
    p.set_defaults(func=run)


def run(args):
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    if args.size < 8:
        raise ValueError(f"--size must be at least 8, got {args.size}")
    out_dir = Path(args.out)
    reference = to_uint8(gaussian(args.size))
    quantized = truncate_bits(reference, args.bits)
    restored, res = dequantize(quantized, bits=args.bits, solver=args.solver, return_result=True,
                               adaptive=False)  # the paper's plate and its certificate
    out8 = np.clip(np.rint(restored), 0, 255)  # display copy; the solution itself is within [0, 255]

    def metrics(img):
        return (peak_signal_noise_ratio(reference, img.astype(np.uint8), data_range=255),
                structural_similarity(reference, img.astype(np.uint8), data_range=255, win_size=7))

    print(f"{args.size}x{args.size} Gaussian, {args.bits} bits, solver {res.solver}")
    for name, img in (("quantized", quantized), ("de-quantized", out8)):
        psnr, ssim = metrics(img)
        print(f"  {name:13s} PSNR {psnr:7.3f} dB   SSIM {ssim:.4f}")
    print(res.summary())
    out_dir.mkdir(parents=True, exist_ok=True)
    write_image(out_dir / "before.png", quantized, data_range=(0, 255))
    write_image(out_dir / "after.png", restored, data_range=(0, 255))
    print(f"wrote {out_dir / 'before.png'} and {out_dir / 'after.png'}")
    return 0 if res.success else 1
