"""``qpsolve brighten IN OUT --bits N --gain G``: brighten a dark quantized image without banding.

The input ``y`` is taken as ``y = h * x`` (ShadowDiffusion's degradation
model) with ``h`` given either as ``--gain G`` (a uniform exposure factor:
``--gain 0.25`` means the scene was recorded with a quarter of its light and
the output is 4x brighter) or as ``--shadow-mask FILE --weight W``
(``h = W * m + (1 - m)``, ``m`` read from the mask image and scaled to
``[0, 1]``: 8-bit 255 or 16-bit 65535 is full shadow).  Brightening divides
the quantization envelopes by ``h``; the plate-bending QP inside them removes
the banding that plain division ``y / h`` shows.  As in ``qpsolve dequantize``
the model is content-adaptive by default (``--no-adaptive``: the plain plate).

Output units are the input's units divided by ``h``.  A 16-bit PNG maps the
brightened dynamic range ``[0, max / min(h)]`` (``max`` = the input
container's maximum, e.g. 255) onto ``[0, 65535]``: every brightened value
fits, nothing is clipped, and ``value = png / 65535 * max / min(h)`` recovers
it.  Float inputs have no container range; write ``.tif`` or ``.npy``.
Errors exit with status 2 and write nothing.
"""

from __future__ import annotations

import argparse

import numpy as np

from ...imaging.image import dequantize
from .dequantize import print_calibration
from ...imaging.io import OUTPUT_EXTENSIONS, check_output_path, read_image, write_image
from ...model.degradation import gain_map
from ...model.envelopes import ROUNDINGS, container_range
from ...model.operators import BOUNDARIES, MODELS
from ...solvers import SOLVERS
from ..errors import NotCertified


def register(sub):
    p = sub.add_parser(
        "brighten",
        help="brighten a dark quantized image (divide by the gain h) without banding",
        description=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("input", help="input image (PNG, TIFF, JPEG, .npy)")
    p.add_argument("output", help=f"output file; extension one of {', '.join(OUTPUT_EXTENSIONS)}")
    p.add_argument("--bits", type=int, required=True, help="bit depth of the quantized data (1-16)")
    p.add_argument("--gain", type=float,
                   help="degradation h of y = h*x (0 < h; 0.25 = recorded at 1/4 light, output 4x brighter)")
    p.add_argument("--shadow-mask", dest="shadow_mask",
                   help="shadow mask image m (0 = lit, max = full shadow); needs --weight")
    p.add_argument("--weight", type=float, help="illumination weight w inside the shadow: h = w*m + (1-m)")
    p.add_argument("--model", default="biharmonic", choices=MODELS)
    p.add_argument("--bc", default="odd", choices=BOUNDARIES)
    p.add_argument("--rounding", default="floor", choices=ROUNDINGS)
    p.add_argument("--mask", help="mask image: non-zero where the envelope holds")
    p.add_argument("--adaptive", action=argparse.BooleanOptionalAction, default=True,
                   help="content-adaptive model as in 'qpsolve dequantize' (the default); "
                        "--no-adaptive solves the plain plate")
    p.add_argument("--solver", default="auto", choices=["auto", *SOLVERS])
    p.add_argument("--tol", type=float, default=1e-8)
    p.add_argument("--verbose", action="store_true")
    p.set_defaults(func=run)


def _read_shadow_mask(path, shape):
    m = np.asarray(read_image(path))
    if m.ndim == 3 and m.shape[-1] in (3, 4) and m.shape[:2] == shape:
        m = m[..., 0]
    if m.shape != shape:
        raise ValueError(f"shadow mask {path!r} has shape {m.shape}; expected the image shape {shape}")
    if m.dtype == bool:
        return m.astype(np.float64)
    top = container_range(m.dtype)
    if top is not None:
        return m.astype(np.float64) / top[1]
    if m.dtype.kind not in "if":
        raise ValueError(f"shadow mask {path!r} must be numeric, got dtype {m.dtype}")
    return m.astype(np.float64)  # floats must already lie in [0, 1] (checked by gain_map)


def run(args):
    # Validate everything that needs no solve first: on error nothing is written.
    out_path = check_output_path(args.output)
    if args.gain is not None and args.shadow_mask is not None:
        raise ValueError("give either --gain or --shadow-mask with --weight, not both")
    if args.gain is None and args.shadow_mask is None:
        raise ValueError("say how the image was darkened: --gain or --shadow-mask with --weight")
    if args.shadow_mask is None and args.weight is not None:
        raise ValueError("--weight is only used with --shadow-mask; for a uniform exposure give --gain")

    image = read_image(args.input)
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        raise ValueError(f"{args.input!r} has {image.shape[-1]} channels; colour input is not supported yet")
    if args.shadow_mask is not None:
        if args.weight is None:
            raise ValueError("--shadow-mask needs --weight (the illumination factor inside the shadow)")
        m = _read_shadow_mask(args.shadow_mask, image.shape)
        h = gain_map(image.shape, shadow_mask=m, weight=args.weight)
    else:
        h = gain_map(image.shape, args.gain)

    drange = container_range(image.dtype)
    png_range = None
    if out_path.suffix.lower() == ".png":
        if drange is None:
            raise ValueError(
                f"{args.input!r} holds {image.dtype} values without a container range; a PNG of "
                f"brightened data needs one -- write .tif or .npy instead"
            )
        png_range = (0.0, drange[1] / float(h.min()))  # the brightened dynamic range

    mask = None
    if args.mask:
        mk = read_image(args.mask)
        if mk.ndim == 3:
            mk = mk[..., 0]
        mask = np.asarray(mk) != 0

    out, res = dequantize(image, bits=args.bits, model=args.model, bc=args.bc, mask=mask,
                          solver=args.solver, rounding=args.rounding, gain=h, tol=args.tol,
                          verbose=args.verbose, return_result=True, adaptive=args.adaptive)
    print(res.summary())
    print_calibration(res)
    if not res.success:
        raise NotCertified(f"the solver did not certify an optimal answer ({res.status!s}); nothing written")
    write_image(out_path, out, data_range=png_range)
    if png_range is not None:
        print(f"PNG range: 0..65535 <-> {png_range[0]:g}..{png_range[1]:g} (input units / h)")
    print(f"wrote {out_path}")
    return 0
