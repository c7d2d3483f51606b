"""Zero-energy problems: a function of ``P``'s null space inside the box is an optimum.

With ``q == 0`` the energy ``1/2 x^T P x`` is at least 0 (``P`` is positive semi-definite), so any
``x`` with ``P x = 0`` and ``L <= x <= U`` is optimal.  A tile of sky whose pixels all lie in one
bin admits a constant; a ramp that fits every bin admits a plane under the rules whose ``P``
annihilates planes.  An active-set search there runs on multipliers that are pure rounding, and
its step count swings with their last bits (``benchmarks/results/greens/notes.md``), so
``solver="auto"`` asks :func:`null_space_point` first (``qpsolve/solvers/__init__.py``) and
returns its point when the shared certificate accepts it.

Which polynomials each grid model's energy annihilates (found numerically: the eigenvalues of
``P`` on 12, 8 x 9 and 4 x 5 x 6 grids below ``1e-9`` of the largest, and ``P`` applied to the
monomials of degree <= 2; the count of zero eigenvalues equals the count of the monomials it
annihilates, so these span the whole null space there; ``tests/test_nullspace.py`` checks it):

- ``biharmonic`` and ``triharmonic`` under ``odd``: the multilinear polynomials, the products of
  any subset of the coordinates (``1, i, j, ij`` in 2-D; 8 functions in 3-D). The odd rule
  mirrors a pixel's value through the border pixel (``f(-1) = 2 f(0) - f(1)``), which keeps each
  axis's linear functions linear, and the second differences ``D_ii`` of such functions vanish;
- ``thin-plate`` under ``odd``: the affine functions (``1, i, j``; its mixed term ``D_ij`` does
  not vanish on ``ij``);
- ``mixed`` without its stretching term (``alpha = 0``, ``beta > 0``) as ``biharmonic``;
- every other model and rule (``laplace``, ``mixed`` with ``alpha > 0``, and everything under
  ``even`` and ``periodic``): the constants only.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..model.operators import GridSpec

__all__ = ["NULL_SPACE", "null_space_kind", "null_space_point"]

#: ``(model, bc) -> "multilinear" | "affine"``; every other grid model and rule: ``"constant"``
NULL_SPACE = {("biharmonic", "odd"): "multilinear", ("triharmonic", "odd"): "multilinear",
              ("thin-plate", "odd"): "affine"}
#: pixels per axis of the first sample of the cutting-plane LP (ends included): a textured or
#: curved tile is refused on these few constraints, at the cost of one small LP
SAMPLE_PER_AXIS = 9
#: rounds of the cutting-plane LP, and constraints added per round (the most violated ones)
MAX_ROUNDS = 30
ADD_PER_ROUND = 64


def null_space_kind(grid):
    """``"multilinear"``, ``"affine"`` or ``"constant"``: the polynomials ``grid``'s ``P`` annihilates.

    Parameters
    ----------
    grid : GridSpec
        The problem's grid.

    Examples
    --------
    >>> from qpsolve.model.operators import GridSpec
    >>> null_space_kind(GridSpec((8, 8), "biharmonic", "odd")), null_space_kind(GridSpec((8, 8), "laplace", "odd"))
    ('multilinear', 'constant')
    >>> null_space_kind(GridSpec((8, 8), "mixed", "odd", alpha=0.0, beta=2.0))   # bending only
    'multilinear'
    """
    model = grid.model
    if model == "mixed" and grid.alpha == 0 and grid.beta > 0:
        model = "biharmonic"  # alpha * laplace + beta * biharmonic with no stretching term
    return NULL_SPACE.get((model, grid.bc), "constant")


def _monomials(shape, kind):
    """The monomials of ``kind`` as tuples of axes (``()`` is the constant)."""
    axes = range(len(shape))
    if kind == "constant":
        return [()]
    if kind == "affine":
        return [()] + [(a,) for a in axes]
    return [s for r in range(len(shape) + 1) for s in itertools.combinations(axes, r)]


def _axis_coordinates(shape):
    """Each axis's coordinate scaled to ``[-1, 1]`` (conditioning of the LP)."""
    return [(np.arange(m, dtype=np.float64) - (m - 1) / 2) / max(1.0, (m - 1) / 2) for m in shape]


def _evaluate(shape, monomials, coef, coords):
    """``sum_k coef_k * monomial_k`` on the whole grid, raveled in C order like the problem's vectors."""
    x = np.zeros(shape)
    for c, mono in zip(coef, monomials):
        term = np.asarray(c, dtype=np.float64)
        for a in mono:
            term = term * coords[a].reshape([-1 if b == a else 1 for b in range(len(shape))])
        x += term
    return x.ravel()


def _rows(idx, shape, monomials, coords):
    """The monomials' values at the flat indices ``idx``: an ``len(idx) x len(monomials)`` array."""
    sub = np.unravel_index(idx, shape)
    cols = []
    for mono in monomials:
        col = np.ones(len(idx))
        for a in mono:
            col = col * coords[a][sub[a]]
        cols.append(col)
    return np.column_stack(cols)


