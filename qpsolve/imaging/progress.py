"""A progress bar per colour channel for untiled solves (``dequantize(..., progress=True)``).

A whole-photograph channel is one certified QP that takes minutes at 12 Mpx.
Its solver reports its gap once per iteration through
:func:`qpsolve.linalg.threads.progress_scope`; :func:`channel_bar` turns
those reports into a tqdm bar on stderr.

The bar measures how far the gap has come on a log scale:
``log10(first / current) / log10(first / tol)``, the first value being the
fine level's first report of the running solver.  The solvers converge
about linearly in that measure (each ``tnnmg`` step divides the gap by a
roughly steady factor until the tail), so the bar's pace and tqdm's
remaining-time estimate mean something; a linear scale would sit at 100 %
after the first steps.  The bar only moves forward (the gap of a projected
method is not monotone step by step).  Coarse levels of a coarse-to-fine
start only give the next level its start point and take a small part of
the time: they show in the description, the bar waits for the fine level.
When a solver hands over (``pdas`` to ``tnnmg`` or ``pcg``, or to its
projected-Newton fallback) the bar starts again from the new solver's first
gap: what it shows is how far the running solver is.  ``pdas`` reports its
largest bound violation between certificates (its iterates leave the box
until the end), measured against the violation at which it starts to
polish and certify.
"""

from __future__ import annotations

import contextlib
import math
import sys
import threading
import time

from ..linalg.threads import progress_scope

__all__ = ["ChannelBar", "channel_bar", "close_bars", "solve_with_bar"]

#: seconds between redraws of a bar (tqdm's own default)
REFRESH = 0.1
#: seconds between redraws while no report comes (a Newton step of a 12-Mpx channel takes seconds,
#: a coarse-to-fine start's set-up longer): the elapsed time keeps moving, so the program is seen to work
TICK = 1.0
#: the bar's length in units (integers: float sums overshoot tqdm's total)
TOTAL = 1000
#: the share of the bar a violation measure can fill (``pdas`` before its certificate): reaching the
#: violation at which it polishes is not yet a certified answer; the certificate's gap fills the rest
VIOLATION_SHARE = 0.9

_open = {}  # the bars open now, in any thread -> the thread that opened it (close_bars ends them)
_open_lock = threading.Lock()


def _fraction(first, current, target):
    """How far ``current`` is from ``first`` towards ``target`` on a log scale, in ``[0, 1]``.

    Examples
    --------
    >>> _fraction(1e-2, 1e-5, 1e-8)
    0.5
    >>> _fraction(1e-2, 0.0, 1e-8), _fraction(1e-9, 1e-9, 1e-8), _fraction(1e-2, 1.0, 1e-8)
    (1.0, 1.0, 0.0)

    A value that is no number says nothing (no progress):

    >>> _fraction(1e-2, float("nan"), 1e-8), _fraction(float("nan"), 1e-9, 1e-8)
    (0.0, 0.0)
    """
    if math.isnan(first) or math.isnan(current) or math.isnan(target):
        return 0.0
    if not current > target or not first > target:
        return 1.0
    if not (math.isfinite(first) and math.isfinite(current)) or current >= first:
        return 0.0
    # logarithms apart: first / current overflows for gaps near the largest float
    return min(1.0, (math.log10(first) - math.log10(current)) / (math.log10(first) - math.log10(target)))


