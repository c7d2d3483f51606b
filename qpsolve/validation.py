"""Argument checks for every layer: one place, one wording.

The bottom layer of the package (it imports nothing from it).  Each check
raises ``TypeError`` (wrong kind of value) or ``ValueError`` (wrong value)
with a message that names the argument, what it must be and what it got,
and returns the value in the form the caller works with (``int``,
``float``, a float64 array, ...).  Public functions validate their
arguments first, as scikit-image's do, through these.

Examples
--------
>>> check_choice("odd", ("odd", "even", "periodic"), "bc")
'odd'
>>> check_choice("mirror", ("odd", "even", "periodic"), "bc")
Traceback (most recent call last):
...
ValueError: bc must be one of ('odd', 'even', 'periodic'), got 'mirror'
>>> check_positive(0.5, "step")
0.5
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "check_choice",
    "check_int_at_least",
    "check_positive_int",
    "check_count",
    "check_int_in",
    "check_positive",
    "check_at_least",
    "check_weights",
    "check_vector",
    "check_image",
    "check_same_shape",
    "check_bounds_array",
    "check_data_range",
    "check_tile",
    "check_names",
    "check_calibration",
]


def _is_int(value):
    """An integer that is not a bool (``numpy`` integers included)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_choice(value, allowed, name, *, allow_none=False):
    """``value`` if it is one of the strings ``allowed`` (or ``None`` with ``allow_none``).

    Examples
    --------
    >>> check_choice(None, ("mask", "replace"), "outliers", allow_none=True) is None
    True
    >>> check_choice("drop", ("mask", "replace"), "outliers", allow_none=True)
    Traceback (most recent call last):
    ...
    ValueError: outliers must be one of ('mask', 'replace') or None, got 'drop'
    """
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}{' or None' if allow_none else ''}, got {value!r}")
    return value


def check_int_at_least(value, name, minimum):
    """``int(value)`` for an integer ``>= minimum``, else ``ValueError``.

    Examples
    --------
    >>> check_int_at_least(1.5, "dilate", 0)
    Traceback (most recent call last):
    ...
    ValueError: dilate must be an integer >= 0, got 1.5
    """
    if not _is_int(value) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_positive_int(value, name, *, allow_none=False):
    """``int(value)`` for an integer ``>= 1`` (``None`` passes with ``allow_none``).

    Examples
    --------
    >>> check_positive_int(0, "max_iter", allow_none=True)
    Traceback (most recent call last):
    ...
    ValueError: max_iter must be a positive integer or None, got 0
    """
    if value is None and allow_none:
        return None
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer{' or None' if allow_none else ''}, got {value!r}")
    return int(value)


def check_count(value, name, minimum):
    """``int(value)``: ``TypeError`` unless an integer, ``ValueError`` below ``minimum``.

    Examples
    --------
    >>> check_count(4, "size", 8)
    Traceback (most recent call last):
    ...
    ValueError: size must be at least 8, got 4
    """
    if not _is_int(value):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def check_int_in(value, name, low, high):
    """``int(value)``: ``TypeError`` unless an integer, ``ValueError`` outside ``low..high``.

    Examples
    --------
    >>> check_int_in(9, "bits", 1, 7)
    Traceback (most recent call last):
    ...
    ValueError: bits must be in 1..7, got 9
    """
    if not _is_int(value):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in {low}..{high}, got {value}")
    return int(value)


def check_positive(value, name):
    """``float(value)`` for a finite real number ``> 0``, else ``ValueError``.

    Examples
    --------
    >>> check_positive(float("inf"), "chroma_weight")
    Traceback (most recent call last):
    ...
    ValueError: chroma_weight must be a positive finite number, got inf
    """
    if not _is_real(value) or not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def check_at_least(value, name, minimum):
    """``float(value)`` for a finite real number ``>= minimum``, else ``ValueError``.

    Examples
    --------
    >>> check_at_least(-1, "alpha", 0)
    Traceback (most recent call last):
    ...
    ValueError: alpha must be a finite number >= 0, got -1
    """
    if not _is_real(value) or not (np.isfinite(value) and value >= minimum):
        raise ValueError(f"{name} must be a finite number >= {minimum}, got {value!r}")
    return float(value)


