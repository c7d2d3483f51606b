"""Eigenvalues and eigenvectors of the 1-D second difference: the formulas, once.

The energies of :mod:`~qpsolve.model.operators` are polynomials in 1-D second
differences, and each boundary rule has a fast transform that diagonalises them:

==========  ==============================  =========================================
transform   boundary                        ``mu_k`` (of ``-D2``)
==========  ==============================  =========================================
``dct``     ``even`` (Neumann), DCT-II      ``4 sin^2(pi k / (2 n))``, ``k = 0..n-1``
``dst``     zero ends (Dirichlet), DST-I    ``4 sin^2(pi k / (2 (n + 1)))``, ``k = 1..n``
``fft``     ``periodic``                    ``4 sin^2(pi k / n)``, ``k = 0..n-1``
==========  ==============================  =========================================

The fast inverses of :mod:`qpsolve.linalg` and the spectral ADMM backend take
them from here.
"""

from __future__ import annotations

import numpy as np

from ..validation import check_choice

__all__ = ["TRANSFORMS", "second_difference_eigenvalues", "dst_basis_rows"]

TRANSFORMS = ("dct", "dst", "fft")


def second_difference_eigenvalues(n, transform):
    """Eigenvalues ``mu_k >= 0`` of the 1-D negative second difference, in ``transform`` order.

    Examples
    --------
    >>> from qpsolve.model.differences import second_difference
    >>> mu = second_difference_eigenvalues(5, "dct")
    >>> ref = np.linalg.eigvalsh(-second_difference(5, "even").toarray())
    >>> bool(np.allclose(np.sort(mu), ref))
    True
    """
    check_choice(transform, TRANSFORMS, "transform")
    if transform == "dct":  # Neumann, DCT-II: k = 0..n-1
        return 4.0 * np.sin(np.pi * np.arange(n) / (2 * n)) ** 2
    if transform == "dst":  # Dirichlet on n inner points, DST-I: k = 1..n
        return 4.0 * np.sin(np.pi * np.arange(1, n + 1) / (2 * (n + 1))) ** 2
    return 4.0 * np.sin(np.pi * np.arange(n) / n) ** 2  # periodic, rfft/fft frequencies


def dst_basis_rows(size, positions):
    """Rows ``positions`` of the orthonormal DST-I matrix of ``size`` (symmetric, its own inverse).

    ``sin(pi j k / (size + 1))`` depends only on ``j k mod 2 (size + 1)``: a
    table of ``2 (size + 1)`` sines and a gather, instead of a sine of a large
    argument per entry (faster, and each entry as accurate as one sine of a
    small one).

    Examples
    --------
    >>> S = dst_basis_rows(6, np.arange(6))
    >>> bool(np.allclose(S @ S, np.eye(6)))
    True
    """
    k = np.arange(1, size + 1, dtype=np.int64)
    table = np.sqrt(2.0 / (size + 1)) * np.sin(np.pi * np.arange(2 * (size + 1)) / (size + 1))
    idx = np.multiply.outer(np.asarray(positions, dtype=np.int64) + 1, k)
    idx %= 2 * (size + 1)
    return table[idx]
