"""Is a sparse matrix a 3-D grid model's energy?  Exact recognition, and the model's fast inverse.

A researcher who builds the 3-D biharmonic of an ``(n0, n1, n2)`` volume
(``energy_matrix(shape, "biharmonic", "even")``, or by hand) and hands it
over as a plain CSR matrix gives the solvers no grid.  Under the ``even``
(Neumann) rule its energy is ``f(L_0 + L_1 + L_2)`` with ``f(mu) = mu``
(laplace), ``mu^2`` (biharmonic, and thin-plate, which equals it) or
``mu^3`` (triharmonic): diagonalised by the 3-D DCT-II, so it has an exact
fast inverse (:class:`qpsolve.linalg.separable.SeparableInverse`).

:func:`find_volume` never guesses.  The shape comes from the matrix's
offsets ``column - row`` (C order: ``d = d0 n1 n2 + d1 n2 + d2``; those of
a few thousand rows spread over ``P`` propose, the check below disposes):
every pair of trailing sides ``(n1, n2)`` with ``n1 n2 | N`` that splits
the offsets into steps of at most ``RMAX`` along each axis is a candidate,
smallest radius first.  Each candidate and model is then checked on **every**
non-zero: it must land inside the box (no wrap-around from one row or plane
to the next) and equal ``c`` times the model's entry (``c > 0`` one scale
for the whole matrix, to round-off), and each row must hold exactly as many
non-zeros as the model's.  The model's entries come from the model built on
a small box (``4R + 1`` a side at most): an entry depends only on its row's
distance to each face (up to ``2R``) and its offset.  Anything else -- a
permuted or perturbed matrix, the ``odd`` rule, a 2-D lattice, a graph -- is
refused with the reason.

Examples
--------
>>> from qpsolve.model.operators import energy_matrix
>>> vol, why = find_volume(energy_matrix((8, 10, 12), "biharmonic", "even"))
>>> vol.shape, vol.model, vol.scale, why
((8, 10, 12), 'biharmonic', 1.0, None)
>>> find_volume(energy_matrix((8, 10, 12), "biharmonic", "odd"))[1]
'P is not a positive multiple of the even-rule laplace, biharmonic or triharmonic energy on the box 8 x 10 x 12'
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numba import njit

from ..model.spectra import second_difference_eigenvalues
from ..problem import box_start
from .separable import SeparableInverse

__all__ = ["VolumeModel", "SpectralBox", "find_volume", "volume_of", "volume_inverse", "RMAX", "MIN_SIDE",
           "VOLUME_MODELS"]

#: largest stencil radius accepted (the triharmonic has 3)
RMAX = 3
#: every side at least this long (shorter sides leave no interior to tell a model by)
MIN_SIDE = 4
#: model -> (radius, power of the Neumann Laplacian's eigenvalues in its spectrum)
VOLUME_MODELS = {"laplace": (1, 1), "biharmonic": (2, 2), "triharmonic": (3, 3)}
#: relative tolerance of an entry's match (round-off of a matrix assembled another way)
ENTRY_RTOL = 1e-12


@dataclass(frozen=True)
class VolumeModel:
    """A volume's energy: ``scale`` times a grid model's ``even``-rule energy on ``shape``.

    Attributes
    ----------
    shape : (int, int, int)
    model : str
        ``laplace``, ``biharmonic``, ``triharmonic`` or ``mixed`` (only from a
        declared grid).
    scale : float
    alpha, beta : float
        Weights of ``mixed``.
    """

    shape: tuple
    model: str
    scale: float = 1.0
    alpha: float = 1.0
    beta: float = 1.0

    def spectrum(self, shape=None):
        """Eigenvalues in 3-D DCT-II order on ``shape`` (default: the model's own)."""
        shape = self.shape if shape is None else tuple(shape)
        mu = (second_difference_eigenvalues(shape[0], "dct")[:, None, None]
              + second_difference_eigenvalues(shape[1], "dct")[None, :, None]
              + second_difference_eigenvalues(shape[2], "dct")[None, None, :])
        if self.model == "mixed":
            return self.scale * (self.alpha * mu + self.beta * mu ** 2)
        return self.scale * mu ** VOLUME_MODELS[self.model][1]

    def matrix(self, shape=None):
        """The model's CSR matrix on ``shape`` (default: its own), times :attr:`scale`."""
        from ..model.operators import energy_matrix

        P = energy_matrix(self.shape if shape is None else tuple(shape), self.model, "even",
                          alpha=self.alpha, beta=self.beta)
        return P if self.scale == 1.0 else (self.scale * P).tocsr()


def volume_inverse(model, shape=None):
    """The exact fast inverse of ``model``'s energy on ``shape``: a :class:`SeparableInverse` (3-D DCT-II).

    Examples
    --------
    >>> vm = VolumeModel((4, 5, 6), "biharmonic", 2.0)
    >>> A, inv = vm.matrix(), volume_inverse(vm)
    >>> v = A @ np.random.default_rng(0).normal(size=120)
    >>> bool(np.allclose(A @ inv.solve(v), v))
    True
    """
    return SeparableInverse(model.spectrum(shape))


class SpectralBox:
    """A box QP ``min 1/2 x^T A x`` over ``[lower, upper]`` whose ``A`` is applied by its transform, never assembled.

    What a coarse level of the ``volume`` backend needs from a problem
    (:func:`qpsolve.linalg.facenewton.face_newton` with ``certify=False``,
    :func:`qpsolve.linalg.search.projected_search`): bounds, ``q = 0``,
    products, the projection and a start point.

    Parameters
    ----------
    inverse : SeparableInverse
        The energy's fast inverse (its :meth:`~SeparableInverse.apply` is the product).
    lower, upper : ndarray
        Flat bounds.

    Examples
    --------
    >>> vm = VolumeModel((4, 5, 6), "biharmonic")
    >>> box = SpectralBox(volume_inverse(vm), np.zeros(120), np.ones(120))
    >>> v = np.random.default_rng(0).normal(size=120)
    >>> bool(np.allclose(box.matvec(v), vm.matrix() @ v)), bool(np.allclose(box.diag, vm.matrix().diagonal().mean()))
    (True, True)
    """

    def __init__(self, inverse, lower, upper):
        self.inverse = inverse
        self.lower = np.asarray(lower, dtype=np.float64).ravel()
        self.upper = np.asarray(upper, dtype=np.float64).ravel()
        self.n = self.lower.size
        self.q = np.zeros(self.n)
        # the mean of the diagonal (the spectrum's mean): only the search's fallback scales by it
        self.diag = np.full(self.n, float(inverse.eigenvalues.mean()) or 1.0)

    def matvec(self, v):
        return self.inverse.apply(v)

    def project(self, x, out=None):
        return np.minimum(np.maximum(x, self.lower, out=out), self.upper, out=out)

    def start_point(self):
        return box_start(self.lower, self.upper)


def _split(d, n1, n2):
    """Offsets ``d = d0 n1 n2 + d1 n2 + d2`` split with ``|d2| <= n2 / 2`` and ``|d1| <= n1 / 2``."""
    q = np.floor_divide(d + n2 // 2, n2)
    d2 = d - q * n2
    d0 = np.floor_divide(q + n1 // 2, n1)
    return d0, q - d0 * n1, d2


def _divisors(n):
    small = [k for k in range(1, int(np.sqrt(n)) + 1) if n % k == 0]
    return sorted(set(small + [n // k for k in small]))


def _candidates(offsets, N):
    """``(radius, (n0, n1, n2))`` for each box whose sides split every offset into steps <= :data:`RMAX`."""
    out = []
    for n2 in _divisors(N):
        if n2 < MIN_SIDE:
            continue
        for n1 in _divisors(N // n2):
            n0 = N // (n2 * n1)
            if min(n0, n1) < MIN_SIDE:
                continue
            R = int(max(np.abs(np.stack(_split(offsets, n1, n2))).max(), 0))
            if R <= RMAX and 2 * R < min(n0, n1, n2):
                out.append((R, (n0, n1, n2)))
    return sorted(out)


def _classes(n, R):
    """Row class along one axis: its index on the reference box of side ``min(n, 4R + 1)``."""
    s = min(n, 4 * R + 1)
    i = np.arange(n)
    return np.where(i < 2 * R, i, np.where(i > n - 1 - 2 * R, s - n + i, 2 * R)).astype(np.int64), s


def _reference(model, R, sides):
    """The model's stencils on the small box: ``table[c0, c1, c2, d0 + R, d1 + R, d2 + R]`` and the
    number of non-zeros of each row class."""
    from ..model.operators import energy_matrix

    E = energy_matrix(sides, model, "even").tocoo()
    W = 2 * R + 1
    c = np.unravel_index(E.row, sides)
    t = np.unravel_index(E.col, sides)
    table = np.zeros(tuple(sides) + (W, W, W))
    keep = E.data != 0.0
    idx = tuple(a[keep] for a in c) + tuple(b[keep] - a[keep] + R for a, b in zip(c, t))
    table[idx] = E.data[keep]
    counts = np.zeros(tuple(sides), dtype=np.int64)
    np.add.at(counts, tuple(a[keep] for a in c), 1)
    return table, counts


@njit(cache=True, nogil=True)
def _mismatch(indptr, indices, data, shape, R, cls0, cls1, cls2, table, counts, scale, atol):
    """First row whose entries differ from ``scale * table`` (or whose count differs), else -1."""
    n0, n1, n2 = shape
    for p in range(n0 * n1 * n2):
        i0 = p // (n1 * n2)
        i1 = (p // n2) % n1
        i2 = p % n2
        c0, c1, c2 = cls0[i0], cls1[i1], cls2[i2]
        seen = 0
        for k in range(indptr[p], indptr[p + 1]):
            v = data[k]
            if v == 0.0:
                continue
            d = np.int64(indices[k]) - p
            q = (d + n2 // 2) // n2
            d2 = d - q * n2
            d0 = (q + n1 // 2) // n1
            d1 = q - d0 * n1
            if abs(d0) > R or abs(d1) > R or abs(d2) > R:
                return p
            j0, j1, j2 = i0 + d0, i1 + d1, i2 + d2
            if j0 < 0 or j0 >= n0 or j1 < 0 or j1 >= n1 or j2 < 0 or j2 >= n2:
                return p
            e = table[c0, c1, c2, d0 + R, d1 + R, d2 + R]
            if e == 0.0 or abs(v - scale * e) > atol:
                return p
            seen += 1
        if seen != counts[c0, c1, c2]:
            return p
    return -1


def _match(P, shape, model):
    """``scale`` when ``P`` equals ``scale`` times ``model``'s ``even`` energy on ``shape``, else ``None``."""
    R = VOLUME_MODELS[model][0]
    (cls0, s0), (cls1, s1), (cls2, s2) = (_classes(n, R) for n in shape)
    table, counts = _reference(model, R, (s0, s1, s2))
    # the scale from row 0's diagonal (a corner: non-zero for every model here)
    diag = P.data[P.indptr[0]:P.indptr[1]][P.indices[P.indptr[0]:P.indptr[1]] == 0]
    ref = table[cls0[0], cls1[0], cls2[0], R, R, R]
    if diag.size != 1 or ref == 0.0:
        return None
    scale = float(diag[0]) / float(ref)
    if not (np.isfinite(scale) and scale > 0):
        return None
    atol = ENTRY_RTOL * scale * float(np.abs(table).max())
    bad = _mismatch(P.indptr, P.indices, np.asarray(P.data, dtype=np.float64),
                    np.array(shape, dtype=np.int64), R, cls0, cls1, cls2, table, counts, scale, atol)
    return scale if bad < 0 else None


#: rows whose offsets propose the shapes (any offset elsewhere that the shape does not fit fails the check)
SAMPLE_ROWS = 4096


def _offsets(P):
    """The distinct ``column - row`` of the non-zeros of :data:`SAMPLE_ROWS` rows spread over ``P``."""
    N = P.shape[0]
    rows = np.unique(np.linspace(0, N - 1, min(N, SAMPLE_ROWS)).astype(np.int64))
    start, stop = P.indptr[rows], P.indptr[rows + 1]
    take = np.concatenate([np.arange(a, b) for a, b in zip(start, stop)]) if rows.size else np.zeros(0, np.int64)
    owner = np.repeat(rows, stop - start)
    keep = P.data[take] != 0.0
    return np.unique(P.indices[take][keep].astype(np.int64) - owner[keep])


def find_volume(P):
    """``(VolumeModel, None)`` when ``P`` is a 3-D grid model's ``even``-rule energy, else ``(None, reason)``.

    Parameters
    ----------
    P : (N, N) sparse matrix
        The matrix, its variables in C order on the volume (the last axis
        fastest, as ``numpy.ravel``).

    Returns
    -------
    (VolumeModel or None, str or None)

    Examples
    --------
    A non-cube volume, a scaled one, and a perturbed one:

    >>> from qpsolve.model.operators import energy_matrix
    >>> find_volume(energy_matrix((6, 9, 16), "laplace", "even"))[0]
    VolumeModel(shape=(6, 9, 16), model='laplace', scale=1.0, alpha=1.0, beta=1.0)
    >>> find_volume(0.5 * energy_matrix((8, 8, 8), "triharmonic", "even"))[0].scale
    0.5
    >>> P = energy_matrix((8, 8, 8), "biharmonic", "even").tolil(); P[9, 9] += 1e-6
    >>> find_volume(P)[1]
    'P is not a positive multiple of the even-rule laplace, biharmonic or triharmonic energy on the box 8 x 8 x 8'
    """
    P = sp.csr_matrix(P)
    if P.ndim != 2 or P.shape[0] != P.shape[1]:
        return None, f"P must be square, got shape {P.shape}"
    if not P.has_canonical_format:
        P = P.copy()
        P.sum_duplicates()
    N = P.shape[0]
    offsets = _offsets(P)
    if offsets.size > (2 * RMAX + 1) ** 3:
        return None, f"P has {offsets.size} distinct diagonals, more than a 3-D stencil of radius {RMAX} has"
    if offsets.size == 0 or np.all(offsets == 0):
        return None, "P is diagonal: no volume to find"
    cands = _candidates(offsets, N)
    if not cands:
        return None, (f"no box with sides >= {MIN_SIDE} puts every diagonal of P within {RMAX} steps along "
                      f"each axis")
    found, tried = [], []
    for R, shape in cands:
        if found and R > found[0][0]:
            break
        for model, (radius, _) in VOLUME_MODELS.items():
            if radius != R:
                continue
            scale = _match(P, shape, model)
            if scale is not None:
                found.append((R, VolumeModel(shape, model, float(scale))))
        tried.append(shape)
    if len(found) > 1:
        return None, f"P is the energy of more than one box ({found[0][1].shape} and {found[1][1].shape}): ambiguous"
    if not found:
        boxes = " or ".join(" x ".join(str(s) for s in shape) for shape in tried[:3])
        return None, (f"P is not a positive multiple of the even-rule laplace, biharmonic or triharmonic energy "
                      f"on the box {boxes}")
    return found[0][1], None


_FOUND = weakref.WeakKeyDictionary()


def volume_of(prob):
    """The :class:`VolumeModel` of a :class:`~qpsolve.BoxQP` (``None`` and the reason when it has none),
    remembered per problem.

    A declared 3-D ``grid`` with the ``even`` rule (checked against ``P`` by
    :class:`~qpsolve.BoxQP`) is taken as it is; a plain matrix goes through
    :func:`find_volume`.

    Examples
    --------
    >>> import qpsolve as qs
    >>> from qpsolve.model.operators import energy_matrix
    >>> prob = qs.BoxQP(energy_matrix((8, 8, 9), "biharmonic", "even"), 0.0, 1.0)
    >>> volume_of(prob)[0].shape
    (8, 8, 9)
    >>> volume_of(qs.BoxQP(energy_matrix((16, 16), "biharmonic", "even"), 0.0, 1.0))[1]
    'no box with sides >= 4 puts every diagonal of P within 3 steps along each axis'
    """
    try:
        return _FOUND[prob]
    except KeyError:
        pass
    grid = prob.grid
    if grid is not None:
        if len(grid.shape) != 3:
            res = None, f"the problem's grid is {len(grid.shape)}-D, not a volume"
        elif grid.bc != "even":
            res = None, f"no fast 3-D inverse for the {grid.bc!r} rule (only 'even')"
        elif grid.model == "mixed":
            res = VolumeModel(tuple(grid.shape), "mixed", 1.0, grid.alpha, grid.beta), None
        else:
            model = "biharmonic" if grid.model == "thin-plate" else grid.model
            res = VolumeModel(tuple(grid.shape), model), None
    else:
        res = find_volume(prob.P)
    _FOUND[prob] = res
    return res
