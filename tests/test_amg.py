"""The AMG engine of ``pcg`` on user-built matrices, and ``BoxQP``'s grid / coordinates arguments."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.linalg import LinearOperator, cg

import qpsolve as qs
from qpsolve.linalg.amg import Hierarchy, graph_distance_fields, near_null_space, projected_gauss_seidel
from qpsolve.bench.matrix_problems import build_matrix_problem
from qpsolve.model.operators import GridSpec, energy_matrix
from qpsolve.model.plates import anisotropic_plate, smooth_stiffness, weighted_plate


def _clarabel(prob):
    ref = qs.solve(prob, solver="cvxpy")
    assert ref.success, ref.message
    return ref


@pytest.mark.parametrize("name", ["plate-smooth", "plate-textured", "plate-aniso"])
def test_pcg_amg_matches_clarabel_on_user_plates(name):
    prob = build_matrix_problem(name, 40)
    res = qs.solve(prob, solver="pcg", preconditioner="amg")
    ref = _clarabel(prob)
    assert res.success, res.message
    assert np.all(res.x >= prob.lower) and np.all(res.x <= prob.upper)
    assert abs(res.objective - ref.objective) <= 1e-6 * max(1.0, abs(ref.objective))
    assert res.info["levels"][-1]["setup_seconds"] > 0  # the hierarchy was built (once: one level)


def test_auto_sends_a_large_plain_matrix_off_any_lattice_to_the_amg_engine():
    plate = build_matrix_problem("plate-smooth", 72)  # 5184 > GENERAL_LU_MAX_N
    # shuffled, without coordinates: no 2-D lattice to find (in lattice order it goes to tnnmg)
    perm = np.random.default_rng(0).permutation(plate.n)
    prob = qs.BoxQP(plate.P[perm][:, perm], plate.lower[perm], plate.upper[perm])
    res = qs.solve(prob)
    assert res.solver == "pcg" and res.success
    assert res.info["levels"][-1]["setup_seconds"] > 0


def test_weighted_plate_is_d_transpose_w_d():
    rng = np.random.default_rng(3)
    w = rng.uniform(0.2, 5.0, size=(7, 6))
    P = weighted_plate((7, 6), w, "odd")
    x = rng.normal(size=42)
    from qpsolve.model.operators import laplacian

    D = laplacian((7, 6), "odd")
    assert np.isclose(x @ P @ x, np.sum(w.ravel() * (D @ x) ** 2))
    with pytest.raises(ValueError, match="weight"):
        weighted_plate((7, 6), -w, "odd")


def test_anisotropic_plate_energy():
    x = np.random.default_rng(4).normal(size=(9, 8))
    P = anisotropic_plate((9, 8), 0.1, "periodic")
    # f_xx along rows (axis 0), f_yy along columns, periodic second differences by np.roll
    dxx = np.roll(x, 1, 0) - 2 * x + np.roll(x, -1, 0)
    dyy = np.roll(x, 1, 1) - 2 * x + np.roll(x, -1, 1)
    assert np.isclose(x.ravel() @ P @ x.ravel(), np.sum((0.1 * dxx + dyy) ** 2))


def test_truncated_hierarchy_preconditions_faces():
    P = weighted_plate((48, 48), smooth_stiffness((48, 48)), "even")
    H = Hierarchy(P, near_null_space(P))
    rng = np.random.default_rng(0)
    for frac in (0.002, 0.1, 0.5):
        free = rng.random(P.shape[0]) >= frac
        M = H.truncated(free)
        A = P[free][:, free]
        b = A @ rng.normal(size=A.shape[0])
        its = []
        x, info = cg(A, b, M=LinearOperator(A.shape, M.reduced), rtol=1e-8, maxiter=200,
                     callback=lambda xk: its.append(1))
        assert info == 0 and np.linalg.norm(A @ x - b) <= 1e-7 * np.linalg.norm(b)
        assert len(its) < 60, (frac, len(its))  # Jacobi-CG needs hundreds here


def test_graph_distance_fields_estimate_the_dimension():
    assert graph_distance_fields(energy_matrix((30, 30), "biharmonic", "even")).shape[1] == 2
    assert graph_distance_fields(energy_matrix((16, 16, 16), "biharmonic", "even")).shape[1] == 3
    assert graph_distance_fields(energy_matrix(200, "biharmonic", "even")).shape[1] == 1


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 12), st.integers(0, 2**31 - 1))
def test_projected_gauss_seidel_never_raises_the_energy_nor_leaves_the_box(n, seed):
    rng = np.random.default_rng(seed)
    G = sp.random(n, n, density=0.5, random_state=rng)
    P = (G @ G.T + sp.diags(rng.uniform(0, 1, n))).tocsr()
    q = rng.normal(size=n)
    lo = rng.uniform(-1, 0, n)
    hi = lo + rng.uniform(0, 2, n)
    x = np.clip(rng.normal(size=n), lo, hi)
    e0 = 0.5 * x @ P @ x + q @ x
    projected_gauss_seidel(P, q, lo, hi, x, 3)
    assert np.all(x >= lo) and np.all(x <= hi)
    assert 0.5 * x @ P @ x + q @ x <= e0 + 1e-12 * max(1.0, abs(e0))


# ------------------------------------------------------------------------------ BoxQP arguments
def test_grid_argument_is_verified_and_unlocks_pdas():
    grid = GridSpec((24, 20), "biharmonic", "odd")
    P = energy_matrix((24, 20), "biharmonic", "odd")
    img = np.add.outer(np.linspace(0, 3, 24), np.linspace(0, 2, 20)) ** 2
    lo, hi = np.floor(img), np.floor(img) + 1
    plain = qs.BoxQP(P, lo, hi)
    assert qs.solvers.backend("pdas").supports(plain) is not None  # no grid: pdas cannot take it
    prob = qs.BoxQP(P, lo, hi, grid=grid)
    res = qs.solve(prob)
    assert res.solver == "pdas" and res.success
    ref = qs.solve(plain, solver="pcg")
    assert abs(res.objective - ref.objective) <= 1e-7 * max(1.0, abs(ref.objective))


@pytest.mark.parametrize("wrong", [
    GridSpec((24, 20), "biharmonic", "even"),      # other boundary rule
    GridSpec((24, 20), "thin-plate", "odd"),       # other model
    GridSpec((20, 24), "biharmonic", "odd"),       # transposed shape, same size
])
def test_grid_argument_refuses_a_matrix_of_another_operator(wrong):
    P = energy_matrix((24, 20), "biharmonic", "odd")
    with pytest.raises(ValueError, match="grid: P is not the operator"):
        qs.BoxQP(P, 0.0, 1.0, grid=wrong)


def test_grid_argument_refuses_a_single_changed_entry():
    P = energy_matrix((16, 16), "laplace", "periodic").tolil()
    P[5, 5] += 1.0
    with pytest.raises(ValueError, match="grid"):
        qs.BoxQP(P.tocsr(), 0.0, 1.0, grid=GridSpec((16, 16), "laplace", "periodic"))


@pytest.mark.parametrize("shape", [(6, 5, 7), (40,), (1, 30)])
@pytest.mark.parametrize("model,bc,weights", [
    ("biharmonic", "even", {}), ("biharmonic", "odd", {}), ("laplace", "periodic", {}),
    ("thin-plate", "even", {}), ("mixed", "odd", {"alpha": 0.3, "beta": 1.7}),
])
def test_grid_argument_off_the_2d_stencil_accepts_its_matrix_and_refuses_others(shape, model, bc, weights):
    # 3-D and 1-D grids are checked through the factor D (P = D'D), not an assembled copy of P:
    # the matrix the grid builds passes, a changed entry and another model do not.
    grid = GridSpec(shape, model, bc, **weights)
    P = energy_matrix(shape, model, bc, **weights)
    assert qs.BoxQP(P, 0.0, 1.0, grid=grid).grid == grid
    changed = P.tolil()
    changed[3, 3] += 1e-3 * abs(P[3, 3])
    with pytest.raises(ValueError, match="grid: P is not the operator"):
        qs.BoxQP(changed.tocsr(), 0.0, 1.0, grid=grid)
    other = "laplace" if model != "laplace" else "biharmonic"
    with pytest.raises(ValueError, match="grid: P is not the operator"):
        qs.BoxQP(energy_matrix(shape, other, bc), 0.0, 1.0, grid=grid)


def test_coordinates_and_near_null_space_are_validated_and_used():
    prob = build_matrix_problem("plate-smooth", 40)
    yy, xx = np.mgrid[:40, :40]
    coords = np.stack([yy.ravel(), xx.ravel()], axis=1)
    with_coords = qs.BoxQP(prob.P, prob.lower, prob.upper, coordinates=coords)
    nns = np.column_stack([np.ones(1600), coords])
    with_nns = qs.BoxQP(prob.P, prob.lower, prob.upper, near_null_space=nns)
    a = qs.solve(with_coords, solver="pcg", preconditioner="amg")
    b = qs.solve(with_nns, solver="pcg", preconditioner="amg")
    assert a.success and b.success
    assert abs(a.objective - b.objective) <= 1e-7 * max(1.0, abs(a.objective))
    with pytest.raises(ValueError, match="coordinates must have shape"):
        qs.BoxQP(prob.P, prob.lower, prob.upper, coordinates=coords[:-1])
    with pytest.raises(ValueError, match="near_null_space contains NaN"):
        qs.BoxQP(prob.P, prob.lower, prob.upper, near_null_space=np.full((1600, 2), np.nan))
    with pytest.raises(TypeError, match="coordinates"):
        qs.BoxQP(prob.P, prob.lower, prob.upper, coordinates="xy")


def test_updated_truncation_equals_a_fresh_one():
    P = weighted_plate((40, 40), smooth_stiffness((40, 40)), "even")
    H = Hierarchy(P, near_null_space(P))
    rng = np.random.default_rng(7)
    first = rng.random(1600) >= 0.1
    second = first.copy()
    flip = rng.choice(1600, 60, replace=False)
    second[flip] = ~second[flip]  # some variables bound, some released
    updated = H.truncated(second, previous=H.truncated(first))
    fresh = H.truncated(second)
    for a, b in zip(updated.ml.levels, fresh.ml.levels):
        assert abs(a.A - b.A).max() <= 1e-9 * abs(b.A).max()
    r = np.where(second, rng.normal(size=1600), 0.0)
    assert np.allclose(updated(r), fresh(r), rtol=1e-7, atol=1e-9 * np.abs(fresh(r)).max())


def test_hierarchy_equals_pyamgs_own_build_and_leaves_pyamg_unpatched():
    # Hierarchy inverts pyamg's B^T B blocks in one batched call instead of pyamg's loop:
    # the prolongators must be pyamg's own (built here without the replacement).
    import pyamg
    import pyamg.util.linalg as pyamg_linalg

    from qpsolve.linalg import amg

    before = pyamg_linalg.pinv_array
    P = weighted_plate((48, 48), smooth_stiffness((48, 48)), "even")
    B = near_null_space(P)
    H = Hierarchy(P, B)
    assert pyamg_linalg.pinv_array is before
    ref = pyamg.smoothed_aggregation_solver(
        H.A, B=B, symmetry="hermitian", strength=("symmetric", {"theta": amg.STRENGTH_THETA}),
        smooth=amg.ENERGY_SMOOTH, presmoother=amg.SMOOTHER, postsmoother=amg.SMOOTHER, max_coarse=amg.MAX_COARSE)
    assert len(ref.levels) == H.levels >= 2
    for mine, theirs in zip(H.ml.levels[:-1], ref.levels[:-1]):
        assert mine.P.shape == theirs.P.shape
        assert abs(mine.P - theirs.P).max() <= 1e-8 * abs(theirs.P).max()


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(150, 400))
def test_pcg_amg_on_random_graph_energies_matches_clarabel(seed, n):
    # A graph energy no grid describes: P = L^T L + eps I for the Laplacian L of a random
    # geometric graph (the candidates come from graph distances), random bounds around a signal.
    rng = np.random.default_rng(seed)
    pts = rng.random((n, 2))
    d2 = ((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1)
    W = sp.csr_matrix(np.triu((d2 < (2.2 / np.sqrt(n)) ** 2) & (d2 > 0), 1).astype(float))
    W = W + W.T
    Lap = sp.diags(np.asarray(W.sum(axis=1)).ravel()) - W
    P = (Lap.T @ Lap + 1e-3 * sp.identity(n)).tocsr()
    signal = 10 * np.sin(3 * pts[:, 0]) + rng.normal(size=n)
    lo, hi = signal - rng.random(n), signal + rng.random(n)
    prob = qs.BoxQP(P, lo, hi)
    res = qs.solve(prob, solver="pcg", preconditioner="amg")
    ref = _clarabel(prob)
    assert res.success, res.message
    assert res.info["levels"][-1]["setup_seconds"] > 0  # through the AMG engine
    assert np.count_nonzero((res.x == lo) | (res.x == hi)) > 0  # some bounds hold
    assert np.all(res.x >= lo) and np.all(res.x <= hi)
    assert abs(res.objective - ref.objective) <= 1e-6 * max(1.0, abs(ref.objective))
