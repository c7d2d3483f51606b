"""GridGreen: the fast generalised inverse of grid energy matrices, checked against dense linear algebra.

Every expected value here comes from numpy/scipy on the assembled matrix ``P = GridSpec(...).matrix()``
(``pinv``, ``lstsq``, ``matrix_rank``, SVD), never from GridGreen itself.  ``P^g`` is only promised to
be *a* symmetric generalised inverse (``P P^g P = P``), not the Moore-Penrose one, so comparisons with
``pinv`` are made on the range of ``P``: for any generalised inverse, ``Q P^g Q = pinv(P)`` with ``Q`` the
orthogonal projector onto ``range(P)`` (computed here as ``pinv(P) @ P``).
"""

import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qpsolve.linalg import greens
from qpsolve.linalg.greens import GridGreen, green_support, shared_green
from qpsolve.model.operators import GridSpec

SUPPORTED = [  # (model, bc) pairs green_support accepts on a 2-D grid with both axes >= 4
    *[(m, bc) for m in ("laplace", "biharmonic", "thin-plate", "triharmonic", "mixed") for bc in ("even", "periodic")],
    ("biharmonic", "odd"),
    ("laplace", "odd"),
]
SHAPES = [(4, 4), (5, 4), (4, 7), (6, 6), (7, 9), (9, 11), (8, 5)]


def _grid(shape, model, bc):
    # non-default weights so that "mixed" really mixes two spectra
    return GridSpec(tuple(shape), model, bc, alpha=0.7, beta=1.3)


def _dense(grid):
    return grid.matrix().toarray()


def _full_pg(G, n):
    """P^g as a dense matrix, by applying solve() to the identity."""
    return G.solve(np.eye(n))


# ----------------------------------------------------------------------------- dense references


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("model,bc", SUPPORTED, ids=lambda v: str(v))
def test_generalised_inverse_against_dense_pinv(shape, model, bc):
    grid = _grid(shape, model, bc)
    assert green_support(grid) is None
    P = _dense(grid)
    n = P.shape[0]
    G = GridGreen(grid)
    Pg = _full_pg(G, n)
    scale = np.abs(P).max()

    # P P^g P = P (the defining property of a generalised inverse)
    np.testing.assert_allclose(P @ Pg @ P, P, rtol=0, atol=1e-9 * scale)
    # P^g is symmetric
    np.testing.assert_allclose(Pg, Pg.T, rtol=0, atol=1e-12 * np.abs(Pg).max())

    # On the range of P it is the Moore-Penrose inverse from numpy's SVD.
    pinv = np.linalg.pinv(P, rcond=1e-10, hermitian=True)
    Q = pinv @ P
    np.testing.assert_allclose(Q @ Pg @ Q, pinv, rtol=0, atol=1e-9 * np.abs(pinv).max())


