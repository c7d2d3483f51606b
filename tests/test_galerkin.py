"""The one-axis-at-a-time Galerkin kernels (``qpsolve.linalg.galerkin``) and the coarse-level products of
``qpsolve.linalg.gridmg``, against dense triple products and scipy.sparse products built here from the
assembled matrix and explicit transfer matrices (``grid_transfers.dense_transfer``).
"""

import numpy as np
import pytest
import scipy.sparse as sp

from qpsolve.linalg import galerkin, gridmg, rowpool
from qpsolve.model.operators import GridSpec

from grid_transfers import dense_transfer


def _entries(n, m, R, periodic):
    """``(row, stencil slot, column)`` of every entry of a radius-``R`` variable stencil that lies on
    the grid (wrapped when periodic), in row-major order (a plain loop, independent of the kernels)."""
    W = 2 * R + 1
    for p in range(n * m):
        i, j = divmod(p, m)
        for a in range(W):
            for b in range(W):
                i2, j2 = i + a - R, j + b - R
                if periodic:
                    i2, j2 = i2 % n, j2 % m
                elif not (0 <= i2 < n and 0 <= j2 < m):
                    continue
                yield p, a * W + b, i2 * m + j2


def _stencil_to_dense(A, n, m, R, periodic):
    """The ``n m x n m`` matrix a variable-stencil array stands for."""
    D = np.zeros((n * m, n * m))
    for p, k, col in _entries(n, m, R, periodic):
        D[p, col] += A[p, k]
    return D


def _random_stencil(n, m, R, periodic, rng):
    """A random symmetric variable stencil of radius ``R`` (zero off the grid unless periodic)."""
    W = 2 * R + 1
    A = np.zeros((n * m, W * W))
    for p, k, _ in _entries(n, m, R, periodic):
        A[p, k] = rng.normal()
    # symmetrise through the dense matrix, then read back
    D = _stencil_to_dense(A, n, m, R, periodic)
    D = D + D.T
    out = np.zeros_like(A)
    for p, k, col in _entries(n, m, R, periodic):
        out[p, k] = D[p, col]
    return out


CASES = [((24, 24), "biharmonic", "odd", 1), ((21, 18), "thin-plate", "even", 1), ((20, 22), "mixed", "periodic", 1),
         ((19, 23), "triharmonic", "odd", 3), ((18, 16), "laplace", "even", 3), ((22, 20), "biharmonic", "periodic", 3)]


