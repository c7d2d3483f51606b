"""Banded symmetric matrices: their bandwidth, LAPACK band storage, and Cholesky solves.

A 1-D signal's energies are banded: the biharmonic plate on a line is
pentadiagonal (bandwidth 2), the membrane tridiagonal, the triharmonic
heptadiagonal.  A banded Cholesky factor (LAPACK ``pbtrf`` through
:func:`scipy.linalg.cholesky_banded`) costs ``O(n b^2)`` and has no fill
outside the band, so a Newton system ``(P + D) dx = r`` with ``D``
diagonal is solved exactly in linear time, however ``D`` varies; the
interior-point backend :mod:`qpsolve.solvers.banded` is built on it.

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> P = sp.diags([[-1.0] * 3, [2.0] * 4, [-1.0] * 3], [-1, 0, 1])
>>> bandwidth(P)
1
>>> lower_bands(P, 1)
array([[ 2.,  2.,  2.,  2.],
       [-1., -1., -1.,  0.]])
>>> solve = cholesky_factor(lower_bands(P, 1))
>>> x = solve(np.array([1.0, 0.0, 0.0, 1.0]))
>>> np.allclose(P @ x, [1.0, 0.0, 0.0, 1.0])
True
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["bandwidth", "lower_bands", "cholesky_factor"]


def bandwidth(P):
    """The largest ``|i - j|`` over the stored entries of the square sparse matrix ``P`` (0 when diagonal).

    Read from each row's first and last stored column, so it costs ``O(n)``
    on a CSR matrix with sorted indices; stored zeros count as entries.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> bandwidth(sp.identity(5)), bandwidth(sp.csr_matrix(([1.0, 1.0], ([0, 4], [4, 0])), shape=(5, 5)))
    (0, 4)
    """
    A = sp.csr_matrix(P)
    if not A.has_sorted_indices:
        A = A.sorted_indices()
    counts = np.diff(A.indptr)
    rows = np.flatnonzero(counts)
    if rows.size == 0:
        return 0
    first = A.indices[A.indptr[rows]].astype(np.int64)
    last = A.indices[A.indptr[rows + 1] - 1].astype(np.int64)
    return int(max(np.max(rows - first), np.max(last - rows), 0))


def lower_bands(P, b):
    """``P``'s diagonals ``0 .. b`` below the main one in LAPACK's lower band storage.

    Returns ``ab`` of shape ``(b + 1, n)`` with ``ab[k, j] = P[j + k, j]`` (zero
    past the end), the layout :func:`scipy.linalg.cholesky_banded` takes with
    ``lower=True``.  Entries of ``P`` farther than ``b`` from the diagonal are
    not read: pass ``b >= bandwidth(P)``.
    """
    A = sp.csr_matrix(P)
    n = A.shape[0]
    ab = np.zeros((b + 1, n))
    for k in range(min(b, n - 1) + 1):
        ab[k, : n - k] = A.diagonal(-k)
    return ab


def cholesky_factor(ab):
    """Factor the symmetric positive definite band matrix in lower storage ``ab``; returns ``solve(rhs)``.

    One factorisation serves every right-hand side (an interior-point step
    solves twice with it).  Raises :class:`numpy.linalg.LinAlgError` when the
    matrix is not positive definite to working precision.
    """
    from scipy.linalg import cho_solve_banded, cholesky_banded

    c = cholesky_banded(ab, lower=True, check_finite=False)

    def solve(rhs):
        return cho_solve_banded((c, True), rhs, check_finite=False)

    return solve
