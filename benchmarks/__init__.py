"""Benchmarks of qpsolve (run ``python -m benchmarks`` from the repository root).

The harness lives in :mod:`qpsolve.bench` so that ``qpsolve bench`` works from
an installed package too; this package is a thin wrapper around it.
"""
