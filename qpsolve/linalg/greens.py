"""Discrete Green's functions: exact fast inverses of grid energy matrices.

On a regular 2-D grid the energy matrices of :mod:`qpsolve.model.operators`
are diagonalised by fast transforms for the boundary rules most images use:

``even`` (and every model whose ``P`` is a polynomial in the Neumann Laplacian:
``laplace``, ``biharmonic``, ``thin-plate`` (which equals ``biharmonic`` there),
``triharmonic`` and ``mixed``)
    the 2-D DCT-II; the null space is the constants.
``periodic`` (the same models)
    the 2-D FFT; the null space is the constants.
``odd`` (``biharmonic``, and ``laplace`` whose ``P`` ignores the rule)
    ``P = L^T L`` where ``L`` is block triangular: the Dirichlet Laplacian on
    the inner pixels (DST-I), 1-D second differences along each border edge
    (DST-I), and nothing at the four corners.  The null space is 4-dimensional
    (spanned by ``1``, ``i``, ``j`` and ``i j``).  Where the inner DST-I's
    length factors badly (power-of-two sides from 128 on), the inner solves run
    in the basis of the grid one pixel larger
    (:mod:`~qpsolve.linalg.dirichlet_embedding`).

:class:`GridGreen` applies a generalised inverse ``P^g`` (``P P^g P = P``) in
``O(N log N)`` and evaluates any block ``E_a^T P^g E_b`` of it (the Green's
function between two sets of pixels) by the method of images, from one
tabulated periodic kernel, in ``O(|a| |b|)``.  The ``pdas`` solver builds its
small dense Schur complements from these blocks.  :func:`shared_green` hands
problems on equal grids one shared instance, and small grids that are solved
again and again (the tiles of a large image) keep all of ``P^g`` as a dense
table, so their blocks are gathers.
"""

from __future__ import annotations

import functools
import threading

import numpy as np
import scipy.fft as sfft
import scipy.linalg.blas as sla_blas

from ..model.spectra import dst_basis_rows, second_difference_eigenvalues
from .dirichlet_embedding import DirichletEmbedding, embedding_pays
from .lazyjit import lazy_njit

__all__ = ["GridGreen", "NullBasis", "green_support", "shared_green", "count_problem"]

#: edges up to this many pixels keep whole traces (one product per edge in a Gram block)
FULL_TRACE_EDGE = 128
#: truncated edge traces keep at least this many modes (their lengths are this times a power of two)
MIN_TRACE_MODES = 16
#: grids up to this many pixels get a dense table of ``P^g`` once they are reused ...
DENSE_TABLE_PIXELS = 4096
#: ... by this many problems in one process (tiles of one shape, their coarse levels).  A 64 x 64
#: table costs about as much as one or two tiles solved without it save, so four: the tiled camera ran
#: about 7 % faster than with sixteen, same bits (benchmarks/results/greens/notes-session10.md)
DENSE_TABLE_AFTER = 4
#: rows of the dense table evaluated per block (bounds the index temporaries)
_TABLE_ROWS = 256
#: larger grids are not shared: their tables would outlive the solve (about 100 MB at 2048^2),
#: and building them is a small part of solving them
SHARED_MAX_PIXELS = 2**16


class NullBasis:
    """``k`` orthonormal grid functions ``a_k (x) b_k``, stored as their 1-D factors.

    A dense ``(n m, k)`` array would cost ``k`` full images (134 MB for the
    four ``odd`` null vectors at 2048x2048); the factors cost two short
    arrays, and every product the solvers need stays ``O(n m)``.

    Parameters
    ----------
    rows, cols : ndarray, shapes (n, k) and (m, k)
        Column ``k`` of the basis is ``outer(rows[:, k], cols[:, k]).ravel()``
        up to normalisation (each column is scaled to unit length).

    Examples
    --------
    >>> import numpy as np
    >>> B = NullBasis(np.ones((3, 1)), np.ones((2, 1)))
    >>> B.toarray().ravel().round(4).tolist()
    [0.4082, 0.4082, 0.4082, 0.4082, 0.4082, 0.4082]
    >>> float(B.tdot(np.arange(6.0))[0] * np.sqrt(6))   # the sum of the entries
    15.0
    """

    def __init__(self, rows, cols):
        rows = np.asarray(rows, dtype=np.float64)
        cols = np.asarray(cols, dtype=np.float64)
        self.rows = rows / np.linalg.norm(rows, axis=0)
        self.cols = cols / np.linalg.norm(cols, axis=0)
        self.grid = (rows.shape[0], cols.shape[0])
        self.shape = (rows.shape[0] * cols.shape[0], rows.shape[1])

    def take(self, idx):
        """Rows ``idx`` (flat pixel indices) of the basis, shape ``(len(idx), k)``."""
        i, j = np.divmod(np.asarray(idx, dtype=np.int64), self.grid[1])
        return self.rows[i] * self.cols[j]

    def dot(self, c):
        """``N @ c`` as a flat vector."""
        return ((self.rows * np.asarray(c, dtype=np.float64)) @ self.cols.T).ravel()

    def tdot(self, v):
        """``N.T @ v`` for a flat vector ``v``."""
        V = np.asarray(v, dtype=np.float64).reshape(self.grid)
        return np.einsum("ik,ij,jk->k", self.rows, V, self.cols, optimize=True)

    def toarray(self):
        """The dense ``(n m, k)`` array."""
        return (self.rows[:, None, :] * self.cols[None, :, :]).reshape(self.shape)

