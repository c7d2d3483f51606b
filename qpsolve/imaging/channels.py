"""Colour channels side by side: each channel's QP on its own thread.

The channels of an RGB photograph are independent QPs.  Solved one after
another they leave all but one core idle; this module runs them on a few
threads instead.  The solvers' heavy kernels (numba, compiled ``nogil``;
numpy's loops) release the GIL, and each channel's arithmetic is that of
a channel solved alone, so the answers are the same bits (a grid shape's
shared Green's function, whichever channel asks for it, gives the same
entries before and after it keeps a dense table).  One caveat: BLAS runs on
one thread here (see :func:`qpsolve.linalg.threads.blas_threads`), and a
LAPACK factorisation may round with its thread count; on the 2-core machine
of the tests the answers were equal bit for bit up to 200 x 300 x 3.

Threads, not processes: nothing is pickled or copied.  Memory grows with
the channels in flight (a channel's solve holds about
:data:`BYTES_PER_PIXEL` bytes per pixel), so the channels in flight are
capped by :func:`memory_budget`, and channels of more than
:data:`PARALLEL_PIXELS` pixels go one at a time (side by side they were
no faster on the 2-core machine of the benchmarks).  Tiled solves keep one channel at a time: their tiles have worker
processes of their own (``jobs=k``), which must not be forked from a
process whose other threads are inside a solve.

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

import numbers
import sys
import threading

from ..linalg import rowpool
from ..linalg.threads import Cancelled, blas_threads, cancel_event, cancel_scope, meminfo, usable_cores
from ..validation import check_positive_int

__all__ = ["BYTES_PER_PIXEL", "CHANNEL_THREAD", "IN_FLIGHT_BYTES", "IN_FLIGHT_PIXELS", "MEASURED_SOLVERS",
           "PARALLEL_PIXELS", "channel_jobs", "fewest_threads_soonest", "map_channels", "memory_budget",
           "solve_planes"]

#: the name of every channel thread :func:`map_channels` starts (numbered after it)
CHANNEL_THREAD = "qpsolve-channel"

#: what one channel of the default ``dequantize`` holds while it is solved, per pixel: its envelopes
#: and weights, the problem, and ``tnnmg``'s vectors and coarse grids (250 at the traced peak of a
#: 0.75-Mpx channel: benchmarks/results/dense/session17-memory/notes.md; rounded up)
BYTES_PER_PIXEL = 300
#: the solvers that figure was measured for (``auto`` takes them on photographs)
MEASURED_SOLVERS = ("auto", "pdas", "tnnmg")
#: by default, the channels in flight hold at most this much (and at most :func:`memory_budget`
#: allows): three 4-Mpx channels take 3.6 GB at :data:`BYTES_PER_PIXEL`
IN_FLIGHT_BYTES = 6 << 30
#: with another solver (its memory per pixel not measured), at most this many pixels in flight
IN_FLIGHT_PIXELS = 1 << 22
#: channels with more pixels than this go one at a time by default: side by side, two 12-Mpx channels
#: took as long as one after the other and 56 % more CPU, where three 3-Mpx channels on two threads
#: took a fifth less time (benchmarks/results/dense/session17-memory/notes.md)
PARALLEL_PIXELS = 1 << 22


def _cgroup_room():
    """What this process's cgroup (v2) may still take, in bytes, or ``None`` without a limit."""
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        if limit == "max":
            return None
        with open("/sys/fs/cgroup/memory.current") as f:
            return max(0, int(limit) - int(f.read().strip()))
    except (OSError, ValueError):
        return None


