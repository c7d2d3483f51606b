"""The ``tnnmg`` backend and its multigrid kernels, cross-checked against independent solvers and formulas.

No expected value comes from tnnmg itself: objectives are compared with Clarabel (through cvxpy),
``pdas`` and ``pcg`` (each certified at the same tolerance, so two optima differ by at most the two
duality gaps); the stencil table and the Galerkin products are compared with the assembled matrix
and with dense products of explicitly built transfer matrices.
"""

import functools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qpsolve as qs
from qpsolve.imaging.data import truncate_bits
from qpsolve.linalg import gridmg
from qpsolve.model.operators import GridSpec
from qpsolve.result import Status

from grid_transfers import dense_transfer

TOL = 1e-8

pytestmark = pytest.mark.filterwarnings("ignore:The default value of raise_error:PendingDeprecationWarning")

#: every model and boundary rule pdas supports
PDAS_CASES = [("biharmonic", "odd"), ("laplace", "odd")] + [
    (model, bc) for bc in ("even", "periodic") for model in ("laplace", "biharmonic", "triharmonic", "thin-plate",
                                                             "mixed")]


def _texture(shape, seed):
    """A textured 8-bit image: smooth shading plus noise, the dense-contact case."""
    rng = np.random.default_rng(seed)
    n, m = shape
    yy, xx = np.mgrid[0:n, 0:m]
    base = 120 + 60 * np.sin(xx / 5.0) * np.cos(yy / 7.0) + rng.normal(0, 25, size=shape)
    return np.clip(base, 0, 255).astype(np.uint8)


def _valid(prob, res):
    x = res.x
    assert x.shape == (prob.n,) and np.isfinite(x).all()
    assert np.all(x >= prob.lower) and np.all(x <= prob.upper), "x left its box"
    assert res.success == (res.status == Status.OPTIMAL)
    assert qs.certificate(prob, x, TOL).optimal == res.success


def _same_objective(res, ref, rel=3 * TOL):
    assert ref.success, f"reference {ref.solver} not certified: {ref.message}"
    assert res.success, res.message
    scale = max(1.0, abs(ref.objective))
    assert abs(res.objective - ref.objective) <= rel * scale, (res.objective, ref.objective)


def _tnnmg(prob, **kw):
    res = qs.solve(prob, solver="tnnmg", **kw)
    assert res.solver == "tnnmg"
    _valid(prob, res)
    return res


# ----------------------------------------------------------------------------- the stencil table


@pytest.mark.parametrize("model,bc", PDAS_CASES + [("triharmonic", "odd"), ("thin-plate", "odd"), ("mixed", "odd")])
@pytest.mark.parametrize("shape", [(8, 8), (13, 21), (40, 33)])
def test_typed_stencil_reproduces_the_assembled_matrix(model, bc, shape):
    grid = GridSpec(shape, model, bc, alpha=0.7, beta=1.3)
    ts = gridmg.TypedStencil(grid.energy())
    P = grid.matrix().tocsr()
    x = np.random.default_rng(1).normal(size=P.shape[0])
    assert np.allclose(ts.matvec(x), P @ x, rtol=0, atol=1e-11 * np.abs(P).max() * np.abs(x).max())
    assert np.array_equal(ts.matvec_diagonal(), P.diagonal())
    free = (np.random.default_rng(2).random(P.shape[0]) > 0.3).astype(np.uint8)
    D = np.diag(free.astype(float))
    assert np.allclose(ts.matvec(x, free=free), D @ (P @ (D @ x)), rtol=0, atol=1e-10)


