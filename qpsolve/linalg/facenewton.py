"""Projected Newton on faces with an exact separable inverse: the loop ``spacetime`` and ``volume`` share.

For ``min 1/2 x^T P x + q^T x`` over a box, with ``A^+`` the fast inverse of
a separable energy ``A`` close to (or equal to) ``P``
(:class:`qpsolve.linalg.separable.SeparableInverse`):

1. With ``g = P x + q`` the *binding* set is the variables held at a bound
   by their gradient and the pinned ones; the others are the free face.
2. The face's Newton system ``P_FF d_F = -g_F`` is solved by conjugate
   gradients (:func:`qpsolve.linalg.facecg.face_cg`) preconditioned with
   ``A``'s face inverse: exact (a dense Schur complement on the binding set,
   :class:`~qpsolve.linalg.separable.FaceInverse`) when the set has at most
   ``max_held`` variables, so one CG iteration when ``P = A``; above that the
   face inverse of a subsample of the binding set (:func:`held_subset`)
   restricted to the face, ``R_F (A_GG)^{-1} R_F^T`` with ``G`` the
   complement of the subsample: a principal block of an SPD inverse, so an
   SPD preconditioner, and a close one because ``A^+``'s kernel is smooth.
   Loose (``MOVING_RTOL``) while the face moves, tight (``SETTLED_RTOL``)
   once it has stopped.  The face inverse ignores the directions of ``A``'s
   null space that the binding set does not hold (constants of a volume
   with nothing held): along them the energy is flat, so the step also takes
   the gradient's component there (a descent direction of zero curvature
   that the search follows to the box).
3. A projected search along ``d`` (:func:`qpsolve.linalg.search.projected_search`)
   keeps every step monotone and inside the box.
4. Stop when the shared certificate says optimal.  The loop tracks the
   Frank-Wolfe gap of its own gradient (no extra product) and asks the
   certificate (a product in extended precision) only once that gap is
   below :data:`CERTIFY_BELOW` or after a step on a settled face; a coarse
   level (``certify=False``) stops on that gap alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..certificate import certificate
from .facecg import face_cg
from .search import projected_search
from .separable import FaceInverse
from .threads import out_of_time

__all__ = ["FaceNewtonRun", "face_newton", "held_subset", "relative_gap"]

#: relative residual of the face CG while the binding set still changes ...
MOVING_RTOL = 1e-3
#: ... and once it has not changed since the last step (Newton's step on the final face)
SETTLED_RTOL = 1e-11
#: relative gap (by the loop's own gradient) below which the shared certificate is asked
CERTIFY_BELOW = 1e-4


@dataclass
class FaceNewtonRun:
    """What :func:`face_newton` did.

    Attributes
    ----------
    x : ndarray
        The last iterate (inside the box).
    iterations : int
        Newton steps taken.
    status : str
        ``"optimal"`` (the certificate said so, or the gap is below ``tol``
        with ``certify=False``), ``"time_limit"``, ``"stalled"``
        (no descent step) or ``"max_iter"``.
    cert : Certificate or None
        The certificate of ``x`` when the loop stopped on it.
    cg_iterations : int
    gaps : list of float
        Relative gap before each step.
    held : list of int
        Size of the binding set at each step.
    """

    x: np.ndarray
    iterations: int
    status: str
    cert: object = None
    cg_iterations: int = 0
    gaps: list = field(default_factory=list)
    held: list = field(default_factory=list)


def held_subset(held, shape, limit):
    """At most ``limit`` of the ``held`` variables: those on the sub-lattice of the smallest stride that fits.

    The variables whose every coordinate on the C-ordered grid ``shape`` is
    a multiple of ``s``, for the smallest ``s >= 2`` leaving at most ``limit``
    (every ``k``-th by flat index when no stride up to the grid's size does).

    Examples
    --------
    >>> held = np.ones(64, bool)
    >>> sub = held_subset(held, (4, 4, 4), 10)
    >>> int(sub.sum()), np.flatnonzero(sub).tolist()
    (8, [0, 2, 8, 10, 32, 34, 40, 42])
    """
    idx = np.flatnonzero(held)
    out = np.zeros(held.shape, bool)
    if limit <= 0:
        return out
    coords = np.unravel_index(idx, shape)
    for s in range(2, max(shape) + 1):
        on = np.ones(idx.size, bool)
        for c in coords:
            on &= c % s == 0
        if on.sum() <= limit:
            out[idx[on]] = True
            return out
    out[idx[:: -(-idx.size // limit)]] = True
    return out


def _unheld_null(Z, held):
    """``W W^T`` (as a callable matrix) for ``W`` an orthonormal basis of the null directions ``Z w`` that vanish
    on ``held``."""
    if Z.shape[1] == 0:
        return _Zero()
    if held.any():
        ZH = Z[held]
        # only the k x k right factor is needed (k null vectors): never the nb x nb left one
        _, sv, wt = np.linalg.svd(ZH.T @ ZH)
        rank = int(np.sum(np.sqrt(np.maximum(sv, 0.0)) > 1e-8 * max(1.0, float(np.sqrt(sv.max(initial=0.0))))))
        W = Z @ wt[rank:].T
    else:
        W = Z
    return _Projector(W)


class _Zero:
    def __matmul__(self, v):
        return np.zeros_like(v)


class _Projector:
    def __init__(self, W):
        self.W = W

    def __matmul__(self, v):
        return self.W @ (self.W.T @ v)


def relative_gap(prob, x, g):
    """The Frank-Wolfe gap of ``x`` over the box with gradient ``g``, relative to ``max(1, |E(x)|)``.

    Examples
    --------
    >>> import qpsolve as qs, scipy.sparse as sp
    >>> prob = qs.BoxQP(sp.identity(2), lower=[1, -1], upper=[2, 1])
    >>> x = np.array([2.0, 0.0])
    >>> relative_gap(prob, x, prob.matvec(x) + prob.q)     # E(2, 0) - E* = 2 - 0.5, bounded by 2
    1.0
    """
    lo, hi, q = prob.lower, prob.upper, prob.q
    with np.errstate(invalid="ignore"):
        terms = np.where(g > 0, g * (x - lo), np.where(g < 0, g * (x - hi), 0.0))
    gap = float(np.sum(np.maximum(terms, 0.0)))
    E = float(0.5 * x @ (g - q) + q @ x)
    return gap / max(1.0, abs(E)) if np.isfinite(gap) else np.inf


def face_newton(prob, inverse, *, tol, max_iter, x0=None, deadline=None, max_held, cg_maxiter,
                verbose=False, label="face-newton", certify=True, moving_rtol=MOVING_RTOL):
    """Projected Newton on faces (module docstring) from ``x0`` until the certificate says optimal.

    Parameters
    ----------
    prob : BoxQP
    inverse : SeparableInverse
        ``A^+`` of an energy close to ``prob.P`` (equal to it: exact face solves).
    tol : float
        The certificate's tolerance.
    max_iter : int
        Most Newton steps.
    x0 : ndarray, optional
        Start (projected into the box); default the problem's start point.
    deadline : float, optional
        :func:`time.perf_counter` value at which to stop.
    max_held : int
        Largest binding set whose Schur complement is formed.
    cg_maxiter : int
        CG iterations per face solve.
    verbose : bool
    label : str
        Prefix of the progress lines.
    certify : bool
        Stop when the shared certificate says optimal (``prob`` a
        :class:`~qpsolve.BoxQP`); ``False``: when the loop's own relative gap
        is below ``tol`` (a coarse level; ``prob`` needs only ``lower``,
        ``upper``, ``q``, ``diag``, ``matvec``, ``project`` and ``start_point``).
    moving_rtol : float
        Relative residual of the face CG while the binding set changes.

    Returns
    -------
    FaceNewtonRun

    Examples
    --------
    >>> import qpsolve as qs
    >>> from qpsolve.linalg.separable import SeparableInverse
    >>> from qpsolve.model.operators import energy_matrix
    >>> from qpsolve.model.spectra import second_difference_eigenvalues as mu
    >>> shape = (6, 7, 8)
    >>> lam = (mu(6, "dct")[:, None, None] + mu(7, "dct")[None, :, None] + mu(8, "dct")[None, None, :]) ** 2
    >>> ramp = np.indices(shape).sum(axis=0).astype(float) ** 1.5
    >>> prob = qs.BoxQP(energy_matrix(shape, "biharmonic", "even"), np.floor(ramp), np.floor(ramp) + 1)
    >>> run = face_newton(prob, SeparableInverse(lam), tol=1e-10, max_iter=50, max_held=500, cg_maxiter=100)
    >>> run.status, run.cert.optimal
    ('optimal', True)
    """
    lo, hi = prob.lower, prob.upper
    x = prob.project(prob.start_point() if x0 is None else np.asarray(x0, dtype=np.float64).copy())
    pinned = lo == hi
    Z = inverse.nullspace
    width = (hi - lo)[np.isfinite(hi - lo)]
    span = float(width.max(initial=0.0)) or 1.0
    run = FaceNewtonRun(x=x, iterations=0, status="max_iter")
    prev, ask = None, False
    for it in range(1, max_iter + 1):
        g = prob.matvec(x) + prob.q
        rel = relative_gap(prob, x, g)
        run.gaps.append(rel)
        if certify and (ask or rel <= max(CERTIFY_BELOW, tol)):
            cert = certificate(prob, x, tol)
            if cert.optimal:
                run.x, run.iterations, run.status, run.cert = x, it - 1, "optimal", cert
                return run
        elif not certify and rel <= tol:
            run.x, run.iterations, run.status = x, it - 1, "optimal"
            return run
        if out_of_time(deadline):
            run.x, run.iterations, run.status = x, it - 1, "time_limit"
            return run
        binding = pinned | ((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0))
        free = ~binding
        settled = prev is not None and np.array_equal(binding, prev)
        prev, ask = binding, settled
        nheld = int(binding.sum())
        run.held.append(nheld)
        if nheld <= max_held:
            face = FaceInverse(inverse, binding).solve
        else:
            sub = FaceInverse(inverse, held_subset(binding, inverse.shape, max_held)).solve

            def face(r, sub=sub, free=free):
                z = sub(r)
                z[~free] = 0.0
                return z
        null = _unheld_null(Z, binding)
        gf = np.where(free, g, 0.0)
        flat = null @ gf
        d, k, _ = face_cg(prob.matvec, face, flat - gf, free,
                          rtol=SETTLED_RTOL if settled else moving_rtol, max_iter=cg_maxiter, deadline=deadline)
        run.cg_iterations += k
        top = float(np.abs(flat).max(initial=0.0))
        if top > 1e-12 * float(np.abs(gf).max(initial=0.0)):
            d -= (span / top) * flat  # far enough to reach the box: the energy does not rise along it
        s, how = projected_search(prob, x, g, d)
        if verbose:
            print(f"{label} {it}: gap {rel:.3g}, binding {nheld}, "
                  f"{'settled' if settled else 'moving'}, CG {k}, step {how}")
        if s is None:
            run.x, run.iterations, run.status = x, it, "stalled"
            return run
        x = prob.project(x + s)
    run.x, run.iterations = x, max_iter
    return run
