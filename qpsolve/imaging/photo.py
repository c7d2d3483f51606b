"""Real photographs: adaptive masks, outliers and dither, decorrelated colour, tiles.

:func:`qpsolve.dequantize` hands over to :func:`dequantize_photo` when any of
``adaptive`` (the default), ``outliers``, ``color_space='decorrelated'`` or
``tile`` is asked for; only ``adaptive=False`` without the others is the
paper's plain path.  The pipeline, per channel:

1. the quantizer's envelopes, exactly as :func:`qpsolve.image_problem` builds
   them (bits/step/levels/explicit bounds, confidence, gain, mask);
2. ``outliers``: impulses masked or replaced, dithered areas relaxed
   (:mod:`qpsolve.model.noise`);
3. ``adaptive``: the default ``mode='blend'`` leaves the envelopes alone and
   computes a per-pixel weight (:func:`blend_weights`); ``mode='pin'`` /
   ``'free'`` pin (free) the :func:`textured` pixels instead, grown by
   ``dilate`` pixels, optionally the envelopes of the smooth pixels narrowed
   about their centre by ``shrink`` (:mod:`qpsolve.model.masks`);
4. the QP: per channel, or jointly with a decorrelated colour energy;
   directly or in overlapping tiles (:mod:`qpsolve.imaging.tiles`);
5. ``mode='blend'``: the returned image is ``c + w * (x - c)``, ``x`` the
   certified solution of that QP (``result.x``, ``result.kkt``), ``c`` the
   bin centres, ``w`` the weights of step 3 (``result.info['blend']``).

Every envelope is a box in the *stored* channels, and a blend of two points
of a box stays in it, so the returned image lies inside the (modified)
envelopes of the stored channels whatever the colour space.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..model.envelopes import apply_confidence, container_range
from ..model.masks import ADAPTIVE_MODES, adaptive_envelopes
from ..model.noise import OUTLIER_MODES, treat_outliers
from ..problem import BoxQP
from ..solvers import solve
from ..validation import check_at_least, check_choice, check_int_at_least, check_positive
from . import channels as _channels
from .bounds import image_envelopes, restore, split_channels
from .progress import solve_with_bar
from .smoothing import gaussian_nearest
from .tiles import GridBounds, solve_tiled

__all__ = ["COLOR_SPACES", "ADAPTIVE_DEFAULTS", "PhotoReport", "dequantize_photo", "color_energy", "textured",
           "transitions", "clean_transitions", "blend_weights", "level_step"]

COLOR_SPACES = ("rgb", "decorrelated")

#: parameters of ``adaptive=True``.  ``mode='blend'`` (issue #19): the
#: paper's plate is solved on the quantizer's envelopes and returned blended
#: with the bin centres, per pixel, by :func:`blend_weights`: weight 1 on a
#: level transition, decaying with the distance ``d`` (pixels) to the
#: nearest transition as ``exp(-d / reach)`` -- as ``exp(-d / far_reach)``
#: where that transition is clean (no more level changes around it than a
#: smooth ramp of its slope makes), as ``exp(-d_c / open_reach)`` in open
#: areas (``open_far`` pixels or more from any textured pixel, fading in from
#: ``open_near``; ``d_c`` is the distance to a contour of at least
#: :data:`OPEN_CONTOUR_PIXELS` transition pixels, not to an island) -- down
#: to ``floor``; ``texture`` on :func:`textured` pixels (``window``, grown by
#: ``dilate``).  Why: the quantized data say
#: where the picture is only at a transition (there it crosses a bin
#: boundary); away from a ragged (noisy) one next to texture the plate
#: extrapolates the noise, and the bin centre is the better guess; between
#: clean contours (a noise-free smooth picture) the plate interpolates well;
#: a contour frayed by noise in an open sky says that the picture stays
#: within the noise of the bin boundary over the frayed zone and some pixels
#: beyond, where the plate follows the boundary and the centres are half a
#: step off (with ``exp(-d / 2)`` alone the centres took over within a few
#: pixels: a soft band).  The numbers were chosen on full-size photographs
#: (rocket gray and RGB, camera, moon; global plates), four 64-80 px crops and
#: the paper's Gaussian and Rosenbrock surfaces at 2-4 bits;
#: ``benchmarks/results/photo_quality.md`` has the whole set.
#: ``mode='pin'`` pins textured pixels to their bin centre and returns the
#: certified QP itself (the default before); ``window=2`` with ``dilate=1``
#: is the older neighbour test.  ``shrink`` (> 1 narrows the envelopes of
#: non-textured pixels about their centre) is harmful on full-resolution
#: skies, where the truth sits on a level boundary and narrowed envelopes no
#: longer touch (``benchmarks/results/design_notes.md``); so it is off.
ADAPTIVE_DEFAULTS = {"mode": "blend", "dilate": 0, "shrink": 1.0, "window": 9,
                     "reach": 2.0, "far_reach": 32.0, "open_reach": 8.0, "open_near": 8.0, "open_far": 32.0,
                     "floor": 0.2, "texture": 0.2}

#: modes of ``adaptive``: the two of :func:`qpsolve.model.masks.adaptive_envelopes` and ``blend``
PHOTO_MODES = ADAPTIVE_MODES + ("blend",)

#: standard deviation (pixels) of the Gaussian that smooths the blend
#: weights, so that a weight never jumps between neighbours (a jump of the
#: weight where the plate departs from the centres would be a new contour)
BLEND_SIGMA = 1.5

#: the open-area term of :func:`blend_weights` follows contours, not islands:
#: only transition pixels in connected groups (8-connected in 2-D) of at least
#: this many pixels count.  An isolated noise pixel makes a group of five
#: (itself and its four neighbours); around it the plate bulges to the bin
#: boundary, and kept over ``open_reach`` pixels that bulge is a soft blob
#: (moon at 3 bits lost 0.9 dB to it).  A band boundary across a picture
#: is one group of hundreds.
OPEN_CONTOUR_PIXELS = 64

#: contours are clean where, along the lines of the ``window`` around them,
#: the levels change in total by at most this much per pixel more than their
#: net change (soft: cleanness falls linearly to 0 at this excess), see
#: :func:`clean_transitions`
CLEAN_EXCESS = 0.1


@dataclass
class PhotoReport:
    """What the photo pipeline did to one channel (``result.info['photo']``)."""

    textured: int = 0
    held: str = "pinned"
    outliers: object = None
    tiles: int = 0
    retried: int = 0
    notes: list = field(default_factory=list)

    def __str__(self):
        parts = [f"{self.textured} textured pixel(s) {self.held}"]
        if self.outliers is not None:
            parts.append(str(self.outliers))
        if self.tiles:
            parts.append(f"{self.tiles} tile(s)" + (f", {self.retried} re-solved" if self.retried else ""))
        return "; ".join(parts + self.notes)


def _adaptive_options(adaptive):
    if adaptive is True:
        return dict(ADAPTIVE_DEFAULTS)
    if isinstance(adaptive, dict):
        unknown = set(adaptive) - set(ADAPTIVE_DEFAULTS)
        if unknown:
            raise ValueError(f"adaptive has unknown key(s) {sorted(unknown)}; allowed {sorted(ADAPTIVE_DEFAULTS)}")
        opts = dict(ADAPTIVE_DEFAULTS, **adaptive)
        check_choice(opts["mode"], PHOTO_MODES, "adaptive['mode']")
        _check_window(opts["window"], "adaptive['window']", neighbour=True)
        check_at_least(opts["shrink"], "adaptive['shrink']", 1)
        check_int_at_least(opts["dilate"], "adaptive['dilate']", 0)
        check_positive(opts["reach"], "adaptive['reach']")
        check_positive(opts["far_reach"], "adaptive['far_reach']")
        check_positive(opts["open_reach"], "adaptive['open_reach']")
        _check_open(opts["open_near"], opts["open_far"], "adaptive['open_near']", "adaptive['open_far']")
        for key in ("floor", "texture"):
            _check_unit(opts[key], f"adaptive[{key!r}]")
        return opts
    raise TypeError(f"adaptive must be True, False or a dict of options, got {adaptive!r}")


def color_energy(P, n_channels=3, chroma_weight=4.0):
    """Joint colour energy ``kron(M, P)`` with ``M = T^T diag(1, w, w) T``.

    ``T`` is the orthonormal opponent transform (luma ``(R+G+B)/sqrt 3`` and
    two chroma axes).  With ``w = 1`` it is ``kron(I, P)``: the per-channel
    problem (the energy of an orthonormal colour transform is the same).
    With ``w > 1`` bending of the chroma costs ``w`` times more: colour
    edges follow luma edges.  ``M = w I + (1 - w)/3 11^T`` is positive
    definite for ``w > 0``, so the joint matrix is PSD.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> P = sp.identity(2, format="csr")
    >>> float(color_energy(P, 3, 1.0).toarray().trace())
    6.0
    """
    check_positive(chroma_weight, "chroma_weight")
    c = int(n_channels)
    w = float(chroma_weight)
    M = w * np.eye(c) + (1.0 - w) / c * np.ones((c, c))
    return sp.kron(sp.csr_matrix(M), P, format="csr")


#: a window spanning three levels or more is textured when the bin centres
#: depart from their least-squares plane over it by more than this many
#: bin widths (RMS).  A quantized ramp, however steep, departs by about
#: ``1 / sqrt(12) = 0.29`` (the staircase), an edge or texture of several
#: levels by more.
PLANE_RESIDUAL = 0.4


def _check_window(window, name, neighbour=False):
    """An odd window side >= 3 (or 2, the neighbour test, where ``neighbour``)."""
    if neighbour and _is_two(window):
        return 2
    w = check_int_at_least(window, name, 3)
    if w % 2 == 0:
        raise ValueError(f"{name} must be an odd integer >= 3" + (" (or 2, the neighbour test)" if neighbour else "")
                         + f", got {window!r}")
    return w


def _is_two(value):
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, np.integer)) and value == 2


def textured(lower, upper, window=ADAPTIVE_DEFAULTS["window"], *, residual=PLANE_RESIDUAL, rtol=1e-9):
    """Pixels where the quantized picture is not slowly varying: the plate does not apply.

    A pixel is *textured* when, over the ``window``-wide square (cube,
    segment) around it,

    1. the envelopes have no value in common (the lowest upper bound lies
       below the highest lower bound: for a uniform quantizer, the window
       spans more than two adjacent levels), and
    2. the bin centres depart from their least-squares plane over the window
       by more than ``residual`` times the median bin width (RMS).

    Paper section 6.3: false contours are perceivable only where the signal
    changes slowly, and there the quantized signal changes by at most one
    level in a single step.  Test 1 widens that step to a window, so
    one-level texture (islands one level up and down) is caught, while a
    band boundary -- two adjacent levels, however wiggly -- never is: where
    the original stays within one step over the window
    (:func:`qpsolve.metrics.smooth_region`, the pixels the banding measure
    looks at), its quantized window spans at most two adjacent levels.  Test
    2 keeps steep smooth ramps (many levels, each one a clean stair) with
    the plate.

    Parameters
    ----------
    lower, upper : ndarray
        Envelopes (1-D to 3-D, one channel).  Infinite bounds (masked-out
        pixels) never make a window textured.
    window : int
        Side of the window (odd, >= 3).
    residual : float
        Threshold of test 2 (:data:`PLANE_RESIDUAL`).

    Returns
    -------
    ndarray of bool

    Examples
    --------
    >>> import numpy as np
    >>> v = np.array([0., 0, 0, 1, 0, 1, 1, 1, 1, 3, 1, 0, 1, 3, 3, 3, 3, 3])   # level indices
    >>> textured(v, v + 1, window=5).astype(int).tolist()   # a wiggly band edge, then a dip
    [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]
    >>> ramp = np.arange(12.0)                               # one level per pixel: smooth
    >>> bool(textured(ramp, ramp + 1, window=5).any())
    False
    """
    from scipy import ndimage

    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    if lo.shape != hi.shape:
        raise ValueError(f"lower has shape {lo.shape}; upper has shape {hi.shape}")
    w = _check_window(window, "window")
    check_at_least(residual, "residual", 0)
    finite = np.isfinite(lo) & np.isfinite(hi)
    if not finite.any():
        return np.zeros(lo.shape, dtype=bool)
    top = ndimage.maximum_filter(np.where(finite, lo, -np.inf), size=w, mode="nearest")
    bottom = ndimage.minimum_filter(np.where(finite, hi, np.inf), size=w, mode="nearest")
    scale = max(1.0, float(np.max(np.abs(hi[finite]))))
    spans = top > bottom + rtol * scale
    if not spans.any():
        return spans
    # test 2: RMS residual of the centres about their plane over the window (offsets
    # from the window centre are orthogonal over a full window, so the fit separates)
    width = hi - lo
    unit = float(np.median(width[finite & (width > 0)])) if (finite & (width > 0)).any() else 1.0
    c = np.where(finite, 0.5 * (lo + hi), 0.0) / unit
    mean = ndimage.uniform_filter(c, size=w, mode="nearest")
    var = ndimage.uniform_filter(c * c, size=w, mode="nearest") - mean * mean
    offsets = np.arange(w, dtype=np.float64) - w // 2
    spread = float(np.mean(offsets ** 2))
    for ax in range(c.ndim):
        m = ndimage.correlate1d(c, offsets / w, axis=ax, mode="nearest")
        for other in range(c.ndim):
            if other != ax:
                m = ndimage.uniform_filter1d(m, size=w, axis=other, mode="nearest")
        var -= m * m / spread
    return spans & (var > residual ** 2)


def _check_open(near, far, near_name, far_name):
    """``0 <= near < far``: the distances (pixels) over which the open-area term fades in."""
    check_at_least(near, near_name, 0)
    check_positive(far, far_name)
    if not float(far) > float(near):
        raise ValueError(f"{far_name} must be larger than {near_name}, got {far!r} <= {near!r}")


def _check_unit(value, name):
    """A real number in [0, 1]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0 <= float(value) <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def transitions(lower, upper):
    """Pixels on a level transition: a neighbour (along any axis) has other envelopes.

    Where the quantized picture changes level, the original crosses a bin
    boundary between the two pixels: the one place the data say more than
    "somewhere inside the bin".  Pairs with a masked-out pixel (an infinite
    bound) are not transitions.

    Parameters
    ----------
    lower, upper : ndarray
        Envelopes (any number of dimensions, one channel).

    Returns
    -------
    ndarray of bool

    Examples
    --------
    >>> import numpy as np
    >>> v = np.array([0., 0, 0, 1, 1, 1])
    >>> transitions(v, v + 1).astype(int).tolist()
    [0, 0, 1, 1, 0, 0]
    """
    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    if lo.shape != hi.shape:
        raise ValueError(f"lower has shape {lo.shape}; upper has shape {hi.shape}")
    finite = np.isfinite(lo) & np.isfinite(hi)
    out = np.zeros(lo.shape, dtype=bool)
    for ax in range(lo.ndim):
        a = [slice(None)] * lo.ndim
        b = [slice(None)] * lo.ndim
        a[ax], b[ax] = slice(1, None), slice(None, -1)
        a, b = tuple(a), tuple(b)
        differ = ((lo[a] != lo[b]) | (hi[a] != hi[b])) & finite[a] & finite[b]
        out[a] |= differ
        out[b] |= differ
    return out