def test_projected_gauss_seidel_sweep_matches_a_scalar_loop():
    grid = GridSpec((11, 9), "biharmonic", "odd")
    ts = gridmg.TypedStencil(grid.energy())
    P = grid.matrix().toarray()
    rng = np.random.default_rng(4)
    lo, hi = rng.uniform(0, 1, 99), rng.uniform(1, 2, 99)
    q = rng.normal(size=99)
    x = rng.uniform(0, 2, 99)
    ref = x.copy()
    for i in range(99):  # textbook projected Gauss-Seidel, one pixel at a time
        ref[i] = np.clip(ref[i] - (P[i] @ ref + q[i]) / P[i, i], lo[i], hi[i])
    ts.projected_gauss_seidel(x, lo, hi, q)
    assert np.allclose(x, ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("order", [1, 3])
@pytest.mark.parametrize("n", [16, 17, 30, 33])
def test_transfers_reproduce_constants_and_ramps_at_both_ends(n, order):
    # A mirrored plate gives ramps no energy: a coarse space that bends them near either end
    # leaves near-null modes to the smoother.  Least squares on the coarse grid must reproduce
    # 1 and i exactly, every fine index included.
    nc, par, w, M = dense_transfer(n, False, order)
    for target in (np.ones(n), np.arange(n, dtype=float)):
        c = np.linalg.lstsq(M, target, rcond=None)[0]
        assert np.allclose(M @ c, target, atol=1e-10)
    assert nc == (n + 1) // 2


def test_coarse_envelopes_hull_and_overlap_of_hand_made_blocks():
    # Three 2 x 2 blocks side by side (plus an odd column padded by its neighbour): bins that
    # overlap, bins that are apart, and a masked pixel (infinite bin) beside finite ones.
    from qpsolve.solvers.tnnmg import _restrict_envelopes

    inf = np.inf
    lower = np.array([[0.0, 1.0, 0.0, 4.0, -inf, 2.0, 5.0],
                      [0.5, 0.0, 2.0, 6.0, 1.0, 1.0, 5.0]])
    upper = lower + np.array([[2.0, 2.0, 1.0, 1.0, 0.0, 2.0, 1.0],
                              [2.0, 2.0, 1.0, 1.0, 2.0, 2.0, 1.0]])
    upper[0, 4] = inf  # the masked pixel
    lo, hi, shape = _restrict_envelopes(lower.ravel(), upper.ravel(), (2, 7), rule="hull")
    assert shape == (1, 4)
    assert lo.tolist() == [0.0, 0.0, -inf, 5.0] and hi.tolist() == [3.0, 7.0, inf, 6.0]
    lo, hi, shape = _restrict_envelopes(lower.ravel(), upper.ravel(), (2, 7), rule="overlap")
    # block 1: bins [0,2] [1,3] [0.5,2.5] [0,2] meet in [1, 2]; block 2: [0,1] [4,5] [2,3] [6,7] are
    # apart, so the means (3, 4); block 3: the infinite bin does not narrow [2,4] [1,3] [1,3] -> [2, 3];
    # block 4 (the column padded by itself): [5, 6]
    assert lo.tolist() == [1.0, 3.0, 2.0, 5.0] and hi.tolist() == [2.0, 4.0, 3.0, 6.0]
    with pytest.raises(ValueError, match="rule must be 'hull' or 'overlap'"):
        _restrict_envelopes(lower.ravel(), upper.ravel(), (2, 7), rule="mean")


def test_short_steps_retried_keep_the_answer(monkeypatch):
    # RETRY_SHORT = 1: every accepted step is also tried again with its first-clipped pixels held
    # (the better of the two kept); the answer must still be certified by the loop and be the
    # optimum as pdas finds it, on an upscaled crop (wide flat bins, where short steps occur)
    import skimage.data
    from skimage.transform import resize

    from qpsolve.solvers import tnnmg

    img = resize(skimage.data.camera()[150:214, 100:164].astype(float), (128, 128), order=1,
                 anti_aliasing=False, preserve_range=True)
    q = truncate_bits(np.clip(np.rint(img), 0, 255).astype(np.uint8), 3)
    prob = qs.image_problem(q, bits=3)
    searches = []
    arc = tnnmg._arc

    def counting_arc(level, *args):
        out = arc(level, *args)
        if level.n == prob.n:
            searches.append(out[1])
        return out

    monkeypatch.setattr(tnnmg, "_arc", counting_arc)
    monkeypatch.setattr(tnnmg, "RETRY_SHORT", 1.0)
    res = _tnnmg(prob)
    fine = res.info["levels"][-1]
    assert fine["status"] == "optimal"
    assert len(searches) > fine["steps"], "no step was retried"
    _same_objective(res, qs.solve(prob, solver="pdas"))


@pytest.mark.parametrize("bc", ["odd", "even", "periodic"])
@pytest.mark.parametrize("order", [1, 3])
@pytest.mark.parametrize("shape", [(24, 24), (21, 18)])
def test_galerkin_products_equal_dense_triple_products(bc, order, shape):
    grid = GridSpec(shape, "biharmonic", bc)
    ts = gridmg.TypedStencil(grid.energy())
    n, m = shape
    per = bc == "periodic"
    P = grid.matrix().toarray()
    free = (np.random.default_rng(0).random(n * m) > 0.3).astype(np.uint8)
    nc, pi, wi, Mi = dense_transfer(n, per, order)
    mc, pj, wj, Mj = dense_transfer(m, per, order)
    Pr = np.kron(Mi, Mj)
    D = np.diag(free.astype(float))
    expected = Pr.T @ D @ P @ D @ Pr
    R = max(gridmg._coarse_radius(ts.r, n, per, order), gridmg._coarse_radius(ts.r, m, per, order))
    A = np.zeros((nc * mc, (2 * R + 1) ** 2))
    gridmg._fine_galerkin(ts.cnt, ts.oa, ts.ob, ts.cv, free, n, m, ts.r, per, pi, wi, pj, wj, nc, mc, R, per,
                          np.ones(nc * mc, np.uint8), A)
    dense = np.zeros((nc * mc, nc * mc))
    e, col = np.zeros(nc * mc), np.empty(nc * mc)
    for k in range(nc * mc):
        e[k] = 1.0
        gridmg._var_matvec(A, e, col, nc, mc, R, per)
        dense[:, k] = col
        e[k] = 0.0
    assert np.allclose(dense, expected, rtol=0, atol=1e-12 * np.abs(expected).max())


#: grids of the hypothesis tests of the hierarchies: odd and even sides, every boundary rule
GRID_CASES = [((40, 36), "biharmonic", "odd"), ((33, 34), "thin-plate", "even"),
              ((36, 32), "mixed", "periodic"), ((34, 34), "laplace", "even")]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), flip=st.floats(0.0, 0.3),
       case=st.sampled_from(GRID_CASES + [((35, 41), "triharmonic", "odd")]))
