"""One level's primal-dual active-set iteration: the set update and the loop."""

from __future__ import annotations

import time

import numpy as np
from scipy.ndimage import maximum_filter

from ...certificate import certificate
from ...linalg.threads import out_of_time, report_progress
from . import constants

__all__ = ["update_set", "wrong_signs", "window_peaks", "excess_of", "violation", "run_level"]


def update_set(level, act, upper, x, mu, ftol, window=constants.PEAK_WINDOW, excess=None):
    """One PDAS update: returns the new ``(act, upper)`` and how many joined / left.

    Pure PDAS moves every violated pixel into the active set; for the
    biharmonic plate a violated region usually needs only its worst pixel
    (a contact pushes its neighbours back inside), so only local maxima of
    the violation within ``window`` join, which keeps ``A`` small and the
    iteration from oscillating.  ``excess`` is :func:`excess_of` ``(prob, x)`` if the caller
    has it (it is overwritten).
    """
    prob = level.prob
    pinned = prob.lower[act] == prob.upper[act]
    wrong = wrong_signs(prob, act, upper, mu, 1e-12)
    # How far each free pixel lies outside its box (at most one side is positive); the few
    # violated ones are then examined alone, not the whole image again.
    if excess is None:
        excess = excess_of(prob, x)
    excess[act] = 0.0
    cand = np.flatnonzero(excess > ftol)
    if window > 1 and cand.size and excess[cand].max() > constants.SMALL_VIOLATION * level.span:
        cand = cand[window_peaks(excess, prob.grid.shape, cand, window)]
    on_lower = prob.lower[cand] - x[cand] > ftol
    below, above = cand[on_lower], cand[~on_lower]
    if not (below.size or above.size) and 0 < wrong.sum() <= constants.RELEASE_MAX and level.kkt is not None:
        # Only releases: follow them through the dense system before paying for a transform
        # (a few at a time: each round solves a system as large as the released set).
        released = level.kkt.release(mu, wrong, pinned, upper)
        if released is not None:
            wrong = released
    keep = ~wrong
    new_act = np.concatenate([act[keep], below, above])
    new_upper = np.concatenate([upper[keep], np.zeros(below.size, bool), np.ones(above.size, bool)])
    order = np.argsort(new_act, kind="stable")
    return new_act[order], new_upper[order], int(below.size + above.size), int(wrong.sum())


def wrong_signs(prob, act, upper, mu, rel):
    """Contacts whose multiplier pulls away from their bound by more than ``rel`` of the
    largest multiplier (pinned pixels never do)."""
    dtol = rel * max(float(np.abs(mu).max(initial=0.0)), 1e-300)
    return (prob.lower[act] != prob.upper[act]) & np.where(upper, mu > dtol, mu < -dtol)


def window_peaks(values, shape, idx, window):
    """Which pixels ``idx`` hold the largest of ``values`` in their ``window x window``
    neighbourhood (clipped at the border, ties count as peaks).

    A filter over the whole image costs several passes over it; a few thousand
    candidates need only ``window^2`` gathers each.
    """
    if idx.size * window * window > values.size:
        full = maximum_filter(values.reshape(shape), size=window, mode="nearest").ravel()
        return values[idx] >= full[idx]
    n, m = shape
    i, j = np.divmod(idx, m)
    own = values[idx]
    peak = np.ones(idx.size, dtype=bool)
    h = window // 2
    for di in range(-h, h + 1):
        rows = np.clip(i + di, 0, n - 1) * m
        for dj in range(-h, h + 1):
            peak &= values[rows + np.clip(j + dj, 0, m - 1)] <= own
    return peak


def excess_of(prob, x):
    """How far each pixel of ``x`` lies outside its box: ``max(L - x, x - U)`` (negative inside).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from qpsolve import BoxQP
    >>> prob = BoxQP(sp.identity(3), lower=[0, 0, 0], upper=[1, 1, 1])
    >>> excess_of(prob, np.array([-0.5, 0.25, 3.0])).tolist()
    [0.5, -0.25, 2.0]
    """
    # Two full-size temporaries, not three: at 2048^2 each is 32 MB of fresh memory.
    with np.errstate(invalid="ignore"):
        excess = x - prob.upper
        return np.maximum(prob.lower - x, excess, out=excess)


def violation(prob, x, excess=None):
    """The largest violation of the box by ``x`` (0.0 inside); ``excess`` is :func:`excess_of` if known.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from qpsolve import BoxQP
    >>> prob = BoxQP(sp.identity(3), lower=[0, 0, 0], upper=[1, 1, 1])
    >>> violation(prob, np.array([-0.5, 0.25, 3.0])), violation(prob, np.array([0.0, 0.5, 1.0]))
    (2.0, 0.0)
    """
    return float(np.max(excess_of(prob, x) if excess is None else excess, initial=0.0))


