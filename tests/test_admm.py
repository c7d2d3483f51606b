"""Spectral ADMM: spectra, agreement with OSQP, refusals."""

import numpy as np
import pytest
import scipy.sparse as sp

import qpsolve as qs
from qpsolve.model.operators import GridSpec, energy_matrix
from qpsolve.solvers import BackendUnavailable
from qpsolve.solvers import admm

SPECTRAL_BC = ("even", "periodic")


def _scene(shape=(24, 28), bits=2, seed=0):
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    f = np.exp(-(((x - 0.55 * shape[1]) / (0.4 * shape[1])) ** 2) - ((y - 0.4 * shape[0]) / (0.35 * shape[0])) ** 2)
    f = 0.1 + 0.85 * f / f.max()
    shift = 8 - bits
    return ((np.floor(f * 255).astype(np.uint8) >> shift) << shift)


@pytest.mark.parametrize("bc", SPECTRAL_BC)
@pytest.mark.parametrize("model", qs.MODELS)
@pytest.mark.parametrize("shape", [(9,), (5, 6), (3, 4, 5)])
def test_spectrum_matches_energy_matrix(model, bc, shape):
    P = energy_matrix(shape, model, bc, alpha=0.7, beta=1.3)
    ev = admm.spectrum(shape, model, bc, alpha=0.7, beta=1.3)
    ref = np.linalg.eigvalsh(P.toarray())
    scale = max(1.0, ref.max())
    assert np.abs(np.sort(ev.ravel()) - ref).max() <= 1e-11 * scale
    # ... and the transform diagonalises P (same eigenvalues is not enough).
    grid = GridSpec(shape=shape, model=model, bc=bc, alpha=0.7, beta=1.3)
    op = admm._Spectral(grid)
    v = np.random.default_rng(1).standard_normal(P.shape[0])
    assert np.abs(op.apply(v) - P @ v).max() <= 1e-11 * scale * np.abs(v).max()


def test_axis_eigenvalues_formulas():
    n = 6
    k = np.arange(n)
    assert np.allclose(admm.axis_eigenvalues(n, "even"), -4 * np.sin(np.pi * k / (2 * n)) ** 2)
    assert np.allclose(admm.axis_eigenvalues(n, "periodic"), -4 * np.sin(np.pi * k / n) ** 2)
    with pytest.raises(ValueError, match="bc"):
        admm.axis_eigenvalues(n, "odd")


@pytest.mark.parametrize("bc", SPECTRAL_BC)
@pytest.mark.parametrize("model", qs.MODELS)
def test_admm_agrees_with_osqp(model, bc):
    img = _scene()
    prob = qs.image_problem(img, bits=2, model=model, bc=bc, alpha=0.5, beta=2.0)
    ref = qs.solve(prob, solver="osqp")
    sol = qs.solve(prob, solver="admm")
    assert sol.success, sol.message
    assert sol.kkt.optimal and sol.kkt.infeasibility == 0.0
    assert abs(sol.objective - ref.objective) <= 1e-6 * max(1.0, abs(ref.objective))


@pytest.mark.parametrize("bc", SPECTRAL_BC)
@pytest.mark.parametrize("model", ["biharmonic", "laplace", "thin-plate"])
def test_admm_with_mask(model, bc):
    img = _scene((26, 22), bits=3)
    yy, xx = np.mgrid[0:26, 0:22]
    mask = (yy - 12) ** 2 + (xx - 10) ** 2 > 25  # a hole the plate passes under
    prob = qs.image_problem(img, bits=3, model=model, bc=bc, mask=mask)
    ref = qs.solve(prob, solver="osqp")
    sol = qs.solve(prob, solver="admm")
    assert sol.success, sol.message
    assert abs(sol.objective - ref.objective) <= 1e-6 * max(1.0, abs(ref.objective))


def test_admm_through_dequantize_matches_osqp():
    img = _scene((20, 20), bits=2)
    a = qs.dequantize(img, bits=2, bc="even", solver="admm", adaptive=False)  # the paper's QP
    b = qs.dequantize(img, bits=2, bc="even", solver="osqp", adaptive=False)
    pa = qs.image_problem(img, bits=2, bc="even")
    assert abs(pa.objective(a.ravel()) - pa.objective(b.ravel())) <= 1e-6 * max(1.0, abs(pa.objective(b.ravel())))


