"""Colour channels side by side: each channel's QP on its own thread.

The channels of an RGB photograph are independent QPs.  Solved one after
another they leave all but one core idle; this module runs them on a few
threads instead.  The solvers' heavy kernels (numba, compiled ``nogil``;
numpy's loops) release the GIL, and each channel's arithmetic is the same
as when it runs alone, so the answers are too (up to the rounding of dense
factorisations, whose BLAS thread count is lowered to one here: see
:func:`qpsolve.linalg.threads.blas_threads`).

Threads, not processes: nothing is pickled or copied.  Memory grows with
the channels in flight, so large channels (more than
:data:`PARALLEL_PIXELS` pixels, where one channel's work arrays are
gigabytes) and tiled solves (which have their own worker processes,
``jobs=k``) stay one at a time.

Examples
--------
>>> channel_jobs(None, channels=3, pixels=512 * 768, tile=None) >= 1
True
>>> channel_jobs(1, channels=3, pixels=512 * 768, tile=None)
1
>>> map_channels(lambda c, item: (c, item * 2), ["a", "b", "c"], jobs=2)
[(0, 'aa'), (1, 'bb'), (2, 'cc')]
"""

from __future__ import annotations

import os
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

from ..linalg.threads import blas_threads
from ..validation import check_positive_int

__all__ = ["PARALLEL_PIXELS", "channel_jobs", "map_channels"]

#: channels with more pixels than this are solved one at a time by default (a 12-Mpx channel's
#: envelopes, weights and solver arrays take gigabytes; two at once would double the peak)
PARALLEL_PIXELS = 1 << 21


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def channel_jobs(jobs, *, channels, pixels, tile):
    """How many channels to solve at once.

    Parameters
    ----------
    jobs : int or None
        What the caller asked for (``None``: decide here).
    channels : int
        Number of channels.
    pixels : int
        Pixels per channel.
    tile : object
        The ``tile`` argument of :func:`qpsolve.dequantize` (tiled solves
        stay one channel at a time: their tiles have worker processes of
        their own).

    Returns
    -------
    int
        At least 1 and at most ``channels``.  ``None`` gives one thread per
        core (as many as the process may use), but one in all when the
        solve is tiled or a channel has more than :data:`PARALLEL_PIXELS`
        pixels.

    Examples
    --------
    >>> channel_jobs(None, channels=3, pixels=4000 * 3000, tile=None)
    1
    >>> channel_jobs(8, channels=3, pixels=100, tile=None)
    3
    """
    if jobs is None:
        if tile is not None or pixels > PARALLEL_PIXELS:
            return 1
        jobs = _cores()
    else:
        check_positive_int(jobs, "channel_jobs")
    return max(1, min(int(jobs), int(channels)))


def map_channels(fn, items, jobs):
    """``[fn(c, item) for c, item in enumerate(items)]``, on ``jobs`` threads when ``jobs > 1``.

    Results come back in channel order.  When a channel raises, the
    channels not yet started are cancelled, the ones running finish (a
    thread cannot be stopped), and the exception of the first channel (in
    channel order) that raised is raised here.
    """
    items = list(items)
    if jobs <= 1 or len(items) <= 1:
        return [fn(c, item) for c, item in enumerate(items)]
    # BLAS on one thread meanwhile: the channels are the parallelism, and idle OpenBLAS threads
    # spinning beside them cost CPU and no speed (benchmarks/results/channels.md).
    with blas_threads(1), ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="qpsolve-channel") as pool:
        futures = [pool.submit(fn, c, item) for c, item in enumerate(items)]
        try:
            wait(futures, return_when=FIRST_EXCEPTION)
        finally:  # also on Ctrl-C in the waiting thread
            for f in futures:
                f.cancel()
        wait(futures)
        for f in futures:
            if not f.cancelled() and f.exception() is not None:
                raise f.exception()
        return [f.result() for f in futures]
