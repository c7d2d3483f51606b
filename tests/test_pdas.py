"""The ``pdas`` backend, cross-checked against ``osqp`` and ``pcg`` and the shared certificate.

No expected value comes from pdas itself: objectives are compared with the other solvers (both
certified at the same tolerance, so two optima differ by at most the two duality gaps), and two optimal
points of a convex QP may differ only by a null vector of ``P``, which is what is asserted about ``x``.
"""

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import qpsolve as qs
from qpsolve.bench.harness import build_problem
from qpsolve.imaging.data import gaussian, rosenbrock, to_uint8, truncate_bits
from qpsolve.linalg import greens
from qpsolve.model.operators import GridSpec
from qpsolve.result import Status
from qpsolve.solvers import BackendUnavailable
from qpsolve.solvers import pdas as pdas_backend

TOL = 1e-8

pytestmark = pytest.mark.filterwarnings("ignore:The default value of raise_error:PendingDeprecationWarning")


def _valid(prob, res, tol=TOL):
    """What every result must satisfy, optimal or not."""
    x = res.x
    assert x.shape == (prob.n,) and np.isfinite(x).all()
    assert np.all(x >= prob.lower) and np.all(x <= prob.upper), "x left its box"
    assert res.success == res.kkt.optimal
    assert res.success == (res.status == Status.OPTIMAL)
    # the judge, called again independently of the solver's own bookkeeping
    assert qs.certificate(prob, x, tol).optimal == res.success


def _same_optimum(prob, res, ref, rel=3 * TOL, x_atol=1e-2):
    """``res`` and the certified reference ``ref`` describe the same optimum."""
    assert ref.success, f"reference {ref.solver} not certified: {ref.message}"
    assert res.success, res.message
    scale = max(1.0, abs(ref.objective))
    assert abs(res.objective - ref.objective) <= rel * scale, (res.objective, ref.objective)
    d = res.x - ref.x
    # optimal points differ by a null vector of P ...
    Pd = prob.P @ d
    assert np.abs(Pd).max() <= 1e-4 * max(1.0, np.abs(prob.P).max() * np.abs(ref.x).max())
    # ... and on these problems the contacts pin that down (grey levels of a 0..255 image)
    assert np.abs(d).max() <= x_atol


def _pdas(prob, **kw):
    res = qs.solve(prob, solver="pdas", **kw)
    assert res.solver == "pdas"
    _valid(prob, res, kw.get("tol", TOL))
    return res


def _img(fn, size, bits=2):
    return truncate_bits(to_uint8(fn(size)), bits)


# ----------------------------------------------------------------------------- the paper's problems


@pytest.mark.parametrize("name,size", [("gaussian2", 32), ("gaussian2-even", 40), ("rosenbrock2", 32),
                                       ("gaussian2-masked", 32)])
def test_bench_problems_match_osqp_and_pcg(name, size):
    prob = build_problem(name, size)
    res = _pdas(prob)
    assert res.success, res.message
    _same_optimum(prob, res, qs.solve(prob, solver="osqp"), rel=1e-6)
    _same_optimum(prob, res, qs.solve(prob, solver="pcg"))


@pytest.mark.parametrize("name,size", [("gaussian2", 128), ("gaussian2-even", 128), ("rosenbrock2", 96),
                                       ("gaussian2-masked", 64)])
def test_dual_shift_proves_a_gap_far_below_the_rounding_floor(name, size):
    # The polish's last correction, kept apart from x, is a dual point whose gap is far
    # below what x's own gradient can show (the float64 floor of the plain certificate).
    # pdas stops at the first polished point the certificate accepts: one polish already
    # puts the gap four orders below the floor (a second one goes further still).
    prob = build_problem(name, size)
    res = _pdas(prob)
    plain = qs.certificate(prob, res.x)
    assert res.success and plain.optimal
    assert res.kkt.gap <= 1e-4 * plain.gap_floor
    assert res.kkt.relative_gap <= 1e-13


@pytest.mark.parametrize("name,size", [("gaussian2", 128), ("rosenbrock2", 96)])
def test_repeated_polish_steps_reach_the_same_certified_optimum(name, size, monkeypatch):
    # Small grids need one refinement; large odd plates (1024^2 and up) take up to three before
    # the certificate is tried.  Forcing every step here exercises that path: each step starts
    # from the last one's point, projected in place, and the last one's rounding residue is
    # the dual shift.
    prob = build_problem(name, size)
    plain = _pdas(prob)
    calls = []
    refine = pdas_backend.level.Level._refine

    def counted(self, x, act, upper, overwrite_x=False):
        before = x.copy()
        out = refine(self, x, act, upper, overwrite_x=overwrite_x)
        calls.append(overwrite_x)
        if not overwrite_x:  # the caller's point is left as it was
            assert np.array_equal(x, before)
        # s + shift is x (contacts on their bounds) + d exactly: TwoSum drops nothing
        s, shift = out[0], out[1]
        assert np.all(s == s + shift)  # the shift lies below the rounding of s
        return out

    monkeypatch.setattr(pdas_backend.level.Level, "_refine", counted)
    monkeypatch.setattr(pdas_backend.constants, "POLISH_STEP", 0.0)
    forced = _pdas(prob)
    assert forced.success, forced.message
    assert calls.count(True) >= 2 and calls.count(False) >= 1  # steps two and three ran
    _same_optimum(prob, forced, plain)
    assert forced.kkt.gap <= 1e-4 * qs.certificate(prob, forced.x).gap_floor


