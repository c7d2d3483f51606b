"""The fine-level kernels of ``qpsolve.linalg.gridmg.TypedStencil`` against plain Python loops that do
the same floating-point operations in the lexicographic order, one pixel at a time: the sweeps go
over row pairs and the interior stencil is an unrolled tuple (gridmg._pair_lag, _interior), and
neither may change a single bit of what the lexicographic sweep computes.

The references here read the stencil table entry by entry in its own order (the order the kernels
sum in) and share no code with the kernels.
"""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from qpsolve.linalg import gridmg
from qpsolve.model.operators import GridSpec

MODELS = [("biharmonic", "odd"), ("biharmonic", "even"), ("thin-plate", "odd"), ("laplace", "even"),
          ("triharmonic", "odd"), ("mixed", "even"), ("biharmonic", "periodic"), ("triharmonic", "periodic")]


def _row_sum(ts, v, i, j, start, sign, before=None, skip=None):
    """``start + sign * sum_k c_k v[neighbour k]`` over the class stencil of ``(i, j)`` in table order
    (only the neighbours before flat index ``before`` when given, none where ``skip`` is true)."""
    n, m, r = ts.n, ts.m, ts.r
    ti = gridmg._cls(i, n, r, ts.periodic)
    tj = gridmg._cls(j, m, r, ts.periodic)
    s = start
    for k in range(int(ts.cnt[ti, tj])):
        i2, j2 = i + int(ts.oa[ti, tj, k]), j + int(ts.ob[ti, tj, k])
        if ts.periodic:
            i2, j2 = i2 % n, j2 % m
        if (before is not None and i2 * m + j2 >= before) or (skip is not None and skip[i2 * m + j2]):
            continue
        term = float(ts.cv[ti, tj, k]) * float(v[i2 * m + j2])
        s = s - term if sign < 0 else s + term
    return s, float(ts.dg[ti, tj])


def _pixels(n, m, reverse, r=None, periodic=False):
    """Lexicographic order, or with ``r`` the order of the sweep plan (blocks of rows, then the strips between
    them: gridmg._sweep_plan, which gives one block unless ``gridmg.SWEEP_BLOCKS`` asks for more)."""
    rows = range(n)
    if r is not None:
        blocks, strips = gridmg._sweep_plan(n, r, periodic)
        rows = [i for a, b in blocks + strips for i in range(a, b)]
    order = [(i, j) for i in rows for j in range(m)]
    return order[::-1] if reverse else order


class _Blocks:
    """``gridmg.SWEEP_BLOCKS`` set for a ``with`` block (hypothesis tests cannot take pytest's monkeypatch)."""

    def __init__(self, blocks):
        self.blocks = blocks

    def __enter__(self):
        self.old, gridmg.SWEEP_BLOCKS = gridmg.SWEEP_BLOCKS, self.blocks

    def __exit__(self, *exc):
        gridmg.SWEEP_BLOCKS = self.old


def _python_pgs(ts, x, lo, hi, q, reverse):
    x = x.copy()
    moved = 0
    for i, j in _pixels(ts.n, ts.m, reverse, ts.r, ts.periodic):
        p = i * ts.m + j
        s, d = _row_sum(ts, x, i, j, float(q[p]), 1)
        if d <= 0.0:
            continue
        old = float(x[p])
        v = min(max(old - s / d, float(lo[p])), float(hi[p]))
        moved += ((old <= lo[p]) or (old >= hi[p])) != ((v <= lo[p]) or (v >= hi[p]))
        x[p] = v
    return x, moved


def _python_gs(ts, v, b, free, reverse, zero):
    v = v.copy()
    for i, j in _pixels(ts.n, ts.m, reverse, ts.r, ts.periodic):
        p = i * ts.m + j
        if not free[p]:
            continue
        s, d = _row_sum(ts, v, i, j, float(b[p]), -1, before=p if zero else None)
        if d <= 0.0:
            continue
        v[p] = float(v[p]) + s / d
    return v


def _python_matvec(ts, x, free=None):
    """``P x``, or ``D P D x`` as the kernel forms it: zero rows, and the terms of held neighbours left out."""
    out = np.zeros(ts.n * ts.m)
    held = np.zeros(ts.n * ts.m, bool) if free is None else free == 0
    xs = x.copy()
    xs[held] = np.nan  # a held neighbour's term must not be added (NaN would show it)
    for i, j in _pixels(ts.n, ts.m, False):
        if not held[i * ts.m + j]:
            out[i * ts.m + j] = _row_sum(ts, xs, i, j, 0.0, 1, skip=held)[0]
    return out


def _case(model, bc, n, m, seed):
    ts = gridmg.TypedStencil(GridSpec((n, m), model, bc, alpha=0.7, beta=1.3).energy())
    rng = np.random.default_rng(seed)
    N = n * m
    lo = rng.uniform(-1.0, 0.5, N)
    hi = lo + rng.uniform(0.0, 1.5, N)
    pinned = rng.random(N) < 0.1  # pinned pixels: lower == upper
    hi[pinned] = lo[pinned]
    x = np.clip(rng.normal(scale=0.8, size=N), lo, hi)
    return ts, rng, x, lo, hi


