"""The threaded grid kernels (``qpsolve.linalg.rowpool``, blocked sweeps and gathering transfers in
``qpsolve.linalg.gridmg``), against dense numpy references built here from the assembled matrix and
the parent tables, and for independence from the number of threads.
"""

import multiprocessing

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qpsolve.linalg import gridmg, rowpool
from qpsolve.model.operators import GridSpec

from grid_transfers import dense_transfer

MODELS = [("biharmonic", "odd"), ("biharmonic", "even"), ("thin-plate", "odd"), ("laplace", "odd"),
          ("triharmonic", "odd"), ("mixed", "even"), ("biharmonic", "periodic"), ("laplace", "periodic")]


def _order(n, m, r, periodic, reverse):
    """Pixel order of a sweep by the plan: blocks of rows, then the strips between them (reverse: all reversed)."""
    blocks, strips = gridmg._sweep_plan(n, r, periodic)
    rows = [i for a, b in blocks + strips for i in range(a, b)]
    order = np.array([i * m + j for i in rows for j in range(m)])
    return order[::-1] if reverse else order


@pytest.fixture(params=[1, 4], ids=["lexicographic", "4-blocks"])
def blocks(request, monkeypatch):
    """Sweeps in one block (the default) and in the four-block order threads may share."""
    monkeypatch.setattr(gridmg, "SWEEP_BLOCKS", request.param)
    return request.param


@pytest.fixture
def threads():
    """Restore the thread count after a test that changes it."""
    old = rowpool.set_threads(None)
    yield rowpool.set_threads
    rowpool.set_threads(old)


