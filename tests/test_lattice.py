"""Plain matrices on a 2-D lattice: exact detection, the variable-stencil fine level, tnnmg on them.

Expected values come from elsewhere: lattice shapes from the generator of the matrix, products from
scipy, hierarchies from the constant-stencil fine level (:class:`TypedStencil`, its own kernels),
linear solves from scipy's sparse LU, optima from Clarabel (cvxpy) and ``pcg``.
"""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from hypothesis import given, settings
from hypothesis import strategies as st

import qpsolve as qs
from qpsolve.bench.matrix_problems import build_matrix_problem
from qpsolve.linalg.gridmg import LatticeStencil, MonotoneHierarchy, TruncatedHierarchy, TypedStencil
from qpsolve.linalg.lattice import find_lattice, stencil_array
from qpsolve.model.operators import GridSpec
from qpsolve.model.plates import smooth_stiffness, weighted_plate

TOL = 1e-8


def lattice_matrix(n, m, R, seed, integer=True):
    """A symmetric, diagonally dominant operator coupling every pixel with all within ``R`` rows and columns."""
    rng = np.random.default_rng(seed)
    N = n * m
    I, J = np.divmod(np.arange(N), m)
    rows, cols, vals = [], [], []
    for a in range(0, R + 1):
        for b in range(-R, R + 1):
            if a == 0 and b <= 0:
                continue  # each pair once; the mirror below
            ok = (I + a < n) & (J + b >= 0) & (J + b < m)
            p = np.flatnonzero(ok)
            c = rng.integers(1, 9, size=p.size) * rng.choice([-1, 1], size=p.size)
            c = c.astype(float) if integer else c * rng.random(p.size)
            q = (I[p] + a) * m + J[p] + b
            rows += [p, q]
            cols += [q, p]
            vals += [c, c]
    rows, cols, vals = (np.concatenate(v) for v in (rows, cols, vals))
    off = sp.csr_matrix((vals, (rows, cols)), shape=(N, N))
    diag = np.asarray(abs(off).sum(axis=1)).ravel() + 1.0
    return (off + sp.diags(diag)).tocsr()


def _stencil(P, lat):
    return LatticeStencil(stencil_array(lat.permuted(P), lat.shape, lat.radius), lat.shape, lat.radius)


# ------------------------------------------------------------------------------ detection
@settings(max_examples=30, deadline=None)
@given(n=st.integers(8, 22), m=st.integers(8, 22), R=st.integers(1, 3), seed=st.integers(0, 10**6))
def test_a_lattice_matrix_is_found_with_its_shape_and_its_products_are_exact(n, m, R, seed):
    P = lattice_matrix(n, m, R, seed)
    lat, why = find_lattice(P)
    assert why is None and lat.shape == (n, m) and lat.radius == R and lat.order is None
    x = np.random.default_rng(seed).integers(-50, 50, size=n * m).astype(float)
    ls = _stencil(P, lat)
    assert np.array_equal(ls.matvec(x), P @ x)  # integers: both sums exact
    free = (np.random.default_rng(seed + 1).random(n * m) > 0.3).astype(np.uint8)
    D = sp.diags(free.astype(float))
    assert np.array_equal(ls.matvec(x, free=free), D @ (P @ (D @ x)))
    assert np.array_equal(ls.matvec_diagonal(), P.diagonal())


@settings(max_examples=30, deadline=None)
@given(n=st.integers(8, 20), m=st.integers(8, 20), R=st.integers(1, 3), seed=st.integers(0, 10**6))
def test_a_permuted_lattice_is_refused_without_coordinates_and_found_with_them(n, m, R, seed):
    P = lattice_matrix(n, m, R, seed)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n * m)
    Q = P[perm][:, perm].tocsr()  # variable k of Q is lattice point perm[k]
    lat, why = find_lattice(Q)
    assert lat is None and why
    # coordinates in any units, any offset: (row, column) of each variable
    ij = np.stack(np.divmod(perm, m), axis=1).astype(float)
    lat, why = find_lattice(Q, coordinates=ij * 0.37 + 5.0)
    assert why is None and lat.shape == (n, m) and lat.radius == R
    assert np.array_equal(perm[lat.order], np.arange(n * m))
    x = rng.integers(-50, 50, size=n * m).astype(float)
    y = np.empty_like(x)
    y[lat.order] = _stencil(Q, lat).matvec(x[lat.order])
    assert np.array_equal(y, Q @ x)


