"""Content-adaptive masks (paper section 6.3).

A slowly varying signal, quantized, changes by at most one level between
neighbouring pixels.  Where neighbours differ by more than one level the edge
belongs to an object border or texture, and the smoothness assumption of the
plate does not hold there.  :func:`adaptive_mask` marks those pixels;
:func:`adaptive_envelopes` then keeps them near the centre of their bins
(pinned to the bin midpoint, the minimum-error estimate when nothing else is
known), while smooth regions are solved as plates.

"More than one level apart" is decided on the envelopes themselves: two
neighbours are separated when their envelopes do not touch.  For a uniform
quantizer with step ``s`` that is ``|v_i - v_j| > s``; the same rule works for
non-uniform level tables and brightened (gain) envelopes.

Convention: as for ``mask=`` everywhere in qpsolve, ``True`` means "the
plate model applies here" (smooth).

Calibration (what ``dequantize(..., adaptive=True)`` does after the solve)
--------------------------------------------------------------------------
Pinning only catches jumps of more than one level.  Texture or noise whose
amplitude is about one level (the craters of ``moon`` at 3 bits, the coat and
grass of ``camera``) passes the test, and there the plate, forced through
scattered one-level islands, runs from bin edge to bin edge: it is worse than
the bin midpoint.  :func:`calibration_ratio` detects this from the solution
itself.  If the signal is smooth and the plate reproduces it, the plate's
departure from the bin centres *is* the quantization error, which is uniform
on the bin: its mean square is ``width**2 / 12``.  The ratio

    rho = sum (x - c)**2 / sum width**2 / 12      (c = bin centre)

over the plate-solved pixels is therefore about 1 for a plate that fits
and larger when the plate over-shoots.  Two things keep smooth signals away
from a false alarm.  (1) Saturation: at the ends of the range the signal is
clipped and piles up on the lowest (or highest) level, where its error is not
uniform on the bin (the flat valley of the paper's Rosenbrock sits at 0: rho
of the *truth* is 1.34 at 2 bits); :func:`calibrated_blend` therefore measures
rho without the bins of the lowest and highest level in use.  (2) A margin:
measured that way the plate's rho is 1.01-1.04 on the paper's Gaussian and
Rosenbrock (2-4 bits, 64 and 128 px) and 1.2-2.0 on the photographs where the
pinned plate loses to the midpoint, so the weight is
``min(1, ((1 + CALIBRATION_MARGIN) / rho)**power)``.  :func:`calibrated_blend`
shrinks the solution towards the bin centres by that weight, on every
plate-solved pixel: a convex combination of two points of the same bin, so it
never leaves the envelopes, and wherever the plate beats the midpoint in mean
squared error the blend does too (convexity of the squared error).
"""

from __future__ import annotations


import numpy as np
from scipy import ndimage

from ..validation import check_calibration, check_choice, check_int_at_least, check_positive

__all__ = ["separated", "adaptive_mask", "adaptive_envelopes", "ADAPTIVE_MODES", "CALIBRATION_POWER",
           "CALIBRATION_MARGIN", "calibration_ratio", "calibrated_blend"]

#: how textured pixels are treated by :func:`adaptive_envelopes`
ADAPTIVE_MODES = ("pin", "free")

#: exponent of the calibration weight ``min(1, ((1 + margin) / rho)**power)``
#: used by ``dequantize`` (``adaptive=True``, the default): the smallest power
#: that beat the midpoint on every photograph crop tried (lower powers shrink
#: too little where the plate crowds the bin edges; see ``benchmarks/results/design_notes.md``).
CALIBRATION_POWER = 4.0

#: tolerance of the calibration ratio: a plate with ``rho <= 1 + margin`` is
#: kept as it is.  It lies between what smooth signals measure (so the default
#: ``dequantize`` returns the paper's plate on the paper's functions) and what
#: photographs that need shrinking measure (see ``benchmarks/results/design_notes.md``).
CALIBRATION_MARGIN = 0.1


