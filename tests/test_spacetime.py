"""The separable space-time inverse and the ``spacetime`` backend, against dense linear algebra and cvxpy."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings, strategies as st

import qpsolve as qs
from qpsolve.linalg.spacetime import FaceInverse, SpaceTimeGrid, SpaceTimeInverse, frame_spectrum
from qpsolve.model.differences import second_difference
from qpsolve.model.operators import energy_matrix
from qpsolve.model.temporal import temporal_continuity, temporal_energy
from qpsolve.solvers import BackendUnavailable
from qpsolve.solvers.spacetime import SpaceTimeQP


def _dense_A(shape, model, weight, alpha=1.0, beta=1.0):
    """``I (x) P2 + weight D^T D (x) I`` from the 2-D matrix and the 1-D difference, by Kronecker products."""
    T, h, w = shape
    P2 = energy_matrix((h, w), model, "even", alpha=alpha, beta=beta).toarray()
    D = second_difference(T, "odd").toarray()
    return np.kron(np.eye(T), P2) + weight * np.kron(D.T @ D, np.eye(h * w))


shapes = st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 6))
models = st.sampled_from(["laplace", "biharmonic", "thin-plate", "triharmonic", "mixed"])


@settings(max_examples=25, deadline=None)
@given(shape=shapes, model=models, weight=st.sampled_from([0.0, 0.1, 1.0, 3.0]), seed=st.integers(0, 99))
def test_the_inverse_is_the_pseudo_inverse_of_the_dense_matrix(shape, model, weight, seed):
    A = _dense_A(shape, model, weight, alpha=0.7, beta=1.3)
    inv = SpaceTimeInverse(SpaceTimeGrid(shape, model, weight, alpha=0.7, beta=1.3))
    v = np.random.default_rng(seed).normal(size=A.shape[0])
    scale = max(1.0, np.abs(A).max())
    np.testing.assert_allclose(inv.solve(v), np.linalg.pinv(A, rcond=1e-10) @ v, atol=1e-7 * scale)
    Z = inv.nullspace
    np.testing.assert_allclose(Z.T @ Z, np.eye(Z.shape[1]), atol=1e-12)
    np.testing.assert_allclose(A @ Z, 0.0, atol=1e-9 * scale)
    assert Z.shape[1] == A.shape[0] - np.linalg.matrix_rank(A, tol=1e-9 * scale)


def test_the_grid_matrix_is_the_temporal_energy_with_every_row_kept():
    grid = SpaceTimeGrid((4, 3, 5), "biharmonic", 0.25)
    np.testing.assert_allclose(grid.matrix().toarray(), _dense_A((4, 3, 5), "biharmonic", 0.25))
    spec = frame_spectrum((3, 5), "triharmonic")
    ref = np.linalg.eigvalsh(energy_matrix((3, 5), "triharmonic", "even").toarray())
    np.testing.assert_allclose(np.sort(spec.ravel()), ref, atol=1e-9)


@settings(max_examples=20, deadline=None)
@given(shape=st.tuples(st.integers(2, 5), st.integers(2, 6), st.integers(2, 6)), seed=st.integers(0, 999),
       weight=st.sampled_from([0.0, 0.1, 2.0]))
def test_blocks_by_images_equal_the_dense_pseudo_inverse(shape, seed, weight):
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    idx = rng.choice(n, size=min(n, 7), replace=False)
    G = np.linalg.pinv(_dense_A(shape, "biharmonic", weight), rcond=1e-10)
    inv = SpaceTimeInverse(SpaceTimeGrid(shape, "biharmonic", weight))
    np.testing.assert_allclose(inv.block(idx, idx[::-1]), G[np.ix_(idx, idx[::-1])], atol=1e-8)


@settings(max_examples=25, deadline=None)
@given(shape=st.tuples(st.integers(1, 5), st.integers(2, 5), st.integers(2, 5)), seed=st.integers(0, 999),
       count=st.integers(0, 6), weight=st.sampled_from([0.0, 0.5]))
def test_the_face_inverse_minimises_the_energy_with_the_held_variables_fixed(shape, seed, count, weight):
    # any held set, also none or all in one frame (then the face energy is singular along the null
    # directions it does not see): d minimises 1/2 d^T A d - r^T d over d with d_held = 0
    rng = np.random.default_rng(seed)
    A = _dense_A(shape, "biharmonic", weight)
    n = A.shape[0]
    held = np.zeros(n, bool)
    held[rng.choice(n, size=min(count, n - 1), replace=False)] = True
    F = ~held
    AFF = A[np.ix_(F, F)]
    r = np.zeros(n)
    r[F] = AFF @ rng.normal(size=F.sum())  # a right-hand side the face energy can meet
    d = FaceInverse(SpaceTimeInverse(SpaceTimeGrid(shape, "biharmonic", weight)), held).solve(r)
    assert np.all(d[held] == 0)
    np.testing.assert_allclose(AFF @ d[F], r[F], atol=1e-7 * max(1.0, np.abs(r).max()))


def _chunk(T=5, h=12, w=16, speed=0.6, bits=3, seed=0):
    """A (T, h, w) chunk's temporal QP, built from the quantized moving scene (its contours move)."""
    from qpsolve.distributed.clips import moving_scene, quantize

    q = quantize(moving_scene(T, h, w, speed=speed), bits)[0].astype(float)
    step = 2.0 ** (8 - bits)
    lo, hi = q, q + step
    keep = temporal_continuity(lo, hi)
    return lo, hi, keep


