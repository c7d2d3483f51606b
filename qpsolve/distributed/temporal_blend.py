"""The blend of a temporal chunk: each frame's 2-D weights, opened where the frames' plates drift in step.

A photograph's default (:func:`qpsolve.imaging.photo.blend_weights`) returns
``c + w (x - c)``: the plate ``x`` near level transitions, mostly the bin
centre ``c`` deep inside a band, where one picture says little and a plate
extrapolates.  In a video whose content moves, a band's interior is not
still: the truth drifts through the bin as the contours around it move, the
centre stays put, and the blended picture lags the truth by ``(1 - w)``
times its drift, then catches up when the contour passes -- error rings that
follow the contours and flicker (issue #22: at 480p the blend raised the
flicker of both video modes from the plates' 0.034-0.038 to 0.147).

The chunk holds what one picture does not: the frames' independent 2-D
plates (solved without the temporal term; the temporal solve starts from
them).  Where they change *in step* -- over the chunk each pixel's plate
moves along a straight line in time, by much more than it departs from that
line -- the contours around the pixel move coherently and the plates agree
frame after frame about how the picture there changes; holding the pixel
near a fixed centre would add the lag above.  There the weight is opened
towards the plate:

    ``w' = w + (1 - w) m``,  ``m = clip((D1 - ratio D2) / rate, 0, 1)``

per pixel, the same for every frame of the chunk (so ``m`` itself adds no
flicker), with ``D1`` the plate's mean drift per frame ``|x_{T-1} - x_0| /
(T - 1)`` and ``D2`` the mean ``|x_{t-1} - 2 x_t + x_{t+1}|`` over the
interior frames, both in bin widths and smoothed by a Gaussian of ``sigma``
pixels (``m`` is then smoothed over ``smooth`` pixels, so that it never
makes an edge of its own).  Where the plates stand still (a still shot:
the photograph's blend), jump (texture, cuts, edges in motion) or wander
(noise: a plate extrapolating differently in every frame), ``m = 0`` and
each frame keeps its own 2-D weights.  A chunk of fewer than three frames
has no interior frame (and no temporal term): each frame keeps its 2-D
weights.

``w'`` is in ``[w, 1]``, so the blend is still a convex combination of two
points of each frame's envelopes.  Limits, measured (README, issue #22;
``benchmarks/results/distributed/temporal_blend.md``): the evidence is full
when a scene moves by whole pixels per frame (the frames' plates are then
shifts of each other) and small at sub-pixel speeds, where each frame
samples the contours differently and the plates jitter; and a coherent
plate is not always a right one (the nearly flat U plane of the synthetic
scene loses some PSNR where its plate drifts in step but lies farther from
the truth than the centres).
"""

from __future__ import annotations

import numpy as np

from ..imaging.photo import level_step
from ..validation import check_at_least, check_positive

__all__ = ["DRIFT_RATE", "DRIFT_RATIO", "DRIFT_SIGMA", "DRIFT_SMOOTH", "drift_evidence", "chunk_blend_weights"]

#: drift (bin widths per frame) at which a straight-line drift of the plates opens the weight fully
DRIFT_RATE = 0.01
#: how many times the plates' departure from a straight line (their mean second difference in time)
#: the drift must exceed before it counts: the conservative end of what was measured -- it keeps the
#: real pans shut (an exact one-pixel pan of a photograph, whose plates are shifts of each other,
#: opens least: lower ratios opened more of it and lost PSNR there), so only coherent drift counts
DRIFT_RATIO = 30.0
#: spatial smoothing (pixels) of the evidence, so that it never jumps between neighbours
#: (a jump of the weight where the plate departs from the centres would be a new contour)
DRIFT_SIGMA = 2.0
#: smoothing (pixels) of ``m`` itself: the clip makes it rise from 0 to 1 within a few pixels, and
#: that edge, where the plate is 10 levels off the centre, was a new 2-level step of the error on
#: the 480p scene; over 8 pixels the error's largest 3-pixel step is the 2-D blend's own
DRIFT_SMOOTH = 8.0


