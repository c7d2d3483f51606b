"""The ``(t, y, x)`` energy of a video chunk: a plate per frame plus a temporal bending term.

A chunk of ``T`` frames of ``h x w`` pixels is one vector in C order (time
first).  Its energy is

    ``E(f) = sum_t f_t^T P2 f_t  +  weight * |M D_tt f|^2``

``P2`` the 2-D energy of one frame (:func:`~qpsolve.model.operators.energy_matrix`
with the frame's model and boundary rule), ``D_tt`` the second difference
along time with the ``odd`` rule (it vanishes at the chunk's first and last
frame, so a pixel whose value changes linearly in time costs nothing), and
``M`` a 0/1 diagonal that keeps the temporal rows only where the content is
continuous in time (:func:`temporal_continuity`).

Why not the isotropic 3-D plate ``|(D_xx + D_yy + D_tt) f|^2`` with the
frame's ``even`` rule in time: ``even`` makes ``D_tt`` at a chunk's end the
first difference ``f_1 - f_0``, so the plate pins the temporal slope to zero
at both ends of every chunk and freezes a moving scene there (a 2-frame chunk
becomes nearly static).  Measured in benchmarks/results/distributed/ and
docs/video.md (issue #22).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..validation import check_at_least
from .differences import second_difference
from .operators import axis_operator, energy_matrix

__all__ = ["temporal_energy", "temporal_continuity", "TEMPORAL_WEIGHT", "TEMPORAL_JUMP"]

#: default ``weight`` of the temporal term: 0.1 and 1 gave nearly the same PSNR and flicker on the
#: drifting synthetic scene (0.05 to 0.08 dB, flicker within 0.002), and 0.1 solved 16-32 % faster
#: in the two runs measured (docs/video.md, issue #22)
TEMPORAL_WEIGHT = 0.1
#: default ``jump``: a temporal row is kept where neighbouring frames differ by at most this many levels
TEMPORAL_JUMP = 1


def temporal_continuity(lower, upper, jump=TEMPORAL_JUMP):
    """Where a chunk's content is continuous in time: the rows of ``D_tt`` to keep.

    ``lower``, ``upper`` are a chunk's envelopes, ``(T, h, w)`` (time
    first).  A pixel of frame ``t`` (``0 < t < T - 1``) is continuous when
    the bin centres of frames ``t - 1, t, t + 1`` there differ from each
    other's neighbours by at most ``jump`` bin widths: quantization alone
    (a contour that moved across the pixel) changes a smooth scene's level by
    one bin; more is motion of an edge or texture, or a cut, where the plate
    must not bend across time.  Pixels of the first and last frame are
    ``False`` (the ``odd`` rule has no temporal row there).

    Examples
    --------
    >>> lo = np.array([0, 0, 32, 32, 160, 160], float)[:, None, None] * np.ones((1, 1, 2))
    >>> temporal_continuity(lo, lo + 32)[:, 0, 0].tolist()
    [False, True, True, False, False, False]
    """
    lo, hi = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    if lo.shape != hi.shape or lo.ndim != 3:
        raise ValueError(f"lower {lo.shape} and upper {hi.shape} must be equal (T, h, w) shapes")
    check_at_least(jump, "jump", 0)
    keep = np.zeros(lo.shape, dtype=bool)
    if lo.shape[0] < 3:
        return keep
    finite = np.isfinite(lo) & np.isfinite(hi)
    width = np.where(finite, hi - lo, np.inf)
    centre = np.where(finite, 0.5 * (lo + hi), 0.0)
    # a pinned pixel (width 0) has no bin: compare with the wider neighbour's bin
    unit = np.maximum(width[:-1], width[1:])
    small = np.abs(np.diff(centre, axis=0)) <= jump * unit * (1 + 1e-9)
    small &= finite[:-1] & finite[1:]
    keep[1:-1] = small[:-1] & small[1:]
    return keep


def temporal_energy(shape, model="biharmonic", bc="even", *, weight=TEMPORAL_WEIGHT, keep=None, alpha=1.0,
                    beta=1.0):
    """Energy matrix ``P`` of a ``(T, h, w)`` chunk: per-frame plates plus ``weight |M D_tt f|^2``.

    Parameters
    ----------
    shape : (T, h, w)
        Frames, rows, columns.
    model, bc, alpha, beta
        The frames' 2-D model, as in :func:`~qpsolve.model.operators.energy_matrix`.
    weight : float
        Weight of the temporal term (``>= 0``; 0 gives frame-by-frame plates).
    keep : (T, h, w) bool array, optional
        Temporal rows kept (:func:`temporal_continuity`); default all.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``(T h w, T h w)``, symmetric positive semi-definite.

    Examples
    --------
    A pixel moving linearly in time costs what its frames cost alone:

    >>> P = temporal_energy((4, 3, 3), weight=5.0)
    >>> f = np.ones((4, 3, 3)) * np.arange(4.0)[:, None, None]
    >>> float(f.ravel() @ P @ f.ravel())
    0.0
    >>> g = f.copy(); g[1] += 1.0                    # a bump in time costs
    >>> float(g.ravel() @ P @ g.ravel()) > 0
    True
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"shape must be (T, h, w) with positive sides, got {shape!r}")
    check_at_least(weight, "weight", 0)
    if keep is not None:
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != shape:
            raise ValueError(f"keep must have the chunk's shape {shape}, got {keep.shape}")
    T = shape[0]
    P2 = energy_matrix(shape[1:], model, bc, alpha=alpha, beta=beta)
    P = sp.kron(sp.identity(T, format="csr"), sp.csr_matrix(P2), format="csr")
    if weight == 0 or T < 3:
        return P
    D = axis_operator(second_difference(T, "odd"), shape, 0)
    if keep is not None:
        D = sp.diags(keep.ravel().astype(np.float64)) @ D
    return (P + float(weight) * (D.T @ D)).tocsr()
