"""DirichletEmbedding: the inner Dirichlet Laplacian solved in the basis of a grid one pixel larger.

References come from scipy's sparse LU on the assembled 5-point Laplacian, never from the
embedding or from GridGreen.
"""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from hypothesis import given, settings
from hypothesis import strategies as st

from qpsolve.linalg.dirichlet_embedding import DirichletEmbedding, embedding_pays


def _dirichlet_laplacian(n1, n2):
    def second(n):
        return sp.diags([np.ones(n - 1), -2 * np.ones(n), np.ones(n - 1)], [-1, 0, 1])
    return (sp.kron(second(n1), sp.eye(n2)) + sp.kron(sp.eye(n1), second(n2))).tocsc()


def _solve(emb, b):
    t = emb.spectrum(b) * emb.inv
    t -= emb.correction(t) * emb.inv
    return emb.field(t)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_inverse_matches_sparse_lu(n1, n2, seed):
    b = np.random.default_rng(seed).normal(size=(n1, n2))
    x = _solve(DirichletEmbedding(n1, n2), b)
    ref = spla.spsolve(_dirichlet_laplacian(n1, n2), b.ravel()).reshape(n1, n2)
    np.testing.assert_allclose(x, ref, rtol=0, atol=1e-12 * np.abs(ref).max())


def test_corrected_field_vanishes_on_the_extra_row_and_column():
    n1, n2 = 9, 13
    emb = DirichletEmbedding(n1, n2)
    t = emb.spectrum(np.random.default_rng(3).normal(size=(n1, n2))) * emb.inv
    t -= emb.correction(t) * emb.inv
    import scipy.fft as sfft
    full = sfft.idstn(t, type=1, norm="ortho")  # all (n1 + 1) x (n2 + 1) values
    assert np.abs(full[-1]).max() < 1e-13 * np.abs(full).max()
    assert np.abs(full[:, -1]).max() < 1e-13 * np.abs(full).max()


def test_without_the_correction_it_is_the_larger_grids_inverse():
    # The correction is what makes the answer right: without it the last row leaks in.
    n1, n2 = 6, 8
    emb = DirichletEmbedding(n1, n2)
    b = np.random.default_rng(4).normal(size=(n1, n2))
    wrong = emb.field(emb.spectrum(b) * emb.inv)
    ref = spla.spsolve(_dirichlet_laplacian(n1, n2), b.ravel()).reshape(n1, n2)
    assert np.abs(wrong - ref).max() > 1e-3 * np.abs(ref).max()


@pytest.mark.parametrize("side,pays", [(2048, True), (512, True), (128, True), (1024, False), (256, False)])
def test_embedding_pays_on_sides_whose_dst_length_factors_badly(side, pays):
    # 2 (side - 1): 4094 = 2*23*89, 1022 = 2*7*73, 254 = 2*127 against 2046 = 2*3*11*31, 510 = 2*3*5*17
    assert embedding_pays(side - 2, side - 2) is pays