@pytest.mark.parametrize("name,size", [("gaussian2", 32), ("gaussian2-even", 40), ("rosenbrock2", 32),
                                       ("gaussian2-masked", 32)])
def test_dense_green_tables_give_the_same_optimum(name, size, monkeypatch):
    # Small grids solved repeatedly (tiles) read their Schur blocks from a dense table of P^g
    # instead of evaluating them by images: the same optimum, and no block evaluated (coarse levels
    # too: the whole chain is small; coarse levels of larger grids never read a table).
    prob = build_problem(name, size)
    monkeypatch.setattr(greens, "DENSE_TABLE_PIXELS", 0)
    greens._shared.cache_clear()
    plain = _pdas(prob)
    assert all(level.get("schur_columns", 0) > 0 for level in plain.info["levels"] if level["solver"] == "pdas"
               and level["active"])
    monkeypatch.setattr(greens, "DENSE_TABLE_PIXELS", 4096)
    monkeypatch.setattr(greens, "DENSE_TABLE_AFTER", 1)
    greens._shared.cache_clear()
    tabled = _pdas(prob)
    assert greens.shared_green(prob.grid).dense is not None
    assert all(level.get("schur_columns", 0) == 0 for level in tabled.info["levels"] if level["solver"] == "pdas")
    _same_optimum(prob, tabled, plain)
    greens._shared.cache_clear()


@pytest.mark.parametrize("name", ["gaussian2", "rosenbrock2"])
def test_bench_problems_64_match_pcg(name):
    prob = build_problem(name, 64)
    res = _pdas(prob)
    _same_optimum(prob, res, qs.solve(prob, solver="pcg"))


@pytest.mark.parametrize("bc", ["odd", "even", "periodic"])
@pytest.mark.parametrize("fn,size", [(gaussian, 40), (rosenbrock, 37)], ids=["gaussian40", "rosenbrock37"])
def test_boundary_rules_match_osqp_and_pcg(fn, size, bc):
    prob = qs.image_problem(_img(fn, size), bits=2, bc=bc)
    res = _pdas(prob)
    _same_optimum(prob, res, qs.solve(prob, solver="osqp"), rel=1e-6)
    _same_optimum(prob, res, qs.solve(prob, solver="pcg"))


@pytest.mark.parametrize("model,bc", [("laplace", "odd"), ("laplace", "even"), ("thin-plate", "even"),
                                      ("triharmonic", "periodic"), ("mixed", "even"), ("mixed", "periodic")])
def test_other_models_match_pcg(model, bc):
    prob = qs.image_problem(_img(gaussian, 24), bits=2, model=model, bc=bc, alpha=0.3, beta=2.0)
    res = _pdas(prob)
    _same_optimum(prob, res, qs.solve(prob, solver="pcg"))


def test_auto_picks_pdas_on_grid_problems():
    prob = build_problem("gaussian2", 24)
    res = qs.solve(prob)
    assert res.solver == "pdas" and res.success


# ----------------------------------------------------------------------------- random box QPs on grids


def _random_grid_qp(shape, model="biharmonic", bc="odd", *, seed=0, q_scale=0.0, texture="walk",
                    width=(0.2, 3.0), pin_fraction=0.0):
    rng = np.random.default_rng(seed)
    grid = GridSpec(tuple(shape), model, bc, alpha=0.5, beta=1.5)
    if texture == "walk":
        c = rng.normal(size=shape).cumsum(0).cumsum(1)
    elif texture == "noise":
        c = 10.0 * rng.normal(size=shape)
    else:  # steps
        c = rng.integers(0, 3, size=shape).astype(float)
    w = rng.uniform(*width, size=shape)
    lo, hi = c.ravel(), (c + w).ravel()
    pin = rng.uniform(size=lo.size) < pin_fraction
    hi = np.where(pin, lo, hi)
    q = q_scale * rng.normal(size=lo.size) if q_scale else None
    return qs.BoxQP(grid.matrix(), lo, hi, q=q, grid=grid)


@pytest.mark.parametrize("bc", ["odd", "even", "periodic"])
@pytest.mark.parametrize("shape,texture", [((16, 16), "walk"), ((13, 21), "steps"), ((14, 10), "noise"),
                                           ((5, 9), "walk")])
def test_random_envelopes_match_osqp(shape, texture, bc):
    prob = _random_grid_qp(shape, bc=bc, seed=sum(shape), texture=texture)
    res = _pdas(prob)
    _same_optimum(prob, res, qs.solve(prob, solver="osqp"), rel=1e-6, x_atol=1e-3)