sizes = st.integers(min_value=8, max_value=31)  # TypedStencil needs axes of 8 or more
# rows enough for SWEEP_BLOCKS = 4 to split a sweep into blocks and strips (4 (4 r + 8) rows, r <= 3)
rows = st.one_of(sizes, st.integers(min_value=80, max_value=97))
blocks = st.sampled_from([1, 4])


@settings(max_examples=40, deadline=None)
@given(model=st.sampled_from(MODELS), n=rows, m=sizes, seed=st.integers(0, 2**16), reverse=st.booleans(),
       nb=blocks)
def test_projected_sweep_is_the_lexicographic_sweep_bit_for_bit(model, n, m, seed, reverse, nb):
    ts, rng, x, lo, hi = _case(*model, n, m, seed)
    q = rng.normal(size=n * m)
    got = x.copy()
    with _Blocks(nb):
        ref, moved_ref = _python_pgs(ts, x, lo, hi, q, reverse)
        moved = ts.projected_gauss_seidel(got, lo, hi, q, reverse=reverse)
    assert np.array_equal(got, ref)
    assert moved == moved_ref


@settings(max_examples=40, deadline=None)
@given(model=st.sampled_from(MODELS), n=rows, m=sizes, seed=st.integers(0, 2**16), reverse=st.booleans(),
       zero=st.booleans(), nb=blocks)
def test_linear_sweep_on_the_free_pixels_is_the_lexicographic_sweep_bit_for_bit(model, n, m, seed, reverse, zero, nb):
    ts, rng, _, _, _ = _case(*model, n, m, seed)
    free = (rng.random(n * m) > 0.3).astype(np.uint8)
    b = rng.normal(size=n * m) * free
    v = np.zeros(n * m) if zero else rng.normal(size=n * m) * free
    got = v.copy()
    with _Blocks(nb):
        # the kernel skips the zeros ahead only in a forward sweep in one block (gridmg._zero_ahead)
        zero_skips = gridmg._zero_ahead(zero, reverse, n, ts.r, ts.periodic)
        ref = _python_gs(ts, v, b, free, reverse, zero_skips)
        ts.gauss_seidel(got, b, free, reverse=reverse, zero=zero)
    assert np.array_equal(got, ref)


@settings(max_examples=25, deadline=None)
@given(model=st.sampled_from(MODELS), n=sizes, m=sizes, seed=st.integers(0, 2**16))
def test_product_is_the_table_order_sum_bit_for_bit(model, n, m, seed):
    ts, rng, x, _, _ = _case(*model, n, m, seed)
    assert np.array_equal(ts.matvec(x), _python_matvec(ts, x))
    free = (rng.random(n * m) > 0.3).astype(np.uint8)
    assert np.array_equal(ts.matvec(x, free=free), _python_matvec(ts, x, free))


def test_a_grid_model_without_energy_gives_zero_products_and_leaves_sweeps_alone():
    # the mixed model with alpha = beta = 0 is P = 0: no stencil entry (an empty interior stencil)
    ts = gridmg.TypedStencil(GridSpec((12, 10), "mixed", "odd", alpha=0.0, beta=0.0).energy())
    x = np.random.default_rng(2).normal(size=120)
    assert np.array_equal(ts.matvec(x), np.zeros(120))
    y = x.copy()
    assert ts.projected_gauss_seidel(y, x - 1, x + 1, np.ones(120)) == 0
    ts.gauss_seidel(y, np.ones(120), np.ones(120, np.uint8))
    assert np.array_equal(y, x)


@pytest.mark.parametrize("model,bc", MODELS)
def test_interior_tuples_are_the_interior_class_in_table_order(model, bc):
    ts = gridmg.TypedStencil(GridSpec((40, 23), model, bc).energy())
    fo, ci, fz, cz = ts._interior()
    r = ts.r
    kc = int(ts.cnt[r, r])
    short = kc <= gridmg.UNROLL_MAX  # tuples (unrolled) up to UNROLL_MAX entries, arrays beyond
    assert isinstance(fo, tuple) == short and isinstance(ci, tuple) == short
    assert tuple(fo) == tuple(int(ts.oa[r, r, k]) * 23 + int(ts.ob[r, r, k]) for k in range(kc))
    assert tuple(ci) == tuple(float(ts.cv[r, r, k]) for k in range(kc))
    assert tuple(fz) == tuple(o for o in fo if o < 0) and tuple(cz) == tuple(ci)[:len(fz)]
    # a resized table (tnnmg's coarse levels) gets offsets for its own width
    small = ts.resized((30, 19))
    assert tuple(small._interior()[0]) == tuple(int(ts.oa[r, r, k]) * 19 + int(ts.ob[r, r, k]) for k in range(kc))


