"""Zero-energy problems: ``solver="auto"`` answers them with a certified function of P's null space."""

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qpsolve as qs
from qpsolve.certificate import certificate
from qpsolve.imaging.data import gaussian, to_uint8, truncate_bits
from qpsolve.model.operators import GridSpec, energy_matrix
from qpsolve.solvers import NULL_SPACE_NAME
from qpsolve.solvers.nullspace import null_space_kind, null_space_point

MODELS = ("laplace", "biharmonic", "triharmonic", "thin-plate", "mixed")
RULES = ("odd", "even", "periodic")


def _inside(prob, x):
    return bool(np.all((prob.lower <= x) & (x <= prob.upper)))


def _monomial_columns(shape, kind):
    idx = np.indices(shape).reshape(len(shape), -1).astype(float)
    axes = range(len(shape))
    subsets = {"constant": [()], "affine": [()] + [(a,) for a in axes],
               "multilinear": [s for r in range(len(shape) + 1) for s in itertools.combinations(axes, r)]}[kind]
    return np.column_stack([np.prod(idx[list(s)], axis=0) if s else np.ones(idx.shape[1]) for s in subsets])


@pytest.mark.parametrize("shape", [(12,), (8, 9), (4, 5, 6)])
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("bc", RULES)
def test_the_null_space_table_spans_the_whole_null_space(shape, model, bc):
    # the eigenvalues, not the code under test, say how large the null space is
    P = energy_matrix(shape, model, bc)
    w = np.linalg.eigvalsh(P.toarray())
    zero = int(np.sum(w < 1e-9 * w.max()))
    cols = _monomial_columns(shape, null_space_kind(GridSpec(shape, model, bc)))
    assert np.abs(P @ cols).max() <= 1e-9 * w.max() * np.abs(cols).max()
    assert cols.shape[1] == zero


@pytest.mark.parametrize("shape", [(12,), (8, 9), (4, 5, 6)])
@pytest.mark.parametrize("bc", RULES)
@pytest.mark.parametrize("alpha, beta", [(0.0, 1.0), (0.0, 2.5), (1.0, 0.0), (0.5, 2.0)])
def test_the_null_space_table_follows_the_weights_of_the_mixed_model(shape, bc, alpha, beta):
    # without a stretching term the mixed plate is a biharmonic one and annihilates as much
    P = energy_matrix(shape, "mixed", bc, alpha=alpha, beta=beta)
    w = np.linalg.eigvalsh(P.toarray())
    zero = int(np.sum(w < 1e-9 * w.max()))
    cols = _monomial_columns(shape, null_space_kind(GridSpec(shape, "mixed", bc, alpha=alpha, beta=beta)))
    assert np.abs(P @ cols).max() <= 1e-9 * w.max() * np.abs(cols).max()
    assert cols.shape[1] == zero


def test_backend_options_are_checked_even_when_the_energy_is_zero():
    # a zero-energy tile is answered without a backend, but not when the caller passed backend options:
    # those go to the backend, which refuses a bad one by name
    flat = _tile(np.full((24, 24), 100))
    with pytest.raises(TypeError, match="bogus"):
        qs.solve(flat, bogus=1)
    with pytest.raises(ValueError, match="max_active"):
        qs.solve(flat, max_active=-5)


def _tile(value_rows, bits=4):
    return qs.image_problem(truncate_bits(np.asarray(value_rows, dtype=np.uint8), bits), bits=bits)


def test_a_constant_tile_is_certified_without_a_search():
    img = np.full((40, 48), 100, dtype=np.uint8)
    img[::7, ::5] = 104                                   # noise within one 4-bit bin [96, 112)
    prob = _tile(img)
    res = qs.solve(prob)
    assert res.success and res.solver == NULL_SPACE_NAME and res.iterations == 0
    assert res.info["shortcut"] == "null space: constant"
    assert res.objective == 0.0 and _inside(prob, res.x)
    assert np.ptp(res.x) == 0.0
    # a named backend keeps its own run (users compare backends)
    named = qs.solve(prob, solver="pdas")
    assert named.success and named.solver == "pdas" and "shortcut" not in named.info


