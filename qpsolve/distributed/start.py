"""Start points for video planes: a coarse-to-fine start for a frame, the previous frame for the next.

``pdas`` is fast when it starts near the answer's contact set: it then works
on a few hundred contacts with one pair of transforms per iteration.  Its
own coarse-to-fine start halves the grid only while both sides stay even,
so a 480p frame (854 = 2 x 427) stops at 427 x 240, which it hands to
``pcg`` whole; a cold 480p plane then takes minutes.  This module builds
the start outside the solver instead:

* :func:`coarse_start` restricts the envelopes by 2-block min/max (an odd
  side padded by its last row or column) down to a small grid, solves it,
  and climbs back, each level solved from the start the level below gives:
  the interpolated plate held strictly inside the envelopes, with one
  contact per coarse contact put on its bound (so ``pdas`` seeds exactly
  those contacts, not every pixel the interpolation clips).
* a temporal chunk's 3-D plate starts from its frames' 2-D answers
  (:func:`qpsolve.distributed.video.solve_chunk`).

Only the start changes: every answer is still the fine problem's, decided
by the shared certificate.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import map_coordinates

__all__ = ["restrict", "prolong", "seeded_start", "contacts", "coarse_start", "MIN_SIDE"]

#: the coarsest grid of :func:`coarse_start` has its shorter side below ``2 * MIN_SIDE``
MIN_SIDE = 32
#: how far inside its envelope a start pixel that is not a contact is held (fraction of the bin)
INSIDE = 1e-3
#: coarse levels are solved to this relative gap, for at most ``COARSE_SECONDS`` each: they only
#: give the next level its start, and a nearly flat plane (a chroma plane at 3 bits) has dense
#: contacts that ``tnnmg`` closes to 1e-5 ten times faster than to the default 1e-8
COARSE_TOL = 1e-5
COARSE_SECONDS = 30.0


def restrict(lower, upper):
    """2-block min / max of 2-D envelopes (an odd side padded by its last row or column).

    Examples
    --------
    >>> lo = np.arange(15.0).reshape(3, 5); hi = lo + 1
    >>> c_lo, c_hi = restrict(lo, hi)
    >>> c_lo.tolist(), c_hi.tolist()
    ([[0.0, 2.0, 4.0], [10.0, 12.0, 14.0]], [[7.0, 9.0, 10.0], [12.0, 14.0, 15.0]])
    """
    n, m = lower.shape
    pad = ((0, n % 2), (0, m % 2))
    lo, hi = np.pad(lower, pad, mode="edge"), np.pad(upper, pad, mode="edge")
    cn, cm = lo.shape[0] // 2, lo.shape[1] // 2
    return lo.reshape(cn, 2, cm, 2).min(axis=(1, 3)), hi.reshape(cn, 2, cm, 2).max(axis=(1, 3))


def prolong(xc, shape):
    """Cell-centred bilinear interpolation of a coarse plate onto the grid ``shape`` (about twice as big).

    Examples
    --------
    >>> prolong(np.full((2, 3), 7.0), (4, 5)).tolist()[0]
    [7.0, 7.0, 7.0, 7.0, 7.0]
    """
    n, m = shape
    ci = (np.arange(n) + 0.5) / 2 - 0.5
    cj = (np.arange(m) + 0.5) / 2 - 0.5
    i, j = np.meshgrid(ci, cj, indexing="ij")
    return map_coordinates(np.asarray(xc, dtype=np.float64), [i, j], order=1, mode="nearest")


def seeded_start(lower, upper, x_coarse, contacts, on_upper):
    """A fine start from a coarse answer: interpolated, strictly inside, one contact per coarse contact.

    ``contacts`` are flat indices of the coarse contacts (``on_upper`` says
    which bound); each puts the child pixel its interpolated plate
    violates most on that bound.  Pinned pixels (``lower == upper``) sit on
    their value.
    """
    shape = lower.shape
    cshape = x_coarse.shape
    x = prolong(x_coarse, shape)
    width = upper - lower
    x = np.clip(x, lower + INSIDE * width, upper - INSIDE * width)
    ci, cj = np.divmod(np.asarray(contacts, dtype=np.int64), cshape[1])
    best = np.full(ci.size, -np.inf)
    pick = np.zeros((ci.size, 2), dtype=np.int64)
    xi = prolong(x_coarse, shape)
    for di in range(2):
        for dj in range(2):
            fi, fj = np.minimum(2 * ci + di, shape[0] - 1), np.minimum(2 * cj + dj, shape[1] - 1)
            score = np.where(on_upper, xi[fi, fj] - upper[fi, fj], lower[fi, fj] - xi[fi, fj])
            better = score > best
            best[better] = score[better]
            pick[better] = np.stack([fi, fj], axis=1)[better]
    fi, fj = pick[:, 0], pick[:, 1]
    x[fi, fj] = np.where(on_upper, upper[fi, fj], lower[fi, fj])
    return x


def contacts(prob, x):
    """Flat indices of the pixels on a bound with the gradient pushing outward, and which bound."""
    g = prob.gradient(x)
    lo = (x <= prob.lower) & (g > 0)
    hi = (x >= prob.upper) & (g < 0) & ~lo
    act = np.flatnonzero(lo | hi)
    return act, hi[act]


def coarse_start(lower, upper, *, model="biharmonic", bc="even", alpha=1.0, beta=1.0, min_side=MIN_SIDE,
                 tol=COARSE_TOL, time_limit=COARSE_SECONDS):
    """A start point for the 2-D plate between ``lower`` and ``upper``: coarse-to-fine over odd sides too.

    Each coarse level is solved (``solver='auto'``, the coarsest cold, the
    others from :func:`seeded_start`) to ``tol`` for at most ``time_limit``
    seconds; their certificates do not matter here, only the fine solve's
    does.  Returns the fine start (2-D), or
    ``None`` when the grid is too small to restrict (shorter side below
    ``2 * min_side``).

    Examples
    --------
    >>> y = np.add.outer(np.arange(70.0), np.arange(90.0))
    >>> lo = np.floor(y / 16) * 16; hi = lo + 16
    >>> x0 = coarse_start(lo, hi)
    >>> x0.shape, bool(np.all((x0 >= lo) & (x0 <= hi)))
    ((70, 90), True)
    """
    from ..imaging.image import image_problem
    from ..solvers import solve

    lower, upper = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    chain = [(lower, upper)]
    while min(chain[-1][0].shape) >= 2 * min_side:
        chain.append(restrict(*chain[-1]))
    if len(chain) == 1:
        return None
    x = prev = None
    for depth in range(len(chain) - 1, 0, -1):
        lo, hi = chain[depth]
        prob = image_problem(np.zeros(lo.shape), lower=lo, upper=hi, model=model, bc=bc, alpha=alpha, beta=beta)
        x0 = None if x is None else seeded_start(lo, hi, x, *contacts(prev, x.ravel())).ravel()
        x = solve(prob, tol=tol, x0=x0, time_limit=time_limit).x.reshape(lo.shape)
        prev = prob  # the level whose contacts seed the next finer one
    return seeded_start(lower, upper, x, *contacts(prev, x.ravel()))