#: models whose even/periodic matrix is ``f(mu)`` of the Laplacian eigenvalue ``mu``
_SPECTRAL = ("laplace", "biharmonic", "thin-plate", "triharmonic", "mixed")
#: smallest axis length handled (the odd rule needs inner pixels and edges)
MIN_AXIS = 4


def green_support(grid):
    """``None`` when :class:`GridGreen` can invert ``grid``'s matrix, else the reason.

    Examples
    --------
    >>> from qpsolve.model.operators import GridSpec
    >>> green_support(GridSpec((64, 64), "biharmonic", "odd")) is None
    True
    >>> green_support(GridSpec((64, 64), "thin-plate", "odd"))
    "model 'thin-plate' with bc 'odd' has no fast inverse (use bc 'even')"
    """
    if grid is None:
        return "the problem carries no grid (not built by image_problem or GridSpec)"
    shape = tuple(grid.shape)
    if len(shape) != 2:
        return f"fast Green's functions are implemented for 2-D grids, got {len(shape)}-D"
    if min(shape) < MIN_AXIS:
        return f"grid {shape} has an axis shorter than {MIN_AXIS}"
    if grid.model not in _SPECTRAL:
        return f"model {grid.model!r} has no fast inverse"
    if grid.model == "mixed" and not (grid.alpha > 0 or grid.beta > 0):
        return "model 'mixed' with alpha = beta = 0 has P = 0: every point of the box is optimal"
    if grid.bc == "odd" and grid.model not in ("biharmonic", "laplace"):
        return f"model {grid.model!r} with bc 'odd' has no fast inverse (use bc 'even')"
    return None


def _trace_lengths(size):
    """Lengths a truncated edge trace may have: powers of two from :data:`MIN_TRACE_MODES`, then ``size``."""
    lengths = [MIN_TRACE_MODES]
    while lengths[-1] < size:
        lengths.append(2 * lengths[-1])
    return np.minimum(lengths, size)


def _tail_bounds(q):
    """Bounds on the tails of the edge traces ``phi[l, c] q[l, r]`` of every pixel of each row ``r``.

    Row ``0`` is ``2 / (L + 1) sum_l q[l, r]^2`` and row ``k`` the same sum over
    ``l >= lengths[k - 1]`` (:func:`_trace_lengths`), ``L = len(q)``: DST-I basis
    values satisfy ``phi[l, c]^2 <= 2 / (L + 1)``, so a pixel's tail energy past
    ``lengths[k - 1]`` modes is at most row ``k``, whatever its ``c``.
    """
    size = q.shape[0]
    starts = [0, *_trace_lengths(size)[:-1].tolist()]
    stops = [*starts[1:], size]
    # block sums, then suffix sums over the few blocks: no (L, n) temporary
    tails = np.array([np.einsum("ij,ij->j", q[a:b], q[a:b]) for a, b in zip(starts, stops)])
    tails = np.cumsum(tails[::-1], axis=0)[::-1]
    tails *= 2.0 / (size + 1)
    return np.ascontiguousarray(tails)


def _in_order(sel, size):
    """``sel`` is ``arange(size)`` (merged traces keep whole groups, but permuted)."""
    return sel.size == size and (size == 0 or (sel[0] == 0 and bool(np.all(sel[1:] > sel[:-1]))))


def _border_frame(shape):
    """An uninitialised ``shape`` array with zero corners, for a solve that writes its edges and
    inner block (``np.zeros`` would write the whole array once more: 32 MB at 2048^2)."""
    x = np.empty(shape)
    x[0, 0] = x[0, -1] = x[-1, 0] = x[-1, -1] = 0.0
    return x


def _fold(d, period):
    """Distance on a circle of ``period`` (kernel tables store one quadrant)."""
    d = np.abs(d)
    d %= period
    return np.minimum(d, period - d, out=d)


def _gram_add_py(out, zr, rsel, zc, csel, length):
    """``out[rsel][:, csel] += zr[:length].T @ zc[:length]``, each entry summed over ``k`` in order.

    BLAS rounds an entry of a product differently by where it falls in the
    output (edge kernels, blocking), so the same entry of ``P^g`` came out of
    two block shapes, or of a block and its transpose, different in the last
    bits.  Here every entry is ``0 + p_0 + p_1 + ...`` whatever the shapes:
    the value depends on the two traces only, and ``(a, b)`` equals
    ``(b, a)``.  Four rows share each load of ``zc``; each row is its own
    sum in ``k`` order, so the blocking does not change any bit.  Compiled
    with contraction, each step is one fused multiply-add where the CPU has
    them, as in BLAS's own kernels: with a separate multiply and add the
    entries moved further from BLAS's, and a degenerate tile (zero energy,
    its multipliers all rounding) took another path, 1 step becoming 97
    (``benchmarks/results/greens/notes.md``).
    """
    nr, nc = zr.shape[1], zc.shape[1]
    t = np.empty((4, nc))
    for i in range(0, nr, 4):
        m = min(4, nr - i)
        t[:m] = 0.0
        if m == 4:
            for k in range(length):
                a0, a1, a2, a3 = zr[k, i], zr[k, i + 1], zr[k, i + 2], zr[k, i + 3]
                for j in range(nc):
                    z = zc[k, j]
                    t[0, j] += a0 * z
                    t[1, j] += a1 * z
                    t[2, j] += a2 * z
                    t[3, j] += a3 * z
        else:
            for s in range(m):
                for k in range(length):
                    a = zr[k, i + s]
                    for j in range(nc):
                        t[s, j] += a * zc[k, j]
        for s in range(m):
            r = rsel[i + s]
            for j in range(nc):
                out[r, csel[j]] += t[s, j]


