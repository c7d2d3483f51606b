"""The default solver on the hard corners of the problem family, cross-checked against osqp."""

import numpy as np
import pytest

import qpsolve as qs
from qpsolve.imaging.data import gaussian, to_uint8, truncate_bits
from qpsolve.model.operators import GridSpec


def _agree(prob, res):
    ref = qs.solve(prob, solver="osqp")
    assert res.success, res.message
    assert np.all(res.x >= prob.lower) and np.all(res.x <= prob.upper)
    assert abs(res.objective - ref.objective) <= 1e-6 * max(1.0, abs(ref.objective))


def test_no_active_bound_constant_fits():
    prob = qs.image_problem(np.zeros((9, 7)), lower=np.full((9, 7), -1.0), upper=np.full((9, 7), 2.0))
    res = qs.solve(prob, solver="pcg")
    assert res.success and abs(res.objective) < 1e-12


def test_every_pixel_pinned():
    v = np.random.default_rng(0).normal(size=(6, 8))
    prob = qs.image_problem(v, lower=v, upper=v)
    res = qs.solve(prob, solver="pcg")
    assert res.success
    np.testing.assert_array_equal(res.x.reshape(v.shape), v)


@pytest.mark.parametrize("width", [0.0, 1e-9])
def test_zero_and_tiny_envelopes(width):
    img = truncate_bits(to_uint8(gaussian(20)), 3).astype(float)
    prob = qs.image_problem(img, lower=img, upper=img + width)
    _agree(prob, qs.solve(prob, solver="pcg"))


@pytest.mark.parametrize("shape", [(1, 40), (40, 1), (17, 23), (33, 31)])
def test_thin_and_odd_shapes(shape):
    rng = np.random.default_rng(sum(shape))
    lo = np.cumsum(rng.normal(size=shape), axis=1 if shape[1] > 1 else 0)
    prob = qs.image_problem(np.zeros(shape), lower=lo, upper=lo + 1.0)
    _agree(prob, qs.solve(prob, solver="pcg"))


def test_mask_with_one_pixel_islands():
    img = truncate_bits(to_uint8(gaussian(24)), 2)
    mask = np.zeros(img.shape, bool)
    mask[::5, ::5] = True  # isolated single pixels keep their envelopes
    mask[:4] = True
    prob = qs.image_problem(img, bits=2, mask=mask)
    _agree(prob, qs.solve(prob, solver="pcg"))


@pytest.mark.parametrize("bc", qs.BOUNDARIES)
@pytest.mark.parametrize("model", ["laplace", "biharmonic", "thin-plate", "triharmonic"])
def test_models_and_boundaries(model, bc):
    img = truncate_bits(to_uint8(gaussian(16)), 2)
    prob = qs.image_problem(img, bits=2, model=model, bc=bc)
    _agree(prob, qs.solve(prob, solver="pcg"))


def test_amg_and_coarse_to_fine_path():
    # 128x128 has a coarse-to-fine chain; force the AMG preconditioner at every level
    img = truncate_bits(to_uint8(gaussian(128)), 2)
    prob = qs.image_problem(img, bits=2)
    res = qs.solve(prob, solver="pcg", preconditioner="amg", time_limit=120)
    lu = qs.solve(prob, solver="pcg")
    assert len(lu.info["levels"]) >= 2
    assert lu.success
    if res.success:
        assert abs(res.objective - lu.objective) <= 1e-6 * max(1.0, lu.objective)
    else:  # the status must say why, not pretend
        assert res.status != qs.Status.OPTIMAL and not res.kkt.optimal


def test_warm_start_from_solution_is_immediate(capsys):
    img = truncate_bits(to_uint8(gaussian(32)), 2)
    prob = qs.image_problem(img, bits=2)
    first = qs.solve(prob, solver="pcg")
    again = qs.solve(prob, solver="pcg", x0=first.x, verbose=True)
    assert again.success and again.iterations == 1
    cold = qs.solve(prob, solver="pcg", verbose=True)
    assert "[pcg level" in capsys.readouterr().out
    assert cold.iterations > again.iterations


