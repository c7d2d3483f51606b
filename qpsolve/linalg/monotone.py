"""Constrained coarse corrections (monotone multigrid for any sparse ``P``).

The truncated Newton step of ``pcg`` freezes every variable held at a bound;
only projected Gauss-Seidel releases them, one layer of pixels per step, so
the number of steps grows with the mesh.  A *constrained* coarse correction
(subspace correction with obstacles: Tai 2003, Kornhuber 1994, Bueler and
Farrell's FASCD, 2024) moves a whole coarse function at once, and may lift a
held region away from its bound.  Both kinds here never raise the energy
``1/2 x'Px + q'x`` and never leave the box.

:class:`SmoothedLevels` (what ``pcg`` uses): projected coordinate descent
along the columns of the hierarchy's composite (smoothed, energy-minimising)
prolongators.  Each column is a fine-level function of any signs; its step
minimises the energy along it, clipped to the exact interval that keeps every
variable of its support in the box (checked against the current ``x``, so
overlapping supports are no problem).  Smooth columns cost little energy on a
plate, so the steps are long.

:class:`AggregateLevels`: the same on the **unsmoothed** aggregates: every
fine variable belongs to at most one aggregate of each level with weight 1
(the tentative prolongator of pyamg with the constant candidate, not
normalised), so the coarse functions are indicator functions with disjoint
supports and the restriction of the box is exact and computed once per level
(:func:`restrict_box`):

    a correction ``c_j`` of aggregate ``j`` keeps ``x`` in the box
    iff  ``max_{i in j} (lo_i - x_i) <= c_j <= min_{i in j} (hi_i - x_i)``,

and projected Gauss-Seidel on the Galerkin operator ``T^T P T`` within those
coarse obstacles decreases the energy exactly as much as the coarse one.  On
fourth-order operators an indicator function costs much energy at its edges,
so these steps are short (measured no better than none on the plates; kept as
``pcg.COARSE_SPACE = 'aggregates'`` for second-order energies).

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> P = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(6, 6)).tocsr() + 1e-3 * sp.identity(6)
>>> levels = AggregateLevels(P, [np.array([0, 0, 0, 1, 1, 1])])
>>> x, lo, hi = np.zeros(6), np.zeros(6), np.full(6, 5.0)
>>> q = -np.ones(6)
>>> e0 = 0.5 * x @ (P @ x) + q @ x
>>> levels.correct(P, q, lo, hi, x)       # both aggregates lift off the lower bound together
>>> bool(0.5 * x @ (P @ x) + q @ x < e0), bool((x >= lo).all() and (x <= hi).all())
(True, True)
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..certificate import box_violation
from .lazyjit import lazy_njit

__all__ = ["AggregateLevels", "SmoothedLevels", "restrict_box"]


def restrict_box(agg, count, lower, upper, x):
    """The exact box of the aggregate corrections ``c`` that keep ``x + c[agg]`` in ``[lower, upper]``.

    Parameters
    ----------
    agg : (n,) int ndarray
        Aggregate of each variable, ``-1`` for none (such variables never move).
    count : int
        Number of aggregates.
    lower, upper, x : (n,) ndarray
        The box and a point in it.

    Returns
    -------
    lo, hi : (count,) ndarray
        ``lo_j = max_{agg_i = j} (lower_i - x_i)`` and ``hi_j = min (upper_i - x_i)``;
        an aggregate without variables gets ``[0, 0]``.

    Examples
    --------
    >>> import numpy as np
    >>> restrict_box(np.array([0, 0, 1]), 2, np.zeros(3), np.full(3, 4.0), np.array([1.0, 3.0, 0.0]))
    (array([-1.,  0.]), array([1., 4.]))
    """
    inside = agg >= 0
    a = agg[inside]
    lo = np.full(count, -np.inf)
    hi = np.full(count, np.inf)
    np.maximum.at(lo, a, (lower - x)[inside])
    np.minimum.at(hi, a, (upper - x)[inside])
    empty = ~np.isfinite(lo) & ~np.isfinite(hi) & (np.bincount(a, minlength=count) == 0)
    lo[empty] = 0.0
    hi[empty] = 0.0
    return lo, hi


class AggregateLevels:
    """Unsmoothed-aggregation levels of ``P`` and their constrained coarse corrections.

    Parameters
    ----------
    P : sparse matrix
        Symmetric positive semi-definite, ``n x n``.
    aggregates : list of (n_k,) int ndarrays
        ``aggregates[k][i]`` is the aggregate (a variable of level ``k + 1``)
        of variable ``i`` of level ``k``; ``-1`` for none.  Level 0 is ``P``'s.
    """

    def __init__(self, P, aggregates):
        P = sp.csr_matrix(P)
        n = P.shape[0]
        self.maps, self.counts, self.operators = [], [], []
        #: how far the last correction left the box before its round-off clip
        self.last_violation = 0.0
        fine = np.arange(n)
        for a in aggregates:
            a = np.asarray(a, dtype=np.int64)
            count = int(a.max()) + 1 if a.size and a.max() >= 0 else 0
            if count == 0:
                break
            # composite map: fine variable -> aggregate of this level (-1 once unaggregated)
            fine = np.where(fine >= 0, a[np.maximum(fine, 0)], -1)
            inside = fine >= 0
            T = sp.csr_matrix((np.ones(int(inside.sum())), (np.flatnonzero(inside), fine[inside])), shape=(n, count))
            self.maps.append(fine.copy())
            self.counts.append(count)
            self.operators.append((T.T @ P @ T).tocsr())  # Galerkin: c'(T'PT)c = (Tc)'P(Tc)

    @property
    def levels(self):
        return len(self.maps)

    @classmethod
    def from_pyamg(cls, P, ml):
        """The levels of a pyamg hierarchy built with ``keep=True`` (its ``AggOp`` matrices)."""
        aggs = []
        for lvl in ml.levels[:-1]:
            A = sp.csr_matrix(lvl.AggOp)
            a = np.full(A.shape[0], -1, dtype=np.int64)
            rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
            a[rows] = A.indices
            aggs.append(a)
        return cls(P, aggs)

    def correct_level(self, k, P, q, lower, upper, x, sweeps=2):
        """One constrained correction on level ``k + 1``'s aggregates, ``x`` in place; returns the energy change."""
        from .amg import projected_gauss_seidel

        agg, count, A = self.maps[k], self.counts[k], self.operators[k]
        g = P @ x + q
        gc = np.bincount(agg[agg >= 0], weights=g[agg >= 0], minlength=count)
        lo, hi = restrict_box(agg, count, lower, upper, x)
        c = np.zeros(count)
        projected_gauss_seidel(A, gc, lo, hi, c, sweeps)
        if not c.any():
            return 0.0
        change = float(gc @ c + 0.5 * c @ (A @ c))
        s = np.where(agg >= 0, c[np.maximum(agg, 0)], 0.0)
        x += s
        # exact restriction: the clip only removes round-off; how far it strayed is kept for tests
        self.last_violation = box_violation(x, lower, upper)
        np.clip(x, lower, upper, out=x)
        return change

    def correct(self, P, q, lower, upper, x, sweeps=2, levels=None):
        """Down-up sweep over the levels (finest aggregates first, back up), ``x`` in place."""
        order = list(range(self.levels if levels is None else min(levels, self.levels)))
        for k in order + order[-2::-1]:
            self.correct_level(k, P, q, lower, upper, x, sweeps)


