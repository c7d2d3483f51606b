"""Coarse levels that keep each distinct stencil row once (``gridmg._Level.share_rows``): the monotone
hierarchy of a whole grid operator must give the same numbers, bit for bit, as the full tables it
replaces, and must actually share on grid operators (else the memory it saves at 12 Mpx is not saved).
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from qpsolve.linalg import gridmg
from qpsolve.model.operators import GridSpec

MODELS = [("biharmonic", "odd"), ("biharmonic", "even"), ("thin-plate", "odd"), ("laplace", "even"),
          ("triharmonic", "odd"), ("mixed", "even"), ("biharmonic", "periodic")]


def _unshared(ts, monkeypatch):
    """The same hierarchy with every level's full table (sharing off)."""
    with monkeypatch.context() as mp:
        mp.setattr(gridmg, "SHARED_ROWS", 0)
        return gridmg.MonotoneHierarchy(ts, smooth=2)


def _firm_reference(dlo, dhi, push, lower, upper, firm):
    """The firm-obstacle rule as MonotoneHierarchy.vcycle wrote it before it was made to save memory."""
    with np.errstate(invalid="ignore"):
        limit = np.where(np.isfinite(upper - lower), firm * (upper - lower), np.inf)
    dhi[(dlo >= 0) & (-push > limit)] = 0.0
    dlo[(dhi <= 0) & (push > limit)] = 0.0


def test_distinct_rows_rebuild_the_table_bit_for_bit():
    rng = np.random.default_rng(1)
    rows = rng.normal(size=(7, 25))
    rows[3] = -0.0 * rows[3]  # -0.0 and 0.0 are different bits: kept apart
    rows[4] = 0.0
    ix = rng.integers(0, 7, size=500)
    A = rows[ix]
    got, gix = gridmg._distinct_rows(A, 16)
    assert got.shape[0] == np.unique(ix).size
    assert np.array_equal(got[gix].view(np.uint64), A.view(np.uint64))
    assert gridmg._distinct_rows(A, 3) is None  # too many distinct rows: keep the table


def test_a_hash_collision_keeps_the_full_table(monkeypatch):
    A = np.arange(12.0).reshape(4, 3)
    monkeypatch.setattr(gridmg, "_row_hashes", lambda bits: np.zeros(bits.shape[0], np.uint64))
    assert gridmg._distinct_rows(A, 4) is None


@pytest.mark.parametrize("model,bc", MODELS)
def test_the_monotone_levels_of_a_grid_operator_are_shared(model, bc):
    ts = gridmg.TypedStencil(GridSpec((96, 80), model, bc, alpha=0.7, beta=1.3).energy())
    mh = gridmg.MonotoneHierarchy(ts, smooth=2)
    first = mh.levels[0]
    assert first.ix.size == first.n * first.m and first.A.shape[0] <= 100


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(MODELS), st.integers(33, 80), st.integers(33, 80), st.integers(0, 2**32 - 1))
def test_shared_levels_give_the_v_cycle_of_the_full_tables_bit_for_bit(case, n, m, seed):
    model, bc = case
    ts = gridmg.TypedStencil(GridSpec((n, m), model, bc, alpha=0.7, beta=1.3).energy())
    with pytest.MonkeyPatch.context() as mp:
        full = _unshared(ts, mp)
    shared = gridmg.MonotoneHierarchy(ts, smooth=2)
    assert any(lvl.ix.size for lvl in shared.levels) and not any(lvl.ix.size for lvl in full.levels)
    for a, b in zip(shared.levels, full.levels):
        assert np.array_equal(a.full().view(np.uint64), b.A.view(np.uint64))
    rng = np.random.default_rng(seed)
    lo = rng.integers(0, 8, size=n * m).astype(float)
    hi = lo + rng.choice([0.5, 1.0, 4.0], size=n * m)
    q = rng.normal(size=n * m)
    x0 = rng.uniform(lo, hi)
    xa, xb = x0.copy(), x0.copy()
    for _ in range(2):
        shared.vcycle(xa, lo, hi, q, firm=0.1)
        full.vcycle(xb, lo, hi, q, firm=0.1)
    assert np.array_equal(xa, xb) and not np.array_equal(xa, x0)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40), st.sampled_from([0.0, 0.1, 1.0]), st.integers(0, 2**32 - 1))
def test_the_firm_obstacles_are_the_rule_written_out(n, firm, seed):
    # infinite bins (either side), pinned pixels (U == L), pixels on and off their bounds, pushes of
    # either sign, zero and NaN: the in-place rule must zero exactly the rooms the plain formula zeroes
    rng = np.random.default_rng(seed)
    lower = rng.choice([-np.inf, 0.0, 1.0, 2.0], size=n)
    width = np.where(rng.random(n) < 0.2, 0.0, rng.choice([0.5, 1.0, np.inf], size=n))  # 0: pinned
    upper = np.where(np.isfinite(lower), np.where(np.isfinite(lower), lower, 0.0) + width, rng.choice([np.inf, 3.0], size=n))
    inside = np.where(np.isfinite(lower), lower, np.where(np.isfinite(upper), upper - 1.0, 0.0))
    at = rng.integers(0, 3, size=n)  # on the lower bound, on the upper bound, or inside
    x = np.where((at == 0) & np.isfinite(lower), lower, np.where((at == 1) & np.isfinite(upper), upper, inside))
    assert np.all((lower <= x) & (x <= upper)) and not np.isnan(upper).any()
    push = rng.choice([-3.0, -0.2, -0.0, 0.0, 0.05, 0.2, 3.0, np.nan], size=n)
    got_lo, got_hi = lower - x, upper - x
    ref_lo, ref_hi = got_lo.copy(), got_hi.copy()
    gridmg._firm_obstacles(got_lo, got_hi, push, lower, upper, firm)
    _firm_reference(ref_lo, ref_hi, push, lower, upper, firm)
    assert np.array_equal(got_lo, ref_lo, equal_nan=True) and np.array_equal(got_hi, ref_hi, equal_nan=True)


def test_the_firm_obstacles_take_scalar_and_integer_bounds():
    dlo, dhi = np.array([0.0, -1.0]), np.array([2.0, 0.0])
    gridmg._firm_obstacles(dlo, dhi, np.array([-1.0, 1.0]), 0, np.array([2, 1]), 0.1)
    assert dlo.tolist() == [0.0, 0.0] and dhi.tolist() == [0.0, 0.0]