def check_weights(alpha, beta):
    """The weights of the ``mixed`` energy: finite and ``>= 0`` (any number type numpy takes)."""
    for name, w in (("alpha", alpha), ("beta", beta)):
        if not np.isfinite(w) or w < 0:
            raise ValueError(f"{name} must be a finite non-negative number, got {w!r}")


def check_vector(x, n, name):
    """``x`` as a flat float64 array of ``n`` finite numbers.

    Examples
    --------
    >>> check_vector([1, 2], 3, "x0")
    Traceback (most recent call last):
    ...
    ValueError: x0 has 2 entries; the problem has 3 variables
    """
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{name} must be an array of {n} numbers, got {type(x).__name__}")
    arr = np.asarray(x)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.size != n:
        raise ValueError(f"{name} has {arr.size} entries; the problem has {n} variables")
    arr = arr.astype(np.float64).ravel()
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def check_image(image, name="image"):
    """``image`` as an array: real, 1-D to 3-D, at least two pixels, finite."""
    if isinstance(image, (str, bytes)) or image is None:
        raise TypeError(f"{name} must be a numeric array, got {type(image).__name__}")
    arr = np.asarray(image)
    if arr.dtype == object or arr.dtype.kind not in "uif" or arr.dtype == bool:
        if arr.dtype == bool:
            raise TypeError(f"{name} is boolean (1-bit); pass it as an integer or float array with bits=1")
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if arr.ndim == 0 or arr.ndim > 3:
        raise ValueError(f"{name} must be 1-D, 2-D or 3-D (without channel_axis), got {arr.ndim}-D")
    if arr.size < 2:
        raise ValueError(f"{name} has a single pixel; de-quantization needs at least two")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = ~np.isfinite(arr)
        where = tuple(int(i) for i in np.unravel_index(np.flatnonzero(bad)[0], arr.shape))
        raise ValueError(f"{name} contains {int(bad.sum())} NaN or infinite value(s), first at index {where}")
    return arr


def check_same_shape(arr, shape, name):
    """``arr`` as an array of the image's ``shape``."""
    a = np.asarray(arr)
    if a.shape != shape:
        raise ValueError(f"{name} has shape {a.shape}; expected the image shape {shape}")
    return a


def check_bounds_array(arr, shape, name):
    """An image-shaped array of finite reals, as float64 (explicit envelopes)."""
    a = check_same_shape(arr, shape, name)
    if a.dtype == object or a.dtype.kind not in "uif":
        raise TypeError(f"{name} must be a real numeric array, got dtype {a.dtype}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def check_data_range(data_range):
    """``(min, max)`` as floats with ``min < max``, or ``None``.

    Examples
    --------
    >>> check_data_range((0, 255))
    (0.0, 255.0)
    """
    if data_range is None:
        return None
    try:
        lo, hi = (float(v) for v in data_range)
    except (TypeError, ValueError):
        raise TypeError(f"data_range must be a pair of numbers (min, max), got {data_range!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"data_range must be finite with min < max, got {data_range!r}")
    return lo, hi


def check_tile(tile, ndim):
    """A tile size per axis (an integer ``>= 8`` for all, or one per axis).

    Examples
    --------
    >>> check_tile(64, 2)
    (64, 64)
    """
    t = (tile,) * ndim if isinstance(tile, numbers.Integral) and not isinstance(tile, bool) else tuple(tile)
    if len(t) != ndim or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 8 for v in t):
        raise ValueError(f"tile must be an integer >= 8 or one per axis ({ndim}), got {tile!r}")
    return tuple(int(v) for v in t)


def check_names(values, allowed, name):
    """A name or a sequence of names, each one of ``allowed``, as a tuple.

    Examples
    --------
    >>> check_names("gaussian", ("gaussian", "rosenbrock"), "functions")
    ('gaussian',)
    """
    if isinstance(values, str):
        values = (values,)
    try:
        values = tuple(values)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of names, got {values!r}") from None
    for v in values:
        if v not in allowed:
            raise ValueError(f"{name}: unknown entry {v!r}; choose from {tuple(allowed)}")
    return values


def check_calibration(power, margin, label=str):
    """``(power, margin)`` as floats, or a ``ValueError`` naming ``label('power')`` / ``label('margin')``."""
    power = check_positive(power, label("power"))
    margin = check_at_least(margin, label("margin"), 0)
    return power, margin