@pytest.mark.parametrize("bc", ["odd", "even", "periodic"])
def test_linear_term_q_nonzero(bc):
    # q != 0: no coarse-to-fine, and the null-space rows of the saddle system carry N^T q
    prob = _random_grid_qp((18, 15), bc=bc, seed=3, q_scale=0.5)
    res = _pdas(prob)
    _same_optimum(prob, res, qs.solve(prob, solver="osqp"), rel=1e-6, x_atol=1e-3)
    _same_optimum(prob, res, qs.solve(prob, solver="pcg"), x_atol=1e-3)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # start_point(): -inf + inf
def test_infinite_bounds_on_some_pixels():
    prob = build_problem("gaussian2", 32)
    lo, hi = prob.lower.copy(), prob.upper.copy()
    lo[::7] = -np.inf
    hi[::5] = np.inf
    prob = qs.BoxQP(prob.P, lo, hi, grid=prob.grid)
    res = _pdas(prob)
    _same_optimum(prob, res, qs.solve(prob, solver="pcg"))


# ----------------------------------------------------------------------------- pinned and degenerate envelopes


def test_pinned_pixels_keep_their_values():
    prob = build_problem("gaussian2", 32)
    rng = np.random.default_rng(1)
    idx = rng.choice(prob.n, 40, replace=False)
    lo, hi = prob.lower.copy(), prob.upper.copy()
    lo[idx] = hi[idx] = lo[idx] + rng.uniform(0, 64, idx.size)
    prob = qs.BoxQP(prob.P, lo, hi, grid=prob.grid)
    res = _pdas(prob)
    np.testing.assert_array_equal(res.x[idx], lo[idx])
    _same_optimum(prob, res, qs.solve(prob, solver="osqp"), rel=1e-6)
    _same_optimum(prob, res, qs.solve(prob, solver="pcg"))


@pytest.mark.parametrize("bc", ["odd", "even"])
def test_zero_width_envelopes_pin_everything(bc):
    img = _img(gaussian, 20, bits=3).astype(float)
    prob = qs.image_problem(img, lower=img, upper=img, bc=bc)
    # every pixel pinned: no dense Schur complement for pdas, so auto hands it to the next backend
    assert "pinned" in pdas_backend.supports(prob)
    with pytest.raises(BackendUnavailable, match="pinned"):
        _pdas(prob)
    res = qs.solve(prob)
    assert res.success and res.solver != "pdas"
    np.testing.assert_array_equal(res.x, img.ravel())
    # the objective of the only feasible point, summed by numpy
    x = img.ravel()
    assert res.objective == pytest.approx(0.5 * x @ (prob.P @ x), rel=1e-12)


@pytest.mark.parametrize("bc", ["odd", "even"])
def test_tiny_width_envelopes(bc):
    img = _img(gaussian, 16, bits=3).astype(float)
    prob = qs.image_problem(img, lower=img, upper=img + 1e-9, bc=bc)
    res = _pdas(prob)
    _same_optimum(prob, res, qs.solve(prob, solver="osqp"), rel=1e-6, x_atol=1e-8)
    _same_optimum(prob, res, qs.solve(prob, solver="pcg"), x_atol=1e-8)


@pytest.mark.parametrize("bc", ["odd", "even", "periodic"])
def test_flat_envelope_every_constant_is_optimal(bc):
    shape = (12, 10)
    prob = qs.image_problem(np.zeros(shape), lower=np.full(shape, -1.0), upper=np.full(shape, 2.0), bc=bc)
    res = _pdas(prob)
    assert res.success
    assert abs(res.objective) <= 1e-12
    # an optimum of zero energy is a null vector of P (a constant, or a plane under odd)
    assert np.abs(prob.P @ res.x).max() <= 1e-10


def test_ramp_under_odd_has_zero_energy():
    # odd boundaries: planes cost nothing, so an envelope around a tilted plane is solved at E = 0
    i, j = np.mgrid[:16, :20]
    plane = 3.0 * i - 2.0 * j + 5.0
    rng = np.random.default_rng(0)
    lo = plane - rng.uniform(0.0, 1.0, plane.shape)
    hi = plane + rng.uniform(0.0, 1.0, plane.shape)
    lo[3, 4] = hi[3, 4] = plane[3, 4]
    prob = qs.image_problem(np.zeros(plane.shape), lower=lo, upper=hi, bc="odd")
    res = _pdas(prob)
    assert res.success
    assert abs(res.objective) <= 1e-8


# ----------------------------------------------------------------------------- what pdas does not take


def _box(shape, **kw):
    shape = shape if isinstance(shape, tuple) else (shape,)
    rng = np.random.default_rng(0)
    lo = rng.normal(size=shape).cumsum(-1)
    return qs.image_problem(np.zeros(shape), lower=lo, upper=lo + 1.0, **kw)