def _extra_changes(c, w):
    """Per pixel: mean over the ``w``-wide window's lines of (total variation - net change) / (w - 1), summed over axes."""
    from scipy import ndimage

    k = w // 2
    total = np.zeros(c.shape)
    for ax in range(c.ndim):
        pad = [(0, 0)] * c.ndim
        pad[ax] = (k, k)
        cp = np.pad(c, pad, mode="edge")
        n = c.shape[ax]

        def part(a, start):
            sl = [slice(None)] * c.ndim
            sl[ax] = slice(start, start + n)
            return a[tuple(sl)]

        steps = np.abs(np.diff(cp, axis=ax))
        zero = np.zeros_like(part(steps, 0)[tuple(slice(0, 1) if a == ax else slice(None) for a in range(c.ndim))])
        cs = np.concatenate([zero, np.cumsum(steps, axis=ax)], axis=ax)
        tv = part(cs, 2 * k) - part(cs, 0)
        net = np.abs(part(cp, 2 * k) - part(cp, 0))
        extra = (tv - net) / (w - 1)
        for other in range(c.ndim):
            if other != ax:
                extra = ndimage.uniform_filter1d(extra, size=w, axis=other, mode="nearest")
        total += extra
    return total


def clean_transitions(lower, upper, window=ADAPTIVE_DEFAULTS["window"], *, excess=None):
    """How clean the level contours around each pixel are, in [0, 1].

    Along every line of the ``window``-wide square (cube, segment) around a
    pixel and every axis, the level indices (bin centres over the median bin
    width) change in total by more than their net change only where they go
    up and down again -- a monotone, smooth ramp never does.  ``e``, the
    excess per pixel (averaged over the window's lines, summed over axes),
    gives ``1 - e / excess`` clipped to [0, 1]; the result is the minimum of
    that over the window.  A noise-free smooth picture is clean everywhere;
    a contour frayed by noise or texture is not.

    Examples
    --------
    >>> import numpy as np
    >>> ramp = np.repeat(np.arange(5.0), 8)                     # clean contours
    >>> bool(clean_transitions(ramp, ramp + 1, 5).min() == 1)
    True
    >>> frayed = np.array([0., 1] * 10 + [1] * 20)              # one level, flickering
    >>> float(clean_transitions(frayed, frayed + 1, 5)[:16].max())
    0.0
    """
    from scipy import ndimage

    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    w = _check_window(window, "window")
    excess = CLEAN_EXCESS if excess is None else check_positive(excess, "excess")
    finite = np.isfinite(lo) & np.isfinite(hi)
    width = hi - lo
    sel = finite & (width > 0)
    unit = float(np.median(width[sel])) if sel.any() else 1.0
    c = np.where(finite, 0.5 * (np.where(finite, lo, 0.0) + np.where(finite, hi, 0.0)), 0.0) / unit
    clean = np.clip(1.0 - _extra_changes(c, w) / float(excess), 0.0, 1.0)
    return ndimage.minimum_filter(clean, size=w, mode="nearest")


