"""``pcg``: projected Newton on faces, AMG-preconditioned CG, coarse-to-fine.

The default for problems ``pdas`` does not take (no 2-D grid, models without a
fast inverse, dense contact sets such as textured photographs), and where
``pdas`` hands over.

The method, for ``min 1/2 x^T P x + q^T x`` over a box:

1. **Coarse-to-fine warm start** (grid problems): the envelopes are restricted
   to half resolution by min / max over 2-blocks (paper section 4.3), the
   coarse problem is solved by this same method, and its solution is
   interpolated up and projected into the fine box, so the fine level starts
   with a nearly right active set.
2. **Active-set steps** (``active_set=True``; grid problems, fine levels up
   to ``LU_MAX_N`` variables): primal-dual active-set steps with exact
   sparse-LU solves move every violated and every wrong-sign variable at
   once, a bounded number, kept while the duality gap keeps halving.  When
   they reach a certified point it is the answer (scattered contact sets: a
   few steps where projected Newton takes dozens); otherwise step 3 starts
   from the original point, because projected Newton can crawl from a
   clipped PDAS iterate.
3. **Face Newton step.**  With ``g = P x + q`` the *binding* set is the
   variables held at a bound by their gradient (``x_i = L_i, g_i > 0`` or
   ``x_i = U_i, g_i < 0``) and the pinned ones; the others are free.  The
   reduced system ``P_FF d_F = -g_F`` is solved by conjugate gradients
   preconditioned with a sparse LU of ``P_FF`` (up to ``LU_MAX_N``
   variables) or a pyamg smoothed-aggregation hierarchy of it, kept while the
   face barely changes (any principal restriction of an SPD preconditioner is
   an SPD preconditioner for the new face).  With the hierarchy the step is
   short while the face moves (``MOVING_CG_MAXITER`` CG iterations after
   ``SMOOTHING_SWEEPS`` projected Gauss-Seidel sweeps, as a TNNMG step),
   longer once few variables change side, tight once the face has settled.
   On a plain matrix (no grid) each step starts with **constrained coarse
   corrections** (:class:`qpsolve.linalg.monotone.SmoothedLevels`):
   projected coordinate descent along the columns of the hierarchy's
   composite prolongators, down and up the levels, each step clipped to the
   exact interval that keeps its support in the box.  They move held regions
   that the truncated step freezes (monotone multigrid; measured in
   ``benchmarks/results/amg/notes-session3.md``).
4. **Projected search** along ``d`` (Bertsekas' projected Newton): the step
   ``clip(x + a d) - x`` with Armijo back-tracking, which adds many
   constraints at once; if it fails, the largest feasible step (exact
   decrease along a CG direction) or a diagonally scaled projected-gradient
   step keeps the iteration monotone.
5. Stop when the shared certificate (duality gap, projected gradient) says
   optimal.

Only sparse matrix products, pyamg and numpy are used; nothing is dense.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from ..certificate import certificate
from ..linalg.amg import Hierarchy, near_null_space, projected_gauss_seidel
from ..linalg.coarse import coarse_envelopes, prolong
from ..linalg.facecg import face_cg
from ..linalg.monotone import AggregateLevels, SmoothedLevels
from ..linalg.search import projected_search
from ..linalg.threads import blas_threads, out_of_time, report_progress
from ..problem import BoxQP
from ._base import BackendOutput, importable

NAME = "pcg"

#: coarsen grids while the coarsenable axes stay at least this long
MIN_COARSE = 48


def available():
    return importable("pyamg")


def supports(prob):
    return None


# ---------------------------------------------------------------------------------------------
# coarse-to-fine
# ---------------------------------------------------------------------------------------------
def _coarse_axes(shape):
    return tuple(k for k, n in enumerate(shape) if n % 2 == 0 and n // 2 >= MIN_COARSE)


def _carry_up(chain, x, depth):
    """``x`` of level ``depth + 1`` of ``chain`` (finest first), prolonged onto level ``depth`` and
    projected into its box."""
    return chain[depth].project(prolong(x, chain[depth + 1].grid.shape, chain[depth].grid.shape))


def _coarse_problem(prob):
    grid = prob.grid
    if grid is None or np.any(prob.q != 0):
        return None
    axes = _coarse_axes(grid.shape)
    if not axes:
        return None
    lo, hi, cgrid = coarse_envelopes(prob.lower, prob.upper, grid, axes)
    return BoxQP(cgrid.matrix(), lo.ravel(), hi.ravel(), grid=cgrid)


# ---------------------------------------------------------------------------------------------
# the face solver
# ---------------------------------------------------------------------------------------------
#: faces up to this many variables are preconditioned by an exact sparse LU
LU_MAX_N = 70_000


class _FacePreconditioner:
    """Approximate inverse of ``P`` restricted to a face (binding rows/cols -> diagonal).

    Small faces get a sparse LU (CG then converges in one or two steps, i.e.
    exact Newton); large ones the V-cycle of the solve's one AMG hierarchy,
    truncated to the face (:meth:`qpsolve.linalg.amg.Hierarchy.truncated`).
    """

    def __init__(self, P, diag, free, kind, hierarchy, previous=None):
        self.free = free.copy()
        if kind == "amg":
            # The previous face's cycle lets the coarse operators be updated, not re-formed.
            old = previous.apply if previous is not None and hasattr(previous.apply, "coarse") else None
            self.apply = hierarchy.truncated(free, previous=old)
            return
        from scipy.sparse.linalg import splu

        f = free.astype(np.float64)
        Fm = sp.diags(f)
        # A small shift keeps singular faces (no constraint touches a component) factorable
        # without blowing up their null-space directions; CG itself runs on the true P_FF.
        shift = 1e-9 * float(diag.max())
        K = (Fm @ P @ Fm + sp.diags((1.0 - f) * diag + shift)).tocsc()
        try:
            self.apply = splu(K, permc_spec="COLAMD").solve
        except RuntimeError:  # "exactly singular": the shift underflowed (P of subnormal size)
            d = K.diagonal()
            d = np.where(d > 0, d, 1.0)
            self.apply = lambda r: r / d  # Jacobi: only CG's speed depends on it

    def changed(self, free):
        return int(np.count_nonzero(free != self.free))

    def __call__(self, r, fmask):
        return fmask * self.apply(r)


#: at most this many exact active-set steps before the projected Newton iteration (LU-sized levels)
ACTIVE_SET_STEPS = 40
#: ... and stop once the best duality gap has not halved for this many steps
ACTIVE_SET_PATIENCE = 4


def _active_set_steps(prob, x, tol, max_steps, deadline):
    """Primal-dual active-set steps with exact sparse-LU solves.

    Projected Newton adds and drops a few constraints per step, which is slow
    when the contact set is large and scattered.  Here every violated
    variable joins and every wrong-sign multiplier leaves at once
    (Hintermueller, Ito and Kunisch 2002): on M-matrices that converges in a
    handful of steps.  On the plate (not an M-matrix) it may cycle or crawl,
    so it runs a bounded number of steps and keeps the point with the
    smallest duality gap.  Returns that point, the number of steps and
    whether the point is certified optimal.
    """
    from scipy.sparse.linalg import splu

    P, q, lo, hi = prob.P, prob.q, prob.lower, prob.upper
    pinned = lo == hi
    g = P @ x + q
    at_lo = pinned | ((x <= lo) & (g > 0))
    at_hi = ~pinned & (x >= hi) & (g < 0)
    shift = 1e-9 * float(prob.diag.max())
    best_x, best = x, certificate(prob, x, tol, gradient=g)
    if best.optimal:
        return x, 0, True
    halved_gap, halved_at = best.gap, 0
    seen = set()
    steps = 0
    for steps in range(1, max_steps + 1):
        if steps - halved_at > ACTIVE_SET_PATIENCE:
            break  # slow (linear) progress: projected Newton does as well from here
        free = ~(at_lo | at_hi)
        xb = np.where(at_lo, lo, np.where(at_hi, hi, 0.0))
        xb = np.where(np.isfinite(xb), xb, 0.0)
        new = xb.copy()
        if free.any():
            idx = np.flatnonzero(free)
            K = P[idx][:, idx] + shift * sp.identity(idx.size)  # shift: free parts no contact anchors
            try:
                new[idx] = splu(K.tocsc(), permc_spec="COLAMD").solve(-(q + P @ xb)[idx])
            except RuntimeError:  # exactly singular even with the shift
                break
        if not np.isfinite(new).all():
            break
        g = P @ new + q
        cand = prob.project(new)
        cert = certificate(prob, cand, tol)
        if cert.gap < best.gap:
            best_x, best = cand, cert
        if best.optimal:
            break
        if best.gap <= 0.5 * halved_gap:
            halved_gap, halved_at = best.gap, steps
        below, above = free & (new < lo), free & (new > hi)
        wrong_lo = at_lo & ~pinned & (g < 0)
        wrong_hi = at_hi & (g > 0)
        if not (below.any() or above.any() or wrong_lo.any() or wrong_hi.any()):
            break
        at_lo = (at_lo & ~wrong_lo) | below
        at_hi = (at_hi & ~wrong_hi) | above
        key = hash((np.packbits(at_lo).tobytes(), np.packbits(at_hi).tobytes()))
        if key in seen or out_of_time(deadline):
            break
        seen.add(key)
    return best_x, steps, best.optimal


#: AMG faces: projected Gauss-Seidel sweeps before each Newton step (the TNNMG pre-smoother)
SMOOTHING_SWEEPS = 30
#: AMG faces: re-form the truncated hierarchy once the face moved by more than this fraction of n
REGALERKIN_FRACTION = 0.0
#: AMG faces: CG iterations per Newton step while the face still moves ...
MOVING_CG_MAXITER = 3
#: ... i.e. while more than this fraction of the variables changed side at the last step
MOVING_FRACTION = 0.001
#: AMG faces: CG iterations per Newton step once fewer changed (tight solves once none did)
NEARLY_SETTLED_CG_MAXITER = 25
#: AMG faces: projected Gauss-Seidel sweeps per aggregate level of the constrained coarse
#: correction before each Newton step (0: none)
COARSE_SWEEPS = 2
#: ... on at most this many aggregate levels (None: all)
COARSE_LEVELS = None
#: 'aggregates' (unsmoothed, exact monotone restriction) or 'smoothed' (the prolongators' columns)
COARSE_SPACE = "smoothed"


def _solve_level(prob, x, tol, max_iter, deadline, verbose, kind, hierarchy, label, active_set=False,
                 sweeps=0, coarse=None, stage="fine"):
    P, q, lo, hi = prob.P, prob.q, prob.lower, prob.upper
    diag = prob.diag
    pinned = lo == hi
    x = prob.project(x)
    pdas_steps = 0
    if active_set:
        best, pdas_steps, certified = _active_set_steps(prob, x, tol, ACTIVE_SET_STEPS, deadline)
        # Only a certified point replaces the start: from an uncertified one (clipped PDAS
        # iterates) projected Newton can crawl (benchmarks/results/design_notes.md).
        if certified:
            x = best
    prec = None
    history = []
    cg_total = 0
    prev_free = None
    rtol = 1e-2
    status = "max_iter"
    it = 0
    amg = kind == "amg"
    for it in range(1, max_iter + 1):
        if coarse is not None:
            # Constrained coarse corrections: lift (or lower) whole held regions, which the
            # truncated Newton step below cannot move.  Monotone.
            coarse.correct(P, q, lo, hi, x, sweeps=COARSE_SWEEPS, levels=COARSE_LEVELS)
        if sweeps:
            # Projected Gauss-Seidel finds the contacts near the current ones (the local part
            # of the active set) at the cost of a product per sweep; the Newton step below
            # then moves the smooth part.  Monotone, so the iteration stays a descent method.
            projected_gauss_seidel(P, q, lo, hi, x, sweeps, diag=diag)
        g = P @ x + q
        cert = certificate(prob, x, tol, gradient=g)
        history.append((cert.objective, cert.gap, cert.projected_gradient))
        report_progress(NAME, stage, prob.n, it, cert.relative_gap, tol)
        if cert.optimal:
            status = "optimal"
            break
        if out_of_time(deadline):
            status = "time_limit"
            break
        binding = pinned | ((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0))
        free = ~binding
        fmask = free.astype(np.float64)
        nchg = -1 if prev_free is None else int(np.count_nonzero(free != prev_free))
        settled = nchg == 0
        prev_free = free
        # Loose solves while the face moves; tight ones once it has settled.
        rtol = max(1e-14, rtol * 1e-3) if settled else 1e-2
        # A stale preconditioner is still SPD on the new face; rebuild once the face moved
        # by more than 0.2 % (LU; measured: looser rules cost more Newton steps than they
        # save) or 1 % (AMG: re-forming the truncated hierarchy costs about 10 V-cycles).
        if prec is None or prec.changed(free) > (REGALERKIN_FRACTION if amg else 0.002) * prob.n:
            prec = _FacePreconditioner(P, diag, free, kind, hierarchy, previous=prec)
        # While the face moves a rough direction (a few CG iterations) moves it as fast as an
        # accurate one; once only a few variables change side, the face needs real solves.
        if settled or not amg:
            cg_max = 500
        elif nchg < 0 or nchg > MOVING_FRACTION * prob.n:
            cg_max = MOVING_CG_MAXITER
        else:
            cg_max = NEARLY_SETTLED_CG_MAXITER
        d, cg_it, cg_res = face_cg(lambda p: P @ p, lambda r: prec(r, fmask), -g * fmask, fmask, rtol=rtol,
                                   max_iter=cg_max, deadline=deadline)
        cg_total += cg_it
        step, how = projected_search(prob, x, g, d)
        if step is None:
            status = "stalled"
            break
        x = prob.project(x + step)
        if verbose:
            print(f"  [pcg {label}] it {it:3d}: E={cert.objective:.12g} gap={cert.gap:.2e} "
                  f"pg={cert.projected_gradient:.2e} free={int(free.sum())} cg={cg_it} "
                  f"res={cg_res:.1e} chg={nchg} step={how}", flush=True)
    return x, it, cg_total, status, history, pdas_steps


#: problems without a grid use the sparse LU only up to this many variables (AMG beyond)
GENERAL_LU_MAX_N = 4096


def _auto_kind(prob):
    """``'lu'`` or ``'amg'`` for ``preconditioner='auto'``.

    Grid levels keep the LU up to ``LU_MAX_N`` (the photographs' tiles and
    coarse levels, where it is measured to pay).  A user's matrix goes to the
    hierarchy much sooner: on the 128^2 variable-stiffness plate one LU per
    Newton step made 71 s against 8.5 s with the AMG engine (loaded machine).
    """
    limit = LU_MAX_N if prob.grid is not None else GENERAL_LU_MAX_N
    return "lu" if prob.n <= limit else "amg"


def _candidates(prob):
    """Near-null-space candidates of a level: the caller's, or from coordinates (grids, ``coordinates=``)."""
    nns = getattr(prob, "near_null_space", None)
    coords = getattr(prob, "coordinates", None)
    if nns is None and coords is None and prob.grid is not None:
        axes = np.meshgrid(*[np.arange(k, dtype=np.float64) for k in prob.grid.shape], indexing="ij")
        coords = np.stack([a.ravel() for a in axes], axis=1)
    return near_null_space(prob.P, coordinates=coords, candidates=nns)


