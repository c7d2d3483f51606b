"""Projected Newton with exact face steps: where a level's PDAS that cycles or stalls goes."""

from __future__ import annotations

import time

import numpy as np

from ...certificate import certificate
from ...linalg import search
from ...linalg.threads import out_of_time, report_progress
from . import constants

__all__ = ["projected_newton"]


def projected_newton(level, x, *, tol, max_iter, max_active, deadline, verbose, label, any_size=False):
    """Globalised fallback: projected Newton (Bertsekas) with exact face steps.

    The binding set (pixels on a bound whose gradient pushes outward, and
    the pinned ones) is held, the Newton step on the rest comes from the same
    Green's-function machinery, and the projected Armijo search of ``pcg``
    makes every step decrease the energy, so nothing can oscillate.

    A binding set that the density rule calls dense
    (:func:`~qpsolve.solvers.pdas.constants.is_dense`, with ``any_size`` as
    the PDAS levels have it) stops the iteration with status ``dense``
    before a face step is solved on it: a PDAS that stalled with a few
    contacts can meet thousands binding once the Newton step is clipped (a
    2-bit photo tile: 17 contacts, then 3 000 of its 4 096 pixels, the face
    step on them over a second), and the registry hands dense sets over
    (:data:`qpsolve.solvers.DENSE_HANDOVER`).
    """
    prob = level.prob
    lo, hi = prob.lower, prob.upper
    pinned = lo == hi
    x = prob.project(x)
    history, status, it = [], "max_iter", 0
    step = None
    for it in range(1, max_iter + 1):
        t_it = time.perf_counter()
        g = prob.gradient(x, precise=True)
        cert = certificate(prob, x, tol, gradient=g)
        report_progress("projected-newton", "fine", prob.n, it, cert.relative_gap, tol)
        if cert.optimal:
            status = "optimal"
            break
        # Bertsekas' epsilon-binding set: pixels within eps of a bound that the gradient pushes
        # against would be clipped by the projected search anyway; holding them keeps the
        # Newton step usable.
        eps = min(1e-6 * level.span, float(np.abs(step).max()) if step is not None else np.inf)
        at_lo, at_hi = x <= lo + eps, x >= hi - eps
        binding = np.flatnonzero(pinned | (at_lo & (g > 0)) | (at_hi & (g < 0)))
        for face_round in range(constants.NEWTON_FACE_ROUNDS):
            if binding.size > max_active or constants.is_dense(binding.size, prob.n, 1, max_active, any_size):
                break
            d = level.face_step(g, binding)
            if face_round == constants.NEWTON_FACE_ROUNDS - 1:
                break  # no further solve: binding stays the set d was solved on
            # Pixels on a bound that the Newton step pushes outward leave no room for a feasible
            # step and cut the projected one short; hold them too and solve again (without this,
            # steps degrade to gradient-like ones: benchmarks/results/design_notes.md).
            out = np.flatnonzero((at_lo & (d < 0)) | (at_hi & (d > 0)))
            out = np.setdiff1d(out, binding, assume_unique=True)
            if out.size == 0:
                break
            binding = np.union1d(binding, out)
        if binding.size > max_active:
            status = "too_many_active"
            break
        if constants.is_dense(binding.size, prob.n, 1, max_active, any_size):
            status = "dense"
            break
        step, how = search.projected_search(prob, x, g, d)
        if step is None:
            status = "stalled"
            break
        x = prob.project(x + step)
        history.append({"binding": int(binding.size), "step": how, "seconds": time.perf_counter() - t_it})
        if verbose:
            print(f"[pdas] {label} projected Newton it {it:3d}  binding {binding.size:6d}  step {how}")
        if out_of_time(deadline):
            status = "time_limit"
            break
    return x, status, it, history