def blend_weights(lower, upper, *, reach=ADAPTIVE_DEFAULTS["reach"], far_reach=ADAPTIVE_DEFAULTS["far_reach"],
                  open_reach=ADAPTIVE_DEFAULTS["open_reach"], open_near=ADAPTIVE_DEFAULTS["open_near"],
                  open_far=ADAPTIVE_DEFAULTS["open_far"], floor=ADAPTIVE_DEFAULTS["floor"],
                  texture=ADAPTIVE_DEFAULTS["texture"], window=ADAPTIVE_DEFAULTS["window"],
                  dilate=ADAPTIVE_DEFAULTS["dilate"], sigma=BLEND_SIGMA, textured_mask=None,
                  open_contour=OPEN_CONTOUR_PIXELS):
    """Per-pixel weight of the plate against the bin centres (``adaptive`` mode ``blend``).

    ``w = floor + (1 - floor) * max(exp(-d / reach), k * exp(-d / far_reach), o * exp(-d_c / open_reach))``,
    ``d`` the Euclidean distance (pixels) to the nearest :func:`transitions`
    pixel, ``k`` the mean :func:`clean_transitions` value (``window``) of
    the transition pixels around, weighted by a Gaussian of ``far_reach / 2``
    pixels (``sum(G * clean) / (sum(G) + 1e-6)`` over transition pixels),
    ``d_c`` the distance to the nearest transition pixel of a connected
    group (all neighbours, diagonals too) of at least ``open_contour``
    pixels (a contour, not an island), and
    ``o = clip((t - open_near) / (open_far - open_near), 0, 1)`` with
    ``t`` the Euclidean distance to the nearest textured pixel (infinite
    without any): 0 next to texture, 1 in open areas;
    ``texture`` on :func:`textured` pixels (``window``; grown by ``dilate``);
    then smoothed by a Gaussian of ``sigma`` pixels and clipped to [0, 1].
    Without any transition, ``floor``.  Pixels with an infinite bound get 1
    (the QP's value is kept).

    The returned image is ``c + w * (x - c)`` with ``c`` the bin centres and
    ``x`` the plate: on a band boundary the plate (it crosses the boundary
    smoothly, so the false contour goes), deep inside a wide band mostly the
    centre (the data say nothing there; a plate extrapolates, a tile picks
    any plane inside the bin), on texture mostly the centre.  Near a contour
    frayed by noise the plate follows the bin boundary across the frayed
    zone; in an open area (a sky) the picture does too, for some pixels
    beyond it (``open_reach``), while next to texture the plate overshoots
    between islands (``reach``).

    Parameters
    ----------
    lower, upper : ndarray
        Envelopes (1-D to 3-D, one channel).
    reach, far_reach, open_reach : float
        Decay lengths (pixels) of the weight away from a transition, away
        from a clean one, and away from any one in an open area.
    open_near, open_far : float
        Distances (pixels) to the nearest textured pixel over which the
        open-area term fades in (``0 <= open_near < open_far``).
    floor, texture : float
        Weight far from any transition, and on textured pixels (in [0, 1]).
    window, dilate : int
        Of the :func:`textured` test.
    sigma : float
        Smoothing of the weights (pixels; 0: none).
    textured_mask : ndarray of bool, optional
        The textured pixels, when already known (then ``window`` and
        ``dilate`` are not used).
    open_contour : int
        Smallest group of transition pixels the open-area term follows
        (:data:`OPEN_CONTOUR_PIXELS`; in 1-D a clean contour is 2 pixels).

    Returns
    -------
    ndarray of float64
        Weights in [0, 1], the shape of ``lower``.

    Examples
    --------
    >>> import numpy as np
    >>> v = np.repeat(np.arange(2.0), 40)                  # two wide bands, a clean contour
    >>> w = blend_weights(v, v + 1, sigma=0)
    >>> [round(float(w[i]), 2) for i in (0, 20, 36, 39)]   # 39, 19, 3 and 0 pixels away
    [0.44, 0.64, 0.93, 1.0]
    >>> v[34:46:2] = 1 - v[34:46:2]                        # the contour frayed by noise
    >>> tex = np.zeros(v.shape, bool)
    >>> w = blend_weights(v, v + 1, sigma=0, textured_mask=tex, open_contour=2)   # in an open area
    >>> [round(float(w[i]), 2) for i in (0, 20, 30, 33)]
    [0.21, 0.36, 0.75, 1.0]
    >>> tex[24:26] = True                                  # texture 8 pixels before it
    >>> w = blend_weights(v, v + 1, sigma=0, textured_mask=tex, open_contour=2)
    >>> [round(float(w[i]), 2) for i in (0, 20, 30, 33)]
    [0.21, 0.2, 0.38, 1.0]
    """
    from scipy import ndimage

    # numba (tens of MB resident) is loaded only by the photo path that needs it, not by
    # ``import qpsolve`` for every smooth-problem or plain-matrix user
    from .distance import distance_to

    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    check_positive(reach, "reach")
    check_positive(far_reach, "far_reach")
    check_positive(open_reach, "open_reach")
    _check_open(open_near, open_far, "open_near", "open_far")
    floor = _check_unit(floor, "floor")
    texture = _check_unit(texture, "texture")
    check_at_least(sigma, "sigma", 0)
    open_contour = check_int_at_least(open_contour, "open_contour", 1)
    edge = transitions(lo, hi)
    if edge.any():
        d = distance_to(edge)
        clean = clean_transitions(lo, hi, window if not _is_two(window) else 3)
        # the cleanness of the transitions nearby, as a smooth field (a Gaussian-weighted mean over
        # the transition pixels): taking that of the nearest one jumps at the boundaries of its
        # Voronoi cells, and a jump of the weight where the plate departs from the centres is a contour
        # (far from every transition both sums fade: the 1e-6 takes k smoothly to 0 there
        # instead of dividing tails, and the kernel reaches 6 spreads so that its cut is far below it)
        spread = 0.5 * float(far_reach)
        num = gaussian_nearest(np.where(edge, clean, 0.0), spread, truncate=6.0)
        den = gaussian_nearest(edge.astype(np.float64), spread, truncate=6.0)
        k = num / (den + 1e-6)
        near = np.maximum(np.exp(-d / float(reach)), np.clip(k, 0.0, 1.0) * np.exp(-d / float(far_reach)))
    else:
        d = None
        near = np.zeros(lo.shape)
    if textured_mask is None:
        textured_mask = ~_grow(~textured(lo, hi, window), dilate)
    elif np.shape(textured_mask) != lo.shape:
        raise ValueError(f"textured_mask has shape {np.shape(textured_mask)}; the envelopes have {lo.shape}")
    textured_mask = np.asarray(textured_mask, dtype=bool)
    if d is not None:
        # the open-area term: the distance to texture fades it in linearly, so the weight
        # never jumps where it starts (a jump of the weight would be a contour)
        t = distance_to(textured_mask)  # inf without texture
        o = np.clip((t - float(open_near)) / (float(open_far) - float(open_near)), 0.0, 1.0)
        groups, _ = ndimage.label(edge, structure=np.ones((3,) * lo.ndim))
        size = np.bincount(groups.ravel())
        size[0] = 0
        contour = size[groups] >= open_contour
        if contour.any():
            dc = distance_to(contour)
            near = np.maximum(near, o * np.exp(-dc / float(open_reach)))
    w = floor + (1.0 - floor) * near
    w = np.where(textured_mask, texture, w)
    if sigma > 0:
        w = ndimage.gaussian_filter(w, float(sigma), mode="nearest")
    finite = np.isfinite(lo) & np.isfinite(hi)
    return np.where(finite, np.clip(w, 0.0, 1.0), 1.0)