@settings(max_examples=30, deadline=None)
@given(N=st.integers(64, 400), degree=st.integers(2, 6), seed=st.integers(0, 10**6))
def test_a_random_graph_is_refused_or_read_exactly(N, degree, seed):
    # a graph Laplacian: whatever the detector says, a lattice it reports must reproduce P exactly
    rng = np.random.default_rng(seed)
    a = rng.integers(0, N, size=N * degree)
    b = rng.integers(0, N, size=N * degree)
    keep = a != b
    W = sp.csr_matrix((np.ones(keep.sum()), (a[keep], b[keep])), shape=(N, N))
    W = ((W + W.T) > 0).astype(float)
    P = (sp.diags(np.asarray(W.sum(axis=1)).ravel() + 1.0) - W).tocsr()
    lat, why = find_lattice(P)
    if lat is None:
        assert why
        return
    x = rng.integers(-50, 50, size=N).astype(float)
    assert np.array_equal(_stencil(P, lat).matvec(x), P @ x)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(8, 16), m=st.integers(8, 16), seed=st.integers(0, 10**6), extra=st.integers(1, 6),
       reach=st.integers(1, 40))
def test_a_lattice_with_a_few_far_couplings_is_refused_or_read_exactly(n, m, seed, extra, reach):
    # a 5-point lattice plus a few symmetric couplings up to ``reach`` positions along the ordering:
    # within 4 rows and columns they widen the radius, further out (or across a row's end) they
    # must be refused; whichever the detector says, a lattice it reports reproduces P exactly
    rng = np.random.default_rng(seed)
    P = lattice_matrix(n, m, 1, seed).tolil()
    N = n * m
    for _ in range(extra):
        a = int(rng.integers(0, N - reach))
        P[a, a + reach] = P[a + reach, a] = -1.0
        P[a, a] += 1.0
        P[a + reach, a + reach] += 1.0
    P = P.tocsr()
    lat, why = find_lattice(P)
    if lat is None:
        assert why
        return
    assert lat.shape == (n, m) and 1 <= lat.radius <= 4
    x = rng.integers(-50, 50, size=N).astype(float)
    assert np.array_equal(_stencil(P, lat).matvec(x), P @ x)


def test_matrices_that_are_no_2d_lattice_are_refused_with_a_reason():
    def lap(k):
        return sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(k, k))

    cases = {
        "1-D chain": lap(400),
        "3-D volume": build_matrix_problem("volume3d", 12).P,
        "diagonal": sp.identity(256),
        # a torus: the row ends are coupled to the row starts (wrap-around)
        "periodic rows": sp.kronsum(lap(16) + sp.coo_matrix(([-1.0, -1.0], ([0, 15], [15, 0])), shape=(16, 16)),
                                    lap(16)),
    }
    for name, P in cases.items():
        lat, why = find_lattice(sp.csr_matrix(P))
        assert lat is None, name
        assert isinstance(why, str) and why, name
    # two 8 x 8 grids one above the other are one 16 x 8 lattice with a cut: read exactly
    P = sp.block_diag([sp.kronsum(lap(8), lap(8))] * 2).tocsr()
    lat, why = find_lattice(P)
    x = np.arange(128.0) % 7
    assert lat.shape == (16, 8) and np.array_equal(_stencil(P, lat).matvec(x), P @ x)
    lat, why = find_lattice(sp.kronsum(lap(9), lap(12)).tocsr(), coordinates=np.zeros((108, 3)))
    assert lat is None and "2-D" in why
    # coordinates that are not a regular lattice
    X = np.random.default_rng(0).random((108, 2))
    assert find_lattice(sp.kronsum(lap(9), lap(12)).tocsr(), coordinates=X)[0] is None


# ------------------------------------------------------------------ the variable-stencil fine level
@pytest.mark.parametrize("shape, bc", [((40, 36), "odd"), ((48, 33), "even")])
def test_lattice_stencil_hierarchies_equal_the_constant_stencil_ones(shape, bc):
    grid = GridSpec(shape, "biharmonic", bc)
    ts = TypedStencil(grid.energy())
    P = grid.matrix().tocsr()
    lat, why = find_lattice(P)
    assert why is None and lat.shape == shape
    ls = _stencil(P, lat)
    rng = np.random.default_rng(2)
    N = P.shape[0]
    f0 = (rng.random(N) > 0.3).astype(np.uint8)
    f1 = np.where(rng.random(N) < 0.05, 1 - f0, f0).astype(np.uint8)
    for drop in (False, True):
        a, b = TruncatedHierarchy(ts, f0, drop=drop), TruncatedHierarchy(ls, f0, drop=drop)
        assert len(a.levels) == len(b.levels) >= 2
        assert all(np.allclose(x.A, y.A, rtol=0, atol=1e-11) for x, y in zip(a.levels, b.levels))
    a = TruncatedHierarchy(ts, f0, drop=False).update(f1)
    b = TruncatedHierarchy(ls, f0, drop=False).update(f1)
    assert all(np.allclose(x.A, y.A, rtol=0, atol=1e-11) for x, y in zip(a.levels, b.levels))
    ma, mb = MonotoneHierarchy(ts, smooth=2), MonotoneHierarchy(ls, smooth=2)
    assert all(np.allclose(x.full(), y.full(), rtol=0, atol=1e-11) for x, y in zip(ma.levels, mb.levels))
    lo = rng.integers(0, 4, size=N).astype(float)
    hi, q = lo + 1.0, np.zeros(N)
    x1 = ma.vcycle(0.5 * (lo + hi), lo, hi, q)
    x2 = mb.vcycle(0.5 * (lo + hi), lo, hi, q)
    assert np.allclose(x1, x2, rtol=0, atol=1e-10)