def test_hierarchy_update_equals_a_rebuild(seed, flip, case):
    # The coarse operators corrected by the changed pixels' terms must be those a rebuild on
    # the new set computes (levels compared entry by entry; the rebuild is the reference).
    shape, model, bc = case
    ts = gridmg.TypedStencil(GridSpec(shape, model, bc).energy())
    rng = np.random.default_rng(seed)
    n = shape[0] * shape[1]
    f0 = (rng.random(n) > rng.random()).astype(np.uint8)
    f1 = np.where(rng.random(n) < flip, 1 - f0, f0).astype(np.uint8)
    upd = gridmg.TruncatedHierarchy(ts, f0, smooth=2, order=1, drop=False).update(f1)
    ref = gridmg.TruncatedHierarchy(ts, f1, smooth=2, order=1, drop=False)
    assert np.array_equal(upd.free, f1)
    for a, b in zip(upd.levels, ref.levels):
        scale = max(1.0, float(np.abs(b.A).max()))
        assert np.allclose(a.A, b.A, rtol=0, atol=1e-11 * scale)
    r = np.where(f1 == 1, rng.normal(size=n), 0.0)
    assert np.allclose(upd.vcycle(r), ref.vcycle(r), rtol=0, atol=1e-8 * max(1.0, float(np.abs(ref.vcycle(r)).max())))


@pytest.mark.parametrize("model,bc", [("biharmonic", "odd"), ("laplace", "even"), ("thin-plate", "periodic")])
def test_truncated_pcg_solves_the_held_system(model, bc):
    grid = GridSpec((48, 40), model, bc)
    ts = gridmg.TypedStencil(grid.energy())
    free = (np.random.default_rng(5).random(48 * 40) > 0.25).astype(np.uint8)
    h = gridmg.TruncatedHierarchy(ts, free, smooth=2, order=1)
    b = np.where(free == 1, np.random.default_rng(6).normal(size=48 * 40), 0.0)
    v, its = h.pcg(b, rtol=1e-11)
    F = np.flatnonzero(free)
    PFF = grid.matrix().tocsr()[F][:, F].toarray()
    assert np.allclose(v[F], np.linalg.solve(PFF, b[F]), rtol=0, atol=1e-7 * np.abs(v).max())
    assert np.all(v[free == 0] == 0.0)


# ------------------------------------------------------------------- the constrained V-cycle


@pytest.mark.parametrize("periodic", [False, True])
@pytest.mark.parametrize("n", [16, 17, 30, 33])
def test_monotone_transfers_are_a_partition_of_unity_without_negative_weights(n, periodic):
    # Non-negative weights summing to one are what make a correction within the coarse obstacles
    # feasible on the fine grid (a convex combination of values within the fine pixel's room).
    nc, par, w, M = dense_transfer(n, periodic, monotone=True)
    assert np.all(M >= 0.0)
    assert np.allclose(M.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    assert np.linalg.matrix_rank(M) == nc


@pytest.mark.parametrize("bc", ["odd", "even", "periodic"])
@pytest.mark.parametrize("shape", [(20, 17), (24, 24)])
def test_monotone_obstacles_are_the_max_and_min_over_each_support(bc, shape):
    n, m = shape
    per = bc == "periodic"
    nc, pi, wi, Mi = dense_transfer(n, per, monotone=True)
    mc, pj, wj, Mj = dense_transfer(m, per, monotone=True)
    Pr = np.kron(Mi, Mj)
    rng = np.random.default_rng(3)
    lo, hi = -rng.exponential(size=n * m), rng.exponential(size=n * m)
    lo[rng.random(n * m) < 0.3] = 0.0
    hi[rng.random(n * m) < 0.3] = 0.0
    lo_c, hi_c = np.full(nc * mc, -np.inf), np.full(nc * mc, np.inf)
    gridmg._Transfer(pi, wi, pj, wj, nc, mc).restrict_obstacles(lo, hi, m, lo_c, hi_c)
    for c in range(nc * mc):
        support = Pr[:, c] > 0
        assert lo_c[c] == lo[support].max() and hi_c[c] == hi[support].min()
    # Any coarse correction within them stays within the fine obstacles.
    for _ in range(20):
        e = lo_c + rng.random(nc * mc) * (hi_c - lo_c)
        v = Pr @ e
        assert np.all(v >= lo - 1e-12) and np.all(v <= hi + 1e-12)


@pytest.mark.parametrize("reverse", [False, True])
def test_coarse_projected_gauss_seidel_matches_a_dense_loop(reverse):
    grid = GridSpec((30, 26), "biharmonic", "even")
    mh = gridmg.MonotoneHierarchy(gridmg.TypedStencil(grid.energy()))
    lvl = mh.levels[0]
    A = gridmg._dense_of(lvl)
    N = lvl.n * lvl.m
    rng = np.random.default_rng(8)
    lo, hi = -rng.uniform(0, 1, N), rng.uniform(0, 1, N)
    b = rng.normal(size=N) * 10
    v = np.clip(rng.normal(size=N), lo, hi)
    ref = v.copy()
    for i in (range(N - 1, -1, -1) if reverse else range(N)):  # one coarse unknown at a time
        ref[i] = np.clip(ref[i] + (b[i] - A[i] @ ref) / A[i, i], lo[i], hi[i])
    gridmg._var_pgs(lvl.A, v, b, lo, hi, lvl.n, lvl.m, lvl.R, lvl.periodic, reverse, ix=lvl.ix)
    assert np.allclose(v, ref, rtol=0, atol=1e-12 * np.abs(ref).max())


def _unit_bins(case, seed):
    """``(stencil table, P, rng, lower, upper)``: a grid's operator and random unit bins on levels 0..5."""
    shape, model, bc = case
    grid = GridSpec(shape, model, bc)
    rng = np.random.default_rng(seed)
    lo = rng.integers(0, 6, size=shape[0] * shape[1]).astype(float)
    return gridmg.TypedStencil(grid.energy()), grid.matrix().tocsr(), rng, lo, lo + 1.0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), pinned=st.floats(0.0, 0.3), open_=st.floats(0.0, 0.3),
       case=st.sampled_from([((40, 36), "biharmonic", "odd"), ((33, 34), "thin-plate", "even"),
                             ((36, 32), "mixed", "periodic"), ((35, 41), "triharmonic", "odd"),
                             ((34, 34), "laplace", "even"), ((9, 12), "biharmonic", "even")]))