class ChannelBar:
    """The callback of a :func:`~qpsolve.linalg.threads.progress_scope` that draws one channel's bar.

    Parameters
    ----------
    bar : tqdm.tqdm
        The bar to drive, ``total`` :data:`TOTAL`.
    label : str
        The channel's name, first in the description.
    """

    def __init__(self, bar, label):
        self.bar, self.label = bar, label
        self.solver = None  # the solver whose fine level the bar shows
        self.first = {}  # measure -> its first fine-level value for that solver
        self.done = 0.0  # the furthest fraction reached
        self.last_draw = 0.0

    def __call__(self, p):
        try:
            self._report(p)
        except Exception:  # drawing must never end a solve (the stream under it is _Quiet's)
            pass

    def _report(self, p):
        if p.stage == "fine":
            if p.solver != self.solver:
                if self.solver is not None:
                    self.bar.reset(total=TOTAL)  # a hand-over: the new solver starts from its own gap
                self.solver, self.first, self.done = p.solver, {}, 0.0
            if math.isfinite(p.gap):  # a NaN or infinite report moves nothing (nor becomes the first)
                first = self.first.setdefault(p.measure, p.gap)
                share = VIOLATION_SHARE if p.measure == "violation" else 1.0
                self.done = max(self.done, share * _fraction(first, p.gap, p.tol))
            # set, not update(): tqdm's remaining time then comes from the average pace since the
            # fine level began (in the log measure about steady), not from the last few steps
            self.bar.n = int(TOTAL * self.done)
            what = f"{p.solver}, {p.measure} {p.gap:.1e} -> {p.tol:.0e}"
        else:
            what = f"{p.solver}, coarse level {p.n} px, {p.measure} {p.gap:.1e}"
        self.bar.set_description_str(f"{self.label} {what}", refresh=False)
        now = time.monotonic()
        if now - self.last_draw >= REFRESH:
            self.last_draw = now
            self.bar.refresh()

    def finish(self):
        """Fill the bar (the solve ended and was certified)."""
        self.done = 1.0
        self.bar.n = TOTAL
        try:
            self.bar.refresh()
        except Exception:  # as in __call__
            pass


@contextlib.contextmanager
def channel_bar(progress, label):
    """A tqdm bar (stderr) following the solves of this thread inside the block, with ``progress``.

    Yields the :class:`ChannelBar`, or ``None`` when ``progress`` is false
    (then nothing is drawn and no scope is opened).  The bar is closed
    however the block ends: finished, failed or cancelled.

    Parameters
    ----------
    progress : bool
        Draw the bar at all.
    label : str
        The channel's name (``"channel 1"``).
    """
    if not progress or sys.stderr is None:  # pythonw, a service: nowhere to draw
        yield None
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=TOTAL, desc=f"{label} starting", leave=False, file=_Quiet(sys.stderr),
               bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")
    with _open_lock:
        _open[bar] = threading.get_ident()
    stop = threading.Event()
    ticker = threading.Thread(target=_tick, args=(bar, stop), name=f"qpsolve-bar-{label}", daemon=True)
    ticker.start()
    try:
        hook = ChannelBar(bar, label)
        with progress_scope(hook):
            yield hook
    finally:
        stop.set()
        ticker.join()
        with _open_lock:
            _open.pop(bar, None)
        bar.close()


class _Quiet:
    """The stream under a bar: writes that fail (a closed or vanished stderr: cron, ``nohup``, ``2>&-``)
    are dropped, and the bar stops writing.

    tqdm draws under a global lock that it does not release when its stream raises; every other bar
    and the solving threads then wait on it for good.  Nothing raised here, nothing is left locked.
    """

    def __init__(self, stream):
        self.stream, self.broken = stream, False

    def write(self, text):
        if not self.broken:
            try:
                self.stream.write(text)
            except Exception:
                self.broken = True

    def flush(self):
        if not self.broken:
            try:
                self.stream.flush()
            except Exception:
                self.broken = True


def solve_with_bar(progress, label, run):
    """``run()`` (a solve returning a :class:`~qpsolve.SolveResult`) inside :func:`channel_bar`; the bar
    is filled when the result is certified.

    Examples
    --------
    >>> import qpsolve as qs
    >>> prob = qs.BoxQP(qs.energy_matrix((16, 16), "biharmonic", "odd"), 0.0, 1.0)
    >>> solve_with_bar(False, "image", lambda: qs.solve(prob)).success
    True
    """
    with channel_bar(progress, label) as bar:
        res = run()
        if bar is not None and res.success:
            bar.finish()
    return res


def _tick(bar, stop):
    """Redraw ``bar`` every :data:`TICK` seconds until ``stop`` is set (tqdm draws under its own lock;
    a closed bar draws nothing)."""
    while not stop.wait(TICK):
        try:
            bar.refresh()
        except Exception:  # as in ChannelBar: a bar that cannot draw stays still
            pass


def close_bars(threads=None):
    """Close the bars still open that the ``threads`` (idents; ``None``: any thread) opened.

    For an interrupt: the channel threads stop only at their solvers' next
    check, which may come after the process has gone.
    """
    with _open_lock:
        bars = [bar for bar, owner in _open.items() if threads is None or owner in threads]
        for bar in bars:
            del _open[bar]
    for bar in bars:
        bar.close()
