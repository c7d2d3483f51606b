"""Synthetic test images of the paper (section 5, Table 1).

The images are made as the paper's published code makes them: the function
is sampled on a square grid, divided by its maximum, scaled to 255 and cast to
``uint8``; lower bit depths are then made by right shift (truncation).
"""

from __future__ import annotations

import numpy as np

from ..validation import check_int_at_least

__all__ = ["gaussian", "rosenbrock", "to_uint8", "truncate_bits"]


def gaussian(size=64):
    """``exp(-2 (x^2 + y^2))`` on ``[-1, 1]^2`` as a float array.

    Examples
    --------
    >>> g = gaussian(5)
    >>> float(g[2, 2]), g.shape
    (1.0, (5, 5))
    """
    check_int_at_least(size, "size", 2)
    x = np.linspace(-1.0, 1.0, size)
    X, Y = np.meshgrid(x, x)
    return np.exp(-2.0 * (X**2 + Y**2))


def rosenbrock(size=64):
    """``100 (y - x^2)^2 + (1 - x)^2`` on ``x in [-1.5, 1.5]``, ``y in [-1, 3]``.

    Examples
    --------
    >>> r = rosenbrock(4)
    >>> r.shape, bool(r.min() >= 0)
    ((4, 4), True)
    """
    check_int_at_least(size, "size", 2)
    x = np.linspace(-1.5, 1.5, size)
    y = np.linspace(-1.0, 3.0, size)
    X, Y = np.meshgrid(x, y)
    return 100.0 * (Y - X**2) ** 2 + (1.0 - X) ** 2


def to_uint8(f):
    """Divide by the maximum, scale to 255 and cast to ``uint8`` (truncating).

    Examples
    --------
    >>> to_uint8(np.array([0.0, 0.5, 1.0])).tolist()
    [0, 127, 255]
    """
    f = np.asarray(f, dtype=np.float64)
    return (f / f.max() * 255.0).astype(np.uint8)


def truncate_bits(img, bits):
    """Keep the top ``bits`` bits of a ``uint8``/``uint16`` image (right shift, then back).

    Examples
    --------
    >>> truncate_bits(np.array([0, 100, 255], dtype=np.uint8), 2).tolist()
    [0, 64, 192]
    """
    img = np.asarray(img)
    if img.dtype.kind != "u":
        raise TypeError(f"img must be an unsigned integer image, got {img.dtype}")
    c = 8 * img.dtype.itemsize
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= c:
        raise ValueError(f"bits must be an integer in 1..{c}, got {bits!r}")
    s = c - bits
    return ((img >> s) << s).astype(img.dtype)