def test_monotone_vcycle_never_raises_the_energy_nor_leaves_the_box(seed, pinned, open_, case):
    ts, P, rng, lo, hi = _unit_bins(case, seed)
    n = lo.size
    pin = rng.random(n) < pinned
    hi[pin] = lo[pin]  # some pixels pinned (lo == hi)
    lo[rng.random(n) < open_] = -np.inf  # some without a lower bound
    q = rng.normal(size=n) * rng.choice([0.0, 1.0])
    x = np.clip(rng.uniform(-1, 7, size=n), lo, hi)

    def energy(x):
        return 0.5 * x @ (P @ x) + q @ x

    mh = gridmg.MonotoneHierarchy(ts, smooth=int(rng.integers(1, 3)))
    firm = [None, 0.0, 0.1][int(rng.integers(0, 3))]
    E = energy(x)
    for _ in range(3):
        x = mh.vcycle(x, lo, hi, q, firm=firm)
        # the coarse correction itself stays in the box (vcycle clips only round-off after it)
        assert mh.last_violation <= 1e-9 * max(1.0, float(np.max(np.abs(x))))
        assert np.all(x >= lo) and np.all(x <= hi)
        E_new = energy(x)
        assert E_new <= E + 1e-12 * max(1.0, abs(E))
        E = E_new


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), held=st.floats(0.0, 0.6),
       case=st.sampled_from(GRID_CASES + [((32, 48), "biharmonic", "even")]))
def test_truncated_monotone_vcycle_never_raises_the_energy_nor_leaves_the_box(seed, held, case):
    # The coarse levels of a TruncatedHierarchy (held pixels get no coarse correction; its
    # transfers extrapolate at the ends of even axes, where a correction may leave the box)
    ts, P, rng, lo, hi = _unit_bins(case, seed)
    n = lo.size
    q = rng.normal(size=n) * rng.choice([0.0, 10.0])
    x = np.clip(rng.uniform(-1, 7, size=n), lo, hi)
    free = (rng.random(n) >= held).astype(np.uint8)
    x[free == 0] = lo[free == 0]  # held pixels sit on a bound, as in tnnmg
    h = gridmg.TruncatedHierarchy(ts, free, order=1, drop=False)
    mh = gridmg.MonotoneHierarchy(ts, smooth=int(rng.integers(1, 3)))
    E = 0.5 * x @ (P @ x) + q @ x
    for _ in range(3):
        x = mh.vcycle(x, lo, hi, q, firm=[None, 0.1][int(rng.integers(0, 2))], truncated=h)
        assert np.all(x >= lo) and np.all(x <= hi)
        E_new = 0.5 * x @ (P @ x) + q @ x
        assert E_new <= E + 1e-12 * max(1.0, abs(E))
        E = E_new


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), on_bound=st.floats(0.0, 0.5), scale=st.sampled_from([0.3, 1.0, 5.0]),
       case=st.sampled_from(GRID_CASES + [((9, 12), "biharmonic", "even"), ("lattice", None, None)]),
       chunk=st.sampled_from([1, 2, 7, 1 << 14]), odd=st.booleans())