def level_step(lo, hi, mask=None):
    """The quantization step of envelopes: the median width of the finite, open bins (``None`` if there
    are none), over ``mask`` where given.

    Examples
    --------
    >>> level_step(np.array([0.0, 32, 64, 5]), np.array([32.0, 64, 96, 5]))
    32.0
    >>> level_step(np.zeros(2), np.array([0.0, np.inf])) is None
    True
    """
    width = np.asarray(hi, dtype=np.float64) - np.asarray(lo, dtype=np.float64)
    sel = np.isfinite(width) & (width > 0)
    if mask is not None:
        sel &= mask
    if not sel.any():
        return None
    return float(np.median(width[sel]))


def _channel_problem(image, bits, model, bc, mask, kw, adaptive, outliers):
    """Envelopes of one channel after outliers and adaptive.

    Returns ``(bounds, ctx, report, (free, mid), weights)``: a :class:`~qpsolve.imaging.tiles.GridBounds`
    (no operator assembled yet), the context, the :class:`PhotoReport`, what
    :func:`~qpsolve.imaging.bounds.restore` puts back at freed pixels and the blend weights
    (``None``, an array, or :class:`_PendingWeights` that :func:`_blend` makes after the solve).
    """
    lo, hi, grid, ctx = image_envelopes(image, bits, model, bc, mask, **kw)
    shape = ctx.shape
    mid = 0.5 * (lo + hi)  # the quantizer's bin centres
    rep = PhotoReport()
    step = level_step(lo, hi, ctx.mask)
    drange = kw.get("data_range") or container_range(np.asarray(image).dtype)
    gain = ctx.gain
    if drange is not None and gain is not None:
        drange = (drange[0] / float(np.min(gain)), drange[1] / float(np.min(gain)))
    touched = np.zeros(shape, dtype=bool)
    if outliers is not None:
        if step is None:
            raise ValueError("outliers needs envelopes of positive width (a quantization step)")
        values = ctx.values if gain is None else ctx.values / gain
        lo2, hi2, nrep = treat_outliers(values, lo, hi, step, outliers, data_range=drange)
        touched = (lo2 != lo) | (hi2 != hi)
        lo, hi = lo2, hi2
        rep.outliers = nrep
    weights = None
    ctx_free = None
    if adaptive:
        opts = _adaptive_options(adaptive)
        blend = opts["mode"] == "blend"
        held = "pin" if blend else opts["mode"]
        keep = ctx.mask if ctx.mask is not None else np.ones(shape, dtype=bool)
        if opts["window"] > 2:  # the window test contains the neighbour test
            # pixels the outlier treatment relaxed are its business (dither near an edge
            # would otherwise be pinned flat, the artefact of paper section 6.1)
            smooth = _grow(~textured(lo, hi, opts["window"]), opts["dilate"]) | touched
            lo2, hi2 = _pinned_or_freed(lo, hi, held, drange)
        else:
            lo2, hi2, smooth = adaptive_envelopes(lo, hi, mode=held, dilate=opts["dilate"], data_range=drange)
        smooth |= ~keep  # outside the user's mask nothing is pinned
        rep.textured = int((~smooth).sum())
        if blend:
            # made after the solve; pixels relaxed or masked out get weight 1 (the QP's value)
            weights = _PendingWeights(~smooth, touched | ~keep, opts, rep)
            rep.held = f"weighted {opts['texture']:g}"
            if opts["shrink"] != 1:  # made from the envelopes before the shrink, which the problem will not keep
                weights = weights.make(lo, hi)
        else:
            lo = np.where(smooth, lo, lo2)
            hi = np.where(smooth, hi, hi2)
        if opts["shrink"] != 1:
            shrink_here = smooth & keep & ~touched
            lo, hi = apply_confidence(lo, hi, np.where(shrink_here, opts["shrink"], 1.0), drange)
        if opts["mode"] == "free":
            rep.held = "freed"
            rep.notes.append("textured pixels freed and given their bin midpoint")
            ctx_free = ~smooth
    return (GridBounds(lo, hi, grid), ctx.for_restore(), rep, (ctx_free, mid if ctx_free is not None else None),
            weights)


