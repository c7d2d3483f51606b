"""Plate energies that are not one of the grid models: what a researcher builds by hand.

The grid models of :mod:`qpsolve.model.operators` have constant coefficients
and a fast inverse.  A plate whose stiffness varies in space (the plate
paper's "location-dependent elastic properties"), an anisotropic plate or a
3-D volume is handed to :class:`qpsolve.BoxQP` as a plain sparse matrix; these
helpers build such matrices, for the benchmark and the tests.

Examples
--------
>>> import numpy as np
>>> P = weighted_plate((6, 5), np.ones((6, 5)), bc="even")
>>> from qpsolve.model.operators import energy_matrix
>>> bool(abs(P - energy_matrix((6, 5), "biharmonic", "even")).max() == 0)
True
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .differences import second_difference
from .operators import axis_operator, laplacian

__all__ = ["weighted_plate", "anisotropic_plate", "smooth_stiffness"]


def _shape(shape):
    shape = (shape,) if np.isscalar(shape) else tuple(shape)
    if not shape or any(isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1
                        for n in shape):
        raise ValueError(f"shape must be positive integers, got {shape!r}")
    return tuple(int(n) for n in shape)


def _csr(P):
    P = sp.csr_matrix(P, dtype=np.float64)
    P.sum_duplicates()
    P.eliminate_zeros()
    P.sort_indices()
    return P


def weighted_plate(shape, weight, bc="even"):
    """``P = D^T W D``: a plate with stiffness ``W`` varying from pixel to pixel.

    Parameters
    ----------
    shape : tuple of int
        Grid shape (any number of axes).
    weight : array_like
        Non-negative stiffness, one value per grid point (``shape`` or flat).
    bc : {'odd', 'even', 'periodic'}
        Boundary rule of the Laplacian ``D``.

    Returns
    -------
    scipy.sparse.csr_matrix
        Symmetric positive semi-definite ``(N, N)``.

    Raises
    ------
    ValueError
        When ``weight`` has the wrong size or a negative or non-finite entry.
    """
    shape = _shape(shape)
    w = np.asarray(weight, dtype=np.float64).ravel()
    n = int(np.prod(shape))
    if w.size != n:
        raise ValueError(f"weight has {w.size} entries; the grid {shape} has {n}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weight must be finite and non-negative")
    D = laplacian(shape, bc)
    return _csr(D.T @ sp.diags(w) @ D)


def anisotropic_plate(shape, ratio, bc="even"):
    """``P = D^T D`` with ``D = d_xx + ratio * d_yy`` (a plate stiffer along one axis).

    Parameters
    ----------
    shape : (int, int)
        Grid shape.
    ratio : float
        Weight of the second difference along the first axis (rows), ``> 0``.
    bc : {'odd', 'even', 'periodic'}
        Boundary rule.

    Examples
    --------
    The interior row is the autocorrelation of ``D``'s stencil (centre
    ``-2 - 2 ratio``, ``ratio`` above and below, ``1`` left and right):

    >>> P = anisotropic_plate((9, 9), 0.5)
    >>> P[40].toarray().reshape(9, 9)[2:7, 2:7]
    array([[ 0.  ,  0.  ,  0.25,  0.  ,  0.  ],
           [ 0.  ,  1.  , -3.  ,  1.  ,  0.  ],
           [ 1.  , -6.  , 11.5 , -6.  ,  1.  ],
           [ 0.  ,  1.  , -3.  ,  1.  ,  0.  ],
           [ 0.  ,  0.  ,  0.25,  0.  ,  0.  ]])
    """
    shape = _shape(shape)
    if len(shape) != 2:
        raise ValueError(f"anisotropic_plate needs a 2-D shape, got {shape}")
    if not (np.isfinite(ratio) and ratio > 0):
        raise ValueError(f"ratio must be a positive number, got {ratio!r}")
    D = ratio * axis_operator(second_difference(shape[0], bc), shape, 0) \
        + axis_operator(second_difference(shape[1], bc), shape, 1)
    return _csr(D.T @ D)


def smooth_stiffness(shape, low=0.2, high=5.0, waves=1.5):
    """A smooth stiffness field between ``low`` and ``high`` (log-uniform sinusoids).

    Examples
    --------
    >>> w = smooth_stiffness((32, 32))
    >>> bool(w.min() >= 0.2 and w.max() <= 5.0), w.shape
    (True, (32, 32))
    """
    shape = _shape(shape)
    grids = np.meshgrid(*[np.linspace(0.0, 1.0, n) for n in shape], indexing="ij")
    s = np.ones(shape)
    for k, g in enumerate(grids):
        s = s * np.cos(2 * np.pi * waves * g + 0.7 * k)
    s = 0.5 + 0.5 * s  # in [0, 1]
    return low * (high / low) ** s
