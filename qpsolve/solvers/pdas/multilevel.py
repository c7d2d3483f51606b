"""The multilevel driver: coarse levels seed fine ones; the fine level is polished and certified."""

from __future__ import annotations

import functools
import time

import numpy as np
from scipy.ndimage import map_coordinates

from ...certificate import certificate
from ...linalg import greens
from ...linalg.coarse import coarse_envelopes
from ...linalg.threads import coarse_progress
from ...problem import BoxQP
from ...validation import check_positive_int
from .._base import BackendOutput
from .. import pcg
from . import constants
from .iteration import run_level
from .level import Level
from .newton import projected_newton

__all__ = ["GridLevel", "level_chain", "seed_from_coarse", "active_of", "coarsest_solver", "tnnmg_takes",
           "solve_multilevel"]


class GridLevel:
    """A coarse level: envelopes on a grid, no assembled matrix (PDAS never needs one)."""

    def __init__(self, lower, upper, grid):
        self.lower, self.upper, self.grid = lower, upper, grid
        self.n = lower.size
        self.q = np.zeros(self.n)

    def boxqp(self):
        return BoxQP(self.grid.energy(), self.lower, self.upper, grid=self.grid)


def level_chain(prob, min_size):
    """Finest first: ``prob`` and its 2-block min/max restrictions while both axes halve."""
    chain = [prob]
    while True:
        top = chain[-1]
        shape = top.grid.shape
        if any(s % 2 or s // 2 < min_size for s in shape):
            break
        lo, hi, grid = coarse_envelopes(top.lower, top.upper, top.grid, (0, 1))  # the restriction pcg uses too
        chain.append(GridLevel(lo.ravel(), hi.ravel(), grid))
    return chain


def seed_from_coarse(fine, coarse, act_c, upper_c, x_c):
    """One fine pixel per coarse contact (the child the interpolated coarse plate violates most).

    Each coarse contact covers a 2x2 block of fine pixels; contacts do not
    cluster at the fine scale more than at the coarse one, so seeding all
    four would start PDAS with twice the final set.  Pinned pixels always join.
    """
    fshape, cshape = fine.grid.shape, coarse.grid.shape
    ci, cj = np.divmod(act_c, cshape[1])
    best = np.full(act_c.size, -np.inf)
    pick = np.zeros(act_c.size, dtype=np.int64)
    xc = np.asarray(x_c, dtype=np.float64).reshape(cshape)
    for di in range(2):
        for dj in range(2):
            idx = (2 * ci + di) * fshape[1] + 2 * cj + dj
            # Fine pixel centre (2I + d) sits at coarse coordinate I + (d - 1/2) / 2.
            xf = map_coordinates(xc, [ci + (di - 0.5) / 2, cj + (dj - 0.5) / 2], order=1, mode="nearest")
            score = np.where(upper_c, xf - fine.upper[idx], fine.lower[idx] - xf)
            better = score > best
            best[better], pick[better] = score[better], idx[better]
    pinned = np.flatnonzero(fine.lower == fine.upper)
    act = np.concatenate([pick, pinned])
    upper = np.concatenate([upper_c, np.zeros(pinned.size, bool)])
    act, first = np.unique(act, return_index=True)
    return act, upper[first]


def active_of(prob, x):
    """Pixels at a bound with the gradient pushing outward (and the pinned ones)."""
    g = prob.gradient(x)
    lo = (x <= prob.lower) & ((g > 0) | (prob.lower == prob.upper))
    hi = (x >= prob.upper) & (g < 0) & ~lo
    act = np.flatnonzero(lo | hi)
    return act, hi[act]


def coarsest_solver(cprob):
    """``(name, module)`` of the backend that solves the coarsest level ``cprob`` of the chain.

    A small coarsest level (sides that halve down to ``MIN_COARSE``) goes to
    ``pcg``, whose exact sparse-LU Newton steps find its active set at once.
    Sides that stop halving early leave a large one (coffee's 400 x 600
    stops at 50 x 75, 3 750 pixels; 3000 x 4000 at 375 x 500, 187 500),
    where ``pcg``'s sparse-LU steps cost several times ``tnnmg``'s cycles, on
    textured and smooth images alike: from ``COARSEST_MULTIGRID`` pixels
    ``tnnmg`` solves it, when it can (benchmarks/results/dense/notes.md,
    sessions 6 and 7).  Its contacts
    are then judged by the density rule
    (:func:`~qpsolve.solvers.pdas.constants.is_dense`) like every level's.

    Examples
    --------
    >>> import numpy as np
    >>> from qpsolve.model.operators import GridSpec
    >>> from qpsolve.solvers.pdas.multilevel import GridLevel
    >>> small = GridLevel(np.zeros(64), np.ones(64), GridSpec(shape=(8, 8))).boxqp()
    >>> coarsest_solver(small)[0]
    'pcg'
    >>> big = GridLevel(np.zeros(256 * 256), np.ones(256 * 256), GridSpec(shape=(256, 256))).boxqp()
    >>> coarsest_solver(big)[0]
    'tnnmg'
    >>> coffee = GridLevel(np.zeros(50 * 75), np.ones(50 * 75), GridSpec(shape=(50, 75))).boxqp()
    >>> coarsest_solver(coffee)[0]
    'tnnmg'
    >>> strip = GridLevel(np.zeros(15 * 2200), np.ones(15 * 2200), GridSpec(shape=(15, 2200))).boxqp()
    >>> coarsest_solver(strip)[0]
    'pcg'
    """
    if cprob.n < constants.COARSEST_MULTIGRID:
        return "pcg", pcg  # before importing gridmg: a smooth solve need not load numba
    from ...linalg.gridmg import MIN_SIDE

    # tnnmg's hierarchies coarsen only while both sides are at least MIN_SIDE long: a strip (30 x 4400
    # halves to 15 x 2200) would get no coarse grid, so it stays on pcg.
    if min(cprob.grid.shape) >= MIN_SIDE:
        from .. import tnnmg

        if tnnmg.available() and tnnmg.supports(cprob) is None:
            return "tnnmg", tnnmg
    return "pcg", pcg


def tnnmg_takes(prob):
    """Whether ``tnnmg`` continues a dense hand-over of ``prob`` quickly: a 2-D grid whose sides are at
    least ``constants.DENSE_ANY_SIZE_SIDE`` long, numba present (``tnnmg.available()`` imports it: ask
    only when a level is dense by its share of contacts).

    >>> import numpy as np
    >>> from qpsolve.model.operators import GridSpec
    >>> tile = GridLevel(np.zeros(64 * 64), np.ones(64 * 64), GridSpec(shape=(64, 64))).boxqp()
    >>> tnnmg_takes(tile)
    True
    >>> strip = GridLevel(np.zeros(16 * 400), np.ones(16 * 400), GridSpec(shape=(16, 400))).boxqp()
    >>> tnnmg_takes(strip)
    False
    """
    from .. import tnnmg

    return (min(prob.grid.shape) >= constants.DENSE_ANY_SIZE_SIDE and tnnmg.available()
            and tnnmg.supports(prob) is None)


def solve_multilevel(prob, *, tol, max_iter, x0, verbose, time_limit, coarse_to_fine=True, max_active=None,
                     fallback=True, dense_to_tnnmg=False, **options):
    """The whole ``pdas`` solve (the parameters are :func:`qpsolve.solvers.pdas.solve`'s).

    1. A stationary start point ends the solve at once.
    2. The seed: the contacts of ``x0``; else, on a grid problem without a
       linear term, the coarsest level of :func:`level_chain` solved by
       ``pcg`` (``tnnmg`` when it is large: :func:`coarsest_solver`); else
       the pinned pixels.
    3. A coarsest level whose contacts are dense
       (:func:`~qpsolve.solvers.pdas.constants.is_dense`) ends the solve
       there (status ``dense``): no PDAS level runs.  With
       ``dense_to_tnnmg`` (the caller gave no options, so the registry hands
       a dense set to ``tnnmg``) a dense share of contacts is enough on a
       level of at least ``DENSE_ANY_SIZE_PIXELS`` where :func:`tnnmg_takes`
       the problem, whatever their number.
       Coarsest to finest, each level runs :func:`~qpsolve.solvers.pdas.iteration.run_level`
       from the set seeded by the level below (:func:`seed_from_coarse`);
       coarse levels stop early, the fine one is polished.  A fine level that
       stalls or cycles continues with :func:`~qpsolve.solvers.pdas.newton.projected_newton`;
       a time limit, too many contacts or a dense set stops the climb.
    4. With ``fallback``: a fine point the certificate does not accept gets
       up to ``SHARPEN_STEPS`` corrections of its dual shift, and is then
       handed over to ``pcg`` by the registry (``handover``), from this
       point when the fine level was reached, else from ``pcg``'s own start.

    Returns the :class:`~qpsolve.solvers.BackendOutput`, with ``info["levels"]``
    (see :func:`qpsolve.solvers.pdas.solve`) and, when the fine level ended
    certified, the certificate it ran (``certified``).
    """
    if options:
        raise TypeError(f"pdas got unknown option(s): {sorted(options)}")
    if max_active is None:
        max_active = constants.default_max_active(prob.n)
    check_positive_int(max_active, "max_active")
    # asked at most once, and only when a level's share alone would decide (the question loads numba)
    any_size = functools.cache(lambda: tnnmg_takes(prob)) if dense_to_tnnmg else False
    max_iter = 100 if max_iter is None else int(max_iter)
    deadline = None if time_limit is None else time.perf_counter() + float(time_limit)

    if x0 is None:
        # A plate with nothing to bend (a flat envelope, every optimum tied): keep the
        # centre of the box, as a descent method started there would.
        start = prob.start_point()
        g = prob.gradient(start)
        if not np.any(np.abs(g) > 1e-13 * max(prob.row_norm, 1.0) * max(float(np.abs(start).max()), 1.0)):
            return BackendOutput(x=start, iterations=0, converged=True, message="the start point is stationary",
                                 info={"levels": []})
        del start, g  # 64 MB at 2048^2, for the rest of the solve

    use_chain = x0 is None and coarse_to_fine and not np.any(prob.q != 0)
    chain = level_chain(prob, constants.MIN_COARSE) if use_chain else [prob]
    levels = []
    parent = None  # the level whose active set seeds the next finer one
    dense = False
    if x0 is not None:
        act, upper = active_of(prob, x0)
    elif len(chain) > 1:
        parent = chain.pop()
        t0 = time.perf_counter()
        cprob = parent.boxqp()
        name, mod = coarsest_solver(cprob)
        with coarse_progress():  # its fine level is this solve's coarsest
            out = mod.solve(cprob, tol=max(tol, 1e-8), max_iter=None, x0=None, verbose=False,
                            time_limit=None if deadline is None else max(deadline - t0, 1e-3))
        x_parent = cprob.project(out.x)
        act, upper = active_of(cprob, x_parent)
        # The density rule holds on the coarsest level too: a textured photograph whose sides stop
        # halving early (coffee: 50 x 75) shows its dense contacts here, before any PDAS level.
        dense = constants.is_dense(act.size, parent.n, constants.DENSE_GROWTH ** len(chain), max_active, any_size)
        levels.append({"n": parent.n, "solver": name, "iterations": out.iterations, "active": int(act.size),
                       "status": "dense" if dense else "optimal" if out.converged else "not_converged",
                       "seconds": time.perf_counter() - t0})
        if dense:
            chain = []  # no PDAS level runs: the registry hands over (solvers.DENSE_HANDOVER)
    else:
        act = np.flatnonzero(prob.lower == prob.upper)
        upper = np.zeros(act.size, bool)

    x, status, it, shift = None, "dense" if dense else "max_iter", 0, None
    for depth in range(len(chain) - 1, -1, -1):
        lvl = chain[depth]
        if parent is not None:
            act, upper = seed_from_coarse(lvl, parent, act, upper, x_parent)
        t0 = time.perf_counter()
        fine = depth == 0
        # Tables (and exact-order blocks) on every level of a small grid (tiles: their coarse levels
        # are solved as often), on the fine level only of a larger one: a function of the problem.
        level = Level(lvl, table=fine or prob.n <= greens.DENSE_TABLE_PIXELS)
        x, act, upper, status, it, hist, shift, cert = run_level(
            level, act, upper, max_iter=max_iter if fine else 40, max_active=max(1, max_active >> depth),
            deadline=deadline, verbose=verbose, label=f"n={lvl.n}", tol=tol if fine else None,
            loose=None if fine else constants.COARSE_VIOLATION, growth=constants.DENSE_GROWTH ** depth,
            max_fine=max_active, any_size=any_size)
        x_parent = x
        levels.append({"n": lvl.n, "solver": "pdas", "iterations": it, "active": int(act.size),
                       "status": status, "seconds": time.perf_counter() - t0, "history": hist,
                       "schur_columns": level.schur.evaluated, "factor_updates": level.updates})
        if fine and status in ("stalled", "cycle", "max_iter"):
            t0, updates = time.perf_counter(), level.updates
            x, status, pn_it, hist = projected_newton(level, x, tol=tol, max_iter=max_iter,
                                                      max_active=max_active, deadline=deadline,
                                                      verbose=verbose, label=f"n={lvl.n}", any_size=any_size)
            it += pn_it
            shift = None
            levels.append({"n": lvl.n, "solver": "projected-newton", "iterations": pn_it,
                           "status": status, "seconds": time.perf_counter() - t0, "history": hist,
                           "factor_updates": level.updates - updates})
        if status in ("time_limit", "too_many_active", "dense"):
            # On a coarse level the limit is max_active / 2^depth: contacts at least double
            # per level (lines; textures quadruple), so the fine set would not fit either.
            break
        parent = lvl

    reached_fine = x is not None and x.size == prob.n
    message = (f"{status} after {it} PDAS iterations on the fine level ({len(levels)} levels)" if reached_fine
               else f"{status} on a coarse level of {levels[-1]['n']} pixels")
    info = {"levels": levels}
    x = prob.project(x if reached_fine else prob.start_point())
    converged = status == "optimal"
    polished_cert = cert if reached_fine and converged else None  # of this x (projected already)
    cert = None
    if fallback and status != "time_limit":
        # Exact arithmetic says optimal; the shared certificate has the last word.
        if converged:
            cert = polished_cert if polished_cert is not None else certificate(prob, x, tol, dual_shift=shift)
        for _ in range(constants.SHARPEN_STEPS if converged and shift is not None else 0):
            if cert.optimal:
                break
            shift = level.sharpen(x, shift, act)
            cert = certificate(prob, x, tol, dual_shift=shift)
        if cert is None or not cert.optimal:
            # The registry hands over to pcg (solvers.HANDOVERS): from PDAS's point when it got
            # close, else from pcg's own coarse-to-fine start.
            fresh = not reached_fine or status in ("dense", "too_many_active")
            return BackendOutput(x=x, iterations=it, converged=converged, stalled=status == "cycle",
                                 message=message, info=info, handover=True, handover_x0=x0 if fresh else x)
    # (shift and cert exist only when the fine level was reached: coarse levels do not polish)
    return BackendOutput(x=x, iterations=it, converged=converged, stalled=status == "cycle",
                         hit_time_limit=status == "time_limit", message=message, info=info,
                         dual_shift=shift, certified=None if cert is None else (x, tol, shift, cert))
