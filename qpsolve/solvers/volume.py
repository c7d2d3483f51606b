"""``volume``: projected Newton on faces for a 3-D grid model's energy, with its exact 3-D DCT inverse.

A plain matrix that is a 3-D grid model's ``even``-rule energy (recognised
exactly by :func:`qpsolve.linalg.volume.find_volume`, or declared with a 3-D
``grid=``) has an exact fast inverse: the 3-D DCT-II diagonalises it.  The
backend runs the projected Newton loop the ``spacetime`` backend uses
(:func:`qpsolve.linalg.facenewton.face_newton`): each face's Newton system
solved by CG preconditioned with the face inverse (a dense Schur complement
on the binding set up to :data:`MAX_HELD` variables, so one CG iteration;
above that, the face inverse of a subsample of the binding set), a
projected search, and the shared certificate to stop.

Coarse-to-fine start: the volume halved along every axis while each side is
even and at least ``2 * COARSEST_SIDE`` (the innermost 2-block envelopes of
:func:`qpsolve.linalg.coarse.inner_envelopes`, the same model on the halved
box, applied by its transform: :class:`~qpsolve.linalg.volume.SpectralBox`),
each level solved to a relative gap of :data:`COARSE_TOL` and its answer
prolonged (cubic) to start the next; on the fine level a few projected
Gauss-Seidel sweeps (:data:`SMOOTH_SWEEPS`) smooth the prolonged answer
where it was clipped to the fine bounds.  Without it the binding set of the middle of the
box is released a layer per Newton step.

Examples
--------
>>> import numpy as np, qpsolve as qs
>>> from qpsolve.model.operators import energy_matrix
>>> ramp = np.indices((8, 8, 10)).sum(axis=0) ** 1.5
>>> prob = qs.BoxQP(energy_matrix((8, 8, 10), "biharmonic", "even"), np.floor(ramp), np.floor(ramp) + 1)
>>> res = qs.solve(prob)
>>> res.success, res.solver
(True, 'volume')
"""

from __future__ import annotations

import time

import numpy as np

from ..linalg.amg import projected_gauss_seidel
from ..linalg.coarse import inner_envelopes, prolong
from ..linalg.facenewton import face_newton
from ..linalg.threads import out_of_time
from ..linalg.volume import SpectralBox, volume_inverse, volume_of
from ..model.operators import GridSpec
from ..validation import check_positive_int
from ._base import BackendUnavailable, face_newton_output

__all__ = ["available", "supports", "solve"]

NAME = "volume"

#: CG iterations per face solve
CG_MAXITER = 200
#: largest binding set whose dense Schur complement is formed (``8 n^2`` bytes and an ``n^3 / 3``
#: factorisation); larger ones are preconditioned by the face inverse of a subsample of them
MAX_HELD = 5000
#: the coarsest level's sides are at least this long
COARSEST_SIDE = 8
#: relative gap to which coarse levels are solved (a start, not an answer)
COARSE_TOL = 1e-6
#: Newton steps per coarse level at most
COARSE_STEPS = 30
#: projected Gauss-Seidel sweeps on the fine level after the prolongation: they smooth the kinks where the
#: prolonged answer was clipped to the fine bounds, which otherwise all bind in the first Newton step
SMOOTH_SWEEPS = 8
#: relative residual of the face CG while the binding set moves (an inexact Newton step is enough there;
#: the exact face inverse meets any tolerance in one iteration anyway)
MOVING_RTOL = 0.1


def available():
    return True


def supports(prob):
    vol, why = volume_of(prob)
    if vol is None:
        return f"needs a 3-D grid model's even-rule energy ({why})"
    return None


def _levels(vol, prob):
    """``(shape, SpectralBox)`` of the coarse levels from the coarsest up (the fine one not included)."""
    levels = []
    if prob.q.any():
        return levels  # a linear term has no coarse counterpart here: start on the fine box
    grid = GridSpec(vol.shape, vol.model, "even", vol.alpha, vol.beta)
    lo, hi = prob.lower, prob.upper
    while all(s % 2 == 0 and s >= 2 * COARSEST_SIDE for s in grid.shape):
        lo, hi, grid = inner_envelopes(lo, hi, grid, (0, 1, 2))
        levels.append((grid.shape, SpectralBox(volume_inverse(vol, grid.shape), lo, hi)))
        lo, hi = lo.ravel(), hi.ravel()
    return levels[::-1]


def solve(prob, *, tol, max_iter, x0, verbose, time_limit, cg_maxiter=CG_MAXITER, coarse=True):
    """Projected Newton on faces with the volume's exact inverse (module docstring).

    Parameters
    ----------
    cg_maxiter : int
        CG iterations per face solve.
    coarse : bool
        Start from the coarse-to-fine chain (ignored when ``x0`` is given).
    """
    vol, why = volume_of(prob)
    if vol is None:
        raise BackendUnavailable(f"solver 'volume' {supports(prob)}")
    cg_maxiter = check_positive_int(cg_maxiter, "cg_maxiter")
    if not isinstance(coarse, (bool, np.bool_)):
        raise ValueError(f"coarse must be True or False, got {coarse!r}")
    t0 = time.perf_counter()
    deadline = None if time_limit is None else t0 + time_limit
    max_iter = 200 if max_iter is None else max_iter
    start, shape, steps = x0, None, []
    if x0 is None and coarse:
        for cshape, level in _levels(vol, prob):
            if out_of_time(deadline):
                break  # the fine level returns at once with the best start so far
            guess = None if start is None else prolong(start, shape, cshape)
            run = face_newton(level, level.inverse, tol=COARSE_TOL, max_iter=COARSE_STEPS, x0=guess,
                              deadline=deadline, max_held=MAX_HELD, cg_maxiter=cg_maxiter, verbose=verbose,
                              label=f"{NAME} {'x'.join(map(str, cshape))}", certify=False,
                              moving_rtol=MOVING_RTOL)
            start, shape = run.x, cshape
            steps.append({"shape": cshape, "steps": run.iterations, "status": run.status,
                          "held": run.held[-1] if run.held else 0})
        if start is not None:
            start = prob.project(prolong(start, shape, vol.shape))
            if deadline is None or time.perf_counter() <= deadline:
                projected_gauss_seidel(prob.P, prob.q, prob.lower, prob.upper, start, SMOOTH_SWEEPS)
    run = face_newton(prob, volume_inverse(vol), tol=tol, max_iter=max_iter, x0=start, deadline=deadline,
                      max_held=MAX_HELD, cg_maxiter=cg_maxiter, verbose=verbose, label=NAME, moving_rtol=MOVING_RTOL)
    described = {"shape": vol.shape, "model": vol.model, "scale": vol.scale}
    return face_newton_output(run, tol, {"volume": described, "levels": steps})
