"""Banded symmetric matrices: their bandwidth, LAPACK band storage, and Cholesky solves.

A 1-D signal's energies are banded: the biharmonic plate on a line is
pentadiagonal (bandwidth 2), the membrane tridiagonal, the triharmonic
heptadiagonal.  A banded Cholesky factor (LAPACK ``pbtrf`` through
:func:`scipy.linalg.cholesky_banded`) costs ``O(n b^2)`` and has no fill
outside the band, so a Newton system ``(P + D) dx = r`` with ``D``
diagonal is solved exactly in linear time, however ``D`` varies; the
interior-point backend :mod:`qpsolve.solvers.banded` is built on it.

A periodic line couples its two ends: ``P`` is then banded *cyclically*
(:func:`cyclic_bandwidth`), its band plus two ``b x b`` corner blocks.  The
corners are a symmetric term ``W S W^T`` of rank at most ``2 b``
(:func:`cyclic_corners`), which :func:`cholesky_factor` takes into account by
the Sherman-Morrison-Woodbury formula: ``2 b`` more banded solves per factor.

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

__all__ = ["bandwidth", "cyclic_bandwidth", "cyclic_corners", "lower_bands", "cholesky_factor"]


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
    A = _sorted_csr(P)
    return _reach(A, np.arange(A.shape[0], dtype=np.int64))


def _sorted_csr(P):
    A = sp.csr_matrix(P)
    return A if A.has_sorted_indices else A.sorted_indices()


def _reach(A, rows):
    """The largest ``|i - j|`` over the stored entries of ``rows`` of the sorted CSR ``A`` (0 if none)."""
    rows = rows[np.diff(A.indptr)[rows] > 0]
    if rows.size == 0:
        return 0
    first = A.indices[A.indptr[rows]].astype(np.int64)
    last = A.indices[A.indptr[rows + 1] - 1].astype(np.int64)
    return int(max(np.max(rows - first), np.max(last - rows), 0))


def cyclic_bandwidth(P, limit=None):
    """The largest cyclic distance ``min(|i - j|, n - |i - j|)`` over the stored entries of ``P``.

    A periodic 1-D stencil has a small cyclic bandwidth and a bandwidth of
    ``n - 1``.  Costs ``O(nnz)``; with ``limit``, a matrix whose rows away from
    both ends (which cannot wrap within ``limit``) reach farther than ``limit``
    is answered in ``O(n)`` with that reach, a value above ``limit`` but not
    necessarily the cyclic bandwidth.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> ring = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(6, 6)).tolil()
    >>> ring[0, 5] = ring[5, 0] = -1.0
    >>> bandwidth(ring), cyclic_bandwidth(ring)
    (5, 1)
    """
    if limit is not None:
        A = _sorted_csr(P)
        reach = _reach(A, np.arange(limit, A.shape[0] - limit, dtype=np.int64))
        if reach > limit:
            return reach
    A = sp.coo_matrix(P)
    if A.nnz == 0:
        return 0
    d = np.abs(A.row.astype(np.int64) - A.col.astype(np.int64))
    return int(np.max(np.minimum(d, A.shape[0] - d)))


def cyclic_corners(P, b):
    """``(rows, S)`` with ``P = band_b(P) + W S W^T``, ``W`` the identity's columns ``rows``.

    ``band_b(P)`` keeps the entries within ``b`` of the diagonal (what
    :func:`lower_bands` reads); the others, which for a cyclic bandwidth of
    ``b`` sit in the two corner blocks, form the small symmetric ``S`` on the
    rows that hold them (at most ``2 b`` of them).  ``rows`` is empty when ``P``
    is banded within ``b``.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> ring = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(5, 5)).tolil()
    >>> ring[0, 4] = ring[4, 0] = -1.0
    >>> rows, S = cyclic_corners(ring, 1)
    >>> rows.tolist(), S.tolist()
    ([0, 4], [[0.0, -1.0], [-1.0, 0.0]])
    """
    A = sp.coo_matrix(P)
    far = np.abs(A.row.astype(np.int64) - A.col.astype(np.int64)) > b
    rows = np.unique(np.concatenate([A.row[far], A.col[far]])).astype(np.int64)
    where = {int(r): k for k, r in enumerate(rows)}
    S = np.zeros((rows.size, rows.size))
    for i, j, v in zip(A.row[far], A.col[far], A.data[far]):
        S[where[int(i)], where[int(j)]] += v
    return rows, S


def lower_bands(P, b):
    """``P``'s diagonals ``0 .. b`` below the main one in LAPACK's lower band storage.

    Returns ``ab`` of shape ``(b + 1, n)`` with ``ab[k, j] = P[j + k, j]`` (zero
    past the end), the layout :func:`scipy.linalg.cholesky_banded` takes with
    ``lower=True``.  Entries of ``P`` farther than ``b`` from the diagonal are
    not read: pass ``b >= bandwidth(P)``.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> lower_bands(sp.diags([[1.0, 2.0], [3.0, 4.0, 5.0], [1.0, 2.0]], [-1, 0, 1]), 1)
    array([[3., 4., 5.],
           [1., 2., 0.]])
    """
    A = sp.csr_matrix(P)
    n = A.shape[0]
    ab = np.zeros((b + 1, n))
    for k in range(min(b, n - 1) + 1):
        ab[k, : n - k] = A.diagonal(-k)
    return ab


def cholesky_factor(ab, corners=None):
    """Factor the symmetric positive definite band matrix in lower storage ``ab``; returns ``solve(rhs)``.

    One factorisation serves every right-hand side (an interior-point step
    solves twice with it).  With ``corners = (rows, S)`` (:func:`cyclic_corners`)
    ``solve`` solves with the band matrix plus ``W S W^T`` by the
    Sherman-Morrison-Woodbury formula (positive definite whenever the whole
    matrix is: the corners' weight is moved onto the band's diagonal first).
    Raises :class:`numpy.linalg.LinAlgError` when a matrix is singular to
    working precision.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> ring = sp.diags([-1.0, 2.1, -1.0], [-1, 0, 1], shape=(6, 6)).tolil()
    >>> ring[0, 5] = ring[5, 0] = -1.0
    >>> solve = cholesky_factor(lower_bands(ring, 1), cyclic_corners(ring, 1))
    >>> rhs = np.arange(6.0)
    >>> bool(np.allclose(ring @ solve(rhs), rhs))
    True
    """
    from scipy.linalg import cho_solve_banded, cholesky_banded

    if corners is not None and corners[0].size:
        return _woodbury(ab, *corners)
    c = cholesky_banded(ab, lower=True, check_finite=False)

    def band_solve(rhs):
        return cho_solve_banded((c, True), rhs, check_finite=False)

    return band_solve


def _woodbury(ab, rows, S):
    """``solve`` for the band matrix ``ab`` plus ``W S W^T`` (see :func:`cholesky_factor`)."""
    # The band alone need not be positive definite (a short ring, an anti-periodic one). Moving the
    # corners' absolute row sums onto the band's diagonal makes it dominate: S - diag(c) is negative
    # semi-definite, so band + diag(c) >= the whole matrix, positive definite whenever that is.
    c = np.abs(S).sum(axis=1)
    ab = ab.copy()
    ab[0, rows] += c
    S = S - np.diag(c)
    band_solve = cholesky_factor(ab)

    W = np.zeros((ab.shape[1], rows.size))
    W[rows, np.arange(rows.size)] = 1.0
    Y = band_solve(W)  # M^-1 W; one n x 2b array kept, not three
    del W
    # (M + W S W^T)^-1 = M^-1 - M^-1 W S (I + W^T M^-1 W S)^-1 W^T M^-1
    K = np.eye(rows.size) + Y[rows] @ S
    Kinv = np.linalg.inv(K)  # raises LinAlgError when exactly singular
    if not np.isfinite(Kinv).all():
        raise np.linalg.LinAlgError("the corner correction is singular to working precision")
    YS = Y @ (S @ Kinv)
    del Y

    def solve(rhs):
        y = band_solve(rhs)
        return y - YS @ y[rows]

    return solve