@pytest.mark.parametrize("model", ["biharmonic", "thin-plate"])
def test_a_plane_that_fits_every_bin_is_certified_under_the_odd_rule(model):
    i, j = np.indices((36, 44))
    plane = (20 + 3.1 * i + 1.7 * j).astype(np.uint8)     # a ramp through six 4-bit levels and more
    prob = qs.image_problem(truncate_bits(plane, 4), bits=4, model=model, bc="odd")
    res = qs.solve(prob)
    assert res.success and res.solver == NULL_SPACE_NAME
    assert res.info["shortcut"] == f"null space: {'multilinear' if model == 'biharmonic' else 'affine'}"
    assert _inside(prob, res.x)
    assert abs(res.objective) <= 1e-12 * float(np.abs(res.x).max()) ** 2 * prob.n   # zero up to rounding
    x = res.x.reshape(plane.shape)
    assert np.ptp(np.diff(x, 2, axis=0)) < 1e-9 and np.ptp(np.diff(x, 2, axis=1)) < 1e-9   # a plane or bilinear


def test_a_plane_under_the_even_rule_takes_the_normal_path():
    # the even rule's P annihilates constants only: a ramp has energy there
    i, j = np.indices((32, 32))
    prob = qs.image_problem(truncate_bits((20 + 3 * i + 2 * j).astype(np.uint8), 4), bits=4, bc="even")
    res = qs.solve(prob)
    assert res.success and res.solver != NULL_SPACE_NAME and "shortcut" not in res.info
    assert res.objective > 0


def test_where_no_null_space_function_fits_the_normal_path_runs():
    prob = qs.image_problem(truncate_bits(to_uint8(gaussian(48)), 2), bits=2)   # a bump: curved
    assert null_space_point(prob) is None
    res = qs.solve(prob)
    assert res.success and res.solver == "pdas" and "shortcut" not in res.info and res.objective > 0


def test_a_masked_grid_frees_its_mask_pixels_for_the_constant():
    img = np.full((32, 32), 100, dtype=np.uint8)
    img[10:20, 12:18] = 250                               # a foreground object, outside the mask
    keep = np.ones(img.shape, dtype=bool)
    keep[9:21, 11:19] = False
    prob = qs.image_problem(truncate_bits(img, 4), bits=4, mask=keep)   # freed pixels: the whole range
    res = qs.solve(prob)
    assert res.success and res.solver == NULL_SPACE_NAME and res.info["shortcut"] == "null space: constant"
    assert _inside(prob, res.x) and np.ptp(res.x) == 0.0 and res.objective == 0.0
    unmasked = qs.image_problem(truncate_bits(img, 4), bits=4)   # the object's bins are then binding
    assert null_space_point(unmasked) is None and qs.solve(unmasked).solver != NULL_SPACE_NAME
    # infinite envelopes (a BoxQP built by hand): free pixels never bind
    lo, hi = unmasked.lower.copy(), unmasked.upper.copy()
    lo[~keep.ravel()], hi[~keep.ravel()] = -np.inf, np.inf
    free = qs.BoxQP(unmasked.operator, lo, hi, grid=unmasked.grid)
    res = qs.solve(free)
    assert res.success and res.solver == NULL_SPACE_NAME and _inside(free, res.x) and np.isfinite(res.x).all()


def test_a_linear_term_disables_the_shortcut():
    tile = _tile(np.full((24, 24), 100))
    q = np.zeros(tile.n)
    q[5] = -1.0
    prob = qs.BoxQP(tile.P, tile.lower, tile.upper, q, grid=tile.grid)
    assert null_space_point(prob) is None
    res = qs.solve(prob)
    assert res.success and res.solver != NULL_SPACE_NAME and "shortcut" not in res.info
    assert res.objective < -100 and res.x[5] > prob.upper[5] - 1e-6   # pixel 5 is pulled to its upper bound


_GRIDS = st.sampled_from([(20,), (9, 11), (16, 13), (4, 5, 3)])