def separated(lower, upper, *, rtol=1e-9):
    """Pixels with a grid neighbour whose envelope does not touch their own.

    Parameters
    ----------
    lower, upper : ndarray
        Envelopes (same shape, 1-D to 3-D).

    Returns
    -------
    ndarray of bool
        ``True`` at both pixels of every separated neighbour pair.

    Examples
    --------
    >>> import numpy as np
    >>> v = np.array([0., 1., 2., 5., 6.])
    >>> separated(v, v + 1).tolist()
    [False, False, True, True, False]
    """
    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    if lo.shape != hi.shape:
        raise ValueError(f"lower has shape {lo.shape}; upper has shape {hi.shape}")
    scale = max(1.0, float(np.max(np.abs(hi[np.isfinite(hi)]), initial=1.0)))
    eps = rtol * scale
    out = np.zeros(lo.shape, dtype=bool)
    for ax in range(lo.ndim):
        if lo.shape[ax] < 2:
            continue
        a = [slice(None)] * lo.ndim
        b = [slice(None)] * lo.ndim
        a[ax] = slice(None, -1)
        b[ax] = slice(1, None)
        a, b = tuple(a), tuple(b)
        gap = (lo[b] > hi[a] + eps) | (lo[a] > hi[b] + eps)
        out[a] |= gap
        out[b] |= gap
    return out


def adaptive_mask(image, step, *, rounding="floor", dilate=0):
    """Smooth-region mask of a quantized image: ``False`` where texture/edges are.

    Parameters
    ----------
    image : ndarray
        Quantized image in its stored units (1-D to 3-D, one channel).
    step : float
        Level spacing in the same units (e.g. 32 for 3-bit data in a uint8).
    rounding : {'floor', 'round', 'ceil'}
        Quantizer; only the envelope width matters, so all three give the
        same mask for uniform steps.
    dilate : int, optional
        Grow the textured set by this many pixels (city-block).

    Returns
    -------
    ndarray of bool
        ``True`` where every neighbour is within one level (plate model
        applies), ``False`` at pixels next to a jump of more than one level.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.array([[0, 32, 32, 160, 160]], dtype=np.uint8)
    >>> adaptive_mask(img, 32).astype(int).tolist()
    [[1, 1, 0, 0, 1]]
    """
    from .envelopes import envelope_from_step

    v = np.asarray(image, dtype=np.float64)
    check_positive(step, "step")
    lo, hi = envelope_from_step(v, float(step), rounding)
    return _grow(~separated(lo, hi), check_int_at_least(dilate, "dilate", 0))


def _grow(smooth, dilate):
    if dilate == 0 or smooth.all():
        return smooth
    st = ndimage.generate_binary_structure(smooth.ndim, 1)
    return ~ndimage.binary_dilation(~smooth, structure=st, iterations=dilate)


def adaptive_envelopes(lower, upper, *, mode="pin", dilate=0, data_range=None):
    """Envelopes of the content-adaptive model.

    Parameters
    ----------
    lower, upper : ndarray
        Envelopes of the quantizer (one channel).
    mode : {'pin', 'free'}
        ``pin``: textured pixels are fixed at their bin midpoint (``L = U``),
        so the plate in smooth regions meets them there.  ``free``: textured
        pixels lose their envelope (the dynamic range), the plate passes
        under them; the caller puts the midpoint back afterwards.
    dilate : int
        Grow the textured set by this many pixels.
    data_range : (float, float), optional
        Needed for ``free`` (the bounds of a freed pixel); ``+-inf`` if absent.

    Returns
    -------
    lower, upper : ndarray
        New envelopes.
    smooth : ndarray of bool
        ``True`` where the plate model applies.

    Examples
    --------
    >>> import numpy as np
    >>> v = np.array([0., 1., 2., 5., 6.])
    >>> lo, hi, smooth = adaptive_envelopes(v, v + 1)
    >>> lo.tolist(), hi.tolist()
    ([0.0, 1.0, 2.5, 5.5, 6.0], [1.0, 2.0, 2.5, 5.5, 7.0])
    """
    check_choice(mode, ADAPTIVE_MODES, "mode")
    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    smooth = _grow(~separated(lo, hi), check_int_at_least(dilate, "dilate", 0))
    if mode == "pin":
        mid = 0.5 * (lo + hi)
        return np.where(smooth, lo, mid), np.where(smooth, hi, mid), smooth
    rmin, rmax = data_range if data_range is not None else (-np.inf, np.inf)
    return np.where(smooth, lo, rmin), np.where(smooth, hi, rmax), smooth


def _plate_pixels(x, lower, upper, select):
    x = np.asarray(x, dtype=np.float64)
    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    if not (x.shape == lo.shape == hi.shape):
        raise ValueError(f"x, lower and upper must have one shape, got {x.shape}, {lo.shape}, {hi.shape}")
    width = hi - lo
    tol = 1e-9 * np.maximum(1.0, np.abs(hi))
    sel = np.isfinite(width) & (width > 0) & (x >= lo - tol) & (x <= hi + tol)
    if select is not None:
        sel &= np.asarray(select, dtype=bool)
    return x, lo, hi, sel