def _descent_py(colptr, rows, vals, aptr, aind, adat, gc, lo, hi, x, sweeps):
    """Projected coordinate descent along the columns of ``Q`` (CSC), ``x`` and ``gc = Q^T g`` in place.

    Each column ``phi_j`` is a fine-level direction: the step ``t`` minimises
    the energy along it, clipped to the exact feasible interval of
    ``x + t phi_j`` (whatever the signs of ``phi_j``; along a direction of
    zero curvature, to the end of the interval downhill, left alone if that
    is infinite); ``gc`` is kept equal
    to ``Q^T (P x + q)`` through the Galerkin operator ``A = Q^T P Q`` (CSR).
    Returns the energy change.
    """
    m = colptr.size - 1
    total = 0.0
    for s in range(sweeps):
        for jj in range(m):
            j = jj if s % 2 == 0 else m - 1 - jj
            d = 0.0
            for k in range(aptr[j], aptr[j + 1]):
                if aind[k] == j:
                    d = adat[k]
                    break
            if gc[j] == 0.0:
                continue
            # no curvature (a null-space direction of P): as far as the box lets it go downhill
            t = -gc[j] / d if d > 0.0 else (-np.inf if gc[j] > 0.0 else np.inf)
            tlo, thi = -np.inf, np.inf
            for k in range(colptr[j], colptr[j + 1]):
                v = vals[k]
                i = rows[k]
                if v > 0.0:
                    a, b = (lo[i] - x[i]) / v, (hi[i] - x[i]) / v
                elif v < 0.0:
                    a, b = (hi[i] - x[i]) / v, (lo[i] - x[i]) / v
                else:
                    continue
                if a > tlo:
                    tlo = a
                if b < thi:
                    thi = b
            if t < tlo:
                t = tlo
            if t > thi:
                t = thi
            if t == 0.0 or not np.isfinite(t):
                continue
            total += gc[j] * t + 0.5 * d * t * t
            for k in range(colptr[j], colptr[j + 1]):
                i = rows[k]
                v = x[i] + t * vals[k]
                x[i] = min(max(v, lo[i]), hi[i])  # the interval is exact: only round-off is clipped
            for k in range(aptr[j], aptr[j + 1]):
                gc[aind[k]] += t * adat[k]
    return total