@pytest.mark.parametrize("shape,model,bc,order", CASES)
@pytest.mark.parametrize("monotone", [False, True])
def test_fine_galerkin_equals_the_dense_triple_product(shape, model, bc, order, monotone):
    grid = GridSpec(shape, model, bc)
    ts = gridmg.TypedStencil(grid.energy())
    n, m = shape
    per = bc == "periodic"
    free = (np.random.default_rng(1).random(n * m) > 0.3).astype(np.uint8)
    nc, pi, wi, Mi = dense_transfer(n, per, order, monotone=monotone)
    mc, pj, wj, Mj = dense_transfer(m, per, order, monotone=monotone)
    T = np.kron(Mi, Mj)
    D = np.diag(free.astype(float))
    expected = T.T @ D @ grid.matrix().toarray() @ D @ T
    o = 1 if monotone else order
    Rc = max(gridmg._coarse_radius(ts.r, n, per, o), gridmg._coarse_radius(ts.r, m, per, o))
    out = np.zeros((nc * mc, (2 * Rc + 1) ** 2))
    ci, wci = galerkin.children(pi, wi, nc)
    galerkin.galerkin_fine(ts.cnt, ts.oa, ts.ob, ts.cv, free, n, m, ts.r, per, pi, wi, pj, wj, ci, wci, nc, mc, Rc,
                           out)
    got = _stencil_to_dense(out, nc, mc, Rc, per)
    assert np.allclose(got, expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    # and through the fine level's method, with every coarse node alive
    again = np.zeros_like(out)
    ts.galerkin(free, pi, wi, pj, wj, nc, mc, Rc, np.ones(nc * mc, np.uint8), again)
    assert np.array_equal(again, out)


@pytest.mark.parametrize("n,m,R,periodic,order", [(20, 18, 2, False, 1), (17, 21, 2, False, 3), (16, 20, 2, True, 1),
                                                  (15, 12, 1, False, 1), (18, 18, 3, True, 3)])
def test_variable_stencil_galerkin_equals_the_dense_triple_product(n, m, R, periodic, order):
    rng = np.random.default_rng(n * m + R)
    A = _random_stencil(n, m, R, periodic, rng)
    nc, pi, wi, Mi = dense_transfer(n, periodic, order)
    mc, pj, wj, Mj = dense_transfer(m, periodic, order)
    T = np.kron(Mi, Mj)
    expected = T.T @ _stencil_to_dense(A, n, m, R, periodic) @ T
    Rc = max(gridmg._coarse_radius(R, n, periodic, order), gridmg._coarse_radius(R, m, periodic, order))
    out = np.zeros((nc * mc, (2 * Rc + 1) ** 2))
    ci, wci = galerkin.children(pi, wi, nc)
    galerkin.galerkin_var(A, n, m, R, periodic, pi, wi, pj, wj, ci, wci, nc, mc, Rc, out)
    assert np.allclose(_stencil_to_dense(out, nc, mc, Rc, periodic), expected, rtol=0,
                       atol=1e-12 * np.abs(expected).max())


def test_galerkin_rows_give_the_same_bits_on_one_thread_and_on_two():
    # 512 x 256 is above rowpool.MIN_WORK: two threads really split the coarse rows
    grid = GridSpec((512, 256), "biharmonic", "odd")
    ts = gridmg.TypedStencil(grid.energy())
    free = (np.random.default_rng(2).random(512 * 256) > 0.25).astype(np.uint8)
    old = rowpool.set_threads(None)
    try:
        runs = []
        for k in (1, 2):
            rowpool.set_threads(k)
            h = gridmg.TruncatedHierarchy(ts, free, smooth=2, order=1, drop=False)
            runs.append([lvl.A for lvl in h.levels])
    finally:
        rowpool.set_threads(old)
    for a, b in zip(*runs):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("n,m,R,periodic", [(30, 27, 2, False), (26, 31, 2, True), (20, 9, 1, False), (7, 5, 2, False)])
def test_coarse_product_equals_a_sparse_product(n, m, R, periodic):
    # radius 2 takes the unrolled interior path of gridmg._var_dot, the others the loop
    A = _random_stencil(n, m, R, periodic, np.random.default_rng(n + m))
    S = sp.csr_matrix(_stencil_to_dense(A, n, m, R, periodic))
    x = np.random.default_rng(3).normal(size=n * m)
    out = np.empty(n * m)
    gridmg._var_product(A, x, out, n, m, R, periodic)
    ref = S @ x
    assert np.allclose(out, ref, rtol=0, atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize("rebuild", [0.0, np.inf], ids=["coarse-levels-rebuilt", "difference-carried"])
@pytest.mark.parametrize("flip", [0.002, 0.05])
def test_update_equals_a_rebuild_either_way(monkeypatch, rebuild, flip):
    # TruncatedHierarchy.update carries the Galerkin difference down or rebuilds the coarse levels from the
    # updated one above (gridmg.UPDATE_REBUILD); both must give what a hierarchy built on the new set has
    monkeypatch.setattr(gridmg, "UPDATE_REBUILD", rebuild)
    ts = gridmg.TypedStencil(GridSpec((140, 128), "biharmonic", "odd").energy())
    rng = np.random.default_rng(5)
    f0 = (rng.random(140 * 128) > 0.3).astype(np.uint8)
    f1 = np.where(rng.random(140 * 128) < flip, 1 - f0, f0).astype(np.uint8)
    upd = gridmg.TruncatedHierarchy(ts, f0, smooth=2, order=1, drop=False).update(f1)
    ref = gridmg.TruncatedHierarchy(ts, f1, smooth=2, order=1, drop=False)
    assert len(upd.levels) == len(ref.levels) >= 3
    for a, b in zip(upd.levels, ref.levels):
        assert np.allclose(a.A, b.A, rtol=0, atol=1e-11 * max(1.0, float(np.abs(b.A).max())))


@pytest.mark.parametrize("R", [1, 2, 3])
@pytest.mark.parametrize("n", [8, 9, 16, 21, 64, 97])
@pytest.mark.parametrize("periodic", [False, True])
@pytest.mark.parametrize("order", [1, 3])
def test_coarse_radius_is_the_band_of_the_one_dimensional_triple_product(R, n, periodic, order):
    nc, _, _, M = dense_transfer(n, periodic, order)
    i = np.arange(n)
    d = np.abs(i[:, None] - i[None, :])
    if periodic:
        d = np.minimum(d, n - d)
    band = (d <= R).astype(float)  # every coupling within radius R, all positive: nothing cancels
    C = np.abs(M).T @ band @ np.abs(M)
    I, J = np.nonzero(C > 0)
    dc = np.abs(I - J)
    if periodic:
        dc = np.minimum(dc, nc - dc)
    assert gridmg._coarse_radius(R, n, periodic, order) == dc.max()


@pytest.mark.parametrize("model,bc", [("biharmonic", "odd"), ("thin-plate", "even"), ("triharmonic", "odd"),
                                      ("laplace", "periodic"), ("mixed", "periodic")])
@pytest.mark.parametrize("blocks", [1, 4])
def test_sweeps_from_zero_skip_only_zeros(monkeypatch, model, bc, blocks):
    # A first forward sweep from v = 0 may skip the pixels it has not reached (gridmg._zero_ahead):
    # the result must be the full sweep's, bit for bit, in either sweep order
    monkeypatch.setattr(gridmg, "SWEEP_BLOCKS", blocks)
    n, m = 61, 47
    ts = gridmg.TypedStencil(GridSpec((n, m), model, bc).energy())
    rng = np.random.default_rng(9)
    free = (rng.random(n * m) > 0.3).astype(np.uint8)
    b = rng.normal(size=n * m) * free
    full, skip = np.zeros(n * m), np.zeros(n * m)
    ts.gauss_seidel(full, b, free)
    ts.gauss_seidel(skip, b, free, zero=True)
    assert np.array_equal(full, skip)
    per = bc == "periodic"
    for R in (1, 2):
        A = _random_stencil(n, m, R, per, rng)
        A[:, A.shape[1] // 2] = np.abs(A).sum(axis=1) + 1.0  # a positive diagonal: every pixel is swept
        rhs, lo, hi = rng.normal(size=n * m), -rng.random(n * m), rng.random(n * m)
        full, skip = np.zeros(n * m), np.zeros(n * m)
        gridmg._var_gs(A, full, rhs, n, m, R, per, False)
        gridmg._var_gs(A, skip, rhs, n, m, R, per, False, zero=True)
        assert np.array_equal(full, skip)
        full, skip = np.zeros(n * m), np.zeros(n * m)
        gridmg._var_pgs(A, full, rhs, lo, hi, n, m, R, per, False)
        gridmg._var_pgs(A, skip, rhs, lo, hi, n, m, R, per, False, zero=True)
        assert np.array_equal(full, skip)
