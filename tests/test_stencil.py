"""The matrix-free grid operator against the assembled energy matrix, and BoxQP built on it."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import qpsolve as qs
from qpsolve.imaging.data import gaussian, to_uint8, truncate_bits
from qpsolve.model.operators import BOUNDARIES, MODELS, GridSpec
from qpsolve.model.stencil import GridOperator


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(MODELS), st.sampled_from(BOUNDARIES), st.integers(2, 14), st.integers(2, 14),
       st.integers(0, 2**32 - 1), st.sampled_from([(0.3, 1.7), (0.0, 1.0), (2.0, 0.0), (0.0, 0.0)]))
def test_operator_is_the_energy_matrix(model, bc, n, m, seed, weights):
    # The mixed weights include zeros (P = 0 when both are): the operator must hold every GridSpec.
    grid = GridSpec((n, m), model, bc, alpha=weights[0], beta=weights[1])
    op, P = GridOperator(grid), grid.matrix()
    rng = np.random.default_rng(seed)
    x = rng.integers(-50, 50, n * m).astype(float)
    if op.integer:  # integer entries, integer x: both products are exact, so equal bit for bit
        assert np.array_equal(op @ x, P @ x)
    else:
        assert np.allclose(op @ x, P @ x, rtol=1e-13, atol=1e-12 * abs(P).sum())
    assert np.array_equal(op.diagonal(), P.diagonal())
    assert np.allclose(op.square_matvec(x), P.multiply(P) @ x, rtol=1e-13)
    assert op.bound == pytest.approx(float(abs(P).sum(axis=1).max()), rel=1e-12)
    assert op.integer == bool(np.all(P.data == np.round(P.data)))
    cols = rng.normal(size=(n * m, 2))
    assert np.allclose(op @ cols, P @ cols)


def test_operator_rejects_what_it_cannot_hold():
    with pytest.raises(TypeError, match="GridSpec"):
        GridOperator((4, 4))
    with pytest.raises(ValueError, match="2-D"):
        GridOperator(GridSpec((5,)))
    with pytest.raises(ValueError, match="shape"):
        GridOperator(GridSpec((4, 4))) @ np.ones(5)


def test_energy_is_an_operator_on_2d_grids_and_a_matrix_elsewhere():
    assert isinstance(GridSpec((6, 5)).energy(), GridOperator)
    assert sp.issparse(GridSpec((9,)).energy())
    assert sp.issparse(GridSpec((3, 3, 3)).energy())


def _problem(size=48):
    return qs.image_problem(truncate_bits(to_uint8(gaussian(size)), 2), bits=2)


def test_boxqp_on_an_operator_assembles_only_when_asked():
    prob = _problem()
    assert isinstance(prob.operator, GridOperator) and not prob.assembled
    x = np.random.default_rng(0).uniform(prob.lower, prob.upper)
    P = prob.grid.matrix()
    # everything the certificate uses agrees with the assembled matrix, without assembling it
    assert prob.gradient(x, precise=True) == pytest.approx(P @ x, abs=1e-9)
    assert np.array_equal(prob.diag, np.where(P.diagonal() > 0, P.diagonal(), 1.0))
    assert prob.objective(x) == pytest.approx(0.5 * x @ (P @ x))
    ref = qs.BoxQP(P, prob.lower, prob.upper, grid=prob.grid)
    assert np.allclose(prob.rounding_level(x), ref.rounding_level(x), rtol=1e-14)
    assert prob.row_norm == ref.row_norm
    cert, cref = qs.certificate(prob, x), qs.certificate(ref, x)
    assert cert.gap == pytest.approx(cref.gap, rel=1e-12) and cert.gap_floor == pytest.approx(cref.gap_floor)
    assert not prob.assembled
    # a solver that needs the matrix gets it, once
    assert (prob.P != P).nnz == 0 and prob.assembled and prob.P is prob.P


def test_pdas_never_assembles_and_pcg_does():
    prob = _problem()
    res = qs.solve(prob, solver="pdas")
    assert res.success and res.solver == "pdas" and not prob.assembled
    other = _problem()
    ref = qs.solve(other, solver="pcg")
    assert ref.success and other.assembled
    assert abs(res.objective - ref.objective) <= 1e-7 * max(1.0, abs(ref.objective))


def test_operator_grid_must_match():
    op = GridOperator(GridSpec((4, 5)))
    with pytest.raises(ValueError, match="grid"):
        qs.BoxQP(op, 0.0, 1.0, grid=GridSpec((4, 5), "laplace"))
    prob = qs.BoxQP(op, 0.0, 1.0)
    assert prob.grid == op.grid and prob.n == 20 and "stencil" in repr(prob)
