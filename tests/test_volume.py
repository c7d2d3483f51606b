"""The ``volume`` backend: exact recognition of a 3-D grid model's energy, its fast inverse, the solves."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import qpsolve as qs
from qpsolve.linalg.facenewton import held_subset
from qpsolve.linalg.separable import FaceInverse
from qpsolve.linalg.volume import VolumeModel, find_volume, volume_inverse, volume_of
from qpsolve.model.operators import GridSpec, energy_matrix
from qpsolve.solvers import BackendUnavailable

REFUSED = "not a positive multiple of the even-rule"


def _blob(shape, width, seed=0):
    """Envelopes of ``width`` around a smooth 3-D bump plus a little noise (the benchmark's kind of volume)."""
    rng = np.random.default_rng(seed)
    axes = np.meshgrid(*[np.linspace(-1.0, 1.0, n) for n in shape], indexing="ij")
    vol = 255.0 * np.exp(-sum(a ** 2 for a in axes) / 0.5) + rng.normal(scale=4.0, size=shape)
    lo = width * np.floor(vol / width)
    return lo, lo + width


# --- recognition -------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(8, 8, 8), (8, 10, 12), (7, 9, 16), (16, 7, 11), (13, 13, 13)])
@pytest.mark.parametrize("model", ["laplace", "biharmonic", "triharmonic"])
def test_even_rule_volumes_are_recognised_with_their_shape_and_model(shape, model):
    vol, why = find_volume(energy_matrix(shape, model, "even"))
    assert why is None
    assert (vol.shape, vol.model, vol.scale) == (shape, model, 1.0)


def test_thin_plate_is_the_biharmonic_under_the_even_rule_and_a_scale_is_read():
    vol, _ = find_volume(energy_matrix((8, 9, 10), "thin-plate", "even"))
    assert vol.model == "biharmonic"
    vol, _ = find_volume(2.5 * energy_matrix((8, 9, 10), "triharmonic", "even"))
    assert (vol.model, vol.scale) == ("triharmonic", 2.5)


def test_the_recognised_model_is_the_matrix_and_its_inverse_inverts_it():
    P = energy_matrix((7, 8, 9), "biharmonic", "even")
    vol, _ = find_volume(P)
    dense = P.toarray()
    np.testing.assert_array_equal(vol.matrix().toarray(), dense)
    # the spectrum against numpy's eigenvalues of the matrix itself
    np.testing.assert_allclose(np.sort(vol.spectrum().ravel()), np.linalg.eigvalsh(dense), atol=1e-9)
    inv = volume_inverse(vol)
    v = dense @ np.random.default_rng(0).normal(size=P.shape[0])
    np.testing.assert_allclose(dense @ inv.solve(v), v, atol=1e-9 * np.abs(v).max())


def test_refusals_name_the_reason():
    P = energy_matrix((8, 8, 8), "biharmonic", "even")
    assert REFUSED in find_volume(energy_matrix((8, 8, 8), "biharmonic", "odd"))[1]
    assert find_volume(energy_matrix((8, 8, 8), "biharmonic", "periodic"))[0] is None
    assert find_volume(energy_matrix((32, 32), "biharmonic", "even"))[0] is None   # a 2-D plate
    assert find_volume(sp.identity(512, format="csr"))[1] == "P is diagonal: no volume to find"
    assert "distinct diagonals" in find_volume(sp.random(600, 600, density=0.05, format="csr", random_state=1))[1]
    perm = np.random.default_rng(2).permutation(512)
    assert find_volume(P[perm][:, perm])[0] is None                                # variables shuffled
    assert REFUSED in find_volume(-P)[1]                                           # not a positive multiple
    missing = P.tolil()
    missing[100, 101] = 0.0
    assert REFUSED in find_volume(missing.tocsr())[1]                              # an entry dropped
    assert "must be square" in find_volume(sp.csr_matrix((4, 5)))[1]


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6), st.floats(1e-9, 10.0), st.booleans())
def test_any_perturbed_entry_or_extra_coupling_is_refused(seed, size, extra):
    P = energy_matrix((8, 9, 10), "biharmonic", "even").tolil()
    rng = np.random.default_rng(seed)
    i = int(rng.integers(720))
    if extra:  # a symmetric coupling outside the stencil
        j = (i + int(rng.integers(3, 700))) % 720
        if j == i or P[i, j] != 0:
            j = (i + 360) % 720
    else:      # one existing entry (and its mirror) changed
        j = int(rng.choice(P.rows[i]))
    P[i, j] = P[i, j] + size * max(1.0, abs(P[i, j]))
    if i != j:
        P[j, i] = P[i, j]
    assert find_volume(P.tocsr())[0] is None