def test_a_variable_plates_truncated_hierarchy_solves_its_face_and_updates_like_a_rebuild():
    shape = (48, 40)
    P = weighted_plate(shape, smooth_stiffness(shape), "even")
    lat, _ = find_lattice(P)
    ls = _stencil(P, lat)
    rng = np.random.default_rng(5)
    N = P.shape[0]
    f0 = (rng.random(N) > 0.3).astype(np.uint8)
    f1 = np.where(rng.random(N) < 0.05, 1 - f0, f0).astype(np.uint8)
    a = TruncatedHierarchy(ls, f0, drop=False).update(f1)
    b = TruncatedHierarchy(ls, f1, drop=False)
    assert all(np.allclose(x.A, y.A, rtol=0, atol=1e-10 * np.abs(y.A).max()) for x, y in zip(a.levels, b.levels))
    bvec = np.where(f1 == 1, rng.normal(size=N), 0.0)
    v, its = a.pcg(bvec, rtol=1e-11, max_iter=100)
    F = np.flatnonzero(f1)
    ref = spla.spsolve(P[F][:, F].tocsc(), bvec[F])
    assert its < 60 and np.allclose(v[F], ref, rtol=0, atol=1e-8 * np.abs(ref).max())
    assert np.all(v[f1 == 0] == 0.0)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(20, 34), m=st.integers(20, 34), R=st.integers(1, 3), seed=st.integers(0, 10**6),
       held=st.floats(0.0, 0.6), flip=st.floats(0.0, 0.5))
def test_a_lattice_hierarchys_update_equals_its_rebuild_for_any_stencil_and_change(n, m, R, seed, held, flip):
    # the update's fine-level difference (the rows near a changed pixel, the entries whose truncation
    # changed) against the Galerkin products built from scratch for the new free set
    P = lattice_matrix(n, m, R, seed, integer=False)
    lat, _ = find_lattice(P)
    ls = _stencil(P, lat)
    rng = np.random.default_rng(seed)
    f0 = (rng.random(n * m) >= held).astype(np.uint8)
    f1 = np.where(rng.random(n * m) < flip, 1 - f0, f0).astype(np.uint8)
    a = TruncatedHierarchy(ls, f0, drop=False).update(f1)
    b = TruncatedHierarchy(ls, f1, drop=False)
    assert len(a.levels) == len(b.levels) >= 1
    for x, y in zip(a.levels, b.levels):
        assert np.allclose(x.A, y.A, rtol=0, atol=1e-10 * max(1.0, np.abs(y.A).max()))


# ------------------------------------------------------------------------------------ tnnmg
def _cross_check(prob, res, ref):
    assert res.solver == "tnnmg" and res.success, res.message
    assert np.all(res.x >= prob.lower) and np.all(res.x <= prob.upper)
    assert qs.certificate(prob, res.x, TOL).optimal
    assert ref.success
    assert abs(res.objective - ref.objective) <= 3 * TOL * max(1.0, abs(ref.objective))


@pytest.mark.filterwarnings("ignore:The default value of raise_error:PendingDeprecationWarning")
def test_auto_gives_a_variable_plate_to_tnnmg_on_its_lattice_and_clarabel_agrees():
    prob = build_matrix_problem("plate-textured", 48)
    res = qs.solve(prob)
    assert "lattice of P" in res.message and len(res.info["levels"]) == 1  # 48 / 2 < 32: no coarse start
    _cross_check(prob, res, qs.solve(prob, solver="cvxpy"))