def drift_evidence(plates, step, *, rate=DRIFT_RATE, ratio=DRIFT_RATIO, sigma=DRIFT_SIGMA, smooth=DRIFT_SMOOTH):
    """How much the frames' plates drift in step, per pixel: ``m`` in ``[0, 1]`` (module docstring).

    Parameters
    ----------
    plates : ndarray, ``(T, h, w)``
        The chunk's frames' independent 2-D plates (``T >= 3``).
    step : float
        The bin width (``m`` measures drift in bin widths per frame).
    rate : float
        Drift per frame (bin widths) at which ``m`` reaches 1 (:data:`DRIFT_RATE`).
    ratio : float
        Weight of the mean second difference against the drift (:data:`DRIFT_RATIO`).
    sigma : float
        Gaussian smoothing of ``D1`` and ``D2`` in space (pixels; 0: none).
    smooth : float
        Gaussian smoothing of ``m`` (pixels; 0: none; :data:`DRIFT_SMOOTH`).

    Returns
    -------
    ndarray, ``(h, w)``

    Examples
    --------
    >>> t = np.arange(5.0)[:, None, None]
    >>> ramp = np.ones((1, 4, 6)) * 0.2 * t * 32     # 0.2 bins per frame, a straight line
    >>> float(drift_evidence(ramp, 32.0).min())
    1.0
    >>> still = np.zeros((5, 4, 6)); still[:] = np.arange(6.0) * 5
    >>> float(drift_evidence(still, 32.0).max())     # a still shot: the photograph's blend
    0.0
    >>> wobble = ramp + 8.0 * (t % 2)                 # the same drift, wandering by 1/4 bin
    >>> float(drift_evidence(wobble, 32.0).max())
    0.0
    """
    from scipy import ndimage

    x = np.asarray(plates, dtype=np.float64)
    if x.ndim != 3 or x.shape[0] < 3:
        raise ValueError(f"plates must be a (T, h, w) array with T >= 3, got shape {x.shape}")
    step = check_positive(step, "step")
    rate = check_positive(rate, "rate")
    check_at_least(ratio, "ratio", 0)
    check_at_least(sigma, "sigma", 0)
    check_at_least(smooth, "smooth", 0)
    x = x / step
    d1 = np.abs(x[-1] - x[0]) / (x.shape[0] - 1)
    d2 = np.abs(np.diff(x, 2, axis=0)).mean(axis=0)
    if sigma > 0:
        d1 = ndimage.gaussian_filter(d1, float(sigma), mode="nearest")
        d2 = ndimage.gaussian_filter(d2, float(sigma), mode="nearest")
    m = np.clip((d1 - float(ratio) * d2) / rate, 0.0, 1.0)
    if smooth > 0:
        m = np.clip(ndimage.gaussian_filter(m, float(smooth), mode="nearest"), 0.0, 1.0)
    return m


def chunk_blend_weights(lower, upper, plates, adaptive=True):
    """The blend weights of a temporal chunk: each frame's 2-D weights opened by :func:`drift_evidence`.

    ``lower``, ``upper`` are the chunk's ``(T, h, w)`` envelopes, ``plates``
    its frames' independent 2-D plates, ``adaptive`` the video's option
    (``False``/``None``: no blend, returns ``None``; a dict: the 2-D blend
    options, as :func:`~qpsolve.distributed.temporal.frame_blend_weights`).
    Pixels with an infinite bound keep weight 1 (the QP's value).

    Examples
    --------
    >>> from qpsolve.distributed.temporal import frame_blend_weights
    >>> lo = np.zeros((4, 30, 30)); lo[:, :, 15:] = 32.0        # a still contour
    >>> still = np.broadcast_to(np.linspace(0, 64, 30), lo.shape)
    >>> w = chunk_blend_weights(lo, lo + 32, still)
    >>> bool(np.array_equal(w, frame_blend_weights(lo, lo + 32)))   # nothing drifts: the 2-D weights
    True
    >>> moving = still + 3.2 * np.arange(4.0)[:, None, None]        # 0.1 bins per frame, in step
    >>> float(chunk_blend_weights(lo, lo + 32, moving).min())        # opened to the plate
    1.0
    """
    from .temporal import frame_blend_weights

    lower, upper = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    w = frame_blend_weights(lower, upper, adaptive)
    if w is None or lower.shape[0] < 3:
        return w
    if np.shape(plates) != lower.shape:
        raise ValueError(f"plates has shape {np.shape(plates)}; the envelopes have {lower.shape}")
    step = level_step(lower, upper)
    if step is None:
        return w
    m = drift_evidence(plates, step)
    finite = np.isfinite(lower) & np.isfinite(upper)
    return np.where(finite, w + (1.0 - w) * m[None], w)