@pytest.mark.parametrize("shape", SHAPES + [(12, 5), (18, 21)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("embed", [False, True])
def test_odd_plate_with_either_inner_basis_against_dense_pinv(shape, embed):
    # The inner Dirichlet solves in their own DST-I basis or in the one of the grid a pixel larger
    # (dirichlet_embedding): the same generalised inverse either way.
    grid = GridSpec(shape, "biharmonic", "odd")
    P = _dense(grid)
    G = GridGreen(grid, embed=embed)
    assert (G._emb is not None) == embed
    Pg = _full_pg(G, P.shape[0])
    np.testing.assert_allclose(P @ Pg @ P, P, rtol=0, atol=1e-9 * np.abs(P).max())
    np.testing.assert_allclose(Pg, Pg.T, rtol=0, atol=1e-12 * np.abs(Pg).max())
    pinv = np.linalg.pinv(P, rcond=1e-10, hermitian=True)
    Q = pinv @ P
    np.testing.assert_allclose(Q @ Pg @ Q, pinv, rtol=0, atol=1e-9 * np.abs(pinv).max())


@pytest.mark.parametrize("shape", [(130, 130), (130, 97), (200, 66)])
def test_embedded_and_plain_odd_solves_agree_on_large_grids(shape):
    grid = GridSpec(shape, "biharmonic", "odd")
    P = grid.matrix()
    rng = np.random.default_rng(sum(shape))
    plain, embedded = GridGreen(grid, embed=False), GridGreen(grid, embed=True)
    r = rng.normal(size=P.shape[0])  # any vector: P^g r is the same matrix applied
    np.testing.assert_allclose(embedded.solve(r), plain.solve(r), rtol=0, atol=1e-13 * np.abs(plain.solve(r)).max())
    # In range(P) the answer is a small difference of large terms (P^g is about 1e6 here), so
    # the two agree up to a null-space rounding; both solve P x = v to rounding.
    v = P @ rng.normal(size=P.shape[0])
    for G in (plain, embedded):
        np.testing.assert_allclose(P @ G.solve(v), v, rtol=0, atol=1e-13 * np.abs(v).max())


@pytest.mark.parametrize("shape", SHAPES[:4] + [(12, 5), (18, 21)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("model,bc", SUPPORTED, ids=lambda v: str(v))
def test_solve_matches_lstsq_up_to_the_null_space(shape, model, bc):
    grid = _grid(shape, model, bc)
    P = _dense(grid)
    rng = np.random.default_rng(zlib.crc32(repr((shape, model, bc)).encode()))
    v = P @ rng.normal(size=(P.shape[0], 3))  # three right-hand sides in range(P)
    G = GridGreen(grid)
    x = G.solve(v)
    assert x.shape == v.shape
    # P x = v
    np.testing.assert_allclose(P @ x, v, rtol=0, atol=1e-10 * np.abs(v).max())
    # the minimum-norm solution from lstsq differs from x by a null vector of P
    x_ls = np.linalg.lstsq(P, v, rcond=None)[0]
    d = x - x_ls
    np.testing.assert_allclose(P @ d, 0.0, rtol=0, atol=1e-9 * np.abs(v).max())
    # 1-D input gives the same columns one at a time
    for k in range(v.shape[1]):
        np.testing.assert_allclose(G.solve(v[:, k]), x[:, k], rtol=0, atol=1e-12 * np.abs(x).max())


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("model,bc", SUPPORTED, ids=lambda v: str(v))
def test_nullspace_against_dense_rank(shape, model, bc):
    grid = _grid(shape, model, bc)
    P = _dense(grid)
    n = P.shape[0]
    Z = GridGreen(grid).nullspace
    assert Z.shape[0] == n
    # dimension: N - rank(P)
    assert Z.shape[1] == n - np.linalg.matrix_rank(P)
    # orthonormal, and really null
    np.testing.assert_allclose(Z.T @ Z, np.eye(Z.shape[1]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(P @ Z, 0.0, rtol=0, atol=1e-12 * np.abs(P).max())
    # spans the same space as numpy's SVD null space
    w, V = np.linalg.eigh(P)
    V0 = V[:, w < 1e-9 * w.max()]
    np.testing.assert_allclose(Z @ Z.T, V0 @ V0.T, rtol=0, atol=1e-9)


def test_nullspace_dimensions_are_the_documented_ones():
    # even/periodic: constants only; odd biharmonic: 1, i, j, i*j; laplace ignores the rule
    assert GridGreen(GridSpec((6, 7), "biharmonic", "even")).nullspace.shape[1] == 1
    assert GridGreen(GridSpec((6, 7), "triharmonic", "periodic")).nullspace.shape[1] == 1
    assert GridGreen(GridSpec((6, 7), "biharmonic", "odd")).nullspace.shape[1] == 4
    assert GridGreen(GridSpec((6, 7), "laplace", "odd")).nullspace.shape[1] == 1


# ----------------------------------------------------------------------------- block(): method of images


def _edge_and_corner_points(shape):
    n, m = shape
    pts = {0, m - 1, (n - 1) * m, n * m - 1,  # corners
           1, m - 2, m, 2 * m - 1, (n - 1) * m + 1, n * m - 2,  # edges next to corners
           m + 1, 2 * m - 2, (n - 2) * m + 1, (n - 1) * m - 2,  # inner pixels next to corners
           (n // 2) * m, (n // 2) * m + m - 1, m // 2, (n - 1) * m + m // 2}  # mid-edges
    return sorted(pts)


@pytest.mark.parametrize("shape", [(4, 4), (5, 8), (9, 11), (12, 7)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("model,bc", SUPPORTED, ids=lambda v: str(v))
def test_block_equals_columns_of_solve(shape, model, bc):
    grid = _grid(shape, model, bc)
    G = GridGreen(grid)
    n = int(np.prod(shape))
    Pg = _full_pg(G, n)
    tol = 1e-12 * np.abs(Pg).max()
    allpts = np.arange(n)
    # the whole matrix by images
    np.testing.assert_allclose(G.block(allpts, allpts), Pg, rtol=0, atol=tol)
    # rectangular blocks, unsorted and repeated indices, edges and corners
    rng = np.random.default_rng(n)
    rows = np.concatenate([rng.permutation(n)[: min(n, 9)], [0, 0, n - 1]])
    cols = np.array(_edge_and_corner_points(shape) + [3, 3])
    np.testing.assert_allclose(G.block(rows, cols), Pg[np.ix_(rows, cols)], rtol=0, atol=tol)
    # cached traces give the same block
    tr, tc = G.traces(rows), G.traces(cols)
    np.testing.assert_allclose(G.block(rows, cols, tr, tc), Pg[np.ix_(rows, cols)], rtol=0, atol=tol)
    np.testing.assert_allclose(G.block(rows, cols, tr, None), Pg[np.ix_(rows, cols)], rtol=0, atol=tol)
    if bc == "odd" and model == "biharmonic":
        assert tr is not None
    else:
        assert tr is None  # only odd boundaries have edge traces
    # empty sides
    assert G.block([], cols).shape == (0, cols.size)
    assert G.block(rows, []).shape == (rows.size, 0)


@pytest.mark.parametrize("full_edge", [0, greens.FULL_TRACE_EDGE], ids=["truncated", "full"])
@pytest.mark.parametrize("shape,bc", [((40, 33), "odd"), ((64, 64), "odd"), ((17, 90), "periodic"),
                                      ((4, 50), "odd"), ((50, 4), "even")])
def test_block_on_larger_grids_against_solve_and_the_dense_residual(shape, bc, full_edge, monkeypatch):
    # Larger grids exercise the truncated edge spectra of the odd traces (kept whole on short
    # edges unless FULL_TRACE_EDGE is lowered).
    monkeypatch.setattr(greens, "FULL_TRACE_EDGE", full_edge)
    grid = GridSpec(shape, "biharmonic", bc)
    G = GridGreen(grid)
    n = int(np.prod(shape))
    pts = np.array(_edge_and_corner_points(shape)
                   + list(np.random.default_rng(7).choice(n, 12, replace=False)))
    E = np.zeros((n, pts.size))
    E[pts, np.arange(pts.size)] = 1.0
    cols = G.solve(E)
    B = G.block(np.arange(n), pts)
    np.testing.assert_allclose(B, cols, rtol=0, atol=1e-12 * np.abs(cols).max())
    # Against P itself: x = P^g (P r) solves P x = P r, and by symmetry of P^g the block's
    # columns dotted with P r give x at the same pixels.
    P = grid.matrix()
    r = np.random.default_rng(3).normal(size=n)
    v = P @ r
    x = G.solve(v)
    np.testing.assert_allclose(P @ x, v, rtol=0, atol=1e-10 * np.abs(v).max())
    # (a sum of n products: judged against the size of its terms)
    np.testing.assert_allclose(B.T @ v, x[pts], rtol=0, atol=1e-13 * (np.abs(B).T @ np.abs(v)).max())


@pytest.mark.parametrize("shape", [(30, 26), (150, 140)], ids=["whole-traces", "truncated-traces"])
def test_blocks_from_merged_permuted_traces(shape):
    # pdas's Schur cache merges the traces of several batches and reorders them to the active
    # set's order: blocks built from those must be the blocks of the same pixels in that order.
    G = GridGreen(GridSpec(shape, "biharmonic", "odd"))
    n = shape[0] * shape[1]
    rng = np.random.default_rng(5)
    inner = np.arange(n).reshape(shape)[2:-2, 2:-2].ravel()  # every edge trace non-zero: whole groups
    pts = rng.choice(inner, 65, replace=False)
    a, b = pts[:40], pts[40:]
    order = rng.permutation(pts.size)
    merged = G.merge_traces([G.traces(a), G.traces(b)], order)
    rows = rng.choice(inner, 30, replace=False)
    ref = G.block(rows, pts[order])
    got = G.block(rows, pts[order], G.traces(rows), merged)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12 * np.abs(ref).max())


def test_full_block_is_a_generalised_inverse_without_solve():
    # block() on all pixels, checked against P alone (no transforms involved).
    for model, bc in [("biharmonic", "odd"), ("biharmonic", "even"), ("triharmonic", "periodic")]:
        grid = GridSpec((24, 20), model, bc)
        P = _dense(grid)
        Pg = GridGreen(grid).block(np.arange(480), np.arange(480))
        np.testing.assert_allclose(P @ Pg @ P, P, rtol=0, atol=1e-9 * np.abs(P).max())
        np.testing.assert_allclose(Pg, Pg.T, rtol=0, atol=1e-12 * np.abs(Pg).max())


@pytest.mark.parametrize("shape,bc", [((9, 7), "odd"), ((12, 12), "odd"), ((8, 6), "even"), ((7, 10), "periodic")])
def test_dense_table_is_p_g_by_transforms(shape, bc):
    # The table (images, a band at a time, mirrored) against solve() on the identity (transforms).
    grid = GridSpec(shape, "biharmonic", bc)
    G = GridGreen(grid)
    n = int(np.prod(shape))
    T = G.dense_table()
    assert G.dense is T and G.dense_table() is T
    np.testing.assert_array_equal(T, T.T)
    cols = _full_pg(G, n)
    np.testing.assert_allclose(T, cols, rtol=0, atol=1e-12 * np.abs(cols).max())


def test_dense_table_bands_cover_the_whole_matrix(monkeypatch):
    monkeypatch.setattr(greens, "_TABLE_ROWS", 7)  # bands that do not divide the 90 pixels
    G = GridGreen(GridSpec((10, 9), "biharmonic", "odd"))
    ref = _full_pg(G, 90)
    np.testing.assert_allclose(G.dense_table(), ref, rtol=0, atol=1e-12 * np.abs(ref).max())


def test_shared_green_is_shared_and_tables_only_reused_small_grids(monkeypatch):
    greens._shared.cache_clear()
    monkeypatch.setattr(greens, "DENSE_TABLE_AFTER", 3)
    monkeypatch.setattr(greens, "DENSE_TABLE_PIXELS", 200)
    small, large = GridSpec((12, 15), "biharmonic", "odd"), GridSpec((15, 15), "biharmonic", "odd")
    first = shared_green(small)
    assert shared_green(GridSpec((12, 15), "biharmonic", "odd")) is first
    assert first.dense is None  # two requests: not yet
    assert shared_green(small).dense is not None  # the third builds it
    for _ in range(4):
        assert shared_green(large).dense is None  # 225 pixels: above the limit
    assert shared_green(GridSpec((12, 15), "biharmonic", "even")) is not first
    monkeypatch.setattr(greens, "SHARED_MAX_PIXELS", 200)
    assert shared_green(large) is not shared_green(large)  # above the limit: built per problem
    greens._shared.cache_clear()


# ----------------------------------------------------------------------------- property-based


@st.composite
def _supported_grids(draw):
    n = draw(st.integers(4, 12))
    m = draw(st.integers(4, 12))
    model, bc = draw(st.sampled_from(SUPPORTED))
    alpha = draw(st.floats(0.05, 5.0))
    beta = draw(st.floats(0.05, 5.0))
    return GridSpec((n, m), model, bc, alpha=alpha, beta=beta)


@settings(max_examples=40, deadline=None)
@given(grid=_supported_grids(), seed=st.integers(0, 2**32 - 1))
def test_random_grids_solve_block_and_nullspace(grid, seed):
    rng = np.random.default_rng(seed)
    P = grid.matrix()
    n = P.shape[0]
    G = GridGreen(grid)
    # solve() inverts P on its range
    v = P @ rng.normal(size=n)
    x = G.solve(v)
    np.testing.assert_allclose(P @ x, v, rtol=0, atol=1e-9 * max(np.abs(v).max(), 1e-300))
    # null space: P Z = 0, orthonormal
    Z = G.nullspace
    np.testing.assert_allclose(P @ Z, 0.0, rtol=0, atol=1e-11 * abs(P).max())
    np.testing.assert_allclose(Z.T @ Z, np.eye(Z.shape[1]), rtol=0, atol=1e-12)
    # a random block agrees with solve() on unit vectors
    rows = rng.choice(n, size=rng.integers(1, min(n, 10) + 1), replace=True)
    cols = rng.choice(n, size=rng.integers(1, min(n, 10) + 1), replace=True)
    E = np.zeros((n, cols.size))
    E[cols, np.arange(cols.size)] = 1.0
    ref = G.solve(E)[rows]
    np.testing.assert_allclose(G.block(rows, cols), ref, rtol=0, atol=1e-11 * max(np.abs(ref).max(), 1.0))


# ----------------------------------------------------------------------------- what is not supported


@pytest.mark.parametrize("grid,words", [
    (None, "no grid"),
    (GridSpec((16,), "biharmonic", "odd"), "1-D"),
    (GridSpec((5, 5, 5), "laplace", "even"), "3-D"),
    (GridSpec((3, 10), "biharmonic", "even"), "shorter than 4"),
    (GridSpec((10, 3), "biharmonic", "odd"), "shorter than 4"),
    (GridSpec((1, 40), "laplace", "periodic"), "shorter than 4"),
    (GridSpec((8, 8), "thin-plate", "odd"), "thin-plate"),
    (GridSpec((8, 8), "triharmonic", "odd"), "triharmonic"),
    (GridSpec((8, 8), "mixed", "odd"), "mixed"),
])
def test_unsupported_grids_give_a_reason_and_raise(grid, words):
    why = green_support(grid)
    assert isinstance(why, str) and words in why
    with pytest.raises(ValueError, match=words):
        GridGreen(grid)


@pytest.mark.parametrize("shape", [(4, 4), (4, 9), (13, 4)])
@pytest.mark.parametrize("model,bc", SUPPORTED, ids=lambda v: str(v))
def test_smallest_supported_axis(shape, model, bc):
    assert green_support(GridSpec(shape, model, bc)) is None
    GridGreen(GridSpec(shape, model, bc))


# mixed with alpha = beta = 0 has P = 0: green_support must refuse it, or GridGreen must handle it
# (an N-dimensional null space and finite blocks).  Found while writing these tests (GridGreen used to
# accept it with a 1-D null space and NaN blocks); fixed in greens.py since.
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_zero_weight_mixed_grid_is_rejected_or_handled():
    grid = GridSpec((6, 6), "mixed", "even", alpha=0.0, beta=0.0)
    if green_support(grid) is not None:
        return
    G = GridGreen(grid)
    assert G.nullspace.shape[1] == 36  # P = 0: everything is null
    assert np.isfinite(G.block(np.arange(36), np.arange(36))).all()


def test_truncated_traces_keep_the_modes_pixels_near_and_far_from_edges_need():
    # Edges longer than FULL_TRACE_EDGE keep only the leading modes of each trace, fewer the
    # farther a pixel is from the edge (its trace decays faster over the modes): pixels at
    # every distance from each of the four edges, against solve() of unit vectors, judged
    # entry by entry on the scale of the two pixels' own values (a cut tail shows there first).
    shape = (300, 260)
    n, m = shape
    assert min(shape) - 2 > greens.FULL_TRACE_EDGE
    G = GridGreen(GridSpec(shape, "biharmonic", "odd"))
    rng = np.random.default_rng(11)
    pts = []
    for d in (0, 1, 2, 3, 5, 9, 17, 33, 70, 129):
        c = int(rng.integers(0, n)), int(rng.integers(0, m))
        pts += [d * m + c[1], (n - 1 - d) * m + c[1], c[0] * m + d, c[0] * m + m - 1 - d]
    pts = np.array(pts + list(rng.choice(n * m, 10, replace=False)))
    E = np.zeros((n * m, pts.size))
    E[pts, np.arange(pts.size)] = 1.0
    ref = G.solve(E)[pts]
    scale = np.sqrt(np.outer(np.diag(ref), np.diag(ref)))
    for got in (G.block(pts, pts), G.block(pts, pts, G.traces(pts), G.traces(pts))):
        assert np.abs(got - ref).max() / np.abs(ref).max() < 1e-13
        assert (np.abs(got - ref) / scale).max() < 1e-12
    # every pixel off the corners has a trace on some edge, and far ones a short one
    modes = G.traces(pts)[2]
    assert modes.max() == max(n, m) - 2 and modes[:, -10:].min() < 128


# ----------------------------------------------------------------------------- same bits, any call history


@settings(max_examples=25, deadline=None)
@given(shape=st.one_of(st.tuples(st.integers(4, 30), st.integers(4, 30)),
                       st.sampled_from([(8, 512), (4, 1000), (300, 6)])),  # edges past FULL_TRACE_EDGE
       bc=st.sampled_from(["odd", "even", "periodic"]), seed=st.integers(0, 2**32 - 1))
def test_an_entry_of_p_g_has_the_same_bits_in_every_block(shape, bc, seed):
    # pdas's fine level reads an entry from the dense table, from a block of new pixels against old
    # ones, or from the transpose of one, depending on how often the grid's shape was solved before;
    # all must be the same bits, or a solve's answer depends on the process's history (on 66db038,
    # without exact_order, this failed)
    grid = GridSpec(shape, "biharmonic", bc)
    n = int(np.prod(shape))
    rng = np.random.default_rng(seed)
    a = rng.permutation(n)[: rng.integers(1, n + 1)]
    b = rng.permutation(n)[: rng.integers(1, n + 1)]
    G = GridGreen(grid)
    whole = G.block(a, b, exact_order=True)
    np.testing.assert_array_equal(whole, G.block(b, a, exact_order=True).T)
    cut = int(rng.integers(1, a.size + 1))
    np.testing.assert_array_equal(whole, np.vstack([G.block(a[:cut], b, exact_order=True),
                                                    G.block(a[cut:], b, exact_order=True)]))
    np.testing.assert_array_equal(whole, GridGreen(grid).dense_table()[np.ix_(a, b)])


def test_a_solve_gives_the_same_bits_before_and_after_its_grid_gets_a_table():
    # found with colour channels: the third channel of this crop moved by 2e-10 once the grid's
    # dense table existed (its DENSE_TABLE_AFTER-th request of that shape, then the 16th)
    import skimage.data

    import qpsolve as qs
    from qpsolve.imaging.data import truncate_bits

    prob = qs.image_problem(truncate_bits(skimage.data.coffee()[100:140, 300:350, 2], 4), bits=4)
    greens._shared.cache_clear()
    try:
        first = qs.solve(prob, solver="pdas")
        assert shared_green(prob.grid).dense is None
        for _ in range(greens.DENSE_TABLE_AFTER + 4):
            shared_green(prob.grid)
        assert shared_green(prob.grid).dense is not None
        again = qs.solve(prob, solver="pdas")
    finally:
        greens._shared.cache_clear()
    assert first.success and again.success
    np.testing.assert_array_equal(first.x, again.x)


def test_requests_from_threads_that_miss_the_cache_at_once_are_all_counted():
    # Three channel threads asking for a new grid shape at the same moment must share one object:
    # with two built on a concurrent cache miss, the orphan's count is lost and the table comes late.
    import threading

    for k in range(12):
        grid = GridSpec((20 + k, 23), "biharmonic", "odd")
        greens._shared.cache_clear()
        start = threading.Barrier(3)

        def ask(grid=grid, start=start):
            start.wait()
            greens.count_problem(grid)

        threads = [threading.Thread(target=ask) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert greens._shared(grid)._requests == 3