def test_a_shuffled_plate_with_coordinates_gets_the_same_answer_in_its_own_order():
    prob = build_matrix_problem("plate-smooth", 64)
    res = qs.solve(prob, solver="tnnmg")
    assert len(res.info["levels"]) == 2  # a Galerkin coarse problem on 32 x 32 gave the start
    perm = np.random.default_rng(1).permutation(prob.n)
    ij = np.stack(np.divmod(perm, 64), axis=1)
    shuffled = qs.BoxQP(prob.P[perm][:, perm], prob.lower[perm], prob.upper[perm], coordinates=ij)
    res2 = qs.solve(shuffled)
    _cross_check(shuffled, res2, qs.solve(prob, solver="pcg"))
    assert np.allclose(res2.x, res.x[perm], rtol=0, atol=1e-3)
    # without its coordinates the shuffled matrix is no lattice: auto keeps it on pcg
    plain = qs.BoxQP(shuffled.P, shuffled.lower, shuffled.upper)
    from qpsolve.solvers import tnnmg

    assert "not an operator on a 2-D lattice" in tnnmg.supports(plain)


def test_a_linear_term_and_the_volume_keep_their_routes():
    P = lattice_matrix(24, 20, 2, 7, integer=False)
    rng = np.random.default_rng(3)
    q = rng.normal(size=P.shape[0]) * 10
    prob = qs.BoxQP(P, -1.0, 1.0, q=q)
    res = qs.solve(prob)
    _cross_check(prob, res, qs.solve(prob, solver="cvxpy"))
    vol = build_matrix_problem("volume3d", 8)
    from qpsolve.solvers import tnnmg

    assert tnnmg.supports(vol) is not None
    # a 3-D grid model's energy: no 2-D lattice, but the volume backend's exact inverse (issue #20)
    assert qs.solve(vol).solver == "volume"


def test_a_grid_models_energy_as_a_matrix_gets_its_grid_under_auto():
    prob = build_matrix_problem("gaussian2-csr", 48)
    assert prob.grid is None
    res = qs.solve(prob)
    assert res.solver == "pdas" and res.success, res.message
    _same = qs.solve(prob, solver="pcg")
    assert abs(res.objective - _same.objective) <= 3 * TOL * max(1.0, abs(_same.objective))
    # a multiple of a model is no model: it stays on its lattice, with tnnmg
    scaled = qs.BoxQP(2.5 * prob.P, prob.lower, prob.upper)
    assert qs.solve(scaled).solver == "tnnmg"


def test_a_warm_start_in_the_callers_order_reaches_the_same_answer():
    prob = build_matrix_problem("plate-textured", 40)
    perm = np.random.default_rng(4).permutation(prob.n)
    ij = np.stack(np.divmod(perm, 40), axis=1)
    shuffled = qs.BoxQP(prob.P[perm][:, perm], prob.lower[perm], prob.upper[perm], coordinates=ij)
    ref = qs.solve(prob, solver="cvxpy")
    # Clarabel's optimum, given in the shuffled problem's own order: one Newton step certifies it
    # (read in the wrong order it would be a poor start: 8 steps, against 9 from cold)
    res = qs.solve(shuffled, solver="tnnmg", x0=ref.x[perm])
    _cross_check(shuffled, res, ref)
    assert res.iterations <= 2 < qs.solve(shuffled, solver="tnnmg", x0=ref.x).iterations


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 14), m=st.integers(1, 14), R=st.integers(1, 3), seed=st.integers(0, 10**6),
       keep=st.floats(0.2, 1.0))
def test_a_lattice_products_sums_are_taken_term_by_term_in_stencil_order(n, m, R, seed, keep):
    # The fine level's product is bit for bit the sum over the used offsets in their stored order,
    # skipping the ones outside the lattice: the iterates of the kernels before session 10.  The
    # reference adds one offset's products to every row at a time (numpy, no fused multiply-add).
    rng = np.random.default_rng(seed)
    W = 2 * R + 1
    A = rng.normal(size=(n * m, W * W)) * (rng.random(W * W) < keep)  # any stencils, a random subset of offsets
    x = rng.normal(size=n * m)
    I, J = np.divmod(np.arange(n * m), m)
    ref = np.zeros(n * m)
    for c in np.flatnonzero(np.any(A != 0.0, axis=0)):
        a, b = c // W - R, c % W - R
        inside = (I + a >= 0) & (I + a < n) & (J + b >= 0) & (J + b < m)
        term = np.zeros(n * m)
        term[inside] = A[inside, c] * x[(I[inside] + a) * m + J[inside] + b]
        ref = np.where(inside, ref + term, ref)
    got = LatticeStencil(A, (n, m), R).matvec(x)
    assert np.array_equal(got, ref)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 14), m=st.integers(1, 14), R=st.integers(1, 3), seed=st.integers(0, 10**6),
       as_bool=st.booleans())
