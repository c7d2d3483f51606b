"""Constrained coarse corrections of ``pcg`` (qpsolve/linalg/monotone.py): feasible, monotone, exact boxes."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import qpsolve as qs
import qpsolve.solvers.pcg as pcg
from qpsolve.bench.matrix_problems import build_matrix_problem
from qpsolve.linalg.amg import Hierarchy, near_null_space
from qpsolve.linalg.monotone import AggregateLevels, SmoothedLevels, restrict_box


def _energy(P, q, x):
    return 0.5 * x @ (P @ x) + q @ x


def _random_problem(rng, n):
    G = sp.random(n, n, density=min(1.0, 4.0 / n), random_state=rng)
    P = (G @ G.T + sp.diags(rng.uniform(0, 1e-2, n))).tocsr()
    q = 3 * rng.normal(size=n)
    lo = rng.uniform(-1, 0, n)
    hi = lo + rng.uniform(0, 2, n) * (rng.random(n) < 0.9)  # some pinned variables
    x = np.clip(rng.normal(size=n), lo, hi)
    return P, q, lo, hi, x


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 30), st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_restrict_box_is_exact(n, count, seed):
    rng = np.random.default_rng(seed)
    agg = rng.integers(-1, count, n)
    lower = rng.uniform(-2, 0, n)
    upper = lower + rng.uniform(0, 3, n)
    x = lower + rng.random(n) * (upper - lower)
    lo, hi = restrict_box(agg, count, lower, upper, x)
    for j in range(count):  # the box of each aggregate, variable by variable
        members = np.flatnonzero(agg == j)
        if members.size == 0:
            assert lo[j] == hi[j] == 0.0
            continue
        assert lo[j] == max(lower[i] - x[i] for i in members)
        assert hi[j] == min(upper[i] - x[i] for i in members)
    # any correction inside the coarse box keeps x feasible (up to one rounding)
    c = lo + rng.random(count) * (hi - lo)
    for corner in (lo, hi, c):
        y = x + np.where(agg >= 0, corner[np.maximum(agg, 0)], 0.0)
        assert np.all(y >= lower - 1e-12) and np.all(y <= upper + 1e-12)


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 40), st.integers(0, 2**31 - 1), st.booleans())
def test_coarse_corrections_never_raise_the_energy_nor_leave_the_box(n, seed, smoothed):
    rng = np.random.default_rng(seed)
    P, q, lo, hi, x = _random_problem(rng, n)
    m = max(1, n // 3)
    agg = rng.integers(0, m, n)
    if smoothed:
        # a prolongator of mixed signs and overlapping columns, then a second level
        P0 = sp.random(n, m, density=0.4, random_state=rng, data_rvs=lambda k: rng.normal(size=k))
        P1 = sp.random(m, max(1, m // 2), density=0.5, random_state=rng, data_rvs=lambda k: rng.normal(size=k))
        levels = SmoothedLevels(P, [P0, P1])
    else:
        levels = AggregateLevels(P, [agg, rng.integers(0, max(1, m // 2), agg.max() + 1)])
    e = _energy(P, q, x)
    for k in range(levels.levels):
        levels.correct_level(k, P, q, lo, hi, x, sweeps=3)
        if not smoothed:  # the aggregates' correction itself stays in the box (only round-off is clipped)
            assert levels.last_violation <= 1e-9 * max(1.0, float(np.max(np.abs(x))))
        assert np.all(x >= lo) and np.all(x <= hi)
        e_new = _energy(P, q, x)
        assert e_new <= e + 1e-10 * max(1.0, abs(e))
        e = e_new


def test_one_aggregate_lifts_a_whole_held_region():
    # P = graph Laplacian of a path (+ 1e-6 I: constants cost almost nothing), q pulls every
    # variable up, all start on the lower bound: one aggregate of everything moves them all by
    # the largest feasible amount, min(hi - x) = 3 (the unconstrained coarse minimiser is 1000).
    n = 50
    P = sp.diags([-np.ones(n - 1), np.r_[1.0, 2 * np.ones(n - 2), 1.0], -np.ones(n - 1)], [-1, 0, 1]).tocsr()
    P = (P + 1e-6 * sp.identity(n)).tocsr()
    q = -1e-3 * np.ones(n)
    lo = np.zeros(n)
    hi = 3.0 + np.linspace(0, 1, n)
    x = lo.copy()
    AggregateLevels(P, [np.zeros(n, dtype=int)]).correct(P, q, lo, hi, x)
    assert np.allclose(x, 3.0)
    assert _energy(P, q, x) < 0


def test_smoothed_levels_follow_zero_curvature_directions_to_the_bound():
    # The same path without the shift: the coarse operator of the constant column is exactly 0.
    n = 20
    P = sp.diags([-np.ones(n - 1), np.r_[1.0, 2 * np.ones(n - 2), 1.0], -np.ones(n - 1)], [-1, 0, 1]).tocsr()
    q = -np.ones(n)
    x, lo, hi = np.zeros(n), np.zeros(n), np.full(n, 2.0)
    levels = SmoothedLevels(P, [sp.csr_matrix(np.ones((n, 1)))])
    assert levels.A[0].nnz == 0 or abs(levels.A[0].toarray()).max() == 0.0
    levels.correct_level(0, P, q, lo, hi, x)
    assert np.allclose(x, 2.0)
    x, hi = np.zeros(n), np.full(n, np.inf)  # unbounded downhill: left alone, not sent to infinity
    levels.correct_level(0, P, q, lo, hi, x)
    assert np.all(x == 0.0)


def test_smoothed_correction_on_a_plate_hierarchy_is_monotone_and_feasible():
    prob = build_matrix_problem("plate-textured", 48)
    H = Hierarchy(prob.P, near_null_space(prob.P))
    levels = SmoothedLevels(prob.P, H.prolongators)
    assert levels.levels == H.levels - 1 >= 1
    for Q, A in zip(levels.Q, levels.A):  # Galerkin operators of the composite prolongators
        v = np.random.default_rng(1).normal(size=Q.shape[1])
        assert np.isclose(v @ (A @ v), (Q @ v) @ (prob.P @ (Q @ v)))
    x = prob.start_point()
    e0 = _energy(prob.P, prob.q, x)
    levels.correct(prob.P, prob.q, prob.lower, prob.upper, x)
    assert np.all(x >= prob.lower) and np.all(x <= prob.upper)
    assert _energy(prob.P, prob.q, x) < e0


@pytest.mark.parametrize("space", ["smoothed", "aggregates"])
def test_pcg_with_each_coarse_space_matches_clarabel(monkeypatch, space):
    monkeypatch.setattr(pcg, "COARSE_SPACE", space)
    prob = build_matrix_problem("plate-textured", 40)
    res = qs.solve(prob, solver="pcg", preconditioner="amg")
    ref = qs.solve(prob, solver="cvxpy")
    assert res.success and ref.success, (res.message, ref.message)
    assert np.all(res.x >= prob.lower) and np.all(res.x <= prob.upper)
    assert abs(res.objective - ref.objective) <= 1e-6 * max(1.0, abs(ref.objective))
