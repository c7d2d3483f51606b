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

import importlib
import threading

__all__ = ["lazy_njit", "LazyKernel"]


def _module_attribute(module, name):
    return getattr(importlib.import_module(module), name)


class LazyKernel:
    """``func`` compiled by ``numba.njit(**options)`` on the first call (``func`` itself without numba).

    The compilation runs once even when several threads make the first call
    together (a lock), and the kernel pickles by reference to the module
    attribute that holds it (``name``), as the numba dispatcher it stands for
    does, so it can travel to Dask workers.
    """

    def __init__(self, func, name=None, **options):
        self.func, self.options = func, options
        self.module, self.name = func.__module__, name
        self.__doc__ = func.__doc__
        self._compiled = None
        self._lock = threading.Lock()

    def __call__(self, *args):
        compiled = self._compiled
        if compiled is None:
            with self._lock:
                if self._compiled is None:
                    try:
                        import numba
                    except ImportError:  # pragma: no cover - numba is a runtime dependency
                        self._compiled = self.func
                    else:
                        self._compiled = numba.njit(**self.options)(self.func)
                compiled = self._compiled
        return compiled(*args)

    def __reduce__(self):
        if self.name is None:
            raise TypeError(f"a LazyKernel of {self.func.__qualname__} without name= cannot be pickled")
        return _module_attribute, (self.module, self.name)

    def __repr__(self):
        state = "compiled" if self._compiled is not None else "not compiled yet"
        return f"<LazyKernel {self.module}.{self.name or self.func.__qualname__} ({state})>"


def lazy_njit(func, name=None, **options):
    """A :class:`LazyKernel` of ``func``; ``name`` is the module attribute that will hold it (for pickling)."""
    return LazyKernel(func, name=name, **options)
