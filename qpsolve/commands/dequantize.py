"""``qpsolve dequantize IN OUT --bits N``: de-quantize an image file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..image import dequantize
from ..io import OUTPUT_EXTENSIONS, read_image, write_image
from ..model.envelopes import ROUNDINGS, container_range
from ..model.operators import BOUNDARIES, MODELS
from ..solvers import SOLVERS


def register(sub):
    p = sub.add_parser("dequantize", help="de-quantize an image file",
                       description="Solve the plate-bending QP for an image file and write the result.")
    p.add_argument("input", help="input image (PNG, TIFF, JPEG, .npy)")
    p.add_argument("output", help=f"output file; extension one of {', '.join(OUTPUT_EXTENSIONS)}")
    p.add_argument("--bits", type=int, required=True, help="bit depth of the quantized data (1-16)")
    p.add_argument("--model", default="biharmonic", choices=MODELS)
    p.add_argument("--bc", default="odd", choices=BOUNDARIES)
    p.add_argument("--rounding", default="floor", choices=ROUNDINGS)
    p.add_argument("--mask", help="mask image: non-zero where the envelope holds")
    p.add_argument("--solver", default="auto", choices=["auto", *SOLVERS])
    p.add_argument("--tol", type=float, default=1e-8)
    p.add_argument("--verbose", action="store_true")
    p.set_defaults(func=run)


def run(args):
    out_path = Path(args.output)
    if out_path.suffix.lower() not in OUTPUT_EXTENSIONS:
        raise ValueError(f"output {args.output!r}: extension must be one of {OUTPUT_EXTENSIONS}")
    if not out_path.parent.resolve().is_dir():
        raise OSError(f"cannot write {args.output!r}: folder does not exist")
    image = read_image(args.input)
    mask = None
    if args.mask:
        m = read_image(args.mask)
        if m.ndim == 3:
            m = m[..., 0]
        mask = np.asarray(m) != 0
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        raise ValueError(f"{args.input!r} has {image.shape[-1]} channels; colour input is not supported yet")
    out, res = dequantize(image, bits=args.bits, model=args.model, bc=args.bc, mask=mask,
                          solver=args.solver, rounding=args.rounding, tol=args.tol,
                          verbose=args.verbose, return_result=True)
    print(res.summary())
    if not res.success:
        raise ValueError(f"the solver did not certify an optimal answer ({res.status!s}); nothing written")
    drange = container_range(image.dtype)
    write_image(out_path, out, data_range=drange)
    print(f"wrote {out_path}")
    return 0
