"""``spacetime``: projected Newton on faces for a video chunk's QP, preconditioned by its separable inverse.

For a ``(T, h, w)`` chunk whose energy is each frame's ``even``-rule plate
plus a (masked) temporal second difference
(:func:`qpsolve.model.temporal.temporal_energy`), the separable energy
without the mask has an exact fast inverse
(:class:`qpsolve.linalg.spacetime.SpaceTimeInverse`: a 2-D DCT per frame
and a ``T x T`` eigenbasis in time).  The method, for
``min 1/2 x^T P x + q^T x`` over a box:

1. With ``g = P x + q`` the *binding* set is the variables held at a bound
   by their gradient and the pinned ones; the others are the free face.
2. The face's Newton system ``P_FF d_F = -g_F`` is solved by conjugate
   gradients preconditioned with ``R_F A^+ R_F^T`` (``A`` the separable
   energy, ``R_F`` the restriction to the face): a principal block of a
   positive definite operator on the face, so an SPD preconditioner.  Loose
   (``MOVING_RTOL``) while the face moves, tight (``SETTLED_RTOL``) once it
   has stopped.
3. A projected search along ``d`` (:func:`qpsolve.linalg.search.projected_search`)
   keeps every step monotone and inside the box.
4. Stop when the shared certificate says optimal.

A :class:`SpaceTimeQP` (a :class:`~qpsolve.BoxQP` with a
:class:`~qpsolve.linalg.spacetime.SpaceTimeGrid`) tells the backend the
chunk's shape, model and temporal weight; ``P`` itself may be any symmetric
PSD matrix (only the speed depends on how close ``A`` is to it).  The only
dense matrix is the Schur complement on the binding variables
(:class:`~qpsolve.linalg.spacetime.FaceInverse`), at most :data:`MAX_HELD` a side.
"""

from __future__ import annotations

import time

import numpy as np

from ..certificate import certificate
from ..linalg.facecg import face_cg
from ..linalg.search import projected_search
from ..linalg.spacetime import FaceInverse, SpaceTimeGrid, SpaceTimeInverse
from ..problem import BoxQP
from ..validation import check_positive_int
from ._base import BackendOutput, BackendUnavailable

__all__ = ["SpaceTimeQP", "available", "supports", "solve"]

NAME = "spacetime"

#: relative residual of the face CG while the binding set still changes ...
MOVING_RTOL = 1e-3
#: ... and once it has not changed since the last step (Newton's step on the final face)
SETTLED_RTOL = 1e-11
#: CG iterations per face solve
CG_MAXITER = 400
#: largest binding set whose Schur complement is formed (dense, ``8 n^2`` bytes: 128 MB at 4000);
#: larger ones (textured frames) fall back to the restricted inverse ``R_F A^+ R_F^T``, a weaker
#: preconditioner (hundreds of CG iterations per face on a 5 x 48 x 80 chunk with 240 contacts)
MAX_HELD = 4000


class _Restricted:
    """``R_F A^+ R_F^T``: the separable inverse restricted to the face (SPD there, no Schur complement)."""

    def __init__(self, inv, free):
        self.inv, self.free = inv, free

    def solve(self, r):
        z = self.inv.solve(r)
        z[~self.free] = 0.0
        return z


class SpaceTimeQP(BoxQP):
    """A video chunk's :class:`~qpsolve.BoxQP` that also says which separable energy approximates its ``P``.

    Parameters
    ----------
    P, lower, upper, q
        As for :class:`~qpsolve.BoxQP`.
    spacetime : SpaceTimeGrid
        The chunk's shape, frame model and temporal weight: the ``A`` whose
        exact inverse preconditions the face solves.

    Examples
    --------
    >>> import qpsolve as qs
    >>> grid = SpaceTimeGrid((3, 4, 5), "biharmonic", 0.1)
    >>> lo = np.zeros((3, 4, 5)); lo[:, :, 3:] = 1.0
    >>> prob = SpaceTimeQP(grid.matrix(), lo, lo + 1.0, spacetime=grid)
    >>> res = qs.solve(prob, solver="spacetime")
    >>> res.success, res.solver
    (True, 'spacetime')
    """

    def __init__(self, P, lower, upper, q=None, *, spacetime):
        if not isinstance(spacetime, SpaceTimeGrid):
            raise TypeError(f"spacetime must be a SpaceTimeGrid, got {type(spacetime).__name__}")
        super().__init__(P, lower, upper, q)
        if int(np.prod(spacetime.shape)) != self.n:
            raise ValueError(f"spacetime: shape {spacetime.shape} does not hold the problem's {self.n} variables")
        self.spacetime = spacetime


def available():
    return True


def supports(prob):
    if not isinstance(prob, SpaceTimeQP):
        return "needs a SpaceTimeQP (a video chunk's QP with the SpaceTimeGrid of its separable energy)"
    return None


def solve(prob, *, tol, max_iter, x0, verbose, time_limit, cg_maxiter=CG_MAXITER):
    """Projected Newton with the separable preconditioner (module docstring) on a :class:`SpaceTimeQP`.

    Parameters
    ----------
    cg_maxiter : int
        CG iterations per face solve.
    """
    why = supports(prob)
    if why is not None:
        raise BackendUnavailable(f"solver 'spacetime' {why}")
    spacetime = prob.spacetime
    t0 = time.perf_counter()
    deadline = None if time_limit is None else t0 + time_limit
    max_iter = 200 if max_iter is None else max_iter
    cg_maxiter = check_positive_int(cg_maxiter, "cg_maxiter")
    inv = SpaceTimeInverse(spacetime)
    lo, hi = prob.lower, prob.upper
    x = prob.project(prob.start_point() if x0 is None else np.asarray(x0, dtype=np.float64).copy())
    pinned = lo == hi
    prev, cg_total, history = None, 0, []
    for it in range(1, max_iter + 1):
        cert = certificate(prob, x, tol)
        history.append(cert.relative_gap)
        if cert.optimal:
            return BackendOutput(x=x, iterations=it - 1, converged=True, certified=(x, tol, None, cert),
                                 message=f"{it - 1} Newton steps, {cg_total} CG iterations",
                                 info={"cg_iterations": cg_total, "gaps": history})
        if deadline is not None and time.perf_counter() > deadline:
            return BackendOutput(x=x, iterations=it - 1, hit_time_limit=True, message="time limit",
                                 info={"cg_iterations": cg_total, "gaps": history})
        g = prob.matvec(x) + prob.q
        binding = pinned | ((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0))
        free = ~binding
        settled = prev is not None and np.array_equal(binding, prev)
        prev = binding
        face = FaceInverse(inv, binding) if binding.sum() <= MAX_HELD else _Restricted(inv, free)
        d, k, _ = face_cg(prob.matvec, face.solve, np.where(free, -g, 0.0), free,
                          rtol=SETTLED_RTOL if settled else MOVING_RTOL, max_iter=cg_maxiter, deadline=deadline)
        cg_total += k
        s, how = projected_search(prob, x, g, d)
        if verbose:
            print(f"spacetime {it}: gap {cert.relative_gap:.3g}, binding {int(binding.sum())}, "
                  f"{'settled' if settled else 'moving'}, CG {k}, step {how}")
        if s is None:
            return BackendOutput(x=x, iterations=it, stalled=True, message="no descent step",
                                 info={"cg_iterations": cg_total, "gaps": history})
        x = prob.project(x + s)
    return BackendOutput(x=x, iterations=max_iter, message=f"{max_iter} Newton steps",
                         info={"cg_iterations": cg_total, "gaps": history})
