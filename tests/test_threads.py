"""BLAS threads: one inside pdas (large factorisations excepted), the caller's setting after."""

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import qpsolve as qs
from qpsolve.linalg.threads import blas_threads
from qpsolve.bench.harness import build_problem
from qpsolve.solvers import pdas as pdas_backend


def _blas_threads():
    return sorted({lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"})


def test_the_limit_holds_inside_and_is_undone_after():
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        with blas_threads(1):
            assert _blas_threads() == [1]
        assert _blas_threads() == before


def test_pdas_factors_on_one_thread_unless_large(monkeypatch):
    seen = []
    original = pdas_backend.saddle.sla.cho_factor

    def spy(*args, **kwargs):
        seen.append((args[0].shape[0], _blas_threads()))
        return original(*args, **kwargs)

    monkeypatch.setattr(pdas_backend.saddle.sla, "cho_factor", spy)
    prob = build_problem("gaussian2", 128)
    with threadpool_limits(limits=2, user_api="blas"):
        outside = _blas_threads()
        monkeypatch.setattr(pdas_backend.constants, "PARALLEL_CHOLESKY", 10**9)
        res = qs.solve(prob, solver="pdas")
        assert res.success
        assert seen and all(threads == [1] for _, threads in seen)
        # A factorisation at least PARALLEL_CHOLESKY large gets the caller's threads back.
        seen.clear()
        monkeypatch.setattr(pdas_backend.constants, "PARALLEL_CHOLESKY", 1)
        again = qs.solve(prob, solver="pdas")
        assert again.success
        assert any(threads == outside for _, threads in seen)
        assert _blas_threads() == outside
    np.testing.assert_allclose(again.x, res.x, rtol=0, atol=1e-9 * np.abs(res.x).max())


def test_results_do_not_depend_on_the_limit():
    prob = build_problem("gaussian2", 64)
    xs = []
    for limit in (1, None):
        with blas_threads(limit):
            res = qs.solve(prob, solver="pdas")
        assert res.success
        xs.append(res.x)
    np.testing.assert_allclose(xs[0], xs[1], rtol=0, atol=1e-9 * np.abs(xs[1]).max())
