"""Algebraic multigrid for fourth-order operators: one hierarchy per solve, truncated per face.

``pcg`` solves ``P_FF d = -g_F`` on the free variables ``F`` of many faces
of the box.  Building a pyamg hierarchy costs as much as tens of V-cycles, so
:class:`Hierarchy` builds the aggregates and the energy-minimising
prolongators **once** (from ``P`` and its near null space) and
:meth:`Hierarchy.truncated` makes the preconditioner of a face by keeping
them: the fine-level prolongator loses the rows of the bound variables (the
truncation of Kornhuber's monotone multigrid and TNNMG) and the coarse
operators are re-formed by Galerkin products, which is a fraction of a build.

Settings for plates (``P = D^T W D``): pyamg's defaults (one candidate,
Jacobi-smoothed prolongation, ``theta = 0``) need hundreds of CG iterations
on a 256^2 biharmonic system; the ones here (three candidates, energy
minimisation, a symmetric strength filter that keeps the nearest
neighbours) need about 30, from a set-up close to the cheap default one
(see ``benchmarks/results/amg/``).

Near null space (the candidates ``B``): the caller's vectors, else constants
and the coordinates when they are known, else constants and graph-distance
fields (breadth-first distances from far-apart vertices of ``P``'s graph,
one per estimated dimension).  On a grid those are close to linear ramps, the
plate's near null space, and need no geometry.

Also here: :func:`projected_gauss_seidel`, the nonlinear smoother of the
box-constrained problem (numba).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp

from .lazyjit import lazy_njit

__all__ = ["Hierarchy", "near_null_space", "graph_distance_fields", "projected_gauss_seidel"]

#: symmetric strength threshold: keeps the 9 nearest couplings of the 13-point plate stencil
STRENGTH_THETA = 0.05
#: energy-minimising prolongation (pyamg ``smooth=('energy', ...)``)
ENERGY_SMOOTH = ("energy", {"krylov": "cg", "maxiter": 2, "degree": 1, "weighting": "local"})
SMOOTHER = ("block_gauss_seidel", {"sweep": "symmetric", "iterations": 1})
POINT_SMOOTHER = ("gauss_seidel", {"sweep": "symmetric", "iterations": 1})
MAX_COARSE = 300


def _bfs(G, source):
    from scipy.sparse.csgraph import shortest_path

    return shortest_path(G, unweighted=True, indices=int(source), directed=False)


def graph_distance_fields(P, count=None):
    """Breadth-first distance fields of ``P``'s graph, from far-apart vertices.

    Parameters
    ----------
    P : sparse matrix
        Its off-diagonal pattern is the graph.
    count : int, optional
        Number of fields; by default the dimension estimated from how the
        number of vertices within a distance grows with it (1 to 3).

    Returns
    -------
    (n, count) ndarray
        Fields scaled to ``[0, 1]``; unreachable vertices (another connected
        component) get the component's own distances.

    Examples
    --------
    >>> from qpsolve.model.operators import energy_matrix
    >>> F = graph_distance_fields(energy_matrix((20, 20), "biharmonic", "even"))
    >>> F.shape
    (400, 2)
    """
    G = sp.csr_matrix((np.ones(P.nnz), P.indices, P.indptr), shape=P.shape)
    n = P.shape[0]

    def dist(s):
        d = _bfs(G, s)
        far = ~np.isfinite(d)
        if far.any():  # other components: distances within them, from their own first vertex
            d[far] = 0.0
            rest = np.flatnonzero(far)
            while rest.size:
                dd = _bfs(G, rest[0])
                hit = np.isfinite(dd)
                d[hit & far] = dd[hit & far]
                far &= ~hit
                rest = np.flatnonzero(far)
        return d

    d0 = dist(0)
    s1 = int(np.argmax(d0))
    d1 = dist(s1)
    if count is None:
        radius = float(d1.max())
        if radius < 4:
            count = 1
        else:
            inner = np.count_nonzero(d1 <= radius / 4)
            outer = np.count_nonzero(d1 <= radius / 2)
            count = int(np.clip(np.rint(np.log2(max(outer, 1) / max(inner, 1))), 1, 3))
    fields = [d1]
    near = d1.copy()
    s = int(np.argmax(d1))
    near = np.minimum(near, dist(s))  # the far end of the diameter: its field is ~ 1 - d1
    while len(fields) < count:
        s = int(np.argmax(near))
        d = dist(s)
        fields.append(d)
        near = np.minimum(near, d)
    F = np.stack(fields, axis=1).astype(np.float64)
    F /= np.maximum(F.max(axis=0), 1.0)
    return F[:n]


def near_null_space(P, coordinates=None, candidates=None):
    """The candidates ``B`` (columns) a smoothed-aggregation hierarchy of ``P`` starts from.

    Parameters
    ----------
    P : sparse matrix
    coordinates : (n, d) array_like, optional
        Positions of the variables: ``B = [1, coordinates]`` (centred and scaled).
    candidates : (n, k) array_like, optional
        The caller's near null space, used as given.

    Returns
    -------
    (n, k) ndarray

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> B = near_null_space(sp.identity(4), coordinates=[[0.0], [1.0], [2.0], [3.0]])
    >>> B.shape, B[:, 0].tolist()
    ((4, 2), [1.0, 1.0, 1.0, 1.0])
    """
    n = P.shape[0]
    if candidates is not None:
        B = np.asarray(candidates, dtype=np.float64)
        return B.reshape(n, -1)
    if coordinates is not None:
        X = np.asarray(coordinates, dtype=np.float64).reshape(n, -1)
    else:
        X = graph_distance_fields(P)
    X = X - X.mean(axis=0)
    X = X / np.maximum(np.abs(X).max(axis=0), 1e-300)
    return np.column_stack([np.ones(n), X])


@contextmanager
def _batched_pinv():
    """Let pyamg invert its many small ``B^T B`` blocks in one batched numpy call.

    ``pyamg.util.linalg.pinv_array`` loops over the blocks in Python (one
    LAPACK call each): with three candidates it was 5.7 of the 14 s of a
    512^2 set-up.  The replacement computes the same pseudo-inverses (the
    blocks are symmetric, the cut-off is pyamg's own relative tolerance) in
    one vectorised call, and is restored on exit.
    """
    from pyamg.util import linalg as pyamg_linalg
    from pyamg.util.params import set_tol

    original = pyamg_linalg.pinv_array

    def pinv_array(a, tol=None):
        if a.ndim != 3 or a.shape[1] != a.shape[2] or a.shape[1] == 1 or np.iscomplexobj(a):
            return original(a, tol)
        cut = set_tol(a.dtype) if tol is None else tol
        a[...] = np.linalg.pinv(a, rcond=cut, hermitian=bool(np.allclose(a, a.transpose(0, 2, 1))))
        return None

    pyamg_linalg.pinv_array = pinv_array
    try:
        yield
    finally:
        pyamg_linalg.pinv_array = original


class Hierarchy:
    """A smoothed-aggregation hierarchy of ``P``, built once and truncated per face.

    Parameters
    ----------
    P : sparse matrix
        Symmetric positive semi-definite.
    B : (n, k) ndarray
        Near-null-space candidates (:func:`near_null_space`).
    theta : float
        Symmetric strength threshold.
    **pyamg_options
        Passed to :func:`pyamg.smoothed_aggregation_solver` over these settings.

    Examples
    --------
    >>> import numpy as np
    >>> from qpsolve.model.operators import energy_matrix
    >>> P = energy_matrix((40, 40), "biharmonic", "even")
    >>> H = Hierarchy(P, near_null_space(P))
    >>> free = np.ones(1600, dtype=bool); free[::7] = False      # a face: every 7th variable bound
    >>> M = H.truncated(free)
    >>> A = P[free][:, free]
    >>> from scipy.sparse.linalg import cg, LinearOperator
    >>> pre = LinearOperator(A.shape, M.reduced)             # the cycle on the free variables only
    >>> b = A @ np.random.default_rng(0).normal(size=A.shape[0])
    >>> x, info = cg(A, b, M=pre, rtol=1e-8, maxiter=60)
    >>> info, bool(np.linalg.norm(A @ x - b) <= 1e-7 * np.linalg.norm(b))
    (0, True)
    """

    def __init__(self, P, B, theta=STRENGTH_THETA, **pyamg_options):
        import pyamg

        P = sp.csr_matrix(P)
        self.n = P.shape[0]
        d = P.diagonal()
        self.diag = np.where(d > 0, d, 1.0)
        # A relative shift keeps the hierarchy of a singular P (constants, ramps) invertible
        # without changing it where it matters; CG runs on the true matrix.
        self.shift = 1e-10 * float(self.diag.max())
        self.A = (P + sp.diags(np.full(self.n, self.shift))).tocsr()
        self.B = np.asarray(B, dtype=np.float64)
        options = dict(symmetry="hermitian", strength=("symmetric", {"theta": theta}), smooth=ENERGY_SMOOTH,
                       presmoother=SMOOTHER, postsmoother=SMOOTHER, max_coarse=MAX_COARSE)
        options.update(pyamg_options)
        with _batched_pinv():
            # keep=True for the aggregates (``AggOp``, the monotone coarse corrections' spaces);
            # the other kept operators are dropped below.
            self.ml = pyamg.smoothed_aggregation_solver(self.A, B=self.B, keep=True, **options)
        for lvl in self.ml.levels:
            for name in ("C", "Cnodes", "T"):
                if hasattr(lvl, name):
                    delattr(lvl, name)
        # One CSR copy of each prolongator and its transpose, shared by the full cycle and every
        # truncated one (pyamg's BSR P and R would be two more copies: 0.2 GB at 1024^2).
        self._P = [lvl.P.tocsr() for lvl in self.ml.levels[:-1]]
        self._PT = [Pk.T.tocsr() for Pk in self._P]
        for lvl, Pk, PTk in zip(self.ml.levels, self._P, self._PT):
            lvl.P, lvl.R = Pk, PTk
        self.prolongators = self._P
        self.transposed_prolongators = self._PT
        self._rows = None  # made on the first truncation

    @property
    def levels(self):
        return len(self.ml.levels)

    def operator_complexity(self):
        return float(self.ml.operator_complexity())

    def full(self):
        """The V-cycle of the whole ``P`` (no variable bound)."""
        return _Cycle(self.ml, None)

    def truncated(self, free, previous=None):
        """The V-cycle of ``P`` on the face ``free`` (a boolean mask), bound rows on the diagonal.

        The fine operator is ``F P F + (I - F) diag(P)``, the first prolongator
        loses the bound rows, and every coarse operator is its Galerkin
        product ``P_0^T (F P F) P_0`` (then ``P_k^T A_k P_k``); the
        prolongators are the hierarchy's own.

        With ``previous`` (the cycle of an earlier face of this hierarchy) the
        coarse operators are updated instead of re-formed: ``F P F`` changes
        only in the rows and columns of the variables that changed side, and
        the Galerkin products are linear, so each level adds
        ``P_k^T (Delta A_k) P_k`` of a sparse ``Delta``.
        """
        from pyamg.multilevel import MultilevelSolver
        from pyamg.relaxation.smoothing import change_smoothers

        free = np.asarray(free, dtype=bool)
        if free.all():
            return self.full()
        f = free.astype(np.float64)
        A = self.A
        if self._rows is None:
            itype = np.int32 if self.n < 2**31 else np.int64
            self._rows = np.repeat(np.arange(self.n, dtype=itype), np.diff(A.indptr))
        mask = free[self._rows] & free[A.indices]  # boolean: one byte per non-zero, kept per cycle
        inner = sp.csr_matrix((A.data * mask, A.indices, A.indptr), shape=A.shape)  # F P F
        A0 = (inner + sp.diags((1.0 - f) * self.diag)).tocsr()
        if previous is not None and previous.coarse is not None and previous.hierarchy is self:
            changed = mask != previous.mask
            delta = sp.csr_matrix((A.data[changed] * np.where(mask[changed], 1.0, -1.0),  # entered / left
                                   (self._rows[changed], A.indices[changed])), shape=A.shape)
            coarse = []
            for k, (Pk, PTk) in enumerate(zip(self._P, self._PT)):
                delta = (PTk @ delta @ Pk).tocsr()
                coarse.append((previous.coarse[k] + delta).tocsr())
        else:
            coarse, Ak = [], inner
            for Pk, PTk in zip(self._P, self._PT):
                Ak = (PTk @ Ak @ Pk).tocsr()
                coarse.append(Ak)
        P0 = self._P[0].tocsr(copy=True) if self._P else None
        levels = []
        for k in range(len(self._P)):
            lvl = MultilevelSolver.Level()
            lvl.A = A0 if k == 0 else coarse[k - 1]
            if k == 0:
                P0.data *= np.repeat(f, np.diff(P0.indptr))  # truncation: bound rows interpolate nothing
                lvl.P, lvl.R = P0, P0.T  # a transposed view (CSC), not a copy
            else:
                lvl.P, lvl.R = self._P[k], self._PT[k]
            levels.append(lvl)
        last = MultilevelSolver.Level()
        last.A = coarse[-1] if coarse else A0
        levels.append(last)
        ml = MultilevelSolver(levels, coarse_solver="pinv")
        # Point Gauss-Seidel on every level: truncation leaves coarse variables whose whole
        # aggregate is bound (zero rows, which point Gauss-Seidel skips) and aggregates with
        # one or two free variables, whose blocks a block smoother would have to invert.
        change_smoothers(ml, POINT_SMOOTHER, POINT_SMOOTHER)
        cycle = _Cycle(ml, free)
        cycle.hierarchy, cycle.mask, cycle.coarse = self, mask, coarse
        return cycle


class _Cycle:
    """One V-cycle as a callable ``r -> z`` (full-length vectors, zero off the face)."""

    def __init__(self, ml, free):
        self.ml = ml
        self.free = None if free is None else free.copy()
        self.hierarchy = self.mask = self.coarse = None  # set by Hierarchy.truncated
        self._op = ml.aspreconditioner(cycle="V")

    def __call__(self, r):
        return self._op.matvec(r)

    def reduced(self, r):
        """The cycle applied to a vector of the free variables only."""
        free = self.free
        full = np.zeros(free.size)
        full[free] = r
        return self(full)[free]

    def changed(self, free):
        """How many variables changed side since this cycle's face."""
        if self.free is None:
            return int(np.count_nonzero(~free))
        return int(np.count_nonzero(free != self.free))


def projected_gauss_seidel(P, q, lower, upper, x, sweeps, diag=None):
    """``sweeps`` projected Gauss-Seidel sweeps on ``min 1/2 x'Px + q'x`` over the box, in place.

    Alternating forward and backward sweeps; each variable is set to the
    minimiser of the energy along its own axis, clipped into its bounds, so
    the energy never rises.  Zero diagonal entries leave the variable alone.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> P = sp.csr_matrix(np.array([[2.0, -1.0], [-1.0, 2.0]]))
    >>> x = np.zeros(2)
    >>> projected_gauss_seidel(P, np.array([-1.0, -1.0]), np.zeros(2), np.full(2, 0.5), x, 3)
    >>> x.tolist()
    [0.5, 0.5]
    """
    P = sp.csr_matrix(P)
    d = P.diagonal() if diag is None else diag
    _pgs(P.indptr, P.indices, P.data, np.ascontiguousarray(d, dtype=np.float64),
         np.ascontiguousarray(q, dtype=np.float64), lower, upper, x, int(sweeps))


def _pgs_py(indptr, indices, data, diag, q, lo, hi, x, sweeps):
    n = x.size
    for s in range(sweeps):
        start, stop, step = (0, n, 1) if s % 2 == 0 else (n - 1, -1, -1)
        for i in range(start, stop, step):
            if diag[i] <= 0.0:
                continue
            r = q[i]
            for k in range(indptr[i], indptr[i + 1]):
                r += data[k] * x[indices[k]]
            v = x[i] - r / diag[i]
            if v < lo[i]:
                v = lo[i]
            elif v > hi[i]:
                v = hi[i]
            x[i] = v


# compiled on first use: pdas imports this module for its hand-over (see qpsolve.linalg.lazyjit)
_pgs = lazy_njit(_pgs_py, name="_pgs", cache=True, nogil=True)
