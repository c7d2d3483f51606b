"""User-built benchmark problems: ``BoxQP(P, L, U)`` from a plain CSR matrix, no grid attached.

What a researcher with an energy of their own hands to ``qs.solve``: the
solvers see a sparse matrix and bounds, nothing else (no ``grid``, no
coordinates), so only the algebraic ones (``pcg``, the peers) can take them.

========================  ====================================================================
name                      problem (side ``n``)
========================  ====================================================================
``plate-smooth``          ``D^T W D`` (``D`` the ``even`` Laplacian, ``W`` a smooth stiffness
                          in [0.2, 5]), envelopes of width 32 around the paper's Gaussian
``plate-textured``        the same plate, the left half of the image replaced by the camera
``plate-aniso``           ``D^T D`` with ``D = 0.1 d_xx + d_yy`` (``even``), Gaussian envelopes
``gaussian2-csr``         the paper's 2-bit Gaussian (``odd`` biharmonic) as a CSR matrix
``volume3d``              the 3-D biharmonic (``even``) on ``n^3`` voxels, a 3-D Gaussian at 2 bits
========================  ====================================================================

Examples
--------
>>> prob = build_matrix_problem("plate-textured", 16)
>>> prob.n, prob.grid is None, prob.P.nnz > 0
(256, True, True)
"""

from __future__ import annotations

import numpy as np

__all__ = ["MATRIX_PROBLEMS", "build_matrix_problem", "variables"]

#: problem name -> one-line description
MATRIX_PROBLEMS = {
    "plate-smooth": "CSR, no grid: variable-stiffness plate D^T W D (even, W smooth in [0.2, 5]), "
                    "envelopes of width 32 around the paper's Gaussian",
    "plate-textured": "CSR, no grid: the same plate, left half of the image from skimage camera",
    "plate-aniso": "CSR, no grid: anisotropic plate D^T D, D = 0.1 d_xx + d_yy (even), Gaussian envelopes of width 32",
    "gaussian2-csr": "CSR, no grid: paper's Gaussian, 2 bits, biharmonic odd, P handed over as a matrix",
    "volume3d": "CSR, no grid: 3-D biharmonic (even) on size^3 voxels, a 3-D Gaussian truncated to 2 bits",
}

WIDTH = 32.0


def variables(name, size):
    """Number of variables of a problem at ``size`` (``size^3`` for the volume)."""
    return size ** 3 if name == "volume3d" else size ** 2


def _envelopes(img, width):
    lo = width * np.floor(img / width)
    return lo, np.minimum(lo + width, 255.0)


def _gaussian_image(size):
    from ..imaging.data import gaussian

    img = np.asarray(gaussian(size), dtype=np.float64)
    return 255.0 * (img - img.min()) / (img.max() - img.min())


def _camera(size):
    from skimage.data import camera
    from skimage.transform import resize

    return resize(camera().astype(np.float64), (size, size), anti_aliasing=True, preserve_range=True)


def build_matrix_problem(name, size):
    """Build one user-built problem (see the module docstring).

    Parameters
    ----------
    name : str
        A key of :data:`MATRIX_PROBLEMS`.
    size : int
        Side of the square image (of the cube for ``volume3d``).

    Returns
    -------
    BoxQP
        With a CSR ``P`` and no grid.
    """
    from ..model.operators import energy_matrix
    from ..model.plates import anisotropic_plate, smooth_stiffness, weighted_plate
    from ..problem import BoxQP

    if name not in MATRIX_PROBLEMS:
        raise ValueError(f"unknown problem {name!r}; choose from {sorted(MATRIX_PROBLEMS)}")
    shape = (size, size)
    if name in ("plate-smooth", "plate-textured"):
        img = _gaussian_image(size)
        if name == "plate-textured":
            img[:, : size // 2] = _camera(size)[:, : size // 2]
        P = weighted_plate(shape, smooth_stiffness(shape), "even")
        return BoxQP(P, *_envelopes(img, WIDTH))
    if name == "plate-aniso":
        return BoxQP(anisotropic_plate(shape, 0.1, "even"), *_envelopes(_gaussian_image(size), WIDTH))
    if name == "gaussian2-csr":
        from ..imaging.data import gaussian, to_uint8, truncate_bits
        from ..imaging.image import image_problem

        grid_prob = image_problem(truncate_bits(to_uint8(gaussian(size)), 2), bits=2, bc="odd")
        return BoxQP(grid_prob.P.copy(), grid_prob.lower, grid_prob.upper)
    # volume3d
    axes = np.meshgrid(*[np.linspace(-1.0, 1.0, size)] * 3, indexing="ij")
    vol = 255.0 * np.exp(-sum(a ** 2 for a in axes) / (2 * 0.5 ** 2))
    lo, hi = _envelopes(vol, 64.0)
    return BoxQP(energy_matrix((size,) * 3, "biharmonic", "even"), lo, hi)
