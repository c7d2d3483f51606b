"""Illumination degradation maps and the envelopes of brightened data.

The degradation model of ShadowDiffusion (supplementary, eq. A) writes a dark
or shadowed observation as

    y = h * x,        h = w * m + (1 - m),

with a shadow mask ``m`` in ``[0, 1]`` and an illumination weight ``w`` (an
all-one mask gives low-light / exposure correction, ``h = w``).  ``h`` must be
positive everywhere.  Brightening divides by ``h``; when ``y`` was quantized,
its envelope ``[L, U]`` becomes ``[L / h, U / h]`` for ``x``.  The levels of
``x`` are then ``step / h`` apart -- the banding that brightening creates --
and solving the plate-bending QP inside the divided envelopes removes it.

Throughout, ``h`` is the *degradation* (``h = 0.25``: the scene was recorded
at a quarter of its light, brightening multiplies by 4).
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["gain_map", "brighten_envelopes", "check_gain"]


def _first_index(bad):
    return tuple(int(i) for i in np.unravel_index(np.flatnonzero(bad)[0], bad.shape))


def _real_array(value, name):
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a number or an array of numbers, got {type(value).__name__}")
    arr = np.asarray(value)
    if arr.dtype == object or arr.dtype.kind not in "uif":
        if arr.dtype == bool and name == "shadow_mask":
            return arr.astype(np.float64)
        raise TypeError(f"{name} must be real and numeric, got dtype {arr.dtype}")
    return arr.astype(np.float64)


def _fit(arr, shape, name):
    if arr.ndim == 0:
        return np.full(shape, float(arr))
    if arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}; expected a scalar or the image shape {shape}")
    return arr


def check_gain(h, name="gain"):
    """Raise ``ValueError`` unless every entry of ``h`` is finite and ``> 0``.

    The message counts the offending entries and names the first one, so a
    zero in a map never surfaces later as a division by zero.

    Examples
    --------
    >>> check_gain(np.array([[1.0, 0.5], [0.0, 2.0]]))
    Traceback (most recent call last):
    ...
    ValueError: gain must be finite and > 0 everywhere; 1 entry is not, first at index (1, 0) (value 0)
    """
    h = np.asarray(h, dtype=np.float64)
    bad = ~(np.isfinite(h) & (h > 0))
    if bad.any():
        if h.ndim == 0:
            raise ValueError(f"{name} must be finite and > 0, got {float(h):g}")
        where = _first_index(bad)
        count = int(bad.sum())
        noun = "entry is" if count == 1 else "entries are"
        raise ValueError(
            f"{name} must be finite and > 0 everywhere; {count} {noun} not, first at index "
            f"{where} (value {h[where]:g})"
        )
    return h


def gain_map(shape, gain=None, *, shadow_mask=None, weight=None):
    """Build the illumination degradation map ``h`` of ``y = h * x``.

    Parameters
    ----------
    shape : int or tuple of int
        Image shape.
    gain : float or ndarray, optional
        ``h`` itself: a scalar exposure factor or a per-pixel map of ``shape``.
        ``None`` (with no ``shadow_mask``) means no degradation, ``h = 1``.
    shadow_mask : ndarray, optional
        ``m`` in ``[0, 1]`` (boolean allowed), of ``shape``: ``1`` in the
        shadow, ``0`` in full light, fractions on soft edges.  Gives
        ``h = weight * m + (1 - m)``.  Do not combine with ``gain``.
    weight : float or ndarray, optional
        Illumination weight ``w`` inside the shadow (required with
        ``shadow_mask``; e.g. ``0.25`` for a shadow with a quarter of the light).

    Returns
    -------
    h : ndarray of float64
        Of ``shape``; finite and ``> 0`` everywhere.

    Raises
    ------
    TypeError
        For non-numeric arguments.
    ValueError
        For a shape mismatch, a mask outside ``[0, 1]``, ``weight`` missing or
        given without a mask, both ``gain`` and ``shadow_mask``, or an ``h``
        that is zero, negative or not finite anywhere (the first such pixel is
        named).

    Examples
    --------
    >>> gain_map((2, 3), 0.5).tolist()
    [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]
    >>> m = np.array([[0.0, 0.5, 1.0]])
    >>> gain_map(m.shape, shadow_mask=m, weight=0.25).tolist()
    [[1.0, 0.625, 0.25]]
    """
    if isinstance(shape, (numbers.Integral, np.integer)) and not isinstance(shape, bool):
        shape = (int(shape),)
    try:
        shape = tuple(int(n) for n in shape)
    except TypeError:
        raise TypeError(f"shape must be an int or a tuple of ints, got {shape!r}") from None
    if not shape or any(n < 1 for n in shape):
        raise ValueError(f"shape must have positive axis lengths, got {shape}")

    if shadow_mask is not None:
        if gain is not None:
            raise ValueError("give either gain (h itself) or shadow_mask with weight, not both")
        if weight is None:
            raise ValueError("shadow_mask needs weight (the illumination factor inside the shadow)")
        m = _fit(_real_array(shadow_mask, "shadow_mask"), shape, "shadow_mask")
        if not np.isfinite(m).all() or (m < 0).any() or (m > 1).any():
            bad = ~(np.isfinite(m) & (m >= 0) & (m <= 1))
            where = _first_index(bad)
            raise ValueError(
                f"shadow_mask must lie in [0, 1]; {int(bad.sum())} value(s) do not, first at index "
                f"{where} (value {m[where]:g})"
            )
        w = _fit(_real_array(weight, "weight"), shape, "weight")
        if not np.isfinite(w).all():
            where = _first_index(~np.isfinite(w))
            raise ValueError(f"weight must be finite, got {w[where]:g} at index {where}")
        h = w * m + (1.0 - m)
        return check_gain(h, "gain map h = weight * shadow_mask + (1 - shadow_mask)")
    if weight is not None:
        raise ValueError("weight is only used with shadow_mask; for a uniform exposure give gain=")
    if gain is None:
        return np.ones(shape)
    if isinstance(gain, bool):
        raise TypeError("gain must be a number or an array of numbers, got bool")
    h = _real_array(gain, "gain")
    if h.ndim == 0:
        check_gain(h, "gain")  # a scalar is reported as such, not pixel by pixel
    return check_gain(_fit(h, shape, "gain"), "gain")


def brighten_envelopes(lower, upper, h):
    """Envelopes of ``x = y / h`` from the envelopes ``[lower, upper]`` of ``y``.

    Parameters
    ----------
    lower, upper : ndarray
        Envelopes of the observed (dark) image; infinite values are allowed.
    h : float or ndarray
        Degradation map (finite, ``> 0``), broadcastable to ``lower``.

    Returns
    -------
    lower / h, upper / h : ndarray of float64

    Raises
    ------
    ValueError
        When ``h`` is not finite and positive everywhere, or the division
        overflows a finite bound to infinity.

    Examples
    --------
    >>> lo, hi = brighten_envelopes(np.array([0.0, 3.0]), np.array([1.0, 4.0]), 0.25)
    >>> lo.tolist(), hi.tolist()
    ([0.0, 12.0], [4.0, 16.0])
    """
    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    h = check_gain(h, "h")
    if np.isnan(lo).any() or np.isnan(hi).any():
        raise ValueError("lower and upper must not contain NaN")
    try:
        h = np.broadcast_to(h, np.broadcast_shapes(lo.shape, hi.shape))
    except ValueError:
        raise ValueError(f"h of shape {np.shape(h)} does not fit envelopes of shape {lo.shape}") from None
    with np.errstate(over="ignore"):
        blo, bhi = lo / h, hi / h
    for name, before, after in (("lower", lo, blo), ("upper", hi, bhi)):
        over = np.isfinite(before) & ~np.isfinite(after)
        if over.any():
            where = _first_index(np.broadcast_to(over, after.shape))
            raise ValueError(f"{name} / h overflows at index {where}: h is too small there")
    return blo, bhi
