"""Operators, envelopes and problem validation: checked against the paper's stencils and by hand."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import qpsolve as qs
from qpsolve.model import energy_matrix, laplacian, second_difference
from qpsolve.model.envelopes import apply_confidence, envelope_from_levels, envelope_from_step

EQ8 = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]])
EQ9 = np.array([[0, 0, 1, 0, 0], [0, 2, -8, 2, 0], [1, -8, 20, -8, 1], [0, 2, -8, 2, 0], [0, 0, 1, 0, 0]])


def _row_stencil(M, shape, centre, radius):
    row = M[np.ravel_multi_index(centre, shape)].toarray().reshape(shape)
    (i, j), r = centre, radius
    return row[i - r : i + r + 1, j - r : j + r + 1]


@pytest.mark.parametrize("bc", ["odd", "even", "periodic"])
def test_interior_stencils_are_eq8_and_eq9(bc):
    shape = (9, 10)
    np.testing.assert_array_equal(_row_stencil(laplacian(shape, bc), shape, (4, 5), 1), EQ8)
    np.testing.assert_array_equal(_row_stencil(energy_matrix(shape, "laplace", bc), shape, (4, 5), 1), -EQ8)
    np.testing.assert_array_equal(_row_stencil(energy_matrix(shape, "biharmonic", bc), shape, (4, 5), 2), EQ9)


def test_periodic_biharmonic_is_eq9_everywhere():
    shape = (7, 6)
    P = energy_matrix(shape, "biharmonic", "periodic").toarray()
    for idx in [(0, 0), (3, 5), (6, 2)]:
        row = P[np.ravel_multi_index(idx, shape)].reshape(shape)
        rolled = np.roll(row, (3 - idx[0], 3 - idx[1]), axis=(0, 1))
        np.testing.assert_array_equal(rolled[1:6, 1:6], EQ9)


def test_odd_rule_is_the_paper_mirror():
    # f(-1) = 2 f(0) - f(1): the second difference at the border vanishes for any f
    D = second_difference(6, "odd").toarray()
    np.testing.assert_array_equal(D[0], 0)
    np.testing.assert_array_equal(D[-1], 0)
    np.testing.assert_array_equal(D[2, 1:4], [1, -2, 1])


@pytest.mark.parametrize("model", qs.MODELS)
@pytest.mark.parametrize("bc", qs.BOUNDARIES)
@pytest.mark.parametrize("shape", [(11,), (5, 6), (3, 4, 5)])
def test_symmetric_psd(model, bc, shape):
    P = energy_matrix(shape, model, bc, alpha=0.5, beta=2.0).toarray()
    np.testing.assert_allclose(P, P.T, atol=0)
    assert np.linalg.eigvalsh(P).min() > -1e-9 * np.abs(P).max()


def _nullity(P):
    w = np.linalg.eigvalsh(P.toarray())
    return int(np.sum(w < 1e-9 * w.max()))


def test_null_spaces_of_the_boundary_rules():
    shape = (6, 7)
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
    const, ramp_x, ramp_y, saddle = (np.ones(shape), x, y, x * y)
    Pb = {bc: energy_matrix(shape, "biharmonic", bc) for bc in qs.BOUNDARIES}
    # odd: constants, both ramps and the bilinear saddle cost nothing; nothing else does
    for v in (const, ramp_x, ramp_y, saddle):
        assert np.abs(Pb["odd"] @ v.ravel()).max() < 1e-10
    assert _nullity(Pb["odd"]) == 4
    # even and periodic: only constants
    for bc in ("even", "periodic"):
        assert np.abs(Pb[bc] @ const.ravel()).max() < 1e-12
        assert np.abs(Pb[bc] @ ramp_x.ravel()).max() > 1e-3
        assert _nullity(Pb[bc]) == 1
    # laplace (graph Laplacian): constants only, for every rule
    for bc in qs.BOUNDARIES:
        assert _nullity(energy_matrix(shape, "laplace", bc)) == 1


def test_energy_matches_independent_sum_of_squares():
    rng = np.random.default_rng(1)
    f = rng.normal(size=(6, 5))
    # biharmonic odd: 1/2 sum of the 5-point Laplacian with the odd mirror, by explicit padding
    g = np.pad(f, 1, mode="reflect", reflect_type="odd")
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4 * f
    P = energy_matrix(f.shape, "biharmonic", "odd")
    assert np.isclose(0.5 * f.ravel() @ (P @ f.ravel()), 0.5 * np.sum(lap**2))
    # laplace: 1/2 sum of squared neighbour differences
    grad2 = np.sum(np.diff(f, axis=0) ** 2) + np.sum(np.diff(f, axis=1) ** 2)
    P = energy_matrix(f.shape, "laplace", "odd")
    assert np.isclose(0.5 * f.ravel() @ (P @ f.ravel()), 0.5 * grad2)
    # thin plate: f_xx^2 + 2 f_xy^2 + f_yy^2 with the odd mirror and forward mixed differences
    fxx = g[1:-1, :-2] - 2 * f + g[1:-1, 2:]
    fyy = g[:-2, 1:-1] - 2 * f + g[2:, 1:-1]
    fxy = f[1:, 1:] - f[1:, :-1] - f[:-1, 1:] + f[:-1, :-1]
    P = energy_matrix(f.shape, "thin-plate", "odd")
    assert np.isclose(0.5 * f.ravel() @ (P @ f.ravel()),
                      0.5 * (np.sum(fxx**2) + 2 * np.sum(fxy**2) + np.sum(fyy**2)))


def test_envelopes_by_rounding_rule():
    v = np.array([0.0, 32.0, 224.0])
    lo, hi = envelope_from_step(v, 32.0, "round", (0, 255))
    np.testing.assert_array_equal(lo, [0, 16, 208])
    np.testing.assert_array_equal(hi, [16, 48, 240])
    lo, hi = envelope_from_step(v, 32.0, "ceil")
    np.testing.assert_array_equal(lo, [-32, 0, 192])
    np.testing.assert_array_equal(hi, [0, 32, 224])


def test_levels_table_and_confidence():
    lo, hi = envelope_from_levels(np.array([0.0, 1.0, 4.0, 9.0]), [0, 1, 4, 9], "floor")
    np.testing.assert_array_equal(lo, [0, 1, 4, 9])
    np.testing.assert_array_equal(hi, [1, 4, 9, 14])
    lo, hi = apply_confidence(np.zeros(3), np.full(3, 4.0), np.array([1.0, 2.0, 0.0]), (-10, 10))
    np.testing.assert_array_equal(lo, [0, 1, -10])
    np.testing.assert_array_equal(hi, [4, 3, 10])


def test_pinned_pixels_and_mask_outside_range():
    img = np.array([[0, 64, 128, 192]] * 4, dtype=np.uint8)
    conf = np.ones(img.shape)
    conf[0, 0] = np.inf
    mask = np.ones(img.shape, bool)
    mask[2, 2] = False
    prob = qs.image_problem(img, bits=2, confidence=conf, mask=mask)
    assert prob.lower[0] == prob.upper[0] == 32.0  # pinned at the centre of [0, 64]
    k = np.ravel_multi_index((2, 2), img.shape)
    assert (prob.lower[k], prob.upper[k]) == (0.0, 255.0)
    out = qs.dequantize(img, bits=2, mask=mask)
    assert out[2, 2] == img[2, 2]  # restored


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        (dict(image=np.array([[np.nan, 1.0]]), step=1.0), ValueError, "NaN"),
        (dict(image=np.zeros((0, 3))), ValueError, "empty"),
        (dict(image=np.zeros((1, 1), np.uint8), bits=2), ValueError, "single pixel"),
        (dict(image=np.zeros((4, 4), np.uint8), bits=0), ValueError, "bits must be between 1 and 16"),
        (dict(image=np.zeros((4, 4), np.uint8), bits=17), ValueError, "bits must be between 1 and 16"),
        (dict(image=np.full((4, 4), 33, np.uint8), bits=3), ValueError, "16 value"),
        (dict(image=np.zeros((4, 4), np.uint8), bits=2, model="plate"), ValueError, "model must be one of"),
        (dict(image=np.zeros((4, 4), np.uint8), bits=2, bc="mirror"), ValueError, "bc must be one of"),
        (dict(image=np.zeros((4, 4), np.uint8), bits=2, rounding="up"), ValueError, "rounding must be one of"),
        (dict(image=np.zeros((4, 4), np.uint8), bits=2, mask=np.ones((3, 4), bool)), ValueError, "mask has shape"),
        (dict(image=np.zeros((4, 4)), lower=np.ones((4, 4)), upper=np.zeros((4, 4))), ValueError, "lower > upper"),
        (dict(image=np.zeros((4, 4)), lower=np.zeros((4, 3)), upper=np.ones((4, 4))), ValueError, "lower has shape"),
        (dict(image="picture.png", bits=2), TypeError, "image must be"),
        (dict(image=np.zeros((4, 4), np.uint8)), ValueError, "say how the image was quantized"),
    ],
)
def test_image_problem_rejects_bad_input(kwargs, err, match):
    with pytest.raises(err, match=match):
        qs.image_problem(**kwargs)


def test_off_grid_message_names_count_and_place():
    img = np.zeros((5, 5), np.uint8)
    img[3, 1] = 40
    img[4, 4] = 8
    with pytest.raises(ValueError, match=r"2 value\(s\).*index \(3, 1\).*value 40"):
        qs.image_problem(img, bits=3)


@pytest.mark.parametrize(
    "args, err, match",
    [
        ((sp.identity(3), [0, 0], 1), ValueError, "lower has"),
        ((sp.identity(3), 0, [1, np.nan, 1]), ValueError, "NaN"),
        ((sp.identity(3), [0, 2, 0], 1), ValueError, "lower > upper at 1 index"),
        ((sp.identity(3), np.inf, np.inf), ValueError, r"lower must not be \+inf"),
        ((sp.csr_matrix([[1.0, 2.0], [0.0, 1.0]]), 0, 1), ValueError, "symmetric"),
        ((sp.csr_matrix((2, 3)), 0, 1), ValueError, "square"),
        (("P", 0, 1), TypeError, "P must be"),
        ((sp.diags([1.0, -1.0]), 0, 1), ValueError, "semi-definite"),
    ],
)
def test_boxqp_rejects_bad_input(args, err, match):
    with pytest.raises(err, match=match):
        qs.BoxQP(*args)


def test_solve_rejects_bad_arguments():
    prob = qs.BoxQP(sp.identity(2), 0, 1)
    with pytest.raises(ValueError, match="unknown solver"):
        qs.solve(prob, solver="magic")
    with pytest.raises(ValueError, match="tol"):
        qs.solve(prob, tol=0)
    with pytest.raises(ValueError, match="max_iter"):
        qs.solve(prob, max_iter=0)
    with pytest.raises(ValueError, match="x0 has 3"):
        qs.solve(prob, x0=[0, 0, 0])
    with pytest.raises(TypeError, match="prob must be"):
        qs.solve("problem")


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(qs.BOUNDARIES), st.sampled_from(["laplace", "biharmonic"]))
def test_default_solver_result_is_feasible_and_certified(seed, bc, model):
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(2, 9)), int(rng.integers(2, 9)))
    lo = rng.normal(size=shape) * 3
    hi = lo + rng.uniform(0, 2, size=shape) * (rng.uniform(size=shape) > 0.1)  # some pinned
    prob = qs.image_problem(np.zeros(shape), lower=lo, upper=hi, model=model, bc=bc)
    res = qs.solve(prob)
    assert np.all(res.x >= prob.lower) and np.all(res.x <= prob.upper)
    assert res.success == res.kkt.optimal
    ref = qs.solve(prob, solver="osqp")
    if res.success and ref.success:
        assert abs(res.objective - ref.objective) <= 1e-6 * max(1.0, abs(ref.objective))