class _PendingWeights:
    """The blend weights of a channel, made when the blend needs them: from the envelopes and two masks.

    The weights are an image-sized float64 array needed only after the solve; the masks they are made
    of take a quarter of that while the solve runs, and the envelopes are the problem's own.

    Parameters
    ----------
    textured : ndarray of bool
        The pixels :func:`blend_weights` treats as texture (image-shaped).
    relaxed : ndarray of bool
        Pixels given weight 1 (the QP's value): relaxed by the outlier treatment or outside the mask.
    opts : dict
        The adaptive options (:data:`ADAPTIVE_DEFAULTS` and the caller's).
    rep : PhotoReport
        Gets the note on the mean weight when the weights are made.
    """

    def __init__(self, textured, relaxed, opts, rep):
        self.textured, self.relaxed, self.opts, self.rep = textured, relaxed, opts, rep

    def make(self, lo, hi):
        """The weights on envelopes ``lo``, ``hi`` (image-shaped); notes their mean in the report."""
        o = self.opts
        w = blend_weights(lo, hi, reach=o["reach"], far_reach=o["far_reach"], open_reach=o["open_reach"],
                          open_near=o["open_near"], open_far=o["open_far"], floor=o["floor"],
                          texture=o["texture"], window=o["window"], textured_mask=self.textured)
        w = np.where(self.relaxed, 1.0, w)
        self.rep.notes.append(f"returned blended with the bin centres (mean weight {float(w.mean()):.2f}; "
                              "result.x is the QP's solution)")
        return w