def test_projected_path_minimum_against_a_fine_grid_of_steps(seed, on_bound, scale, case, chunk, odd):
    # E(clip(x + t d)) evaluated with the assembled matrix at 4001 steps t in [0, 1]: the exact
    # search's point must be the first local minimiser (no grid point before it lower, none just
    # after the grid's first rise lower either) or the lowest point, and its predicted drop E's own.
    if case[0] == "lattice":
        from qpsolve.linalg.lattice import find_lattice, stencil_array
        from qpsolve.model.plates import smooth_stiffness, weighted_plate

        P = weighted_plate((24, 20), smooth_stiffness((24, 20)), "even").tocsr()
        lat, _ = find_lattice(P)
        op = gridmg.LatticeStencil(stencil_array(P, lat.shape, lat.radius), lat.shape, lat.radius)
        rng = np.random.default_rng(seed)
        lo = rng.integers(0, 6, size=P.shape[0]).astype(float)
        hi = lo + 1.0
    else:
        op, P, rng, lo, hi = _unit_bins(case, seed)
    n = lo.size
    x = rng.uniform(lo, hi)
    at = rng.random(n) < on_bound
    x[at] = np.where(rng.random(n) < 0.5, lo, hi)[at]
    x = np.clip(x, lo, hi)
    if odd:
        # the walk's edge cases: infinite bounds, pinned pixels (lo == hi), zero components of d
        r = rng.random(n)
        lo, hi = np.where(r < 0.05, -np.inf, lo), np.where((r >= 0.05) & (r < 0.1), np.inf, hi)
        pin = (r >= 0.1) & (r < 0.15)
        lo[pin] = hi[pin] = x[pin]
    q = rng.normal(size=n) * rng.choice([1.0, 50.0])
    g = P @ x + q
    d = scale * rng.normal(size=n) * rng.uniform(0.0, 3.0, size=n)
    d -= 0.5 * scale * g / np.max(np.abs(g))  # mostly downhill
    if odd:
        d[rng.random(n) < 0.05] = 0.0

    def phi(t):
        y = np.clip(x + t * d, lo, hi)
        return 0.5 * y @ (P @ y) + q @ y - (0.5 * x @ (P @ x) + q @ x)

    ts = np.linspace(0.0, 1.0, 4001)
    vals = np.array([phi(t) for t in ts])
    tol = 1e-9 * max(1.0, float(np.max(np.abs(vals))))
    for first in (True, False):
        t, drop = gridmg.projected_path_minimum(op, x, d, g, lo, hi, 1.0, first, chunk=chunk)
        assert 0.0 <= t <= 1.0 and drop <= 0.0
        assert abs(drop - phi(t)) <= tol
        if first:
            k = 0
            while k + 1 < ts.size and vals[k + 1] < vals[k]:
                k += 1
            # the grid falls up to ts[k] and rises after it: the first local minimiser lies before
            # ts[k + 1], and nothing on the grid before it is lower than it
            assert t <= ts[min(k + 1, ts.size - 1)] + 1e-12
            assert np.all(vals[ts <= t] >= drop - tol)
            # and t is a local minimiser: E rises on both sides of it, measured closer than the nearest
            # other breakpoint (a kink can hold a minimum narrower than the grid's spacing, and the
            # path can fall again after it: seed 392 of laplace/even at 34^2 has one at t = 0.1818)
            with np.errstate(divide="ignore", invalid="ignore"):
                tb = np.where(d > 0, (hi - x) / d, np.where(d < 0, (lo - x) / d, np.inf))
            tb = tb[(tb > 0) & np.isfinite(tb) & (np.abs(tb - t) > 1e-12)]
            delta = min(1e-7, 0.5 * float(np.min(np.abs(tb - t)))) if tb.size else 1e-7
            slack = 1e-10 * max(1.0, abs(drop))
            if t + delta <= 1.0:
                assert phi(t + delta) >= phi(t) - slack
            if t > 0.0:
                assert phi(t - min(delta, t)) >= phi(t) - slack
        else:
            assert drop <= vals.min() + tol


def test_truncated_coarse_levels_move_free_pixels_beside_pinned_ones():
    # Every third column pinned (lo == hi): each coarse function of the whole P covers a pinned
    # pixel, so the monotone coarse obstacles give it no room and only the fine smoothing acts;
    # truncated at the pinned pixels, the coarse levels lift the free columns between them.
    shape = (48, 48)
    grid = GridSpec(shape, "biharmonic", "odd")
    ts = gridmg.TypedStencil(grid.energy())
    P = grid.matrix().tocsr()
    n = shape[0] * shape[1]
    pinned = np.zeros(shape, bool)
    pinned[:, ::3] = True
    pinned = pinned.ravel()
    lo = np.where(pinned, 0.0, -1.0)
    hi = np.where(pinned, 0.0, 50.0)
    q = -np.ones(n)  # a uniform load lifts the free pixels
    free = (~pinned).astype(np.uint8)
    h = gridmg.TruncatedHierarchy(ts, free, order=1, drop=False)
    mh = gridmg.MonotoneHierarchy(ts, smooth=1)

    def energy(x):
        return 0.5 * x @ (P @ x) + q @ x

    plain = mh.vcycle(np.zeros(n), lo, hi, q)
    assert mh.last_violation == 0.0
    trunc = mh.vcycle(np.zeros(n), lo, hi, q, truncated=h)
    smooth_only = np.zeros(n)
    ts.projected_gauss_seidel(smooth_only, lo, hi, q, False)
    ts.projected_gauss_seidel(smooth_only, lo, hi, q, True)
    assert np.isclose(energy(plain), energy(smooth_only), rtol=1e-12)  # no coarse move at all
    assert energy(trunc) < energy(plain) - 0.05 * abs(energy(plain))


