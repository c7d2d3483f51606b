"""Solves off the page's script thread.

Streamlit runs the page's script on a thread per visitor and re-runs it on
every click; a solve of a large photograph takes seconds to minutes, so it
runs here instead, on one worker thread shared by all sessions (a local tool
on a small machine: two solves side by side would only share the cores).  The
page keeps the :class:`Job` and polls it: its state, the time since it
started, and the result or the error message once it has finished.
"""

from __future__ import annotations

import concurrent.futures
import sys
import threading
import time
import traceback

__all__ = ["Job", "submit"]

_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="qpsolve-web-solve")
_LOCK = threading.Lock()


class Job:
    """One submitted solve.

    Attributes
    ----------
    state : str
        ``'queued'``, ``'running'``, ``'done'`` or ``'failed'``.
    result : object
        What the function returned (``'done'``).
    error : str
        The message of the exception it raised (``'failed'``), for the page.

    Examples
    --------
    >>> job = submit(lambda: 6 * 7)
    >>> job.wait(10).state, job.result
    ('done', 42)
    >>> bad = submit(lambda: int("seven")).wait(10)
    >>> bad.state, bad.error
    ('failed', "invalid literal for int() with base 10: 'seven'")
    """

    def __init__(self, fn):
        self._fn = fn
        self.state = "queued"
        self.result = None
        self.error = None
        self.error_type = None
        self.submitted = time.monotonic()
        self.started = None
        self.finished = None
        self._done = threading.Event()

    def _run(self):
        with _LOCK:
            self.state, self.started = "running", time.monotonic()
        try:
            value = self._fn()
        except Exception as exc:  # reported on the page in words, never as a traceback
            if not isinstance(exc, (ValueError, TypeError, OSError, MemoryError)):
                traceback.print_exc(file=sys.stderr)  # a bug: the details go to the terminal only
            with _LOCK:
                self.error, self.error_type = str(exc) or type(exc).__name__, type(exc).__name__
                self.state = "failed"
        else:
            with _LOCK:
                self.result, self.state = value, "done"
        finally:
            self.finished = time.monotonic()
            self._done.set()

    @property
    def finished_ok(self):
        return self.state == "done"

    @property
    def over(self):
        """True once the job has finished, either way."""
        return self._done.is_set()

    def elapsed(self):
        """Seconds spent running so far (or in all, once finished); 0 while queued."""
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started

    def wait(self, timeout=None):
        """Block until the job has finished (or ``timeout`` seconds); return the job."""
        self._done.wait(timeout)
        return self


def submit(fn):
    """Run ``fn()`` on the worker thread; return its :class:`Job` at once."""
    job = Job(fn)
    _POOL.submit(job._run)
    return job