def _fit(prob, shape, monomials, slack):
    """A polynomial of ``monomials`` inside the box, by a cutting-plane LP, or ``None``.

    The LP maximises the margin ``t`` of ``L + t <= N c <= U`` over the constraints of a sample of
    pixels; its optimum bounds the whole problem's from above, so a negative margin on a sample
    proves that no such polynomial fits. Otherwise the pixels the sample's polynomial violates
    join the sample until it fits everywhere (to ``slack``) or the rounds run out.
    """
    from scipy.optimize import linprog

    lo, hi = prob.lower, prob.upper
    coords = _axis_coordinates(shape)
    picks = [np.unique(np.linspace(0, m - 1, min(m, SAMPLE_PER_AXIS)).round().astype(np.intp)) for m in shape]
    idx = np.ravel_multi_index(np.meshgrid(*picks, indexing="ij"), shape).ravel()
    k = len(monomials)
    cap = prob.scale  # the margin is at most half a bin; the cap only bounds the LP when a side is open
    for _ in range(MAX_ROUNDS):
        rows = _rows(idx, shape, monomials, coords)
        up, dn = np.isfinite(hi[idx]), np.isfinite(lo[idx])
        a_ub = np.vstack([np.hstack([rows[up], np.ones((up.sum(), 1))]),
                          np.hstack([-rows[dn], np.ones((dn.sum(), 1))])])
        b_ub = np.concatenate([hi[idx][up], -lo[idx][dn]])
        c = np.zeros(k + 1)
        c[-1] = -1.0
        res = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=[(None, None)] * k + [(None, cap)], method="highs")
        if res.status != 0 or -res.fun < -slack:
            return None  # the sample admits no such polynomial: neither does the whole box
        x = _evaluate(shape, monomials, res.x[:k], coords)
        with np.errstate(invalid="ignore"):
            excess = np.fmax(lo - x, x - hi)  # > 0 outside the box; NaN nowhere (one side is finite or both open)
        excess[~np.isfinite(excess)] = -np.inf
        bad = np.flatnonzero(excess > slack)
        if bad.size == 0:
            return x
        bad = bad[np.argsort(excess[bad])[::-1]]
        new = np.setdiff1d(bad[:ADD_PER_ROUND], idx)
        if new.size == 0:
            return None
        idx = np.concatenate([idx, new])
    return None


def null_space_point(prob):
    """A point of ``prob``'s box in ``P``'s null space (an optimum when ``q == 0``), or ``None``.

    Only for problems on a grid (``prob.grid``) without a linear term. Constants are tried first
    (``max(L) <= min(U)``, exact: the midpoint of the two); then, where the model annihilates
    more (:data:`NULL_SPACE`), the polynomials of :func:`null_space_kind` by a small LP (HiGHS) on
    cutting planes. The point is proposed, not proven: the caller certifies it.

    Parameters
    ----------
    prob : BoxQP
        The problem.

    Returns
    -------
    tuple or None
        ``(x, kind)``: ``x`` inside the box and ``kind`` ``"constant"``, ``"affine"`` or
        ``"multilinear"``; ``None`` when there is no such point (or the problem is not one of these).

    Examples
    --------
    >>> import numpy as np, qpsolve as qs
    >>> from qpsolve.imaging.data import truncate_bits
    >>> ramp = truncate_bits(np.add.outer(np.arange(8), np.arange(8)).astype(np.uint8) * 8, 4)  # a plane, 4 bits
    >>> prob = qs.image_problem(ramp, bits=4)
    >>> x, kind = null_space_point(prob)
    >>> kind, bool(np.all((prob.lower <= x) & (x <= prob.upper))), bool(np.abs(prob.matvec(x)).max() < 1e-9)
    ('multilinear', True, True)
    """
    grid = getattr(prob, "grid", None)
    if not isinstance(grid, GridSpec) or (prob.q is not None and np.any(prob.q)):
        return None
    lo, hi = prob.lower, prob.upper
    top = float(lo.max()) if lo.size else -np.inf  # -inf entries (free pixels) never bind
    bottom = float(hi.min()) if hi.size else np.inf
    if top <= bottom:
        if np.isfinite(top) and np.isfinite(bottom):
            c = 0.5 * top + 0.5 * bottom  # no overflow between bounds near +-1e308
        else:
            c = top if np.isfinite(top) else bottom if np.isfinite(bottom) else 0.0
        return prob.project(np.full(prob.n, c)), "constant"
    kind = null_space_kind(grid)
    if kind == "constant":
        return None
    shape = tuple(int(s) for s in grid.shape)
    x = _fit(prob, shape, _monomials(shape, kind), slack=1e-12 * prob.scale)
    if x is None:
        return None
    return prob.project(x), kind
