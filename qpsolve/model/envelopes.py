"""Envelopes ``L <= f <= U``: what a quantized sample says about the true signal.

All functions work in the image's own units (a 3-bit image stored in a uint8
as multiples of 32 has ``step = 32``).  The envelope of a sample is the closed
set of real values the quantizer maps to it:

============  ==============================
rounding      envelope of a stored value v
============  ==============================
``floor``     ``[v, v + step]`` (truncation, right shift: the paper's data)
``round``     ``[v - step/2, v + step/2]``
``ceil``      ``[v - step, v]``
============  ==============================

then intersected with the dynamic range of the container when there is one.
"""

from __future__ import annotations

import numpy as np

from ..validation import check_choice

__all__ = [
    "ROUNDINGS",
    "container_range",
    "bits_step",
    "check_on_grid",
    "envelope_from_step",
    "envelope_from_levels",
    "apply_confidence",
    "apply_mask",
]

ROUNDINGS = ("floor", "round", "ceil")
_OFFSETS = {"floor": (0.0, 1.0), "round": (-0.5, 0.5), "ceil": (-1.0, 0.0)}


def container_range(dtype):
    """``(0, 2**c - 1)`` for an unsigned-integer container of ``c`` bits, else ``None``.

    Examples
    --------
    >>> container_range(np.uint8)
    (0.0, 255.0)
    >>> container_range(np.float32) is None
    True
    """
    dtype = np.dtype(dtype)
    if dtype.kind == "u":
        return 0.0, float(2 ** (8 * dtype.itemsize) - 1)
    return None


def bits_step(dtype, bits):
    """Spacing of the levels of a ``bits``-bit image stored in ``dtype``.

    Unsigned containers hold ``bits``-bit data shifted to the top
    (``step = 2**(c - bits)``); any other dtype holds the level indices
    themselves (``step = 1``).

    Examples
    --------
    >>> bits_step(np.uint8, 3), bits_step(np.uint16, 12), bits_step(np.float64, 5)
    (32.0, 16.0, 1.0)
    """
    if isinstance(bits, (bool, np.bool_)) or not isinstance(bits, (int, np.integer)):
        raise TypeError(f"bits must be an integer, got {type(bits).__name__}")
    if not 1 <= bits <= 16:
        raise ValueError(f"bits must be between 1 and 16, got {bits}")
    dtype = np.dtype(dtype)
    if dtype.kind == "u":
        c = 8 * dtype.itemsize
        if bits > c:
            raise ValueError(f"bits={bits} does not fit a {c}-bit {dtype} image")
        return float(2 ** (c - bits))
    return 1.0


def check_on_grid(values, step, *, name="image", what=None):
    """Raise ``ValueError`` when ``values`` are not multiples of ``step``.

    The message says how many values are off the grid and where the first is.
    """
    values = np.asarray(values, dtype=np.float64)
    ratio = values / step
    off = np.abs(ratio - np.round(ratio)) > 1e-9 * np.maximum(1.0, np.abs(ratio))
    if off.any():
        where = tuple(int(i) for i in np.unravel_index(np.flatnonzero(off)[0], values.shape))
        what = what or f"multiples of {step:g}"
        raise ValueError(
            f"{name} has {int(off.sum())} value(s) that are not {what}, first at index "
            f"{where} (value {values[where]:g}); give the right bits/step, a levels table, "
            f"or explicit lower/upper bounds"
        )


def envelope_from_step(values, step, rounding="floor", data_range=None):
    """Envelopes of values quantized on a uniform grid of spacing ``step``.

    Parameters
    ----------
    values : ndarray
        Quantized samples (multiples of ``step``).
    step : float
        Level spacing in the units of ``values``.
    rounding : {'floor', 'round', 'ceil'}
        The quantizer that produced ``values``.
    data_range : (float, float), optional
        Dynamic range the envelopes are intersected with.

    Returns
    -------
    lower, upper : ndarray of float64

    Examples
    --------
    >>> lo, hi = envelope_from_step(np.array([0, 32, 224]), 32.0, "floor", (0, 255))
    >>> lo.tolist(), hi.tolist()
    ([0.0, 32.0, 224.0], [32.0, 64.0, 255.0])
    """
    check_choice(rounding, ROUNDINGS, "rounding")
    if not (np.isfinite(step) and step > 0):
        raise ValueError(f"step must be a positive finite number, got {step!r}")
    v = np.asarray(values, dtype=np.float64)
    a, b = _OFFSETS[rounding]
    lo, hi = v + a * step, v + b * step
    return _clip_range(lo, hi, data_range)