def _blend(x, bounds, weights):
    """``(c + w (x - c), record)``, ``c`` the centres of the QP's envelopes (``(x, None)`` without weights).

    ``weights`` may be :class:`_PendingWeights`, made here from ``bounds``.
    """
    if weights is None:
        return x, None
    if isinstance(weights, _PendingWeights):
        shape = bounds.grid.shape
        weights = weights.make(bounds.lower.reshape(shape), bounds.upper.reshape(shape))
    lo, hi = bounds.lower, bounds.upper
    w = np.asarray(weights, dtype=np.float64).ravel()
    finite = np.isfinite(lo) & np.isfinite(hi)
    c = np.where(finite, 0.5 * (np.where(finite, lo, 0.0) + np.where(finite, hi, 0.0)), 0.0)
    out = np.where(finite, c + w * (x - c), x)
    # a convex combination of two points of [lo, hi]; clip only the last-bit rounding
    out = np.where(finite, np.clip(out, np.where(finite, lo, 0.0), np.where(finite, hi, 0.0)), out)
    entry = {"formula": "out = c + w * (x - c): x = result.x, the certified solution of the plate on the "
                        "quantizer's envelopes; c = the envelopes' centres; w = blend_weights",
             "mean_weight": float(w[finite].mean()) if finite.any() else 1.0}
    return out, entry


