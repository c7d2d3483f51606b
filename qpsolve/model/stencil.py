"""Matrix-free energy operators of 2-D grids: ``P`` applied without being assembled.

Away from the border every row of a 2-D grid's ``P`` is the same stencil
(the 13-point biharmonic of the paper's eq. 9, the 5-point Laplacian, ...);
only a frame of ``radius`` pixels along the border (none for ``periodic``)
has rows of its own.  :class:`GridOperator` keeps the stencil and the frame's
rows: a product is one 2-D correlation plus a small sparse product, as fast
as the CSR product, and the 2048x2048 plate costs a few megabytes instead of
the 654 MB of its CSR matrix (790 MB to assemble).

Everything the certificate needs has the same form: the diagonal; the
squared entries ``P o P`` (the squared stencil and the frame's squared rows),
for the rounding level of ``P x``; and exact products: with integer entries
every partial sum of ``P @ hi`` is an integer multiple of the quantum of
``x``'s high part, whatever the order of summation.

:class:`qpsolve.BoxQP` takes a :class:`GridOperator` in place of ``P`` and
assembles the matrix only when a solver asks for ``prob.P`` (``pcg``,
``osqp``, ...); ``pdas`` and the certificate never do (but for ``mixed``
with fractional weights, whose extended-precision gradient is summed from
the matrix).
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage as ndi
import scipy.sparse as sp

from .differences import kron_terms

__all__ = ["GridOperator"]


def _factors(shape, grid):
    """``[(w, A, B)]`` with ``P = sum w kron(A, B)``, as CSR."""
    return [(float(w), sp.csr_matrix(a, dtype=np.float64), sp.csr_matrix(b, dtype=np.float64))
            for w, a, b in kron_terms(shape, grid.model, grid.bc, grid.alpha, grid.beta) if w != 0.0]


def _reach(f, periodic):
    """How far from the diagonal a 1-D factor reaches (around the ends when periodic)."""
    coo = f.tocoo()
    d = np.abs(coo.row - coo.col)
    if periodic:
        d = np.minimum(d, f.shape[0] - d)
    return int(d.max(initial=0))


def _rows(terms, rows, cols, shape):
    """Rows of ``P`` (a grid of ``shape``) for the pixels ``rows x cols`` (row-major), as CSR."""
    # No terms at all is the mixed model with alpha = beta = 0: P = 0.
    out = sp.csr_matrix((len(rows) * len(cols), shape[0] * shape[1]))
    for w, a, b in terms:
        out = out + sp.kron(a[rows], b[cols], format="csr") * w
    out.sum_duplicates()
    out.eliminate_zeros()
    return out


class GridOperator:
    """``P`` of a 2-D grid model as a stencil plus border rows (see the module docstring).

    Parameters
    ----------
    grid : GridSpec
        A 2-D grid (both axes at least 2 long), any model and boundary rule.

    Attributes
    ----------
    shape : tuple
        ``(N, N)`` with ``N`` the number of pixels.
    integer : bool
        Every entry of ``P`` is an integer (all models but ``mixed`` with
        fractional weights): products can then be summed exactly.
    bound : float
        The largest absolute row sum of ``P``: ``|(P x)_i|`` and each of its
        partial sums are at most ``bound * max|x|``.
    radius : int
        How far (in pixels) a row of ``P`` reaches.

    Examples
    --------
    >>> import numpy as np
    >>> from qpsolve.model.operators import GridSpec
    >>> grid = GridSpec((9, 7), "biharmonic", "odd")
    >>> op, P = GridOperator(grid), grid.matrix()
    >>> x = np.random.default_rng(0).normal(size=63)
    >>> bool(np.allclose(op @ x, P @ x)), bool(np.array_equal(op.diagonal(), P.diagonal()))
    (True, True)
    >>> bool(np.allclose(op.square_matvec(x), P.multiply(P) @ x))
    True
    >>> op.stencil.astype(int)
    array([[ 0,  0,  1,  0,  0],
           [ 0,  2, -8,  2,  0],
           [ 1, -8, 20, -8,  1],
           [ 0,  2, -8,  2,  0],
           [ 0,  0,  1,  0,  0]])
    """

    def __init__(self, grid):
        # A GridSpec (checked by what it has: the GridSpec's module builds on this one)
        if not all(hasattr(grid, a) for a in ("shape", "model", "bc", "alpha", "beta")):
            raise TypeError(f"grid must be a GridSpec, got {type(grid).__name__}")
        if len(grid.shape) != 2 or min(grid.shape) < 2:
            raise ValueError(f"GridOperator needs a 2-D grid with both axes >= 2, got shape {grid.shape}")
        self.grid = grid
        n, m = (int(s) for s in grid.shape)
        self.image_shape = (n, m)
        self.shape = (n * m, n * m)
        periodic = grid.bc == "periodic"
        self._mode = "grid-wrap" if periodic else "constant"
        # The stencil: the factors of a grid just large enough to have one interior pixel, far
        # from any border effect (the factors' rows deviate from Toeplitz within their reach).
        probe = _factors((64, 64), grid)
        r = max([_reach(f, periodic) for _, a, b in probe for f in (a, b)] + [0])
        self.radius = r
        c = 32
        row = _rows(probe, [c], [c], (64, 64)).toarray().reshape(64, 64)
        self.stencil = np.ascontiguousarray(row[c - r:c + r + 1, c - r:c + r + 1])
        terms = _factors((n, m), grid)
        # Rows that differ from the stencil: a frame of width `radius` (none when periodic);
        # a grid without interior pixels is all frame.
        allr, allc = np.arange(n), np.arange(m)
        if min(n, m) <= 2 * r:
            blocks = [(allr, allc)]
        elif periodic:
            blocks = []
        else:
            top, mid, bottom = allr[:r], allr[r:n - r], allr[n - r:]
            blocks = [(top, allc), (mid, allc[:r]), (mid, allc[m - r:]), (bottom, allc)]
        if blocks:
            frame = np.concatenate([(i[:, None] * m + j[None, :]).ravel() for i, j in blocks])
            F = sp.vstack([_rows(terms, i, j, (n, m)) for i, j in blocks], format="csr")
        else:
            frame = np.zeros(0, dtype=np.int64)
            F = sp.csr_matrix((0, n * m))
        interior = frame.size < n * m
        self._frame, self._F = frame, F
        self._F2 = F.multiply(F).tocsr()
        self.integer = bool((not interior or np.all(self.stencil == np.round(self.stencil)))
                            and np.all(F.data == np.round(F.data)))
        sums = np.asarray(abs(F).sum(axis=1)).ravel()
        self.bound = float(max(np.abs(self.stencil).sum() if interior else 0.0, sums.max(initial=0.0)))

    # ------------------------------------------------------------------ products
    def _apply(self, x, kernel, F):
        X = np.asarray(x, dtype=np.float64).reshape(self.image_shape)
        out = ndi.correlate(X, kernel, mode=self._mode, cval=0.0)
        out = out.ravel()
        if self._frame.size:
            out[self._frame] = F @ X.ravel()
        return out

    def matvec(self, x):
        """``P @ x`` for a flat vector."""
        return self._apply(x, self.stencil, self._F)

    def __matmul__(self, x):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1 and x.size == self.shape[1]:
            return self.matvec(x)
        if x.ndim == 2 and x.shape[0] == self.shape[1]:
            return np.stack([self.matvec(x[:, j]) for j in range(x.shape[1])], axis=1)
        raise ValueError(f"cannot multiply an operator of shape {self.shape} by an array of shape {x.shape}")

    def diagonal(self):
        """The diagonal of ``P`` (a new array)."""
        r = self.radius
        diag = np.full(self.shape[0], self.stencil[r, r])
        if self._frame.size:
            diag[self._frame] = self._F[np.arange(self._frame.size), self._frame].A1
        return diag

    def square_matvec(self, v):
        """``(P o P) @ v``: the squared entries of ``P`` applied to ``v``."""
        return self._apply(v, self.stencil ** 2, self._F2)

    def tocsr(self):
        """The assembled CSR matrix (:func:`~qpsolve.model.operators.energy_matrix`)."""
        return self.grid.matrix()

    def __repr__(self):
        g = self.grid
        return f"GridOperator({g.shape}, {g.model!r}, {g.bc!r}, stencil {self.stencil.shape}, frame {self._frame.size})"