@pytest.mark.parametrize("prob_fn,words", [
    (lambda: _box((1, 40)), "shorter than 4"),
    (lambda: _box((40, 1)), "shorter than 4"),
    (lambda: _box((3, 30)), "shorter than 4"),
    (lambda: _box((30, 2)), "shorter than 4"),
    (lambda: _box(50), "1-D"),
    (lambda: _box((6, 5, 5)), "3-D"),
    (lambda: _box((12, 12), model="thin-plate", bc="odd"), "thin-plate"),
    (lambda: _box((12, 12), model="triharmonic", bc="odd"), "triharmonic"),
    # (a model's own energy without grid= gets its grid back under auto: tests/test_lattice.py)
    (lambda: qs.BoxQP(2.5 * GridSpec((12, 12)).matrix(), -1.0, np.arange(144.0)), "no grid"),
    (lambda: qs.image_problem(np.ones((64, 64)), lower=np.ones((64, 64)), upper=np.ones((64, 64))), "pinned"),
])
def test_unsupported_problems_are_reported(prob_fn, words):
    prob = prob_fn()
    why = pdas_backend.supports(prob)
    assert isinstance(why, str) and words in why
    with pytest.raises(BackendUnavailable, match=words):
        qs.solve(prob, solver="pdas")
    # auto moves on to a backend that takes it
    res = qs.solve(prob)
    assert res.solver != "pdas"
    _valid(prob, res)
    assert res.success


def test_bad_options_are_rejected():
    prob = build_problem("gaussian2", 16)
    for bad in (0, -3, 2.5, True, "8"):
        with pytest.raises(ValueError, match="max_active"):
            qs.solve(prob, solver="pdas", max_active=bad)
    with pytest.raises(TypeError, match="unknown option"):
        qs.solve(prob, solver="pdas", no_such_option=1)


# ----------------------------------------------------------------------------- coarse-to-fine, warm starts


def test_odd_sizes_do_not_coarsen():
    prob = qs.image_problem(_img(gaussian, 33)[:, :31], bits=2)
    res = _pdas(prob)
    levels = res.info["levels"]
    # no coarse level (PDAS may hand over to its projected Newton on the same grid)
    assert levels[0]["solver"] == "pdas" and all(lv["n"] == prob.n for lv in levels)
    _same_optimum(prob, res, qs.solve(prob, solver="pcg"))


def test_even_sizes_coarsen_and_coarse_to_fine_can_be_switched_off():
    prob = build_problem("gaussian2", 48)
    ref = qs.solve(prob, solver="pcg")
    res = _pdas(prob)
    ns = [lvl["n"] for lvl in res.info["levels"]]
    assert len(ns) >= 2 and ns == sorted(ns) and ns[-1] == prob.n
    _same_optimum(prob, res, ref)
    flat = _pdas(prob, coarse_to_fine=False)
    assert {lvl["n"] for lvl in flat.info["levels"]} == {prob.n}  # (a projected-Newton entry may follow)
    _same_optimum(prob, flat, ref)


@pytest.mark.parametrize("start", ["solution", "zeros", "lower", "outside"])
def test_warm_start(start):
    prob = build_problem("rosenbrock2", 32)
    ref = qs.solve(prob, solver="pcg")
    x0 = {"solution": ref.x, "zeros": np.zeros(prob.n), "lower": prob.lower,
          "outside": prob.upper + 100.0}[start]
    res = _pdas(prob, x0=x0)
    _same_optimum(prob, res, ref)
    if start == "solution":
        assert res.iterations <= 3


def test_warm_start_with_linear_term():
    prob = _random_grid_qp((16, 12), bc="even", seed=9, q_scale=1.0)
    ref = qs.solve(prob, solver="osqp")
    res = _pdas(prob, x0=np.zeros(prob.n))
    _same_optimum(prob, res, ref, rel=1e-6, x_atol=1e-3)


# ----------------------------------------------------------------------------- limits and fallbacks


@pytest.mark.parametrize("max_active", [1, 5])
def test_tiny_max_active_falls_back_to_pcg(max_active):
    prob = build_problem("gaussian2", 32)
    res = _pdas(prob, max_active=max_active)
    assert res.success, res.message
    assert "fallback" in res.info and res.info["fallback"]["solver"] == "pcg"
    _same_optimum(prob, res, qs.solve(prob, solver="osqp"), rel=1e-6)


@pytest.mark.parametrize("kw", [{"max_active": 1}, {"max_active": 5}, {"max_iter": 1}])
def test_without_fallback_the_status_is_honest(kw):
    prob = build_problem("gaussian2", 32)
    res = _pdas(prob, fallback=False, **kw)
    assert not res.success
    assert res.status in (Status.MAX_ITER, Status.STALLED, Status.NOT_CERTIFIED)
    assert "fallback" not in res.info
    ref = qs.solve(prob, solver="pcg")
    assert res.objective >= ref.objective - 3 * TOL * abs(ref.objective)  # not below the optimum


def test_verbose_prints_progress(capsys):
    prob = build_problem("gaussian2", 32)
    _pdas(prob, verbose=True)
    out = capsys.readouterr().out
    assert "[pdas]" in out and "|A|" in out
    _pdas(prob, verbose=False)
    assert "[pdas]" not in capsys.readouterr().out


def test_time_limit():
    prob = build_problem("gaussian2", 32)
    res = _pdas(prob, time_limit=1e-6)
    assert res.success or res.status == Status.TIME_LIMIT
    res = _pdas(prob, time_limit=60.0)
    assert res.success


