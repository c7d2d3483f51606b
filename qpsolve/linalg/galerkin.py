"""Galerkin triple products ``T^T A T`` of grid stencils, one axis at a time (numba kernels).

The prolongations of :mod:`qpsolve.linalg.gridmg` are tensor products,
``T = T_i (x) T_j``, so ``T^T A T`` contracts the rows of the grid first and
the columns second.  For one coarse row ``I`` the first pass gathers, from
the fine rows under ``I``, a half-coarse band ``H[j, (dI, db)]`` (fine column
``j``, coarse row offset ``dI``, fine column offset ``db``); the second pass
contracts its columns into the coarse stencils of row ``I``.  With bilinear
transfers that is about 150 multiply-adds per fine pixel against 400 for
the direct four-fold loop over parents of both ends of every fine entry, it
needs one band of scratch (not a half-coarse copy of the grid), and every
coarse row is written by one task only, so the rows run on the kernel
threads (:mod:`qpsolve.linalg.rowpool`) with the same bits on any count.

Stencil layout (as in :mod:`qpsolve.linalg.gridmg`): row ``p = i m + j``
of a variable-stencil array holds ``A[p, (a + R) W + b + R]``, the entry
coupling ``(i, j)`` with ``(i + a, j + b)``, ``W = 2 R + 1``.  Transfers
are parent tables: ``pi[i, u]`` the coarse parents of fine row ``i``
(``-1`` where absent) with weights ``wi[i, u]``; ``ci[I, k]`` / ``wci`` the
inverse table (fine children of coarse row ``I``, ``-1`` past the last).

Examples
--------
The coarse operator of a 1-D-separable check: a random radius-1 stencil on
a 10 x 8 grid, against the dense triple product.

>>> import numpy as np
>>> n, m, R, Rc = 10, 8, 1, 1
>>> rng = np.random.default_rng(0)
>>> A = rng.normal(size=(n * m, 9))
>>> pi = np.array([[i // 2, -1] for i in range(n)]); wi = np.array([[1.0, 0.0]] * n)
>>> pj = np.array([[j // 2, -1] for j in range(m)]); wj = np.array([[1.0, 0.0]] * m)
>>> ci, wci = children(pi, wi, n // 2)
>>> out = np.zeros((n // 2 * m // 2, 9))
>>> galerkin_var(A, n, m, R, False, pi, wi, pj, wj, ci, wci, n // 2, m // 2, Rc, out)
>>> D = np.zeros((n * m, n * m))
>>> for p in range(n * m):
...     i, j = divmod(p, m)
...     for k in range(9):
...         i2, j2 = i + k // 3 - 1, j + k % 3 - 1
...         if 0 <= i2 < n and 0 <= j2 < m:
...             D[p, i2 * m + j2] = A[p, k]
>>> T = np.kron(np.kron(np.eye(n // 2), [[1], [1]]), np.kron(np.eye(m // 2), [[1], [1]]))
>>> C = T.T @ D @ T
>>> c = np.zeros_like(C)
>>> for p in range(C.shape[0]):
...     I, J = divmod(p, m // 2)
...     for k in range(9):
...         I2, J2 = I + k // 3 - 1, J + k % 3 - 1
...         if 0 <= I2 < n // 2 and 0 <= J2 < m // 2:
...             c[p, I2 * (m // 2) + J2] = out[p, k]
>>> bool(np.allclose(c, C, rtol=0, atol=1e-12))
True
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .rowpool import run_rows

__all__ = ["children", "galerkin_var", "galerkin_fine", "neighbour", "short_offset"]


def children(par, w, nc):
    """``(ch, weight)``: the fine indices under each coarse index (increasing, ``-1`` past the last) and
    their weights, from a parent table ``par, w`` (``-1`` where absent).

    >>> children(np.array([[0, -1], [0, 1], [1, -1]]), np.array([[1.0, 0.0], [0.5, 0.5], [1.0, 0.0]]), 2)
    (array([[0, 1],
           [1, 2]]), array([[1. , 0.5],
           [0.5, 1. ]]))
    """
    ok = par >= 0
    fine, slot = np.nonzero(ok)  # fine index major: each coarse index's children come out increasing
    coarse = par[fine, slot]
    order = np.argsort(coarse, kind="stable")
    fine, coarse, weight = fine[order], coarse[order], w[fine[order], slot[order]]
    counts = np.bincount(coarse, minlength=nc)
    width = max(1, int(counts.max(initial=0)))
    rank = np.arange(coarse.size) - np.repeat(np.cumsum(counts) - counts, counts)
    ch = np.full((nc, width), -1, dtype=np.int64)
    cw = np.zeros((nc, width))
    ch[coarse, rank] = fine
    cw[coarse, rank] = weight
    return ch, cw


#: ``ix`` of a variable-stencil table with one row per pixel (``gridmg._Level``): pixel ``p``'s row is ``p``
EVERY_ROW = np.zeros(0, np.int32)


@njit(cache=True, inline="always")
def row_of(ix, p):
    """The row of a variable-stencil table that holds pixel ``p``'s stencil: ``ix[p]``, or ``p`` when ``ix``
    is empty (:data:`EVERY_ROW`)."""
    if ix.size > 0:
        return ix[p]
    return p


@njit(cache=True, inline="always")
def neighbour(i, d, n, periodic):
    """``i + d`` on an axis of length ``n`` (wrapped when periodic), or -1 off a border."""
    k = i + d
    if periodic:
        if k < 0:
            return k + n
        if k >= n:
            return k - n
        return k
    if k < 0 or k >= n:
        return -1
    return k


@njit(cache=True, inline="always")
def short_offset(d, nc, periodic):
    """A coarse offset ``d``, the short way round a periodic axis of ``nc`` nodes."""
    if periodic:
        if d > nc // 2:
            d -= nc
        elif d < -(nc // 2):
            d += nc
    return d


@njit(cache=True, inline="always")
def _columns(H, I, m, Rf, periodic, pj, wj, mc, Rc, out):
    """Second pass: ``out[I mc + J] += sum_j wj[j] sum_b wj[j + b] H[j, (dI, b)]`` over the parents ``J`` of
    ``j`` and ``J + dJ`` of ``j + b`` (``H``: the half-coarse band of coarse row ``I``, fine offsets of radius
    ``Rf``)."""
    Wf = 2 * Rf + 1
    Wc = 2 * Rc + 1
    for j in range(m):
        for b in range(Wf):
            j2 = neighbour(j, b - Rf, m, periodic)
            if j2 < 0:
                continue
            for w in range(pj.shape[1]):
                J = pj[j, w]
                if J < 0:
                    continue
                row = I * mc + J
                ww = wj[j, w]
                for w2 in range(pj.shape[1]):
                    J2 = pj[j2, w2]
                    if J2 < 0:
                        continue
                    dJ = short_offset(J2 - J, mc, periodic) + Rc
                    coef = ww * wj[j2, w2]
                    for dI in range(Wc):
                        out[row, dI * Wc + dJ] += coef * H[j, dI * Wf + b]


@njit(cache=True, nogil=True)
def _var_rows(A, ix, n, m, R, periodic, pi, wi, pj, wj, ci, wci, nc, mc, Rc, out, I0, I1):
    """Coarse rows ``I0 <= I < I1`` of ``out += T^T A T`` for a variable-stencil ``A`` of radius ``R`` (pixel
    ``p``'s stencil in row ``ix[p]``, or ``p`` when ``ix`` is empty)."""
    W = 2 * R + 1
    Wc = 2 * Rc + 1
    H = np.zeros((m, Wc * W))
    for I in range(I0, I1):
        H[:, :] = 0.0
        for k in range(ci.shape[1]):
            i = ci[I, k]
            if i < 0:
                break
            wI = wci[I, k]
            for a in range(W):
                i2 = neighbour(i, a - R, n, periodic)
                if i2 < 0:
                    continue
                for u2 in range(pi.shape[1]):
                    I2 = pi[i2, u2]
                    if I2 < 0:
                        continue
                    coef = wI * wi[i2, u2]
                    h = (short_offset(I2 - I, nc, periodic) + Rc) * W
                    src = a * W
                    for j in range(m):
                        row = row_of(ix, i * m + j)
                        for b in range(W):
                            H[j, h + b] += coef * A[row, src + b]
        _columns(H, I, m, R, periodic, pj, wj, mc, Rc, out)


def galerkin_var(A, n, m, R, periodic, pi, wi, pj, wj, ci, wci, nc, mc, Rc, out, ix=EVERY_ROW):
    """``out += T^T A T`` for a variable-stencil ``A`` (``n x m`` grid, radius ``R``; pixel ``p``'s stencil in
    row ``ix[p]``, or ``p`` while ``ix`` is empty) onto the ``nc x mc`` grid of radius ``Rc``; ``ci, wci``
    the children table of ``pi, wi`` (:func:`children`).  Coarse rows run in blocks on the kernel threads."""
    run_rows(_var_rows, nc, A, ix, n, m, R, periodic, pi, wi, pj, wj, ci, wci, nc, mc, Rc, out, work=n * m)


@njit(cache=True, nogil=True)
def _fine_rows(cnt, oa, ob, cv, free, n, m, r, periodic, pi, wi, pj, wj, ci, wci, nc, mc, Rc, out, I0, I1):
    """Coarse rows ``I0 <= I < I1`` of ``out += T^T D A D T`` for a border-class stencil table
    (:class:`~qpsolve.linalg.gridmg.TypedStencil`) and the 0/1 diagonal ``free``."""
    W = 2 * r + 1
    Wc = 2 * Rc + 1
    H = np.zeros((m, Wc * W))
    for I in range(I0, I1):
        H[:, :] = 0.0
        for k in range(ci.shape[1]):
            i = ci[I, k]
            if i < 0:
                break
            wI = wci[I, k]
            if periodic or i < r or i >= n - r:
                ti = r if periodic else (i if i < r else (2 * r - (n - 1 - i) if i >= n - r else r))
            else:
                ti = r
            for j in range(m):
                p = i * m + j
                if free[p] == 0:
                    continue
                tj = r if periodic else (j if j < r else (2 * r - (m - 1 - j) if j >= m - r else r))
                for e in range(cnt[ti, tj]):
                    i2 = i + oa[ti, tj, e]
                    b = ob[ti, tj, e]
                    j2 = j + b
                    if periodic:
                        i2 = neighbour(i2, 0, n, True)
                        j2 = neighbour(j2, 0, m, True)
                    if free[i2 * m + j2] == 0:
                        continue
                    c = wI * cv[ti, tj, e]
                    col = b + r
                    for u2 in range(pi.shape[1]):
                        I2 = pi[i2, u2]
                        if I2 < 0:
                            continue
                        H[j, (short_offset(I2 - I, nc, periodic) + Rc) * W + col] += c * wi[i2, u2]
        _columns(H, I, m, r, periodic, pj, wj, mc, Rc, out)


def galerkin_fine(cnt, oa, ob, cv, free, n, m, r, periodic, pi, wi, pj, wj, ci, wci, nc, mc, Rc, out):
    """``out += T^T D A D T`` for a border-class stencil table ``cnt, oa, ob, cv`` of radius ``r`` and the free
    pixels ``free`` (0/1), onto the ``nc x mc`` grid of radius ``Rc`` (as :func:`galerkin_var`)."""
    run_rows(_fine_rows, nc, cnt, oa, ob, cv, free, n, m, r, periodic, pi, wi, pj, wj, ci, wci, nc, mc, Rc, out,
             work=n * m)