def test_a_declared_grid_is_taken_and_other_rules_are_refused():
    P = energy_matrix((8, 8, 8), "biharmonic", "even")
    prob = qs.BoxQP(P, 0.0, 1.0, grid=GridSpec((8, 8, 8), "biharmonic", "even"))
    assert volume_of(prob)[0] == VolumeModel((8, 8, 8), "biharmonic")
    odd = qs.BoxQP(energy_matrix((8, 8, 8), "biharmonic", "odd"), 0.0, 1.0,
                   grid=GridSpec((8, 8, 8), "biharmonic", "odd"))
    assert volume_of(odd) == (None, "no fast 3-D inverse for the 'odd' rule (only 'even')")
    with pytest.raises(BackendUnavailable, match="needs a 3-D grid model's even-rule energy"):
        qs.solve(odd, solver="volume")


# --- the pieces of the solver ------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.integers(0, 60))
def test_held_subset_keeps_at_most_limit_held_variables(seed, limit):
    shape = (5, 6, 7)
    held = np.random.default_rng(seed).random(210) < 0.4
    sub = held_subset(held, shape, limit)
    assert sub.sum() <= limit
    assert not (sub & ~held).any()
    if held.sum() and limit >= held.sum():
        assert sub.sum() > 0


def test_face_inverse_of_a_volume_matches_a_dense_solve():
    P = energy_matrix((6, 7, 8), "biharmonic", "even").toarray()
    inv = volume_inverse(VolumeModel((6, 7, 8), "biharmonic"))
    rng = np.random.default_rng(3)
    held = rng.random(336) < 0.2
    r = np.where(held, 0.0, rng.normal(size=336))
    d = FaceInverse(inv, held).solve(r)
    F = ~held
    np.testing.assert_allclose(d[F], np.linalg.solve(P[np.ix_(F, F)], r[F]), rtol=1e-7, atol=1e-9)
    assert not d[held].any()


# --- solves ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(8, 8, 8), (12, 10, 9), (16, 16, 16)])
def test_auto_routes_volumes_to_volume_and_agrees_with_pcg_and_clarabel(shape):
    lo, hi = _blob(shape, 64.0)
    prob = qs.BoxQP(energy_matrix(shape, "biharmonic", "even"), lo, hi)
    res = qs.solve(prob)
    assert res.solver == "volume" and res.success, res.message
    assert np.all(res.x >= prob.lower) and np.all(res.x <= prob.upper)
    ref = qs.solve(prob, solver="pcg")
    assert ref.success
    scale = max(1.0, abs(ref.objective))
    assert abs(res.objective - ref.objective) <= 1e-7 * scale
    if prob.n <= 1000:
        peer = qs.solve(prob, solver="cvxpy")
        assert peer.success
        assert abs(res.objective - peer.objective) <= 1e-6 * scale
    # strictly convex on the free set here: the minimiser itself agrees
    np.testing.assert_allclose(res.x, ref.x, atol=1e-3 * float(np.ptp(hi)))