@pytest.mark.parametrize("tol", [1e-4, 1e-11])
def test_other_tolerances(tol):
    prob = build_problem("gaussian2", 32)
    res = _pdas(prob, tol=tol)
    assert res.success and res.kkt.tol == tol
    ref = qs.solve(prob, solver="pcg", tol=1e-11)
    assert abs(res.objective - ref.objective) <= 3 * max(tol, 1e-11) * abs(ref.objective)


@pytest.mark.parametrize("change", ["scaled", "shifted", "other-model"])
def test_p_that_disagrees_with_its_grid_never_reaches_pdas(change):
    # pdas takes its Green's function from prob.grid; a P that says otherwise is refused by BoxQP
    # (issue #20), so pdas never solves another problem than the one stated
    base = build_problem("gaussian2", 24)
    P = {"scaled": 2.0 * base.P, "shifted": base.P + sp.identity(base.n),
         "other-model": GridSpec(base.grid.shape, "laplace", "odd").matrix()}[change]
    with pytest.raises(ValueError, match="grid: P is not the operator"):
        qs.BoxQP(P, base.lower, base.upper, grid=base.grid)


# ----------------------------------------------------------------------------- property-based


@st.composite
def _grid_qps(draw):
    n = draw(st.integers(4, 14))
    m = draw(st.integers(4, 14))
    bc = draw(st.sampled_from(["odd", "even", "periodic"]))
    models = ["laplace", "biharmonic"] if bc == "odd" else ["laplace", "biharmonic", "thin-plate",
                                                            "triharmonic", "mixed"]
    model = draw(st.sampled_from(models))
    texture = draw(st.sampled_from(["walk", "noise", "steps"]))
    q_scale = draw(st.sampled_from([0.0, 0.0, 0.1, 1.0]))
    pin = draw(st.sampled_from([0.0, 0.0, 0.02]))  # pdas refuses more than 5 % pinned
    width = draw(st.sampled_from([(0.0, 1.0), (0.5, 2.0), (1e-6, 1e-3)]))
    seed = draw(st.integers(0, 2**32 - 1))
    return _random_grid_qp((n, m), model, bc, seed=seed, q_scale=q_scale, texture=texture, width=width,
                           pin_fraction=pin)


@settings(max_examples=30, deadline=None)
@given(prob=_grid_qps())
def test_random_grid_qps_are_certified_and_match_osqp(prob):
    res = _pdas(prob)
    assert res.success, res.message
    ref = qs.solve(prob, solver="osqp")
    if not ref.success:  # osqp is the cross-check; pcg stands in when it cannot certify
        ref = qs.solve(prob, solver="pcg")
    assert ref.success
    assert abs(res.objective - ref.objective) <= 1e-6 * max(1.0, abs(ref.objective))
    assert np.abs(prob.P @ (res.x - ref.x)).max() <= 1e-3 * max(1.0, np.abs(prob.P).max() * np.abs(ref.x).max())


def test_pinned_pixels_do_not_chatter():
    # Pinned pixels make the saddle system ill-conditioned; PDAS used to swap pixels in and out
    # at rounding-level violations until max_iter.  Now it either converges (polished iterates)
    # or sees a dense contact set at once and hands over to pcg.
    p = build_problem("gaussian2", 48)
    rng = np.random.default_rng(0)
    idx = rng.choice(p.n, int(0.05 * p.n), replace=False)
    lo, hi = p.lower.copy(), p.upper.copy()
    hi[idx] = lo[idx]
    prob = qs.BoxQP(p.P, lo, hi, grid=p.grid)
    res = _pdas(prob)
    assert res.success
    levels = res.info["levels"]
    assert all(lv["iterations"] <= 40 for lv in levels if lv["solver"] == "pdas")
    if "fallback" in res.info:
        assert levels[-1]["status"] in ("dense", "too_many_active"), levels[-1]


def test_zero_energy_grid_is_refused_and_solved_elsewhere():
    # mixed with alpha = beta = 0 has P = 0: a linear program on a box, optimum -sum|q| on [-1, 1]
    grid = GridSpec((8, 8), "mixed", "even", alpha=0.0, beta=0.0)
    q = np.random.default_rng(4).normal(size=64)
    prob = qs.BoxQP(sp.csr_matrix((64, 64)), -1.0, 1.0, q=q, grid=grid)
    assert isinstance(pdas_backend.supports(prob), str)
    with pytest.raises(BackendUnavailable):
        qs.solve(prob, solver="pdas")
    res = qs.solve(prob)
    _valid(prob, res)
    assert res.success and res.objective == pytest.approx(-np.abs(q).sum(), rel=1e-12)


