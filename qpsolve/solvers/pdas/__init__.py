"""``pdas``: primal-dual active set with exact Green's-function Schur complements.

For grid problems the plate touches its envelopes at few pixels (about 0.5 %
for the paper's 2-bit Gaussian at 256x256, a number that grows like the side,
not the area).  This backend works on that small active set ``A`` only:

1. **Equality step.**  With ``x_A`` fixed at its bounds ``b`` and the rest
   free, the minimiser is ``x = P^g (E mu - q) + N c`` where ``P^g`` is the
   exact fast inverse of :class:`~qpsolve.linalg.greens.GridGreen`, ``N`` the
   null space of ``P``, and ``(mu, c)`` solve the small dense saddle system

   ``[[E^T P^g E, E^T N], [N^T E, 0]] [mu; c] = [b + (P^g q)_A; N^T q]``.

   The ``|A| x |A|`` block is read off the discrete Green's function by the
   method of images (no transform per column) and kept across iterations;
   one transform pair per iteration gives ``x`` on the whole grid.  While
   the set moves little its Cholesky factor is updated, not made anew:
   pixels that join border it, pixels that leave stay in it held at
   ``mu = 0``.
   ``mu`` is the gradient ``P x + q`` on ``A``: the Lagrange multipliers.
2. **Active-set update** (Hintermueller, Ito and Kunisch 2002): free pixels
   outside their box join ``A`` at the violated bound (only the worst pixel
   of each 5x5 window while violations are large: one contact pushes its
   neighbours back inside); active pixels whose multiplier has the wrong
   sign leave, and the pixels that turn wrong once they have left are
   followed through the dense system without a transform (the end of a
   contact line retreats one pixel per iteration otherwise).  No violation
   and no wrong sign means ``x`` satisfies the KKT conditions.
3. **Polish.**  Near the end ``x`` is refined against its residual (summed
   exactly) with the contacts held on their bounds, multipliers are read off
   its exact gradient, and the shared certificate may end the iteration.
4. **Coarse-to-fine:** the active set of the half-resolution problem (2-block
   min/max envelopes, solved by this same method; the coarsest by ``pcg``, or
   by ``tnnmg`` when it is large, see :func:`~qpsolve.solvers.pdas.multilevel.coarsest_solver`)
   seeds the fine one, one child pixel per coarse contact, so the fine level
   needs only a few updates.
5. **Safeguards:** a contact set denser than ``DENSE_FRACTION`` of a level
   (the coarsest included; :func:`~qpsolve.solvers.pdas.constants.is_dense`)
   whose fine level would then exceed ``max_active`` (textured photographs,
   noise, many pinned pixels: contacts that grow up to eightfold per level),
   or, on a level of at least ``DENSE_ANY_SIZE_PIXELS``, of any size when
   the caller gave no options and ``tnnmg`` can take the problem (sides of at
   least ``DENSE_ANY_SIZE_SIDE``; photo tiles: it is faster there than PDAS's
   dense Schur complements), or larger than ``max_active`` hands the problem over from its own
   coarse-to-fine start: to ``tnnmg`` (:data:`qpsolve.solvers.DENSE_HANDOVER`)
   unless the caller gave ``pdas`` options, else to ``pcg``; a cycle or the
   iteration limit warm-starts ``pcg`` from the best point (the registry
   runs the successor: :data:`qpsolve.solvers.HANDOVERS`).  Projected Newton,
   where a stalled fine level goes, holds the same density rule on its
   binding set before each face step (a stalled 2-bit tile can bind most of
   its pixels once the steps are clipped).  Every problem ``pdas`` supports ends
   certified or with an honest status.

The modules, by concern: :mod:`~qpsolve.solvers.pdas.constants` (every
tunable), :mod:`~qpsolve.solvers.pdas.schur` (the Schur cache),
:mod:`~qpsolve.solvers.pdas.saddle` (the saddle factor and its updates),
:mod:`~qpsolve.solvers.pdas.level` (one level's linear algebra: steps 1 and 3),
:mod:`~qpsolve.solvers.pdas.iteration` (one level's iteration: step 2),
:mod:`~qpsolve.solvers.pdas.newton` (projected Newton, where a stalled fine
level goes) and :mod:`~qpsolve.solvers.pdas.multilevel` (step 4 and the
hand-over).

References
----------
M. Hintermueller, K. Ito, K. Kunisch, "The primal-dual active set strategy as
a semismooth Newton method", SIAM J. Optim. 13 (2002) 865-888.
"""

from __future__ import annotations

import numpy as np

from ...linalg.greens import green_support
from ...linalg.threads import blas_threads
from . import constants
from .constants import BLAS_THREADS, default_max_active  # noqa: F401 (the backend's public constants)
from .multilevel import solve_multilevel

__all__ = ["NAME", "BLAS_THREADS", "available", "supports", "solve", "default_max_active"]

NAME = "pdas"


def available():
    return True  # numpy and scipy only


def supports(prob):
    why = green_support(prob.grid)
    if why is not None:
        return why
    pinned = int(np.count_nonzero(prob.lower == prob.upper))
    limit = constants.default_max_active(prob.n)
    if pinned > min(limit, constants.DENSE_FRACTION * max(prob.n, constants.DENSE_MIN_PIXELS)):
        return (f"{pinned} pinned variables (lower == upper): more than {limit} or "
                f"{constants.DENSE_FRACTION:.0%} of the grid, too many for a dense Schur complement")
    return None


def solve(prob, *, tol, max_iter, x0, verbose, time_limit, **options):
    """Primal-dual active set on grid problems, exact Green's-function steps.

    ``dense_to_tnnmg`` is not an option: it is set here, from whether the
    caller gave any.

    Parameters
    ----------
    coarse_to_fine : bool
        Seed the active set from the half-resolution problem (grid problems
        with ``q == 0`` and no ``x0``); with ``x0`` the seed is the set where
        ``x0`` sits on a bound with an outward gradient.
    max_active : int, optional
        Largest active set whose dense Schur complement is formed (default
        :func:`~qpsolve.solvers.pdas.constants.default_max_active`: 4 000, or 3 per pixel of the grid's side
        on grids larger than 1333x1333).
    fallback : bool
        When PDAS does not finish (cycle, too many active pixels, iteration
        limit) or rounding keeps its answer from being certified, ask the
        registry to hand over to ``pcg`` (:data:`qpsolve.solvers.HANDOVERS`),
        warm-started from the best point, instead of giving up.

    Notes
    -----
    ``info["levels"]`` lists, coarsest first, each level's size, PDAS
    iterations, final ``|A|``, status, time and per-iteration history, the
    Schur columns evaluated and how many saddle factors were updated rather
    than made anew (``factor_updates``).  BLAS runs on ``BLAS_THREADS`` thread (see
    :mod:`qpsolve.linalg.threads`) but for the Cholesky factors of at least ``PARALLEL_CHOLESKY``
    contacts (:mod:`~qpsolve.solvers.pdas.constants`).
    """
    if "dense_to_tnnmg" in options:
        raise TypeError("pdas got unknown option(s): ['dense_to_tnnmg'] (it follows from whether options were given)")
    with blas_threads(constants.BLAS_THREADS):
        # without options of the caller's, the registry hands a dense set to tnnmg (DENSE_HANDOVER),
        # which beats PDAS on dense sets of any size: the density rule need not wait for them to outgrow
        # the Schur complement
        return solve_multilevel(prob, tol=tol, max_iter=max_iter, x0=x0, verbose=verbose, time_limit=time_limit,
                                dense_to_tnnmg=not options, **options)
