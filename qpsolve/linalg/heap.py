"""Large temporaries from the heap, not from fresh mappings, during big solves.

glibc serves an allocation above its mmap threshold with a fresh ``mmap``; the
kernel zero-fills it page by page on first touch and ``free`` unmaps it again.
The threshold adapts to the sizes a program frees, but only up to 32 MiB, and a
float64 image of 2048 x 2048 pixels is exactly that plus malloc's header: every
full-size temporary of such a solve is mapped, faulted in and unmapped anew.
Measured on the 2-bit Gaussian at 2048 x 2048 (``odd``), five solves each way:
80 000-93 000 page faults and 2.3-3.5 s of system time per solve with
mappings, 25 000-27 000 and 1.0-3.5 s without; median solve 14.2 s against
12.3 s; the same peak memory (1.31-1.35 GB).

:func:`large_heap` turns mappings off for the length of a solve (glibc only;
a no-op elsewhere) and hands the memory back with ``malloc_trim`` when the
last concurrent solve ends.  ``mallopt`` is process-wide: afterwards glibc
keeps a fixed mmap threshold instead of its adaptive one, which changes no
result, only where later large arrays come from.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
import threading

__all__ = ["large_heap", "HEAP_MIN_PIXELS"]

#: problems with at least this many variables solve with mappings off
HEAP_MIN_PIXELS = 2**20

# mallopt parameters (malloc.h) and glibc's defaults for them
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_DEFAULT_MMAP_MAX = 65536
_DEFAULT_TRIM_THRESHOLD = 128 * 1024
_INT_MAX = 2**31 - 1

_lock = threading.Lock()
_depth = 0


def _load_glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 -- glibc only: musl's mallopt is a stub
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.malloc_trim.argtypes = (ctypes.c_size_t,)
    except (OSError, AttributeError):
        return None
    return libc


_libc = _load_glibc()


@contextlib.contextmanager
def large_heap(n):
    """Keep large temporaries on the heap while a problem of ``n`` variables is solved.

    Parameters
    ----------
    n : int
        Number of variables; below :data:`HEAP_MIN_PIXELS` nothing changes.

    Examples
    --------
    >>> import numpy as np
    >>> with large_heap(2**22):
    ...     float(np.ones(2**22).sum())
    4194304.0
    """
    global _depth
    if _libc is None or n < HEAP_MIN_PIXELS:
        yield
        return
    with _lock:
        if _depth == 0:
            _libc.mallopt(_M_MMAP_MAX, 0)
            _libc.mallopt(_M_TRIM_THRESHOLD, _INT_MAX)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
                _libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD)
                _libc.malloc_trim(0)
