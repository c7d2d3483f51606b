"""Is a sparse matrix an operator on a 2-D lattice?  Exact detection, and its stencils.

Many matrices users build by hand (a plate whose stiffness varies in space,
an anisotropic plate, a weighted smoothness term) couple each pixel of an
``(n, m)`` image only with the pixels at most ``R`` rows and ``R`` columns
away, with coefficients that may change from pixel to pixel.  Such a matrix
is a **variable stencil**: an array ``A[p, (di + R) (2R + 1) + dj + R]`` of
the coefficient of row ``p = i m + j`` at column ``(i + di) m + j + dj``.
Geometric multigrid (:mod:`qpsolve.linalg.gridmg`) can then work with the
matrix itself, Galerkin products and all, instead of an algebraic hierarchy.

:func:`find_lattice` decides whether ``P`` is such an operator and never
guesses: the row length comes from ``coordinates`` (a regular 2-D lattice,
in any order) or, without them, from the offsets ``column - row`` of the
non-zeros (lexicographic order), and then **every** non-zero is checked to
land inside the lattice within ``R`` rows and columns, with no wrap-around
from the end of one row to the start of the next.  Anything else (a graph,
a 3-D volume, a permuted lattice without coordinates, several row lengths
that fit equally well) is refused with the reason.

Examples
--------
The 5-point Laplacian of a 12 x 10 grid, in lexicographic order:

>>> import scipy.sparse as sp
>>> def lap(k):
...     return sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(k, k))
>>> P = sp.kronsum(lap(10), lap(12)).tocsr()
>>> lat, why = find_lattice(P)
>>> lat.shape, lat.radius, lat.order is None, why
((12, 10), 1, True, None)

A 1-D chain is no 2-D lattice:

>>> find_lattice(lap(120).tocsr())[1]
'no row length m with both sides >= 8 puts every non-zero within 4 rows and columns of its diagonal without wrapping around'
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .lazyjit import lazy_njit

__all__ = ["Lattice", "find_lattice", "lattice_of", "stencil_array", "grid_model_of", "RMAX", "MIN_SIDE",
           "NUMBA_MIN_NNZ"]

#: largest stencil radius accepted (a plate is 2; beyond 4 a stencil has 81 entries per pixel)
RMAX = 4
#: both sides of the lattice at least this long (the multigrid's coarsest grids need room)
MIN_SIDE = 8
#: :func:`find_lattice` reads matrices with fewer stored entries with numpy, larger ones with numba
#: kernels: numba's first use in a process (import, compiler start, cache load) costs tenths of a CPU
#: second and tens of MB that a solve running no other kernel (``pdas`` on a grid model handed over as
#: a matrix, ``pcg``) would not pay, more than numpy's temporaries cost below a few million entries
#: (benchmarks/results/amg/notes-session11-detect.md)
NUMBA_MIN_NNZ = 1 << 21


@dataclass(frozen=True)
class Lattice:
    """Where the variables of a matrix sit.

    Attributes
    ----------
    shape : (int, int)
        ``(n, m)``: rows and columns of the lattice.
    radius : int
        ``R``: every non-zero couples pixels at most ``R`` rows and ``R``
        columns apart.
    order : (n m,) int array or None
        ``order[p]`` is the variable at lattice position ``p = i m + j``
        (``None``: the variables are already in that order).
    """

    shape: tuple
    radius: int
    order: np.ndarray | None = None

    def permuted(self, P):
        """``P`` in lattice order (``P`` itself when :attr:`order` is ``None``)."""
        if self.order is None:
            return P
        return P[self.order][:, self.order].tocsr()


# Large matrices are read by numba kernels over the CSR arrays: one pass each, no per-entry
# temporaries (numpy's row, column and offset arrays of a large plate outgrow the cache and cost more
# than the arithmetic: benchmarks/results/amg/notes-session10.md, notes-session11-detect.md).
# Compiled lazily, as every plain-matrix solve asks ``grid_model_of`` first; small matrices stay with
# numpy (:data:`NUMBA_MIN_NNZ`).  stencil_array always uses its kernel: only tnnmg calls it, whose
# solver kernels are numba's anyway.


def _offsets_py(indptr, indices, data, seen):
    """``seen[d + N - 1] = 1`` for the offset ``d = column - row`` of every numerically non-zero entry;
    returns the lowest and highest such offset and their count (``count`` 0: no such entry)."""
    N = indptr.size - 1
    lo, hi, count = np.int64(0), np.int64(0), 0
    for r in range(N):
        for k in range(indptr[r], indptr[r + 1]):
            if data[k] != 0:
                d = np.int64(indices[k]) - r
                seen[d + N - 1] = 1
                if count == 0 or d < lo:
                    lo = d
                if count == 0 or d > hi:
                    hi = d
                count += 1
    return lo, hi, count


def _radius_py(indptr, indices, data, m, rmax):
    """``R``, the largest row or column distance of a numerically non-zero entry on rows of length ``m``,
    or -1 at the first entry that wraps around from one row to another or lies more than ``rmax``
    rows or columns away (``0`` without non-zeros)."""
    half = m // 2
    R = 0
    for r in range(indptr.size - 1):
        j = r % m
        for k in range(indptr[r], indptr[r + 1]):
            if data[k] != 0:
                d = np.int64(indices[k]) - r
                di = (d + half) // m  # floor division, as _split
                dj = d - di * m
                if j + dj < 0 or j + dj >= m or abs(di) > rmax or abs(dj) > rmax:
                    return -1
                R = max(R, abs(di), abs(dj))
    return R


def _scatter_py(indptr, indices, data, m, R, A):
    """``A[row, (di + R)(2R + 1) + dj + R] += data`` over the numerically non-zero entries, in stored
    order; returns ``(row, column)`` of the first entry whose duplicates sum to a non-zero outside
    the window of radius ``R`` or wrapping around from one lattice row to another, or ``(-1, -1)``.

    A stored zero adds nothing (and ``x + 0.0 == x`` for any non-zero ``x``): the sums are those of
    ``sum_duplicates()`` whenever the order of three or more duplicates is the stored one, and a slot
    whose duplicates cancel holds ``+0.0`` as one that ``eliminate_zeros()`` dropped.
    """
    W = 2 * R + 1
    half = m // 2
    for r in range(indptr.size - 1):
        j = r % m
        for k in range(indptr[r], indptr[r + 1]):
            x = data[k]
            if x == 0:
                continue
            c = np.int64(indices[k])
            d = c - r
            di = (d + half) // m
            dj = d - di * m
            if abs(di) <= R and abs(dj) <= R and 0 <= j + dj < m:
                A[r, (di + R) * W + dj + R] += x
                continue
            # outside the window (or wrapping around to another lattice row, which would land in a
            # slot of this one): no slot, harmless only if its duplicates cancel.  Summed at the
            # first non-zero one, in stored order (sum_duplicates()'s order for sorted rows; the
            # zeros before it add nothing)
            done = False
            for kk in range(indptr[r], k):
                if indices[kk] == c and data[kk] != 0:
                    done = True
                    break
            if done:
                continue
            s = x
            for kk in range(k + 1, indptr[r + 1]):
                if indices[kk] == c:
                    s += data[kk]
            if s != 0:
                return r, c
    return np.int64(-1), np.int64(-1)


_offsets_kernel = lazy_njit(_offsets_py, name="_offsets_kernel", cache=True, nogil=True)
_radius_kernel = lazy_njit(_radius_py, name="_radius_kernel", cache=True, nogil=True)
_scatter = lazy_njit(_scatter_py, name="_scatter", cache=True, nogil=True)


def _small(P):
    return P.indices.size < NUMBA_MIN_NNZ


def _entries(P):
    """Rows and columns of the structurally and numerically non-zero entries of a CSR ``P``."""
    rows = np.repeat(np.arange(P.shape[0], dtype=np.int64), np.diff(P.indptr))
    cols = P.indices.astype(np.int64)
    keep = P.data != 0.0
    if not keep.all():
        rows, cols = rows[keep], cols[keep]
    return rows, cols


def _split(d, m):
    """Offsets ``d = di m + dj`` split with ``|dj| <= m / 2``."""
    di = np.floor_divide(d + m // 2, m)
    return di, d - di * m


def _radius(P, m, rmax=RMAX):
    """``R`` if every non-zero of the CSR ``P`` lies within ``R <= rmax`` rows and columns on rows of
    length ``m`` without wrapping around, else ``None``."""
    if not _small(P):
        R = _radius_kernel(P.indptr, P.indices, P.data, m, rmax)
        return None if R < 0 else int(R)
    rows, cols = _entries(P)
    if rows.size == 0:
        return 0
    di, dj = _split(cols - rows, m)
    j2 = rows % m + dj
    if j2.min() < 0 or j2.max() >= m:
        return None
    R = int(max(np.abs(di).max(), np.abs(dj).max()))
    return None if R > rmax else R


def _offsets(P):
    """The distinct values of ``column - row`` over the numerically non-zero entries of a CSR ``P``, sorted."""
    N = P.shape[0]
    if _small(P):
        rows, cols = _entries(P)
        d = cols - rows
        if d.size == 0:
            return d
        span = int(np.abs(d).max())
        if span < 1 << 24:
            return np.flatnonzero(np.bincount(d + span, minlength=2 * span + 1)) - span
        return np.unique(d)
    # one byte per possible offset; zero pages until touched, and a lattice touches a few rows' worth
    seen = np.zeros(N + P.shape[1], dtype=np.uint8)
    lo, hi, count = _offsets_kernel(P.indptr, P.indices, P.data, seen)
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(seen[lo + N - 1:hi + N]) + int(lo)


def _regular_axis(values, name):
    """``(index, count)`` of each value on a regularly spaced axis, or ``(None, reason)``."""
    levels = np.unique(values)
    if levels.size < MIN_SIDE:
        return None, f"coordinates: axis {name} has {levels.size} distinct values (fewer than {MIN_SIDE})"
    step = np.diff(levels)
    h = float(np.median(step))
    if not np.all(np.abs(step - h) <= 1e-6 * h):
        return None, f"coordinates: the values along axis {name} are not evenly spaced"
    idx = np.rint((values - levels[0]) / h)
    if np.max(np.abs(values - levels[0] - idx * h)) > 1e-6 * h:
        return None, f"coordinates: axis {name} is not a regular lattice"
    return idx.astype(np.int64), levels.size


def _from_coordinates(P, coordinates):
    X = np.asarray(coordinates, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        got = f"shape {X.shape}" if X.ndim != 2 else f"{X.shape[1]} columns"
        return None, f"coordinates must be an (n, 2) array for a 2-D lattice, got {got}"
    a, na = _regular_axis(X[:, 0], 0)
    if a is None:
        return None, na
    b, nb = _regular_axis(X[:, 1], 1)
    if b is None:
        return None, nb
    if na * nb != P.shape[0]:
        return None, f"coordinates: {na} x {nb} lattice points for {P.shape[0]} variables"
    pos = a * nb + b
    if np.any(np.bincount(pos, minlength=na * nb) != 1):
        return None, "coordinates: two variables share a lattice point"
    order = np.argsort(pos, kind="stable")
    ident = bool(np.all(order == np.arange(order.size)))
    Q = P if ident else P[order][:, order].tocsr()
    R = _radius(Q, nb)
    if R is None:
        return None, (f"P couples variables more than {RMAX} lattice rows or columns apart on the "
                      f"{na} x {nb} lattice of its coordinates")
    return Lattice((na, nb), max(R, 1), None if ident else order), None


def find_lattice(P, coordinates=None):
    """``(Lattice, None)`` when ``P`` is a variable-stencil operator on a 2-D lattice, else ``(None, reason)``.

    Parameters
    ----------
    P : (N, N) sparse matrix
        The matrix (CSR or anything scipy converts to CSR).
    coordinates : (N, 2) array_like, optional
        Positions of the variables.  When given they alone decide the
        lattice (a regular one, in any order); without them the variables
        must be in lexicographic (row-major) order.

    Returns
    -------
    (Lattice or None, str or None)

    Notes
    -----
    Without coordinates every row length ``m`` dividing ``N`` with both
    sides at least :data:`MIN_SIDE` is a candidate; the distinct offsets
    ``column - row`` (at most ``(2 RMAX + 1)^2`` of them on a lattice) give
    each candidate's radius, and the candidates are checked on every
    non-zero, smallest radius first.  A matrix that two row lengths fit
    with the same radius (block-diagonal rows, say) is refused as
    ambiguous, as are diagonal matrices (any row length fits).

    Examples
    --------
    The same Laplacian with its variables shuffled: refused without
    coordinates, recognised with them.

    >>> import numpy as np, scipy.sparse as sp
    >>> lap = lambda k: sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(k, k))
    >>> P = sp.kronsum(lap(9), lap(16)).tocsr()          # 16 rows of 9
    >>> perm = np.random.default_rng(0).permutation(144)
    >>> Q = P[perm][:, perm]
    >>> find_lattice(Q)[0] is None
    True
    >>> ij = np.stack(np.divmod(np.arange(144), 9), axis=1)[perm]   # each variable's (row, column)
    >>> lat, _ = find_lattice(Q, coordinates=ij)
    >>> lat.shape, bool(np.array_equal(perm[lat.order], np.arange(144)))
    ((16, 9), True)
    """
    P = sp.csr_matrix(P)
    N = P.shape[0]
    if coordinates is not None:
        return _from_coordinates(P, coordinates)
    offs = _offsets(P)
    if offs.size > (2 * RMAX + 1) ** 2:
        return None, f"P has {offs.size} distinct diagonals, more than a stencil of radius {RMAX} has"
    if np.all(offs == 0):
        return None, "P is diagonal: every row length fits, no lattice to find"
    candidates = []
    for m in range(MIN_SIDE, N // MIN_SIDE + 1):
        if N % m:
            continue
        di, dj = _split(offs, m)
        R = int(max(np.abs(di).max(), np.abs(dj).max()))
        if R <= RMAX and 2 * R < m:
            candidates.append((R, m))
    found = None
    for R, m in sorted(candidates):
        if found is not None and R > found.radius:
            break
        if _radius(P, m) is None:
            continue
        if found is not None:
            return None, (f"P fits both {found.shape[0]} x {found.shape[1]} and {N // m} x {m} lattices "
                          f"(radius {R}): ambiguous")
        found = Lattice((N // m, m), R)
    if found is None:
        return None, (f"no row length m with both sides >= {MIN_SIDE} puts every non-zero within {RMAX} "
                      f"rows and columns of its diagonal without wrapping around")
    return found, None


_FOUND = weakref.WeakKeyDictionary()


def lattice_of(prob):
    """:func:`find_lattice` of a :class:`~qpsolve.BoxQP`'s ``P`` and ``coordinates``, remembered per problem.

    Problems with a ``grid`` are not looked at (their grid says more).
    """
    if prob.grid is not None:
        return None, "the problem has a grid"
    try:
        return _FOUND[prob]
    except KeyError:
        pass
    res = find_lattice(prob.P, prob.coordinates)
    _FOUND[prob] = res
    return res


def stencil_array(P, shape, radius):
    """The variable stencils of a lattice-ordered ``P``: ``A[p, (di + R)(2R + 1) + dj + R]``.

    ``P`` must be an operator on ``shape`` of radius ``radius`` in lattice
    order (:func:`find_lattice`, :meth:`Lattice.permuted`).  Duplicates are
    summed and stored zeros skipped, as ``sum_duplicates()`` and
    ``eliminate_zeros()`` would: three or more duplicates of one entry are
    summed in stored order, scipy's order whenever the row's indices are
    sorted.  The sums are taken in float64 (a float32 ``P`` with duplicates
    may differ from scipy's own float32 sum).

    Raises
    ------
    ValueError
        If a non-zero (after summing its duplicates) lies outside the
        window of ``radius`` rows and columns, or wraps around from the end
        of one lattice row to another.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> lap = lambda k: sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(k, k))
    >>> A = stencil_array(sp.kronsum(lap(8), lap(8)).tocsr(), (8, 8), 1)
    >>> A[9].reshape(3, 3).tolist()       # pixel (1, 1): the 5-point stencil
    [[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]]
    """
    P = sp.csr_matrix(P)
    n, m = shape
    W = 2 * radius + 1
    A = np.zeros((n * m, W * W))
    # duplicates summed and stored zeros skipped as sum_duplicates() and eliminate_zeros() would
    # (the radius was measured on the non-zeros, so a stored zero further out has no slot)
    r, c = _scatter(P.indptr, P.indices, P.data, m, radius, A)
    if r >= 0:
        raise ValueError(f"P[{r}, {c}] is non-zero and lies more than {radius} rows or columns from its "
                         f"diagonal on rows of length {m}, or wraps around to another row: no stencil of "
                         f"radius {radius}")
    return A


def grid_model_of(prob):
    """The :class:`~qpsolve.model.operators.GridSpec` whose operator a plain matrix is, or ``None``.

    A constant-coefficient grid energy handed over as a matrix (the 2-bit
    Gaussian as CSR) is one of the models on its lattice; named, it gets the
    grid solvers (``pdas``'s exact fast inverses).  Checked here by one
    product with a random vector per candidate model and boundary rule of
    the lattice's radius (``odd`` and ``even``: a ``periodic`` operator
    wraps around, so it is no lattice); :class:`~qpsolve.BoxQP` then checks
    the match exactly when the grid is attached.

    Examples
    --------
    >>> import qpsolve as qs
    >>> from qpsolve.model.operators import energy_matrix
    >>> prob = qs.BoxQP(energy_matrix((16, 12), "biharmonic", "even"), 0.0, 1.0)
    >>> g = grid_model_of(prob)
    >>> g.shape, g.model, g.bc
    ((16, 12), 'biharmonic', 'even')
    """
    from ..model.operators import GridSpec

    lat, _ = lattice_of(prob)
    if lat is None or lat.order is not None:
        return None
    v = np.random.default_rng(0).normal(size=prob.n)
    Pv = prob.P @ v
    scale = float(np.abs(Pv).max(initial=0.0)) + 1.0
    for model in ("laplace", "biharmonic", "triharmonic", "thin-plate"):
        for bc in ("odd", "even"):
            grid = GridSpec(lat.shape, model, bc)
            op = grid.energy()
            if op.radius != lat.radius:
                continue
            if float(np.abs(op.matvec(v) - Pv).max()) <= 1e-12 * scale:
                return grid
    return None
