"""Coarse grids: the 2-block restriction of a grid problem's envelopes, and prolongation back.

Coarse-to-fine solvers (``pcg``'s warm start, ``pdas``'s chain of levels)
build their coarse levels here, so both see the same coarse problems: the
envelopes of a 2-block are the loosest that contain its pixels' (``min`` of
the lower, ``max`` of the upper bounds) and the energy is the same model on
the halved grid.
"""

from __future__ import annotations

import numpy as np

__all__ = ["block_reduce", "coarse_envelopes", "inner_envelopes", "prolong"]


def block_reduce(a, shape, axes, func):
    """Reduce 2-blocks along ``axes`` of the grid with ``func`` (np.min / np.max / np.mean)."""
    a = a.reshape(shape)
    for k in axes:
        n = a.shape[k]
        new = a.shape[:k] + (n // 2, 2) + a.shape[k + 1 :]
        a = func(a.reshape(new), axis=k + 1)
    return a


def coarse_envelopes(lower, upper, grid, axes):
    """Envelopes and grid of the problem halved along ``axes``: ``(lower, upper, grid)``.

    The bounds are grid-shaped arrays (2-block ``min`` / ``max``); the grid is
    ``grid``'s model on the halved shape.

    Examples
    --------
    >>> from qpsolve.model.operators import GridSpec
    >>> lo, hi, g = coarse_envelopes(np.arange(16.0), np.arange(16.0) + 1, GridSpec((4, 4)), (0, 1))
    >>> lo.tolist(), hi.tolist(), g.shape
    ([[0.0, 2.0], [8.0, 10.0]], [[6.0, 8.0], [14.0, 16.0]], (2, 2))
    """
    lo = block_reduce(lower, grid.shape, axes, np.min)
    hi = block_reduce(upper, grid.shape, axes, np.max)
    cgrid = type(grid)(shape=lo.shape, model=grid.model, bc=grid.bc, alpha=grid.alpha, beta=grid.beta)
    return lo, hi, cgrid


def inner_envelopes(lower, upper, grid, axes):
    """Like :func:`coarse_envelopes` with the tightest envelopes instead: 2-block ``max`` of the lower and
    ``min`` of the upper bounds, both set to their midpoint where they cross.

    The ``volume`` backend's coarse levels: their answer then violates few
    fine bounds, so the fine level's first binding set is small (see
    benchmarks/results/amg/notes-session5.md).

    Examples
    --------
    >>> from qpsolve.model.operators import GridSpec
    >>> lo, hi, g = inner_envelopes(np.array([0.0, 1, 2, 3]), np.array([2.0, 3, 2.5, 4]), GridSpec((4,)), (0,))
    >>> lo.tolist(), hi.tolist(), g.shape
    ([1.0, 2.75], [2.0, 2.75], (2,))
    """
    lo = block_reduce(lower, grid.shape, axes, np.max)
    hi = block_reduce(upper, grid.shape, axes, np.min)
    cross = lo > hi  # both bounds are finite where they cross
    mid = np.where(cross, 0.5 * (np.where(cross, lo, 0.0) + np.where(cross, hi, 0.0)), 0.0)
    lo, hi = np.where(cross, mid, lo), np.where(cross, mid, hi)
    cgrid = type(grid)(shape=lo.shape, model=grid.model, bc=grid.bc, alpha=grid.alpha, beta=grid.beta)
    return lo, hi, cgrid


def prolong(xc, coarse_shape, fine_shape):
    from scipy.ndimage import zoom

    factors = [f / c for f, c in zip(fine_shape, coarse_shape)]
    return zoom(xc.reshape(coarse_shape), factors, order=3, mode="nearest", grid_mode=True).ravel()