# compiled on first use (see qpsolve.linalg.lazyjit); nogil: colour channels run it side by side
_gram_add = lazy_njit(_gram_add_py, name="_gram_add", cache=True, nogil=True, fastmath={"contract"})


class GridGreen:
    """Exact fast generalised inverse of the energy matrix of a 2-D grid.

    Parameters
    ----------
    grid : GridSpec
        Shape, model, boundary rule and weights (see :func:`green_support`).
    embed : bool, optional
        ``odd`` rule only: solve the inner Dirichlet problems in the basis of
        the grid one pixel larger (:class:`~qpsolve.linalg.dirichlet_embedding.DirichletEmbedding`).
        Default: where that is faster (:func:`~qpsolve.linalg.dirichlet_embedding.embedding_pays`;
        power-of-two sides from 128 on).  The answer is the same up to rounding.

    Attributes
    ----------
    shape : tuple of int
    null_basis : NullBasis
        Orthonormal basis of the null space of ``P``, kept as ``k`` outer
        products of 1-D vectors (``k = 1`` or ``4``); :attr:`nullspace` is
        the same basis as a dense array.
    nullspace : ndarray, shape (N, k)
        Orthonormal basis of the null space of ``P`` (``k = 1`` or ``4``).

    Examples
    --------
    >>> import numpy as np
    >>> from qpsolve.model.operators import GridSpec
    >>> grid = GridSpec((6, 7), "biharmonic", "odd")
    >>> G, P = GridGreen(grid), grid.matrix()
    >>> v = P @ np.random.default_rng(0).normal(size=42)   # any v in range(P)
    >>> bool(np.allclose(P @ G.solve(v), v))
    True
    >>> idx = np.array([0, 8, 20, 33])
    >>> cols = G.solve(np.eye(42)[:, idx])                  # P^g E, by transforms
    >>> bool(np.allclose(G.block(idx, idx), cols[idx]))    # E^T P^g E, by images
    True
    """

    def __init__(self, grid, embed=None):
        why = green_support(grid)
        if why is not None:
            raise ValueError(why)
        self.shape = tuple(int(s) for s in grid.shape)
        self.model, self.alpha, self.beta = grid.model, float(grid.alpha), float(grid.beta)
        self.dense = None  # see dense_table()
        self._emb = None  # odd grids whose inner DST-I is slow: see dirichlet_embedding
        self._requests = 0  # see shared_green()
        # laplace's P is built from forward differences only: the rule does not change it.
        self.bc = "even" if (grid.model == "laplace" and grid.bc == "odd") else grid.bc
        n, m = self.shape
        if self.bc == "odd":
            self._lam_inner = -(second_difference_eigenvalues(n - 2, "dst")[:, None]
                                + second_difference_eigenvalues(m - 2, "dst")[None, :])
            self._lam_row = -second_difference_eigenvalues(m - 2, "dst")  # along the top/bottom edges
            self._lam_col = -second_difference_eigenvalues(n - 2, "dst")  # along the left/right edges
            self._period = (2 * (n - 1), 2 * (m - 1))
            self._k2 = self._kernel(lambda mu: 1.0 / mu**2)  # L_II^-2
            phi1 = dst_basis_rows(n - 2, np.arange(n - 2))  # the DST-I matrices of each axis
            phi2 = phi1 if m == n else dst_basis_rows(m - 2, np.arange(m - 2))
            # With h_top[i, l] = sum_k phi1[i, k] phi1[0, k] / lam[k, l] (the inner Green's
            # function between row 1 and row i + 1 in column mode l), inner pixel (i, j)'s
            # top-edge trace in mode l is phi2[l, j] q_row[l, i], q_row = -h_top^T / lam_row.
            # Stored mode-major, so a trace cut to its first modes is a gather of leading rows
            # (q_col likewise for the left edge; the same table on a square grid).
            q_row = self._trace_factors(phi1[0][None, :] / self._lam_inner.T, self._lam_row)
            q_col = q_row if m == n else self._trace_factors(phi2[0][None, :] / self._lam_inner,
                                                             self._lam_col)
            self._trace_tables = (phi1, phi2, q_row, q_col)
            t_row = _tail_bounds(q_row)
            self._tail_tables = (t_row, t_row if m == n else _tail_bounds(q_col))
            # DST-I basis functions at the first and last inner sample of each axis.
            self._edge_modes = (phi1[0], phi1[-1], phi2[0], phi2[-1])
            self._row_modes = np.stack([phi1[0], phi1[-1]])  # (2, n - 2): first and last inner row
            self._col_modes = np.stack([phi2[0], phi2[-1]], axis=1)  # (m - 2, 2): ... column
            self.null_basis = self._odd_nullspace()
            if embed is None:
                embed = embedding_pays(n - 2, m - 2)
            self._emb = DirichletEmbedding(n - 2, m - 2) if embed else None
            if self._emb is not None:
                self._embedded_tables()
                self._lam_inner = None  # the embedding has its own spectrum (32 MB at 2048^2)
        else:
            kind = "dct" if self.bc == "even" else "fft"
            mu = (second_difference_eigenvalues(n, kind)[:, None]
                  + second_difference_eigenvalues(m, kind)[None, :])
            f = self._f(mu)
            with np.errstate(divide="ignore"):
                self._inv = np.where(f > 0, 1.0 / np.where(f > 0, f, 1.0), 0.0)
            self._period = (2 * n, 2 * m) if self.bc == "even" else (n, m)
            self._k2 = self._kernel(lambda mu: 1.0 / self._f(mu))
            self.null_basis = NullBasis(np.ones((n, 1)), np.ones((m, 1)))

    # ------------------------------------------------------------------ spectra and kernels
    def _f(self, mu):
        if self.model == "laplace":
            return mu
        if self.model in ("biharmonic", "thin-plate"):
            return mu**2
        if self.model == "triharmonic":
            return mu**3
        return self.alpha * mu + self.beta * mu**2

    def _kernel(self, func):
        """One quadrant of the periodic kernel ``ifft(func(mu))`` on the image torus."""
        p, r = self._period
        # Even periods: the spectrum is even in both axes, so the quadrant of its inverse
        # transform is a 2-D DCT-I of the spectrum's quadrant -- a quarter of the data, real.
        # An odd period (periodic rule, odd side) needs the general inverse transform.
        general = bool(p % 2 or r % 2)
        rows = p if general else p // 2 + 1
        spec = 4.0 * np.sin(np.pi * np.arange(rows) / p)[:, None] ** 2 + 4.0 * np.sin(
            np.pi * np.arange(r // 2 + 1) / r)[None, :] ** 2
        spec[0, 0] = 1.0
        spec = func(spec)
        spec[0, 0] = 0.0  # the constant mode: removed (images cancel it or P^g ignores it)
        if general:
            k = sfft.irfft2(spec, s=(p, r), workers=-1)
            return np.ascontiguousarray(k[: p // 2 + 1, : r // 2 + 1])
        k = sfft.dctn(spec, type=1, workers=-1, overwrite_x=True)
        k /= p * r
        return k

    @staticmethod
    def _trace_factors(spec, lam):
        """``-h^T / lam``: ``h`` the inner Green's function from one edge row, in the other axis's modes."""
        q = np.ascontiguousarray(sfft.dst(spec, type=1, norm="ortho", axis=1))
        q /= -lam[:, None]
        return q

    def _lookup(self, table, dx, dy):
        p, r = self._period
        flat = _fold(dx, p) * table.shape[1]
        flat += _fold(dy, r)
        return table.ravel()[flat]

    # ------------------------------------------------------------------ P^g v
    def solve(self, v):
        """``P^g v`` for a flat vector (or ``(N, k)`` array of columns).

        For ``v`` in the range of ``P`` the result ``x`` satisfies ``P x = v``;
        other solutions differ by ``nullspace @ c``.
        """
        v = np.asarray(v, dtype=np.float64)
        cols = v.ndim == 2
        n, m = self.shape
        vv = v.reshape((n, m, -1) if cols else (n, m))
        if cols:
            out = np.stack([self._solve2d(vv[:, :, j]) for j in range(vv.shape[2])], axis=2)
            return out.reshape(n * m, -1)
        return self._solve2d(vv).ravel()

    def _solve2d(self, v):
        if self.bc == "even":
            t = sfft.dctn(v, type=2, norm="ortho", workers=-1)
            t *= self._inv
            return sfft.idctn(t, type=2, norm="ortho", workers=-1)
        if self.bc == "periodic":
            t = sfft.fft2(v, workers=-1)
            t *= self._inv
            return sfft.ifft2(t, workers=-1).real
        return self._odd_solve(v)

    def _edge_inv(self, u, axis_len_lam, axis=0):
        """Inverse of the 1-D second difference with zero ends, along ``axis``."""
        shape = [1] * u.ndim
        shape[axis] = -1
        t = sfft.dst(u, type=1, norm="ortho", axis=axis)
        t /= axis_len_lam.reshape(shape)
        return sfft.dst(t, type=1, norm="ortho", axis=axis)

    def _edges_of(self, z):
        """The four edge vectors (top, bottom, left, right) of a full grid array."""
        return z[0, 1:-1], z[-1, 1:-1], z[1:-1, 0], z[1:-1, -1]

    def _embedded_tables(self):
        e = self._emb
        n1, n2 = self.shape[0] - 2, self.shape[1] - 2
        # Large-grid basis values on the first, last inner and G's row (column).
        self._emb_rows = e.row_basis([0, n1 - 1, n1])
        self._emb_cols = e.col_basis([0, n2 - 1, n2])
        # What the correction's sources give on the rows and columns next to the edges,
        # for the parts that do not depend on the field (the source along G's other side).
        self._emb_row_const = (e.inv.T @ (self._emb_rows[:2].T * e.phi_last[:, None])).T
        self._emb_col_const = e.inv @ (self._emb_cols[:, :2] * e.psi_last[:, None])

    def _edge_solutions(self, v, zi_rows, zi_cols):
        """The border values of ``P^g v``, given ``L_II^-1 v_I`` next to each edge."""
        top, bottom, left, right = self._edges_of(v)
        ze = (self._edge_inv(top - zi_rows[0], self._lam_row), self._edge_inv(bottom - zi_rows[1], self._lam_row),
              self._edge_inv(left - zi_cols[:, 0], self._lam_col),
              self._edge_inv(right - zi_cols[:, 1], self._lam_col))
        return (self._edge_inv(ze[0], self._lam_row), self._edge_inv(ze[1], self._lam_row),
                self._edge_inv(ze[2], self._lam_col), self._edge_inv(ze[3], self._lam_col))

    def _odd_solve(self, v):
        if self._emb is not None:
            return self._odd_solve_embedded(v)
        # Unknowns (inner I, edges E, corners C); L = [[L_II, L_IE, 0], [0, L_EE, L_EC], 0],
        # so P = T^T D T with T = L plus the identity on C, D = 1 on I, E.  P^g = T^-1 D T^-T.
        # Both inner solves share the DST-I basis, and the edges only meet the first and
        # last inner rows and columns, so the work stays in spectral space: two 2-D
        # transforms in all, plus rank-one terms for the edge couplings.
        t = sfft.dstn(v[1:-1, 1:-1], type=1, norm="ortho", workers=-1)
        t /= self._lam_inner  # spectrum of z_I = L_II^-1 v_I
        # z_I on the inner rows/columns next to each edge, without leaving spectral space
        # (one pass over t for both rows, one for both columns).
        zi_rows = sfft.dst(self._row_modes @ t, type=1, norm="ortho", axis=1)
        zi_cols = sfft.dst(t @ self._col_modes, type=1, norm="ortho", axis=0)
        # x = T^-1 (z_I, z_E, 0): edges first, then the inner solve with the edges as data.
        xe = self._edge_solutions(v, zi_rows, zi_cols)
        d = [sfft.dst(e, type=1, norm="ortho") for e in xe]
        # The four edge couplings are one rank-4 update, made in place: t^T is Fortran-ordered,
        # so BLAS writes t -= U V without a temporary of t's size.
        U = np.column_stack([self._row_modes[0], self._row_modes[1], d[2], d[3]])
        V = np.vstack([d[0], d[1], self._col_modes[:, 0], self._col_modes[:, 1]])
        t = sla_blas.dgemm(-1.0, V.T, U.T, beta=1.0, c=t.T, overwrite_c=True).T
        t /= self._lam_inner
        x = _border_frame(self.shape)
        x[1:-1, 1:-1] = sfft.dstn(t, type=1, norm="ortho", workers=-1)
        x[0, 1:-1], x[-1, 1:-1], x[1:-1, 0], x[1:-1, -1] = xe
        return x

    def _odd_solve_embedded(self, v):
        # The same steps as _odd_solve, each inner solve in the basis of the grid one pixel
        # larger (see dirichlet_embedding): spectra are (n - 1, m - 1), and every L_II^-1 ends
        # with the correction that makes its field vanish on the extra row and column G.
        e = self._emb
        n, m = self.shape
        n1, n2 = n - 2, m - 2
        a = e.spectrum(v[1:-1, 1:-1])  # kept: the second inner solve is written over it
        t = a * e.inv  # z_I = L_II^-1 v_I, before the correction
        rows, cols = self._emb_rows @ t, t @ self._emb_cols
        s_col, s_row = e.sources(rows[2], cols[:, 2])
        # The corrected z_I next to each edge, without forming the corrected spectrum.
        rows = (rows[:2] - e.psi_last * (e.inv.T @ (self._emb_rows[:2].T * s_col[:, None])).T
                - s_row * self._emb_row_const)
        cols = (cols[:, :2] - s_col[:, None] * self._emb_col_const
                - e.phi_last[:, None] * (e.inv @ (self._emb_cols[:, :2] * s_row[:, None])))
        xe = self._edge_solutions(v, sfft.dst(rows, type=1, norm="ortho", axis=1)[:, :n2],
                                  sfft.dst(cols, type=1, norm="ortho", axis=0)[:n1])
        d = [sfft.dst(np.append(x, 0.0), type=1, norm="ortho") for x in xe]
        U = np.column_stack([self._emb_rows[0], self._emb_rows[1], d[2], d[3]])
        V = np.vstack([d[0], d[1], self._emb_cols[:, 0], self._emb_cols[:, 1]])
        # Second inner solve: spectrum (t - C inv - U V) inv, C = the correction's sources.
        # Written as (a - C - (U V) lam) inv inv, and (U V) lam = -(mu_r U) V - U (V mu_c) because
        # lam = -(mu_r + mu_c): one rank-10 update of a, in place (a^T is Fortran-ordered).
        X = np.column_stack([s_col, e.phi_last, -e.mu_rows[:, None] * U, -U])
        Y = np.vstack([e.psi_last, s_row, V, V * e.mu_cols])
        a = sla_blas.dgemm(-1.0, Y.T, X.T, beta=1.0, c=a.T, overwrite_c=True).T
        a *= e.inv
        a *= e.inv
        s_col, s_row = e.sources(e.phi_last @ a, a @ e.psi_last)
        X, Y = np.column_stack([s_col, e.phi_last]), np.vstack([e.psi_last, s_row])
        t = sla_blas.dgemm(1.0, Y.T, X.T, beta=0.0, c=t.T, overwrite_c=True).T  # t's buffer
        t *= e.inv
        a -= t
        x = _border_frame(self.shape)
        x[1:-1, 1:-1] = e.field(a)
        x[0, 1:-1], x[-1, 1:-1], x[1:-1, 0], x[1:-1, -1] = xe
        return x

    def _odd_nullspace(self):
        # L f = 0 for f = 1, i, j and i*j: the discrete Laplacian of each vanishes inside and
        # each is linear along every edge.  Four independent functions, as many as corners.
        # Exact small integers (centred coordinates) keep P N at rounding level, which
        # matters because the null-space coefficients of a plate are large.
        n, m = self.shape
        i = np.arange(n) - (n - 1) / 2.0
        j = np.arange(m) - (m - 1) / 2.0
        # Centred coordinates make the four columns orthogonal already: normalise them.
        return NullBasis(np.stack([np.ones(n), i, np.ones(n), i], axis=1),
                         np.stack([np.ones(m), np.ones(m), j, j], axis=1))

    @property
    def nullspace(self):
        """The null-space basis as a dense ``(N, k)`` array (:attr:`null_basis` keeps it factored)."""
        return self.null_basis.toarray()

    # ------------------------------------------------------------------ blocks of P^g
    def dense_table(self):
        """The whole ``P^g`` as a dense symmetric array, evaluated once and kept in :attr:`dense`.

        For small grids solved many times (tiles): a block is then a gather.
        It is :meth:`block` over all pixels, a band of rows at a time from
        the diagonal on, mirrored below it (about 2 s at 64 x 64, the time of
        some 30 tile solves).
        """
        if self.dense is None:
            n = self.shape[0] * self.shape[1]
            allp = np.arange(n)
            table = np.empty((n, n))
            for a in range(0, n, _TABLE_ROWS):
                rows, cols = allp[a:a + _TABLE_ROWS], allp[a:]
                band = self.block(rows, cols, exact_order=True)
                band[:, :rows.size] += band[:, :rows.size].T  # the diagonal block, symmetrised
                band[:, :rows.size] *= 0.5
                table[a:a + rows.size, a:] = band
                table[a:, a:a + rows.size] = band.T
            self.dense = table
        return self.dense

    def traces(self, points):
        """Per-pixel data that :meth:`block` reuses (``None`` unless the rule is ``odd``).

        For ``odd`` boundaries each pixel's Green's function has a part that
        lives on the border edges; computing it costs a 1-D transform per
        edge, so callers that evaluate many blocks over the same pixels keep it.
        """
        if self.bc != "odd":
            return None
        n, m = self.shape
        pi, pj = np.divmod(np.asarray(points, dtype=np.int64).ravel(), m)
        return self._edge_traces(pi, pj)

    def block(self, rows, cols, row_traces=None, col_traces=None, exact_order=False):
        """The block ``P^g[rows][:, cols]`` (flat pixel indices), by the method of images.

        Agrees with ``solve`` applied to unit vectors, without any 2-D transform.
        ``row_traces`` / ``col_traces`` are :meth:`traces` of ``rows`` / ``cols``
        when the caller has them.  With ``exact_order`` every entry has the
        bits of :meth:`dense_table`'s, whatever the block's shape (see
        :meth:`_edge_gram`); callers that may also read the table pass it.
        """
        rows = np.asarray(rows, dtype=np.int64).ravel()
        cols = np.asarray(cols, dtype=np.int64).ravel()
        n, m = self.shape
        ri, rj = np.divmod(rows, m)
        ci, cj = np.divmod(cols, m)
        if self.bc == "odd":
            zr, inner_r, kr = row_traces if row_traces is not None else self._edge_traces(ri, rj)
            zc, inner_c, kc = col_traces if col_traces is not None else self._edge_traces(ci, cj)
            out = self._edge_gram(zr, kr, zc, kc, exact_order)
            if inner_r.all() and inner_c.all():  # the usual case: no scatter
                out += self._dirichlet(self._k2, ri, rj, ci, cj)
            elif inner_r.any() and inner_c.any():
                out[np.ix_(inner_r, inner_c)] += self._dirichlet(self._k2, ri[inner_r], rj[inner_r],
                                                                 ci[inner_c], cj[inner_c])
            return out
        ri, rj = ri[:, None], rj[:, None]
        if self.bc == "periodic":
            return self._lookup(self._k2, ri - ci[None, :], rj - cj[None, :])
        out = np.zeros((rows.size, cols.size))
        for yi in (ci, -1 - ci):  # half-sample mirror images (DCT-II)
            dx = ri - yi[None, :]
            for yj in (cj, -1 - cj):
                out += self._lookup(self._k2, dx, rj - yj[None, :])
        return out

    def _dirichlet(self, table, ai, aj, bi, bj):
        """Odd-image sum: the inner Dirichlet Green's function between inner pixels ``a`` and ``b``.

        ``table[|a - b|] - table[a + b]`` per axis (the image in the mirror at
        pixel 0), folded on the period ``2 (n - 1)``: for inner pixels
        ``|a - b|`` is already below half of it and ``a + b`` below all of it,
        so no general modulo is needed (it was most of this function's time).
        """
        p, r = self._period
        w = table.shape[1]
        dx_near = np.abs(ai[:, None] - bi[None, :])
        dx_near *= w
        dx_far = ai[:, None] + bi[None, :]
        dx_far = np.minimum(dx_far, p - dx_far, out=dx_far)
        dx_far *= w
        dy_near = np.abs(aj[:, None] - bj[None, :])
        dy_far = aj[:, None] + bj[None, :]
        dy_far = np.minimum(dy_far, r - dy_far, out=dy_far)
        t = table.ravel()
        out = t[dx_near + dy_near]
        out -= t[dx_near + dy_far]
        out -= t[dx_far + dy_near]
        out += t[dx_far + dy_far]
        return out

    def _edge_traces(self, pi, pj):
        """``z_E`` of each point in the edges' DST-I bases: ``(per-edge arrays, inner, modes)``.

        ``z_E`` is the edge part of ``T^-T e_p``; the Gram matrix of these
        columns is the edge part of ``P^g`` (Parseval: the bases are
        orthonormal).  In those bases the trace of an inner pixel separates
        into a basis function at its column (row) times a tabulated 1-D
        Green's function at its row (column), so no 2-D work is needed.

        Each trace keeps the leading modes it needs (its tail beyond them
        holds at most ``eps^2`` of the pixel's own ``P^g`` value), rounded up
        to a power of two; the points of an edge are grouped by that length.
        For inner pixels the tail is bounded by the tabulated tail of its row
        (:func:`_tail_bounds`), and the own value by its inner part plus the
        leading modes of the traces: both can only keep more modes than the
        exact rule (about 1 % more on average), never fewer.
        """
        n, m = self.shape
        n1, n2 = n - 2, m - 2
        phi1, phi2, q_row, q_col = self._trace_tables
        t_row, t_col = self._tail_tables
        inner = (pi > 0) & (pi < n - 1) & (pj > 0) & (pj < m - 1)
        k = np.flatnonzero(inner)
        i, j = pi[k] - 1, pj[k] - 1
        # Per edge: the basis along it, the factor and tail tables, the factor's row and the
        # basis column of each inner pixel (the bottom row and right column mirror the top and
        # left ones), and which pixels lie on the edge itself.
        spec = ((phi2, q_row, t_row, self._lam_row, i, j, pi == 0, pj),
                (phi2, q_row, t_row, self._lam_row, n1 - 1 - i, j, pi == n - 1, pj),
                (phi1, q_col, t_col, self._lam_col, j, i, pj == 0, pi),
                (phi1, q_col, t_col, self._lam_col, n2 - 1 - j, i, pj == m - 1, pi))
        own = np.zeros(pi.size)  # a lower bound on P^g[p, p]; exact for pixels on an edge
        own[k] = self._dirichlet_diag(pi[k], pj[k])
        on_edge = []
        for phi, q, _, lam, r, c, where, pos in spec:
            head = phi[:MIN_TRACE_MODES, c] * q[:MIN_TRACE_MODES, r]
            own[k] += np.einsum("ij,ij->j", head, head)
            # Pixels on the edge (corners have no trace): few, kept whole as before.
            on = np.flatnonzero(where & (pos > 0) & (pos < lam.size + 1))
            z = phi[:, pos[on] - 1] / lam[:, None]
            own[on] += np.einsum("ij,ij->j", z, z)
            on_edge.append((on, z))
        # A tail below rounding of the pixel's own value: the Gram matrix loses nothing without it.
        floor = np.finfo(float).eps ** 2 * own
        modes = np.zeros((4, pi.size), dtype=np.int64)
        edges = []
        for e, ((phi, q, tails, lam, r, c, _, _), (on, z_on)) in enumerate(zip(spec, on_edge)):
            lengths = _trace_lengths(lam.size)
            above = tails[:, r] > floor[k]
            modes[e, k] = np.where(above[0], lengths[np.count_nonzero(above[1:], axis=0)], 0)
            tail = np.cumsum(z_on[::-1] ** 2, axis=0)[::-1]
            need = np.count_nonzero(tail > floor[on], axis=0)
            modes[e, on] = np.where(need > 0, lengths[np.searchsorted(lengths, need)], 0)
            if lam.size <= FULL_TRACE_EDGE:
                modes[e] = np.where(modes[e] > 0, lam.size, 0)
            # Keep each point's trace to the modes it needs, points grouped by that length: inner
            # contacts far from an edge need a few dozen, so the traces of a megapixel plate stay
            # small even when a few contacts (on an edge) need the whole spectrum.
            row = np.full(pi.size, -1)
            row[k] = r
            col = np.zeros(pi.size, dtype=np.int64)
            col[k] = c
            col[on] = np.arange(on.size)  # on-edge pixels: their column of z_on
            groups = {}
            for a in np.unique(modes[e][modes[e] > 0]):
                sel = np.flatnonzero(modes[e] == a)
                if on.size == 0 or bool(np.all(row[sel] >= 0)):
                    z = phi[:a, col[sel]]
                    z *= q[:a, row[sel]]
                else:
                    z = np.empty((a, sel.size))
                    ins = row[sel] >= 0
                    z[:, ins] = phi[:a, col[sel[ins]]] * q[:a, row[sel[ins]]]
                    z[:, ~ins] = z_on[:a, col[sel[~ins]]]
                groups[int(a)] = (sel, z)
            edges.append(groups)
        return tuple(edges), inner, modes

    @staticmethod
    def merge_traces(parts, columns):  # internal to pdas's Schur cache; see traces()
        """One :meth:`traces` tuple from several (column blocks side by side), then ``[..., columns]``."""
        sizes = [part[1].size for part in parts]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        newpos = np.full(int(sum(sizes)), -1, dtype=np.int64)
        newpos[columns] = np.arange(len(columns))
        edges = []
        for e in range(4):
            gathered = {}
            for off, part in zip(offsets, parts):
                for a, (sel, z) in part[0][e].items():
                    gathered.setdefault(a, []).append((sel + off, z))
            groups = {}
            for a, blocks in gathered.items():
                sel = np.concatenate([b[0] for b in blocks])
                keep = newpos[sel] >= 0
                if keep.any():
                    z = np.concatenate([b[1] for b in blocks], axis=1)
                    groups[a] = (newpos[sel[keep]], z[:, keep])
            edges.append(groups)
        inner = np.concatenate([part[1] for part in parts])[columns]
        modes = np.concatenate([part[2] for part in parts], axis=1)[:, columns]
        return tuple(edges), inner, modes

    def _dirichlet_diag(self, ai, aj):
        """``L_II^-2`` on the diagonal (each pixel with itself)."""
        out = np.zeros(ai.size)
        for si, yi in ((1.0, ai), (-1.0, -ai)):
            for sj, yj in ((1.0, aj), (-1.0, -aj)):
                out += (si * sj) * self._lookup(self._k2, ai - yi, aj - yj)
        return out

    def _edge_gram(self, zr, kr, zc, kc, exact_order=False):
        """``zr^T zc`` over the four edges, each product cut to the modes both sides need.

        With ``exact_order`` each entry is summed in one fixed order
        (:func:`_gram_add`): a block evaluated on the fly then has the bits
        of :meth:`dense_table` (built the same way), so a solve does not
        depend on which of the two it met.  Otherwise BLAS, whose bare
        products are 2-3 times as fast and which needs no numba
        (``benchmarks/results/greens/notes.md``).
        """
        out = np.zeros((kr.shape[1], kc.shape[1]))
        for e in range(4):
            for a, (rsel, zra) in zr[e].items():
                for b, (csel, zcb) in zc[e].items():
                    length = min(a, b)
                    if exact_order:
                        _gram_add(out, zra, rsel, zcb, csel, length)
                        continue
                    if _in_order(rsel, out.shape[0]) and _in_order(csel, out.shape[1]):  # one group each
                        out += zra[:length].T @ zcb[:length]
                    else:
                        out[np.ix_(rsel, csel)] += zra[:length].T @ zcb[:length]
        return out


@functools.lru_cache(maxsize=8)
def _shared(grid):
    return GridGreen(grid)


_shared_lock = threading.Lock()
#: ``lru_cache`` is thread-safe but builds twice on a concurrent miss; the second object would keep its
#: own request count (lost to the cache's), so the first build of a grid's object is serialised
_build_lock = threading.Lock()


def _shared_once(grid):
    with _build_lock:
        return _shared(grid)


def shared_green(grid, table=True):
    """The :class:`GridGreen` of ``grid``, shared by every problem on an equal grid.

    A :class:`GridGreen` never changes once built, so problems on equal
    grids of up to :data:`SHARED_MAX_PIXELS` pixels (the tiles of an image
    and their coarse levels; the last eight grids) share one.  Small
    grids (at most :data:`DENSE_TABLE_PIXELS` pixels) requested for the
    :data:`DENSE_TABLE_AFTER`-th time also get their :meth:`~GridGreen.dense_table`
    (128 MB at 64 x 64): ``pdas`` then reads its Schur blocks from it.
    The table holds the bits :meth:`~GridGreen.block` gives on the fly
    with ``exact_order`` (see :meth:`~GridGreen._edge_gram`), so an answer
    does not depend on how many problems of its shape the process solved
    before.  ``table=False`` (``pdas``'s coarse levels, which evaluate
    their few blocks by BLAS and never read a table) neither counts as a
    request nor builds one.

    Examples
    --------
    >>> from qpsolve.model.operators import GridSpec
    >>> grid = GridSpec((16, 16), "biharmonic", "odd")
    >>> shared_green(grid) is shared_green(GridSpec((16, 16), "biharmonic", "odd"))
    True
    """
    n = int(np.prod(grid.shape))
    if n > SHARED_MAX_PIXELS:
        return GridGreen(grid)
    green = _shared_once(grid)
    if not table:
        return green
    with _shared_lock:
        green._requests += 1
        if green.dense is None and green._requests >= DENSE_TABLE_AFTER and n <= DENSE_TABLE_PIXELS:
            green.dense_table()
    return green


def count_problem(grid):
    """Count a problem on ``grid`` that was answered without its :class:`GridGreen` as a request.

    ``solver="auto"`` answers zero-energy tiles (a tile of sky inside one bin) without a backend
    (:mod:`qpsolve.solvers.nullspace`).  They are still tiles of their shape: without counting them,
    a photograph whose first tiles are sky builds its dense table :data:`DENSE_TABLE_AFTER` textured
    tiles later, which then evaluate their blocks on the fly: slower than before the shortcut
    (``benchmarks/results/greens/notes-session10.md``).
    Builds no table (only the grid's shared :class:`GridGreen`, which holds the count): the next
    :func:`shared_green` request that reaches the count builds it.
    Grids :class:`GridGreen` cannot invert, or too large for a table, are not counted.

    Parameters
    ----------
    grid : GridSpec
        The answered problem's grid.

    Returns
    -------
    None
    """
    if green_support(grid) is not None or int(np.prod(grid.shape)) > DENSE_TABLE_PIXELS:
        return
    green = _shared_once(grid)
    with _shared_lock:
        green._requests += 1