def test_registry_reuses_the_backends_certificate_only_for_the_same_inputs():
    from qpsolve.solvers import finalize

    prob = build_problem("gaussian2", 128)
    out = pdas_backend.solve(prob, tol=TOL, max_iter=None, x0=None, verbose=False, time_limit=None)
    assert "fallback" not in out.info and out.certified is not None
    res = finalize(prob, "pdas", out, TOL, 0.0)
    assert res.kkt is out.certified[3]  # the same call on the same inputs: reused
    # a different tolerance, or a changed point, is certified afresh
    assert finalize(prob, "pdas", out, 1e-3, 0.0).kkt is not out.certified[3]
    moved = out.x.copy()
    moved[0] = 0.5 * (prob.lower[0] + prob.upper[0])
    out.x = moved
    fresh = finalize(prob, "pdas", out, TOL, 0.0)
    assert fresh.kkt is not out.certified[3]
    assert fresh.kkt == qs.certificate(prob, moved, TOL, dual_shift=out.dual_shift)


def test_max_iter_reaches_the_pcg_hand_over():
    prob = build_problem("gaussian2", 32)
    res = qs.solve(prob, solver="pdas", max_active=1, max_iter=2)
    assert res.info["fallback"]["solver"] == "pcg"
    assert res.info["fallback"]["iterations"] <= 2
    _valid(prob, res)


def test_dense_contacts_hand_over_only_when_the_fine_level_would_not_fit():
    prob = build_problem("gaussian2", 64)  # 4096 pixels: large enough for the density rule
    act = np.arange(0, prob.n, 10)  # 10 % of the pixels, well above DENSE_FRACTION
    upper = np.zeros(act.size, bool)

    def status(growth):
        level = pdas_backend.level.Level(prob)
        return pdas_backend.iteration.run_level(level, act, upper, max_iter=1, max_active=4000, deadline=None,
                                  verbose=False, label="t", growth=growth, max_fine=4000)[3]

    assert status(1) != "dense"  # 410 contacts: a small dense system, PDAS keeps it
    assert status(pdas_backend.constants.DENSE_GROWTH ** 2) == "dense"  # two levels up it would outgrow 4000


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.integers(1, 30), st.sampled_from([1, 3, 5, 7]),
       st.floats(0.0, 1.0))
def test_window_peaks_match_a_full_maximum_filter(seed, n, m, window, frac):
    # Both branches (gathers for a few candidates, the filter for many) against scipy's filter
    # over the whole image; integer values make ties common.
    from scipy.ndimage import maximum_filter

    from qpsolve.solvers.pdas.iteration import window_peaks

    rng = np.random.default_rng(seed)
    values = rng.integers(-3, 4, n * m).astype(float)
    idx = np.flatnonzero(rng.random(n * m) < frac)
    full = maximum_filter(values.reshape(n, m), size=window, mode="nearest").ravel()
    assert np.array_equal(window_peaks(values, (n, m), idx, window), values[idx] == full[idx])


@pytest.mark.parametrize("rounds", [1, pdas_backend.constants.NEWTON_FACE_ROUNDS])
@pytest.mark.parametrize("name", ["rosenbrock2", "gaussian2"])
def test_projected_newton_alone_certifies_from_the_envelope_midpoints(name, rounds, monkeypatch):
    # The fallback PDAS hands a stalled fine level to, run by itself from a poor start: with
    # one face solve per step (Bertsekas) and with the bound pixels the step pushes out held
    # and the face solved again.  Both certify, at the optimum pcg finds.
    monkeypatch.setattr(pdas_backend.constants, "NEWTON_FACE_ROUNDS", rounds)
    prob = build_problem(name, 64)
    level = pdas_backend.level.Level(prob)
    x0 = 0.5 * (prob.lower + prob.upper)
    x, status, it, hist = pdas_backend.newton.projected_newton(level, x0, tol=TOL, max_iter=200, max_active=4000,
                                                         deadline=None, verbose=False, label="test")
    assert status == "optimal", (status, it)
    assert np.all(x >= prob.lower) and np.all(x <= prob.upper)
    cert = qs.certificate(prob, x, TOL)
    assert cert.optimal
    ref = qs.solve(prob, solver="pcg")
    assert abs(cert.objective - ref.objective) <= 3 * TOL * max(1.0, abs(ref.objective))


@pytest.mark.parametrize("rounds", [1, 2])
def test_projected_newton_reports_the_set_its_step_was_solved_on(rounds, monkeypatch):
    # Each step's history and its max_active check see the binding set of the last face solve,
    # not one grown after it (with every round still pushing pixels out, the last round used
    # to add them anyway).
    monkeypatch.setattr(pdas_backend.constants, "NEWTON_FACE_ROUNDS", rounds)
    prob = build_problem("rosenbrock2", 64)
    level = pdas_backend.level.Level(prob)
    last_solve, solved_on = [], []
    face_step, search = pdas_backend.level.Level.face_step, pdas_backend.newton.search.projected_search

    def recording_face_step(self, g, binding):
        last_solve[:] = [binding.size]
        return face_step(self, g, binding)

    def recording_search(*args):
        solved_on.append(last_solve[0])  # one search per step, after its face solves
        return search(*args)

    monkeypatch.setattr(pdas_backend.level.Level, "face_step", recording_face_step)
    monkeypatch.setattr(pdas_backend.newton.search, "projected_search", recording_search)
    x0 = 0.5 * (prob.lower + prob.upper)
    x, status, it, hist = pdas_backend.newton.projected_newton(level, x0, tol=TOL, max_iter=200, max_active=4000,
                                                         deadline=None, verbose=False, label="test")
    assert status == "optimal" and len(hist) >= 2
    assert [h["binding"] for h in hist] == solved_on