def _record(res, x, entry):
    """``x``, after noting the blend (if any) in ``res.info['blend']``."""
    if entry is not None:
        res.info["blend"] = entry
    return x


def _grow(smooth, dilate):
    """``smooth`` with its complement dilated by ``dilate`` pixels (city-block)."""
    if dilate == 0 or smooth.all():
        return smooth
    from scipy import ndimage

    st = ndimage.generate_binary_structure(smooth.ndim, 1)
    return ~ndimage.binary_dilation(~smooth, structure=st, iterations=int(dilate))


def _pinned_or_freed(lo, hi, mode, drange):
    """Bounds of a textured pixel: its bin midpoint (``pin``) or the dynamic range (``free``)."""
    if mode == "pin":
        mid = 0.5 * (lo + hi)
        return mid, mid
    rmin, rmax = drange if drange is not None else (-np.inf, np.inf)
    return np.full(lo.shape, rmin), np.full(hi.shape, rmax)


def _built(weights):
    """The verbose label of a channel's first step: the blend weights are in it when they were made there."""
    return "envelopes" if weights is None or isinstance(weights, _PendingWeights) else "envelopes and weights"


def _blended(weights):
    """The verbose label of the last step: the blend (which makes the weights when they were left for it)."""
    if weights is None:
        return "restored"  # no blend: the solution goes back to the image's shape and range
    return "blended (weights made here)" if isinstance(weights, _PendingWeights) else "blended"


def _say(verbose, what, t0):
    """With ``verbose``, one line on a step of the pipeline and its wall seconds since ``t0``."""
    if verbose:
        print(f"[photo] {what} in {time.perf_counter() - t0:.1f} s", flush=True)


def _solve_prob(bounds, shape, solver, tol, max_iter, verbose, options, tile, progress, rep, label="image"):
    if tile is None:
        # (tiled solves have their bar over tiles)
        res = solve_with_bar(progress, label, lambda: solve(bounds.problem(), solver=solver, tol=tol,
                                                             max_iter=max_iter, verbose=verbose, **options))
    else:
        res = solve_tiled(bounds, shape, tile=tile, solver=solver, tol=tol, max_iter=max_iter,
                          verbose=verbose, progress=progress, **options)
        rep.tiles = res.info["tiles"]
        rep.retried = res.info["tiles_retried"]
    res.info["photo"] = rep
    return res