def test_a_truncated_stencil_is_each_entry_times_both_pixels_masks_bit_for_bit(n, m, R, seed, as_bool):
    # D A D of a variable stencil (the Galerkin products of a lattice hierarchy start from it): entry
    # A[p, o] * mask[p] * mask[p + o], 0 outside the lattice, multiplied in that order (signed zeros
    # too), as a column at a time in numpy gives it.
    from qpsolve.linalg.gridmg import _truncated

    rng = np.random.default_rng(seed)
    W = 2 * R + 1
    A = rng.normal(size=(n * m, W * W)) * (rng.random((n * m, W * W)) < 0.8)
    mask = rng.random(n * m) < 0.6
    mask = mask if as_bool else mask.astype(np.uint8)
    pad = np.zeros((n + 2 * R, m + 2 * R))
    pad[R:R + n, R:R + m] = mask.reshape(n, m)
    ref = A * mask.reshape(-1, 1)
    for a in range(W):
        for b in range(W):
            ref[:, a * W + b] *= pad[a:a + n, b:b + m].ravel()
    got = _truncated(A, mask, n, m, R)
    assert got.shape == ref.shape and np.array_equal(got.view(np.uint64), ref.view(np.uint64))


def test_stored_zeros_beyond_the_radius_are_ignored_like_absent_entries():
    # a 5-point operator assembled by radius-2 code: its outer ring stored as explicit zeros
    P = lattice_matrix(20, 18, 1, 11, integer=False).tolil()
    N = P.shape[0]
    for p in range(0, N, 7):
        for q in (p + 2, p + 2 * 18, p - 37):  # two columns, two rows, and (-2, -1) away
            if 0 <= q < N:
                P[p, q] = 1.0  # set, then zeroed below: the structure keeps the slot
                P[q, p] = 1.0
    P = P.tocsr()
    zeroed = P.copy()
    ring = set()
    for p in range(0, N, 7):
        for q in (p + 2, p + 2 * 18, p - 37):
            if 0 <= q < N:
                ring |= {(p, q), (q, p)}
    for r in range(N):
        for k in range(zeroed.indptr[r], zeroed.indptr[r + 1]):
            if (r, zeroed.indices[k]) in ring:
                zeroed.data[k] = 0.0
    assert zeroed.nnz == P.nnz and (zeroed != 0).nnz < P.nnz  # stored zeros, not removed
    clean = zeroed.copy()
    clean.eliminate_zeros()
    lat, why = find_lattice(zeroed)
    assert why is None and lat.radius == 1
    A = stencil_array(zeroed, lat.shape, lat.radius)
    x = np.random.default_rng(2).normal(size=N)
    np.testing.assert_allclose(LatticeStencil(A, lat.shape, 1).matvec(x), clean @ x, rtol=1e-13, atol=1e-12)
    rng = np.random.default_rng(5)
    lo = rng.normal(size=N)
    prob = qs.BoxQP(zeroed, lo, lo + 0.5, q=rng.normal(size=N))
    res = qs.solve(prob, solver="tnnmg")
    assert res.success, res.message
    _cross_check(qs.BoxQP(clean, lo, lo + 0.5, q=prob.q), res, qs.solve(prob, solver="pcg"))


def test_lattice_newton_steps_take_their_own_cg_cap_and_grid_steps_keep_theirs(monkeypatch):
    # LATTICE_CG_MAX bounds the CG iterations of a lattice matrix's Newton steps and nothing else:
    # a grid problem's iterates do not depend on it; the lattice answer stays certified (Clarabel)
    from qpsolve.solvers import tnnmg

    lat_prob = build_matrix_problem("plate-textured", 48)
    import skimage.data

    from qpsolve.imaging.data import truncate_bits

    grid_prob = qs.image_problem(truncate_bits(skimage.data.camera()[200:248, 200:248], 3), bits=3)
    ref = qs.solve(lat_prob, solver="cvxpy")
    runs = {}
    for cap in (2, 6):
        monkeypatch.setattr(tnnmg, "LATTICE_CG_MAX", cap)
        res = qs.solve(lat_prob, solver="tnnmg")
        _cross_check(lat_prob, res, ref)
        its = [h[2] for h in res.info["levels"][-1]["history"]]
        assert max(its) <= cap
        runs[cap] = (max(its), qs.solve(grid_prob, solver="tnnmg").x)
    assert runs[6][0] > 2, "the larger cap was never used"
    assert np.array_equal(runs[2][1], runs[6][1])