def calibration_ratio(x, lower, upper, *, select=None):
    """How far a solution departs from the bin centres, against quantization noise.

    Parameters
    ----------
    x : ndarray
        A solution inside (some of) the envelopes, e.g. the adaptive plate.
    lower, upper : ndarray
        The quantizer's envelopes, same shape as ``x``.
    select : ndarray of bool, optional
        Pixels to measure (e.g. the smooth, plate-solved ones).  Pixels with
        an empty, zero-width or infinite envelope, or with ``x`` outside it
        (masked or outlier-relaxed pixels), are always left out.

    Returns
    -------
    float
        ``rho = sum (x - c)**2 / sum width**2 / 12`` over the measured pixels
        (``c`` the bin centre, ``width = upper - lower``); ``nan`` when no
        pixel is measured.  About 1 when ``x`` behaves like the truth of a
        smooth signal (the quantization error is uniform on the bin), above 1
        when ``x`` crowds the bin edges.

    Examples
    --------
    >>> import numpy as np
    >>> lo = np.zeros(4); hi = np.ones(4)
    >>> round(calibration_ratio(np.array([0.0, 1.0, 0.0, 1.0]), lo, hi), 6)   # all on the edges
    3.0
    >>> calibration_ratio(np.full(4, 0.5), lo, hi)                            # all at the centres
    0.0
    """
    x, lo, hi, sel = _plate_pixels(x, lower, upper, select)
    if not sel.any():
        return float("nan")
    c = 0.5 * (lo[sel] + hi[sel])
    return float(np.sum((x[sel] - c) ** 2) / np.sum((hi[sel] - lo[sel]) ** 2 / 12.0))


def _unsaturated(lo, hi, sel):
    """``sel`` without the bins of the lowest and highest level in use (``sel`` if that is empty)."""
    if not sel.any():
        return sel
    bottom = float(np.min(lo[sel]))
    top = float(np.max(hi[sel]))
    eps = 1e-9 * max(1.0, abs(bottom), abs(top))
    inner = sel & (lo > bottom + eps) & (hi < top - eps)
    return inner if inner.any() else sel


def calibrated_blend(x, lower, upper, *, select=None, power=CALIBRATION_POWER, margin=CALIBRATION_MARGIN):
    """Shrink a plate solution towards the bin centres by its calibration ratio.

    ``out = c + weight * (x - c)`` with
    ``weight = min(1, ((1 + margin) / rho)**power)`` on the measured pixels;
    every other pixel is returned unchanged.  ``rho`` is
    :func:`calibration_ratio` over the measured pixels *without* the bins of
    the lowest and highest level in use (saturated shadows and highlights,
    where even the truth crowds a bin edge; all measured pixels if nothing
    else is left).  A plate that reproduces quantization statistics
    (``rho <= 1 + margin``) is kept as it is; one that over-shoots is pulled
    back towards the midpoint, the minimum-error estimate when the
    smoothness assumption fails.

    Parameters
    ----------
    x, lower, upper, select
        As in :func:`calibration_ratio`.
    power : float
        Exponent of the weight (``> 0``); see :data:`CALIBRATION_POWER`.
    margin : float
        Tolerance of ``rho`` (``>= 0``); see :data:`CALIBRATION_MARGIN`.

    Returns
    -------
    out : ndarray of float64
        The blended solution; inside ``[lower, upper]`` wherever ``x`` was.
    weight : float
        The weight given to ``x`` (1 when nothing was measured).
    rho : float
        The calibration ratio (``nan`` when nothing was measured).

    Examples
    --------
    >>> import numpy as np
    >>> lo = np.zeros(4); hi = np.ones(4)
    >>> out, w, rho = calibrated_blend(np.array([0.0, 1.0, 0.0, 1.0]), lo, hi, power=1, margin=0)
    >>> [round(float(v), 4) for v in out], round(w, 4), round(rho, 4)
    ([0.3333, 0.6667, 0.3333, 0.6667], 0.3333, 3.0)
    """
    power, margin = check_calibration(power, margin)
    x, lo, hi, sel = _plate_pixels(x, lower, upper, select)
    rho = calibration_ratio(x, lo, hi, select=_unsaturated(lo, hi, sel))
    limit = 1.0 + margin
    weight = 1.0 if not np.isfinite(rho) or rho <= limit else float((limit / rho) ** power)
    with np.errstate(invalid="ignore"):  # -inf + inf at unbounded pixels, which are not selected
        c = 0.5 * (lo + hi)
        out = np.where(sel, np.clip(c + weight * (x - c), lo, hi), x)
    return out, weight, rho
