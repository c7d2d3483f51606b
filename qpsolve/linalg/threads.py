"""How many threads BLAS may use inside a solve, and stopping a solve from another thread.

OpenBLAS keeps its threads spinning for a while after each call.  The
``pdas`` solver alternates small BLAS calls (products with a few vectors)
with multi-threaded FFTs, and the spinning threads take the cores from the
FFT workers: one BLAS thread made the 2-bit Gaussian at 1024 x 1024 markedly
faster (``benchmarks/results/design_notes.md``).  :func:`blas_threads`
limits BLAS for a block of code; the large dense factorisations, which do
gain from both cores, ask for all of them back.

A solve running on a thread of its own (colour channels side by side) is
stopped by setting the event that :func:`cancel_scope` gave its thread:
the iterative solvers call :func:`out_of_time` where they check their
``time_limit`` (between iterations) and raise :class:`Cancelled` there.

A caller that wants to follow a solve (a progress bar per colour channel)
opens a :func:`progress_scope` in the solving thread; the solvers call
:func:`report_progress` where they already know their gap (once per
iteration) and the scope's callback receives a :class:`Progress`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
from typing import NamedTuple

from threadpoolctl import ThreadpoolController

__all__ = ["Cancelled", "Progress", "blas_threads", "cancel_event", "cancel_scope", "check_cancelled",
           "coarse_progress", "meminfo", "out_of_time", "progress_scope", "report_progress", "usable_cores"]


class Cancelled(BaseException):
    """The solve was cancelled from another thread (see :func:`cancel_scope`).

    A :class:`BaseException`, as :class:`KeyboardInterrupt` is: code that
    catches ``Exception`` to try another solver must not swallow it.
    """


class _Scope(threading.local):
    event = None  # the cancellation event of this thread's solves; a class default: a missing
    # attribute of a thread-local costs an exception inside getattr (0.6 us against 0.05 us)
    progress = None  # the callback of this thread's progress_scope


_scope = _Scope()


@contextlib.contextmanager
def cancel_scope(event):
    """Solves in this thread inside the block raise :class:`Cancelled` soon after ``event`` is set.

    Examples
    --------
    >>> import threading
    >>> stop = threading.Event()
    >>> with cancel_scope(stop):
    ...     out_of_time(None)
    ...     stop.set()
    ...     try:
    ...         out_of_time(None)
    ...     except Cancelled:
    ...         print("cancelled")
    False
    cancelled
    """
    outer = _scope.event
    _scope.event = event
    try:
        yield
    finally:
        _scope.event = outer


def cancel_event():
    """The event of this thread's innermost :func:`cancel_scope`, or ``None`` outside any."""
    return _scope.event


def check_cancelled():
    """Raise :class:`Cancelled` when this thread's :func:`cancel_scope` event is set."""
    event = _scope.event
    if event is not None and event.is_set():
        raise Cancelled("the solve was cancelled from another thread")


def out_of_time(deadline):
    """``True`` past ``deadline`` (a ``time.perf_counter()`` value, or ``None``: never).

    The solvers' check between iterations; it raises :class:`Cancelled`
    first when the solve was cancelled (:func:`cancel_scope`).  Costs one
    thread-local read when nothing is set.
    """
    check_cancelled()
    return deadline is not None and time.perf_counter() > deadline


class Progress(NamedTuple):
    """One report of a solve's progress (what a :func:`progress_scope` callback receives).

    Attributes
    ----------
    solver : str
        Who reports: ``"tnnmg"``, ``"pdas"``, ``"projected-newton"`` (``pdas``'s fallback on its
        fine level) or ``"pcg"``.
    stage : str
        ``"fine"`` (the problem asked for) or ``"coarse"`` (a level of a coarse-to-fine start,
        including the coarsest problem that ``pdas`` hands to another solver).
    n : int
        Variables of the level that reports.
    step : int
        The iteration on that level (from 1).
    gap : float
        With ``measure == "gap"``: the relative duality gap ``gap / max(1, |E|)`` of the current
        iterate, the solver's float64 estimate of it (``tnnmg``) or the certificate's
        (``pcg``, ``projected-newton``, ``pdas``'s polished points).  With ``measure ==
        "violation"`` (``pdas``'s iterates are infeasible until its end): the largest bound
        violation over the envelope span.
    tol : float
        Where ``gap`` must get to for the level to stop: the relative gap the certificate accepts
        on the fine level, a coarse level's own stop, or, for violations, the violation at which
        ``pdas`` starts polishing and asking the certificate.
    measure : str
        ``"gap"`` or ``"violation"``.
    """

    solver: str
    stage: str
    n: int
    step: int
    gap: float
    tol: float
    measure: str = "gap"


