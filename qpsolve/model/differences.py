"""1-D difference matrices and the Kronecker terms of the 2-D energies.

The bottom of the model: :mod:`~qpsolve.model.operators` assembles the energy
matrices from these, :mod:`~qpsolve.model.stencil` reads its stencils off
:func:`kron_terms`.  Boundary rules as in :mod:`~qpsolve.model.operators`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..validation import check_choice, check_positive_int

__all__ = ["BOUNDARIES", "second_difference", "forward_difference", "kron_terms"]

BOUNDARIES = ("odd", "even", "periodic")


def second_difference(n, bc="odd"):
    """1-D second-difference matrix ``f[i-1] - 2 f[i] + f[i+1]`` with a boundary rule.

    Parameters
    ----------
    n : int
        Number of samples.
    bc : {'odd', 'even', 'periodic'}
        Mirroring rule that supplies the ghost samples ``f[-1]`` and ``f[n]``.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``(n, n)`` matrix.

    Examples
    --------
    >>> second_difference(4, "even").toarray()
    array([[-1.,  1.,  0.,  0.],
           [ 1., -2.,  1.,  0.],
           [ 0.,  1., -2.,  1.],
           [ 0.,  0.,  1., -1.]])
    """
    check_positive_int(n, "axis length")
    check_choice(bc, BOUNDARIES, "bc")
    i = np.arange(n)
    if bc == "periodic":
        rows = np.concatenate([i, i, i])
        cols = np.concatenate([(i - 1) % n, i, (i + 1) % n])
        vals = np.concatenate([np.ones(n), -2 * np.ones(n), np.ones(n)])
        return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))  # duplicates add up
    inner = i[1:-1]
    rows = np.concatenate([inner, inner, inner])
    cols = np.concatenate([inner - 1, inner, inner + 1])
    vals = np.concatenate([np.ones(inner.size), -2 * np.ones(inner.size), np.ones(inner.size)])
    if bc == "even" and n >= 2:
        # f(-1) = f(0): row 0 becomes f(1) - f(0); likewise at the far end.
        rows = np.concatenate([rows, [0, 0, n - 1, n - 1]])
        cols = np.concatenate([cols, [0, 1, n - 1, n - 2]])
        vals = np.concatenate([vals, [-1.0, 1.0, -1.0, 1.0]])
    # odd: f(-1) - 2 f(0) + f(1) = 0 identically, so the border rows are zero.
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))


def forward_difference(n, bc="odd"):
    """1-D forward-difference matrix ``f[i+1] - f[i]``.

    With ``odd`` and ``even`` boundaries only the ``n - 1`` differences inside
    the grid are kept (a mirrored ghost edge repeats an inner one); with
    ``periodic`` the wrap-around difference is included.

    Examples
    --------
    >>> forward_difference(3).toarray()
    array([[-1.,  1.,  0.],
           [ 0., -1.,  1.]])
    """
    check_positive_int(n, "axis length")
    check_choice(bc, BOUNDARIES, "bc")
    if bc == "periodic":
        i = np.arange(n)
        rows = np.concatenate([i, i])
        cols = np.concatenate([i, (i + 1) % n])
        vals = np.concatenate([-np.ones(n), np.ones(n)])
        return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
    m = max(n - 1, 0)
    i = np.arange(m)
    rows = np.concatenate([i, i])
    cols = np.concatenate([i, i + 1])
    vals = np.concatenate([-np.ones(m), np.ones(m)])
    return sp.csr_matrix((vals, (rows, cols)), shape=(m, n))


def kron_terms(shape, model, bc, alpha, beta):
    """``P`` of a 2-D grid as ``sum(w * kron(A, B))`` with 1-D matrices ``A`` (rows), ``B`` (columns).

    With ``L = A2 x I + I x B2`` (second differences) and ``K = F^T F`` (1-D
    Laplacians from forward differences), expanding the products of Kronecker
    sums gives every model as a handful of Kronecker products of 1-D banded
    matrices; ``test_model`` checks them against the direct products.
    """
    n, m = shape
    I0, I1 = sp.identity(n, format="csr"), sp.identity(m, format="csr")
    A, B = second_difference(n, bc), second_difference(m, bc)
    F0, F1 = forward_difference(n, bc), forward_difference(m, bc)
    K0, K1 = (F0.T @ F0).tocsr(), (F1.T @ F1).tocsr()
    lap = [(1.0, K0, I1), (1.0, I0, K1)]
    bih = [(1.0, A.T @ A, I1), (1.0, A.T, B), (1.0, A, B.T), (1.0, I0, B.T @ B)]
    if model == "laplace":
        return lap
    if model == "biharmonic":
        return bih
    if model == "thin-plate":
        return [(1.0, A.T @ A, I1), (1.0, I0, B.T @ B), (2.0, K0, K1)]
    if model == "triharmonic":
        # L^T (K0 x I + I x K1) L, L = A x I + I x B: eight products.
        return [(1.0, A.T @ K0 @ A, I1), (1.0, A.T @ K0, B), (1.0, A.T @ A, K1), (1.0, A.T, K1 @ B),
                (1.0, K0 @ A, B.T), (1.0, K0, B.T @ B), (1.0, A, B.T @ K1), (1.0, I0, B.T @ K1 @ B)]
    return [(alpha * w, a, b) for w, a, b in lap] + [(beta * w, a, b) for w, a, b in bih]