def _coarse_levels(prob, hierarchy):
    """The constrained coarse corrections of a level (``COARSE_SPACE``)."""
    if COARSE_SPACE == "aggregates":
        return AggregateLevels.from_pyamg(prob.P, hierarchy.ml)
    return SmoothedLevels(prob.P, hierarchy.prolongators, COARSE_LEVELS,
                          first_transpose=hierarchy.transposed_prolongators[0] if hierarchy.prolongators else None)


def _solve_chain(chain, x, tol, max_iter, deadline, verbose, preconditioner, amg, active_set, sweeps, levels):
    """Solve the levels of ``chain`` coarsest first; returns the last point and its depth."""
    for depth in range(len(chain) - 1, -1, -1):
        lvl = chain[depth]
        if depth < len(chain) - 1:
            x = _carry_up(chain, x, depth)
        t0 = time.perf_counter()
        # Coarse levels only need a good active set, not a certificate.
        ltol = tol if depth == 0 else max(tol, 1e-6)
        lmax = max_iter if depth == 0 else 30
        kind = preconditioner if preconditioner != "auto" else _auto_kind(lvl)
        hierarchy, setup = None, 0.0
        if kind == "amg" and certificate(lvl, x, ltol).optimal:
            # A start that is already certified (a warm start, a hand-over's point) costs one
            # product, not the hierarchy's set-up.
            levels.append({"n": lvl.n, "iterations": 0, "cg_iterations": 0, "status": "optimal",
                           "active_set_steps": 0, "seconds": time.perf_counter() - t0, "setup_seconds": 0.0,
                           "history": []})
            continue
        if kind == "amg":
            # Built once per level; every face re-uses its aggregates and prolongators.
            hierarchy = Hierarchy(lvl.P, _candidates(lvl), **amg)
            setup = time.perf_counter() - t0
            if verbose:
                print(f"  [pcg level {depth} n={lvl.n}] AMG hierarchy: {hierarchy.levels} levels, "
                      f"operator complexity {hierarchy.operator_complexity():.2f}, {setup:.2f} s", flush=True)
        lsweeps = sweeps if sweeps is not None else (SMOOTHING_SWEEPS if kind == "amg" else 0)
        # Plain matrices only: the grid levels (photographs above LU_MAX_N pixels) keep their
        # measured path; the corrections were not benchmarked there.
        coarse = (_coarse_levels(lvl, hierarchy) if kind == "amg" and COARSE_SWEEPS > 0 and lvl.grid is None
                  else None)
        x, it, cg, status, hist, steps = _solve_level(lvl, x, ltol, lmax, deadline, verbose, kind, hierarchy,
                                                      f"level {depth} n={lvl.n}",
                                                      active_set=(active_set and depth == 0 and kind == "lu"
                                                                  and lvl.grid is not None), sweeps=lsweeps,
                                                      coarse=coarse, stage="fine" if depth == 0 else "coarse")
        levels.append({"n": lvl.n, "iterations": it, "cg_iterations": cg, "status": status,
                       "active_set_steps": steps, "seconds": time.perf_counter() - t0, "setup_seconds": setup,
                       "history": hist})
        if status == "time_limit":
            break
    return x, depth