def test_certified_warm_start_builds_no_amg_hierarchy(monkeypatch):
    import qpsolve.solvers.pcg as pcg

    img = truncate_bits(to_uint8(gaussian(32)), 2)
    prob = qs.image_problem(img, bits=2)
    first = qs.solve(prob, solver="pdas")

    def refuse(*args, **kwargs):
        raise AssertionError("the hierarchy was built for a start that was already certified")

    monkeypatch.setattr(pcg, "Hierarchy", refuse)
    again = qs.solve(prob, solver="pcg", preconditioner="amg", x0=first.x)
    assert again.success and again.iterations == 0
    assert again.info["levels"][-1]["setup_seconds"] == 0.0
    with pytest.raises(AssertionError, match="already certified"):  # an uncertified start still builds it
        qs.solve(prob, solver="pcg", preconditioner="amg", x0=first.x + 0.3 * (prob.upper - first.x))


def test_rejects_unknown_options():
    prob = qs.image_problem(np.zeros((4, 4)), lower=np.zeros((4, 4)), upper=np.ones((4, 4)))
    with pytest.raises(TypeError, match="unknown option"):
        qs.solve(prob, solver="pcg", smoother="magic")
    with pytest.raises(ValueError, match="preconditioner"):
        qs.solve(prob, solver="pcg", preconditioner="ilu")


@pytest.mark.parametrize("model", ["laplace", "biharmonic"])
def test_active_set_steps_find_scattered_contacts(model):
    # Random envelopes touch everywhere: exact active-set steps settle the contact set, so the
    # projected Newton phase only has to certify; both paths reach the same optimum.
    rng = np.random.default_rng(3)
    lo = rng.uniform(0, 10, (40, 40))
    hi = lo + rng.uniform(0, 3, (40, 40))
    grid = GridSpec((40, 40), model, "even")
    prob = qs.BoxQP(grid.matrix(), lo.ravel(), hi.ravel(), grid=grid)
    with_steps = qs.solve(prob, solver="pcg", coarse_to_fine=False, active_set=True)
    without = qs.solve(prob, solver="pcg", coarse_to_fine=False)
    assert with_steps.success and without.success
    fine = with_steps.info["levels"][-1]
    assert fine["active_set_steps"] >= 1 and fine["iterations"] <= 2
    assert without.info["levels"][-1]["active_set_steps"] == 0
    assert abs(with_steps.objective - without.objective) <= 1e-8 * abs(without.objective)


def test_face_preconditioner_survives_an_exactly_singular_face(monkeypatch):
    # SuperLU can call a badly scaled face "exactly singular" (hypothesis met one in CI: a
    # 3-variable P whose shift underflowed); the preconditioner then falls back to Jacobi and
    # CG, which runs on the true P_FF, still finishes.
    import scipy.sparse.linalg as spla

    def singular(*args, **kwargs):
        raise RuntimeError("Factor is exactly singular")

    monkeypatch.setattr(spla, "splu", singular)
    prob = qs.image_problem(truncate_bits(to_uint8(gaussian(24)), 2), bits=2)
    res = qs.solve(prob, solver="pcg", preconditioner="lu")
    assert res.success, res.message
    ref = qs.solve(prob, solver="pdas")
    assert abs(res.objective - ref.objective) <= 1e-6 * max(1.0, abs(ref.objective))


def test_time_limit_on_a_coarse_level_returns_a_fine_feasible_point():
    # A limit that ends the solve on a coarse level: the answer is that level's point carried
    # up to the fine grid (feasible, full size), reported as a time limit, not a backend failure.
    img = truncate_bits(to_uint8(gaussian(128)), 2)
    prob = qs.image_problem(img, bits=2)
    res = qs.solve(prob, solver="pcg", time_limit=1e-9)
    assert res.status == qs.Status.TIME_LIMIT
    assert "coarse level" in res.message
    assert res.x.shape == (prob.n,)
    assert np.all(res.x >= prob.lower) and np.all(res.x <= prob.upper)
    # Not the registry's fallback (the box centre): the coarse point carries the solve's work.
    assert not np.array_equal(res.x, prob.start_point())


def test_a_smooth_solve_does_not_load_numba():
    # numba's tens of MB resident belong to the solvers that run its kernels (tnnmg, pcg's sweeps,
    # the photo pipeline, pdas's exact-order Green's blocks on grids of at most DENSE_TABLE_PIXELS
    # pixels), not to every import of qpsolve or every smooth pdas solve (96^2 is above that size)
    import subprocess
    import sys

    code = ("import sys, qpsolve as qs; from qpsolve.imaging.data import gaussian, to_uint8, truncate_bits; "
            "r = qs.solve(qs.image_problem(truncate_bits(to_uint8(gaussian(96)), 2), bits=2)); "
            "print(r.solver, r.success, 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["pdas", "True", "False"]
