"""Semi-coarsening of the Galerkin hierarchies (issue #20, ``plate-aniso``): strongly anisotropic levels coarsen
only their strongly coupled axis (identity transfer on the other)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from qpsolve.linalg import gridmg
from qpsolve.linalg.gridmg import LatticeStencil, MonotoneHierarchy, TruncatedHierarchy, TypedStencil
from qpsolve.linalg.lattice import find_lattice, stencil_array
from qpsolve.model.operators import GridSpec
from qpsolve.model.plates import anisotropic_plate, smooth_stiffness, weighted_plate


def _lattice(P):
    lat, _ = find_lattice(P)
    assert lat is not None and getattr(lat, "order", None) is None
    return LatticeStencil(stencil_array(P, lat.shape, lat.radius), lat.shape, lat.radius)


def _axis_matrix(nf, nc, par, w):
    """The dense 1-D prolongation ``T[i, I]`` of a parent table (written out here, not by the code under test)."""
    T = np.zeros((nf, nc))
    for i in range(nf):
        for k in range(par.shape[1]):
            if par[i, k] >= 0:
                T[i, par[i, k]] += w[i, k]
    return T


def _dense(ts_or_A, n, m, R, periodic=False):
    """A fine level or a variable-stencil array as a dense matrix, by products with unit vectors / entry by entry."""
    N = n * m
    if isinstance(ts_or_A, np.ndarray):
        W = 2 * R + 1
        D = np.zeros((N, N))
        for p in range(N):
            i, j = divmod(p, m)
            for k in range(W * W):
                i2, j2 = i + k // W - R, j + k % W - R
                if periodic:
                    i2, j2 = i2 % n, j2 % m
                elif not (0 <= i2 < n and 0 <= j2 < m):
                    continue
                D[p, i2 * m + j2] += ts_or_A[p, k]
        return D
    E = np.eye(N)
    return np.column_stack([ts_or_A.matvec(E[:, k]) for k in range(N)])


def _check_first_level(fine, h, free, semi_axis, alive=None):
    """The first coarse level of ``h`` against ``T^T D A D T`` with ``T`` from its transfer tables, which must be
    the identity on the axis that is not coarsened."""
    n, m = fine.n, fine.m
    lvl, tr = h.levels[0], h.transfers[0]
    Ti = _axis_matrix(n, lvl.n, tr.pi, tr.wi)
    Tj = _axis_matrix(m, lvl.m, tr.pj, tr.wj)
    if semi_axis == 0:
        assert lvl.n < n and lvl.m == m and np.array_equal(Tj, np.eye(m))
    else:
        assert lvl.m < m and lvl.n == n and np.array_equal(Ti, np.eye(n))
    T = np.kron(Ti, Tj)
    Df = np.diag(free.astype(float))
    C = T.T @ Df @ _dense(fine, n, m, fine.r, fine.periodic) @ Df @ T
    if alive is not None:
        C = C * np.outer(alive, alive)
    got = _dense(lvl.A, lvl.n, lvl.m, lvl.R, lvl.periodic)
    assert np.allclose(got, C, rtol=0, atol=1e-11 * np.abs(C).max())
    return lvl


@settings(max_examples=25, deadline=None)
@given(st.integers(18, 26), st.integers(18, 26), st.sampled_from([0.05, 0.1, 8.0, 20.0]), st.integers(0, 2**32 - 1),
       st.sampled_from(["even", "odd"]))
def test_a_semi_coarsened_lattice_level_is_the_dense_triple_product_with_the_identity_on_one_axis(n, m, ratio, seed,
                                                                                                 bc):
    # ratio < 1: the columns (d_xx) are the stiff axis, > 1 the rows; only that axis is coarsened
    ls = _lattice(anisotropic_plate((n, m), ratio, bc))
    free = (np.random.default_rng(seed).random(n * m) > 0.3).astype(np.uint8)
    h = TruncatedHierarchy(ls, free, order=1, drop=False)
    lvl = _check_first_level(ls, h, free, 0 if ratio > 1 else 1)
    # the next level, from the variable-stencil kernels (_var_galerkin), against its own dense triple product
    if len(h.levels) > 1:
        nxt, tr = h.levels[1], h.transfers[1]
        T = np.kron(_axis_matrix(lvl.n, nxt.n, tr.pi, tr.wi), _axis_matrix(lvl.m, nxt.m, tr.pj, tr.wj))
        C = T.T @ _dense(lvl.A, lvl.n, lvl.m, lvl.R) @ T
        assert np.allclose(_dense(nxt.A, nxt.n, nxt.m, nxt.R), C, rtol=0, atol=1e-11 * np.abs(C).max())


@pytest.mark.parametrize("drop", [False, True])
@pytest.mark.parametrize("n, m, ratio", [(19, 21, 0.1), (21, 19, 10.0), (20, 21, 0.1), (21, 20, 10.0)])
def test_the_first_semi_coarsened_level_with_dropped_nodes_is_the_dense_triple_product(n, m, ratio, drop):
    # drop=True on an odd (or not coarsened) axis pair kills the coarse nodes whose own fine pixel is held:
    # their rows and columns of T^T D A D T are left out; an even coarsened axis keeps every node
    ls = _lattice(anisotropic_plate((n, m), ratio, "even"))
    free = (np.random.default_rng(1).random(n * m) > 0.3).astype(np.uint8)
    axis = 0 if ratio > 1 else 1
    h = TruncatedHierarchy(ls, free, order=1, drop=drop)
    lvl = h.levels[0]
    if drop and (n, m)[axis] % 2 == 1:
        want = free.reshape(n, m)[::2, :] if axis == 0 else free.reshape(n, m)[:, ::2]
        assert not want.all()
    else:
        want = np.ones((lvl.n, lvl.m), np.uint8)
    assert np.array_equal(h.alive, want.ravel())
    _check_first_level(ls, h, free, axis, alive=want.ravel())


@pytest.mark.parametrize("order", [1, 3])
@pytest.mark.parametrize("bc", ["odd", "even", "periodic"])
@pytest.mark.parametrize("model", ["laplace", "biharmonic", "triharmonic", "thin-plate"])
def test_an_isotropic_grid_models_hierarchy_coarsens_both_axes_at_every_level(model, bc, order):
    # isotropic means unchanged: the plan of full coarsening, level by level, as before semi-coarsening
    for shape in [(64, 48), (33, 70)]:
        ts = TypedStencil(GridSpec(shape, model, bc).energy())
        assert gridmg._coarsening_plan(ts, order) == gridmg._full_plan(*shape, bc == "periodic", order)
        h = TruncatedHierarchy(ts, np.ones(shape[0] * shape[1], np.uint8), order=order)
        n, m = shape
        for lvl in h.levels:
            assert lvl.n < n and lvl.m < m
            n, m = lvl.n, lvl.m


@pytest.mark.parametrize("bc", ["odd", "even"])
@pytest.mark.parametrize("shape", [(8, 512), (12, 600), (512, 8), (16, 512), (64, 48), (33, 70)])
def test_a_weighted_plates_hierarchy_is_the_full_coarsening_one_thin_plates_included(shape, bc):
    # a variable stiffness (smooth, or rough pixel by pixel) and the borders of thin plates do not make a
    # plate anisotropic: its plan is full coarsening (none at all when a side is below MIN_SIDE)
    rough = np.random.default_rng(0).uniform(0.2, 5.0, shape)
    for w in (smooth_stiffness(shape), rough):
        ls = _lattice(weighted_plate(shape, w, bc))
        for order in (1, 3):
            assert gridmg._coarsening_plan(ls, order) == gridmg._full_plan(*shape, False, order), (w is rough, order)


@pytest.mark.parametrize("frac", [0.2, 0.6])
def test_rows_held_as_identity_rows_do_not_hide_the_anisotropy_of_the_coupled_ones(frac):
    # plate-aniso with a band of pixels held by identity rows (their couplings removed, their diagonal kept):
    # a decoupled row adds the same to both axes' zigzag sums; counted, 60 % of them made the plate look
    # isotropic and lose semi-coarsening on its fine level
    S = 64
    P = anisotropic_plate((S, S), 0.1, "even")
    held = np.zeros((S, S), bool)
    held[:, :int(frac * S)] = True
    keep = sp.diags((~held).ravel().astype(float))
    Q = (keep @ P @ keep + sp.diags(held.ravel() * P.diagonal())).tocsr()
    ls = _lattice(Q)
    assert np.count_nonzero(ls.A[:, [k for k in range(25) if k != 12]].any(axis=1) == 0) == held.sum()
    assert gridmg._coarsening_plan(ls, 1)[0] == (False, True)  # the stiff axis (columns) only
    h = TruncatedHierarchy(ls, np.ones(S * S, np.uint8), order=1, drop=False)
    assert (h.levels[0].n, h.levels[0].m) == (S, S // 2)


@pytest.mark.parametrize("bc", ["odd", "even", "periodic"])
@pytest.mark.parametrize("axis", [0, 1])
def test_a_grid_operators_galerkin_products_with_one_axis_not_coarsened_are_the_dense_triple_product(bc, axis):
    # grid models are isotropic (their hierarchies never semi-coarsen): the semi-coarsened transfer is handed to
    # the stencil table's kernels directly, with every node alive (one axis at a time) and with some dead (the
    # direct loop), against the dense product
    n, m = 17, 20
    ts = TypedStencil(GridSpec((n, m), "biharmonic", bc).energy())
    periodic = bc == "periodic"
    rng = np.random.default_rng(axis)
    free = (rng.random(n * m) > 0.25).astype(np.uint8)
    nc, pi, wi, Ri = gridmg._axis_transfer(n, ts.r, periodic, axis == 0, 1)
    mc, pj, wj, Rj = gridmg._axis_transfer(m, ts.r, periodic, axis == 1, 1)
    Rc = max(Ri, Rj)
    assert (nc, mc) == ((9, m) if axis == 0 else (n, 10))
    T = np.kron(_axis_matrix(n, nc, pi, wi), _axis_matrix(m, mc, pj, wj))
    Df = np.diag(free.astype(float))
    C = T.T @ Df @ _dense(ts, n, m, ts.r) @ Df @ T
    for alive in (np.ones(nc * mc, np.uint8), (rng.random(nc * mc) > 0.2).astype(np.uint8)):
        out = np.zeros((nc * mc, (2 * Rc + 1) ** 2))
        ts.galerkin(free, pi, wi, pj, wj, nc, mc, Rc, alive, out)
        # the direct loop keeps the rows of alive nodes only, with their columns at alive nodes
        want = C * np.outer(alive, alive) if not alive.all() else C
        assert np.allclose(_dense(out, nc, mc, Rc, periodic), want, rtol=0, atol=1e-11 * np.abs(C).max())


def _vcycle_factor(h, A_F, b, cycles=12, tail=6):
    x = np.zeros_like(b)
    norms = []
    for _ in range(cycles):
        x += h.vcycle(b - A_F(x))
        norms.append(float(np.linalg.norm(b - A_F(x))))
    return (norms[-1] / norms[-1 - tail]) ** (1.0 / tail)


def test_semi_coarsening_makes_the_v_cycle_of_an_anisotropic_plate_converge_where_full_coarsening_does_not(
        monkeypatch):
    # plate-aniso's operator (D = 0.1 d_xx + d_yy, even) with a fifth of the pixels held, as in a Newton step.
    # The bounds sit between the factors measured with and without semi-coarsening (same smoother, 2 sweeps;
    # benchmarks/results/amg/notes-session11-aniso.md).
    S = 128
    ls = _lattice(anisotropic_plate((S, S), 0.1, "even"))
    rng = np.random.default_rng(0)
    free = (rng.random(S * S) >= 0.2).astype(np.uint8)
    b = ls.matvec(rng.normal(size=S * S), free=free)

    def A_F(x):
        return ls.matvec(x, free=free)

    h = TruncatedHierarchy(ls, free, smooth=2, order=1, drop=False)
    assert (h.levels[0].n, h.levels[0].m) == (S, S // 2)  # the stiff axis (columns) only
    semi = _vcycle_factor(h, A_F, b)
    monkeypatch.setattr(gridmg, "ANISO", np.inf)  # full coarsening everywhere
    full_ls = _lattice(anisotropic_plate((S, S), 0.1, "even"))  # a new fine level: plans are cached per level
    hf = TruncatedHierarchy(full_ls, free, smooth=2, order=1, drop=False)
    assert (hf.levels[0].n, hf.levels[0].m) == (S // 2, S // 2)
    full = _vcycle_factor(hf, A_F, b)
    assert semi < 0.55 < 0.7 < full, (semi, full)


@settings(max_examples=20, deadline=None)
@given(st.integers(20, 40), st.integers(20, 40), st.sampled_from([0.05, 0.1, 10.0]), st.integers(0, 2**32 - 1),
       st.integers(1, 2), st.booleans())
def test_a_semi_coarsened_monotone_v_cycle_never_raises_the_energy_nor_leaves_the_box(n, m, ratio, seed, smooth,
                                                                                     truncated):
    ls = _lattice(anisotropic_plate((n, m), ratio, "even"))
    rng = np.random.default_rng(seed)
    lo = rng.integers(0, 4, size=n * m).astype(float)
    hi = lo + rng.choice([0.5, 1.0, 3.0], size=n * m)
    q = rng.normal(size=n * m) * 0.1
    mh = MonotoneHierarchy(ls, smooth=smooth, semi=True)
    assert mh.levels and (mh.levels[0].n == n) != (mh.levels[0].m == m)  # one axis kept
    x = rng.uniform(lo, hi)

    def energy(v):
        return 0.5 * float(v @ ls.matvec(v)) + float(q @ v)

    E0 = energy(x)
    for _ in range(6):
        th = None
        if truncated:
            held = (x <= lo) | (x >= hi)
            th = TruncatedHierarchy(ls, (~held).astype(np.uint8), order=1, drop=False)
        x = mh.vcycle(x, lo, hi, q, truncated=th)
        assert np.all((lo <= x) & (x <= hi))
        if not truncated:
            assert mh.last_violation <= 1e-12 * max(1.0, float(np.abs(hi).max()))
        E = energy(x)
        assert E <= E0 + 1e-12 * max(1.0, abs(E0))
        E0 = E


@settings(max_examples=25, deadline=None)
@given(st.integers(18, 34), st.integers(18, 34), st.sampled_from([0.05, 0.1, 10.0]), st.integers(0, 2**32 - 1),
       st.floats(0.0, 0.5), st.floats(0.001, 0.3))
def test_a_semi_coarsened_hierarchys_update_equals_its_rebuild(n, m, ratio, seed, held, flip):
    ls = _lattice(anisotropic_plate((n, m), ratio, "even"))
    rng = np.random.default_rng(seed)
    f0 = (rng.random(n * m) >= held).astype(np.uint8)
    f1 = np.where(rng.random(n * m) < flip, 1 - f0, f0).astype(np.uint8)
    a = TruncatedHierarchy(ls, f0, order=1, drop=False).update(f1)
    b = TruncatedHierarchy(ls, f1, order=1, drop=False)
    assert (a.levels[0].n == n) != (a.levels[0].m == m)
    assert [(x.n, x.m) for x in a.levels] == [(y.n, y.m) for y in b.levels]
    for x, y in zip(a.levels, b.levels):
        assert np.allclose(x.A, y.A, rtol=0, atol=1e-11 * max(1.0, float(np.abs(y.A).max())))
