"""Exact Euclidean distance transforms for large images.

:func:`distance_to` is ``scipy.ndimage.distance_transform_edt(~features)``
(the distance from every pixel to the nearest ``features`` pixel) computed
the separable way of Felzenszwalb and Huttenlocher: squared distances along
one axis, then, along each further axis, the lower envelope of the parabolas
``(q - v)**2 + f(v)``.  Every squared distance is an integer and the envelope
is exact at integer points, so the result equals scipy's bit for bit.  The
photo pipeline's blend weights take three transforms per channel; scipy
computes the nearest feature's indices on the way, which this one skips
(timings: benchmarks/results/dense/notes.md, session 6).

References
----------
P. F. Felzenszwalb, D. P. Huttenlocher, "Distance transforms of sampled
functions", Theory of Computing 8 (2012) 415-428.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["distance_to"]


@njit(cache=True, nogil=True)
def _first_axis(feat, out):  # pragma: no cover - compiled
    """Squared distance along each row of ``feat`` (lines x n) to the nearest ``True``; ``inf`` if none."""
    lines, n = feat.shape
    for r in range(lines):
        last = -1
        for i in range(n):
            if feat[r, i]:
                last = i
            out[r, i] = np.inf if last < 0 else float(i - last) * float(i - last)
        last = -1
        for i in range(n - 1, -1, -1):
            if feat[r, i]:
                last = i
            if last >= 0:
                d = float(last - i) * float(last - i)
                if d < out[r, i]:
                    out[r, i] = d


@njit(cache=True, nogil=True)
def _envelope(f, out, v, z):  # pragma: no cover - compiled
    """Per row of ``f`` (lines x n): ``out[q] = min_p (q - p)**2 + f[p]`` (infinite ``f`` never counts)."""
    lines, n = f.shape
    for r in range(lines):
        k = -1
        for q in range(n):
            fq = f[r, q]
            if fq == np.inf:
                continue
            if k < 0:
                k = 0
                v[0] = q
                z[0] = -np.inf
                z[1] = np.inf
                continue
            while True:
                p = v[k]
                # integers up to 2**53 are exact; the intersection is rounded only where no integer
                # lies within its rounding, so the envelope is exact at every pixel
                s = ((fq + float(q) * q) - (f[r, p] + float(p) * p)) / (2.0 * (q - p))
                if s <= z[k]:
                    k -= 1
                else:
                    break
            k += 1
            v[k] = q
            z[k] = s
            z[k + 1] = np.inf
        if k < 0:
            for q in range(n):
                out[r, q] = np.inf
            continue
        k = 0
        for q in range(n):
            while z[k + 1] < q:
                k += 1
            p = v[k]
            out[r, q] = float(q - p) * float(q - p) + f[r, p]


def distance_to(features):
    """Euclidean distance (pixels) from every pixel to the nearest ``True`` pixel of ``features``.

    Equal to ``scipy.ndimage.distance_transform_edt(~features)`` (unit
    sampling) whenever ``features`` has a ``True`` pixel; without any, every
    distance is ``inf`` (scipy's answer is not a distance there).

    Parameters
    ----------
    features : array_like of bool
        Any number of dimensions (at least one).

    Returns
    -------
    ndarray of float64

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((3, 5), bool)
    >>> m[1, 1] = True
    >>> np.round(distance_to(m), 3).tolist()
    [[1.414, 1.0, 1.414, 2.236, 3.162], [1.0, 0.0, 1.0, 2.0, 3.0], [1.414, 1.0, 1.414, 2.236, 3.162]]
    >>> distance_to(np.zeros(3, bool)).tolist()
    [inf, inf, inf]
    """
    feat = np.asarray(features, dtype=bool)
    if feat.ndim == 0:
        raise ValueError("features must have at least one dimension, got a scalar")
    if feat.size == 0:
        return np.zeros(feat.shape)
    sq = _along(feat, feat.ndim - 1, _first_axis)
    for ax in range(feat.ndim - 2, -1, -1):
        sq = _along(sq, ax, _envelope)
    return np.sqrt(sq)


def _along(a, axis, kernel):
    """``kernel`` applied to every line of ``a`` along ``axis``; float64, the shape of ``a``."""
    moved = np.moveaxis(a, axis, -1)
    n = moved.shape[-1]
    lines = np.ascontiguousarray(moved).reshape(-1, n)
    out = np.empty(lines.shape)
    if kernel is _first_axis:
        kernel(lines, out)
    else:
        kernel(lines, out, np.empty(n, dtype=np.int64), np.empty(n + 1))
    return np.moveaxis(out.reshape(moved.shape), -1, axis)