@pytest.mark.parametrize("model,bc", MODELS)
@pytest.mark.parametrize("n", [64, 97, 200])
def test_blocks_and_strips_of_a_sweep_do_not_couple(model, bc, n, blocks):
    grid = GridSpec((n, 20), model, bc, alpha=0.7, beta=1.3)
    ts = gridmg.TypedStencil(grid.energy())
    blocks, strips = gridmg._sweep_plan(n, ts.r, ts.periodic)
    parts = blocks + strips
    assert sorted(i for a, b in parts for i in range(a, b)) == list(range(n))
    part = np.empty(n, int)
    for k, (a, b) in enumerate(parts):
        part[a:b] = k
    P = grid.matrix().tocoo()
    pi, pk = part[P.row // 20], part[P.col // 20]
    for group in (blocks, strips):
        ids = [k for k, ab in enumerate(parts) if ab in group]
        inside = np.isin(pi, ids) & np.isin(pk, ids)
        assert not np.any(inside & (pi != pk)), "two parts of one phase are coupled"
    if bc != "periodic" and n >= gridmg.SWEEP_BLOCKS * (4 * ts.r + 8):
        assert len(blocks) == gridmg.SWEEP_BLOCKS


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("model,bc", [("biharmonic", "odd"), ("thin-plate", "even"), ("laplace", "odd"),
                                      ("biharmonic", "periodic")])
def test_projected_sweep_is_textbook_gauss_seidel_in_plan_order(model, bc, reverse, blocks):
    grid = GridSpec((90, 13), model, bc)
    ts = gridmg.TypedStencil(grid.energy())
    P = grid.matrix().toarray()
    N = P.shape[0]
    rng = np.random.default_rng(4)
    lo, hi = rng.uniform(0, 1, N), rng.uniform(1, 2, N)
    q = rng.normal(size=N)
    x = rng.uniform(0, 2, N)
    ref = x.copy()
    before = (ref <= lo) | (ref >= hi)
    for i in _order(ts.n, ts.m, ts.r, ts.periodic, reverse):
        ref[i] = np.clip(ref[i] - (P[i] @ ref + q[i]) / P[i, i], lo[i], hi[i])
    moved = ts.projected_gauss_seidel(x, lo, hi, q, reverse=reverse)
    assert np.allclose(x, ref, rtol=0, atol=1e-12)
    assert moved == int(np.count_nonzero(before != ((ref <= lo) | (ref >= hi))))


@pytest.mark.parametrize("reverse", [False, True])
def test_truncated_sweep_is_textbook_gauss_seidel_on_the_free_pixels(reverse, blocks):
    grid = GridSpec((97, 12), "biharmonic", "odd")
    ts = gridmg.TypedStencil(grid.energy())
    P = grid.matrix().toarray()
    N = P.shape[0]
    rng = np.random.default_rng(5)
    free = (rng.random(N) > 0.3).astype(np.uint8)
    A = P * free[:, None] * free[None, :]
    b = rng.normal(size=N) * free
    v = rng.normal(size=N) * free
    ref = v.copy()
    for i in _order(ts.n, ts.m, ts.r, ts.periodic, reverse):
        if free[i]:
            ref[i] += (b[i] - A[i] @ ref) / A[i, i]
    ts.gauss_seidel(v, b, free, reverse=reverse)
    assert np.allclose(v, ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("reverse", [False, True])
def test_coarse_sweeps_are_textbook_gauss_seidel_in_plan_order(reverse, blocks):
    # a variable-stencil level of radius 2: a random symmetric diagonally dominant 25-point operator
    n, m, R = 80, 11, 2
    rng = np.random.default_rng(6)
    N, W = n * m, 2 * R + 1
    dense = np.zeros((N, N))
    for p in range(N):
        i, j = divmod(p, m)
        for a in range(W):
            for b in range(W):
                i2, j2 = i + a - R, j + b - R
                if 0 <= i2 < n and 0 <= j2 < m and i2 * m + j2 > p:
                    dense[p, i2 * m + j2] = dense[i2 * m + j2, p] = rng.normal(scale=0.1)
    dense += np.diag(np.abs(dense).sum(axis=1) + 1.0)
    A = np.zeros((N, W * W))
    for p in range(N):
        i, j = divmod(p, m)
        for a in range(W):
            for b in range(W):
                i2, j2 = i + a - R, j + b - R
                if 0 <= i2 < n and 0 <= j2 < m:
                    A[p, a * W + b] = dense[p, i2 * m + j2]
    rhs, lo, hi = rng.normal(size=N), -rng.random(N), rng.random(N)
    v = np.zeros(N)
    gridmg._var_pgs(A, v, rhs, lo, hi, n, m, R, False, reverse)
    ref = np.zeros(N)
    for p in _order(n, m, R, False, reverse):
        ref[p] = np.clip(ref[p] + (rhs[p] - dense[p] @ ref) / dense[p, p], lo[p], hi[p])
    assert np.allclose(v, ref, rtol=0, atol=1e-12)
    v = np.zeros(N)
    gridmg._var_gs(A, v, rhs, n, m, R, False, reverse)
    ref = np.zeros(N)
    for p in _order(n, m, R, False, reverse):
        ref[p] += (rhs[p] - dense[p] @ ref) / dense[p, p]
    assert np.allclose(v, ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("nthreads", [1, 2])
@pytest.mark.parametrize("shape,periodic,order", [((24, 30), False, 1), ((21, 18), False, 3), ((24, 24), True, 3),
                                                  ((33, 16), False, 1)])
def test_gathering_transfers_equal_dense_products(shape, periodic, order, nthreads, threads, monkeypatch):
    # small grids take the threaded kernels only below the hand-over threshold: one thread is the
    # serial scatter, two the gathering restriction
    monkeypatch.setattr(gridmg, "MIN_WORK", 0)
    monkeypatch.setattr(rowpool, "MIN_WORK", 0)
    threads(nthreads)
    n, m = shape
    nc, pi, wi, Mi = dense_transfer(n, periodic, order)
    mc, pj, wj, Mj = dense_transfer(m, periodic, order)
    T = np.kron(Mi, Mj)  # fine (i, j) from coarse (I, J), row-major
    tr = gridmg._Transfer(pi, wi, pj, wj, nc, mc)
    rng = np.random.default_rng(6)
    r = rng.normal(size=n * m)
    free = (rng.random(n * m) > 0.3).astype(np.uint8)
    alive = (rng.random(nc * mc) > 0.2).astype(np.uint8)
    out = np.zeros(nc * mc)
    tr.restrict(r, free, m, alive, out)
    assert np.allclose(out, alive * (T.T @ (free * r)), rtol=0, atol=1e-12)
    out = np.zeros(nc * mc)
    tr.restrict(r, np.zeros(0, np.uint8), m, np.zeros(0, np.uint8), out)
    assert np.allclose(out, T.T @ r, rtol=0, atol=1e-12)
    vc = rng.normal(size=nc * mc)
    v = r.copy()
    gridmg._prolong(vc, free, n, m, tr, mc, alive, v)
    assert np.allclose(v, r + free * (T @ (alive * vc)), rtol=0, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 40), m=st.integers(2, 40), periodic=st.booleans(), monotone=st.booleans(),
       masks=st.booleans(), seed=st.integers(0, 2**16))
def test_two_parent_transfers_give_the_general_kernels_bits(n, m, periodic, monotone, masks, seed):
    # _restrict2 / _prolong_add_rows2 write out the loops over two parents per axis; they must add the same
    # terms in the same order as the general kernels (tnnmg's step counts react to rounding-level changes)
    rule = (lambda k: dense_transfer(k, periodic, monotone=True)) if monotone else \
        (lambda k: dense_transfer(k, periodic, 1))
    nc, pi, wi, _ = rule(n)
    mc, pj, wj, _ = rule(m)
    assert pi.shape[1] == pj.shape[1] == 2
    rng = np.random.default_rng(seed)
    r = rng.normal(size=n * m)
    r[rng.random(n * m) < 0.1] = 0.0
    none = np.zeros(0, np.uint8)
    free = (rng.random(n * m) > 0.3).astype(np.uint8) if masks else none
    alive = (rng.random(nc * mc) > 0.2).astype(np.uint8) if masks else none
    a = rng.normal(size=nc * mc)
    b = a.copy()
    gridmg._restrict(r, free, n, m, pi, wi, pj, wj, mc, alive, a)
    gridmg._restrict2(r, free, n, m, pi, wi, pj, wj, mc, alive, b)
    assert np.array_equal(a, b)
    vc = rng.normal(size=nc * mc)
    u, w = r.copy(), r.copy()
    gridmg._prolong_add_rows(vc, free, n, m, pi, wi, pj, wj, mc, alive, u, 0, n)
    gridmg._prolong_add_rows2(vc, free, n, m, pi, wi, pj, wj, mc, alive, w, 0, n)
    assert np.array_equal(u, w)


@pytest.mark.parametrize("shape", [(24, 30), (21, 18)])
def test_gathered_obstacles_are_the_max_and_min_over_each_support(shape):
    n, m = shape
    nc, pi, wi, Mi = dense_transfer(n, False, 1, monotone=True)
    mc, pj, wj, Mj = dense_transfer(m, False, 1, monotone=True)
    T = np.kron(Mi, Mj)
    tr = gridmg._Transfer(pi, wi, pj, wj, nc, mc)
    rng = np.random.default_rng(7)
    lo = -rng.random(n * m)
    hi = rng.random(n * m)
    lo_c, hi_c = np.full(nc * mc, -np.inf), np.full(nc * mc, np.inf)
    tr.restrict_obstacles(lo, hi, m, lo_c, hi_c)
    for c in range(nc * mc):
        support = T[:, c] > 0
        assert lo_c[c] == lo[support].max() and hi_c[c] == hi[support].min()


def test_kernels_give_the_same_bits_on_one_thread_and_on_two(threads, blocks):
    # 256^2 is above rowpool.MIN_WORK, so two threads really split the rows.
    grid = GridSpec((256, 256), "biharmonic", "odd")
    ts = gridmg.TypedStencil(grid.energy())
    rng = np.random.default_rng(8)
    N = 256 * 256
    x0, q = rng.uniform(0, 2, N), rng.normal(size=N)
    lo, hi = rng.uniform(0, 1, N), rng.uniform(1, 2, N)
    free = (rng.random(N) > 0.3).astype(np.uint8)
    b = rng.normal(size=N) * free
    runs = []
    for k in (1, 2):
        threads(k)
        x = x0.copy()
        moved = ts.projected_gauss_seidel(x, lo, hi, q)
        v = np.zeros(N)
        ts.gauss_seidel(v, b, free)
        h = gridmg.TruncatedHierarchy(ts, free, smooth=2, order=1, drop=False)
        mh = gridmg.MonotoneHierarchy(ts, smooth=2)
        y = mh.vcycle(x.copy(), lo, hi, q)
        runs.append((x, moved, v, ts.matvec(x), h.vcycle(b), y))
    for a, c in zip(*runs):
        assert np.array_equal(a, c)


def test_bad_thread_counts_are_named(monkeypatch, threads):
    with pytest.raises(ValueError, match="set_threads: n"):
        rowpool.set_threads(0)
    monkeypatch.setenv("QPSOLVE_THREADS", "two")
    threads(None)
    with pytest.raises(ValueError, match="QPSOLVE_THREADS must be a positive integer, got 'two'"):
        rowpool.threads()
    monkeypatch.setenv("QPSOLVE_THREADS", "2")
    threads(None)
    assert rowpool.threads() == 2


def _child_matvec(x):
    grid = GridSpec((256, 256), "biharmonic", "odd")
    return gridmg.TypedStencil(grid.energy()).matvec(x)


def test_a_forked_child_runs_the_threaded_kernels(threads):
    # tiles fork their workers; the parent's pool threads do not exist in a child
    threads(2)
    x = np.random.default_rng(9).normal(size=256 * 256)
    here = _child_matvec(x)  # starts the parent's pool
    with multiprocessing.get_context("fork").Pool(1) as pool:
        there = pool.apply_async(_child_matvec, (x,)).get(timeout=120)
    assert np.array_equal(here, there)