@pytest.mark.parametrize("seed", [0, 1])
def test_firm_pixels_get_no_room_in_the_coarse_obstacles(seed):
    # Left: random bins with the plate on their lower bounds, most pixels pressed onto them
    # (multiplier above a tenth of the bin); right: a load that lifts a flat region off its bound.
    shape = (48, 40)
    grid = GridSpec(shape, "biharmonic", "odd")
    ts = gridmg.TypedStencil(grid.energy())
    rng = np.random.default_rng(seed)
    lo = rng.integers(0, 4, size=shape).astype(float)
    lo[:, 20:] = 0.0
    lo = lo.ravel()
    hi = lo + 1.0
    q = np.zeros(shape)
    q[:, 24:] = -1.0
    q = q.ravel()
    x = lo.copy()
    g = grid.matrix() @ x + q  # the assembled matrix, not the stencil table
    firm = (g / grid.matrix().diagonal()) > 0.1  # on the lower bound, pushed down by > 0.1 bin
    assert firm.sum() > 100
    # smooth=0: only the coarse corrections act
    free_run = gridmg.MonotoneHierarchy(ts, smooth=0).vcycle(x.copy(), lo, hi, q)
    held_run = gridmg.MonotoneHierarchy(ts, smooth=0).vcycle(x.copy(), lo, hi, q, firm=0.1)
    assert np.count_nonzero(free_run[firm] != x[firm]) > 100  # without the rule they move
    assert np.array_equal(held_run[firm], x[firm])
    assert np.count_nonzero(held_run != x) > 100  # the loaded region is still lifted
    assert np.all(held_run >= lo) and np.all(held_run <= hi)


# ----------------------------------------------------------------------------- the solver


@pytest.mark.parametrize("model,bc", PDAS_CASES)
def test_every_pdas_model_matches_clarabel_on_texture(model, bc):
    img = truncate_bits(_texture((20, 18), seed=hash((model, bc)) % 1000), 3)
    prob = qs.image_problem(img, bits=3, model=model, bc=bc, alpha=0.5, beta=2.0)
    res = _tnnmg(prob)
    _same_objective(res, qs.solve(prob, solver="cvxpy"), rel=1e-6)


@pytest.mark.parametrize("bits", [3, 4])
def test_textured_photo_crop_matches_pdas_and_pcg(bits):
    import skimage.data

    img = truncate_bits(skimage.data.camera()[200:264, 180:244].copy(), bits)
    prob = qs.image_problem(img, bits=bits)
    res = _tnnmg(prob)
    _same_objective(res, qs.solve(prob, solver="pdas"))
    _same_objective(res, qs.solve(prob, solver="pcg"))


@pytest.mark.parametrize("first", [True, False])
def test_the_exact_line_search_reaches_pdas_optimum(monkeypatch, first):
    # tnnmg.LINE_SEARCH = "exact" (kept as an option, not the default): the Newton steps take the
    # minimiser along the projected path; the loop must still certify and agree with pdas, and the
    # walk must have been taken (not only Armijo's fallback)
    import skimage.data
    from qpsolve.solvers import tnnmg

    walked = []
    walk = gridmg.projected_path_minimum

    def counting(*args):
        out = walk(*args)
        walked.append(out[0])
        return out

    monkeypatch.setattr(gridmg, "projected_path_minimum", counting)
    monkeypatch.setattr(tnnmg, "LINE_SEARCH", "exact")
    monkeypatch.setattr(tnnmg, "SEARCH_FIRST", first)
    monkeypatch.setattr(tnnmg, "SEARCH_FULL", False)  # every search walks (this crop's full steps pass Armijo)
    img = truncate_bits(skimage.data.camera()[200:264, 180:244].copy(), 3)
    prob = qs.image_problem(img, bits=3)
    res = _tnnmg(prob)
    assert any(t > 0 for t in walked)
    _same_objective(res, qs.solve(prob, solver="pdas"))


@functools.lru_cache(maxsize=None)
def _sky_problem_and_pdas():
    import skimage.data

    # 128 rows: the 96-row crop's optimum has an energy of ~1e-18 (flat sky), and its failed searches
    # were rounding-level events that vanished when the coarse operators' summation order changed
    img = truncate_bits(skimage.data.camera()[0:128, 0:160].copy(), 4)
    prob = qs.image_problem(img, bits=4)
    return prob, qs.solve(prob, solver="pdas")


@pytest.mark.parametrize("retry", [0, 1])
def test_a_sky_crop_where_the_line_search_fails(monkeypatch, retry):
    # camera's sky, 4 bits: a nearly singular free region whose Newton step the projected
    # search rejects; with or without the retry (held clipped pixels, step solved again) the
    # answer must be pdas's, and the loop itself must certify it (the rounding-floor check:
    # before it, camera's 96^2 corner ran into the 500-step cap and was certified only by finalize)
    from qpsolve.solvers import tnnmg

    failed = []
    arc = tnnmg._arc

    def counting_arc(*args):
        out = arc(*args)
        failed.append(out[0] is None)
        return out

    monkeypatch.setattr(tnnmg, "_arc", counting_arc)
    monkeypatch.setattr(tnnmg, "RETRY_HOLD", retry)
    # the searches fail from the start and with the cycles of session 6 (hull envelopes, no truncated
    # cycles); session 7's defaults reach this crop's optimum without a failed search
    monkeypatch.setattr(tnnmg, "COARSE_ENVELOPES", "hull")
    monkeypatch.setattr(tnnmg, "MONOTONE_TRUNCATED", 0)
    prob, ref = _sky_problem_and_pdas()
    res = _tnnmg(prob)
    assert any(failed), "the case no longer exercises a failed search"
    fine = res.info["levels"][-1]
    assert fine["status"] == "optimal" and fine["steps"] < 100
    _same_objective(res, ref)