# ----------------------------------------------------------------------------- saddle factor updates


def _constrained_minimiser(prob, act, upper):
    """``argmin 1/2 x^T P x + q^T x`` with ``x[act]`` on its bounds, and ``(P x + q)[act]``,
    by a dense KKT solve of ``P`` itself (no Green's function)."""
    n, a = prob.n, act.size
    b = np.where(upper, prob.upper[act], prob.lower[act])
    K = np.zeros((n + a, n + a))
    K[:n, :n] = prob.P.toarray()
    K[act, n + np.arange(a)] = K[n + np.arange(a), act] = 1.0
    sol = np.linalg.solve(K, np.concatenate([-prob.q, b]))
    x = sol[:n]
    return x, -sol[n:]


def _moved_sets(prob, rng, size, left, joined):
    """A random contact set ``act0`` and ``act1``: ``left`` of it gone, ``joined`` others added."""
    act0 = np.sort(rng.choice(prob.n, size, replace=False))
    stay = np.sort(rng.choice(act0, size - left, replace=False))
    others = np.setdiff1d(np.arange(prob.n), act0)
    act1 = np.sort(np.concatenate([stay, rng.choice(others, joined, replace=False)]))
    return act0, act1


def _updating_level(bc, seed, monkeypatch):
    """A 20 x 20 plate (bins of 40 around a 3-bit Gaussian), a PDAS level that borders every factor
    it can, and a random generator."""
    monkeypatch.setattr(pdas_backend.constants, "UPDATE_MIN_ACTIVE", 0)
    monkeypatch.setattr(pdas_backend.constants, "UPDATE_FRACTION", 1.0)
    img = _img(gaussian, 20, bits=3).astype(float)
    prob = qs.image_problem(img, lower=img - 20, upper=img + 20, bc=bc)
    return prob, pdas_backend.level.Level(prob), np.random.default_rng(seed)


@pytest.mark.parametrize("bc", ["odd", "even", "periodic"])
@pytest.mark.parametrize("left,joined", [(0, 5), (6, 0), (6, 8)])
def test_an_updated_saddle_factor_solves_the_new_set_exactly(bc, left, joined, monkeypatch):
    # A factor bordered by the pixels that joined, with those that left released, against a dense
    # KKT solve of P itself; twice in a row, so that releases accumulate in one factor.
    prob, level, rng = _updating_level(bc, 7, monkeypatch)
    act0, act1 = _moved_sets(prob, rng, 60, left, joined)
    act2 = np.setdiff1d(act1, rng.choice(act1, 3, replace=False))  # three more leave
    for step, act in enumerate([act0, act1, act2]):
        upper = rng.random(act.size) < 0.5
        x, mu = level.equality_solve(act, upper)
        ref_x, ref_mu = _constrained_minimiser(prob, act, upper)
        assert level.updates == step
        scale = np.abs(ref_x).max()
        # optimal x differ by null vectors of P only where the contacts leave them free: not here
        np.testing.assert_allclose(x, ref_x, rtol=0, atol=1e-7 * scale)
        np.testing.assert_allclose(mu, ref_mu, rtol=0, atol=1e-7 * np.abs(ref_mu).max())
    # The polish runs on the updated factor: its step keeps the contacts and cuts the residual.
    s, _ = level.refine(x, act2, upper)
    g = prob.gradient(s)
    free = np.setdiff1d(np.arange(prob.n), act2)
    assert np.abs(g[free]).max() <= 1e-9 * np.abs(g).max()


@pytest.mark.parametrize("bc", ["odd", "even"])
def test_released_pixels_that_return_and_leave_again_keep_the_factor_exact(bc, monkeypatch):
    # A bordered factor reuses the constraint columns F = L^-1 [N, E_released] of the factor it
    # grew from and solves only those of pixels released now; pixels released earlier come back,
    # others leave, new ones join, four times in one factor.  Each time: F against a triangular
    # solve from scratch, x and mu against a dense KKT solve of P itself.
    prob, level, rng = _updating_level(bc, 11, monkeypatch)
    act0 = np.sort(rng.choice(prob.n, 60, replace=False))
    gone = rng.choice(act0, 8, replace=False)
    act1 = np.setdiff1d(act0, gone)  # eight released
    act2 = np.union1d(np.setdiff1d(act1, rng.choice(act1, 4, replace=False)), gone[:5])  # five back, four out
    others = np.setdiff1d(np.arange(prob.n), act0)
    act3 = np.union1d(np.setdiff1d(act2, gone[:2]), rng.choice(others, 6, replace=False))  # two out again, six new
    act4 = np.union1d(act3, gone[5:])  # the last three back
    for step, act in enumerate([act0, act1, act2, act3, act4]):
        upper = rng.random(act.size) < 0.5
        x, mu = level.equality_solve(act, upper)
        kkt = level.kkt
        assert level.updates == step
        C = np.zeros((kkt.base.size, kkt.k + kkt.rel.size))
        C[:, :kkt.k] = kkt.NB
        C[kkt.rel, kkt.k + np.arange(kkt.rel.size)] = 1.0
        F = sla.solve_triangular(np.tril(kkt.L), C, lower=True)
        np.testing.assert_allclose(kkt.F, F, rtol=0, atol=1e-10 * np.abs(F).max())
        assert np.array_equal(np.sort(kkt.base[kkt.rel]), np.setdiff1d(kkt.base, act))
        ref_x, ref_mu = _constrained_minimiser(prob, act, upper)
        np.testing.assert_allclose(x, ref_x, rtol=0, atol=1e-7 * np.abs(ref_x).max())
        np.testing.assert_allclose(mu, ref_mu, rtol=0, atol=1e-7 * np.abs(ref_mu).max())