def dequantize_photo(image, bits, model, bc, mask, solver, kw, *, channel_axis=None, tol, max_iter,
                     verbose, return_result, options, adaptive=False, outliers=None, color_space="rgb",
                     chroma_weight=4.0, tile=None, progress=False, channel_jobs=None):
    """The photo pipeline behind :func:`qpsolve.dequantize` (see the module docstring).

    Arguments are those of :func:`qpsolve.dequantize`; ``kw`` holds the
    envelope keywords it collected.  Each result's ``info['photo']`` is a
    :class:`PhotoReport`.

    Examples
    --------
    >>> import numpy as np
    >>> import qpsolve as qs
    >>> x = np.linspace(0, 1, 24)
    >>> img = ((np.outer(x, x) * 255).astype(np.uint8) >> 5) << 5
    >>> img[:, 18:] = 224                                # an object edge
    >>> out, res = qs.dequantize(img, bits=3, adaptive=True, return_result=True)
    >>> res.success, bool(np.all((out >= img) & (out <= img.astype(float) + 32)))
    (True, True)
    """
    check_choice(outliers, OUTLIER_MODES, "outliers", allow_none=True)
    check_choice(color_space, COLOR_SPACES, "color_space")
    if adaptive is not False and adaptive is not None:
        _adaptive_options(adaptive)
    arr = np.asarray(image)
    if channel_axis is None:
        if color_space != "rgb":
            raise ValueError("color_space='decorrelated' needs channel_axis (a colour image)")
        t0 = time.perf_counter()
        prob, ctx, rep, extra, weights = _channel_problem(arr, bits, model, bc, mask, kw, adaptive, outliers)
        _say(verbose, _built(weights), t0)
        t0 = time.perf_counter()
        res = _solve_prob(prob, ctx.shape, solver, tol, max_iter, verbose, options, tile, progress, rep)
        _say(verbose, f"solved ({res.status})", t0)
        t0 = time.perf_counter()
        out = restore(_record(res, *_blend(res.x, prob, weights)), ctx, *extra)
        _say(verbose, _blended(weights), t0)
        return (out, res) if return_result else out

    axis, planes = split_channels(arr, channel_axis, kw)
    if color_space == "rgb":
        # Each channel is built, solved and blended before its thread takes the next: the
        # envelopes, weights and the solver's work arrays of a 12-Mpx channel are gigabytes
        # (how many go at once: channels.channel_jobs, by channels.memory_budget).
        def one(c, item):
            plane, ckw = item
            t0 = time.perf_counter()
            prob, ctx, rep, extra, weights = _channel_problem(plane, bits, model, bc, mask, ckw, adaptive, outliers)
            _say(verbose, f"channel {c}: {_built(weights)}", t0)
            t0 = time.perf_counter()
            res = _solve_prob(prob, ctx.shape, solver, tol, max_iter, verbose, options, tile, progress, rep,
                              label=f"channel {c}")
            _say(verbose, f"channel {c}: solved ({res.status})", t0)
            t0 = time.perf_counter()
            out = restore(_record(res, *_blend(res.x, prob, weights)), ctx, *extra)
            _say(verbose, f"channel {c}: {_blended(weights)}", t0)
            return out, res

        done = _channels.solve_planes(one, planes, channel_jobs, tile=tile, verbose=verbose, solver=solver)
        outs, results = [o for o, _ in done], [r for _, r in done]
    else:
        built = [_channel_problem(plane, bits, model, bc, mask, ckw, adaptive, outliers) for plane, ckw in planes]
        nc = len(built)
        if nc != 3:
            raise ValueError(f"color_space='decorrelated' needs 3 colour channels, got {nc} "
                             f"(split an alpha channel off first: qpsolve.imaging.io.split_alpha)")
        if tile is not None:
            raise ValueError("color_space='decorrelated' cannot be combined with tile yet; use color_space='rgb'")
        P = color_energy(built[0][0].grid.matrix(), nc, chroma_weight)
        lo = np.concatenate([b[0].lower for b in built])
        hi = np.concatenate([b[0].upper for b in built])
        joint = BoxQP(P, lo, hi)
        res = solve_with_bar(progress, "channels (joint)", lambda: solve(joint, solver=solver, tol=tol,
                                                                         max_iter=max_iter, verbose=verbose,
                                                                         **options))
        n = built[0][0].n
        outs, results = [], []
        records = []
        for c, (prob, ctx, rep, extra, weights) in enumerate(built):
            xc, entry = _blend(res.x[c * n:(c + 1) * n], prob, weights)
            records.append(entry)
            outs.append(restore(xc, ctx, *extra))
            results.append(res)
        if any(r is not None for r in records):
            res.info["blend"] = records
        res.info["photo"] = [b[2] for b in built]
        res.info["color_space"] = f"decorrelated (chroma_weight={chroma_weight:g}, one joint QP)"
    out = np.moveaxis(np.stack(outs), 0, axis)
    return (out, results) if return_result else out