def test_osqp_agrees_on_a_scaled_laplace_volume_with_a_linear_term():
    shape = (8, 8, 10)
    rng = np.random.default_rng(5)
    P = 3.0 * energy_matrix(shape, "laplace", "even")
    q = rng.normal(size=640)
    prob = qs.BoxQP(P, -1.0, 1.0, q=q)
    res = qs.solve(prob)
    assert res.solver == "volume" and res.success, res.message
    assert res.info["levels"] == []          # a linear term: no coarse start
    peer = qs.solve(prob, solver="osqp")
    assert peer.success
    assert abs(res.objective - peer.objective) <= 1e-6 * max(1.0, abs(peer.objective))


def test_the_subsampled_face_preconditioner_gives_the_same_certified_answer(monkeypatch):
    import qpsolve.solvers.volume as vol_mod

    lo, hi = _blob((16, 16, 16), 32.0, seed=4)
    prob = qs.BoxQP(energy_matrix((16, 16, 16), "biharmonic", "even"), lo, hi)
    exact = qs.solve(prob, solver="volume", coarse=False)
    monkeypatch.setattr(vol_mod, "MAX_HELD", 40)
    weak = qs.solve(prob, solver="volume", coarse=False)
    assert exact.success and weak.success
    assert max(weak.info["held"]) > 40
    assert weak.info["cg_iterations"] > exact.info["cg_iterations"]
    np.testing.assert_allclose(weak.x, exact.x, atol=1e-4)


def test_anything_else_in_3d_stays_with_pcg():
    shape = (8, 8, 8)
    lo, hi = _blob(shape, 64.0)
    P = energy_matrix(shape, "biharmonic", "even").tolil()
    P[0, 0] += 1.0                              # perturbed: no longer the model
    prob = qs.BoxQP(P.tocsr(), lo, hi)
    assert qs.solve(prob).solver == "pcg"
    odd = qs.BoxQP(energy_matrix(shape, "biharmonic", "odd"), lo, hi)
    assert qs.solve(odd).solver == "pcg"


def test_a_declared_3d_grid_goes_to_volume_too():
    shape = (8, 8, 12)
    lo, hi = _blob(shape, 64.0, seed=7)
    prob = qs.BoxQP(energy_matrix(shape, "biharmonic", "even"), lo, hi, grid=GridSpec(shape, "biharmonic", "even"))
    res = qs.solve(prob)
    assert res.solver == "volume" and res.success


def test_volume_options_are_checked():
    prob = qs.BoxQP(energy_matrix((8, 8, 8), "biharmonic", "even"), 0.0, 1.0)
    for bad in (0, "x", 2.5):
        with pytest.raises(ValueError, match="cg_maxiter must be a positive integer"):
            qs.solve(prob, solver="volume", cg_maxiter=bad)
    for bad in ("no", 1, None):
        with pytest.raises(ValueError, match="coarse must be True or False"):
            qs.solve(prob, solver="volume", coarse=bad)


@pytest.mark.parametrize("sides", ["lower only", "upper only", "some unbounded"])
def test_infinite_bounds_through_the_coarse_chain_agree_with_pcg(sides):
    # whole coarse blocks with an infinite bound: the coarse levels' start and envelopes must stay finite
    shape = (16, 16, 16)
    ramp = np.indices(shape).sum(axis=0).astype(float) ** 1.5
    lo, hi = np.floor(ramp).ravel(), np.floor(ramp).ravel() + 8.0
    if sides == "lower only":
        hi[:] = np.inf
    elif sides == "upper only":
        lo[:] = -np.inf
    else:
        lo[:1024], hi[:1024] = -np.inf, np.inf
    prob = qs.BoxQP(energy_matrix(shape, "biharmonic", "even"), lo, hi)
    res = qs.solve(prob)
    assert res.solver == "volume" and res.success, res.message
    assert np.all(res.x >= lo) and np.all(res.x <= hi)
    ref = qs.solve(prob, solver="pcg")
    assert ref.success
    assert abs(res.objective - ref.objective) <= 1e-7 * max(1.0, abs(ref.objective))
