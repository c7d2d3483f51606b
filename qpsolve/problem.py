"""The box-constrained quadratic program every solver in qpsolve accepts."""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from .model.operators import GridSpec
from .model.stencil import GridOperator

__all__ = ["BoxQP", "box_start"]


def _as_bound(value, n, name, copy=True):
    """``value`` as ``n`` float64 values; ``copy=False`` keeps a flat float64 array as it is (no copy)."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a number or an array of numbers, got {type(value).__name__}")
    arr = np.asarray(value)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real, got a complex array")
    arr = arr.astype(np.float64, copy=copy)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    else:
        arr = arr.ravel() if arr.ndim > 1 and arr.size == n else arr
        if arr.shape != (n,):
            raise ValueError(f"{name} has {np.asarray(value).shape} entries; expected a scalar or {n} values")
    if np.isnan(arr).any():
        bad = np.flatnonzero(np.isnan(arr))
        raise ValueError(f"{name} contains {bad.size} NaN value(s), first at index {bad[0]}")
    return arr


#: rows per block when a pass over a large problem is split to bound its temporaries
ROW_BLOCK = 1 << 18


def _row_blocks(P, dtype, transform=None):
    """``(slice, csr block of P)`` in ``dtype``, a bounded number of rows at a time.

    The blocks share ``P``'s index arrays; only their values are converted, so
    a pass over a large matrix never holds a second full copy of it.
    """
    n = P.shape[0]
    step = ROW_BLOCK
    for start in range(0, n, step):
        stop = min(start + step, n)
        a, b = P.indptr[start], P.indptr[stop]
        data = P.data[a:b].astype(dtype)
        if transform is not None:
            data = transform(data)
        block = sp.csr_matrix((data, P.indices[a:b], P.indptr[start:stop + 1] - a),
                              shape=(stop - start, P.shape[1]), copy=False)
        yield slice(start, stop), block


#: beyond this many non-zeros symmetry is probed with random vectors instead of forming P - P^T
EXACT_SYMMETRY_NNZ = 1 << 22


def _check_symmetric(P, norm):
    """``ValueError`` unless ``P`` is symmetric.

    Small matrices are compared with their transpose entry by entry (to
    ``1e-10`` of the largest entry).  For large ones (a 2048^2 plate has 54 M
    non-zeros) ``P - P^T`` would double the memory, so the bilinear forms
    ``x^T P y`` and ``y^T P x`` are compared for random ``x, y``: an
    asymmetry changes them (with probability one) and is reported once it
    exceeds the rounding level of the forms, at the cost of four products.
    """
    if P.nnz <= EXACT_SYMMETRY_NNZ:
        asym = abs(P - P.T)
        if asym.nnz and asym.max() > 1e-10 * max(norm, 1e-300):
            raise ValueError(f"P must be symmetric; max |P - P^T| = {asym.max():.3g}")
        return
    rng = np.random.default_rng(12345)
    for _ in range(2):
        x, y = rng.standard_normal(P.shape[0]), rng.standard_normal(P.shape[0])
        diff = abs(float(x @ (P @ y)) - float(y @ (P @ x)))
        ay = np.abs(y)
        size = sum(float(np.abs(x[rows]) @ (block @ ay)) for rows, block in _row_blocks(P, np.float64, np.abs))
        # Rounding of the two forms stays far below 64 eps of the sum of the terms' sizes.
        if diff > 64 * np.finfo(float).eps * max(size, 1e-300):
            raise ValueError(f"P must be symmetric; x^T P y - y^T P x = {diff:.3g} for random x, y "
                             f"(relative {diff / max(size, 1e-300):.3g})")


def _as_matrix(P):
    """``P`` as a validated CSR ``float64`` matrix (sorted, duplicates summed)."""
    if isinstance(P, (str, bytes)) or P is None or isinstance(P, numbers.Number):
        raise TypeError(f"P must be a square matrix (scipy.sparse or 2-D array), got {type(P).__name__}")
    if sp.issparse(P):
        if np.iscomplexobj(P.data):
            raise TypeError("P must be real, got a complex matrix")
        P = sp.csr_matrix(P, dtype=np.float64)
    else:
        arr = np.asarray(P)
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
            raise TypeError(f"P must be numeric, got dtype {arr.dtype}")
        if np.iscomplexobj(arr):
            raise TypeError("P must be real, got a complex matrix")
        if arr.ndim != 2:
            raise ValueError(f"P must be 2-D, got {arr.ndim}-D")
        P = sp.csr_matrix(arr.astype(np.float64))
    if P.shape[0] != P.shape[1]:
        raise ValueError(f"P must be square, got shape {P.shape}")
    if P.shape[0] == 0:
        raise ValueError("P is empty: a problem needs at least one variable")
    if not np.isfinite(P.data).all():
        raise ValueError("P contains NaN or infinite entries")
    P.sum_duplicates()
    P.sort_indices()
    norm = float(max(P.data.max(), -P.data.min())) if P.nnz else 0.0
    _check_symmetric(P, norm)
    diag = P.diagonal()
    if (diag < -1e-12 * max(norm, 1e-300)).any():
        raise ValueError(f"P must be positive semi-definite, but {int((diag < 0).sum())} diagonal entries are negative")
    return P


def _matrix_scales(P):
    """``(largest absolute row sum, every entry an integer)`` of a CSR ``P``, a block at a time."""
    row_norm, integer = 0.0, True
    for _, block in _row_blocks(P, np.float64):
        d = block.data
        if d.size:
            sums = np.add.reduceat(np.abs(d), block.indptr[:-1][np.diff(block.indptr) > 0])
            row_norm = max(row_norm, float(sums.max()))
            integer &= bool(np.all(d == np.round(d)))
    return row_norm, integer


def _as_columns(value, n, name):
    """``None`` or a finite ``(n, k)`` float array (a flat length-``n`` vector is one column)."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or sp.issparse(value):
        raise TypeError(f"{name} must be an (n, k) array of numbers, got {type(value).__name__}")
    arr = np.asarray(value)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.ndim == 1 and arr.size == n:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != n or arr.shape[1] < 1:
        raise ValueError(f"{name} must have shape ({n}, k) with one row per variable, got {np.asarray(value).shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_grid_matrix(P, grid):
    """``ValueError`` (naming ``grid``) unless ``P`` is the energy operator of ``grid``.

    Compared through products with random integer vectors: the grid's
    operator (:meth:`GridSpec.energy`) is applied matrix-free, so a large
    matrix is never assembled twice.  With integer entries (every model but
    ``mixed`` with fractional weights) both products are exact, so any
    difference is a different matrix; a different matrix gives the same
    product for a random ``v`` with probability below ``2^-20`` per vector.
    """
    zero = grid.model == "mixed" and grid.alpha == 0 and grid.beta == 0
    flat = len(grid.shape) == 2 and min(grid.shape) >= 2
    if zero or flat:
        op = grid.matrix() if zero else grid.energy()  # GridOperator has no stencil for P = 0
        apply = op.__matmul__
        scale = float(abs(P).sum(axis=1).max()) if P.nnz else 0.0
    else:
        # Other grids (3-D volumes, 1-D signals) have no stencil operator: their energy is a
        # CSR matrix, whose assembly costs several times the factor's (P = D'D), so the
        # products go through D.  The rounding bound then follows |D'||D|, which bounds |P|
        # entry by entry whenever P is the grid's matrix (and a matrix that is not fails anyway).
        op = grid.factor()

        def apply(v):
            return op.T @ (op @ v)

        absd = abs(op)
        scale = float((absd.T @ (absd @ np.ones(P.shape[0]))).max(initial=0.0))
    rng = np.random.default_rng(20)
    for _ in range(2):
        v = rng.integers(-(2**20), 2**20, size=P.shape[0]).astype(np.float64)
        diff = float(np.max(np.abs(P @ v - apply(v)), initial=0.0))
        # exact for integer matrices; otherwise rounding of two sums of |P||v| <= scale * 2^20
        allowed = 0.0 if getattr(op, "integer", False) and np.all(P.data == np.round(P.data)) \
            else 64 * np.finfo(float).eps * scale * 2**20
        if diff > allowed:
            raise ValueError(f"grid: P is not the operator of {grid} (P @ v differs from it by up to "
                             f"{diff:.2g} for a random integer v); pass P without grid=, or the grid that built it")


def box_start(lower, upper):
    """A point of the box ``[lower, upper]``: the centre where both bounds are finite, the finite
    bound or 0 (whichever is inside) where one is, and 0 where neither is.

    Examples
    --------
    >>> box_start(np.array([0.0, 1.0, -np.inf, -np.inf]), np.array([2.0, np.inf, -3.0, np.inf])).tolist()
    [1.0, 1.0, -3.0, 0.0]
    """
    lo, hi = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    flo, fhi = np.isfinite(lo), np.isfinite(hi)
    with np.errstate(invalid="ignore"):
        x = np.where(flo & fhi, 0.5 * (lo + hi), 0.0)
    x = np.where(flo & ~fhi, np.maximum(lo, 0.0), x)
    return np.where(~flo & fhi, np.minimum(hi, 0.0), x)


class BoxQP:
    """``minimize 1/2 x^T P x + q^T x  subject to  lower <= x <= upper``.

    Parameters
    ----------
    P : (n, n) sparse or dense array_like, or GridOperator
        Symmetric positive semi-definite matrix.  Stored as CSR ``float64``.
        A :class:`~qpsolve.model.stencil.GridOperator` (what
        :func:`qpsolve.image_problem` passes for 2-D grids) keeps ``P`` as a
        stencil; :attr:`P` assembles it on first use.
    lower, upper : float or (n,) array_like
        Bounds; ``-inf`` / ``+inf`` are allowed, ``lower == upper`` pins a
        variable.  Arrays of any shape with ``n`` elements are flattened in C
        order.
    q : (n,) array_like, optional
        Linear term (default zero).
    grid : GridSpec, optional
        The grid and model that built ``P`` (:func:`qpsolve.image_problem`
        sets it).  A matrix given with a grid is checked against the grid's
        operator (a ``ValueError`` names ``grid`` when they differ); the
        problem is then eligible for ``pdas`` and the other grid solvers,
        which never look at the matrix again.
    coordinates : (n, d) array_like, optional
        Positions of the variables (any units).  ``pcg``'s algebraic
        multigrid uses ``1`` and the coordinates as its near-null-space
        candidates (the rigid motions of a plate); without them it derives
        similar fields from the graph of ``P``.
    near_null_space : (n, k) array_like, optional
        Vectors on which ``P`` is small (for a plate: constants and linear
        ramps), used as they are by ``pcg``'s multigrid instead of the
        coordinates.

    Attributes
    ----------
    n : int
        Number of variables.
    scale : float
        ``max(1, largest finite |bound|)``: the unit in which the projected
        gradient of the certificate is judged.

    Raises
    ------
    TypeError
        When an argument is not numeric (or ``P`` not a matrix).
    ValueError
        For non-square or non-symmetric ``P``, non-finite entries in ``P`` or
        ``q``, NaN bounds, ``lower > upper``, ``lower = +inf`` or
        ``upper = -inf``, or shapes that do not match.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> prob = BoxQP(sp.identity(3), lower=[0, 1, -np.inf], upper=2.0, q=[-5, 0, 1])
    >>> prob.n, prob.lower.tolist(), prob.upper.tolist()
    (3, [0.0, 1.0, -inf], [2.0, 2.0, 2.0])
    >>> prob.objective(np.array([2.0, 1.0, -1.0]))
    -8.0

    A plate matrix built by hand, declared to be a grid model: it is checked
    against the grid's operator and can then go to the grid solvers.

    >>> import qpsolve as qs
    >>> from qpsolve.model.operators import GridSpec, energy_matrix
    >>> grid = GridSpec((32, 32), "biharmonic", "even")
    >>> ramp = np.add.outer(np.arange(32.0), np.arange(32.0)).ravel()
    >>> P = energy_matrix((32, 32), "biharmonic", "even")
    >>> prob = BoxQP(P, ramp - 0.5, ramp + 0.5, grid=grid)
    >>> qs.solve(prob, solver="pdas").success
    True
    >>> BoxQP(2 * P, ramp - 0.5, ramp + 0.5, grid=grid)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: grid: P is not the operator of GridSpec(shape=(32, 32), model='biharmonic', bc='even', ...) (P @ v differs from it by up to ... for a random integer v); pass P without grid=, or the grid that built it
    """

    def __init__(self, P, lower, upper, q=None, *, grid=None, coordinates=None, near_null_space=None):
        self._build(P, lower, upper, q, grid, coordinates, near_null_space, copy=True)

    @classmethod
    def _sharing(cls, P, lower, upper, *, grid=None):
        """A problem that keeps ``lower`` and ``upper`` as they are (flat float64 arrays: no copies).

        The constructor copies the bounds, so that a caller who changes its arrays afterwards does not
        change the problem.  A caller whose bounds are private to it and never written again
        (:class:`~qpsolve.imaging.tiles.GridBounds`) shares them instead: on a photograph the
        envelopes are two image-sized arrays, alive for the whole solve.

        Examples
        --------
        >>> import numpy as np, scipy.sparse as sp
        >>> lo, hi = np.zeros(3), np.ones(3)
        >>> BoxQP._sharing(sp.identity(3), lo, hi).lower is lo
        True
        >>> np.shares_memory(BoxQP(sp.identity(3), lo, hi).lower, lo)
        False
        """
        prob = cls.__new__(cls)
        prob._build(P, lower, upper, None, grid, None, None, copy=False)
        return prob

    def _build(self, P, lower, upper, q, grid, coordinates, near_null_space, copy):
        """The constructor's work; ``copy=False`` keeps flat float64 bounds as they are (:meth:`_sharing`)."""
        if isinstance(P, GridOperator):
            # Symmetric PSD by construction (a sum of D^T D terms); nothing to validate.
            grid = P.grid if grid is None else grid
            if grid != P.grid:
                raise ValueError(f"grid {grid} does not match the operator's grid {P.grid}")
            op, P = P, None
            n, row_norm, integer = op.shape[0], op.bound, op.integer
        else:
            op, P = None, _as_matrix(P)
            n = P.shape[0]
            row_norm, integer = _matrix_scales(P)

        lower = _as_bound(lower, n, "lower", copy)
        upper = _as_bound(upper, n, "upper", copy)
        if np.isposinf(lower).any():
            raise ValueError("lower must not be +inf")
        if np.isneginf(upper).any():
            raise ValueError("upper must not be -inf")
        crossed = lower > upper
        if crossed.any():
            i = int(np.flatnonzero(crossed)[0])
            raise ValueError(
                f"lower > upper at {int(crossed.sum())} index(es), first at {i}: "
                f"lower={lower[i]!r}, upper={upper[i]!r}"
            )
        if q is None:
            q = np.zeros(n)
        else:
            q = _as_bound(q, n, "q")
            if not np.isfinite(q).all():
                raise ValueError("q contains infinite entries")
        if grid is not None:
            if not isinstance(grid, GridSpec):
                raise TypeError(f"grid must be a GridSpec, got {type(grid).__name__}")
            if int(np.prod(grid.shape)) != n:
                raise ValueError(f"grid shape {grid.shape} does not hold {n} variables")
            if op is None:
                _check_grid_matrix(P, grid)
        self.coordinates = _as_columns(coordinates, n, "coordinates")
        self.near_null_space = _as_columns(near_null_space, n, "near_null_space")

        self._P = P
        self._op = op
        self.lower = lower
        self.upper = upper
        self.q = q
        self.grid = grid
        self.n = n
        finite = np.concatenate([lower[np.isfinite(lower)], upper[np.isfinite(upper)]])
        self.scale = float(max(1.0, np.abs(finite).max())) if finite.size else 1.0
        self._diag = None
        # largest absolute row sum: the rounding scale of P x (used by the certificate)
        self.row_norm = row_norm
        self._integer_matrix = integer
        self._exact_products = None  # (x, gradient) of the last exact gradient

    # -- the matrix, assembled or not ------------------------------------------------------
    @property
    def P(self):
        """``P`` as a CSR matrix.

        A problem built on a :class:`~qpsolve.model.stencil.GridOperator`
        assembles it here, once, the first time a solver asks (``pdas`` and
        the certificate never do: they use :meth:`matvec` and the operator).
        """
        if self._P is None:
            self._P = self._op.tocsr()
        return self._P

    @property
    def operator(self):
        """What ``P`` was given as: a :class:`~qpsolve.model.stencil.GridOperator` or the CSR matrix.

        Pass it on to build a related problem without assembling anything.
        """
        return self._op if self._op is not None else self._P

    @property
    def assembled(self):
        """``True`` once ``P`` exists as a CSR matrix."""
        return self._P is not None

    def matvec(self, v):
        """``P @ v`` (by the stencil while ``P`` is not assembled)."""
        return self._op.matvec(v) if self._P is None else self._P @ v

    # -- small helpers every solver needs -------------------------------------------------
    @property
    def diag(self):
        """Diagonal of ``P`` with zeros replaced by one (safe for scaling)."""
        if self._diag is None:
            d = self._op.diagonal() if self._P is None else self._P.diagonal().copy()
            d[d <= 0] = 1.0
            self._diag = d
        return self._diag

    def project(self, x, out=None):
        """Clip ``x`` into the box: a new array, or ``out`` (which may be ``x``) written in place.

        Examples
        --------
        >>> import numpy as np, scipy.sparse as sp
        >>> import qpsolve as qs
        >>> prob = qs.BoxQP(sp.identity(3), lower=[0, 0, 0], upper=[1, 1, 1])
        >>> x = np.array([-0.5, 0.5, 2.0])
        >>> prob.project(x).tolist(), x.tolist()          # a new array
        ([0.0, 0.5, 1.0], [-0.5, 0.5, 2.0])
        >>> prob.project(x, out=x) is x, x.tolist()       # in place
        (True, [0.0, 0.5, 1.0])
        """
        return np.minimum(np.maximum(x, self.lower, out=out), self.upper, out=out)

    def gradient(self, x, precise=False):
        """``P x + q``.

        With ``precise=True`` the only error left is the final rounding to
        float64: at a plate's optimum ``P x`` is a tiny fourth difference of
        large values, and float64 summation noise would otherwise dominate
        the duality gap.  Integer matrices (every plate stencil) use an exact
        split of ``x`` and add ``q`` exactly (:attr:`exact_gradient` is then
        ``True``); others are summed in extended precision
        (``numpy.longdouble``) a block of rows at a time.

        The last exact gradient is kept with a copy of its ``x``: a solver
        that polishes a point and then certifies it asks for the same gradient
        twice, and on a megapixel plate the products are most of the
        certificate's cost.
        """
        if not precise:
            return self.matvec(x) + self.q
        x = np.asarray(x, dtype=np.float64)
        if self._integer_matrix:
            # Split x = hi + lo with hi on a grid of spacing 2^e so coarse that every product
            # and partial sum of P @ hi is an integer multiple of 2^e below 2^53 of them:
            # P @ hi is then exact, and P @ lo is tiny, so its rounding does not matter.
            top = float(np.max(np.abs(x), initial=0.0)) * max(self.row_norm, 1.0)
            if top == 0.0 or not np.isfinite(top):
                return self.matvec(x) + self.q
            last = self._exact_products
            if last is not None and last[0].shape == x.shape and np.array_equal(last[0], x):
                return last[1].copy()
            # Never below the smallest subnormal (every float64 is a multiple of it): for x near 1e-300
            # the grid's spacing would underflow to 0 and x / quantum be inf.
            quantum = 2.0 ** max(np.ceil(np.log2(top)) - 52, -1074)
            hi = np.round(x / quantum)
            hi *= quantum
            a = self.matvec(hi)
            hi -= x  # minus the low part (exact), reusing the array
            b = self.matvec(hi)  # minus the low part's product
            del hi
            if np.any(self.q):
                # a + q exactly as s + e (Knuth's TwoSum): the only rounding left is the last one.
                s = a + self.q
                bb = s - a
                e = (a - (s - bb)) + (self.q - bb)
                e -= b
                a = s
                a += e
            else:
                a -= b
            self._exact_products = (x.copy(), a)  # the caller gets a copy: it may write to it
            return a.copy()
        if np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps:
            return self.matvec(x) + self.q
        xl = np.asarray(x, dtype=np.longdouble)
        out = np.empty(self.n)
        for rows, block in self._row_blocks(np.longdouble):
            out[rows] = (block @ xl + self.q[rows]).astype(np.float64)
        return out

    @property
    def exact_gradient(self):
        """``True`` when ``gradient(x, precise=True)`` is ``P x + q`` correctly rounded.

        That holds for integer matrices (every plate stencil): the sum is
        formed exactly and rounded once.
        """
        return bool(self._integer_matrix)

    def _row_blocks(self, dtype, transform=None):
        return _row_blocks(self.P, dtype, transform)

    def rounding_level(self, x):
        """How much rounding ``x`` to float64 alone moves the gradient, per component.

        ``(eps / 2) * sqrt(sum_j P_ij^2 x_j^2)``: the root-sum-square of the
        worst-case change of each term ``P_ij x_j`` when ``x_j`` is rounded.
        No float64 vector, the exact optimum rounded included, has a gradient
        more accurate than this; the certificate's ``gap_floor`` sums it.

        Examples
        --------
        >>> import numpy as np, scipy.sparse as sp
        >>> prob = BoxQP(sp.diags([2.0, 2.0]), lower=[0, 0], upper=[1, 1])
        >>> bool(np.allclose(prob.rounding_level([1.0, 0.5]), np.finfo(float).eps * np.array([2, 1]) / 2))
        True
        """
        out = np.empty(self.n)
        for rows, level in self._rounding_blocks(x):
            out[rows] = level
        return out

    def _rounding_blocks(self, x):
        """``(rows, rounding_level(x)[rows])`` a block of rows at a time."""
        x2 = np.square(np.asarray(x, dtype=np.float64))
        half_eps = 0.5 * np.finfo(np.float64).eps
        if self._P is None:  # the operator's squared stencil: one product, then the same blocks
            level = self._op.square_matvec(x2)
            np.sqrt(level, out=level)
            level *= half_eps
            for start in range(0, self.n, ROW_BLOCK):
                rows = slice(start, min(start + ROW_BLOCK, self.n))
                yield rows, level[rows]
            return
        for rows, block in self._row_blocks(np.float64, np.square):
            yield rows, half_eps * np.sqrt(block @ x2)

    def objective(self, x):
        """``1/2 x^T P x + q^T x``."""
        x = np.asarray(x, dtype=np.float64)
        return float(0.5 * x @ self.matvec(x) + self.q @ x)

    def start_point(self):
        """A feasible point: :func:`box_start` of the bounds."""
        return box_start(self.lower, self.upper)

    def __repr__(self):
        pinned = int((self.lower == self.upper).sum())
        grid = f", grid={self.grid.shape} {self.grid.model}/{self.grid.bc}" if self.grid else ""
        mat = f"nnz(P)={self._P.nnz}" if self._P is not None else f"P={self._op.stencil.shape[0]}x{self._op.stencil.shape[1]} stencil"
        return f"BoxQP(n={self.n}, {mat}, pinned={pinned}{grid})"
