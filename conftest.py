"""Test-session set-up shared by tests/ and the doctests in qpsolve/."""

import os
import signal

import pytest

# Threaded BLAS on a small, shared machine makes the many tiny dense products of
# the tests and solvers orders of magnitude slower; one thread is what we measure.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

# A run started in the background by a non-interactive shell (``nohup python -m pytest &``) inherits
# SIGINT ignored, and the tests that press Ctrl-C (on this process, or on a command they start) saw
# nothing happen; Python's own handler makes them independent of how the suite was started.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="module")
def client():
    """A real Dask ``LocalCluster`` of two process workers, one per test module that asks for it."""
    import distributed  # only the modules that use a cluster pay for the import

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=40) as lc, distributed.Client(lc) as c:
        yield c
