"""Geometric multigrid on 2-D grid operators, truncated on an active set (numba kernels).

The energy matrix of a 2-D grid model is one stencil in the interior and
its own rows only in a frame of ``r`` pixels along the border (``r`` the
stencil's radius).  Mirrored boundary rules make those rows depend only on
how far a pixel is from each border, so the whole matrix is a small table
``T[ti, tj]`` of ``(2r + 1)^2`` stencils, ``ti`` the pixel's row class (its
distance to the top border below ``r``, ``r`` for the interior, ``2r`` minus
its distance to the bottom border otherwise).  :class:`TypedStencil` keeps
that table, checked against the operator it was read from, and applies the
matrix, projected Gauss-Seidel sweeps and Galerkin products to it without
assembling anything (a 2048^2 plate: a few kB instead of 654 MB of CSR).

Coarse levels hold one variable stencil per pixel, or, where few are distinct, each
distinct one once and an index per pixel (:meth:`_Level.share_rows`; bilinear prolongation
from a grid twice as coarse keeps the Galerkin stencil within
``(r + 2) // 2`` coarse pixels along a coarsened axis, radius 2 at most for
every model; an axis that is not coarsened keeps its fine radius, up to
:data:`~qpsolve.linalg.lattice.RMAX` on a lattice).  A
:class:`TruncatedHierarchy` is rebuilt for each active set: the fine
operator restricted to the free pixels, ``A_F = D A D`` with ``D`` the 0/1
diagonal of free pixels, and its Galerkin products ``R A R^T`` down to a
grid small enough for a dense pseudo-inverse.  A strongly anisotropic level
(:data:`ANISO`) is semi-coarsened: the next grid halves only its strongly
coupled axis, the transfer on the other being the identity.  Its V-cycle (forward
Gauss-Seidel before, backward after) is symmetric, so it serves as a
preconditioner for conjugate gradients on ``A_F`` as well as the linear
correction of truncated nonsmooth Newton multigrid
(:mod:`qpsolve.solvers.tnnmg`).

:class:`MonotoneHierarchy` is the constrained counterpart: the Galerkin
hierarchy of the whole operator and a V-cycle of projected Gauss-Seidel
sweeps within obstacles restricted monotonically level by level (monotone
multigrid), which may move pixels off their bounds.

References
----------
C. Graeser, R. Kornhuber, "Multigrid methods for obstacle problems",
J. Comput. Math. 27 (2009) 1-44.
R. Kornhuber, "Monotone multigrid methods for elliptic variational
inequalities I", Numer. Math. 69 (1994) 167-184.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np
import scipy.linalg as sla
from numba import njit

from ..certificate import box_violation
from .galerkin import EVERY_ROW as _EVERY_ROW, children, galerkin_fine, galerkin_var, neighbour, short_offset
from .galerkin import row_of as _row_of
from .rowpool import MIN_WORK, run_rows, run_tasks, threads

__all__ = ["TypedStencil", "LatticeStencil", "TruncatedHierarchy", "MonotoneHierarchy", "typed_stencil_support",
           "projected_path_minimum"]


# ----------------------------------------------------------------------------------- helpers
@njit(cache=True, inline="always")
def _cls(i, n, r, periodic):
    """Row class of index ``i`` on an axis of length ``n`` (see the module docstring)."""
    if periodic:
        return r
    if i < r:
        return i
    if i >= n - r:
        return 2 * r - (n - 1 - i)
    return r


@njit(cache=True, inline="always")
def _wrap(i, n):
    if i < 0:
        return i + n
    if i >= n:
        return i - n
    return i


# ------------------------------------------------------------------------- fine-level kernels
# Interior pixels use the interior class's stencil as offsets ``fo`` and values ``ci`` (TypedStencil._interior,
# LatticeStencil._off), tuples when they are short: a tuple's length is part of the compiled type, so the
# loop over it is unrolled with the coefficients in registers, where an array's is a loop of loads (the
# 13-point plate's sweeps and product 12-31 % faster at 512², the same sums in the same order: the same
# bits).  Longer stencils stay arrays: unrolled, the 25-point triharmonic's sweep and product were slower
# (benchmarks/results/dense/session15/notes.md).  The kernels index both alike.

#: the longest interior stencil passed to the fine kernels as a tuple (:func:`_unrolled`)
UNROLL_MAX = 13


def _unrolled(values, dtype):
    """``values`` (as ``dtype``) as the fine kernels take a stencil: a tuple of 1 to :data:`UNROLL_MAX`
    entries, else an array.

    >>> _unrolled([1.0, -2.0], np.float64), _unrolled([], np.int64).size, _unrolled(np.arange(14), np.int64).size
    ((1.0, -2.0), 0, 14)
    """
    values = np.asarray(values, dtype=dtype)
    return tuple(values.tolist()) if 1 <= values.size <= UNROLL_MAX else values


@njit(cache=True, nogil=True)
def _fine_matvec_rows(cnt, oa, ob, cv, x, out, n, m, r, periodic, free, fo, ci, i0, i1):
    """Rows ``i0 <= i < i1`` of ``out = A x`` (``free`` empty) or ``out = D A D x`` (``free`` a 0/1 mask)."""
    trunc = free.size > 0
    for i in range(i0, i1):
        inner_i = r <= i < n - r
        for j in range(m):
            p = i * m + j
            if trunc and free[p] == 0:
                out[p] = 0.0
                continue
            if not trunc and inner_i and r <= j < m - r:
                s = 0.0
                for k in range(len(ci)):
                    s += ci[k] * x[p + fo[k]]
                out[p] = s
                continue
            out[p] = _class_sum(cnt, oa, ob, cv, x, n, m, r, periodic, i, j, 0.0, 1.0, n * m, free)


@njit(cache=True, inline="always")
def _pair_lag(m, r, periodic):
    """How many columns the second row of a pair trails the first in a sweep over row pairs.

    A lexicographic Gauss-Seidel sweep is one chain of dependent updates
    (each pixel waits for the one before it).  Sweeping two neighbouring
    rows at once, the second ``L`` columns behind the first, gives the
    processor two chains to overlap and reads exactly the values the
    lexicographic order reads when ``L`` is at least the stencil's column
    reach ``r``: the first row's pixel at column ``j`` sees the second row's
    pixels from column ``j - r`` on still old (that row has done ``j - 1 - L``),
    and the second row's pixel at ``j - L`` sees the first row's up to
    ``j - L + r`` already new.  A periodic grid's columns wrap (the second
    row's first pixel needs the first row's last one): there ``L = m``, the
    plain order.
    """
    return m if periodic else min(r, m)


@njit(cache=True, inline="always")
def _pair_rows(ii, i0, i1, reverse):
    """Rows ``(a, b)`` of the pair starting ``ii`` rows into a sweep over ``i0 <= i < i1`` (``b = -1``: none)."""
    a = i1 - 1 - ii if reverse else i0 + ii
    b = a - 1 if reverse else a + 1
    if b < i0 or b >= i1:
        b = -1
    return a, b


@njit(cache=True, inline="always")
def _pair_pixel(t, u, a, b, m, L, reverse):
    """Pixel ``(i, j)`` of step ``t`` of a row pair ``(a, b)``: row ``a`` at column ``t`` (``u = 0``), row ``b``
    at ``t - L`` (``u = 1``), columns counted from the right when ``reverse``; ``i = -1`` when there is none."""
    i = a if u == 0 else b
    jj = t - u * L
    if i < 0 or jj < 0 or jj >= m:
        return -1, 0
    return i, (m - 1 - jj if reverse else jj)


@njit(cache=True, inline="always")
def _pgs_update(x, lo, hi, p, s, d):
    """Pixel ``p`` of a projected Gauss-Seidel sweep from its sum ``s`` (``q_p + (A x)_p``) and diagonal
    ``d``; returns whether it changed between free and bound."""
    old = x[p]
    low, high = lo[p], hi[p]
    # min / max and bitwise "or": no branches on which pixels touch a bound (they are hard to
    # predict along contact edges; benchmarks/results/dense/notes.md, session 6, same bits)
    v = min(max(old - s / d, low), high)
    x[p] = v
    return int(((old <= low) | (old >= high)) != ((v <= low) | (v >= high)))


#: an empty mask: every neighbour counts (:func:`_class_sum`)
_NO_MASK = np.zeros(0, np.uint8)


@njit(cache=True, inline="always")
def _class_sum(cnt, oa, ob, cv, v, n, m, r, periodic, i, j, s, sign, before, free):
    """``s + sign * sum_k c_k v[neighbour k]`` over the class stencil of pixel ``(i, j)`` in table order
    (wrapped when periodic), the neighbours at flat index ``before`` and after left out, and those with
    ``free`` 0 when ``free`` is not empty."""
    ti = _cls(i, n, r, periodic)
    tj = _cls(j, m, r, periodic)
    for k in range(cnt[ti, tj]):
        i2 = i + oa[ti, tj, k]
        j2 = j + ob[ti, tj, k]
        if periodic:
            i2 = _wrap(i2, n)
            j2 = _wrap(j2, m)
        if i2 * m + j2 < before and (free.size == 0 or free[i2 * m + j2] != 0):
            s += sign * cv[ti, tj, k] * v[i2 * m + j2]  # sign * c exactly +-c: the sums of before, same bits
    return s


@njit(cache=True, inline="always")
def _pgs_border(cnt, oa, ob, cv, dg, x, lo, hi, q, n, m, r, periodic, i, j):
    """The projected Gauss-Seidel update of pixel ``(i, j)`` by its class's stencil (wrapped when periodic)."""
    d = dg[_cls(i, n, r, periodic), _cls(j, m, r, periodic)]
    if d <= 0.0:
        return 0
    p = i * m + j
    s = _class_sum(cnt, oa, ob, cv, x, n, m, r, periodic, i, j, q[p], 1.0, n * m, _NO_MASK)
    return _pgs_update(x, lo, hi, p, s, d)


@njit(cache=True, inline="always")
def _pgs_inner(x, lo, hi, q, p, d, fo, ci):
    """The projected Gauss-Seidel update of interior pixel ``p``."""
    s = q[p]
    for k in range(len(ci)):
        s += ci[k] * x[p + fo[k]]
    return _pgs_update(x, lo, hi, p, s, d)


@njit(cache=True, nogil=True)
def _fine_pgs_rows(cnt, oa, ob, cv, dg, x, lo, hi, q, n, m, r, periodic, fo, ci, reverse, i0, i1):
    """One projected Gauss-Seidel sweep on ``1/2 x^T A x + q^T x`` over the box, in place, on rows ``i0 <= i < i1``
    (downwards, or upwards when ``reverse``), two rows at a time (:func:`_pair_lag`: the values of the
    lexicographic sweep, bit for bit).

    Returns how many pixels changed between free and bound (a measure of
    how much the active set still moves).
    """
    moved = 0
    d = dg[r, r]
    L = _pair_lag(m, r, periodic)
    for ii in range(0, i1 - i0, 2):
        a, b = _pair_rows(ii, i0, i1, reverse)
        # Steps t0 <= t < t1 update an interior pixel in both rows: no per-pixel tests there (the same
        # updates in the same order as the general steps before and after them).
        t0, t1 = r + L, m - r
        if not (d > 0.0 and r <= a < n - r and r <= b < n - r and t0 < t1):
            t0 = t1 = m + L
        step = -1 if reverse else 1
        pa = a * m + (m - 1 - t0 if reverse else t0)
        pb = b * m + (m - 1 - (t0 - L) if reverse else t0 - L)
        for t in range(t0):
            moved += _pgs_pair_step(cnt, oa, ob, cv, dg, x, lo, hi, q, n, m, r, periodic, fo, ci, d, a, b, L,
                                    reverse, t)
        for k in range(t1 - t0):
            moved += _pgs_inner(x, lo, hi, q, pa + k * step, d, fo, ci)
            moved += _pgs_inner(x, lo, hi, q, pb + k * step, d, fo, ci)
        for t in range(t1, m + L):
            moved += _pgs_pair_step(cnt, oa, ob, cv, dg, x, lo, hi, q, n, m, r, periodic, fo, ci, d, a, b, L,
                                    reverse, t)
    return moved


@njit(cache=True, inline="always")
def _pgs_pair_step(cnt, oa, ob, cv, dg, x, lo, hi, q, n, m, r, periodic, fo, ci, d, a, b, L, reverse, t):
    """Step ``t`` of a projected sweep over the row pair ``(a, b)`` (:func:`_pair_pixel`), any pixels."""
    moved = 0
    for u in range(2):
        i, j = _pair_pixel(t, u, a, b, m, L, reverse)
        if i < 0:
            continue
        if d > 0.0 and r <= i < n - r and r <= j < m - r:
            moved += _pgs_inner(x, lo, hi, q, i * m + j, d, fo, ci)
        else:
            moved += _pgs_border(cnt, oa, ob, cv, dg, x, lo, hi, q, n, m, r, periodic, i, j)
    return moved


@njit(cache=True, inline="always")
def _gs_border(cnt, oa, ob, cv, dg, v, b, free, n, m, r, periodic, zero, i, j):
    """The Gauss-Seidel update of pixel ``(i, j)`` on ``D A D v = b`` by its class's stencil (``zero``: only the
    neighbours before it, the others being zero)."""
    p = i * m + j
    d = dg[_cls(i, n, r, periodic), _cls(j, m, r, periodic)]
    if free[p] != 0 and d > 0.0:  # v is zero on bound pixels
        v[p] += _class_sum(cnt, oa, ob, cv, v, n, m, r, periodic, i, j, b[p], -1.0, p if zero else n * m,
                           _NO_MASK) / d


@njit(cache=True, nogil=True)
def _fine_gs_rows(cnt, oa, ob, cv, dg, v, b, free, n, m, r, periodic, zero, fo, ci, reverse, i0, i1):
    """One Gauss-Seidel sweep on ``D A D v = b`` over the free pixels of rows ``i0 <= i < i1``, in place,
    two rows at a time (:func:`_pair_lag`: the values of the lexicographic sweep, bit for bit).

    ``zero``: a forward lexicographic sweep from ``v = 0``, whose terms on pixels after ``p`` are
    zero and skipped (the same sum: the skipped products are exact zeros); the interior tuples
    ``fo, ci`` then hold only the entries before the centre.  The second row of a pair trails the
    first by the stencil's reach, so the pixels after ``p`` are still zero when ``p`` is updated.
    """
    d = dg[r, r]
    L = _pair_lag(m, r, periodic)
    # The two rows' updates written out, not as _fine_pgs_rows's loop over _pair_pixel (13-18 % slower
    # here) nor as an inlined pixel function (five times slower: benchmarks/results/dense/session15).
    step = -1 if reverse else 1
    for ii in range(0, i1 - i0, 2):
        a, c = _pair_rows(ii, i0, i1, reverse)
        inner_a = r <= a < n - r and d > 0.0
        inner_c = r <= c < n - r and d > 0.0
        # Steps t0 <= t < t1 update an interior pixel in both rows: no per-pixel tests but the free mask
        # there (the same updates in the same order as the general steps).
        t0, t1 = r + L, m - r
        if not (inner_a and inner_c and t0 < t1):
            t0 = t1 = m + L
        t = 0
        while t < m + L:
            if t == t0:
                pa = a * m + (m - 1 - t0 if reverse else t0)
                pc = c * m + (m - 1 - (t0 - L) if reverse else t0 - L)
                for k in range(t1 - t0):
                    p = pa + k * step
                    if free[p] != 0:
                        s = b[p]
                        for e in range(len(ci)):
                            s -= ci[e] * v[p + fo[e]]
                        v[p] += s / d
                    p = pc + k * step
                    if free[p] != 0:
                        s = b[p]
                        for e in range(len(ci)):
                            s -= ci[e] * v[p + fo[e]]
                        v[p] += s / d
                t = t1
                continue
            if t < m:
                j = m - 1 - t if reverse else t
                if inner_a and r <= j < m - r:
                    p = a * m + j
                    if free[p] != 0:
                        s = b[p]
                        for k in range(len(ci)):
                            s -= ci[k] * v[p + fo[k]]  # v is zero on bound pixels
                        v[p] += s / d
                else:
                    _gs_border(cnt, oa, ob, cv, dg, v, b, free, n, m, r, periodic, zero, a, j)
            if c >= 0 and t >= L:
                j = m - 1 - (t - L) if reverse else t - L
                if inner_c and r <= j < m - r:
                    p = c * m + j
                    if free[p] != 0:
                        s = b[p]
                        for k in range(len(ci)):
                            s -= ci[k] * v[p + fo[k]]
                        v[p] += s / d
                else:
                    _gs_border(cnt, oa, ob, cv, dg, v, b, free, n, m, r, periodic, zero, c, j)
            t += 1