def test_several_constrained_cycles_per_step_cut_the_fine_steps(monkeypatch):
    # camera's sky, 4 bits: the plate lies on its flat envelope with multipliers near zero and
    # lifts off in blisters whose contact rims creep by about a pixel per Newton step.  Several
    # monotone V-cycles per step move those rims (their coarse levels lift whole regions):
    # fewer fine steps than with one cycle, and the same optimum as pdas.
    from qpsolve.solvers import tnnmg

    prob, ref = _sky_problem_and_pdas()
    assert tnnmg.MONOTONE_CYCLES > 1
    several = _tnnmg(prob)
    monkeypatch.setattr(tnnmg, "MONOTONE_CYCLES", 1)
    one = _tnnmg(prob)
    for res in (several, one):
        assert res.info["levels"][-1]["status"] == "optimal"
    assert several.info["levels"][-1]["steps"] < one.info["levels"][-1]["steps"]
    _same_objective(several, ref)
    _same_objective(one, ref)


@pytest.mark.parametrize("bc", ["odd", "even", "periodic"])
def test_masked_and_pinned_pixels(bc):
    img = truncate_bits(_texture((24, 30), seed=11), 3)
    mask = np.ones(img.shape, bool)
    mask[6:14, 8:20] = False  # the plate passes freely under these
    conf = np.ones(img.shape)
    conf[::5, ::7] = np.inf  # and these are pinned to their bin centre
    prob = qs.image_problem(img, bits=3, bc=bc, mask=mask, confidence=conf)
    assert np.any(prob.lower == prob.upper)
    res = _tnnmg(prob)
    _same_objective(res, qs.solve(prob, solver="cvxpy"), rel=1e-6)


def test_odd_sizes_and_a_linear_term():
    grid = GridSpec((23, 17), "biharmonic", "even")
    rng = np.random.default_rng(8)
    lo = rng.uniform(0, 1, 23 * 17)
    prob = qs.BoxQP(grid.energy(), lo, lo + 0.5, q=rng.normal(size=23 * 17), grid=grid)
    res = _tnnmg(prob)
    _same_objective(res, qs.solve(prob, solver="cvxpy"), rel=1e-6)


def test_a_matrix_that_is_not_the_grids_never_reaches_tnnmg():
    # tnnmg takes its stencils from prob.grid; BoxQP refuses a P that says otherwise (issue #20),
    # so tnnmg never solves another problem than the one stated
    grid = GridSpec((16, 16), "biharmonic", "odd")
    wrong = GridSpec((16, 16), "laplace", "odd").matrix()
    lo = np.random.default_rng(9).uniform(0, 4, 256)
    with pytest.raises(ValueError, match="grid: P is not the operator"):
        qs.BoxQP(wrong, lo, lo + 1, grid=grid)


def test_unsupported_problems_are_named():
    prob = qs.BoxQP(np.eye(3), np.zeros(3), np.ones(3))
    with pytest.raises(qs.solvers.BackendUnavailable, match="grid"):
        qs.solve(prob, solver="tnnmg")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(8, 22), m=st.integers(8, 22), bits=st.integers(2, 5), seed=st.integers(0, 10**6),
       case=st.sampled_from(PDAS_CASES))
def test_invariants_bounds_and_the_optimum_of_clarabel(n, m, bits, seed, case):
    model, bc = case
    img = truncate_bits(_texture((n, m), seed), bits)
    prob = qs.image_problem(img, bits=bits, model=model, bc=bc)
    res = _tnnmg(prob)
    assert res.success, res.message
    ref = qs.solve(prob, solver="cvxpy")
    # both certified: each objective lies within its own gap of the optimum
    assert abs(res.objective - ref.objective) <= res.kkt.gap + ref.kkt.gap + 1e-9 * max(1.0, abs(ref.objective))


# ----------------------------------------------------------------------------- solver="auto"


def test_auto_hands_dense_contacts_to_tnnmg_and_keeps_smooth_ones_in_pdas():
    import skimage.data
    from qpsolve.imaging.data import gaussian, to_uint8

    photo = qs.image_problem(truncate_bits(skimage.data.camera()[::4, ::4].copy(), 3), bits=3)
    res = qs.solve(photo)
    _valid(photo, res)
    assert res.success and res.solver == "pdas"
    assert res.info["fallback"]["solver"] == "tnnmg"  # pdas measured dense contacts on a coarse level
    assert [h["solver"] for h in res.info["handovers"]] == ["pdas", "tnnmg"]
    _same_objective(res, qs.solve(photo, solver="pcg"))
    smooth = qs.image_problem(truncate_bits(to_uint8(gaussian(128)), 2), bits=2)
    res = qs.solve(smooth)
    assert res.success and "fallback" not in res.info