def solve(prob, *, tol, max_iter, x0, verbose, time_limit, coarse_to_fine=True, preconditioner="auto",
          amg_options=None, active_set=False, smoothing_sweeps=None, **options):
    """Projected Newton / AMG-PCG with coarse-to-fine warm starts.

    Parameters
    ----------
    coarse_to_fine : bool
        Warm-start from the solution of the half-resolution problem
        (grid problems with ``q == 0`` and no ``x0``).
    preconditioner : {'auto', 'lu', 'amg'}
        Face preconditioner: sparse LU (exact Newton steps; ``auto`` uses it
        up to ``LU_MAX_N`` variables) or a pyamg smoothed-aggregation V-cycle.
    amg_options : dict, optional
        Passed to :func:`pyamg.smoothed_aggregation_solver`, over qpsolve's
        settings (:class:`qpsolve.linalg.amg.Hierarchy`).
    smoothing_sweeps : int, optional
        Projected Gauss-Seidel sweeps before each Newton step; default
        ``SMOOTHING_SWEEPS`` with the AMG preconditioner, 0 with the LU.
    active_set : bool, default False
        On a grid problem's fine level small enough for the sparse LU, first
        take up to ``ACTIVE_SET_STEPS`` primal-dual active-set steps with
        exact solves (see :func:`_active_set_steps`); a certified point ends
        the level, anything else is dropped and projected Newton starts from
        the original point.  Not on general problems (the joint colour QP).
        Off by default: it pays on scattered random envelopes (40x40: one
        Newton step after 7-8 exact steps, against 5-7), but on photographs
        the steps rarely certify and cost time (64x64 tile: 0.55 s against
        0.25 s; camera 128: 5.9 s against 4.9 s).

    Notes
    -----
    ``info["levels"]`` lists, coarsest first, each level's size, Newton and
    CG iterations, time and ``history`` of ``(E, gap, projected gradient)``.
    """
    if options:
        raise TypeError(f"pcg got unknown option(s): {sorted(options)}")
    if preconditioner not in ("auto", "lu", "amg"):
        raise ValueError(f"preconditioner must be 'auto', 'lu' or 'amg', got {preconditioner!r}")
    amg = dict(amg_options or {})
    if smoothing_sweeps is not None and (isinstance(smoothing_sweeps, bool) or
                                         not isinstance(smoothing_sweeps, (int, np.integer)) or smoothing_sweeps < 0):
        raise ValueError(f"smoothing_sweeps must be a non-negative integer, got {smoothing_sweeps!r}")
    max_iter = 200 if max_iter is None else int(max_iter)
    deadline = None if time_limit is None else time.perf_counter() + float(time_limit)

    # Coarse-to-fine chain (finest first).
    chain = [prob]
    if x0 is None and coarse_to_fine:
        while True:
            c = _coarse_problem(chain[-1])
            if c is None:
                break
            chain.append(c)
    x = prob.project(x0) if x0 is not None else chain[-1].start_point()
    levels = []
    # One BLAS thread: the V-cycles' small dense blocks (coarse levels, pinv) otherwise spin
    # OpenBLAS threads against the sparse kernels (a V-cycle at 256^2: 175 ms against 48 ms).
    with blas_threads(1):
        x, depth = _solve_chain(chain, x, tol, max_iter, deadline, verbose, preconditioner, amg, active_set,
                                smoothing_sweeps, levels)
    fine = levels[-1]
    where = "the fine level"
    if depth > 0:
        # Out of time on a coarse level: its point, carried up to the fine grid, is what there
        # is (a coarse x is not an answer to this problem; returned as it was, the registry
        # rejected it as "no finite x").
        for d in range(depth - 1, -1, -1):
            x = _carry_up(chain, x, d)
        where = f"a coarse level of {chain[depth].n} pixels"
    return BackendOutput(
        x=x,
        iterations=fine["iterations"],
        converged=depth == 0 and fine["status"] == "optimal",
        stalled=fine["status"] == "stalled",
        hit_time_limit=fine["status"] == "time_limit",
        message=f"{fine['status']} after {fine['iterations']} Newton steps, {fine['cg_iterations']} CG iterations"
                f" on {where} ({len(levels)} levels)",
        info={"levels": levels, "cg_iterations": sum(lv["cg_iterations"] for lv in levels)},
    )
