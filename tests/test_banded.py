"""``banded``: the interior-point backend for 1-D signals and other banded ``P``.

Checked against brute force (every at-lower / at-upper / free pattern, from
test_backends), against the other backends on 1-D plates of every model, and
on the random walk that ``auto`` could not certify before the backend existed.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import qpsolve as qs
from qpsolve.imaging.data import truncate_bits
from qpsolve.linalg.banded import bandwidth, cholesky_factor, cyclic_bandwidth, cyclic_corners, lower_bands
from qpsolve.solvers import banded
from test_backends import brute_force


def walk(n, seed, bits=3):
    """A random walk around mid-grey quantized to ``bits``: it touches its bins almost everywhere."""
    f = np.cumsum(np.random.default_rng(seed).normal(0, 1, n)) + 128
    return truncate_bits(np.clip(np.rint(f), 0, 255).astype(np.uint8), bits)


def assert_agrees_with_certified_peers(prob, r, peers):
    """``r``'s energy and every certified peer's lie within their two gaps of each other (one peer at least)."""
    agreed = 0
    for other in peers:
        o = qs.solve(prob, solver=other)
        if o.success:
            # both within their gaps of the same E*: an algorithm that is wrong shows up here
            assert abs(r.objective - o.objective) <= r.kkt.gap + o.kkt.gap, (other, r.objective, o.objective)
            agreed += 1
    assert agreed >= 1


# -- the linear algebra --------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(0, 4), st.integers(0, 2**32 - 1))
def test_band_storage_and_cholesky_solve_match_dense_algebra(n, b, seed):
    rng = np.random.default_rng(seed)
    B = sp.diags([rng.normal(size=n - k) for k in range(min(b, n - 1) + 1)], list(range(min(b, n - 1) + 1)))
    A = (B @ B.T + sp.identity(n)).tocsr()  # bandwidth min(b, n - 1), positive definite
    assert bandwidth(A) == min(b, n - 1)  # (B B^T)[i, i + b] = B[i, i + b] B[i + b, i + b], never 0
    ab = lower_bands(A, b)
    dense = A.toarray()
    for k in range(b + 1):
        np.testing.assert_array_equal(ab[k, : max(n - k, 0)], np.diagonal(dense, -k))
    rhs = rng.normal(size=n)
    np.testing.assert_allclose(dense @ cholesky_factor(ab)(rhs), rhs, atol=1e-9 * (1 + np.abs(rhs).max()))


def test_bandwidth_reads_the_farthest_stored_entry():
    assert bandwidth(sp.csr_matrix((6, 6))) == 0
    A = sp.csr_matrix(([1.0, 2.0, 3.0], ([0, 5, 2], [0, 1, 2])), shape=(6, 6))
    assert bandwidth(A) == 4
    assert bandwidth(A.T) == 4
    unsorted = sp.csr_matrix((np.ones(3), np.array([3, 0, 1]), np.array([0, 3, 3, 3, 3])), shape=(4, 4))
    assert not unsorted.has_sorted_indices and bandwidth(unsorted) == 3


@settings(max_examples=40, deadline=None)
@given(st.integers(8, 60), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_a_ring_solves_as_dense_algebra_does(n, b, seed):
    # R R^T for a circulant-patterned R with b + 1 random cyclic diagonals: positive definite, cyclic
    # bandwidth b, plain bandwidth n - 1 (wrapped corners)
    rng = np.random.default_rng(seed)
    R = np.zeros((n, n))
    for k in range(b + 1):
        R[np.arange(n), (np.arange(n) + k) % n] = rng.normal(size=n) + (3.0 if k == 0 else 0.0)
    A = sp.csr_matrix(R @ R.T + np.eye(n))
    assert cyclic_bandwidth(A) == b and bandwidth(A) == n - 1
    assert cyclic_bandwidth(A, limit=b) == b  # the ends' wrapped entries pass the middle rows' test
    rows, S = cyclic_corners(A, b)
    assert rows.size <= 2 * b
    band = sp.csr_matrix(np.where(np.abs(np.subtract.outer(np.arange(n), np.arange(n))) <= b, A.toarray(), 0.0))
    corner = np.zeros((n, n))
    corner[np.ix_(rows, rows)] = S
    np.testing.assert_allclose(band.toarray() + corner, A.toarray(), atol=1e-12)
    rhs = rng.normal(size=n)
    x = cholesky_factor(lower_bands(A, b) + 0.0, (rows, S))(rhs)
    np.testing.assert_allclose(x, np.linalg.solve(A.toarray(), rhs), atol=1e-8 * (1 + np.abs(x).max()))


def test_a_ring_whose_band_alone_is_indefinite():
    # anti-periodic: positive definite (lambda_min 1.6e-3) while its band part is not (-1.6e-3), so a
    # Woodbury step on the band alone had no factor (found by review); n = 18 puts the corner past 16
    n = 18
    d = np.cos(np.pi / n) + np.cos(np.pi / (n + 1))
    P = sp.diags([-np.ones(n - 1), d * np.ones(n), -np.ones(n - 1)], [-1, 0, 1]).tolil()
    P[0, n - 1] = P[n - 1, 0] = 1.0
    P = P.tocsr()
    band = lower_bands(P, 1)
    assert np.linalg.eigvalsh(P.toarray()).min() > 0
    with pytest.raises(np.linalg.LinAlgError):
        cholesky_factor(band)
    rhs = np.random.default_rng(0).normal(size=n)
    np.testing.assert_allclose(P @ cholesky_factor(band, cyclic_corners(P, 1))(rhs), rhs, atol=1e-8)
    prob = qs.BoxQP(P, -1e4, 1e4, q=rhs)
    r = qs.solve(prob, solver="banded")
    assert r.success and r.info["cyclic"], r.message
    np.testing.assert_allclose(r.x, np.linalg.solve(P.toarray(), -rhs), atol=1e-4)  # no bound is reached


def test_cholesky_factor_refuses_an_indefinite_matrix():
    with pytest.raises(np.linalg.LinAlgError):
        cholesky_factor(lower_bands(sp.diags([[1.0, -1.0]], [0]), 0))


# -- exact answers -------------------------------------------------------------------------

@st.composite
def banded_qps(draw):
    """Small box QPs with a banded semi-definite P (``B^T B``, ``B`` banded): pinned, wide and narrow bins."""
    n = draw(st.integers(1, 7))
    b = draw(st.integers(0, 2))
    rows = draw(st.integers(1, n + 1))
    B = np.zeros((rows, n))
    for i in range(rows):
        for j in range(max(0, i - b), min(n, i + 1)):
            B[i, j] = draw(st.floats(-3, 3))
    q = draw(hnp.arrays(np.float64, n, elements=st.floats(-5, 5)))
    lo = draw(hnp.arrays(np.float64, n, elements=st.floats(-4, 4)))
    width = draw(hnp.arrays(np.float64, n, elements=st.sampled_from([0.0, 1e-3, 0.5, 2.0, 5.0])))
    return qs.BoxQP(sp.csr_matrix(B.T @ B), lo, lo + width, q=q)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(banded_qps())
def test_banded_certifies_and_matches_brute_force(prob):
    E_star, _ = brute_force(prob.P, prob.q, prob.lower, prob.upper)
    r = qs.solve(prob, solver="banded")
    assert r.success, r.message
    assert np.all(r.x >= prob.lower) and np.all(r.x <= prob.upper)
    pinned = prob.lower == prob.upper
    np.testing.assert_array_equal(r.x[pinned], prob.lower[pinned])
    assert abs(r.objective - E_star) <= 1e-7 * max(1.0, abs(E_star)), (r.objective, E_star)


def test_auto_certifies_the_random_walk_pcg_crawled_through():
    # Before this backend auto gave this signal to pcg: 200 steps, a relative gap of 7e-5, not certified.
    prob = qs.image_problem(walk(4096, 3), bits=3)
    r = qs.solve(prob)
    assert r.solver == "banded" and r.success, r.message
    assert r.iterations <= 60


@pytest.mark.parametrize("model", ["laplace", "biharmonic", "triharmonic", "mixed", "thin-plate"])
@pytest.mark.parametrize("bc", ["odd", "even"])
def test_every_1d_model_is_certified_and_no_other_backend_does_better(model, bc):
    prob = qs.image_problem(walk(300, 7, bits=4), bits=4, model=model, bc=bc)
    assert banded.supports(prob) is None
    r = qs.solve(prob)
    assert r.solver == "banded" and r.success, r.message
    assert_agrees_with_certified_peers(prob, r, ("cvxpy", "osqp", "pcg"))


def test_masked_stretch_and_pinned_samples():
    q = walk(500, 11, bits=5)
    mask = np.ones(500, dtype=bool)
    mask[200:260] = False  # no envelope there: the plate passes freely within the dynamic range
    prob = qs.image_problem(q, bits=5, mask=mask)
    assert prob.lower[230] == 0 and prob.upper[230] == 255
    r = qs.solve(prob)
    assert r.solver == "banded" and r.success, r.message
    # the same stretch with no bounds at all: no barrier there
    lo, hi = prob.lower.copy(), prob.upper.copy()
    lo[200:260], hi[200:260] = -np.inf, np.inf
    free = qs.solve(qs.BoxQP(prob.P, lo, hi), solver="banded")
    assert free.success, free.message
    assert free.kkt.unbounded_gradient <= 1e-6
    assert free.objective <= r.objective + r.kkt.gap  # a larger box never raises the optimum
    # pin every tenth sample at its bin's middle
    lo, hi = prob.lower.copy(), prob.upper.copy()
    pin = mask & (np.arange(500) % 10 == 0)
    lo[pin] = hi[pin] = 0.5 * (lo[pin] + hi[pin])
    pinned = qs.BoxQP(prob.P, lo, hi)
    p = qs.solve(pinned, solver="banded")
    assert p.success, p.message
    np.testing.assert_array_equal(p.x[pin], lo[pin])
    assert p.objective >= r.objective - r.kkt.gap  # more constraints never lower the optimum


def test_a_user_built_chain_matrix_goes_to_banded_with_a_linear_term():
    n = 2000
    rng = np.random.default_rng(5)
    D = sp.diags([np.ones(n - 1), -np.ones(n - 1)], [0, 1], shape=(n - 1, n))
    W = sp.diags(rng.uniform(0.2, 5.0, n - 1))
    P = (D.T @ W @ D + 1e-3 * sp.identity(n)).tocsr()  # a weighted membrane on a chain
    q = rng.normal(size=n)
    prob = qs.BoxQP(P, -np.ones(n), np.ones(n), q=q)
    r = qs.solve(prob)
    assert r.solver == "banded" and r.success, r.message
    o = qs.solve(prob, solver="pcg")
    assert o.success, o.message
    # strictly convex (the 1e-3 I): one minimiser, which projected Newton and the interior point share
    # to what their certified gaps allow (about 2e-5 beside the contacts, 1e-9 elsewhere)
    np.testing.assert_allclose(r.x, o.x, atol=1e-4)
    assert np.median(np.abs(r.x - o.x)) < 1e-7


def test_one_sided_bounds():
    n = 50
    P = sp.diags([-np.ones(n - 1), 2 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1]).tocsr()
    q = -np.ones(n)  # pulls every sample up; only the upper bounds hold it
    r = qs.solve(qs.BoxQP(P, np.full(n, -np.inf), np.full(n, 3.0), q=q), solver="banded")
    assert r.success, r.message
    assert np.all(r.x <= 3.0)


@pytest.mark.parametrize("model", ["laplace", "biharmonic", "triharmonic"])
def test_periodic_lines_are_rings_solved_with_their_corners(model):
    # a closed walk (its ends meet) under the periodic rule: P couples sample 0 with sample n - 1
    n = 600
    f = np.cumsum(np.random.default_rng(0).normal(0, 3, n))
    f = np.abs(np.mod(f - np.linspace(0, f[-1] - f[0], n) + 128, 510) - 255)
    prob = qs.image_problem(truncate_bits(np.rint(f).astype(np.uint8), 4), bits=4, bc="periodic", model=model)
    assert bandwidth(prob.P) == n - 1 and banded.supports(prob) is None
    r = qs.solve(prob)
    assert r.solver == "banded" and r.info["cyclic"] and r.success, r.message
    assert_agrees_with_certified_peers(prob, r, ("cvxpy", "pcg"))


# -- what it refuses, and how it stops ----------------------------------------------------

def test_supports_refuses_2d_grids_and_plain_2d_matrices_by_name():
    why = banded.supports(qs.image_problem(np.zeros((40, 40), np.uint8), bits=3))
    assert why is not None and "40x40 grid is not banded" in why
    plate = qs.BoxQP(qs.image_problem(np.zeros((40, 40), np.uint8), bits=3).P, 0.0, 1.0)  # no grid attached
    why = banded.supports(plate)
    assert why is not None and "bandwidth 80, and cyclic bandwidth too" in why


def test_options_limits_and_warm_start():
    prob = qs.image_problem(walk(1000, 2), bits=3)
    with pytest.raises(TypeError, match="takes no options"):
        qs.solve(prob, solver="banded", sweeps=3)
    r = qs.solve(prob, solver="banded", max_iter=2)
    assert r.status == qs.Status.MAX_ITER and r.iterations == 2
    assert np.all(r.x >= prob.lower) and np.all(r.x <= prob.upper)
    full = qs.solve(prob, solver="banded")
    warm = qs.solve(prob, solver="banded", x0=full.x)
    assert warm.success and warm.iterations <= full.iterations


def test_an_unbounded_problem_is_not_called_optimal():
    P = sp.csr_matrix(np.array([[1.0, -1.0], [-1.0, 1.0]]))
    prob = qs.BoxQP(P, [-np.inf, -np.inf], [np.inf, np.inf], q=[1.0, 1.0])  # E -> -inf along (-1, -1)
    assert not qs.solve(prob, solver="banded").success
    # min -x over x >= 0: the iterate runs off until x - g / P_ii rounds back to x, which the projected
    # gradient alone took for optimal (the certificate now also holds the unbounded side's gradient)
    half_line = qs.BoxQP(sp.csr_matrix((1, 1)), [0.0], [np.inf], q=[-1.0])
    for solver in ("banded", "auto"):
        r = qs.solve(half_line, solver=solver)
        assert not r.success and r.kkt.unbounded_gradient > 0.5, (solver, r.status)
    assert "unbounded" in qs.solve(half_line, solver="banded").message
    # far out, x - g / P_ii rounds back to x and the projected gradient is exactly 0
    far = qs.certificate(half_line, [1e17])
    assert far.projected_gradient == 0.0 and far.unbounded_gradient == 1.0 and not far.optimal


def test_bounds_standing_in_for_infinity_certify_on_the_rounding_floor():
    # bounds of 1e20 put the certificate's float64 floor far above tol; the iteration asks it anyway
    n = 2000
    T = sp.diags([-np.ones(n - 1), 2 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1]).tocsr() + 1e-4 * sp.identity(n)
    q = np.random.default_rng(1).normal(size=n)
    r = qs.solve(qs.BoxQP(T, -1e20, 1e20, q=q), solver="banded")
    assert r.success and r.iterations <= 30, (r.iterations, r.message)
    np.testing.assert_allclose(T @ r.x, -q, atol=1e-6)  # no bound is near: the linear system's solution


def test_a_null_direction_whose_bounds_are_far_keeps_the_step_defined():
    # the membrane on a chain has the constants in its null space; with bounds of 1e8 the barrier
    # fades from that direction long before the certificate passes, and P + Z/S + W/T turns singular
    n = 300
    D = sp.diags([np.ones(n - 1), -np.ones(n - 1)], [0, 1], shape=(n - 1, n))
    q = np.random.default_rng(2).normal(size=n)
    q -= q.mean()  # in P's range: bounded below without the bounds' help
    r = qs.solve(qs.BoxQP((D.T @ D).tocsr(), -1e8, 1e8, q=q), solver="banded")
    assert r.success, r.message


def test_dequantize_a_1d_signal():
    q = walk(3000, 4)
    out, res = qs.dequantize(q, bits=3, return_result=True)
    assert res.success and res.solver == "banded", res.message
    assert out.shape == q.shape


def test_a_linear_program_gets_its_vertex_and_contacts_are_reported():
    # P = 0: the optimum is the vertex sign(q) points away from, every variable on a bound
    rng = np.random.default_rng(9)
    q = rng.normal(size=50)
    prob = qs.BoxQP(sp.csr_matrix((50, 50)), -1.0, 2.0, q=q)
    r = qs.solve(prob, solver="banded")
    assert r.success, r.message
    np.testing.assert_array_equal(r.x, np.where(q > 0, -1.0, 2.0))
    np.testing.assert_array_equal(r.active, np.where(q > 0, -1, 1))


def test_a_variable_of_negligible_curvature_still_reaches_its_minimiser():
    # Beside the barrier a curvature of 1e-57 is nothing: the iteration leaves x[3] in the middle of
    # its box, where the certificate's projected gradient (scaled by that diagonal) sees it 0.5 away
    # from the minimiser 0.  The final projected Jacobi candidate puts it there. (Found by hypothesis.)
    P = sp.diags([0.0, 0.0, 0.0, 1.2702417905085539e-57]).tocsr()
    prob = qs.BoxQP(P, [0.0, 0.0, 0.0, -0.5], [2.0, 2.0, 2.0, 1.5], q=[1.0, 0.0, 0.0, 0.0])
    r = qs.solve(prob, solver="banded")
    assert r.success, r.message
    assert r.x[0] == 0.0 and r.x[3] == 0.0


def test_the_certificate_waits_for_the_open_sides_gradient():
    # open sides, a pinned and a 1e-12-wide box: the gap estimate (finite sides only) passed tol at
    # iteration 0 while mu was 47, and the eight certificate asks were spent before mu fell (review)
    inf = np.inf
    P = np.zeros((6, 6))
    upper = {(0, 0): 8.1134081379143606, (0, 1): -0.23790656278241579, (0, 2): 0.36287083736333314,
             (1, 1): 0.026133999224285907, (1, 2): 0.16797390650420777, (1, 3): 0.36021563704311932,
             (2, 2): 3.8047036349106631, (2, 3): 2.8076050789887268, (2, 4): -0.079666569970023665,
             (3, 3): 8.1696558013676768, (3, 4): 0.078388883921083993, (3, 5): 537.02448284322998,
             (4, 4): 0.17479724832125165, (4, 5): -1143.9189147358511, (5, 5): 8594069.7400437649}
    for (i, j), v in upper.items():
        P[i, j] = P[j, i] = v
    lo = [-inf, 81.00702811059688, 43.40651269092049, -10.958339574266743, -inf, -10.728280828222942]
    hi = [-165.9618504282191, 81.00702811059688, inf, inf, -86.49014000108157, -10.728280828221942]
    q = [0.01337113577780085, 0.00046723331101013, -0.06356625317146075, -0.05051613131510135,
         -0.06638494714890258, -0.00729761501741236]
    prob = qs.BoxQP(sp.csr_matrix(P), lo, hi, q=q)
    r = qs.solve(prob, solver="banded")
    assert r.success, r.message
    p = qs.solve(prob, solver="pcg")
    assert p.success and abs(r.objective - p.objective) <= r.kkt.gap + p.kkt.gap


@pytest.mark.parametrize("ulps", [1, 2, 5, 64, 1000])
@pytest.mark.parametrize("scale", [1.0, 1e6])
def test_boxes_a_few_ulps_wide(ulps, scale):
    # float64 has (almost) no point strictly inside such a box: those variables are held on a bound
    # (up to 64 ulps), and elsewhere a step that rounds onto a bound stays one ulp inside it
    n = 50
    T = sp.diags([-np.ones(n - 1), 2 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1]).tocsr()
    lo, hi = np.zeros(n), np.full(n, scale)
    lo[10] = 0.5 * scale
    hi[10] = lo[10] + ulps * np.spacing(lo[10])
    q = np.random.default_rng(0).normal(size=n) * scale
    prob = qs.BoxQP(T, lo, hi, q=q)
    r = qs.solve(prob, solver="banded")
    assert r.success, r.message
    assert np.all(r.x >= lo) and np.all(r.x <= hi)
