"""numba kernels compiled on first call, for modules that every solve imports.

``import numba`` makes a process resident set tens of MB larger.  ``pdas``
imports ``pcg`` (its hand-over), which imports the AMG modules; with their
kernels compiled at import time every smooth ``pdas`` solve paid for numba
without running a single kernel.  :func:`lazy_njit` defers both the import and
the compilation to the first call (``cache=True`` still reuses the on-disk
cache), and falls back to the pure-Python function where numba is missing.

Examples
--------
>>> import numpy as np
>>> def _twice(x, out):
...     for i in range(x.size):
...         out[i] = 2.0 * x[i]
>>> twice = lazy_njit(_twice)
>>> out = np.empty(3)
>>> twice(np.arange(3.0), out)
>>> out.tolist()
[0.0, 2.0, 4.0]
"""

from __future__ import annotations

import functools

__all__ = ["lazy_njit"]


def lazy_njit(func, **options):
    """``func`` compiled by ``numba.njit(**options)`` when first called (``func`` itself without numba)."""
    compiled = None

    @functools.wraps(func)
    def kernel(*args):
        nonlocal compiled
        if compiled is None:
            try:
                import numba
            except ImportError:  # pragma: no cover - numba is a runtime dependency
                compiled = func
            else:
                compiled = numba.njit(**options)(func)
        return compiled(*args)

    return kernel
