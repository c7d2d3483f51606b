"""Finite-difference operators and the energy matrices ``P`` of the plate models.

Every operator is assembled from 1-D matrices with Kronecker products, so the
same code serves 1-D signals, 2-D images and 3-D volumes.  Grids are flattened
in C order (the last axis varies fastest), exactly as ``numpy.ravel`` does.

Boundary rules (mirrored extension, paper section 4.2):

``odd``
    ``f(-1) = 2 f(0) - f(1)``: the second difference vanishes on the border
    (the paper's choice); constants and linear ramps cost no energy.
``even``
    ``f(-1) = f(0)``: the Neumann rule.
``periodic``
    ``f(-1) = f(n - 1)``: the grid wraps around.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, reduce

import numpy as np
import scipy.sparse as sp

from ..validation import check_choice, check_positive_int, check_weights
from .differences import BOUNDARIES, forward_difference, kron_terms, second_difference
from .stencil import GridOperator

__all__ = [
    "BOUNDARIES",
    "MODELS",
    "GridSpec",
    "second_difference",
    "forward_difference",
    "axis_operator",
    "laplacian",
    "energy_matrix",
    "energy_factor",
]

MODELS = ("laplace", "biharmonic", "triharmonic", "thin-plate", "mixed")


def axis_operator(op, shape, axis):
    """Lift a 1-D operator to act along ``axis`` of a C-ordered grid of ``shape``."""
    before = int(np.prod(shape[:axis], dtype=np.int64))
    after = int(np.prod(shape[axis + 1 :], dtype=np.int64))
    mats = []
    if before > 1:
        mats.append(sp.identity(before, format="csr"))
    mats.append(op)
    if after > 1:
        mats.append(sp.identity(after, format="csr"))
    return reduce(lambda a, b: sp.kron(a, b, format="csr"), mats).tocsr()


def _normalize_shape(shape):
    if np.isscalar(shape):
        shape = (shape,)
    shape = tuple(shape)
    if len(shape) == 0:
        raise ValueError("shape must have at least one axis")
    for n in shape:
        check_positive_int(n, "axis length")
    return shape


def laplacian(shape, bc="odd"):
    """Sum of the second differences along every axis (the 5-point stencil in 2-D).

    Examples
    --------
    >>> L = laplacian((3, 3), "periodic")
    >>> L[4].toarray().reshape(3, 3)
    array([[ 0.,  1.,  0.],
           [ 1., -4.,  1.],
           [ 0.,  1.,  0.]])
    """
    shape = _normalize_shape(shape)
    return sum(axis_operator(second_difference(n, bc), shape, k) for k, n in enumerate(shape)).tocsr()


def _gradient_blocks(shape, bc):
    return [axis_operator(forward_difference(n, bc), shape, k) for k, n in enumerate(shape)]


@dataclass(frozen=True)
class GridSpec:
    """What a ``BoxQP`` built on a regular grid knows about its own operator.

    Grid-aware solvers (multigrid, spectral ADMM, coarse-to-fine warm starts)
    use it to rebuild the operator on other grids.
    """

    shape: tuple
    model: str = "biharmonic"
    bc: str = "odd"
    alpha: float = 1.0
    beta: float = 1.0

    def matrix(self, shape=None):
        """The energy matrix of this model on ``shape`` (default: its own)."""
        return energy_matrix(self.shape if shape is None else shape, self.model, self.bc,
                             alpha=self.alpha, beta=self.beta)

    def energy(self):
        """``P`` in its cheapest exact form: a :class:`~qpsolve.model.stencil.GridOperator`
        on 2-D grids (a stencil, assembled only on demand), the CSR matrix otherwise.

        Operators are immutable and shared: equal grids get the same one (the
        last few are kept), so tiles and coarse levels of one shape build it
        once: building one is a sizeable part of a small tile's solve (see
        ``benchmarks/results/design_notes.md``), and each tile meets three or
        four coarse grids on the way.
        """
        if len(self.shape) == 2 and min(self.shape) >= 2:
            return _grid_operator(self)
        return self.matrix()

    def factor(self, shape=None):
        """A sparse ``D`` with ``D.T @ D == self.matrix(shape)`` (see :func:`energy_factor`)."""
        return energy_factor(self.shape if shape is None else shape, self.model, self.bc,
                             alpha=self.alpha, beta=self.beta)


@lru_cache(maxsize=16)
def _grid_operator(grid):
    return GridOperator(grid)


def energy_matrix(shape, model="biharmonic", bc="odd", *, alpha=1.0, beta=1.0):
    """Assemble the symmetric PSD matrix ``P`` with ``E(f) = 1/2 f^T P f``.

    Parameters
    ----------
    shape : int or tuple of int
        Grid shape (1-D, 2-D or 3-D; any number of axes works).
    model : {'laplace', 'biharmonic', 'triharmonic', 'thin-plate', 'mixed'}
        ``laplace``: ``1/2 |grad f|^2``; ``biharmonic``: ``1/2 |Lap f|^2``
        (interior rows are the 13-point stencil of the paper's eq. 9);
        ``triharmonic``: ``1/2 |grad Lap f|^2``; ``thin-plate``:
        ``1/2 (f_xx^2 + 2 f_xy^2 + f_yy^2)`` summed over axis pairs;
        ``mixed``: ``alpha * laplace + beta * biharmonic``.
    bc : {'odd', 'even', 'periodic'}
        Boundary rule (see the module docstring).
    alpha, beta : float
        Weights of the stretching and bending terms of ``mixed``.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``(N, N)`` with ``N = prod(shape)``.

    Examples
    --------
    >>> P = energy_matrix((7, 7), "biharmonic", "odd")
    >>> P[24].toarray().reshape(7, 7)[1:6, 1:6].astype(int)
    array([[ 0,  0,  1,  0,  0],
           [ 0,  2, -8,  2,  0],
           [ 1, -8, 20, -8,  1],
           [ 0,  2, -8,  2,  0],
           [ 0,  0,  1,  0,  0]])
    """
    shape = _normalize_shape(shape)
    check_choice(bc, BOUNDARIES, "bc")
    check_choice(model, MODELS, "model")
    if model == "mixed":
        check_weights(alpha, beta)
    if len(shape) == 2 and min(shape) >= 2:
        return _assemble_2d(kron_terms(shape, model, bc, alpha, beta), shape)
    if model == "laplace":
        P = sum(G.T @ G for G in _gradient_blocks(shape, bc))
    elif model == "biharmonic":
        D = laplacian(shape, bc)
        P = D.T @ D
    elif model == "triharmonic":
        D = laplacian(shape, bc)
        P = sum((G @ D).T @ (G @ D) for G in _gradient_blocks(shape, bc))
    elif model == "thin-plate":
        second = [axis_operator(second_difference(n, bc), shape, k) for k, n in enumerate(shape)]
        P = sum(S.T @ S for S in second)
        for k in range(len(shape)):
            for m in range(k + 1, len(shape)):
                # Mixed difference f_xy on the cell centres between four samples.
                C = _mixed_difference(shape, bc, k, m)
                P = P + 2.0 * (C.T @ C)
    else:  # mixed (weights checked above)
        P = alpha * energy_matrix(shape, "laplace", bc) + beta * energy_matrix(shape, "biharmonic", bc)
    P = sp.csr_matrix(P, dtype=np.float64)
    P.sum_duplicates()
    P.eliminate_zeros()
    P.sort_indices()
    return P


def _assemble_2d(terms, shape, rows_per_block=64):
    """CSR of ``sum(w * kron(A, B))`` built a band of grid rows at a time.

    The result is written into arrays sized by the sum of the terms'
    non-zeros (an upper bound, left untouched and so never resident beyond
    what is written) and trimmed in place: the peak is the matrix itself plus
    one band, not the several full-size intermediates of a sparse product.
    """
    n, m = shape
    terms = [(float(w), sp.csr_matrix(a), sp.csr_matrix(b)) for w, a, b in terms if w != 0.0]
    if not terms:  # mixed with alpha = beta = 0
        return sp.csr_matrix((n * m, n * m), dtype=np.float64)
    bound = sum(a.nnz * b.nnz for _, a, b in terms)
    data = np.empty(bound, dtype=np.float64)
    indices = np.empty(bound, dtype=np.int32 if n * m < 2**31 else np.int64)
    indptr = np.zeros(n * m + 1, dtype=indices.dtype)
    used = 0
    for i0 in range(0, n, rows_per_block):
        i1 = min(n, i0 + rows_per_block)
        band = None
        for w, a, b in terms:
            part = sp.kron(a[i0:i1], b, format="csr") * w
            band = part if band is None else band + part
        band.sum_duplicates()
        band.eliminate_zeros()
        band.sort_indices()
        k = band.nnz
        data[used:used + k] = band.data
        indices[used:used + k] = band.indices
        indptr[i0 * m + 1:i1 * m + 1] = band.indptr[1:] + used
        used += k
    data.resize(used, refcheck=False)
    indices.resize(used, refcheck=False)
    return sp.csr_matrix((data, indices, indptr), shape=(n * m, n * m), copy=False)


def energy_factor(shape, model="biharmonic", bc="odd", *, alpha=1.0, beta=1.0):
    """A sparse factor ``D`` of the energy matrix: ``E(f) = 1/2 |D f|^2``.

    ``D.T @ D`` equals :func:`energy_matrix` with the same arguments (up to
    rounding in the ``sqrt`` weights of ``thin-plate`` and ``mixed``), so
    least-squares solvers can work on ``D f ~ 0`` instead of ``P``.

    Parameters
    ----------
    shape : int or tuple of int
        Grid shape.
    model : {'laplace', 'biharmonic', 'triharmonic', 'thin-plate', 'mixed'}
        ``laplace``: the stacked forward differences; ``biharmonic``: the
        Laplacian; ``triharmonic``: the stacked ``G_k @ Lap``;
        ``thin-plate``: the stacked second differences and ``sqrt(2)`` times
        the mixed differences; ``mixed``: ``sqrt(alpha)`` times the gradient
        stacked on ``sqrt(beta)`` times the Laplacian.
    bc : {'odd', 'even', 'periodic'}
        Boundary rule.
    alpha, beta : float
        Weights of ``mixed``.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``(M, N)`` with ``N = prod(shape)``; ``M`` depends on the model.

    Examples
    --------
    >>> D = energy_factor((5, 6), "thin-plate", "even")
    >>> D.shape
    (80, 30)
    >>> P = energy_matrix((5, 6), "thin-plate", "even")
    >>> bool(abs(D.T @ D - P).max() < 1e-12)
    True
    """
    shape = _normalize_shape(shape)
    check_choice(bc, BOUNDARIES, "bc")
    check_choice(model, MODELS, "model")
    if model == "laplace":
        blocks = _gradient_blocks(shape, bc)
    elif model == "biharmonic":
        blocks = [laplacian(shape, bc)]
    elif model == "triharmonic":
        D = laplacian(shape, bc)
        blocks = [G @ D for G in _gradient_blocks(shape, bc)]
    elif model == "thin-plate":
        blocks = [axis_operator(second_difference(n, bc), shape, k) for k, n in enumerate(shape)]
        for k in range(len(shape)):
            for m in range(k + 1, len(shape)):
                blocks.append(np.sqrt(2.0) * _mixed_difference(shape, bc, k, m))
    else:  # mixed
        check_weights(alpha, beta)
        blocks = [np.sqrt(alpha) * G for G in _gradient_blocks(shape, bc)]
        blocks.append(np.sqrt(beta) * laplacian(shape, bc))
    # A 1-point axis gives an empty (0, N) difference block; vstack copes with those.
    D = sp.csr_matrix(sp.vstack(blocks, format="csr"), dtype=np.float64)
    D.sum_duplicates()
    D.eliminate_zeros()
    D.sort_indices()
    return D


def _mixed_difference(shape, bc, k, m):
    """Forward difference along axis ``k`` followed by one along axis ``m``."""
    ops = []
    for ax, n in enumerate(shape):
        if ax in (k, m):
            ops.append(forward_difference(n, bc))
        else:
            ops.append(sp.identity(n, format="csr"))
    return reduce(lambda a, b: sp.kron(a, b, format="csr"), ops).tocsr()