def memory_budget():
    """Bytes the channels in flight may hold: :data:`IN_FLIGHT_BYTES`, or four fifths of what the machine
    has available when that is less (Linux's ``MemAvailable``, and a container's cgroup limit; where
    neither can be read, :data:`IN_FLIGHT_BYTES`).

    Examples
    --------
    >>> 0 <= memory_budget() <= IN_FLIGHT_BYTES
    True
    """
    budget = IN_FLIGHT_BYTES
    for room in (meminfo("MemAvailable"), _cgroup_room()):
        if room is not None:
            budget = min(budget, room * 4 // 5)
    return budget


def channel_jobs(jobs, *, channels, pixels, tile, solver="auto"):
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
        The ``tile`` argument of :func:`qpsolve.dequantize`; tiled solves
        take one channel at a time (asking for more is an error).
    solver : str, optional
        The solver asked for: :data:`BYTES_PER_PIXEL` holds for
        :data:`MEASURED_SOLVERS`; others get at most
        :data:`IN_FLIGHT_PIXELS` pixels in flight.

    Returns
    -------
    int
        At least 1 and at most ``channels``.  ``None`` gives the fewest
        threads that finish soonest (:func:`fewest_threads_soonest`) on the
        cores (divided by the grid kernels' threads, ``QPSOLVE_THREADS``),
        with at most :func:`memory_budget` in flight at
        :data:`BYTES_PER_PIXEL` per pixel (:data:`IN_FLIGHT_PIXELS` pixels
        with solvers not in :data:`MEASURED_SOLVERS`): three small channels on two
        cores run all at once, so that no core idles while the third runs
        alone.  One when the solve is tiled or a channel has more than
        :data:`PARALLEL_PIXELS` pixels.

    Raises
    ------
    ValueError, TypeError
        ``jobs`` is not a positive integer, or above 1 with ``tile``.

    Examples
    --------
    >>> channel_jobs(None, channels=3, pixels=4000 * 3000, tile=None)   # 12 Mpx: one at a time
    1
    >>> channel_jobs(8, channels=3, pixels=100, tile=None)
    3
    """
    check_positive_int(jobs, "channel_jobs", allow_none=True)
    if tile is not None:
        if jobs is not None and jobs > 1:
            raise ValueError(f"channel_jobs={jobs} cannot be combined with tile: tiles are solved one channel "
                             "at a time (jobs=k solves a channel's tiles in k worker processes)")
        return 1
    if jobs is None:
        if pixels > PARALLEL_PIXELS:
            return 1
        slots = max(1, usable_cores() // rowpool.threads())
        if solver in MEASURED_SOLVERS:
            fit = memory_budget() // (BYTES_PER_PIXEL * max(1, int(pixels)))
        else:
            fit = IN_FLIGHT_PIXELS // max(1, int(pixels))
        return fewest_threads_soonest(int(channels), slots, fit)
    return max(1, min(int(jobs), int(channels)))


def fewest_threads_soonest(channels, cores, cap):
    """How many of ``channels`` equal solves to run at once on ``cores``: soonest done, then fewest threads.

    With ``k`` threads the channels take ``ceil(channels / k)`` rounds, and
    a round of ``k > cores`` threads shares the cores, so it lasts ``k /
    cores`` of one solve.  The ``k`` (at most ``cap`` and ``channels``, at
    least one) with the shortest total wins; among equal totals, the fewest
    threads (less memory in flight, less cache shared).  Three channels on
    two cores: two threads take two rounds (the third channel runs alone on
    one core), three threads 1.5 solves' time (measured on issue #18's
    photographs: benchmarks/results/channels.md, session 10).

    Parameters
    ----------
    channels : int
        Channels to solve (equal work assumed).
    cores : int
        Cores available to them.
    cap : int
        Most threads allowed at once (memory).

    Returns
    -------
    int
        Between 1 and ``max(1, min(cap, channels))``.

    Raises
    ------
    TypeError, ValueError
        An argument is not an integer, or ``channels`` or ``cap`` is negative, or ``cores`` below 1.

    Examples
    --------
    >>> fewest_threads_soonest(3, 2, 8), fewest_threads_soonest(4, 2, 8), fewest_threads_soonest(3, 8, 8)
    (3, 2, 3)
    >>> fewest_threads_soonest(3, 2, 2)     # memory allows two at once
    2
    """
    for name, value, least in (("channels", channels, 0), ("cores", cores, 1), ("cap", cap, 0)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"fewest_threads_soonest: {name} must be an integer, got {value!r}")
        if value < least:
            raise ValueError(f"fewest_threads_soonest: {name} must be at least {least}, got {value!r}")
    top = max(1, min(int(cap), int(channels)))
    # total time in units of one solve, times ``cores`` (integers: no ties lost to rounding)
    return min(range(1, top + 1), key=lambda k: (-(-channels // k) * max(cores, k), k))


class _ChannelLines:
    """``sys.stdout`` while verbose channels run side by side: each channel's lines, whole and prefixed.

    Lines printed by a channel's thread come out as ``[channel c] ...``
    once complete, so the progress of several channels can be told apart;
    anything printed by other threads passes through unchanged.
    """

    def __init__(self, out):
        self.out = out
        self.channel = {}  # thread ident -> the channel it is solving
        self._partial = {}  # thread ident -> the start of a line not yet ended
        self._lock = threading.Lock()
        self.users = 0  # calls of map_channels printing through it (several may run at once)

    def write(self, text):
        me = threading.get_ident()
        c = self.channel.get(me)
        if c is None:
            return self.out.write(text)
        with self._lock:
            *lines, self._partial[me] = (self._partial.get(me, "") + text).split("\n")
            if lines:
                self.out.write("".join(f"[channel {c}] {line}\n" for line in lines))
        return len(text)

    def end(self):
        """Print what the calling thread's channel left without a newline."""
        me = threading.get_ident()
        with self._lock:
            rest = self._partial.pop(me, "")
            if rest:
                self.out.write(f"[channel {self.channel.get(me)}] {rest}\n")

    def flush(self):
        self.out.flush()

    def __getattr__(self, name):
        return getattr(self.out, name)


_swap = threading.Lock()


def _label_stdout():
    """Install (or share) the :class:`_ChannelLines` around ``sys.stdout``; ``None`` when there is no
    stdout to write to (``pythonw``, a daemon: ``print`` is silent there and stays so)."""
    with _swap:
        if isinstance(sys.stdout, _ChannelLines):  # another call's channels are printing: share it
            lines = sys.stdout
        elif sys.stdout is None:
            return None
        else:
            lines = sys.stdout = _ChannelLines(sys.stdout)
        lines.users += 1
        return lines


def _unlabel_stdout(lines):
    """Undo :func:`_label_stdout` once its last user is done."""
    with _swap:
        lines.users -= 1
        if lines.users == 0 and sys.stdout is lines:
            sys.stdout = lines.out


def map_channels(fn, items, jobs, *, label_lines=False):
    """``[fn(c, item) for c, item in enumerate(items)]``, on ``jobs`` threads when ``jobs > 1``.

    Parameters
    ----------
    fn : callable
        ``fn(c, item)`` solves channel ``c``.
    items : iterable
        One item per channel.
    jobs : int
        Threads (1: in the calling thread, one channel after another).
    label_lines : bool, optional
        With ``jobs > 1``: what the channels print (verbose solves) comes
        out line by line, each line prefixed with ``[channel c]``, instead
        of interleaved mid-line.

    Returns
    -------
    list
        ``fn``'s results in channel order.

    Notes
    -----
    When a channel raises, no further channel is started, the channels
    still running are cancelled, and the exception of the first channel
    (in channel order) that failed (not cancelled) is raised here.  An interrupt of the
    waiting thread (Ctrl-C) is raised at once and cancels the running
    channels too.  Cancelling sets the event of each channel thread's
    :func:`~qpsolve.linalg.threads.cancel_scope`: its solver raises
    :class:`~qpsolve.linalg.threads.Cancelled` at its next check between
    iterations (where it checks its ``time_limit``) and the thread ends.
    Called inside a cancel scope (a channel of an outer call), the call
    is cancelled with it: its running channels are cancelled and
    :class:`~qpsolve.linalg.threads.Cancelled` is raised here.
    BLAS runs on one thread meanwhile: the channels are the parallelism,
    and idle OpenBLAS threads spinning beside them cost CPU and no speed
    (``benchmarks/results/channels.md``).

    Examples
    --------
    >>> map_channels(lambda c, item: c * item, [10, 20, 30], jobs=3)
    [0, 20, 60]
    """
    items = list(items)
    if jobs <= 1 or len(items) <= 1:
        return [fn(c, item) for c, item in enumerate(items)]
    jobs = min(int(jobs), len(items))
    results, errors = [None] * len(items), {}
    order = iter(range(len(items)))
    lock, stop, finished = threading.Lock(), threading.Event(), threading.Semaphore(0)

    def worker():
        try:
            with cancel_scope(stop):
                while not stop.is_set():
                    with lock:
                        c = next(order, None)
                    if c is None:
                        return
                    if lines is not None:
                        lines.channel[threading.get_ident()] = c
                    try:
                        results[c] = fn(c, items[c])
                    except BaseException as e:  # handed to the waiting thread
                        errors[c] = e
                        stop.set()
                    finally:
                        if lines is not None:
                            try:
                                lines.end()
                            except BaseException as e:  # a stdout that cannot be written to
                                errors.setdefault(c, e)
                                stop.set()
                            finally:
                                lines.channel.pop(threading.get_ident(), None)
        finally:
            finished.release()

    outer = cancel_event()  # set when this call is itself cancelled (e.g. it runs inside a channel)
    lines = _label_stdout() if label_lines else None
    started = []
    try:
        with blas_threads(1):
            try:
                for k in range(jobs):
                    t = threading.Thread(target=worker, name=f"{CHANNEL_THREAD}-{k}", daemon=True)
                    # listed before it starts: an interrupt that lands between start() and the listing
                    # would leave a running channel's bar out of close_bars below
                    started.append(t)
                    t.start()
                for _ in started:
                    # interruptible: Ctrl-C lands here; inside an outer cancel scope, look at its
                    # event every 50 ms (a thread can wait on one primitive only)
                    while not finished.acquire(timeout=None if outer is None else 0.05):
                        if outer.is_set():
                            raise Cancelled("the solve was cancelled from another thread")
            except BaseException:
                stop.set()  # the running channels stop at their solvers' next check
                # ... which may come after the process has gone: their progress bars end now
                from .progress import close_bars

                close_bars({t.ident for t in started})
                raise
    finally:
        if lines is not None:
            _unlabel_stdout(lines)
    if errors:
        failed = [c for c, e in errors.items() if not isinstance(e, Cancelled)] or list(errors)
        raise errors[min(failed)]  # not a channel cancelled because another failed
    return results


def solve_planes(fn, planes, jobs, *, tile, verbose, solver="auto"):
    """:func:`map_channels` over the ``(plane, kw)`` pairs of :func:`~qpsolve.imaging.bounds.split_channels`,
    on as many threads as :func:`channel_jobs` decides for ``jobs`` (and ``solver``).

    Examples
    --------
    >>> import numpy as np
    >>> planes = [(np.zeros((4, 4)), {}), (np.ones((4, 4)), {})]
    >>> solve_planes(lambda c, item: float(item[0].sum()), planes, None, tile=None, verbose=False)
    [0.0, 16.0]
    """
    planes = list(planes)
    n = channel_jobs(jobs, channels=len(planes), pixels=planes[0][0].size if planes else 0, tile=tile,
                     solver=solver)
    # verbose channels side by side print whole lines, each prefixed [channel c]
    return map_channels(fn, planes, n, label_lines=bool(verbose))
