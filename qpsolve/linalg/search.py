"""Monotone steps on a box QP, shared by ``pcg`` and ``pdas``'s projected Newton.

A step from ``x`` along a search direction ``d`` that never increases the
energy and stays in the box: what globalises Newton-type methods on faces.
"""

from __future__ import annotations

import numpy as np

__all__ = ["quad_change", "projected_search"]


def quad_change(matvec, g, s):
    """``E(x + s) - E(x)`` for the quadratic with gradient ``g`` at ``x``."""
    return float(g @ s + 0.5 * s @ matvec(s))


def projected_search(prob, x, g, d):
    """A monotone step from ``x``: projected Newton, feasible step, or scaled projected gradient.

    Products go through ``prob.matvec``: ``pdas``'s projected Newton calls
    this on grids whose matrix is never assembled (654 MB of CSR at 2048²).
    """
    P = prob.matvec
    lo, hi = prob.lower, prob.upper
    # 1. Projected search along d with Armijo back-tracking.
    a = 1.0
    for _ in range(8):
        s = prob.project(x + a * d) - x
        slope = float(g @ s)
        if slope < 0:
            change = quad_change(P, g, s)
            if change <= 1e-4 * slope:
                return s, f"newton(a={a:g})"
        a *= 0.5
    # 2. Largest feasible step along d, exact line minimum on it.
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(d > 0, (hi - x) / d, np.where(d < 0, (lo - x) / d, np.inf))
    amax = float(np.min(room)) if room.size else np.inf
    slope = float(g @ d)
    if slope < 0 and amax > 0:
        curv = float(d @ P(d))
        a = min(amax, -slope / curv) if curv > 0 else amax
        if np.isfinite(a) and a > 0:
            return a * d, f"feasible(a={a:.3g})"
    # 3. Diagonally scaled projected gradient with Armijo.
    dg = -g / prob.diag
    a = 1.0
    for _ in range(30):
        s = prob.project(x + a * dg) - x
        slope = float(g @ s)
        if slope >= 0:
            return None, "none"
        if quad_change(P, g, s) <= 1e-4 * slope:
            return s, f"gradient(a={a:g})"
        a *= 0.5
    return None, "none"