# ---------------------------------------------------------------- a user's lattice matrix (issue #20)
def _lattice(n, m, R, seed, full_reach):
    """A random stencil array: every offset of radius ``R`` used (``full_reach``), or the 13-point plate's
    (rows +-1 reach columns +-1 only); a positive centre, some zero coefficients."""
    rng = np.random.default_rng(seed)
    W = 2 * R + 1
    A = rng.normal(scale=0.2, size=(n * m, W * W))
    if not full_reach:
        for a in range(W):
            for b in range(W):
                if abs(a - R) + abs(b - R) > R:
                    A[:, a * W + b] = 0.0
    A[rng.random(A.shape) < 0.05] = 0.0
    A[:, R * W + R] = np.abs(A).sum(axis=1) + rng.uniform(0.1, 1.0, n * m)
    A[rng.random(n * m) < 0.03, R * W + R] = 0.0  # pixels without a diagonal are skipped
    return gridmg.LatticeStencil(A, (n, m), R), rng


def _lattice_row_sum(ls, v, i, j):
    """``sum_k A[p, k] v[neighbour k]`` over the stored offsets in their order, neighbours outside skipped."""
    n, m, R = ls.n, ls.m, ls.r
    W = 2 * R + 1
    p = i * m + j
    s = 0.0
    for a in range(W):
        for b in range(W):
            c = float(ls.A[p, a * W + b])
            i2, j2 = i + a - R, j + b - R
            if not np.any(ls.A[:, a * W + b] != 0.0) or not (0 <= i2 < n and 0 <= j2 < m):
                continue
            s = s + c * float(v[i2 * m + j2])
    return s


lattice_sizes = st.integers(min_value=1, max_value=31)


@settings(max_examples=30, deadline=None)
@given(n=lattice_sizes, m=lattice_sizes, R=st.integers(1, 4), seed=st.integers(0, 2**16), reverse=st.booleans(),
       full=st.booleans(), project=st.booleans())
# grids where both rows of a pair are interior for some steps (n >= 2R + 2, m >= 3R + 1), every stencil reaching
# the next row's column +-R: the only case where the order of a pair's two updates within a step matters
@example(n=12, m=16, R=1, seed=1, reverse=False, full=True, project=True)
@example(n=13, m=16, R=2, seed=2, reverse=True, full=True, project=False)
@example(n=12, m=16, R=3, seed=3, reverse=False, full=True, project=False)
@example(n=13, m=16, R=4, seed=4, reverse=True, full=True, project=True)
def test_lattice_sweep_is_the_lexicographic_sweep_bit_for_bit(n, m, R, seed, reverse, full, project):
    ls, rng = _lattice(n, m, R, seed, full)
    N = n * m
    W = 2 * R + 1
    lo = rng.uniform(-1.0, 0.0, N)
    hi = lo + rng.uniform(0.0, 2.0, N)
    v = np.clip(rng.normal(size=N), lo, hi)
    b = rng.normal(size=N)
    free = np.zeros(0, np.uint8) if project else (rng.random(N) > 0.3).astype(np.uint8)
    ref = v.copy()
    for i, j in _pixels(n, m, reverse):
        p = i * m + j
        d = float(ls.A[p, R * W + R])
        if (free.size and not free[p]) or d <= 0.0:
            continue
        t = float(ref[p]) + (float(b[p]) - _lattice_row_sum(ls, ref, i, j)) / d
        ref[p] = min(max(t, float(lo[p])), float(hi[p])) if project else t
    got = v.copy()
    if project:
        ls.projected_gauss_seidel(got, lo, hi, -b, reverse=reverse)
    else:
        ls.gauss_seidel(got, b, free, reverse=reverse)
    assert np.array_equal(got, ref)


@settings(max_examples=30, deadline=None)
@given(n=lattice_sizes, m=lattice_sizes, R=st.integers(1, 4), seed=st.integers(0, 2**16), full=st.booleans())
def test_lattice_product_is_the_offset_order_sum_bit_for_bit(n, m, R, seed, full):
    ls, rng = _lattice(n, m, R, seed, full)
    x = rng.normal(size=n * m)
    ref = np.array([_lattice_row_sum(ls, x, i, j) for i, j in _pixels(n, m, False)])
    assert np.array_equal(ls.matvec(x), ref)
    free = (rng.random(n * m) > 0.3).astype(np.uint8)
    xf = x * free  # LatticeStencil.matvec(free=) is D P D x formed as D (P (D x))
    ref = np.array([_lattice_row_sum(ls, xf, i, j) for i, j in _pixels(n, m, False)]) * free
    assert np.array_equal(ls.matvec(x, free=free), ref)


def test_a_lattice_matrix_without_entries_is_zero():
    ls = gridmg.LatticeStencil(np.zeros((20 * 18, 25)), (20, 18), 2)
    x = np.random.default_rng(1).normal(size=20 * 18)
    assert np.array_equal(ls.matvec(x), np.zeros(20 * 18))
    assert ls.projected_gauss_seidel(x.copy(), x - 1, x + 1, np.zeros(20 * 18)) == 0
