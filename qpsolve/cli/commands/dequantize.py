"""``qpsolve dequantize IN OUT [--bits N]``: de-quantize an image file.

Gray, gray+alpha, RGB and RGBA inputs (PNG 8/16-bit, TIFF, JPEG, ``.npy``).
Alpha is split off, passed through untouched and put back.  Without
``--bits`` the bit depth is detected (gcd of the levels in use) and reported;
with ``--bits`` it is checked against the data (16-bit data claimed as 8-bit
is refused).  The model is content-adaptive unless ``--no-adaptive`` asks
for the paper's plain plate.  Errors exit with status 2 and write nothing; the output is
written atomically, so Ctrl-C never leaves a partial file.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from ...imaging.image import dequantize
from ...imaging.io import (
    DEFAULT_MAX_PIXELS,
    OUTPUT_EXTENSIONS,
    check_output_path,
    merge_alpha,
    read_image,
    split_alpha,
    write_image,
)
from ...model.bitdepth import check_bits, detect_bits
from ...model.envelopes import ROUNDINGS, container_range
from ...model.noise import OUTLIER_MODES
from ...model.operators import BOUNDARIES, MODELS
from ...imaging.photo import COLOR_SPACES
from ...solvers import SOLVERS
from ..errors import NotCertified
from ..argtypes import positive_int


def print_calibration(result):
    """One line on the calibration blend of ``adaptive`` (nothing without it)."""
    info = result.info.get("adaptive")
    if info is None:
        return
    parts = [f"rho {i['rho']:.3f}, weight {i['weight']:.3f}" for i in (info if isinstance(info, list) else [info])]
    print("calibration : " + "; ".join(parts) + " (weight 1 = the certified plate as it is)")


def register(sub):
    p = sub.add_parser("dequantize", help="de-quantize an image file",
                       description="Solve the plate-bending QP for an image file and write the result.")
    p.add_argument("input", help="input image (PNG 8/16-bit, TIFF, JPEG, .npy; gray, RGB, RGBA)")
    p.add_argument("output", help=f"output file; extension one of {', '.join(OUTPUT_EXTENSIONS)}")
    p.add_argument("--bits", type=int, default=None,
                   help="bit depth of the quantized data (1-16); detected from the levels when absent")
    p.add_argument("--model", default="biharmonic", choices=MODELS)
    p.add_argument("--bc", default="odd", choices=BOUNDARIES)
    p.add_argument("--rounding", default="floor", choices=ROUNDINGS)
    p.add_argument("--mask", help="mask image of the same size: non-zero where the envelope holds")
    p.add_argument("--adaptive", action=argparse.BooleanOptionalAction, default=True,
                   help="content-adaptive model (the default): pin textured pixels (a 9-pixel window "
                        "spanning more than two adjacent levels, not a ramp) to their bin midpoint and "
                        "solve the plate through them (paper 6.3); --no-adaptive solves the paper's plain plate")
    p.add_argument("--outliers", choices=OUTLIER_MODES, default=None,
                   help="treat impulses (mask or replace by non-local means) and dither (paper 6.1)")
    p.add_argument("--color-space", default="rgb", choices=COLOR_SPACES,
                   help="colour: per channel (rgb) or one joint QP with chroma bending weighted (decorrelated)")
    p.add_argument("--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS,
                   help=f"refuse larger images (decompression bombs; default {DEFAULT_MAX_PIXELS})")
    p.add_argument("--tile", type=positive_int, default=None,
                   help="solve in overlapping tiles of this size (each certified), blend, and polish globally "
                        "when --polish says so")
    p.add_argument("--polish", choices=("auto", "always", "never"), default="auto",
                   help="with --tile: warm-start one certified global solve from the stitched image; "
                        "'auto' does it up to 256x256 pixels (default auto)")
    p.add_argument("--jobs", type=positive_int, default=1,
                   help="with --tile: worker processes solving tiles side by side (default 1)")
    p.add_argument("--channel-jobs", type=positive_int, default=None,
                   help="colour channels solved at once, one thread each (default: as many as finish soonest on "
                        "the cores, e.g. all three on two cores, as far as the memory allows, for channels of up "
                        "to 4 Mpx and untiled solves, else 1)")
    p.add_argument("--convert-palette", action="store_true",
                   help="expand palette (indexed-colour) images instead of refusing them")
    p.add_argument("--solver", default="auto", choices=["auto", *SOLVERS])
    p.add_argument("--tol", type=float, default=1e-8)
    p.add_argument("--progress", action="store_true",
                   help="progress bars on stderr: over the tiles with --tile, else one per colour channel "
                        "following the solver's duality gap down to --tol (log scale)")
    p.add_argument("--verbose", action="store_true")
    p.set_defaults(func=run)


def run(args):
    out_path = check_output_path(args.output)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image = read_image(args.input, max_pixels=args.max_pixels,
                           palette="convert" if args.convert_palette else "error")
    for w in caught:
        print(f"note: {w.message}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (1, 2, 3, 4)):
        raise ValueError(f"{args.input!r} has shape {image.shape}; expected gray, gray+alpha, RGB or RGBA")
    colour, alpha = split_alpha(image)
    if colour.ndim == 3 and colour.shape[-1] == 1:
        colour = colour[..., 0]
    is_colour = colour.ndim == 3
    if alpha is not None:
        print("alpha channel passed through untouched")

    if args.bits is None:
        bd = detect_bits(colour)
        print(f"detected: {bd}")
        bits = bd.bits
    else:
        bd = check_bits(colour, args.bits)
        bits = args.bits
    if bits >= 16 or (colour.dtype.kind == "u" and bits == 8 * colour.dtype.itemsize):
        print(f"note: {bits}-bit data fills its container; de-quantization has little to do")

    mask = None
    if args.mask:
        m = read_image(args.mask, max_pixels=args.max_pixels)
        if m.ndim == 3:
            m = m[..., 0]
        if m.shape != colour.shape[:2]:
            raise ValueError(f"mask {args.mask!r} has shape {m.shape}; the image is {colour.shape[:2]}")
        mask = np.asarray(m) != 0
    if args.color_space != "rgb" and not is_colour:
        raise ValueError("--color-space decorrelated needs a colour (RGB) input")

    tile_options = {}
    if args.tile is not None:
        tile_options["polish"] = {"auto": "auto", "always": True, "never": False}[args.polish]
        tile_options["jobs"] = args.jobs
    elif args.polish != "auto" or args.jobs != 1:
        raise ValueError("--polish and --jobs need --tile")
    out, res = dequantize(colour, bits=bits, model=args.model, bc=args.bc, mask=mask,
                          solver=args.solver, rounding=args.rounding, tol=args.tol,
                          verbose=args.verbose, return_result=True,
                          channel_axis=-1 if is_colour else None, adaptive=args.adaptive,
                          outliers=args.outliers, color_space=args.color_space, tile=args.tile,
                          progress=args.progress, channel_jobs=args.channel_jobs, **tile_options)
    results = res if isinstance(res, list) else [res]
    seen = set()
    for i, r in enumerate(results):
        if id(r) in seen:
            continue
        seen.add(id(r))
        if len(results) > 1 and args.color_space == "rgb":
            print(f"channel {i}:")
        print(r.summary())
        photo = r.info.get("photo")
        if photo is not None:
            print("photo       : " + ("; ".join(str(p) for p in photo) if isinstance(photo, list) else str(photo)))
        print_calibration(r)
    bad = [r for r in results if not r.success]
    if bad:
        raise NotCertified(f"the solver did not certify an optimal answer ({bad[0].status!s}); nothing written")
    out = merge_alpha(out, alpha)
    drange = container_range(image.dtype)
    write_image(out_path, out, data_range=drange)
    print(f"wrote {out_path}")
    return 0
