"""``spacetime``: projected Newton on faces for a video chunk's QP, preconditioned by its separable inverse.

For a ``(T, h, w)`` chunk whose energy is each frame's ``even``-rule plate
plus a (masked) temporal second difference
(:func:`qpsolve.model.temporal.temporal_energy`), the separable energy
without the mask has an exact fast inverse
(:class:`qpsolve.linalg.spacetime.SpaceTimeInverse`: a 2-D DCT per frame
and a ``T x T`` eigenbasis in time).  The method is projected Newton on
faces, the face systems solved by CG preconditioned with that inverse's face
inverse (:func:`qpsolve.linalg.facenewton.face_newton`, the loop the
``volume`` backend shares), stopped when the shared certificate says
optimal.

A :class:`SpaceTimeQP` (a :class:`~qpsolve.BoxQP` with a
:class:`~qpsolve.linalg.spacetime.SpaceTimeGrid`) tells the backend the
chunk's shape, model and temporal weight; ``P`` itself may be any symmetric
PSD matrix (only the speed depends on how close ``A`` is to it).  The only
dense matrix is the Schur complement on the binding variables
(:class:`~qpsolve.linalg.separable.FaceInverse`), at most :data:`MAX_HELD` a side.
"""

from __future__ import annotations

import time

import numpy as np

from ..linalg.facenewton import face_newton
from ..linalg.spacetime import SpaceTimeGrid, SpaceTimeInverse
from ..problem import BoxQP
from ..validation import check_positive_int
from ._base import BackendUnavailable, face_newton_output

__all__ = ["SpaceTimeQP", "available", "supports", "solve"]

NAME = "spacetime"

#: CG iterations per face solve
CG_MAXITER = 400
#: largest binding set whose Schur complement is formed (dense, ``8 n^2`` bytes: 128 MB at 4000);
#: larger ones (textured frames) are preconditioned by the face inverse of a subsample of them
#: (:func:`qpsolve.linalg.facenewton.held_subset`), a weaker preconditioner
MAX_HELD = 4000


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
    run = face_newton(prob, SpaceTimeInverse(spacetime), tol=tol, max_iter=max_iter, x0=x0, deadline=deadline,
                      max_held=MAX_HELD, cg_maxiter=cg_maxiter, verbose=verbose, label=NAME)
    return face_newton_output(run, tol)
