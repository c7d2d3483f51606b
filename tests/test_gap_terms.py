"""The certificate's Frank-Wolfe terms and bound distances (``qpsolve.certificate.gap_terms``,
``bound_distance``), which the certificate, ``tnnmg`` and ``banded`` share."""

import math

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import qpsolve as qs
from qpsolve.certificate import bound_distance, gap_terms

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


def _reference(g, x, lo, hi):
    """Element by element: the larger of the two corner terms ``g (x - L)``, ``g (x - U)`` and 0."""
    if g == 0:
        return 0.0, False, 0.0
    term = max(g * (x - lo), g * (x - hi), 0.0)
    dist = x - lo if g > 0 else hi - x
    return (0.0, True, 0.0) if math.isinf(term) else (term, False, dist if math.isfinite(dist) else 0.0)


@st.composite
def points(draw):
    n = draw(st.integers(1, 12))
    g = np.array(draw(st.lists(st.one_of(finite, st.just(0.0)), min_size=n, max_size=n)))
    a = np.array(draw(st.lists(finite, min_size=n, max_size=n)))
    width = np.array(draw(st.lists(st.floats(0, 50), min_size=n, max_size=n)))
    lo_open = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    hi_open = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    t = np.array(draw(st.lists(st.floats(-0.5, 1.5), min_size=n, max_size=n)))  # some outside the box
    x = a + t * width
    lo = np.where(lo_open, -np.inf, a)
    hi = np.where(hi_open, np.inf, a + width)
    return g, x, lo, hi


@settings(max_examples=200, deadline=None)
@given(points())
def test_terms_and_distances_match_an_elementwise_reference(case):
    g, x, lo, hi = case
    terms, unbounded = gap_terms(g, x, lo, hi)
    dist = bound_distance(g, x, lo, hi)
    for i in range(g.size):
        t_ref, u_ref, d_ref = _reference(g[i], x[i], lo[i], hi[i])
        assert unbounded[i] == u_ref
        assert terms[i] == t_ref
        assert dist[i] == d_ref
    # inside the box every bounded term is |g| times the distance (what ``banded`` sums)
    inside = ~unbounded & (x >= lo) & (x <= hi)
    np.testing.assert_array_equal(terms[inside], (np.abs(g) * dist)[inside])


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 30), st.integers(0, 2**32 - 1))
def test_their_sum_bounds_the_energy_error(n, seed):
    """For a diagonal ``P`` the minimiser is the clipped ``-q / p``: the summed terms at any point of the
    box are at least ``E(x) - E*`` (what makes them a certificate)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.1, 10, n)
    q = rng.normal(0, 10, n)
    lo = rng.uniform(-5, 0, n)
    hi = lo + rng.uniform(0, 5, n)
    x = rng.uniform(lo, hi)
    prob = qs.BoxQP(sp.diags(p), lo, hi, q)
    star = np.clip(-q / p, lo, hi)
    g = p * x + q
    terms, unbounded = gap_terms(g, x, lo, hi)
    assert not unbounded.any()
    assert terms.sum() >= prob.objective(x) - prob.objective(star) - 1e-9 * (1 + abs(prob.objective(star)))
    # and the certificate reports that sum as its gap
    assert math.isclose(qs.certificate(prob, x).gap, terms.sum(), rel_tol=1e-9, abs_tol=1e-9)