@njit(cache=True)
def _fine_galerkin(cnt, oa, ob, cv, free, n, m, r, periodic, pi, wi, pj, wj, nc, mc, R, periodic_c, alive, out):
    """``out += P^T D A D P`` as coarse variable stencils (``out`` zeroed by the caller).

    ``pi[i, 0:2]``, ``wi[i, 0:2]``: the coarse parents of fine row ``i`` and
    their weights (parent ``-1`` when absent); ``pj, wj`` the same for columns.
    """
    W = 2 * R + 1
    for i in range(n):
        ti = _cls(i, n, r, periodic)
        for j in range(m):
            p = i * m + j
            if free[p] == 0:
                continue
            tj = _cls(j, m, r, periodic)
            for k in range(cnt[ti, tj]):
                i2 = i + oa[ti, tj, k]
                j2 = j + ob[ti, tj, k]
                if periodic:
                    i2 = _wrap(i2, n)
                    j2 = _wrap(j2, m)
                if free[i2 * m + j2] == 0:
                    continue
                c = cv[ti, tj, k]
                for u in range(pi.shape[1]):
                    I = pi[i, u]
                    if I < 0:
                        continue
                    for w in range(pj.shape[1]):
                        J = pj[j, w]
                        if J < 0:
                            continue
                        row = I * mc + J
                        if alive[row] == 0:
                            continue
                        cIJ = c * wi[i, u] * wj[j, w]
                        for u2 in range(pi.shape[1]):
                            I2 = pi[i2, u2]
                            if I2 < 0:
                                continue
                            dI = I2 - I
                            if periodic_c:
                                if dI > nc // 2:
                                    dI -= nc
                                elif dI < -(nc // 2):
                                    dI += nc
                            for w2 in range(pj.shape[1]):
                                J2 = pj[j2, w2]
                                if J2 < 0 or alive[I2 * mc + J2] == 0:
                                    continue
                                dJ = J2 - J
                                if periodic_c:
                                    if dJ > mc // 2:
                                        dJ -= mc
                                    elif dJ < -(mc // 2):
                                        dJ += mc
                                out[row, (dI + R) * W + dJ + R] += cIJ * wi[i2, u2] * wj[j2, w2]


# ----------------------------------------------------------------------- coarse-level kernels
@njit(cache=True, inline="always")
def _var_dot(A, row, x, p, i, j, n, m, R, periodic):
    """Pixel ``p = (i, j)``'s stencil, row ``row`` of a variable-stencil ``A`` (:func:`_row_of`), times ``x``."""
    W = 2 * R + 1
    s = 0.0
    if R == 2 and 2 <= i < n - 2 and 2 <= j < m - 2:
        # The usual coarse stencil (5 x 5): one partial sum per stencil row, so the 25 products do
        # not form one chain of dependent additions (the coarse sweeps and products ran at the
        # latency of that chain: benchmarks/results/dense/notes.md, session 6).
        a = (i - 2) * m + j - 2
        s0 = (A[row, 0] * x[a] + A[row, 1] * x[a + 1] + A[row, 2] * x[a + 2] + A[row, 3] * x[a + 3]
              + A[row, 4] * x[a + 4])
        a += m
        s1 = (A[row, 5] * x[a] + A[row, 6] * x[a + 1] + A[row, 7] * x[a + 2] + A[row, 8] * x[a + 3]
              + A[row, 9] * x[a + 4])
        a += m
        s2 = (A[row, 10] * x[a] + A[row, 11] * x[a + 1] + A[row, 12] * x[a + 2] + A[row, 13] * x[a + 3]
              + A[row, 14] * x[a + 4])
        a += m
        s3 = (A[row, 15] * x[a] + A[row, 16] * x[a + 1] + A[row, 17] * x[a + 2] + A[row, 18] * x[a + 3]
              + A[row, 19] * x[a + 4])
        a += m
        s4 = (A[row, 20] * x[a] + A[row, 21] * x[a + 1] + A[row, 22] * x[a + 2] + A[row, 23] * x[a + 3]
              + A[row, 24] * x[a + 4])
        return ((s0 + s1) + (s3 + s4)) + s2
    if R <= i < n - R and R <= j < m - R:  # the interior: no bounds to check
        base = (i - R) * m + j - R
        for a in range(W):
            line = base + a * m
            k = a * W
            for bb in range(W):
                s += A[row, k + bb] * x[line + bb]
        return s
    for a in range(W):
        i2 = neighbour(i, a - R, n, periodic)
        if i2 < 0:
            continue
        for bb in range(W):
            c = A[row, a * W + bb]
            if c == 0.0:
                continue
            j2 = neighbour(j, bb - R, m, periodic)
            if j2 < 0:
                continue
            s += c * x[i2 * m + j2]
    return s


@njit(cache=True, inline="always")
def _var_dot_behind(A, row, x, p, i, j, n, m, R, periodic):
    """:func:`_var_dot` when ``x`` is zero from ``p`` on (a forward sweep from zero): the terms of the
    pixels before ``p`` only, summed as :func:`_var_dot` sums them (the others are exact zeros there)."""
    W = 2 * R + 1
    if R == 2 and 2 <= i < n - 2 and 2 <= j < m - 2:
        a = (i - 2) * m + j - 2
        s0 = (A[row, 0] * x[a] + A[row, 1] * x[a + 1] + A[row, 2] * x[a + 2] + A[row, 3] * x[a + 3]
              + A[row, 4] * x[a + 4])
        a += m
        s1 = (A[row, 5] * x[a] + A[row, 6] * x[a + 1] + A[row, 7] * x[a + 2] + A[row, 8] * x[a + 3]
              + A[row, 9] * x[a + 4])
        a += m
        return (s0 + s1) + (A[row, 10] * x[a] + A[row, 11] * x[a + 1])
    s = 0.0
    for a in range(W):
        i2 = neighbour(i, a - R, n, periodic)
        if i2 < 0:
            continue
        for bb in range(W):
            c = A[row, a * W + bb]
            if c == 0.0:
                continue
            j2 = neighbour(j, bb - R, m, periodic)
            if j2 < 0 or i2 * m + j2 >= p:
                continue
            s += c * x[i2 * m + j2]
    return s


@njit(cache=True, nogil=True)
def _var_matvec_rows(A, ix, x, out, n, m, R, periodic, i0, i1):
    for i in range(i0, i1):
        for j in range(m):
            p = i * m + j
            out[p] = _var_dot(A, _row_of(ix, p), x, p, i, j, n, m, R, periodic)


def _var_matvec(A, x, out, n, m, R, periodic, ix=_EVERY_ROW):
    """``out = A x`` for a variable-stencil ``A`` on one thread (``ix`` as in :func:`_var_product`)."""
    _var_matvec_rows(A, ix, x, out, n, m, R, periodic, 0, n)


def _var_product(A, x, out, n, m, R, periodic, ix=_EVERY_ROW):
    """``out = A x`` for a variable-stencil ``A`` (pixel ``p``'s row ``ix[p]``, or ``p`` while ``ix`` is empty,
    see :class:`_Level`), rows in blocks on the kernel threads."""
    run_rows(_var_matvec_rows, n, A, ix, x, out, n, m, R, periodic, work=n * m)


@njit(cache=True, inline="always")
def _step(t, lo, hi, p, project):
    """A Gauss-Seidel value ``t`` of pixel ``p``, clipped to ``[lo[p], hi[p]]`` when ``project``."""
    if project:
        return min(max(t, lo[p]), hi[p])  # no branch on the bound (see _fine_pgs_rows)
    return t


@njit(cache=True, inline="always")
def _var_sweep(A, ix, v, b, lo, hi, n, m, R, periodic, reverse, project, zero, i0, i1):
    """One Gauss-Seidel sweep on ``1/2 v^T A v - b^T v`` over rows ``i0 <= i < i1``, in place; clipped to
    ``[lo, hi]`` when ``project``; ``zero``: a forward lexicographic sweep from ``v = 0`` (see
    :func:`_var_dot_behind`)."""
    W = 2 * R + 1
    cen = R * W + R
    for ii in range(i1 - i0):
        i = i1 - 1 - ii if reverse else i0 + ii
        for jj in range(m):
            j = m - 1 - jj if reverse else jj
            p = i * m + j
            row = _row_of(ix, p)
            d = A[row, cen]
            if d <= 0.0:
                continue
            if zero:
                v[p] = _step(v[p] + (b[p] - _var_dot_behind(A, row, v, p, i, j, n, m, R, periodic)) / d, lo, hi,
                             p, project)
            else:
                v[p] = _step(v[p] + (b[p] - _var_dot(A, row, v, p, i, j, n, m, R, periodic)) / d, lo, hi, p,
                             project)


@njit(cache=True, nogil=True)
def _var_gs_rows(A, ix, v, b, n, m, R, periodic, zero, reverse, i0, i1):
    """One (linear) Gauss-Seidel sweep on ``A v = b`` over rows ``i0 <= i < i1``, in place."""
    _var_sweep(A, ix, v, b, b, b, n, m, R, periodic, reverse, False, zero, i0, i1)


def _var_gs(A, v, b, n, m, R, periodic, reverse, zero=False, ix=_EVERY_ROW):
    """One (linear) Gauss-Seidel sweep on ``A v = b``, in place (in the order of :func:`_sweep_plan`);
    ``zero``: ``v`` is zero on entry (see :func:`_zero_ahead`); ``ix`` as in :func:`_var_product`."""
    _blocked_sweep(_var_gs_rows, n, R, periodic, reverse, n * m, A, ix, v, b, n, m, R, periodic,
                   _zero_ahead(zero, reverse, n, R, periodic))


#: rows of a sweep are split into this many blocks, separated by strips of the stencil's radius: the
#: blocks do not couple, so threads sweep them at once, and the strips follow (reverse sweeps: first).
#: 1 (lexicographic sweeps, one thread): the changed order cost tnnmg fine Newton steps on every
#: camera case measured, more than the second core gained (benchmarks/results/dense/notes.md)
SWEEP_BLOCKS = 1


def _sweep_plan(n, r, periodic, blocks=None):
    """``(blocks, strips)``: row ranges of a Gauss-Seidel sweep on ``n`` rows of a radius-``r`` stencil
    (``blocks`` blocks, default :data:`SWEEP_BLOCKS`).

    No row of one block (or strip) is within ``r`` of another block's (or
    strip's), so the blocks can be swept at once, then the strips at once:
    the sweep is Gauss-Seidel in the order "every block, then every strip",
    the same whatever the number of threads.  Periodic and short grids get
    one block (plain lexicographic order).

    Examples
    --------
    >>> _sweep_plan(100, 2, False, blocks=4)
    ([(0, 23), (25, 48), (50, 73), (75, 100)], [(23, 25), (48, 50), (73, 75)])
    >>> _sweep_plan(100, 2, True, blocks=4)
    ([(0, 100)], [])
    """
    B = SWEEP_BLOCKS if blocks is None else int(blocks)
    if periodic or B < 2 or n < B * (4 * r + 8):
        return [(0, n)], []
    cuts = [n * t // B for t in range(B + 1)]
    blocks = [(cuts[t], cuts[t + 1] - (r if t < B - 1 else 0)) for t in range(B)]
    strips = [(cuts[t + 1] - r, cuts[t + 1]) for t in range(B - 1)]
    return blocks, strips


def _blocked_sweep(kernel, n, r, periodic, reverse, work, *args):
    """``kernel(*args, reverse, i0, i1)`` over the plan of :func:`_sweep_plan`: blocks then strips, or, in
    reverse, strips then blocks (the exact reverse order, so a forward and a reverse sweep make a
    symmetric smoother).  Returns the sum of what the kernel returns."""
    blocks, strips = _sweep_plan(n, r, periodic)
    total = 0
    for phase in ((strips, blocks) if reverse else (blocks, strips)):
        if phase:
            total += run_tasks(kernel, phase, *args, reverse, work=work)
    return total


def _var_galerkin(A, n, m, R, periodic, pi, wi, pj, wj, nc, mc, Rc, out, ix=_EVERY_ROW):
    """``out += P^T A P`` for a variable-stencil ``A`` (``out`` zeroed by the caller; ``ix`` as in
    :func:`_var_product`), one axis at a time (:func:`qpsolve.linalg.galerkin.galerkin_var`)."""
    ci, wci = children(pi, wi, nc)
    galerkin_var(A, n, m, R, periodic, pi, wi, pj, wj, ci, wci, nc, mc, Rc, out, ix=ix)


def _zero_ahead(zero, reverse, n, r, periodic):
    """Whether a sweep from ``v = 0`` may skip the pixels ahead of it: only a forward sweep in plain
    lexicographic order (one block; in the blocked order a strip follows the block below it).

    >>> _zero_ahead(True, False, 100, 2, False), _zero_ahead(True, True, 100, 2, False)
    (True, False)
    """
    return bool(zero) and not reverse and not _sweep_plan(n, r, periodic)[1]


@njit(cache=True)
def _restrict(r, free, n, m, pi, wi, pj, wj, mc, alive, out):
    """``out = P^T D r`` (``free`` empty: no truncation); ``out`` zeroed by the caller."""
    trunc = free.size > 0
    for i in range(n):
        for j in range(m):
            p = i * m + j
            if trunc and free[p] == 0:
                continue
            val = r[p]
            if val == 0.0:
                continue
            for u in range(pi.shape[1]):
                I = pi[i, u]
                if I < 0:
                    continue
                for w in range(pj.shape[1]):
                    J = pj[j, w]
                    if J < 0 or (alive.size > 0 and alive[I * mc + J] == 0):
                        continue
                    out[I * mc + J] += wi[i, u] * wj[j, w] * val


@njit(cache=True, inline="always")
def _live(I, J, mc, alive):
    """Whether coarse node ``(I, J)`` exists and takes part (``alive`` empty: every node does)."""
    return I >= 0 and J >= 0 and (alive.size == 0 or alive[I * mc + J] != 0)


@njit(cache=True)
def _restrict2(r, free, n, m, pi, wi, pj, wj, mc, alive, out):
    """:func:`_restrict` for two parents on both axes (the bilinear and monotone transfers of two coarsened
    axes): the same terms added in the same order (the same bits), the loops over the parents written out."""
    trunc = free.size > 0
    for i in range(n):
        I0, I1, a0, a1 = pi[i, 0], pi[i, 1], wi[i, 0], wi[i, 1]
        for j in range(m):
            p = i * m + j
            if trunc and free[p] == 0:
                continue
            val = r[p]
            if val == 0.0:
                continue
            J0, J1, b0, b1 = pj[j, 0], pj[j, 1], wj[j, 0], wj[j, 1]
            if _live(I0, J0, mc, alive):
                out[I0 * mc + J0] += a0 * b0 * val
            if _live(I0, J1, mc, alive):
                out[I0 * mc + J1] += a0 * b1 * val
            if _live(I1, J0, mc, alive):
                out[I1 * mc + J0] += a1 * b0 * val
            if _live(I1, J1, mc, alive):
                out[I1 * mc + J1] += a1 * b1 * val


@njit(cache=True, nogil=True)
def _prolong_add_rows2(vc, free, n, m, pi, wi, pj, wj, mc, alive, v, i0, i1):
    """:func:`_prolong_add_rows` for two parents on both axes: the same sums in the same order (the same bits)."""
    trunc = free.size > 0
    for i in range(i0, i1):
        I0, I1, a0, a1 = pi[i, 0], pi[i, 1], wi[i, 0], wi[i, 1]
        for j in range(m):
            p = i * m + j
            if trunc and free[p] == 0:
                continue
            J0, J1, b0, b1 = pj[j, 0], pj[j, 1], wj[j, 0], wj[j, 1]
            s = 0.0
            if _live(I0, J0, mc, alive):
                s += a0 * b0 * vc[I0 * mc + J0]
            if _live(I0, J1, mc, alive):
                s += a0 * b1 * vc[I0 * mc + J1]
            if _live(I1, J0, mc, alive):
                s += a1 * b0 * vc[I1 * mc + J0]
            if _live(I1, J1, mc, alive):
                s += a1 * b1 * vc[I1 * mc + J1]
            v[p] += s


@njit(cache=True, nogil=True)
def _prolong_add_rows(vc, free, n, m, pi, wi, pj, wj, mc, alive, v, i0, i1):
    """Rows ``i0 <= i < i1`` of ``v += D P vc`` (``free`` empty: no truncation)."""
    trunc = free.size > 0
    for i in range(i0, i1):
        for j in range(m):
            p = i * m + j
            if trunc and free[p] == 0:
                continue
            s = 0.0
            for u in range(pi.shape[1]):
                I = pi[i, u]
                if I < 0:
                    continue
                for w in range(pj.shape[1]):
                    J = pj[j, w]
                    if J < 0 or (alive.size > 0 and alive[I * mc + J] == 0):
                        continue
                    s += wi[i, u] * wj[j, w] * vc[I * mc + J]
            v[p] += s


@njit(cache=True)
def _prolong_add(vc, free, n, m, pi, wi, pj, wj, mc, alive, v):
    """``v += D P vc`` (``free`` empty: no truncation)."""
    _prolong_add_rows(vc, free, n, m, pi, wi, pj, wj, mc, alive, v, 0, n)


def _prolong(vc, free, n, m, tr, mc, alive, v):
    """:func:`_prolong_add` with the fine rows in blocks on the kernel threads (``tr``: a :class:`_Transfer`)."""
    kernel = _prolong_add_rows2 if tr.pi.shape[1] == tr.pj.shape[1] == 2 else _prolong_add_rows
    run_rows(kernel, n, vc, free, n, m, tr.pi, tr.wi, tr.pj, tr.wj, mc, alive, v, work=n * m)


# Restriction gathers each coarse entry from its fine children in increasing order, which adds the
# same terms in the same order as the fine-pixel scatter of :func:`_restrict`: the iterates do not
# change with the thread count or against the serial kernel (tnnmg's Newton step counts react to
# rounding-level changes: benchmarks/results/dense/notes.md, session 5).  The gather costs about twice
# the scatter's CPU, so one thread keeps the scatter.
@njit(cache=True, nogil=True)
def _restrict_gather_rows(r, free, m, ci, wci, cj, wcj, mc, alive, out, I0, I1):
    """Coarse rows ``I0 <= I < I1`` of ``out += P^T D r``, each entry summed over its fine children in
    increasing order: the same sums in the same order as the fine-pixel scatter :func:`_restrict`."""
    trunc = free.size > 0
    for I in range(I0, I1):
        for J in range(mc):
            c = I * mc + J
            if alive.size > 0 and alive[c] == 0:
                continue
            s = out[c]
            for a in range(ci.shape[1]):
                i = ci[I, a]
                if i < 0:
                    break
                wa = wci[I, a]
                base = i * m
                for b in range(cj.shape[1]):
                    j = cj[J, b]
                    if j < 0:
                        break
                    if trunc and free[base + j] == 0:
                        continue
                    s += wa * wcj[J, b] * r[base + j]
            out[c] = s


# Obstacles restrict as max / min, which is exact in any order, and the transfers are tensor products
# (rows times columns), so they restrict in two passes: the columns of every fine row, then the rows.
@njit(cache=True, nogil=True)
def _obstacle_columns_rows(lo, hi, m, cj, mc, tlo, thi, i0, i1):
    """Fine rows ``i0 <= i < i1`` of the max of ``lo`` and the min of ``hi`` over each coarse column's support."""
    for i in range(i0, i1):
        for J in range(mc):
            a_max, b_min = -np.inf, np.inf
            for b in range(cj.shape[1]):
                j = cj[J, b]
                if j < 0:
                    break
                p = i * m + j
                if lo[p] > a_max:
                    a_max = lo[p]
                if hi[p] < b_min:
                    b_min = hi[p]
            tlo[i * mc + J] = a_max
            thi[i * mc + J] = b_min


@njit(cache=True, nogil=True)
def _obstacle_by_rows(tlo, thi, ci, mc, lo_c, hi_c, I0, I1):
    """Coarse rows ``I0 <= I < I1`` of the max / min of the column pass over each coarse row's support."""
    for I in range(I0, I1):
        for J in range(mc):
            c = I * mc + J
            a_max, b_min = lo_c[c], hi_c[c]
            for a in range(ci.shape[1]):
                i = ci[I, a]
                if i < 0:
                    break
                if tlo[i * mc + J] > a_max:
                    a_max = tlo[i * mc + J]
                if thi[i * mc + J] < b_min:
                    b_min = thi[i * mc + J]
            lo_c[c], hi_c[c] = a_max, b_min


def _children(par, w, nc, positive=False):
    """:func:`qpsolve.linalg.galerkin.children`, or only the positive weights when ``positive`` (the
    supports of monotone obstacles).

    >>> par = np.array([[0, 1], [0, 1], [1, -1]]); w = np.array([[1.0, 0.0], [0.5, 0.5], [1.0, 0.0]])
    >>> _children(par, w, 2, positive=True)[0]
    array([[0, 1],
           [1, 2]])
    """
    if positive:
        par = np.where(w > 0.0, par, -1)
    return children(par, w, nc)


class _Transfer:
    """Prolongation ``pi, wi`` (rows) and ``pj, wj`` (columns) between a grid and the next coarser one (twice
    as coarse along each coarsened axis, the identity along an axis that is not), with the inverse tables
    (children) the gathering restrictions need.  Unpacks as ``(pi, wi, pj, wj)``."""

    def __init__(self, pi, wi, pj, wj, nc, mc):
        self.pi, self.wi, self.pj, self.wj = pi, wi, pj, wj
        self.nc, self.mc = nc, mc

    def __iter__(self):
        return iter((self.pi, self.wi, self.pj, self.wj))

    def __getattr__(self, name):
        # the inverse tables, built on first use (a hierarchy is built per level and per Newton run)
        if name in ("ci", "wci", "cj", "wcj", "ci_pos", "cj_pos"):
            self.ci, self.wci = _children(self.pi, self.wi, self.nc)
            self.cj, self.wcj = _children(self.pj, self.wj, self.mc)
            self.ci_pos = _children(self.pi, self.wi, self.nc, positive=True)[0]
            self.cj_pos = _children(self.pj, self.wj, self.mc, positive=True)[0]
            return self.__dict__[name]
        raise AttributeError(name)

    def restrict(self, r, free, m, alive, out):
        """``out += P^T D r`` (``free`` / ``alive`` empty: no truncation), coarse rows in blocks on the threads."""
        if threads() == 1 or r.size < MIN_WORK:
            kernel = _restrict2 if self.pi.shape[1] == self.pj.shape[1] == 2 else _restrict
            kernel(r, free, r.size // m, m, self.pi, self.wi, self.pj, self.wj, self.mc, alive, out)
            return
        run_rows(_restrict_gather_rows, self.nc, r, free, m, self.ci, self.wci, self.cj, self.wcj, self.mc, alive,
                 out, work=r.size)

    def restrict_obstacles(self, lo, hi, m, lo_c, hi_c):
        """Monotone restriction of defect obstacles: ``lo_c`` the max, ``hi_c`` the min over each coarse
        function's support (fine pixels with a positive weight), ``lo_c, hi_c`` preset by the caller
        (-inf / +inf); rows in blocks on the threads."""
        n = lo.size // m
        tlo, thi = np.empty(n * self.mc), np.empty(n * self.mc)
        run_rows(_obstacle_columns_rows, n, lo, hi, m, self.cj_pos, self.mc, tlo, thi, work=lo.size)
        run_rows(_obstacle_by_rows, self.nc, tlo, thi, self.ci_pos, self.mc, lo_c, hi_c, work=lo.size)


# ------------------------------------------------------------- incremental Galerkin updates
@njit(cache=True, inline="always")
def _slot(row, slots, rows, used, out):
    """Compact slot of coarse ``row`` (assigned, and zeroed, on first touch); returns ``(slot, used)``."""
    k = slots[row]
    if k < 0:
        k = used
        slots[row] = k
        rows[k] = row
        used += 1
        for c in range(out.shape[1]):
            out[k, c] = 0.0
    return k, used


@njit(cache=True, inline="always")
def _scatter(c, a_i, a_j, b_i, b_j, pi, wi, pj, wj, nc, mc, Rc, periodic, slots, rows, used, out):
    """Add ``c * P[(a_i, a_j), :]^T P[(b_i, b_j), :]`` (one fine entry at row a, column b) to the
    compact coarse rows; returns ``used``.  The one triple loop both Galerkin updates share."""
    Wc = 2 * Rc + 1
    for u in range(pi.shape[1]):
        I = pi[a_i, u]
        if I < 0:
            continue
        for w in range(pj.shape[1]):
            J = pj[a_j, w]
            if J < 0:
                continue
            s, used = _slot(I * mc + J, slots, rows, used, out)
            cIJ = c * wi[a_i, u] * wj[a_j, w]
            for u2 in range(pi.shape[1]):
                I2 = pi[b_i, u2]
                if I2 < 0:
                    continue
                dI = short_offset(I2 - I, nc, periodic)
                for w2 in range(pj.shape[1]):
                    J2 = pj[b_j, w2]
                    if J2 < 0:
                        continue
                    dJ = short_offset(J2 - J, mc, periodic)
                    out[s, (dI + Rc) * Wc + dJ + Rc] += cIJ * wi[b_i, u2] * wj[b_j, w2]
    return used


@njit(cache=True)
def _fine_galerkin_delta(cnt, oa, ob, cv, fold, fnew, changed, n, m, r, periodic, pi, wi, pj, wj, nc, mc, R,
                         slots, rows, out):
    """``out = P^T (D' A D' - D A D) P`` on the coarse rows it touches, compactly.

    ``fold`` / ``fnew`` are the old and new free masks, ``changed`` the
    pixels where they differ.  Row ``rows[k]`` of the difference is
    ``out[k]``; ``slots`` (all ``-1`` on entry) maps rows to ``k``.  Only the
    matrix entries ``(p, p2)`` with ``p`` or ``p2`` changed contribute, so
    the work is that of the changed pixels.  Returns how many rows were used.
    """
    used = 0
    for t in range(changed.size):
        p = changed[t]
        i = p // m
        j = p - i * m
        ti = _cls(i, n, r, periodic)
        tj = _cls(j, m, r, periodic)
        for k in range(cnt[ti, tj]):
            i2 = i + oa[ti, tj, k]
            j2 = j + ob[ti, tj, k]
            if periodic:
                i2 = _wrap(i2, n)
                j2 = _wrap(j2, m)
            p2 = i2 * m + j2
            if p2 < p and fold[p2] != fnew[p2]:
                continue  # a pair of changed pixels: done from the smaller one
            delta = float(fnew[p]) * fnew[p2] - float(fold[p]) * fold[p2]
            if delta == 0.0:
                continue
            c = cv[ti, tj, k] * delta
            for side in range(2 if p2 != p else 1):
                a_i, a_j, b_i, b_j = (i, j, i2, j2) if side == 0 else (i2, j2, i, j)
                used = _scatter(c, a_i, a_j, b_i, b_j, pi, wi, pj, wj, nc, mc, R, periodic, slots, rows, used, out)
    return used


@njit(cache=True)
def _var_galerkin_delta(dA, drows, nd, n, m, R, periodic, pi, wi, pj, wj, nc, mc, Rc, slots, rows, out):
    """``out = P^T dA P`` for a difference ``dA`` given on ``nd`` compact rows (as :func:`_fine_galerkin_delta`)."""
    W = 2 * R + 1
    used = 0
    for t in range(nd):
        p = drows[t]
        i = p // m
        j = p - i * m
        for a in range(W):
            i2 = neighbour(i, a - R, n, periodic)
            if i2 < 0:
                continue
            for bb in range(W):
                c = dA[t, a * W + bb]
                if c == 0.0:
                    continue
                j2 = neighbour(j, bb - R, m, periodic)
                if j2 < 0:
                    continue
                used = _scatter(c, i, j, i2, j2, pi, wi, pj, wj, nc, mc, Rc, periodic, slots, rows, used, out)
    return used


@njit(cache=True)
def _apply_delta(A, dA, rows, nd, slots, floor):
    """``A[rows] += dA``; rows whose diagonal falls to ``floor`` or below are zeroed (dead nodes)."""
    cen = A.shape[1] // 2
    for t in range(nd):
        row = rows[t]
        slots[row] = -1
        for k in range(A.shape[1]):
            A[row, k] += dA[t, k]
        if A[row, cen] <= floor:
            for k in range(A.shape[1]):
                A[row, k] = 0.0


# --------------------------------------------------------------------------- the fine operator
def typed_stencil_support(grid):
    """``None`` when :class:`TypedStencil` can represent ``grid``'s operator, else the reason.

    Examples
    --------
    >>> from qpsolve.model.operators import GridSpec
    >>> typed_stencil_support(GridSpec((64, 48), "thin-plate", "odd")) is None
    True
    >>> typed_stencil_support(GridSpec((64,), "laplace", "odd"))
    'needs a 2-D grid, got 1-D'
    """
    if grid is None:
        return "the problem carries no grid (not built by image_problem or GridSpec)"
    if len(grid.shape) != 2:
        return f"needs a 2-D grid, got {len(grid.shape)}-D"
    if min(grid.shape) < 8:
        return f"grid {tuple(grid.shape)} has an axis shorter than 8"
    return None


@lru_cache(maxsize=64)
def _parents(n, periodic, order=3):
    """Coarse parents and interpolation weights of each fine index on an axis of length ``n``.

    Odd lengths and periodic axes coarsen vertex-centred: coarse node ``I``
    sits on fine index ``2 I``, and an odd fine index takes the cubic
    (four-point) interpolation ``(-1, 9, 9, -1) / 16`` of its coarse
    neighbours (``order=3``; one-sided quadratic next to an end) or the linear
    one ``(1, 1) / 2`` (``order=1``).  Even non-periodic lengths coarsen
    cell-centred: coarse node ``I`` sits between fine indices ``2 I`` and
    ``2 I + 1``, each fine index takes ``(3, 1) / 4`` of its nearest two
    coarse nodes (``order=1``) or the cubic ``(-5, 35, 105, -7) / 128`` of
    the nearest four (``order=3``), and the two end indices extrapolate.
    Both ends are then treated alike and every rule reproduces constants and
    ramps, which the mirrored plate rules leave without energy: a vertex-
    centred grid overhangs the last coarse node on an even axis, and the
    slowest V-cycle modes sat exactly there (see benchmarks/results/dense/notes.md).
    Returns ``(nc, parents, weights)`` with ``parents[i, k] = -1`` where absent.

    Cubic interpolation matters for fourth-order models: bilinear coarse
    functions have kinks whose energy makes the Galerkin coarse grids of a
    plate poor (see :class:`TruncatedHierarchy`).

    Examples
    --------
    >>> import numpy as np
    >>> nc, par, w = _parents(16, False, order=3)
    >>> c = np.arange(nc) * 2.0 + 0.5           # a ramp on the coarse cell centres
    >>> fine = (w * np.where(par >= 0, c[np.maximum(par, 0)], 0.0)).sum(axis=1)
    >>> bool(np.allclose(fine, np.arange(16)))
    True
    """
    width = 4 if order == 3 else 2
    par = np.full((n, 4), -1, dtype=np.int64)
    w = np.zeros((n, 4))
    if n % 2 == 0 and not periodic:
        nc = n // 2
        for i in range(n):
            pos = (i - 0.5) / 2.0  # position in coarse units (node I at fine 2 I + 1/2)
            if order == 3 and nc >= 4:
                first = min(max(int(np.floor(pos)) - 1, 0), nc - 4)
                idx = list(range(first, first + 4))
            else:
                first = min(max(int(np.floor(pos)), 0), nc - 2)
                idx = [first, first + 1]
            for k, c in enumerate(idx):
                others = [d for d in idx if d != c]
                par[i, k] = c
                w[i, k] = np.prod([(pos - d) / (c - d) for d in others])
        return nc, par[:, :width].copy() if width == 2 else par, w[:, :width].copy() if width == 2 else w
    nc = n // 2 if (periodic and n % 2 == 0) else (n + 1) // 2
    for i in range(n):
        if i % 2 == 0:
            par[i, 0], w[i, 0] = i // 2, 1.0
            continue
        left = (i - 1) // 2
        right = left + 1
        if order == 3 and (periodic or (left >= 1 and right + 1 < nc)) and nc >= 4:
            idx = [left - 1, left, right, right + 1]
            ww = [-1 / 16, 9 / 16, 9 / 16, -1 / 16]
        elif order == 3 and nc >= 4:
            # One-sided quadratic next to a non-periodic end: no kink there either.
            idx, ww = ([0, 1, 2], [3 / 8, 3 / 4, -1 / 8]) if left == 0 else ([nc - 3, nc - 2, nc - 1],
                                                                          [-1 / 8, 3 / 4, 3 / 8])
        else:
            idx, ww = [left, right], [0.5, 0.5]
        for k, (c, v) in enumerate(zip(idx, ww)):
            par[i, k], w[i, k] = c % nc, v
    if order != 3:
        par, w = par[:, :2].copy(), w[:, :2].copy()
    return nc, par, w


@lru_cache(maxsize=64)
def _coarse_radius(R, n, periodic, order):
    """Stencil radius of ``P^T A P`` on the coarse grid along an axis of length ``n`` (``A`` of radius ``R``).

    >>> _coarse_radius(2, 512, False, 1), _coarse_radius(1, 9, True, 3)
    (2, 2)
    """
    nc, par, _ = _parents(n, periodic, order)
    i = np.arange(n)[:, None]
    i2 = i + np.arange(-R, R + 1)[None, :]  # every fine pair (i, i2) within the stencil
    if periodic:
        ok = np.ones(i2.shape, bool)
        i2 = i2 % n
    else:
        ok = (i2 >= 0) & (i2 < n)
        i2 = np.clip(i2, 0, n - 1)
    a = par[np.broadcast_to(i, i2.shape)][:, :, :, None]  # parents of i
    b = par[i2][:, :, None, :]  # parents of i2
    d = np.abs(b - a)
    if periodic:
        d = np.minimum(d, nc - d)
    use = ok[:, :, None, None] & (a >= 0) & (b >= 0)
    return int(d[use].max(initial=0))


@lru_cache(maxsize=16)
def _stencil_table(probe, r):
    """``(cnt, oa, ob, cv, dg)`` of :class:`TypedStencil`: the rows of ``probe`` (a grid at most
    ``4 r + 6`` long per axis) sorted into border classes."""
    pn, pm = (int(s) for s in probe.shape)
    periodic = probe.bc == "periodic"
    w = 2 * r + 1
    P = probe.matrix().tocsr()

    def probe_index(t, length):
        if t < r:
            return t
        if t > r:
            return length - 1 - (2 * r - t)
        return length // 2

    cnt = np.zeros((w, w), dtype=np.int64)
    oa = np.zeros((w, w, w * w), dtype=np.int64)
    ob = np.zeros((w, w, w * w), dtype=np.int64)
    cv = np.zeros((w, w, w * w))
    dg = np.zeros((w, w))
    for ti in range(w):
        for tj in range(w):
            i, j = probe_index(ti, pn), probe_index(tj, pm)
            row = P.getrow(i * pm + j)
            entries = []
            for col, val in zip(row.indices, row.data):
                if val == 0.0:
                    continue
                i2, j2 = divmod(int(col), pm)
                da, db = i2 - i, j2 - j
                if periodic:  # back to the shortest offset around the torus
                    da = (da + pn // 2) % pn - pn // 2
                    db = (db + pm // 2) % pm - pm // 2
                if abs(da) > r or abs(db) > r:
                    raise ValueError(f"TypedStencil: row ({i}, {j}) reaches ({i2}, {j2}), beyond radius {r}")
                entries.append((da, db, val))
            # Offsets in increasing (row, column) order, whatever order the CSR row came in: the
            # sweeps from zero (_fine_gs_rows, zero=True) count the entries behind a pixel from the front.
            for da, db, val in sorted(entries, key=lambda e: (e[0], e[1])):
                k = cnt[ti, tj]
                oa[ti, tj, k], ob[ti, tj, k], cv[ti, tj, k] = da, db, val
                if da == 0 and db == 0:
                    dg[ti, tj] = val
                cnt[ti, tj] = k + 1
    return cnt, oa, ob, cv, dg


class TypedStencil:
    """A 2-D grid model's ``P`` as a table of border-class stencils (module docstring).

    Parameters
    ----------
    op : GridOperator
        The operator to represent (from :meth:`GridSpec.energy`).

    Raises
    ------
    ValueError
        When the table does not reproduce ``op`` (a product on a random
        vector differs), so nothing wrong is ever used silently.

    Examples
    --------
    >>> import numpy as np
    >>> from qpsolve.model.operators import GridSpec
    >>> grid = GridSpec((40, 33), "biharmonic", "odd")
    >>> ts = TypedStencil(grid.energy())
    >>> x = np.random.default_rng(1).normal(size=40 * 33)
    >>> bool(np.allclose(ts.matvec(x), grid.matrix() @ x, rtol=0, atol=1e-12))
    True
    >>> ts.r, int(ts.cnt[2, 2])     # the interior row: the 13-point stencil
    (2, 13)
    """

    def __init__(self, op):
        grid = op.grid
        why = typed_stencil_support(grid)
        if why is not None:
            raise ValueError(f"TypedStencil: {why}")
        n, m = (int(s) for s in grid.shape)
        r = int(op.radius)
        self.grid, self.n, self.m, self.r = grid, n, m, r
        self.periodic = grid.bc == "periodic"
        # Rows read from a probe grid just big enough to hold every class apart (one table per
        # model and probe grid in a process: colour channels and coarse levels share it).
        pn, pm = min(n, 4 * r + 6), min(m, 4 * r + 6)
        cnt, oa, ob, cv, dg = _stencil_table(replace(grid, shape=(pn, pm)), r)
        self.cnt, self.oa, self.ob, self.cv, self.dg = cnt, oa, ob, cv, dg
        self._check(op)

    def resized(self, shape):
        """The same model's table on a grid of ``shape``, without building its operator.

        A grid at least ``4 r + 6`` long per axis has the same border classes
        and stencils at any size (the table is read from a probe grid of that
        size), so a coarse level of the same model needs only its size
        (``tnnmg``'s coarse-to-fine chain).  Both this grid and ``shape`` must
        be that long; else a ``ValueError``.

        Examples
        --------
        >>> import numpy as np
        >>> from qpsolve.model.operators import GridSpec
        >>> ts = TypedStencil(GridSpec((64, 48), "biharmonic", "odd").energy()).resized((32, 24))
        >>> x = np.random.default_rng(2).normal(size=32 * 24)
        >>> bool(np.allclose(ts.matvec(x), GridSpec((32, 24), "biharmonic", "odd").matrix() @ x, rtol=0, atol=1e-12))
        True
        """
        if (not isinstance(shape, (tuple, list)) or len(shape) != 2
                or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in shape)):
            raise ValueError(f"shape must be two integers (rows, columns), got {shape!r}")
        n, m = (int(s) for s in shape)
        least = 4 * self.r + 6
        if min(self.n, self.m, n, m) < least:
            raise ValueError(f"TypedStencil.resized: both grids need axes of at least {least} pixels, "
                             f"got {(self.n, self.m)} -> {(n, m)}")
        ts = TypedStencil.__new__(TypedStencil)
        ts.grid, ts.n, ts.m, ts.r, ts.periodic = replace(self.grid, shape=(n, m)), n, m, self.r, self.periodic
        ts.cnt, ts.oa, ts.ob, ts.cv, ts.dg = self.cnt, self.oa, self.ob, self.cv, self.dg
        return ts

    def _check(self, op):
        # On the real grid when it is small, else on a 64 x 64 grid of the same model: the
        # classes are the same on every grid at least 4r + 6 long.
        N = self.n * self.m
        if N <= 1 << 18:
            target, ts = op, self
        else:
            small = replace(self.grid, shape=(64, 64))
            target, ts = small.energy(), TypedStencil.__new__(TypedStencil)
            ts.__dict__.update(self.__dict__)
            ts.n = ts.m = 64
        x = np.random.default_rng(7).normal(size=ts.n * ts.m)
        a, b = ts.matvec(x), target.matvec(x)
        err = float(np.max(np.abs(a - b)))
        if err > 1e-9 * max(1.0, float(np.max(np.abs(b)))):
            raise ValueError(f"TypedStencil: the stencil table does not reproduce the operator (error {err:.3g})")

    def _interior(self):
        """The interior class's stencil for the fine kernels (:func:`_unrolled`): offsets into the flat grid
        and values, all of them and those before the centre (a sweep from zero), for this grid's width."""
        cache = self.__dict__.get("_interior_cache")
        if cache is None or cache[0] != self.m:
            r = self.r
            kc = int(self.cnt[r, r])
            fo = self.oa[r, r, :kc] * self.m + self.ob[r, r, :kc]
            ci = self.cv[r, r, :kc]
            kz = int(np.count_nonzero(fo < 0))  # the entries are sorted by offset (_stencil_table)
            cache = self._interior_cache = (self.m, _unrolled(fo, np.int64), _unrolled(ci, np.float64),
                                             _unrolled(fo[:kz], np.int64), _unrolled(ci[:kz], np.float64))
        return cache[1:]

    # -------------------------------------------------------------------------------- products
    def matvec(self, x, out=None, free=None):
        """``P x``, or ``D P D x`` with ``D`` the 0/1 diagonal ``free``."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        out = np.empty(self.n * self.m) if out is None else out
        f = np.zeros(0, np.uint8) if free is None else free
        fo, ci, _, _ = self._interior()
        run_rows(_fine_matvec_rows, self.n, self.cnt, self.oa, self.ob, self.cv, x, out, self.n, self.m, self.r,
                 self.periodic, f, fo, ci, work=self.n * self.m)
        return out

    def matvec_diagonal(self):
        """The diagonal of ``P`` as a new array."""
        n, m, r = self.n, self.m, self.r
        ti = np.full(n, r)
        tj = np.full(m, r)
        if not self.periodic:
            i, j = np.arange(n), np.arange(m)
            ti = np.where(i < r, i, np.where(i >= n - r, 2 * r - (n - 1 - i), r))
            tj = np.where(j < r, j, np.where(j >= m - r, 2 * r - (m - 1 - j), r))
        return self.dg[ti[:, None], tj[None, :]].ravel()

    def rows(self, pix):
        """Rows ``pix`` of ``P`` as ``(cols, vals, nnz)``: row ``k`` is ``cols[k, :nnz[k]]``, ``vals[k, :nnz[k]]``."""
        pix = np.ascontiguousarray(pix, dtype=np.int64)
        W = self.cv.shape[2]
        cols, vals, nnz = np.empty((pix.size, W), np.int64), np.empty((pix.size, W)), np.empty(pix.size, np.int64)
        _fine_rows(self.cnt, self.oa, self.ob, self.cv, pix, self.n, self.m, self.r, self.periodic, cols, vals, nnz)
        return cols, vals, nnz

    def projected_gauss_seidel(self, x, lower, upper, q, reverse=False):
        """One projected Gauss-Seidel sweep on ``x`` in place (in the order of :func:`_sweep_plan`);
        returns how many pixels changed face."""
        fo, ci, _, _ = self._interior()
        return int(_blocked_sweep(_fine_pgs_rows, self.n, self.r, self.periodic, reverse, self.n * self.m,
                                  self.cnt, self.oa, self.ob, self.cv, self.dg, x, lower, upper, q, self.n, self.m,
                                  self.r, self.periodic, fo, ci))

    # ------------------------------------------------- what the hierarchies ask of a fine level
    def gauss_seidel(self, v, b, free, reverse=False, zero=False):
        """One Gauss-Seidel sweep on ``D P D v = b`` over the free pixels, in place (``v`` zero on held ones).

        ``zero``: ``v`` is zero on entry; a forward lexicographic sweep then skips the products with
        the pixels it has not reached (the same result, half the work)."""
        zero = _zero_ahead(zero, reverse, self.n, self.r, self.periodic)
        fo, ci, fz, cz = self._interior()
        if zero:
            fo, ci = fz, cz
        _blocked_sweep(_fine_gs_rows, self.n, self.r, self.periodic, reverse, self.n * self.m,
                       self.cnt, self.oa, self.ob, self.cv, self.dg, v, b, free, self.n, self.m, self.r, self.periodic,
                       zero, fo, ci)

    def galerkin(self, free, pi, wi, pj, wj, nc, mc, Rc, alive, out):
        """``out += T^T D P D T`` on the coarse nodes ``alive`` (``T`` the prolongation ``pi, wi, pj, wj``)."""
        if alive.all():  # one axis at a time (the direct loop below is ~2x the work)
            ci, wci = children(pi, wi, nc)
            galerkin_fine(self.cnt, self.oa, self.ob, self.cv, free, self.n, self.m, self.r, self.periodic,
                          pi, wi, pj, wj, ci, wci, nc, mc, Rc, out)
            return
        _fine_galerkin(self.cnt, self.oa, self.ob, self.cv, free, self.n, self.m, self.r, self.periodic,
                       pi, wi, pj, wj, nc, mc, Rc, self.periodic, alive, out)

    def galerkin_delta(self, old, free, changed, pi, wi, pj, wj, nc, mc, Rc, slots, rows, out):
        """``T^T (D' P D' - D P D) T`` on the coarse rows it touches (see :func:`_fine_galerkin_delta`)."""
        return _fine_galerkin_delta(self.cnt, self.oa, self.ob, self.cv, old, free, changed, self.n, self.m,
                                    self.r, self.periodic, pi, wi, pj, wj, nc, mc, Rc, slots, rows, out)


# ------------------------------------------------- fine-level kernels of a lattice matrix
# A user's lattice matrix keeps only the offsets its stencils use (a plate: 13 of 25), so its fine
# level, where nearly all the sweeps and products are spent, reads half the coefficients.
@njit(cache=True, inline="always")
def _sparse_dot(A, da, db, x, p, i, j, n, m, R):
    """Row ``p = (i, j)`` of a stencil stored on the offsets ``(da[k], db[k])`` times ``x``."""
    s = 0.0
    if R <= i < n - R and R <= j < m - R:  # the interior: no bounds to check
        for k in range(da.size):
            s += A[p, k] * x[p + da[k] * m + db[k]]
        return s
    for k in range(da.size):
        i2 = i + da[k]
        j2 = j + db[k]
        if 0 <= i2 < n and 0 <= j2 < m:
            s += A[p, k] * x[i2 * m + j2]
    return s


@njit(cache=True)
def _sparse_matvec(A, da, db, off, x, out, n, m, R):
    """``out = A x``: the sums of :func:`_sparse_dot`, with the interior's offsets into ``x`` given as
    ``off`` (``da * m + db``, unrolled: see the fine-level kernels) and the flat index of ``A`` worked
    out once, not per term (the same products in the same order, so the same bits; its speed:
    benchmarks/results/amg/notes-session10.md)."""
    K = len(off)
    Af = A.ravel()
    for i in range(n):
        inner = R <= i < n - R
        for j in range(m):
            p = i * m + j
            if inner and R <= j < m - R:  # the interior: no bounds to check
                s = 0.0
                base = p * K
                for k in range(K):
                    s += Af[base + k] * x[p + off[k]]
                out[p] = s
            else:
                out[p] = _sparse_dot(A, da, db, x, p, i, j, n, m, R)


@njit(cache=True)
def _sparse_sweep(A, da, db, off, cen, v, b, lo, hi, free, n, m, R, reverse, project):
    """One Gauss-Seidel sweep on ``1/2 v^T A v - b^T v`` in place: over the pixels with ``free`` 1
    (all when ``free`` is empty), clipped to ``[lo, hi]`` when ``project``.  Two rows at a time
    (:func:`_pair_lag`: the values of the lexicographic sweep, bit for bit; the interior's offsets into
    ``v`` come as ``off``, as in :func:`_sparse_matvec`)."""
    trunc = free.size > 0
    L = _pair_lag(m, R, False)
    step = -1 if reverse else 1
    for ii in range(0, n, 2):
        a, c = _pair_rows(ii, 0, n, reverse)
        # Steps t0 <= t < t1 update an interior pixel in both rows: no tests of where the pixel is there
        # (the same updates in the same order as the general steps).
        t0, t1 = R + L, m - R
        if not (R <= a < n - R and R <= c < n - R and t0 < t1):
            t0 = t1 = m + L
        pa = a * m + (m - 1 - t0 if reverse else t0)
        pc = c * m + (m - 1 - (t0 - L) if reverse else t0 - L)
        for t in range(t0):
            _sparse_pair_step(A, da, db, off, cen, v, b, lo, hi, free, n, m, R, reverse, project, a, c, L, t)
        for k in range(t1 - t0):
            # written out, as in _sparse_pair_step: one inlined pixel function for both made this sweep about
            # three times slower (session 18: 9.9 against 3.6 ms at 512²)
            for p in (pa + k * step, pc + k * step):
                if trunc and free[p] == 0:
                    continue
                d = A[p, cen]
                if d <= 0.0:
                    continue
                s = 0.0
                for e in range(len(off)):
                    s += A[p, e] * v[p + off[e]]
                v[p] = _step(v[p] + (b[p] - s) / d, lo, hi, p, project)
        for t in range(t1, m + L):
            _sparse_pair_step(A, da, db, off, cen, v, b, lo, hi, free, n, m, R, reverse, project, a, c, L, t)


@njit(cache=True, inline="always")
def _sparse_pair_step(A, da, db, off, cen, v, b, lo, hi, free, n, m, R, reverse, project, a, c, L, t):
    """Step ``t`` of :func:`_sparse_sweep` over the row pair ``(a, c)`` (:func:`_pair_pixel`), any pixels."""
    trunc = free.size > 0
    for u in range(2):
        i, j = _pair_pixel(t, u, a, c, m, L, reverse)
        if i < 0:
            continue
        p = i * m + j
        if trunc and free[p] == 0:
            continue
        d = A[p, cen]
        if d <= 0.0:
            continue
        if R <= i < n - R and R <= j < m - R:
            s = 0.0
            for k in range(len(off)):
                s += A[p, k] * v[p + off[k]]
        else:
            s = _sparse_dot(A, da, db, v, p, i, j, n, m, R)
        v[p] = _step(v[p] + (b[p] - s) / d, lo, hi, p, project)


# ----------------------------------------------------------- a variable-stencil fine level
@njit(cache=True)
def _near_rows(changed, n, m, R):
    """The pixels within ``R`` rows and columns of a pixel in ``changed``, ascending."""
    mark = np.zeros(n * m, np.uint8)
    count = 0
    for t in range(changed.size):
        i = changed[t] // m
        j = changed[t] - i * m
        for a in range(max(i - R, 0), min(i + R + 1, n)):
            for b in range(max(j - R, 0), min(j + R + 1, m)):
                q = a * m + b
                if mark[q] == 0:
                    mark[q] = 1
                    count += 1
    out = np.empty(count, np.int64)
    k = 0
    for q in range(n * m):
        if mark[q]:
            out[k] = q
            k += 1
    return out


@njit(cache=True)
def _truncated_delta(A, new, old, rows, n, m, R):
    """Rows ``rows`` of ``D' A D' - D A D`` (``D'``, ``D`` the 0/1 diagonals ``new``, ``old``): the
    rows of :func:`_truncated` ``(A, new) - (A, old)``, without building either."""
    W = 2 * R + 1
    out = np.zeros((rows.size, W * W))
    for t in range(rows.size):
        p = rows[t]
        i = p // m
        j = p - i * m
        fp, op = new[p], old[p]
        if fp == 0 and op == 0:
            continue
        for a in range(W):
            i2 = i + a - R
            if i2 < 0 or i2 >= n:
                continue
            for b in range(W):
                j2 = j + b - R
                if j2 < 0 or j2 >= m:
                    continue
                q = i2 * m + j2
                keep_new = fp != 0 and new[q] != 0
                keep_old = op != 0 and old[q] != 0
                if keep_new != keep_old:
                    c = A[p, a * W + b]
                    out[t, a * W + b] = c if keep_new else -c
    return out


@njit(cache=True)
def _truncated_rows(A, mask, n, m, R, out):
    """The kernel of :func:`_truncated`: ``out[p, o] = A[p, o] * mask[p] * mask[p + o]``, 0 outside."""
    W = 2 * R + 1
    for i in range(n):
        for j in range(m):
            p = i * m + j
            fp = np.float64(mask[p])
            for a in range(W):
                i2 = i + a - R
                for b in range(W):
                    j2 = j + b - R
                    fq = np.float64(mask[i2 * m + j2]) if 0 <= i2 < n and 0 <= j2 < m else 0.0
                    out[p, a * W + b] = A[p, a * W + b] * fp * fq


def _truncated(A, mask, n, m, R):
    """A variable-stencil ``A`` of ``D A D``, ``D`` the 0/1 diagonal ``mask`` (row by row, as ``A``).

    Each entry is ``A[p, o] * mask[p] * mask[p + o]`` (0 outside the lattice), multiplied in that order
    as the numpy version before session 10 did, in one pass instead of its 26 (one per column, each
    touching every cache line of the array; timings in benchmarks/results/amg/notes-session10.md).
    """
    out = np.empty_like(A, dtype=np.float64)
    _truncated_rows(np.ascontiguousarray(A, dtype=np.float64), np.ascontiguousarray(mask).ravel(), n, m, R, out)
    return out


class LatticeStencil:
    """Any operator on a 2-D lattice as a fine level: one stencil per pixel, ``A[p, (di + R)(2R + 1) + dj + R]``.

    What a user's matrix becomes when it lives on a lattice
    (:func:`qpsolve.linalg.lattice.find_lattice`): the same interface as
    :class:`TypedStencil` (products, projected Gauss-Seidel, the Galerkin
    products and their updates that :class:`TruncatedHierarchy` and
    :class:`MonotoneHierarchy` ask of a fine level), computed by the
    variable-stencil kernels of the coarse levels for the Galerkin products
    (of ``D A D``, formed row by row) and by kernels that keep only the
    offsets the stencils use for the products and sweeps (a Gauss-Seidel
    sweep on ``D A D`` skips the held pixels, where ``v`` is zero).

    Parameters
    ----------
    A : (n m, (2R + 1)^2) array
        The stencils (:func:`qpsolve.linalg.lattice.stencil_array`).
    shape : (int, int)
        ``(n, m)``.
    radius : int
        ``R``.

    Examples
    --------
    A plate of variable stiffness, as a scipy matrix: the products agree.

    >>> import numpy as np
    >>> from qpsolve.linalg.lattice import find_lattice, stencil_array
    >>> from qpsolve.model.plates import smooth_stiffness, weighted_plate
    >>> P = weighted_plate((24, 20), smooth_stiffness((24, 20)), "even")
    >>> lat, _ = find_lattice(P)
    >>> ls = LatticeStencil(stencil_array(P, lat.shape, lat.radius), lat.shape, lat.radius)
    >>> x = np.random.default_rng(0).normal(size=480)
    >>> bool(np.allclose(ls.matvec(x), P @ x, rtol=0, atol=1e-12)), ls.r
    (True, 2)
    """

    periodic = False

    def __init__(self, A, shape, radius):
        self.n, self.m = (int(s) for s in shape)
        self.r = int(radius)
        self.A = np.ascontiguousarray(A, dtype=np.float64)
        if self.A.shape != (self.n * self.m, (2 * self.r + 1) ** 2):
            raise ValueError(f"LatticeStencil: A has shape {self.A.shape}, expected "
                             f"({self.n * self.m}, {(2 * self.r + 1) ** 2})")
        used = np.flatnonzero(np.any(self.A != 0.0, axis=0))
        W = 2 * self.r + 1
        self._da = (used // W - self.r).astype(np.int64)
        self._db = (used % W - self.r).astype(np.int64)
        self._Ac = np.ascontiguousarray(self.A[:, used])
        self._off = _unrolled(self._da * self.m + self._db, np.int64)
        centre = np.flatnonzero((self._da == 0) & (self._db == 0))
        self._cen = int(centre[0]) if centre.size else -1
        self._none = np.zeros(0, np.uint8)

    def matvec(self, x, out=None, free=None):
        """``P x``, or ``D P D x`` with ``D`` the 0/1 diagonal ``free``."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        out = np.empty(self.n * self.m) if out is None else out
        if free is not None:
            x = x * free
        _sparse_matvec(self._Ac, self._da, self._db, self._off, x, out, self.n, self.m, self.r)
        if free is not None:
            out *= free
        return out

    def matvec_diagonal(self):
        """The diagonal of ``P`` as a new array."""
        return self.A[:, self.A.shape[1] // 2].copy()

    def rows(self, pix):
        """Rows ``pix`` of ``P`` as ``(cols, vals, nnz)`` (as :meth:`TypedStencil.rows`)."""
        pix = np.ascontiguousarray(pix, dtype=np.int64)
        W = self._da.size
        cols, vals, nnz = np.empty((pix.size, W), np.int64), np.empty((pix.size, W)), np.empty(pix.size, np.int64)
        _sparse_rows(self._Ac, self._da, self._db, pix, self.n, self.m, cols, vals, nnz)
        return cols, vals, nnz

    def projected_gauss_seidel(self, x, lower, upper, q, reverse=False):
        """One projected Gauss-Seidel sweep on ``x`` in place; returns how many pixels changed face."""
        before = (x <= lower) | (x >= upper)
        if self._cen >= 0:
            _sparse_sweep(self._Ac, self._da, self._db, self._off, self._cen, x, -q, lower, upper, self._none,
                          self.n, self.m, self.r, reverse, True)
        return int(np.count_nonzero(before != ((x <= lower) | (x >= upper))))

    def gauss_seidel(self, v, b, free, reverse=False, zero=False):
        """One Gauss-Seidel sweep on ``D P D v = b`` over the free pixels, in place (``v`` zero on held ones;
        ``zero``, that ``v`` is zero on entry, is not used here)."""
        if self._cen >= 0:
            _sparse_sweep(self._Ac, self._da, self._db, self._off, self._cen, v, b, b, b, free, self.n, self.m,
                          self.r, reverse, False)

    def galerkin(self, free, pi, wi, pj, wj, nc, mc, Rc, alive, out):
        """``out += T^T D P D T`` on the coarse nodes ``alive`` (``T`` the prolongation ``pi, wi, pj, wj``)."""
        AF = _truncated(self.A, free, self.n, self.m, self.r)
        if alive.all():
            _var_galerkin(AF, self.n, self.m, self.r, False, pi, wi, pj, wj, nc, mc, Rc, out)
            return
        full = np.zeros_like(out)
        _var_galerkin(AF, self.n, self.m, self.r, False, pi, wi, pj, wj, nc, mc, Rc, full)
        out += _truncated(full, alive, nc, mc, Rc)

    def coarse(self):
        """The Galerkin operator ``T^T P T`` on the grid twice as coarse, as a :class:`LatticeStencil`.

        ``T`` is the bilinear prolongation with non-negative weights of the
        monotone V-cycle (cell-centred on even axes, as the 2-block min / max
        of envelopes), so the coarse energy of ``c`` is the fine energy of
        ``T c``: the coarse problem of a coarse-to-fine start.
        """
        n, m, R = self.n, self.m, self.r
        nc, pi, wi = _monotone_parents(n, False)
        mc, pj, wj = _monotone_parents(m, False)
        Rc = max(_coarse_radius(R, n, False, 1), _coarse_radius(R, m, False, 1))
        out = np.zeros((nc * mc, (2 * Rc + 1) ** 2))
        _var_galerkin(self.A, n, m, R, False, pi, wi, pj, wj, nc, mc, Rc, out)
        return LatticeStencil(out, (nc, mc), Rc)

    def galerkin_delta(self, old, free, changed, pi, wi, pj, wj, nc, mc, Rc, slots, rows, out):
        """``T^T (D' P D' - D P D) T`` on the coarse rows it touches, compactly (as :meth:`TypedStencil.galerkin_delta`)."""
        n, m, R = self.n, self.m, self.r
        # the fine rows whose truncation changed: the changed pixels and their neighbours (in numba:
        # after a retry up to every pixel of a large lattice, where np.unique and dense masks cost most
        # of the update; benchmarks/results/amg/notes-session8.md)
        S = _near_rows(np.ascontiguousarray(changed, dtype=np.int64), n, m, R)
        dA = _truncated_delta(self.A, np.ascontiguousarray(free, dtype=np.uint8),
                              np.ascontiguousarray(old, dtype=np.uint8), S, n, m, R)
        return _var_galerkin_delta(dA, S, S.size, n, m, R, False, pi, wi, pj, wj, nc, mc, Rc, slots, rows, out)


# ------------------------------------------------------------------------- the hierarchy
def _dense_of(lvl):
    """A variable-stencil level as a dense matrix (the coarsest grid)."""
    n, m, R = lvl.n, lvl.m, lvl.R
    W = 2 * R + 1
    I, J = np.divmod(np.arange(n * m), m)
    A = np.zeros((n * m, n * m))
    table = lvl.full()
    for a in range(W):
        for b in range(W):
            I2, J2 = I + a - R, J + b - R
            if lvl.periodic:
                I2, J2 = I2 % n, J2 % m
                ok = np.ones(n * m, bool)
            else:
                ok = (I2 >= 0) & (I2 < n) & (J2 >= 0) & (J2 < m)
            rows = np.flatnonzero(ok)
            np.add.at(A, (rows, I2[ok] * m + J2[ok]), table[rows, a * W + b])
    return A


#: :meth:`_Level.share_rows` keeps a level's full table when it has more distinct rows than this (or
#: more than half as many as pixels)
SHARED_ROWS = 1024


class _Level:
    """A coarse level: an ``n x m`` grid, its variable stencils of radius ``R`` as rows of ``A``.

    Pixel ``p``'s stencil is row ``ix[p]`` of ``A``, or row ``p`` while ``ix`` is empty (every level
    starts so).  :meth:`share_rows` stores each distinct row once: the Galerkin levels of a whole
    grid operator have a few dozen distinct rows (the classes of distance to the borders) among
    millions, and at 12 Mpx their full tables took gigabytes.
    """

    def __init__(self, n, m, R, periodic):
        self.n, self.m, self.R, self.periodic = n, m, R, periodic
        self.A = np.zeros((n * m, (2 * R + 1) ** 2))
        self.ix = _EVERY_ROW

    def share_rows(self, most=None):
        """Keep each distinct row of ``A`` once (``ix`` then maps pixels to rows), when there are at most
        ``most`` (default :data:`SHARED_ROWS`) of them and at most half as many as pixels; the rows are
        equal bit for bit, so every kernel reads the same numbers.  Returns the level."""
        if self.ix.size:
            return self
        most = SHARED_ROWS if most is None else most
        found = _distinct_rows(self.A, min(most, self.A.shape[0] // 2))
        if found is not None:
            self.A, self.ix = found
        return self

    def full(self):
        """Every pixel's row (a copy when rows are shared)."""
        return self.A if self.ix.size == 0 else self.A[self.ix]


@njit(cache=True)
def _row_hashes(bits):
    """A 64-bit hash of each row of ``bits`` (a table's float64 entries as ``uint64``): FNV-1a on whole
    words, each product's high half folded down (a multiplication alone never carries the sign bit,
    where ``0.0`` and ``-0.0`` differ, into the other bits)."""
    out = np.empty(bits.shape[0], np.uint64)
    prime = np.uint64(1099511628211)
    shift = np.uint64(32)
    for p in range(bits.shape[0]):
        h = np.uint64(14695981039346656037)
        for k in range(bits.shape[1]):
            h = (h ^ bits[p, k]) * prime
            h ^= h >> shift
        out[p] = h
    return out


@njit(cache=True)
def _rows_equal(bits, rows, ix):
    """Whether ``bits[p] == rows[ix[p]]`` for every ``p`` (tables' float64 entries as ``uint64``: bit for bit)."""
    for p in range(bits.shape[0]):
        r = ix[p]
        for k in range(bits.shape[1]):
            if bits[p, k] != rows[r, k]:
                return False
    return True


def _distinct_rows(A, most):
    """``(rows, ix)`` with ``rows[ix] == A`` bit for bit and at most ``most`` rows, or ``None``.

    Rows are grouped by a hash of their bits, and the grouping is then checked entry by entry
    (a collision gives ``None``, never a wrong table).

    >>> A = np.array([[1.0, 2.0], [3.0, 4.0], [1.0, 2.0]])
    >>> rows, ix = _distinct_rows(A, 8)
    >>> rows.tolist(), ix.tolist()
    ([[1.0, 2.0], [3.0, 4.0]], [0, 1, 0])
    >>> _distinct_rows(A, 1) is None
    True
    """
    A = np.ascontiguousarray(A)
    hashes = _row_hashes(A.view(np.uint64))
    keys, first, ix = np.unique(hashes, return_index=True, return_inverse=True)
    if keys.size > most:
        return None
    # the rows in the order of their first pixel, so that the table reads as the grid does
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    rows = np.ascontiguousarray(A[first[order]])
    ix = rank[ix.ravel()].astype(np.int32)
    if not _rows_equal(A.view(np.uint64), rows.view(np.uint64), ix):
        return None
    return rows, ix


#: the coarsest grid is solved by a dense pseudo-inverse once it has at most this many pixels
COARSEST = 300
#: hierarchies coarsen while both sides are at least this long
MIN_SIDE = 16
#: a level is strongly anisotropic when one axis's zigzag costs more than this many times the other's
#: (:func:`_axis_couplings`, over the coupled rows); its next level then coarsens only that (strongly
#: coupled) axis.  Point Gauss-Seidel leaves the error smooth only along the strong axis, and a coarse
#: grid of both axes cannot hold what is left (oscillatory along the weak one).  Isotropic stencils give
#: about 1 (the plates and grid models, up to their borders and stiffness); ``plate-aniso``'s ``D^T D``,
#: ``D = 0.1 d_xx + d_yy``, gives 100.  The threshold sits between: low enough that ``plate-aniso``
#: coarsens its strong axis twice before both (the best V-cycle factor of the thresholds tried, and
#: fewer Newton steps than 2 or 10), far enough above 1 that no isotropic plate crosses it
#: (benchmarks/results/amg/notes-session11-aniso.md).
ANISO = 4.0
#: whether :class:`MonotoneHierarchy` semi-coarsens strongly anisotropic levels as
#: :class:`TruncatedHierarchy` does (its ``semi`` argument's default); ``vcycle(truncated=h)`` uses
#: ``h``'s levels, semi-coarsened or not, whatever ``semi`` is.  Off: on ``plate-aniso`` semi-coarsened
#: monotone cycles made tnnmg take several times more fine Newton steps, although their own energy fell
#: faster on a pure obstacle problem (benchmarks/results/amg/notes-session11-aniso.md).
MONOTONE_SEMI = False
#: :meth:`TruncatedHierarchy.update` rebuilds a coarse level from the one above (instead of carrying the
#: difference down) once the difference touches more than this fraction of the rows above: per row the
#: difference's scatter costs several rows of a rebuild (benchmarks/results/dense/notes.md, session 6)
UPDATE_REBUILD = 0.1


def _axis_couplings(A, R):
    """``(e_i, e_j)``: how much a variable-stencil ``A`` of radius ``R`` (rows ``p``, see the module docstring)
    penalises the zigzag of each axis: ``e_i = ||A z_i||_1`` with ``z_i = (-1)^i`` (alternating along the
    rows, constant along the columns), ``e_j`` the same for ``(-1)^j``, over the rows with an
    off-diagonal non-zero.

    The zigzag is the roughest mode of one axis and the smoothest of the other,
    so the ratio compares how strongly each axis couples, free of the mixed
    terms: ``(a d_xx + b d_yy)^2`` gives ``16 a^2`` and ``16 b^2``.  A row
    coupled to nothing (a pixel held as an identity row, say) would add its
    diagonal to both sums alike and pull the ratio towards 1 however
    anisotropic the coupled rows are, so it is left out of both.

    >>> A = np.zeros((2, 9)); A[:, [1, 7]] = -4.0; A[:, [3, 5]] = -1.0; A[:, 4] = 10.0
    >>> _axis_couplings(A, 1)   # coupled by -4 along the rows, -1 along the columns: 10 + 8 - 2, 10 - 8 + 2, twice
    (32.0, 8.0)
    >>> _axis_couplings(np.vstack([A, np.eye(9)[[4] * 5] * 50.0]), 1)   # five decoupled rows change nothing
    (32.0, 8.0)
    """
    W = 2 * R + 1
    cen = R * W + R
    k = np.arange(W * W)
    zi = np.where((k // W - R) % 2 == 0, 1.0, -1.0)
    zj = np.where((k % W - R) % 2 == 0, 1.0, -1.0)
    ei, ej = np.abs(A @ zi), np.abs(A @ zj)
    off = A != 0.0
    off[:, cen] = False
    coupled = off.any(axis=1)
    return float(ei[coupled].sum()), float(ej[coupled].sum())


def _coarsen_axes(couplings, n, m):
    """Which axes the level after an ``n x m`` level coarsens, ``(rows, columns)``, or ``None`` to stop.

    Both, while the level is not strongly anisotropic (:data:`ANISO`), as long as
    it has more than :data:`COARSEST` pixels and both sides are at least
    :data:`MIN_SIDE` long (the rule of full coarsening, unchanged).  A strongly
    anisotropic level coarsens its strongly coupled axis only, or, once that side
    is shorter than :data:`MIN_SIDE`, the other one (while it is that long).

    >>> _coarsen_axes((1.0, 1.0), 64, 64), _coarsen_axes((12.0, 1.0), 64, 64), _coarsen_axes((12.0, 1.0), 12, 64)
    ((True, True), (True, False), (False, True))
    >>> _coarsen_axes((1.0, 1.0), 12, 64) is None, _coarsen_axes((12.0, 1.0), 16, 16) is None
    (True, True)
    """
    if n * m <= COARSEST:
        return None
    si, sj = couplings
    if si > ANISO * sj:
        strong = 0
    elif sj > ANISO * si:
        strong = 1
    else:
        return (True, True) if min(n, m) >= MIN_SIDE else None
    sides = (n, m)
    for axis in (strong, 1 - strong):
        if sides[axis] >= MIN_SIDE:
            return (axis == 0, axis == 1)
    return None


@lru_cache(maxsize=64)
def _identity_parents(n):
    """The transfer of an axis that is not coarsened: ``(n, parents, weights)``, each index its own parent
    with weight 1 (one column; the kernels read any number of parent columns)."""
    return n, np.arange(n, dtype=np.int64)[:, None].copy(), np.ones((n, 1))


def _axis_transfer(n, R, periodic, coarsen, order, monotone=False):
    """``(nc, parents, weights, coarse radius)`` of one axis: :func:`_parents` (or :func:`_monotone_parents`)
    when ``coarsen``, else the identity (radius unchanged)."""
    if not coarsen:
        nc, par, w = _identity_parents(n)
        return nc, par, w, R
    nc, par, w = _monotone_parents(n, periodic) if monotone else _parents(n, periodic, order)
    return nc, par, w, _coarse_radius(R, n, periodic, 1 if monotone else order)


def _fine_couplings(fine):
    """:func:`_axis_couplings` of a fine level (its interior stencil for a :class:`TypedStencil`, whose
    rows are one stencil away from the borders; every row of a :class:`LatticeStencil`)."""
    if isinstance(fine, LatticeStencil):
        return _axis_couplings(fine.A, fine.r)
    r = fine.r
    W = 2 * r + 1
    row = np.zeros((1, W * W))
    k = int(fine.cnt[r, r])
    row[0, (fine.oa[r, r, :k] + r) * W + fine.ob[r, r, :k] + r] = fine.cv[r, r, :k]
    return _axis_couplings(row, r)


def _full_plan(n, m, periodic, order):
    """The plan of full coarsening (both axes at every level) from an ``n x m`` grid."""
    plan = []
    while n * m > COARSEST and min(n, m) >= MIN_SIDE:
        plan.append((True, True))
        n, m = _parents(n, periodic, order)[0], _parents(m, periodic, order)[0]
    return plan


def _coarsening_plan(fine, order, monotone=False):
    """The axes each coarse level of ``fine``'s hierarchy coarsens: a list of ``(rows, columns)``.

    Decided level by level (:func:`_coarsen_axes`) from the couplings of the
    untruncated Galerkin operators, so a hierarchy's shape does not depend on
    its free set (:meth:`TruncatedHierarchy.update` keeps it).  A fine level that
    is not strongly anisotropic coarsens both axes at every level without
    building anything (its hierarchy, hence its iterates, exactly as before
    semi-coarsening existed).  This assumes that Galerkin products with the same
    transfer on both axes keep an isotropic operator's couplings balanced: the
    fine level decides, and a fine ratio just under :data:`ANISO` that would
    cross it lower down is not looked for.  Cached on ``fine``.
    """
    key = (int(order), bool(monotone))
    plans = fine.__dict__.setdefault("_plans", {})
    if key in plans:
        return plans[key]
    n, m, R, periodic = fine.n, fine.m, fine.r, fine.periodic
    couplings = _fine_couplings(fine)
    plan = []
    first = _coarsen_axes(couplings, n, m)
    if first == (True, True):
        plans[key] = plan = _full_plan(n, m, periodic, order)
        return plan
    A, axes = None, first
    while axes is not None:
        nc, pi, wi, Ri = _axis_transfer(n, R, periodic, axes[0], order, monotone)
        mc, pj, wj, Rj = _axis_transfer(m, R, periodic, axes[1], order, monotone)
        Rc = max(Ri, Rj)
        out = np.zeros((nc * mc, (2 * Rc + 1) ** 2))
        if A is None:
            fine.galerkin(np.ones(n * m, np.uint8), pi, wi, pj, wj, nc, mc, Rc, np.ones(nc * mc, np.uint8), out)
        else:
            _var_galerkin(A, n, m, R, periodic, pi, wi, pj, wj, nc, mc, Rc, out)
        plan.append(axes)
        A, n, m, R = out, nc, mc, Rc
        axes = _coarsen_axes(_axis_couplings(A, R), n, m)
    plans[key] = plan
    return plan


class TruncatedHierarchy:
    """Galerkin hierarchy of ``D P D`` for one set of free pixels, and its V-cycle.

    Parameters
    ----------
    fine : TypedStencil
        The fine operator.
    free : (n,) uint8 array
        1 where the pixel is free (its correction may move), 0 where it is
        held (bound or pinned).
    smooth : int
        Gauss-Seidel sweeps before and after each coarse correction.

    Examples
    --------
    A V-cycle preconditions CG on the biharmonic operator with a third of
    the pixels held:

    >>> import numpy as np
    >>> from qpsolve.model.operators import GridSpec
    >>> grid = GridSpec((64, 64), "biharmonic", "odd")
    >>> ts = TypedStencil(grid.energy())
    >>> free = (np.random.default_rng(0).random(64 * 64) > 0.3).astype(np.uint8)
    >>> h = TruncatedHierarchy(ts, free)
    >>> b = np.where(free == 1, 1.0, 0.0)
    >>> v, its = h.pcg(b, rtol=1e-10)
    >>> bool(np.abs(ts.matvec(v, free=free) - b).max() < 1e-8), its < 40
    (True, True)
    """

    def __init__(self, fine, free, smooth=1, order=3, drop=True, gamma=1):
        self.fine, self.smooth, self.order, self.drop = fine, int(smooth), int(order), bool(drop)
        self.gamma = int(gamma)
        self.free = np.ascontiguousarray(free, dtype=np.uint8)
        self.levels, self.transfers = [], []
        n, m, R, periodic = fine.n, fine.m, fine.r, fine.periodic
        first = True
        for ax_i, ax_j in _coarsening_plan(fine, self.order):
            nc, pi, wi, Ri = _axis_transfer(n, R, periodic, ax_i, self.order)
            mc, pj, wj, Rj = _axis_transfer(m, R, periodic, ax_j, self.order)
            Rc = max(Ri, Rj)
            lvl = _Level(nc, mc, Rc, periodic)
            if first:
                # A coarse node whose own fine pixel is held is dropped: its truncated basis
                # function would be a spike on the neighbours of a held pixel, and spikes make
                # poor coarse functions (the V-cycle rate of a held frame degrades with depth).
                if self.drop and (not ax_i or n % 2 == 1 or periodic) and (not ax_j or m % 2 == 1 or periodic):
                    # vertex-centred (or not coarsened) on both axes
                    self.alive = np.ascontiguousarray(
                        self.free.reshape(n, m)[::2 if ax_i else 1, ::2 if ax_j else 1].ravel())
                else:
                    self.alive = np.ones(nc * mc, np.uint8)
                fine.galerkin(self.free, pi, wi, pj, wj, nc, mc, Rc, self.alive, lvl.A)
            else:
                top = self.levels[-1]
                _var_galerkin(top.A, n, m, R, periodic, pi, wi, pj, wj, nc, mc, Rc, lvl.A)
            self.levels.append(lvl)
            self.transfers.append(_Transfer(pi, wi, pj, wj, nc, mc))
            n, m, R, first = nc, mc, Rc, False
        self._coarsest()

    def update(self, free):
        """Re-truncate to a new free set in place, updating the coarse grids by the difference.

        ``P^T D A D P`` changes only through the matrix entries that touch a
        pixel whose status changed, so the coarse operators are corrected
        with the work of those pixels instead of rebuilt (a Newton step flips
        a few per cent of the pixels).  Coarse nodes left without free
        pixels are zeroed as a rebuild would leave them.  Returns ``self``.

        Examples
        --------
        >>> import numpy as np
        >>> from qpsolve.model.operators import GridSpec
        >>> ts = TypedStencil(GridSpec((40, 36), "biharmonic", "odd").energy())
        >>> rng = np.random.default_rng(2)
        >>> f0 = (rng.random(40 * 36) > 0.3).astype(np.uint8)
        >>> f1 = np.where(rng.random(40 * 36) < 0.05, 1 - f0, f0).astype(np.uint8)
        >>> a = TruncatedHierarchy(ts, f0, drop=False).update(f1)
        >>> b = TruncatedHierarchy(ts, f1, drop=False)
        >>> all(np.allclose(x.A, y.A, rtol=0, atol=1e-12) for x, y in zip(a.levels, b.levels))
        True
        """
        free = np.ascontiguousarray(free, dtype=np.uint8)
        if not self.levels or bool(np.any(self.alive == 0)):
            self.__init__(self.fine, free, smooth=self.smooth, order=self.order, drop=self.drop, gamma=self.gamma)
            return self
        changed = np.flatnonzero(free != self.free).astype(np.int64)
        old, self.free = self.free, free
        if changed.size == 0:
            return self
        ts = self.fine
        n, m, R, periodic = ts.n, ts.m, ts.r, ts.periodic
        drows, dA, nd = None, None, 0
        for k, lvl in enumerate(self.levels):
            pi, wi, pj, wj = self.transfers[k]
            if k > 0 and nd > UPDATE_REBUILD * n * m:
                # The difference covers many rows: carrying it down costs more than building this level
                # and the ones below from the updated level above.
                for top, low, tr in zip(self.levels[k - 1:], self.levels[k:], self.transfers[k:]):
                    low.A[:] = 0.0
                    _var_galerkin(top.A, top.n, top.m, top.R, top.periodic, *tr, low.n, low.m, low.R, low.A)
                break
            N = lvl.n * lvl.m
            if not hasattr(lvl, "slots"):
                lvl.slots = np.full(N, -1, dtype=np.int64)
            rows = np.empty(N, dtype=np.int64)
            out = np.empty((N, lvl.A.shape[1]))  # rows zeroed as they are first touched
            if k == 0:
                used = ts.galerkin_delta(old, free, changed, pi, wi, pj, wj, lvl.n, lvl.m, lvl.R, lvl.slots, rows,
                                         out)
            else:
                used = _var_galerkin_delta(dA, drows, nd, n, m, R, periodic, pi, wi, pj, wj, lvl.n, lvl.m, lvl.R,
                                           lvl.slots, rows, out)
            floor = 1e-12 * float(np.max(lvl.A[:, lvl.A.shape[1] // 2], initial=0.0))
            _apply_delta(lvl.A, out, rows, used, lvl.slots, floor)
            drows, dA, nd = rows, out, used
            n, m, R = lvl.n, lvl.m, lvl.R
        self._coarsest()
        return self

    def _coarsest(self):
        if not self.levels:
            # No coarse grid at all: the fine operator, densely (tiny grids) ...
            ts = self.fine
            N = ts.n * ts.m
            if N > 2 * COARSEST:  # ... but a strip under 16 pixels wide is smoothed instead (N^2 memory)
                self._dense = None
                return
            A = np.empty((N, N))
            e = np.zeros(N)
            for k in range(N):
                e[k] = 1.0
                A[:, k] = ts.matvec(e, free=self.free)
                e[k] = 0.0
        else:
            lvl = self.levels[-1]
            N = lvl.n * lvl.m
            if N > 2 * COARSEST:  # a long thin grid that would not coarsen: smooth it instead
                self._dense = None
                return
            A = _dense_of(lvl)
        A = 0.5 * (A + A.T)
        dead = np.diag(A) <= 0.0  # coarse nodes with no free pixel under them
        A[dead, dead] = 1.0
        self._dead = dead
        try:
            # A tiny shift keeps a semi-definite coarse grid (no held pixel at all) factorable.
            self._chol = sla.cho_factor(A + 1e-13 * float(np.trace(A)) / len(A) * np.eye(len(A)), lower=True)
            self._dense = True
        except np.linalg.LinAlgError:
            w, V = np.linalg.eigh(A)
            keep = w > 1e-11 * max(float(w.max(initial=0.0)), 1e-300)
            self._chol = None
            self._dense = (V[:, keep] / w[keep]) @ V[:, keep].T

    # ------------------------------------------------------------------------------ cycles
    def _dense_solve(self, b):
        if self._chol is not None:
            v = sla.cho_solve(self._chol, b)
        else:
            v = self._dense @ b
        v[self._dead] = 0.0
        return v

    def _solve_coarsest(self, k, b):
        if self._dense is not None:
            return self._dense_solve(b)
        v = np.zeros_like(b)
        if not self.levels:  # a strip with no coarse grid: symmetric Gauss-Seidel on the fine level
            for _ in range(50):
                self.fine.gauss_seidel(v, b, self.free, False)
                self.fine.gauss_seidel(v, b, self.free, True)
            return v
        lvl = self.levels[k]
        for _ in range(50):
            _var_gs(lvl.A, v, b, lvl.n, lvl.m, lvl.R, lvl.periodic, False)
            _var_gs(lvl.A, v, b, lvl.n, lvl.m, lvl.R, lvl.periodic, True)
        return v

    def vcycle(self, b):
        """One symmetric V-cycle for ``D P D v = b`` from ``v = 0`` (``b`` zero on held pixels)."""
        ts, free = self.fine, self.free
        if not self.levels:
            return self._solve_coarsest(0, b)
        v = np.zeros_like(b)
        for s in range(self.smooth):
            ts.gauss_seidel(v, b, free, False, zero=s == 0)
        res = ts.matvec(v)  # v is zero on held pixels
        np.subtract(b, res, out=res)
        res *= free
        tr = self.transfers[0]
        lvl = self.levels[0]
        bc = np.zeros(lvl.n * lvl.m)
        tr.restrict(res, free, ts.m, self.alive, bc)
        vc = self._cycle(0, bc)
        _prolong(vc, free, ts.n, ts.m, tr, lvl.m, self.alive, v)
        for _ in range(self.smooth):
            ts.gauss_seidel(v, b, free, True)
        return v

    def _cycle(self, k, b):
        if k == len(self.levels) - 1:
            return self._solve_coarsest(k, b)
        lvl, nxt = self.levels[k], self.levels[k + 1]
        none = np.zeros(0, np.uint8)
        v = np.zeros_like(b)
        for s in range(self.smooth):
            _var_gs(lvl.A, v, b, lvl.n, lvl.m, lvl.R, lvl.periodic, False, zero=s == 0)
        res = np.empty_like(b)
        tr = self.transfers[k + 1]
        for _ in range(self.gamma if k + 1 < len(self.levels) - 1 else 1):
            _var_product(lvl.A, v, res, lvl.n, lvl.m, lvl.R, lvl.periodic)
            np.subtract(b, res, out=res)
            bc = np.zeros(nxt.n * nxt.m)
            tr.restrict(res, none, lvl.m, none, bc)
            vc = self._cycle(k + 1, bc)
            _prolong(vc, none, lvl.n, lvl.m, tr, nxt.m, none, v)
        for _ in range(self.smooth):
            _var_gs(lvl.A, v, b, lvl.n, lvl.m, lvl.R, lvl.periodic, True)
        return v

    def pcg(self, b, x0=None, rtol=1e-10, atol=0.0, max_iter=200):
        """Conjugate gradients on ``D P D v = b`` preconditioned by :meth:`vcycle`.

        Returns ``(v, iterations)``; stops when ``||r||_2 <= max(rtol ||b||_2, atol)``.
        """
        ts, free = self.fine, self.free
        v = np.zeros_like(b) if x0 is None else x0.copy()
        r = b - ts.matvec(v, free=free) if x0 is not None else b.copy()
        stop = max(rtol * float(np.linalg.norm(b)), atol)
        z = self.vcycle(r)
        p = z  # not a copy: z is a new array from every V-cycle, so p is the only name left for this one
        rz = float(r @ z)
        Ap = np.empty_like(b)
        for it in range(1, max_iter + 1):
            if float(np.linalg.norm(r)) <= stop or rz <= 0.0:
                return v, it - 1
            ts.matvec(p, out=Ap)  # p is zero on held pixels: D P D p = D (P p)
            Ap *= free
            pAp = float(p @ Ap)
            if pAp <= 0.0:
                return v, it - 1
            alpha = rz / pAp
            v += alpha * p
            r -= alpha * Ap
            if it == max_iter:
                break  # the last V-cycle would only build a direction that is never taken
            z = self.vcycle(r)
            rz_new = float(r @ z)
            p *= rz_new / rz
            p += z
            rz = rz_new
        return v, max_iter


# ------------------------------------------------------------- monotone (constrained) multigrid
@njit(cache=True, nogil=True)
def _var_pgs_rows(A, ix, v, b, lo, hi, n, m, R, periodic, zero, reverse, i0, i1):
    """One projected Gauss-Seidel sweep on ``1/2 v^T A v - b^T v`` over ``lo <= v <= hi``, rows ``i0 <= i < i1``."""
    _var_sweep(A, ix, v, b, lo, hi, n, m, R, periodic, reverse, True, zero, i0, i1)


def _var_pgs(A, v, b, lo, hi, n, m, R, periodic, reverse, zero=False, ix=_EVERY_ROW):
    """One projected Gauss-Seidel sweep on ``1/2 v^T A v - b^T v`` over ``lo <= v <= hi``, in place
    (in the order of :func:`_sweep_plan`); ``zero``: ``v`` is zero on entry (see :func:`_zero_ahead`);
    ``ix`` as in :func:`_var_product`."""
    _blocked_sweep(_var_pgs_rows, n, R, periodic, reverse, n * m, A, ix, v, b, lo, hi, n, m, R, periodic,
                   _zero_ahead(zero, reverse, n, R, periodic))


@lru_cache(maxsize=64)
def _monotone_parents(n, periodic):
    """Bilinear parents of :func:`_parents` (``order=1``) with non-negative weights.

    The cell-centred rule extrapolates at the two ends of an even axis (weights
    ``5/4, -1/4``); a negative weight would let a feasible coarse correction
    leave the fine box, so the ends take their nearest coarse node instead.
    """
    nc, par, w = _parents(n, periodic, 1)
    w = np.where(w < 0.0, 0.0, w)
    s = w.sum(axis=1, keepdims=True)
    w = np.where(s > 0, w / np.where(s > 0, s, 1.0), w)
    return nc, par, np.ascontiguousarray(w)


def _firm_obstacles(dlo, dhi, push, lower, upper, firm):
    """No room for pixels pressed onto a bound (:meth:`MonotoneHierarchy.vcycle`'s ``firm``), in place.

    ``dlo = lower - x`` and ``dhi = upper - x`` are the fine obstacles, ``push = -g / diag`` the step a
    Gauss-Seidel update would take: at a lower bound (``dlo >= 0``) a push below ``-firm (U - L)``
    zeroes ``dhi``; then at an upper bound (``dhi <= 0``) a push above ``firm (U - L)`` zeroes ``dlo``.
    An infinite bin (``U - L`` infinite, or ``nan`` with ``firm == 0``) compares false: never firm.
    One temporary, where the formula written out took five (a 12-Mpx channel's peak was here).

    Examples
    --------
    >>> dlo, dhi = np.array([0.0, -1.0, -2.0]), np.array([3.0, 0.0, 2.0])
    >>> _firm_obstacles(dlo, dhi, np.array([-1.0, 1.0, 1.0]), np.zeros(3), np.array([3.0, 1.0, 4.0]), 0.1)
    >>> dlo.tolist(), dhi.tolist()
    ([0.0, 0.0, -2.0], [0.0, 0.0, 2.0])
    """
    limit = np.atleast_1d(np.subtract(upper, lower, dtype=np.float64))
    with np.errstate(invalid="ignore"):
        limit *= firm
        onto_upper = push > limit
        np.negative(limit, out=limit)
        onto_lower = push < limit  # -push > firm (U - L), exactly
    del limit
    dhi[(dlo >= 0) & onto_lower] = 0.0
    dlo[(dhi <= 0) & onto_upper] = 0.0


class MonotoneHierarchy:
    """Galerkin hierarchy of the whole ``P`` and a constrained (monotone) multigrid V-cycle.

    Kornhuber's monotone multigrid in the constraint-decomposition form of Tai
    and of Bueler and Farrell: each coarse level minimises the energy of a
    correction within obstacles restricted monotonically from the finer
    level's remaining room (the max of the lower, the min of the upper defect
    over the coarse function's support, with non-negative bilinear weights),
    so every correction is feasible on the fine grid by construction and
    every Gauss-Seidel update minimises the fine energy along one coarse
    basis function: the energy never rises.  Unlike a truncated correction, a
    coarse level moves pixels that sit on a bound away from it whenever the
    whole support has room in that direction.

    Parameters
    ----------
    fine : TypedStencil
        The fine operator ``P``.
    smooth : int
        Projected Gauss-Seidel sweeps before and after each coarse correction.
    coarse_sweeps : int
        Projected Gauss-Seidel sweeps on the coarsest grid.
    semi : bool, optional
        Semi-coarsen strongly anisotropic levels (:func:`_coarsening_plan`);
        default :data:`MONOTONE_SEMI`.

    Examples
    --------
    V-cycles on a box-constrained plate: the energy never rises (beyond rounding), the
    iterate never leaves the box, and the duality gap falls:

    >>> import numpy as np
    >>> from qpsolve.model.operators import GridSpec
    >>> ts = TypedStencil(GridSpec((48, 40), "biharmonic", "odd").energy())
    >>> rng = np.random.default_rng(0)
    >>> lo = rng.integers(0, 4, size=48 * 40).astype(float)
    >>> hi = lo + 1.0
    >>> q = np.zeros(48 * 40)
    >>> mh = MonotoneHierarchy(ts, smooth=2)
    >>> def energy_gap(x):
    ...     g = ts.matvec(x)
    ...     return 0.5 * x @ g, np.sum(np.maximum(np.where(g > 0, g * (x - lo), g * (x - hi)), 0))
    >>> x = 0.5 * (lo + hi)
    >>> E0, gap0 = energy_gap(x)
    >>> ok = True
    >>> for _ in range(20):
    ...     x = mh.vcycle(x, lo, hi, q)
    ...     E, gap = energy_gap(x)
    ...     ok &= bool(E <= E0 + 1e-12 * E0 and np.all((lo <= x) & (x <= hi)))
    ...     E0 = E
    >>> ok, bool(gap < 1e-2 * gap0)
    (True, True)
    """

    def __init__(self, fine, smooth=1, coarse_sweeps=10, semi=None):
        self.fine, self.smooth, self.coarse_sweeps = fine, int(smooth), int(coarse_sweeps)
        self.semi = MONOTONE_SEMI if semi is None else bool(semi)
        self.levels, self.transfers = [], []
        #: how far the last coarse correction left the box before its round-off clip
        self.last_violation = 0.0
        self._diag = None
        n, m, R, periodic = fine.n, fine.m, fine.r, fine.periodic
        ones = np.ones(n * m, np.uint8)
        plan = _coarsening_plan(fine, 1, monotone=True) if self.semi else _full_plan(n, m, periodic, 1)
        for ax_i, ax_j in plan:
            nc, pi, wi, Ri = _axis_transfer(n, R, periodic, ax_i, 1, monotone=True)
            mc, pj, wj, Rj = _axis_transfer(m, R, periodic, ax_j, 1, monotone=True)
            Rc = max(Ri, Rj)
            lvl = _Level(nc, mc, Rc, periodic)
            if not self.levels:
                fine.galerkin(ones, pi, wi, pj, wj, nc, mc, Rc, np.ones(nc * mc, np.uint8), lvl.A)
            else:
                top = self.levels[-1]
                _var_galerkin(top.A, n, m, R, periodic, pi, wi, pj, wj, nc, mc, Rc, lvl.A, ix=top.ix)
            # never updated (the whole operator's levels): each distinct row once
            self.levels.append(lvl.share_rows())
            self.transfers.append(_Transfer(pi, wi, pj, wj, nc, mc))
            n, m, R = nc, mc, Rc

    def vcycle(self, x, lower, upper, q, firm=None, truncated=None):
        """One V-cycle on ``1/2 x^T P x + q^T x`` over ``lower <= x <= upper`` from a feasible ``x``.

        ``firm`` (optional, >= 0): a pixel on a bound whose multiplier would push it
        more than ``firm`` times its bin width beyond the bound (one Gauss-Seidel
        step) gets no room at all in the coarse obstacles, so no coarse correction
        moves it (the fine smoothing still may).
        ``truncated`` (optional): a :class:`TruncatedHierarchy` whose coarse levels
        replace this hierarchy's (Kornhuber's truncated monotone cycle): its held
        pixels get no coarse correction, so they no longer limit the coarse
        obstacles of the free pixels around them (a free region touching a contact
        can then move as a whole).
        Returns the new iterate (``x`` is updated in place as well).
        """
        ts = self.fine
        for s in range(self.smooth):
            ts.projected_gauss_seidel(x, lower, upper, q, bool(s % 2))
        levels, transfers = (self.levels, self.transfers) if truncated is None else \
            (truncated.levels, truncated.transfers)
        if levels:
            none = np.zeros(0, np.uint8)
            free = none if truncated is None else truncated.free
            alive = none if truncated is None else truncated.alive
            res = ts.matvec(x)
            res += q
            np.negative(res, out=res)
            lvl = levels[0]
            tr = transfers[0]
            N = lvl.n * lvl.m
            b, lo, hi = np.zeros(N), np.full(N, -np.inf), np.full(N, np.inf)
            tr.restrict(res, free, ts.m, alive, b)
            if truncated is not None:
                E0 = 0.5 * float(x @ (q - res))  # res = -(P x + q)
            # Full-size temporaries are dropped as soon as they are used: on a 12-Mpx channel each
            # is 96 MB, and this cycle held the solve's peak.
            dlo, dhi = lower - x, upper - x
            if firm is not None:
                # res = -g: at a lower bound g > 0 holds it there; push g / diag against the bin width
                if self._diag is None:
                    self._diag = np.maximum(ts.matvec_diagonal(), 1e-300)
                _firm_obstacles(dlo, dhi, np.divide(res, self._diag, out=res), lower, upper, firm)
            del res
            if truncated is not None:
                held = free == 0
                dlo[held], dhi[held] = -np.inf, np.inf
            tr.restrict_obstacles(dlo, dhi, ts.m, lo, hi)
            del dlo, dhi
            e = self._cycle(0, b, lo, hi, levels, transfers)
            v = np.zeros_like(x)
            _prolong(e, free, ts.n, ts.m, tr, lvl.m, alive, v)
            if truncated is not None:
                before = x.copy()
            x += v
            del v
            # without ``truncated`` rounding only (v is feasible by construction); how far it strayed is
            # kept for tests
            self.last_violation = box_violation(x, lower, upper)
            np.clip(x, lower, upper, out=x)
            if truncated is not None:
                # A truncated hierarchy's transfers extrapolate at the ends of even axes (a negative
                # weight), where the correction can leave the box; clipped, it could cost energy:
                # then it is dropped, so the energy still never rises.
                if 0.5 * float(x @ ts.matvec(x)) + float(q @ x) > E0:
                    x[:] = before
        for s in range(self.smooth):
            ts.projected_gauss_seidel(x, lower, upper, q, not bool(s % 2))
        return x

    def _cycle(self, k, b, lo, hi, levels, transfers):
        lvl = levels[k]
        e = np.zeros_like(b)
        last = k == len(levels) - 1
        sweeps = self.coarse_sweeps if last else self.smooth
        for s in range(sweeps):
            _var_pgs(lvl.A, e, b, lo, hi, lvl.n, lvl.m, lvl.R, lvl.periodic, bool(s % 2), zero=s == 0, ix=lvl.ix)
        if last:
            return e
        nxt = levels[k + 1]
        none = np.zeros(0, np.uint8)
        tr = transfers[k + 1]
        res = np.empty_like(b)
        _var_product(lvl.A, e, res, lvl.n, lvl.m, lvl.R, lvl.periodic, ix=lvl.ix)
        np.subtract(b, res, out=res)
        N = nxt.n * nxt.m
        bc, loc, hic = np.zeros(N), np.full(N, -np.inf), np.full(N, np.inf)
        tr.restrict(res, none, lvl.m, none, bc)
        tr.restrict_obstacles(lo - e, hi - e, lvl.m, loc, hic)
        ec = self._cycle(k + 1, bc, loc, hic, levels, transfers)
        v = np.zeros_like(b)
        _prolong(ec, none, lvl.n, lvl.m, tr, nxt.m, none, v)
        e += v
        np.minimum(np.maximum(e, lo), hi, out=e)
        for s in range(sweeps):
            _var_pgs(lvl.A, e, b, lo, hi, lvl.n, lvl.m, lvl.R, lvl.periodic, not bool(s % 2), ix=lvl.ix)
        return e


# ----------------------------------------------------------- the exact projected line search
@njit(cache=True)
def _fine_rows(cnt, oa, ob, cv, pix, n, m, r, periodic, cols, vals, nnz):
    """Rows ``pix[k]`` of a stencil table as ``(cols[k, :nnz[k]], vals[k, :nnz[k]])``."""
    for k in range(pix.size):
        p = pix[k]
        i = p // m
        j = p - i * m
        ti = _cls(i, n, r, periodic)
        tj = _cls(j, m, r, periodic)
        c = cnt[ti, tj]
        nnz[k] = c
        for e in range(c):
            i2 = i + oa[ti, tj, e]
            j2 = j + ob[ti, tj, e]
            if periodic:
                i2 = _wrap(i2, n)
                j2 = _wrap(j2, m)
            cols[k, e] = i2 * m + j2
            vals[k, e] = cv[ti, tj, e]


@njit(cache=True)
def _sparse_rows(A, da, db, pix, n, m, cols, vals, nnz):
    """Rows ``pix[k]`` of a lattice stencil (offsets ``da, db``), the entries inside the lattice."""
    for k in range(pix.size):
        p = pix[k]
        i = p // m
        j = p - i * m
        c = 0
        for e in range(da.size):
            i2 = i + da[e]
            j2 = j + db[e]
            if 0 <= i2 < n and 0 <= j2 < m and A[p, e] != 0.0:
                cols[k, c] = i2 * m + j2
                vals[k, c] = A[p, e]
                c += 1
        nnz[k] = c


@njit(cache=True)
def _path_walk(bp, tb, cols, vals, nnz, d, g0, Pd, Pp, st, tmax, first, last):
    """Walk the breakpoints ``bp`` (sorted by ``tb``) of ``phi(t) = E(clip(x + t d)) - E(x)``.

    ``st`` carries ``(t, phi(t), phi'(t+), curvature, best t, best phi, done)`` from one chunk of
    breakpoints to the next; ``Pp`` is ``P p`` with ``p`` the part of ``d`` not yet clipped.  On
    each segment ``phi`` is the quadratic ``phi + a s + c s^2 / 2``; at a breakpoint the clipped
    pixel ``j`` leaves ``p``: the slope loses ``d_j g_j(y)`` and the curvature
    ``2 d_j (P p)_j - d_j^2 P_jj``, and ``P p`` one column of ``P`` (its row: ``P`` is symmetric).
    ``g_j(y) = g0_j + t (P d)_j - sum_i (t - tb_i) d_i P_ji`` over the clipped neighbours ``i``.
    ``first``: stop at the first local minimiser; ``last``: this chunk ends the path at ``tmax``.
    """
    t, phi, a, c, bt, bphi = st[0], st[1], st[2], st[3], st[4], st[5]
    K = bp.size
    for k in range(K + 1):
        if k == K and not last:
            break
        tn = tb[bp[k]] if k < K else tmax
        dt = tn - t
        if a < 0.0 and c > 0.0 and a + c * dt > 0.0:
            s = -a / c
            pm = phi + 0.5 * a * s
            if pm < bphi:
                bt, bphi = t + s, pm
            if first:
                st[6] = 1.0
                break
        elif a >= 0.0 and first:
            st[6] = 1.0
            break
        phi += dt * (a + 0.5 * c * dt)
        a += c * dt
        t = tn
        if phi < bphi:
            bt, bphi = t, phi
        if k == K:
            break
        j = bp[k]
        dj = d[j]
        gj = g0[j] + t * Pd[j]
        pjj = 0.0
        for e in range(nnz[k]):
            i = cols[k, e]
            v = vals[k, e]
            if i == j:
                pjj += v
            elif tb[i] < t:
                gj -= (t - tb[i]) * d[i] * v
        a -= dj * gj
        c += dj * (dj * pjj - 2.0 * Pp[j])
        for e in range(nnz[k]):
            Pp[cols[k, e]] -= dj * vals[k, e]
    st[0], st[1], st[2], st[3], st[4], st[5] = t, phi, a, c, bt, bphi


def projected_path_minimum(op, x, d, g, lower, upper, tmax=1.0, first=True, chunk=1 << 14):
    """The exact minimiser of ``E(clip(x + t d))`` over ``0 <= t <= tmax`` along the projected path.

    ``E(clip(x + t d))`` is a piecewise quadratic in ``t``: between two
    breakpoints (where a pixel reaches its bound) the path is a straight
    line.  The breakpoints are sorted and walked in order; each one changes
    ``P p`` by one column of ``P`` (:func:`_path_walk`), so the whole walk
    costs one product and a sort besides ``O(stencil)`` per breakpoint.

    Parameters
    ----------
    op : TypedStencil or LatticeStencil
        The symmetric ``P`` (``matvec`` and ``rows``).
    x : array
        Feasible point (within ``lower``, ``upper``).
    d : array
        Direction.
    g : array
        ``P x + q``.
    lower, upper : array
        The box.
    tmax : float
        End of the path.
    first : bool
        Stop at the first local minimiser (``True``), else the lowest point
        on ``[0, tmax]``.
    chunk : int
        Breakpoints whose rows are read at a time (memory).

    Returns
    -------
    t : float
        The minimiser (``0.0`` when ``d`` does not descend).
    drop : float
        The predicted change ``E(clip(x + t d)) - E(x)`` (``<= 0``); the
        caller checks it on the point itself, since the walk accumulates
        rounding over its segments.

    Examples
    --------
    A uniform lift costs no bending under ``even`` borders, so with
    ``q = -1`` the energy falls all the way to the bounds:

    >>> import numpy as np
    >>> from qpsolve.model.operators import GridSpec
    >>> ts = TypedStencil(GridSpec((12, 12), "biharmonic", "even").energy())
    >>> x, lo, hi = np.zeros(144), np.zeros(144), np.full(144, 2.0)
    >>> g = ts.matvec(x) - 1.0                       # P x + q
    >>> projected_path_minimum(ts, x, -g, g, lo, hi)  # hi = 2 lies at t = 2, beyond tmax = 1
    (1.0, -144.0)
    """
    x = np.asarray(x, dtype=np.float64)
    stuck = ((d < 0) & (x <= lower)) | ((d > 0) & (x >= upper))
    d = np.where(stuck, 0.0, d) if stuck.any() else np.asarray(d, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        tb = np.where(d > 0, (upper - x) / d, np.where(d < 0, (lower - x) / d, np.inf))
    tb[~(tb > 0)] = np.inf  # NaN (no room, no move) and rounding below zero: no breakpoint
    Pd = op.matvec(d)
    Pp = Pd.copy()
    st = np.array([0.0, 0.0, float(g @ d), float(d @ Pd), 0.0, 0.0, 0.0])
    bp = np.flatnonzero(tb <= tmax)
    bp = bp[np.argsort(tb[bp], kind="stable")]
    rows = op.rows
    for s in range(0, max(bp.size, 1), chunk):
        part = bp[s:s + chunk]
        cols, vals, nnz = rows(part)
        _path_walk(part, tb, cols, vals, nnz, d, g, Pd, Pp, st, float(tmax), bool(first), s + chunk >= bp.size)
        if st[6]:
            break
    return float(st[4]), float(st[5])
