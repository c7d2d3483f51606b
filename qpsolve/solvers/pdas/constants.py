"""The tunable constants of ``pdas``, in one place.

Every module of the backend reads them from here when it runs (``constants.X``),
so one setting holds for the whole backend.  The measurements behind the values
are in ``benchmarks/results/design_notes.md``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["default_max_active", "is_dense"]

# -- limits of the dense Schur complement ------------------------------------------------------
#: the dense Schur complement is limited to this many active pixels by default ...
MAX_ACTIVE = 4000
#: ... or to this many times the grid's side, whichever is larger: contact sets of smooth
#: content are lines, so they grow like the side (a 2048^2 plate may need 6 000)
ACTIVE_PER_SIDE = 3


def default_max_active(n):
    """The default ``max_active`` for ``n`` pixels: ``max(MAX_ACTIVE, ACTIVE_PER_SIDE * sqrt(n))``.

    Examples
    --------
    >>> default_max_active(1024 ** 2), default_max_active(2048 ** 2)
    (4000, 6144)
    """
    return max(MAX_ACTIVE, int(ACTIVE_PER_SIDE * np.sqrt(n)))


#: a level whose contacts exceed this fraction of its pixels (texture, noise) is handed over ...
DENSE_FRACTION = 0.05
#: ... when they would outgrow max_active on the fine level at this growth per level (textured
#: contacts multiply from level to level, see benchmarks/results/design_notes.md), or whatever their
#: number when the hand-over goes to tnnmg: on 64 x 64 photo tiles it certified such sets many
#: times faster than PDAS's dense Schur complements (benchmarks/results/dense/session12/notes.md)
DENSE_GROWTH = 8
#: ... once the level has at least this many pixels (the coarsest grids are all contact)
DENSE_MIN_PIXELS = 1024
#: ... and a dense share alone (the hand-over going to tnnmg) from this many: below, PDAS's Schur
#: complements are cheap and smooth content's contact lines alone can pass the share (the paper's
#: Gaussian at 32 x 32: 19 ms on PDAS, 48 ms through the hand-over)
DENSE_ANY_SIZE_PIXELS = 4096
#: ... on grids whose sides are all at least this long: tnnmg's hierarchy barely coarsens a 16-pixel
#: strip (camera, 3 bits, 16 x 1024: 5.3 s on PDAS, 14.5 s through the hand-over; 16 x 400: tnnmg
#: stopped uncertified), while 32 x 256 took 0.46 s through it against 3.2 s on PDAS
DENSE_ANY_SIZE_SIDE = 32


def is_dense(active, n, growth, max_fine, any_size=False):
    """The dense-contact rule: ``active`` contacts on a level of ``n`` pixels are too many for ``pdas``.

    True when the level has at least ``DENSE_MIN_PIXELS`` pixels, more than
    ``DENSE_FRACTION`` of them are contacts, and either the contacts
    multiplied by ``growth`` (``DENSE_GROWTH ** depth`` on a coarse level)
    would exceed ``max_fine`` (the fine level's ``max_active``: the dense
    Schur complement would not fit), or, on a level of at least
    ``DENSE_ANY_SIZE_PIXELS``, ``any_size`` holds: the hand-over goes to a
    solver that beats PDAS on dense sets of any size
    (:data:`qpsolve.solvers.DENSE_HANDOVER`).  ``any_size`` may be a
    function of no arguments, called only when the other tests leave the
    answer open (asking it loads numba).  ``pdas`` applies the rule on
    every level of its chain, the coarsest included; a dense level hands
    the problem over (to :data:`qpsolve.solvers.DENSE_HANDOVER` unless the
    caller gave ``pdas`` options of its own).

    Examples
    --------
    >>> is_dense(376, 3750, DENSE_GROWTH ** 3, 4000)   # coffee's coarsest level, 3 halvings down
    True
    >>> is_dense(40, 3750, DENSE_GROWTH ** 3, 4000)    # a few contact lines
    False
    >>> is_dense(600, 4096, 1, 4000)                   # the fine level itself: the Schur complement fits
    False
    >>> is_dense(600, 4096, 1, 4000, any_size=True)    # ... but tnnmg takes the tile faster
    True
    >>> is_dense(100, 1024, 1, 4000, any_size=True)    # a small level: PDAS keeps it
    False
    """
    if n < DENSE_MIN_PIXELS or active <= DENSE_FRACTION * n:
        return False
    if active * growth > max_fine:
        return True
    return n >= DENSE_ANY_SIZE_PIXELS and bool(any_size() if callable(any_size) else any_size)


# -- coarse-to-fine ----------------------------------------------------------------------------
#: coarse levels stop once violations are below this fraction of the envelope span
COARSE_VIOLATION = 1e-4
#: coarsen while both axes are even and at least this long after halving (pcg solves the last)
MIN_COARSE = 8
#: ... unless the last has at least this many pixels (sides that stop halving early): then tnnmg
#: solves it (:func:`~qpsolve.solvers.pdas.multilevel.coarsest_solver`): from a few thousand pixels
#: pcg's exact steps cost more than tnnmg's cycles (benchmarks/results/dense/notes.md, session 7)
COARSEST_MULTIGRID = 2**11

# -- the saddle factor -------------------------------------------------------------------------
#: BLAS threads inside a solve (:mod:`qpsolve.linalg.threads`); the registry's hand-over to ``pcg``
#: continues under the same setting
BLAS_THREADS = 1
#: saddle factorisations of at least this many contacts use every BLAS thread
PARALLEL_CHOLESKY = 2500
#: sets of at least this many contacts update the last saddle factor instead of refactoring ...
UPDATE_MIN_ACTIVE = 1000
#: ... when at most this fraction of them joined, and as many left, since it was made
UPDATE_FRACTION = 0.125

# -- one level's iteration ---------------------------------------------------------------------
#: a violated pixel joins only if it is the worst within this window (odd, in pixels)
PEAK_WINDOW = 5
#: once every violation is below this fraction of the envelope span, all violated pixels join
SMALL_VIOLATION = 1e-4
#: the dense release of wrong-sign contacts is used for at most this many of them
RELEASE_MAX = 256
#: PDAS hands over when its largest violation has not halved for this many iterations
STALL_ITERATIONS = 8
#: below this fraction of the envelope span the iterate is polished before the set is updated ...
POLISH_VIOLATION = 1e-6
#: ... unless a multiplier has the wrong sign by more than this fraction of the largest one
#: (the saddle solve's multipliers are good to about 1e-10 of it) on a grid of at least
#: this many pixels (512 x 512)
POLISH_WRONG_SIGN = 1e-6
EARLY_RELEASE_PIXELS = 2**18

# -- polish and certificate --------------------------------------------------------------------
#: the polish refines again, before any certificate, while its correction exceeds this
#: fraction of max |x|: a larger correction leaves a residual the certificate rejects, and a
#: certificate costs as much as a refinement on large grids (the corrections after which it
#: passed and failed: benchmarks/results/design_notes.md) ...
POLISH_STEP = 2e-12
#: ... up to this many refinements
POLISH_STEPS = 3
#: extra corrections of the certificate's dual shift before an uncertified answer goes to pcg
SHARPEN_STEPS = 2

# -- projected Newton --------------------------------------------------------------------------
#: face solves per step, each holding the bound pixels the last one pushed out
NEWTON_FACE_ROUNDS = 3
