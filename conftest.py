"""Test-session set-up shared by tests/ and the doctests in qpsolve/."""

import os

# Threaded BLAS on a small, shared machine makes the many tiny dense products of
# the tests and solvers orders of magnitude slower; one thread is what we measure.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