def test_a_named_pdas_hands_dense_contacts_to_tnnmg_unless_given_options():
    import skimage.data

    photo = qs.image_problem(truncate_bits(skimage.data.camera()[::4, ::4].copy(), 3), bits=3)
    res = qs.solve(photo, solver="pdas")
    _valid(photo, res)
    assert res.success and res.solver == "pdas"
    assert res.info["fallback"]["solver"] == "tnnmg"  # as under auto, not pcg (minutes on photographs)
    _same_objective(res, qs.solve(photo, solver="tnnmg"))
    # a caller's own cap on the contacts is not the image's density: pdas's own successor continues
    capped = qs.solve(photo, solver="pdas", max_active=1, max_iter=2)
    assert capped.info["fallback"]["solver"] == "pcg"


def test_a_named_pdas_whose_tnnmg_stops_uncertified_is_finished_by_pcg(monkeypatch):
    # a named solver gets no auto retries: without pcg after it, an uncertified tnnmg would be the answer
    import skimage.data

    from qpsolve.solvers import tnnmg

    photo = qs.image_problem(truncate_bits(skimage.data.camera()[::4, ::4].copy(), 3), bits=3)
    monkeypatch.setattr(tnnmg, "MAX_STEPS", 1)  # one fine Newton step: not certified
    res = qs.solve(photo, solver="pdas")
    _valid(photo, res)
    assert res.success, res.message
    assert res.info["fallback"]["solver"] == "pcg" and res.info["fallback"]["after"] == "tnnmg"
    # the whole chain is recorded, tnnmg's step included (info["fallback"] names only the last one)
    chain = res.info["handovers"]
    assert [h["solver"] for h in chain] == ["pdas", "tnnmg", "pcg"]
    assert sum(h["iterations"] for h in chain) == res.iterations
    assert chain[1]["iterations"] >= 1 and chain[1]["message"] and all(h["seconds"] >= 0 for h in chain)
    assert {k: chain[2][k] for k in ("iterations", "message")} == {
        k: res.info["fallback"][k] for k in ("iterations", "message")}
    line = next(ln for ln in res.summary().splitlines() if ln.startswith("handovers"))  # the CLI prints it
    assert line.index("pdas (") < line.index("-> tnnmg (") < line.index("-> pcg (")


def test_auto_gives_grid_problems_pdas_refuses_to_tnnmg():
    img = truncate_bits(_texture((24, 24), seed=3), 3)
    prob = qs.image_problem(img, bits=3, model="thin-plate", bc="odd")  # no fast inverse for pdas
    res = qs.solve(prob)
    assert res.solver == "tnnmg" and res.success
    _same_objective(res, qs.solve(prob, solver="cvxpy"), rel=1e-6)


def test_a_zero_operator_is_refused_with_the_reason():
    from qpsolve.solvers import tnnmg

    grid = GridSpec((8, 8), "mixed", "even", alpha=0.0, beta=0.0)
    prob = qs.BoxQP(np.zeros((64, 64)), -1.0, 1.0, q=np.ones(64), grid=grid)
    assert "P = 0" in tnnmg.supports(prob)


def test_truncated_hierarchy_on_a_strip_has_no_dense_fine_operator():
    """A grid under MIN_SIDE pixels wide gets no coarse grid; its V-cycle smooths the fine level instead of
    factoring the fine operator densely (12 x 700: 560 MB dense; a 15 x 2200 pdas level was 8 GB)."""
    import tracemalloc

    import scipy.sparse.linalg as spl

    from qpsolve.linalg.gridmg import TruncatedHierarchy, TypedStencil

    grid = GridSpec((12, 700), "biharmonic", "odd")
    ts = TypedStencil(grid.energy())
    rng = np.random.default_rng(0)
    free = (rng.random(12 * 700) > 0.2).astype(np.uint8)
    b = np.where(free == 1, rng.normal(size=12 * 700), 0.0)
    tracemalloc.start()
    try:
        h = TruncatedHierarchy(ts, free, smooth=2, order=1, drop=False)
        v, its = h.pcg(b, rtol=1e-10, max_iter=500)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50e6
    P = grid.matrix().tocsr()
    F = np.flatnonzero(free)
    ref = np.zeros_like(b)
    ref[F] = spl.spsolve(P[F][:, F].tocsc(), b[F])  # the truncated system, solved directly
    assert its < 500
    assert np.abs(v - ref).max() <= 1e-6 * np.abs(ref).max()


def test_tnnmg_certifies_a_strip():
    """A 15 x 2200 image (the level a 30 x 4400 photograph's pdas chain ends on) is solved and certified."""
    y = np.linspace(0.0, 1.0, 15 * 2200).reshape(15, 2200)
    img = ((np.sin(6 * y) * 0.5 + 0.5) * 255).astype(np.uint8) // 32 * 32
    prob = qs.image_problem(img, bits=3)
    res = qs.solve(prob, solver="tnnmg")
    assert res.success and res.kkt.optimal
    assert np.all(res.x >= prob.lower) and np.all(res.x <= prob.upper)
