"""Wide Gaussian smoothing for large images.

:func:`gaussian_nearest` is ``scipy.ndimage.gaussian_filter(a, sigma,
mode="nearest", truncate=truncate)`` (same truncated, normalised kernel, same
edge rule) computed by FFT along each axis once the kernel is long.  The
photo pipeline's blend weights smooth with a 193-tap kernel (``sigma`` 16,
``truncate`` 6); a direct 1-D correlation costs that many products per pixel
and axis, which at 12 Mpx was a quarter of the time spent before the solve
(benchmarks/results/dense/notes.md, session 5).
"""

from __future__ import annotations

import numpy as np

__all__ = ["gaussian_nearest", "FFT_TAPS"]

#: kernels with at least this many taps are applied by FFT (shorter ones by scipy.ndimage directly)
FFT_TAPS = 64


def _kernel(sigma, truncate):
    """The truncated, normalised Gaussian ``scipy.ndimage`` uses (order 0)."""
    radius = int(float(truncate) * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    phi = np.exp(-0.5 * (x / float(sigma)) ** 2)
    return phi / phi.sum(), radius


def _along(a, kernel, radius, axis):
    """Correlate ``a`` with the symmetric ``kernel`` along ``axis``, edges extended (``mode="nearest"``)."""
    from scipy import fft

    pad = [(0, 0)] * a.ndim
    pad[axis] = (radius, radius)
    ap = np.pad(a, pad, mode="edge")
    n = ap.shape[axis]
    size = fft.next_fast_len(n + 2 * radius, real=True)
    # The kernel centred at index 0 (wrapped): a circular convolution of length >= n + 2 radius
    # then equals the linear one on the padded array for every kept sample.
    k = np.zeros(size)
    k[: radius + 1] = kernel[radius:]
    k[size - radius:] = kernel[:radius]
    shape = [1] * a.ndim
    shape[axis] = size // 2 + 1
    spec = fft.rfft(ap, n=size, axis=axis) * fft.rfft(k).reshape(shape)
    out = fft.irfft(spec, n=size, axis=axis)
    keep = [slice(None)] * a.ndim
    keep[axis] = slice(radius, radius + a.shape[axis])
    return np.ascontiguousarray(out[tuple(keep)])


def gaussian_nearest(a, sigma, truncate=4.0):
    """``scipy.ndimage.gaussian_filter(a, sigma, mode="nearest", truncate=truncate)`` for a real array.

    Parameters
    ----------
    a : array_like
        Real array, any number of dimensions.
    sigma : float
        Standard deviation in pixels (the same on every axis; > 0).
    truncate : float
        The kernel reaches ``int(truncate * sigma + 0.5)`` pixels each side.

    Returns
    -------
    ndarray of float64
        Equal to scipy's result up to rounding (FFT for kernels of at least
        :data:`FFT_TAPS` taps, scipy itself below).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> a = np.random.default_rng(0).random((60, 80))
    >>> ref = ndimage.gaussian_filter(a, 16.0, mode="nearest", truncate=6.0)
    >>> bool(np.allclose(gaussian_nearest(a, 16.0, truncate=6.0), ref, rtol=0, atol=1e-12))
    True
    """
    from scipy import ndimage

    a = np.asarray(a, dtype=np.float64)
    if not float(sigma) > 0:
        raise ValueError(f"sigma must be positive, got {sigma!r}")
    kernel, radius = _kernel(sigma, truncate)
    if kernel.size < FFT_TAPS:
        return ndimage.gaussian_filter(a, float(sigma), mode="nearest", truncate=float(truncate))
    out = a
    for axis in range(a.ndim):
        out = _along(out, kernel, radius, axis)
    return out