def run_level(level, act, upper, *, max_iter, max_active, deadline, verbose, label, window=constants.PEAK_WINDOW,
              tol=None, loose=None, growth=1, max_fine=0, any_size=False):
    """Run PDAS from ``(act, upper)``; returns ``x``, the final set, a status, a history,
    the certificate's dual shift of the final polish and the certificate of ``x`` with it
    (both ``None`` unless the fine level polished its last point).

    Iterations use the once-refined saddle solve.  With ``tol`` (the fine
    level) the answer is polished to rounding and, once every violation is
    tiny, the shared certificate may end the iteration early: the last
    PDAS steps of a contact line move one pixel at a time and change the
    energy by far less than ``tol``.  With ``loose`` (coarse levels, which
    only seed the next one) the iteration stops once violations fall below
    ``loose`` times the envelope span.
    """
    prob = level.prob
    ftol = 1e-12 * level.span
    seen = set()
    history = []
    x = shift = cert = None
    status = "max_iter"
    it = 0
    best, best_it = np.inf, 0
    closest = (np.inf, None, act, upper)  # the iterate nearest the box, for a hand-over
    for it in range(1, max_iter + 1):
        t_it = time.perf_counter()
        if act.size > max_active:
            status = "too_many_active"
            break
        if constants.is_dense(act.size, prob.n, growth, max_fine, any_size):
            status = "dense"
            break
        x, mu = level.equality_solve(act, upper)
        excess = excess_of(prob, x)
        viol = violation(prob, x, excess)
        polished = False
        if (tol is not None and viol <= constants.POLISH_VIOLATION * level.span
                and not (prob.n >= constants.EARLY_RELEASE_PIXELS
                         and wrong_signs(prob, act, upper, mu, constants.POLISH_WRONG_SIGN).any())):
            # Nearly there: polish x and read the multipliers off its exact gradient, so that
            # what is left to decide is not the saddle system's rounding (which otherwise makes
            # pixels with near-zero multipliers or slacks flicker in and out).  On large grids,
            # multipliers of the wrong sign far above that rounding are released first: the
            # polish (transforms of the whole grid) would not outlive the change.  Small grids
            # polish regardless: there the polish is cheap and the unpolished releases are not
            # (photo tiles: benchmarks/results/design_notes.md).
            excess = None  # 32 MB at 2048^2 that the polish's own temporaries can use
            x, pshift = level.polish(x, act, upper)
            mu = prob.gradient(x, precise=True)[act]
            excess = excess_of(prob, x)
            viol = violation(prob, x, excess)
            polished = True
        # Progress in the measure PDAS has at every iteration (its iterates leave the box until
        # the end): the violation, against the one at which the fine level polishes and certifies.
        report_progress("pdas", "coarse" if tol is None else "fine", prob.n, it, viol / level.span,
                        constants.POLISH_VIOLATION if tol is not None else loose, measure="violation")
        act_new, upper_new, joined, left = update_set(level, act, upper, x, mu, ftol, window, excess)
        excess = None  # overwritten by the update; freed before the certificate's temporaries
        record = {"active": int(act.size), "joined": joined, "left": left, "violation": viol}
        history.append(record)
        if verbose:
            print(f"[pdas] {label} it {it:3d}  |A| {act.size:6d}  +{joined:5d} -{left:5d}  "
                  f"max violation {viol:.2e}")
        done = joined == 0 and left == 0
        cert = None
        if polished and (done or left == 0):
            # With no wrong-sign multiplier left, the tiny violations that remain may not
            # matter: the certificate decides (one pixel at a time would take many steps).
            # The polished point often passes as it is; when the rounding of the first
            # refinement's large intermediate terms (odd plates) is in the way, a second
            # refinement removes it.  Both certificates reuse the refinement's gradient.
            candidate, cshift = prob.project(x), pshift
            cert = certificate(prob, candidate, tol, dual_shift=cshift)
            if not cert.optimal:
                candidate, cshift = level.refine(candidate, act, upper)
                candidate = prob.project(candidate)
                cert = certificate(prob, candidate, tol, dual_shift=cshift)
            report_progress("pdas", "fine", prob.n, it, cert.relative_gap, tol)
            if done or cert.optimal:
                record["certified_early"] = not done
                x, shift, done = candidate, cshift, True
        if not done and loose is not None and viol <= loose * level.span:
            done = True
        record["seconds"] = time.perf_counter() - t_it
        if done:
            status = "optimal"
            break
        cert = None  # it certified a point the iteration moves on from
        if viol < closest[0]:
            closest = (viol, x, act, upper)
        key = hash((act_new.tobytes(), upper_new.tobytes()))
        if key in seen:
            status = "cycle"
            break
        seen.add(key)
        if viol < 0.5 * best:
            best, best_it = viol, it
        elif it - best_it >= constants.STALL_ITERATIONS:
            # PDAS may oscillate on non-M-matrices (a contact released here re-violates
            # there); the globalised projected Newton of the caller takes over.
            status = "stalled"
            break
        act, upper = act_new, upper_new
        if out_of_time(deadline):
            status = "time_limit"
            break
    if status != "optimal" and closest[1] is not None and closest[1] is not x:
        # A cycling or stalled PDAS ends wherever its cycle happens to be; whoever takes
        # over (projected Newton, the next level, pcg) starts best from the iterate that
        # came nearest the box (several times fewer steps after a cycle: design_notes.md in
        # benchmarks/results).
        _, x, act, upper = closest
    return x, act, upper, status, it, history, shift, cert
