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
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy import ndimage

__all__ = ["separated", "adaptive_mask", "adaptive_envelopes", "ADAPTIVE_MODES"]

#: how textured pixels are treated by :func:`adaptive_envelopes`
ADAPTIVE_MODES = ("pin", "free")


def _check_dilate(dilate):
    if isinstance(dilate, bool) or not isinstance(dilate, numbers.Integral) or dilate < 0:
        raise ValueError(f"dilate must be an integer >= 0, got {dilate!r}")
    return int(dilate)


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
    if isinstance(step, bool) or not isinstance(step, numbers.Real) or not (np.isfinite(step) and step > 0):
        raise ValueError(f"step must be a positive finite number, got {step!r}")
    lo, hi = envelope_from_step(v, float(step), rounding)
    return _grow(~separated(lo, hi), _check_dilate(dilate))


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
    if not isinstance(mode, str) or mode not in ADAPTIVE_MODES:
        raise ValueError(f"mode must be one of {ADAPTIVE_MODES}, got {mode!r}")
    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    smooth = _grow(~separated(lo, hi), _check_dilate(dilate))
    if mode == "pin":
        mid = 0.5 * (lo + hi)
        return np.where(smooth, lo, mid), np.where(smooth, hi, mid), smooth
    rmin, rmax = data_range if data_range is not None else (-np.inf, np.inf)
    return np.where(smooth, lo, rmin), np.where(smooth, hi, rmax), smooth