# compiled on first use: pdas imports this module through pcg (see qpsolve.linalg.lazyjit)
_descent = lazy_njit(_descent_py, name="_descent", cache=True, nogil=True)


class SmoothedLevels:
    """Constrained coarse corrections along the (smoothed) prolongators' columns, exact line by line.

    Level ``k`` holds the composite prolongator ``Q_k = P_0 ... P_{k-1}``
    (``n x m_k``, CSC) and ``A_k = Q_k^T P Q_k``.  A correction is projected
    coordinate descent along the columns of ``Q_k``: each step is the energy
    minimiser along one fine-level function, clipped to the interval that
    keeps every variable of its support in the box, so the energy never rises
    and ``x`` never leaves the box, for any signs of the basis functions.

    Parameters
    ----------
    P : sparse matrix
        Symmetric positive semi-definite, ``n x n``.
    prolongators : list of sparse matrices
        ``P_0`` (``n x m_1``), ``P_1`` (``m_1 x m_2``), ...: a hierarchy's.
    max_levels : int, optional
        Keep only the first levels.
    first_transpose : sparse matrix, optional
        ``P_0^T`` in CSR (the hierarchy keeps one): used as ``P_0``'s columns
        without a copy.  Deeper composite prolongators are kept in single
        precision.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> P = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(4, 4)).tocsr()
    >>> hat = sp.csr_matrix(np.array([[0.5], [1.0], [1.0], [0.5]]))   # one smooth coarse function
    >>> x, lo, hi = np.zeros(4), np.zeros(4), np.array([9.0, 1.0, 9.0, 9.0])
    >>> levels = SmoothedLevels(P, [hat])
    >>> levels.correct(P, -np.ones(4), lo, hi, x)      # uphill, stopped where x_1 meets its bound
    >>> x.tolist()
    [0.5, 1.0, 1.0, 0.5]
    """

    def __init__(self, P, prolongators, max_levels=None, first_transpose=None):
        P = sp.csr_matrix(P)
        self.Q, self.A = [], []
        Q = None
        for k, Pk in enumerate(prolongators):
            if max_levels is not None and k >= max_levels:
                break
            if Q is None:
                Q = sp.csr_matrix(Pk)
                if first_transpose is not None:
                    # P_0^T in CSR is P_0 in CSC: the hierarchy's own arrays, no copy
                    T = first_transpose
                    stored = sp.csc_matrix((T.data, T.indices, T.indptr), shape=Q.shape)
                else:
                    stored = Q.tocsc()
            else:
                Q = (Q @ Pk).tocsr()
                Q.eliminate_zeros()
                # Composite levels in single precision (half the memory at 1024^2); the Galerkin
                # operator below is the exact one of the rounded basis, so steps stay exact.
                stored = Q.astype(np.float32).tocsc()
            self.Q.append(stored)
            B = stored.astype(np.float64).tocsr() if stored.dtype != np.float64 else Q
            self.A.append((B.T @ (P @ B)).tocsr())

    @property
    def levels(self):
        return len(self.Q)

    def correct_level(self, k, P, q, lower, upper, x, sweeps=2):
        """``sweeps`` sweeps (alternating directions) along the columns of ``Q_k``, ``x`` in place;
        returns the energy change."""
        Q, A = self.Q[k], self.A[k]
        gc = Q.T @ (P @ x + q)
        return _descent(Q.indptr, Q.indices, Q.data, A.indptr, A.indices, A.data, gc,
                        np.ascontiguousarray(lower, dtype=np.float64), np.ascontiguousarray(upper, dtype=np.float64),
                        x, int(sweeps))

    def correct(self, P, q, lower, upper, x, sweeps=2, levels=None):
        """Down-up sweep over the levels (finest first, back up), ``x`` in place."""
        order = list(range(self.levels if levels is None else min(levels, self.levels)))
        for k in order + order[-2::-1]:
            self.correct_level(k, P, q, lower, upper, x, sweeps)