@st.composite
def _zero_energy_candidates(draw):
    shape = draw(_GRIDS)
    # the rules whose P annihilates more than constants, as often as all the others together
    model, bc = draw(st.sampled_from([(m, b) for m in MODELS for b in RULES]) | st.sampled_from(
        [("biharmonic", "odd"), ("triharmonic", "odd"), ("thin-plate", "odd")]))
    grid = GridSpec(shape, model, bc)
    own = null_space_kind(grid)
    cols = _monomial_columns(shape, draw(st.sampled_from([own, own, "constant", "affine", "multilinear"])))
    coef = np.array(draw(st.lists(st.floats(-3, 3), min_size=cols.shape[1], max_size=cols.shape[1])))
    f = 100 + cols @ coef
    n = f.size
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    below = rng.uniform(0.0, 2.0, n)
    above = rng.uniform(0.0, 2.0, n)
    if draw(st.booleans()):                               # push a few bins off f: often no fit at all
        k = rng.integers(0, n, 3)
        below[k] -= rng.uniform(0, 3, 3)
    lo, hi = f - below, f + np.maximum(above, -below)     # lo <= hi
    if draw(st.booleans()):                               # pinned pixels (lo == hi): fits only by touching
        k = rng.integers(0, n, 3)
        lo[k] = hi[k] = f[k]
        below[k] = 0.0
    if draw(st.booleans()):                               # masked pixels
        free = rng.random(n) < 0.2
        lo[free], hi[free] = -np.inf, np.inf
    return qs.BoxQP(grid.energy(), lo, hi, grid=grid), f, bool(np.all(below > 1e-3) and np.all(above > 1e-3))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_zero_energy_candidates())
def test_whenever_the_shortcut_fires_its_point_is_feasible_and_certified(case):
    prob, f, strictly_inside = case
    hit = null_space_point(prob)
    kind = null_space_kind(prob.grid)
    if hit is not None:
        x, _ = hit
        assert _inside(prob, x)
        assert certificate(prob, x).optimal
        res = qs.solve(prob)
        assert res.solver == NULL_SPACE_NAME and res.success and _inside(prob, res.x)
    finite = np.isfinite(prob.lower) & np.isfinite(prob.upper)
    if finite.any() and prob.lower[finite].max() <= prob.upper[finite].min():
        assert hit is not None                            # a constant fits: always found
    # a null-space function of this grid that lies strictly inside every bin is always found
    fits = np.abs(prob.matvec(f)).max() <= 1e-9 * np.abs(f).max() * np.abs(prob.diag).max()
    if strictly_inside and fits:
        assert hit is not None
    # and whenever one fits with a margin (one LP on every pixel's bounds, no sampling), it is found
    if _full_margin(prob, _monomial_columns(prob.grid.shape, kind)) > 1e-6:
        assert hit is not None


def _full_margin(prob, cols):
    """The largest ``t`` with ``L + t <= cols c <= U`` on every finite bound (an independent LP)."""
    from scipy.optimize import linprog

    up, dn = np.isfinite(prob.upper), np.isfinite(prob.lower)
    cols = cols / np.abs(cols).max(axis=0)
    a = np.vstack([np.hstack([cols[up], np.ones((up.sum(), 1))]), np.hstack([-cols[dn], np.ones((dn.sum(), 1))])])
    b = np.concatenate([prob.upper[up], -prob.lower[dn]])
    c = np.zeros(cols.shape[1] + 1)
    c[-1] = -1
    res = linprog(c, A_ub=a, b_ub=b, bounds=[(None, None)] * cols.shape[1] + [(None, 10.0)], method="highs")
    return -res.fun if res.status == 0 else -np.inf


def test_tiles_answered_by_the_shortcut_still_count_toward_the_shared_table():
    # a photograph whose first tiles are sky must build pdas's dense table as early as before
    from qpsolve.linalg import greens

    greens._shared.cache_clear()
    flat = _tile(np.full((24, 24), 100))
    for _ in range(greens.DENSE_TABLE_AFTER - 1):
        assert qs.solve(flat).solver == NULL_SPACE_NAME
    textured = qs.image_problem(truncate_bits(to_uint8(gaussian(24)), 3), bits=3)
    assert qs.solve(textured).solver == "pdas"
    assert greens._shared(textured.grid).dense is not None   # the table was built at the usual count
    greens._shared.cache_clear()