def test_updated_and_new_factors_release_the_same_pixels(monkeypatch):
    monkeypatch.setattr(pdas_backend.constants, "UPDATE_MIN_ACTIVE", 0)
    monkeypatch.setattr(pdas_backend.constants, "UPDATE_FRACTION", 1.0)
    rng = np.random.default_rng(3)
    prob = build_problem("gaussian2", 24)
    act0, act1 = _moved_sets(prob, rng, 50, 5, 5)
    upper = rng.random(act1.size) < 0.5
    updated = pdas_backend.level.Level(prob)
    updated.equality_solve(act0, rng.random(act0.size) < 0.5)
    _, mu = updated.equality_solve(act1, upper)
    assert updated.updates == 1
    fresh = pdas_backend.level.Level(prob)
    fresh.equality_solve(act1, upper)
    assert fresh.updates == 0
    pinned = np.zeros(act1.size, dtype=bool)
    for k in (1, 3, 8):
        wrong = np.zeros(act1.size, dtype=bool)
        wrong[np.argsort(np.abs(mu))[:k]] = True  # the weakest contacts
        np.testing.assert_array_equal(updated.kkt.release(mu, wrong, pinned, upper),
                                      fresh.kkt.release(mu, wrong, pinned, upper))


def test_a_degenerate_update_falls_back_to_a_new_factor(monkeypatch):
    # Contacts on one row of an odd plate leave the tilt across the rows free: no factor of the
    # saddle system exists, bordered or new, and the update gives way to the least-squares
    # solve a level without a factor makes.
    monkeypatch.setattr(pdas_backend.constants, "UPDATE_MIN_ACTIVE", 0)
    monkeypatch.setattr(pdas_backend.constants, "UPDATE_FRACTION", 1.0)
    prob = build_problem("gaussian2", 16)
    level = pdas_backend.level.Level(prob)
    level.equality_solve(np.array([17, 30, 200, 240]), np.zeros(4, dtype=bool))
    assert level.kkt.factored
    row = np.arange(3 * 16, 4 * 16)
    upper = np.zeros(row.size, dtype=bool)
    x, mu = level.equality_solve(row, upper)
    assert level.updates == 0 and not level.kkt.factored
    fresh = pdas_backend.level.Level(prob)
    x_fresh, mu_fresh = fresh.equality_solve(row, upper)
    np.testing.assert_array_equal(x, x_fresh)
    np.testing.assert_array_equal(mu, mu_fresh)
    free = np.setdiff1d(np.arange(prob.n), row)
    g = prob.gradient(x)
    assert np.abs(g[free]).max() <= 1e-8 * np.abs(g).max()  # a minimiser on the free pixels


@pytest.mark.parametrize("name", ["gaussian2", "gaussian2-even", "rosenbrock2", "gaussian2-masked"])
def test_solves_with_every_factor_updated_reach_the_same_optimum(name, monkeypatch):
    prob = build_problem(name, 64)
    plain = _pdas(prob)
    monkeypatch.setattr(pdas_backend.constants, "UPDATE_MIN_ACTIVE", 0)
    monkeypatch.setattr(pdas_backend.constants, "UPDATE_FRACTION", 1.0)
    updated = _pdas(prob)
    assert sum(level.get("factor_updates", 0) for level in updated.info["levels"]) > 0
    _same_optimum(prob, updated, plain)


def test_projected_newton_with_updated_face_factors_certifies(monkeypatch):
    # Face solves within a projected-Newton step only add held pixels: the factor is bordered.
    monkeypatch.setattr(pdas_backend.constants, "UPDATE_MIN_ACTIVE", 0)
    monkeypatch.setattr(pdas_backend.constants, "UPDATE_FRACTION", 1.0)
    prob = build_problem("rosenbrock2", 64)
    level = pdas_backend.level.Level(prob)
    x0 = 0.5 * (prob.lower + prob.upper)
    x, status, it, hist = pdas_backend.newton.projected_newton(level, x0, tol=TOL, max_iter=200, max_active=4000,
                                                         deadline=None, verbose=False, label="test")
    assert status == "optimal" and level.updates > 0
    cert = qs.certificate(prob, x, TOL)
    assert cert.optimal
    ref = qs.solve(prob, solver="pcg")
    assert abs(cert.objective - ref.objective) <= 3 * TOL * max(1.0, abs(ref.objective))