def envelope_from_levels(values, levels, rounding="floor", data_range=None):
    """Envelopes for a non-uniform table of quantization ``levels``.

    ``floor`` maps ``levels[k]`` to ``[levels[k], levels[k+1]]``, ``ceil`` to
    ``[levels[k-1], levels[k]]``, ``round`` to the midpoints on either side.
    Beyond the first and last level the envelope extends by the neighbouring
    spacing (then meets ``data_range`` if given).

    Examples
    --------
    >>> lo, hi = envelope_from_levels(np.array([0, 10, 40]), [0, 10, 40], "round")
    >>> lo.tolist(), hi.tolist()
    ([-5.0, 5.0, 25.0], [5.0, 25.0, 55.0])
    """
    check_choice(rounding, ROUNDINGS, "rounding")
    lv = np.asarray(levels, dtype=np.float64).ravel()
    if lv.size < 2:
        raise ValueError(f"levels needs at least two values, got {lv.size}")
    if not np.isfinite(lv).all():
        raise ValueError("levels contains NaN or infinite values")
    if np.any(np.diff(lv) <= 0):
        raise ValueError("levels must be strictly increasing")
    v = np.asarray(values, dtype=np.float64)
    k = np.searchsorted(lv, v)
    k = np.clip(k, 0, lv.size - 1)
    off = lv[k] != v
    if off.any():
        where = tuple(int(i) for i in np.unravel_index(np.flatnonzero(off)[0], v.shape))
        raise ValueError(
            f"image has {int(off.sum())} value(s) that are not in levels, first at index {where} "
            f"(value {v[where]:g})"
        )
    ext = np.concatenate([[2 * lv[0] - lv[1]], lv, [2 * lv[-1] - lv[-2]]])
    j = k + 1  # index in ext
    if rounding == "floor":
        lo, hi = ext[j], ext[j + 1]
    elif rounding == "ceil":
        lo, hi = ext[j - 1], ext[j]
    else:
        lo, hi = 0.5 * (ext[j - 1] + ext[j]), 0.5 * (ext[j] + ext[j + 1])
    return _clip_range(lo.astype(np.float64), hi.astype(np.float64), data_range)


def _clip_range(lo, hi, data_range):
    if data_range is None:
        return lo, hi
    rmin, rmax = data_range
    return np.clip(lo, rmin, rmax), np.clip(hi, rmin, rmax)


def apply_confidence(lower, upper, confidence, data_range=None):
    """Scale each envelope about its centre by ``1 / confidence``.

    ``confidence = 1`` keeps it, ``0.5`` doubles its width, ``inf`` pins the
    pixel to the centre, ``0`` removes it (the dynamic range, or ``+-inf`` when
    there is none).

    Examples
    --------
    >>> lo, hi = apply_confidence(np.array([0.0, 0.0]), np.array([2.0, 2.0]), np.array([0.5, np.inf]))
    >>> lo.tolist(), hi.tolist()
    ([-1.0, 1.0], [3.0, 1.0])
    """
    c = np.asarray(confidence, dtype=np.float64)
    if np.isnan(c).any() or (c < 0).any():
        raise ValueError("confidence must be >= 0 everywhere (0 removes a pixel's envelope, inf pins it)")
    c = np.broadcast_to(c, lower.shape)
    centre = 0.5 * (lower + upper)
    half = 0.5 * (upper - lower)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(np.isinf(c), 0.0, np.where(c == 0, np.inf, half / np.where(c == 0, 1.0, c)))
    lo, hi = centre - h, centre + h
    if data_range is not None:
        lo = np.where(np.isinf(lo), data_range[0], np.maximum(lo, data_range[0]))
        hi = np.where(np.isinf(hi), data_range[1], np.minimum(hi, data_range[1]))
    return lo, hi


def apply_mask(lower, upper, mask, data_range):
    """Give pixels outside ``mask`` the whole ``data_range`` (no envelope)."""
    lo = np.where(mask, lower, data_range[0])
    hi = np.where(mask, upper, data_range[1])
    return lo, hi
