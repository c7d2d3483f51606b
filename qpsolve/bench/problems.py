"""The benchmark's problems: the paper's functions and a photograph, quantized, at square sizes."""

from __future__ import annotations

import numpy as np

from .matrix_problems import MATRIX_PROBLEMS, build_matrix_problem

__all__ = ["PROBLEMS", "DEFAULT_SIZES", "QUICK_SIZES", "MIN_SIZE", "build_problem"]

#: default square sizes (pixels per side)
DEFAULT_SIZES = (64, 128, 256, 512, 1024, 2048)
#: sizes of ``--quick``
QUICK_SIZES = (32, 64)
#: the smallest side a benchmark problem may have
MIN_SIZE = 8

#: problem name -> one-line description (builders in :func:`build_problem`)
PROBLEMS = {
    "gaussian2": "paper's Gaussian, 2 bits, biharmonic, bc odd",
    "gaussian2-even": "paper's Gaussian, 2 bits, biharmonic, bc even",
    "rosenbrock2": "paper's Rosenbrock, 2 bits, biharmonic, bc odd",
    "camera3": "skimage camera resized, truncated to 3 bits, biharmonic, bc odd",
    "camera4": "skimage camera resized, truncated to 4 bits, biharmonic, bc odd",
    "gaussian2-masked": "Gaussian 2 bits, biharmonic, bc odd, a disk (radius n/8, centre (0.5n, 0.3n)) masked out",
    "walk3": "1-D signal of size^2 samples: a random walk (steps N(0, 1), reflected into 0..255), 3 bits, "
             "biharmonic, bc odd",
}
# User-built problems (plain CSR matrices, no grid; qpsolve/bench/matrix_problems.py).
PROBLEMS.update(MATRIX_PROBLEMS)


def _camera(size):
    from skimage.data import camera
    from skimage.transform import resize

    img = resize(camera().astype(np.float64), (size, size), anti_aliasing=True,
                 preserve_range=True)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def build_problem(name, size):
    """Build one benchmark problem.

    Parameters
    ----------
    name : str
        A key of :data:`PROBLEMS`.
    size : int
        Side of the square image in pixels.

    Returns
    -------
    BoxQP
        From :func:`qpsolve.image_problem`.

    Examples
    --------
    >>> build_problem("gaussian2", 16).n
    256
    """
    from .. import image_problem
    from ..imaging.data import gaussian, rosenbrock, to_uint8, truncate_bits

    if name not in PROBLEMS:
        raise ValueError(f"unknown problem {name!r}; choose from {sorted(PROBLEMS)}")
    if name in MATRIX_PROBLEMS:
        return build_matrix_problem(name, size)
    if name in ("gaussian2", "gaussian2-even", "gaussian2-masked"):
        img = truncate_bits(to_uint8(gaussian(size)), 2)
        if name == "gaussian2-masked":
            # a disk across the level contours (at the centre it would hold no active bound)
            yy, xx = np.mgrid[:size, :size]
            cy, cx = 0.5 * (size - 1), 0.3 * (size - 1)
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 > (size / 8.0) ** 2  # False inside the disk
            return image_problem(img, bits=2, bc="odd", mask=mask)
        return image_problem(img, bits=2, bc="even" if name.endswith("even") else "odd")
    if name == "walk3":
        f = np.cumsum(np.random.default_rng(0).normal(0.0, 1.0, size * size)) + 128.0
        f = np.abs(np.mod(f, 510.0) - 255.0)  # reflected at 0 and 255: continuous, never clipped flat
        return image_problem(truncate_bits(np.rint(f).astype(np.uint8), 3), bits=3, bc="odd")
    if name == "rosenbrock2":
        return image_problem(truncate_bits(to_uint8(rosenbrock(size)), 2), bits=2, bc="odd")
    bits = int(name[-1])  # camera3 / camera4
    return image_problem(truncate_bits(_camera(size), bits), bits=bits, bc="odd")