@contextlib.contextmanager
def progress_scope(callback):
    """Solves in this thread inside the block call ``callback(Progress)`` once per iteration.

    ``None`` silences the block.  The scope is per thread (a colour
    channel's thread sees only its own callback) and a nested scope
    restores the outer one when it ends.  The callback runs inside the
    solver: it must be quick, and what it raises ends the solve.

    Examples
    --------
    >>> seen = []
    >>> with progress_scope(seen.append):
    ...     report_progress("tnnmg", "fine", 4, 1, 1e-3, 1e-8)
    >>> seen[0].gap, seen[0].measure
    (0.001, 'gap')
    >>> report_progress("tnnmg", "fine", 4, 2, 1e-9, 1e-8)   # outside any scope: nothing happens
    >>> len(seen)
    1
    """
    outer = _scope.progress
    _scope.progress = callback
    try:
        yield
    finally:
        _scope.progress = outer


def report_progress(solver, stage, n, step, gap, tol, measure="gap"):
    """Hand one :class:`Progress` to this thread's :func:`progress_scope` callback, if any.

    Costs one thread-local read when no scope is open; reporting changes
    nothing in the solve.
    """
    callback = _scope.progress
    if callback is not None:
        nan = float("nan")  # a level without a stop of its own (a coarse level run without one)
        callback(Progress(solver, stage, int(n), int(step), nan if gap is None else float(gap),
                          nan if tol is None else float(tol), measure))


@contextlib.contextmanager
def coarse_progress():
    """Inside the block, this thread's reports reach the outer :func:`progress_scope` marked
    ``stage="coarse"``: for a solver that solves a coarse problem with another solver (``pdas``'s
    coarsest level), whose fine level is not the caller's.

    Examples
    --------
    >>> seen = []
    >>> with progress_scope(seen.append):
    ...     with coarse_progress():
    ...         report_progress("pcg", "fine", 64, 1, 1e-2, 1e-8)
    >>> seen[0].stage
    'coarse'
    """
    outer = _scope.progress
    if outer is None:
        yield
        return
    with progress_scope(lambda p: outer(p._replace(stage="coarse"))):
        yield


def usable_cores():
    """The cores this process may run on (its CPU affinity where the OS tells it), at least 1.

    Examples
    --------
    >>> usable_cores() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@functools.lru_cache(maxsize=1)
def _controller():
    # Built on first use: by then numpy's and scipy's BLAS are both loaded.
    return ThreadpoolController().select(user_api="blas")


_lock = threading.Lock()
_blocks = []  # one [limit] per block open now, in the order they began (any thread)
_original = None  # the caller's thread count when the first open block began


def _current(ctl):
    return max((lib.num_threads for lib in ctl.lib_controllers), default=1)


def _apply(ctl):
    # The block that began last decides; with none open, the caller's count comes back.
    n = _original if not _blocks or _blocks[-1][0] is None else _blocks[-1][0]
    for lib in ctl.lib_controllers:
        lib.set_num_threads(n)


@contextlib.contextmanager
def blas_threads(limit):
    """BLAS may use at most ``limit`` threads inside the block.

    ``None`` gives an inner block the caller's count from before the
    outermost block (so a user's ``OPENBLAS_NUM_THREADS=1`` holds).  Blocks
    may nest, and blocks open in several threads at once share one setting
    (the block that began last decides; the caller's count comes back when
    the last one ends).  That is best effort: the OpenBLAS here did not
    honour a count raised from a thread other than the one that lowered it.

    Examples
    --------
    >>> import numpy as np
    >>> with blas_threads(1):
    ...     x = np.ones((50, 50)) @ np.ones(50)
    >>> float(x[0])
    50.0
    """
    global _original
    ctl = _controller()
    block = [None if limit is None else int(limit)]
    with _lock:
        if not _blocks:
            _original = _current(ctl)
        _blocks.append(block)
        _apply(ctl)
    try:
        yield
    finally:
        with _lock:
            # By identity (equal limits compare equal): other threads' blocks may have ended first.
            del _blocks[next(i for i, b in enumerate(_blocks) if b is block)]
            _apply(ctl)


def meminfo(field):
    """A field of Linux's ``/proc/meminfo`` in bytes (``"MemTotal"``, ``"MemAvailable"``, ...), or ``None``
    where it cannot be read (another system, or no such field).

    Examples
    --------
    >>> total = meminfo("MemTotal")
    >>> total is None or total > 0
    True
    >>> meminfo("NoSuchField") is None
    True
    """
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