@pytest.mark.parametrize("weight", [0.1, 1.0])
def test_spacetime_equals_cvxpy_on_a_chunk_with_a_partial_mask(weight):
    lo, hi, keep = _chunk(T=5, h=10, w=14, speed=3.0)
    assert 0 < keep[1:-1].mean() < 1  # the mask has work: the operator is not the separable one
    P = temporal_energy(lo.shape, "biharmonic", "even", weight=weight, keep=keep)
    prob = SpaceTimeQP(P, lo, hi, spacetime=SpaceTimeGrid(lo.shape, "biharmonic", weight))
    res = qs.solve(prob, solver="spacetime")
    ref = qs.solve(prob, solver="cvxpy")
    assert res.success and ref.success and res.solver == "spacetime"
    assert np.all(res.x >= prob.lower) and np.all(res.x <= prob.upper)
    assert abs(res.objective - ref.objective) <= 1e-6 * max(1.0, abs(ref.objective))
    np.testing.assert_allclose(res.x, ref.x, atol=2e-3)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), T=st.integers(1, 4), weight=st.sampled_from([0.0, 0.1, 1.0]))
def test_spacetime_answers_are_certified_inside_the_box_and_no_worse_than_the_start(seed, T, weight):
    rng = np.random.default_rng(seed)
    shape = (T, 6, 7)
    lo = np.round(rng.normal(size=shape) * 2)
    hi = lo + rng.choice([0.0, 1.0, 3.0], size=shape)  # some pinned, some loose
    P = temporal_energy(shape, "biharmonic", "even", weight=weight, keep=rng.random(shape) < 0.7)
    prob = SpaceTimeQP(P, lo, hi, spacetime=SpaceTimeGrid(shape, "biharmonic", weight))
    x0 = prob.project(rng.normal(size=prob.n))
    res = qs.solve(prob, solver="spacetime", x0=x0)
    assert res.success, res.message
    assert np.all(res.x >= prob.lower) and np.all(res.x <= prob.upper)
    assert res.objective <= prob.objective(x0) + 1e-9 * max(1.0, abs(prob.objective(x0)))


def test_spacetime_with_the_restricted_preconditioner_is_still_exact(monkeypatch):
    # above MAX_HELD binding variables the Schur complement is not formed: a weaker preconditioner,
    # the same certified answer
    import qpsolve.solvers.spacetime as st_mod

    lo, hi, keep = _chunk(T=4, h=8, w=12, speed=2.0)
    P = temporal_energy(lo.shape, "biharmonic", "even", weight=0.1, keep=keep)
    prob = SpaceTimeQP(P, lo, hi, spacetime=SpaceTimeGrid(lo.shape, "biharmonic", 0.1))
    exact = qs.solve(prob, solver="spacetime")
    monkeypatch.setattr(st_mod, "MAX_HELD", 0)
    weak = qs.solve(prob, solver="spacetime")
    assert exact.success and weak.success
    assert weak.info["cg_iterations"] > exact.info["cg_iterations"]
    np.testing.assert_allclose(weak.x, exact.x, atol=1e-4)


def test_spacetime_needs_its_grid():
    prob = qs.BoxQP(sp.identity(12), np.zeros(12), np.ones(12))
    with pytest.raises(BackendUnavailable, match="needs a SpaceTimeQP"):
        qs.solve(prob, solver="spacetime")
    with pytest.raises(ValueError, match="does not hold the problem's 12 variables"):
        SpaceTimeQP(sp.identity(12), np.zeros(12), np.ones(12), spacetime=SpaceTimeGrid((2, 2, 2)))
    with pytest.raises(TypeError, match="spacetime must be a SpaceTimeGrid"):
        SpaceTimeQP(sp.identity(12), np.zeros(12), np.ones(12), spacetime=(2, 2, 3))
    with pytest.raises(ValueError, match="shape must be"):
        SpaceTimeGrid((2, 3))
    with pytest.raises(ValueError, match="model"):
        SpaceTimeGrid((2, 3, 3), model="plate")
    with pytest.raises(ValueError, match="alpha must be a finite non-negative number"):
        SpaceTimeGrid((2, 3, 3), model="mixed", alpha=-1.0)
    with pytest.raises(ValueError, match="beta must be a finite non-negative number"):
        SpaceTimeGrid((2, 3, 3), model="mixed", beta=np.nan)
    grid = SpaceTimeGrid((2, 3, 2))
    chunk = SpaceTimeQP(grid.matrix(), np.zeros(12), np.ones(12), spacetime=grid)
    for bad in (0, "x", 2.5):
        with pytest.raises(ValueError, match="cg_maxiter must be a positive integer"):
            qs.solve(chunk, solver="spacetime", cg_maxiter=bad)


def test_the_schur_complement_built_in_row_blocks_is_the_same(monkeypatch):
    import qpsolve.linalg.separable as st_lin

    inv = SpaceTimeInverse(SpaceTimeGrid((3, 5, 6), weight=0.3))
    rng = np.random.default_rng(4)
    held = np.zeros(90, bool)
    held[rng.choice(90, size=40, replace=False)] = True
    r = np.where(held, 0.0, rng.normal(size=90))
    whole = FaceInverse(inv, held).solve(r)
    monkeypatch.setattr(st_lin, "FACE_BLOCK_ROWS", 7)  # 40 rows: five blocks of 7 and one of 5
    np.testing.assert_array_equal(FaceInverse(inv, held).solve(r), whole)
