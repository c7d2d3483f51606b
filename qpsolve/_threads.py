"""How many threads BLAS may use inside a solve.

OpenBLAS keeps its threads spinning for a while after each call.  The
``pdas`` solver alternates small BLAS calls (products with a few vectors)
with multi-threaded FFTs, and the spinning threads take the cores from the
FFT workers: with OpenBLAS on both cores the 2-bit Gaussian at 1024 x 1024
took 3.1-3.7 s of wall time and twice that of CPU time, with one BLAS
thread 1.85-2.0 s (three runs each, quiet machine).  :func:`blas_threads`
limits BLAS for a block of code; the large dense factorisations, which do
gain from both cores, ask for all of them back.
"""

from __future__ import annotations

import contextlib
import functools

from threadpoolctl import ThreadpoolController

__all__ = ["blas_threads"]


@functools.lru_cache(maxsize=1)
def _controller():
    # Built on first use: by then numpy's and scipy's BLAS are both loaded.
    return ThreadpoolController().select(user_api="blas")


_callers = []  # the thread counts in effect when each enclosing block began


def _current(ctl):
    return max((lib.num_threads for lib in ctl.lib_controllers), default=1)


@contextlib.contextmanager
def blas_threads(limit):
    """BLAS may use at most ``limit`` threads inside the block.

    ``None`` restores, for an inner block, the count the caller had when the
    outermost block began (so a user's ``OPENBLAS_NUM_THREADS=1`` holds).

    Examples
    --------
    >>> import numpy as np
    >>> with blas_threads(1):
    ...     x = np.ones((50, 50)) @ np.ones(50)
    >>> float(x[0])
    50.0
    """
    ctl = _controller()
    _callers.append(_current(ctl))
    try:
        with ctl.limit(limits=_callers[0] if limit is None else int(limit), user_api="blas"):
            yield
    finally:
        _callers.pop()