def test_admm_1d_and_3d():
    sig = (np.floor(np.sin(np.linspace(0, 3, 40)) * 3 + 3)).astype(float)
    prob = qs.image_problem(sig, step=1.0, bc="even")
    assert qs.solve(prob, solver="admm").success
    vol = np.stack([_scene((10, 12), bits=2)] * 4).astype(np.uint8)
    prob = qs.image_problem(vol, bits=2, bc="periodic", model="laplace")
    sol = qs.solve(prob, solver="admm")
    ref = qs.solve(prob, solver="osqp")
    assert sol.success
    assert abs(sol.objective - ref.objective) <= 1e-6 * max(1.0, abs(ref.objective))


def test_admm_continuation_schedule():
    prob = qs.image_problem(_scene(), bits=2, bc="even")
    sol = qs.solve(prob, solver="admm", rho_schedule="continuation", gamma=1.3, every=10)
    ref = qs.solve(prob, solver="osqp")
    assert sol.success
    assert abs(sol.objective - ref.objective) <= 1e-6 * max(1.0, abs(ref.objective))


def test_admm_warm_start_from_solution_is_immediate():
    prob = qs.image_problem(_scene(), bits=2, bc="even")
    first = qs.solve(prob, solver="admm")
    again = qs.solve(prob, solver="admm", x0=first.x)
    assert again.success and again.iterations <= first.iterations
    assert again.iterations <= 10


def test_admm_time_limit_and_max_iter_are_honest():
    prob = qs.image_problem(_scene(), bits=2, bc="even", model="triharmonic")
    sol = qs.solve(prob, solver="admm", max_iter=20, polish=False)
    assert not sol.success and sol.status == qs.Status.MAX_ITER
    assert sol.kkt.infeasibility == 0.0
    sol = qs.solve(prob, solver="admm", time_limit=1e-4, polish=False)
    assert sol.status in (qs.Status.TIME_LIMIT, qs.Status.OPTIMAL)


def test_admm_verbose_prints(capsys):
    prob = qs.image_problem(_scene((12, 12)), bits=2, bc="even")
    qs.solve(prob, solver="admm", verbose=True)
    assert "admm" in capsys.readouterr().out


def test_admm_refuses_odd_bc_with_reason():
    prob = qs.image_problem(_scene(), bits=2, bc="odd")
    why = admm.supports(prob)
    assert why is not None and "odd" in why and "even" in why
    with pytest.raises(BackendUnavailable, match="odd"):
        qs.solve(prob, solver="admm")


def test_admm_refuses_problem_without_grid():
    prob = qs.BoxQP(sp.identity(4), 0.0, 1.0)
    assert "grid" in admm.supports(prob)
    with pytest.raises(BackendUnavailable, match="grid"):
        qs.solve(prob, solver="admm")


def test_a_grid_that_does_not_describe_P_is_refused_before_admm_sees_it():
    # BoxQP checks a matrix against the grid it is given (issue #20); admm's own spectrum check
    # (supports) stays as a second line for problems built around the constructor.
    grid = GridSpec(shape=(6, 6), model="biharmonic", bc="even")
    P = energy_matrix((6, 6), "laplace", "even")  # the wrong model for this grid
    with pytest.raises(ValueError, match="grid: P is not the operator"):
        qs.BoxQP(P, 0.0, 1.0, grid=grid)


@pytest.mark.parametrize("bad", [dict(alpha_relax=2.5), dict(gamma=0.9), dict(check_every=0),
                                 dict(rho=-1.0), dict(rho_schedule="magic")])
def test_admm_bad_options(bad):
    prob = qs.image_problem(_scene((8, 8)), bits=2, bc="even")
    with pytest.raises(ValueError):
        qs.solve(prob, solver="admm", **bad)


def test_admm_unknown_option_is_type_error():
    prob = qs.image_problem(_scene((8, 8)), bits=2, bc="even")
    with pytest.raises(TypeError, match="bogus"):
        qs.solve(prob, solver="admm", bogus=1)


def test_admm_is_registered():
    assert "admm" in qs.available_solvers()
