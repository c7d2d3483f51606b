"""tnnmg's coarse-to-fine chain without an operator per level (issue #18: the cost around the solve)."""

import numpy as np
import pytest

from qpsolve.linalg import gridmg
from qpsolve.model.operators import MODELS, GridSpec
from qpsolve.solvers import tnnmg

RULES = ("odd", "even", "periodic")


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("bc", RULES)
@pytest.mark.parametrize("coarse", [(14, 14), (19, 32), (40, 33)])
def test_a_resized_table_is_the_assembled_matrix_of_the_coarse_grid(model, bc, coarse):
    # the reference is the coarse grid's own assembled matrix, not another table
    fine = GridSpec((80, 66), model, bc, alpha=0.7, beta=1.3)
    ts = gridmg.TypedStencil(fine.energy())
    if min(coarse) < 4 * ts.r + 6:
        with pytest.raises(ValueError, match="at least"):
            ts.resized(coarse)
        return
    small = ts.resized(coarse)
    P = GridSpec(coarse, model, bc, alpha=0.7, beta=1.3).matrix().tocsr()
    x = np.random.default_rng(5).normal(size=P.shape[0])
    assert (small.n, small.m) == coarse and small.grid.shape == coarse
    assert np.allclose(small.matvec(x), P @ x, rtol=0, atol=1e-11 * abs(P).max() * np.abs(x).max())
    assert np.array_equal(small.matvec_diagonal(), P.diagonal())
    assert (ts.n, ts.m) == (80, 66)  # the fine table is left as it was


def test_resizing_needs_long_axes_on_both_grids():
    ts = gridmg.TypedStencil(GridSpec((12, 40), "biharmonic", "odd").energy())  # 12 < 4 r + 6 = 14
    with pytest.raises(ValueError, match=r"at least 14 pixels.*\(12, 40\)"):
        ts.resized((20, 20))


@pytest.mark.parametrize("shape", [32, (32, 32, 2), (32.9, 40), (True, 40), "32x32"])
def test_resizing_names_a_shape_that_is_not_two_integers(shape):
    ts = gridmg.TypedStencil(GridSpec((40, 40), "biharmonic", "odd").energy())
    with pytest.raises(ValueError, match="shape must be two integers"):
        ts.resized(shape)


def test_the_chain_builds_no_coarse_operator(monkeypatch):
    # only the fine grid's operator is built; the coarse levels reuse its table (before: one
    # GridOperator per level, ~0.18 CPU s each at 200 x 300)
    import qpsolve as qs
    import skimage.data

    from qpsolve.imaging.data import truncate_bits

    img = truncate_bits(skimage.data.camera()[::2, ::2].copy(), 3)  # 256 x 256: levels 128, 64, 32
    prob = qs.image_problem(img, bits=3)
    built = []
    real = tnnmg._Level.__init__

    def spy(self, lower, upper, q, grid, ts=None):
        built.append((None if grid is None else tuple(grid.shape), ts is None))
        real(self, lower, upper, q, grid, ts)

    monkeypatch.setattr(tnnmg._Level, "__init__", spy)
    res = qs.solve(prob, solver="tnnmg")
    assert res.success
    assert built == [((256, 256), True), ((128, 128), False), ((64, 64), False), ((32, 32), False)]
