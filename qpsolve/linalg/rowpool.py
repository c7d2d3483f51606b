"""Row ranges of a grid kernel on a few threads.

The grid kernels of :mod:`qpsolve.linalg.gridmg` are numba functions that
release the GIL (``nogil=True``) and take a range of rows ``[r0, r1)`` as
their last two arguments; :func:`run_rows` splits the rows into one block
per thread, runs the first block in the calling thread and the others on a
small shared pool.  Python threads rather than numba's ``parallel=True``:
the OpenMP layer numba finds here is not fork-safe, and
:mod:`qpsolve.imaging.tiles` forks its workers.  A forked child starts with
a fresh pool (``os.register_at_fork``).

Every kernel run this way writes each output row from one block only, so
the result does not depend on the number of threads.

Examples
--------
>>> import numpy as np
>>> from numba import njit
>>> @njit(nogil=True)
... def _double(x, out, r0, r1):
...     for i in range(r0, r1):
...         out[i] = 2.0 * x[i]
>>> x = np.arange(10.0)
>>> out = np.empty(10)
>>> run_rows(_double, 10, x, out, work=1 << 20)
0
>>> bool(np.array_equal(out, 2 * x))
True
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["run_rows", "run_tasks", "threads", "set_threads"]

#: below this many grid points a kernel runs in the calling thread (a hand-over costs ~20-50 us)
MIN_WORK = 1 << 15

_lock = threading.Lock()
_pool = None
_pool_size = 0
_threads = None


def threads():
    """How many threads the grid kernels use: ``QPSOLVE_THREADS``, else one.

    One by default: on this project's 2-core machine, idle, two threads did
    not shorten a 512^2 solve (docs/dense-contacts.md, issue #18), and one
    thread per process keeps Dask workers and forked tile workers from
    oversubscribing the cores.
    """
    global _threads
    if _threads is None:
        env = os.environ.get("QPSOLVE_THREADS", "").strip()
        if env:
            try:
                n = int(env)
            except ValueError:
                raise ValueError(f"QPSOLVE_THREADS must be a positive integer, got {env!r}") from None
            if n < 1:
                raise ValueError(f"QPSOLVE_THREADS must be a positive integer, got {env!r}")
            _threads = n
        else:
            _threads = 1
    return _threads


def set_threads(n):
    """Use ``n`` threads from now on (``None``: back to :func:`threads`' default); returns the old setting
    (``None`` when it was the default), to be given back to this function.

    >>> old = set_threads(1)
    >>> threads()
    1
    >>> _ = set_threads(old)
    """
    global _threads, _pool
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"set_threads: n must be a positive integer or None, got {n!r}")
    with _lock:
        old = _threads
        _threads = n
        if _pool is not None:
            _pool.shutdown(wait=False)
            _pool = None
    return old


def _get_pool(k):
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < k:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool, _pool_size = ThreadPoolExecutor(max_workers=k, thread_name_prefix="qpsolve-rows"), k
        return _pool


def _after_fork():
    global _pool
    _pool = None  # the parent's threads do not exist in the child


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def run_tasks(kernel, tasks, *args, work=0):
    """``kernel(*args, r0, r1)`` for every ``(r0, r1)`` in ``tasks``, spread over :func:`threads` threads.

    The tasks must be independent (no task reads what another writes), so
    their order does not matter.  ``work``: the size of the whole job in grid
    points; below :data:`MIN_WORK` everything runs in the calling thread, in
    order.  Returns the sum of the kernel's return values (``0`` for kernels
    that return nothing).
    """
    k = min(threads(), len(tasks))
    if k <= 1 or work < MIN_WORK:
        total = 0
        for r0, r1 in tasks:
            out = kernel(*args, r0, r1)
            if out is not None:
                total += out
        return total

    def share(t):
        total = 0
        for r0, r1 in tasks[t::k]:
            out = kernel(*args, r0, r1)
            if out is not None:
                total += out
        return total

    pool = _get_pool(k - 1)
    futures = [pool.submit(share, t) for t in range(1, k)]
    total = share(0)
    for f in futures:
        total += f.result()
    return total


def run_rows(kernel, rows, *args, work=None):
    """``kernel(*args, r0, r1)`` over the rows ``[0, rows)``, one block of rows per thread.

    ``work`` (default ``rows``): the size of the job in grid points; small
    jobs run in the calling thread.  Returns what :func:`run_tasks` returns.
    """
    k = threads()
    size = rows if work is None else work
    if k == 1 or size < MIN_WORK or rows < 2 * k:
        out = kernel(*args, 0, rows)
        return 0 if out is None else out
    cuts = [rows * t // k for t in range(k + 1)]
    return run_tasks(kernel, [(cuts[t], cuts[t + 1]) for t in range(k)], *args, work=size)
