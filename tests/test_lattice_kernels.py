"""The passes of :mod:`qpsolve.linalg.lattice` over a CSR matrix's entries: numba kernels and the rest.

Expected values come from numpy formulations written here (the ones the module used before its
passes became numba kernels: row and column arrays of the non-zeros, ``sum_duplicates()`` and
``eliminate_zeros()`` then one assignment) on raw CSR matrices with unsorted rows, duplicates,
stored zeros and entries that wrap around from one lattice row to the next.  Each test runs both
ways: the compiled kernels, and the module's numpy path for small matrices with the scatter
interpreted (its pure-Python fallback).
"""

import contextlib

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import qpsolve.linalg.lattice as L


@contextlib.contextmanager
def path(compiled):
    """Read matrices with the numba kernels, or with numpy (``find_lattice``'s small-matrix path) and the
    scatter interpreted."""
    saved = L.NUMBA_MIN_NNZ, L._scatter
    L.NUMBA_MIN_NNZ = 0 if compiled else 1 << 62
    if not compiled:
        L._scatter = L._scatter.func
    try:
        yield
    finally:
        L.NUMBA_MIN_NNZ, L._scatter = saved


# ------------------------------------------------------------------------------ references
def ref_entries(P):
    rows = np.repeat(np.arange(P.shape[0], dtype=np.int64), np.diff(P.indptr))
    cols = P.indices.astype(np.int64)
    keep = P.data != 0.0
    return rows[keep], cols[keep]


def ref_split(d, m):
    di = np.floor_divide(d + m // 2, m)
    return di, d - di * m


def ref_offsets(P):
    rows, cols = ref_entries(P)
    return np.unique(cols - rows)


def ref_radius(P, m, rmax):
    rows, cols = ref_entries(P)
    if rows.size == 0:
        return 0
    di, dj = ref_split(cols - rows, m)
    j2 = rows % m + dj
    if j2.min() < 0 or j2.max() >= m:
        return None
    R = int(max(np.abs(di).max(), np.abs(dj).max()))
    return None if R > rmax else R


def ref_stencil(P, shape, radius):
    P = sp.csr_matrix(P, copy=True)
    P.sum_duplicates()
    P.eliminate_zeros()
    n, m = shape
    W = 2 * radius + 1
    rows = np.repeat(np.arange(P.shape[0], dtype=np.int64), np.diff(P.indptr))
    di, dj = ref_split(P.indices.astype(np.int64) - rows, m)
    A = np.zeros((n * m, W * W))
    A[rows, (di + radius) * W + dj + radius] = P.data
    return A


def same_bits(a, b):
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


# ------------------------------------------------------------------------------ raw matrices
def raw_lattice(n, m, R, seed, wrap=0, far_zeros=True):
    """A raw CSR matrix on an ``n x m`` lattice within radius ``R``: rows in random order, some entries
    split into duplicates (some cancelling), stored zeros inside and outside the window, ``-0.0``,
    and ``wrap`` non-zeros that wrap around a row's end (needs ``n > 1`` and ``m > 2 R``).  Values
    are multiples of 1/8, so every order of summation gives the same sums."""
    rng = np.random.default_rng(seed)
    N = n * m
    rows, cols, vals = [], [], []
    for p in range(N):
        i, j = divmod(p, m)
        for di in range(-R, R + 1):
            for dj in range(-R, R + 1):
                if not (0 <= i + di < n and 0 <= j + dj < m) or rng.random() < 0.3:
                    continue
                q = (i + di) * m + j + dj
                v = float(rng.integers(-64, 65)) / 8
                u = rng.random()
                if u < 0.15:  # duplicates
                    parts = [v - 0.5, 0.5] if rng.random() < 0.5 else [v, 1.25, -1.25]
                elif u < 0.2:  # a cancelling pair: no entry after sum_duplicates
                    parts = [v, -v]
                elif u < 0.25:
                    parts = [-0.0]
                else:
                    parts = [v]
                rows += [p] * len(parts)
                cols += [q] * len(parts)
                vals += parts
        if far_zeros and rng.random() < 0.3:  # stored zeros outside the window (wrapping or far)
            q = int(rng.integers(0, N))
            rows.append(p)
            cols.append(q)
            vals.append(0.0)
    for _ in range(wrap):  # a non-zero from the end of a lattice row to the start of the next, or back
        i, b = int(rng.integers(0, n - 1)), int(rng.integers(1, R + 1))
        a = int(rng.integers(1, b + 1))
        p = i * m + m - a  # column m - a, then b columns further: wraps to column b - a of the next row
        forward = rng.random() < 0.5  # one direction only: each side of the check on its own
        rows.append(p if forward else p + b)
        cols.append(p + b if forward else p)
        vals.append(1.0)
    order = rng.permutation(len(rows))  # unsorted rows
    rows, cols = np.asarray(rows, dtype=np.int64)[order], np.asarray(cols, dtype=np.int64)[order]
    vals = np.asarray(vals, dtype=np.float64)[order]
    by_row = np.argsort(rows, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=N))])
    P = sp.csr_matrix((vals[by_row], cols[by_row].astype(np.int32), indptr), shape=(N, N))
    return P


def divisors(N):
    return [k for k in range(1, N + 1) if N % k == 0]


shapes = dict(n=st.integers(1, 12), m=st.integers(1, 12), R=st.integers(1, L.RMAX), seed=st.integers(0, 10**6))


# ------------------------------------------------------------------------------ the passes
@pytest.mark.parametrize("compiled", [True, False])
@settings(max_examples=40, deadline=None)
@given(**shapes, wrap=st.integers(0, 2))
def test_distinct_offsets_are_those_of_the_numerically_non_zero_entries(compiled, n, m, R, seed, wrap):
    P = raw_lattice(n, m, R, seed, wrap=wrap if n > 1 and m > 2 * R else 0)
    with path(compiled):
        got = L._offsets(P)
    ref = ref_offsets(P)
    assert got.dtype.kind == "i" and np.array_equal(got, ref)


@pytest.mark.parametrize("compiled", [True, False])
@settings(max_examples=40, deadline=None)
@given(N=st.integers(1, 60), density=st.floats(0.0, 0.5), seed=st.integers(0, 10**6))
def test_distinct_offsets_of_any_sparse_matrix(compiled, N, density, seed):
    # a graph's offsets span the whole matrix; a third of the stored entries zero
    P = sp.random(N, N, density=density, random_state=seed, format="csr")
    P.data[::3] = 0.0
    with path(compiled):
        got = L._offsets(P)
    assert np.array_equal(got, ref_offsets(P))


@pytest.mark.parametrize("compiled", [True, False])
@settings(max_examples=40, deadline=None)
@given(**shapes, wrap=st.integers(0, 2), rmax=st.integers(0, L.RMAX))
def test_the_radius_check_agrees_with_numpy_for_every_row_length(compiled, n, m, R, seed, wrap, rmax):
    # the true row length m and every other divisor of N: wrap-arounds, too-far entries, both refused
    wrap = wrap if n > 1 and m > 2 * R else 0
    P = raw_lattice(n, m, R, seed, wrap=wrap)
    with path(compiled):
        for k in divisors(n * m):
            assert L._radius(P, k, rmax) == ref_radius(P, k, rmax), k
        if wrap:
            assert L._radius(P, m, L.RMAX) is None


@pytest.mark.parametrize("compiled", [True, False])
@settings(max_examples=40, deadline=None)
@given(**shapes)
def test_the_stencil_array_is_the_summed_cleaned_matrix_bit_for_bit(compiled, n, m, R, seed):
    m = max(m, 2 * R + 1)  # find_lattice's rule: a row holds the window (else the split is ambiguous)
    P = raw_lattice(n, m, R, seed)
    with path(compiled):
        A = L.stencil_array(P, (n, m), R)
    assert same_bits(A, ref_stencil(P, (n, m), R))  # cancelled duplicates and -0.0: +0.0, as absent


@pytest.mark.parametrize("compiled", [True, False])
@settings(max_examples=20, deadline=None)
@given(**shapes, wrap=st.integers(0, 2))
def test_int64_index_arrays_read_as_int32_ones(compiled, n, m, R, seed, wrap):
    # scipy keeps int64 indices for matrices built so (or too large for int32): the same answers
    m = max(m, 2 * R + 1)
    P = raw_lattice(n, m, R, seed, wrap=wrap if n > 1 else 0)
    Q = P.copy()
    Q.indices, Q.indptr = P.indices.astype(np.int64), P.indptr.astype(np.int64)  # the constructor would downcast
    assert sp.csr_matrix(Q).indices.dtype == np.int64 and sp.csr_matrix(Q).indptr.dtype == np.int64
    with path(compiled):
        assert np.array_equal(L._offsets(Q), ref_offsets(P))
        for k in divisors(n * m):
            assert L._radius(Q, k, L.RMAX) == ref_radius(P, k, L.RMAX), k
        if ref_radius(P, m, R) is not None:
            assert same_bits(L.stencil_array(Q, (n, m), R), ref_stencil(P, (n, m), R))
        else:
            with pytest.raises(ValueError, match="is non-zero"):
                L.stencil_array(Q, (n, m), R)


@pytest.mark.parametrize("compiled", [True, False])
def test_three_duplicates_are_summed_in_stored_order_like_sum_duplicates_on_sorted_rows(compiled):
    # (1 + 2^53) - 2^53 == 0 but (2^53 - 2^53) + 1 == 1: the order of the sum shows in the result
    lap = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(8, 8))
    P = sp.kronsum(lap, lap).tocsr()
    big = 2.0**53
    sums = set()
    for a, b, c in [(1.0, big, -big), (big, -big, 1.0), (big, 1.0, -big)]:
        p = 9  # pixel (1, 1); its right neighbour gets three entries, rows stay sorted
        k = P.indptr[p] + int(np.flatnonzero(P.indices[P.indptr[p]:P.indptr[p + 1]] == p + 1)[0])
        indices = np.insert(P.indices, [k, k], [p + 1, p + 1])
        data = np.insert(P.data, [k, k], [a, b])
        data[k + 2] = c
        indptr = P.indptr.copy()
        indptr[p + 1:] += 2
        Q = sp.csr_matrix((data, indices, indptr), shape=P.shape)
        assert Q.has_sorted_indices
        ref = ref_stencil(Q, (8, 8), 1)
        with path(compiled):
            A = L.stencil_array(Q, (8, 8), 1)
        assert ref[p, 5] == (a + b) + c and same_bits(A, ref)
        sums.add((a + b) + c)
    assert sums == {0.0, 1.0}


@pytest.mark.parametrize("compiled", [True, False])
def test_a_non_zero_outside_the_window_is_an_error_and_a_cancelling_pair_is_not(compiled):
    lap = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(8, 8))
    P = sp.kronsum(lap, lap).tocsr()
    p = 9
    base = [P.indices, P.data]
    for vals, bad in [([0.5, -0.5], False), ([0.0, 0.5, -0.5], False), ([0.5, -0.25], True),
                      ([0.0, 0.25], True), ([0.0, 0.0], False)]:
        k = P.indptr[p]
        indices = np.insert(base[0], k, [p + 2] * len(vals))  # two columns away: outside radius 1
        data = np.insert(base[1], k, vals)
        indptr = P.indptr.copy()
        indptr[p + 1:] += len(vals)
        Q = sp.csr_matrix((data, indices, indptr), shape=P.shape)
        with path(compiled):
            if bad:
                with pytest.raises(ValueError, match=r"P\[9, 11\] is non-zero"):
                    L.stencil_array(Q, (8, 8), 1)
            else:
                assert same_bits(L.stencil_array(Q, (8, 8), 1), ref_stencil(P, (8, 8), 1))


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("forward", [True, False])
def test_a_non_zero_that_wraps_to_the_next_lattice_row_is_an_error(compiled, forward):
    # 16 rows of 9: P[8, 9] couples the end of lattice row 0 with the start of row 1, one offset away
    # (the (0, +1) slot of pixel (0, 8) if nothing checked the column); P[9, 8] the same backwards
    lap = lambda k: sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(k, k))  # noqa: E731
    P = sp.kronsum(lap(9), lap(16)).tolil()
    r, c = (8, 9) if forward else (9, 8)
    P[r, c] = -5.0
    P = P.tocsr()
    with path(compiled):
        with pytest.raises(ValueError, match=rf"P\[{r}, {c}\] is non-zero"):
            L.stencil_array(P, (16, 9), 1)
        # a cancelling pair there is harmless, as anywhere outside the window
        k = P.indptr[r + 1]  # a second entry at the end of row r
        indptr = P.indptr.copy()
        indptr[r + 1:] += 1
        Q = sp.csr_matrix((np.insert(P.data, k, 5.0), np.insert(P.indices, k, c), indptr), shape=P.shape)
        assert same_bits(L.stencil_array(Q, (16, 9), 1), ref_stencil(Q, (16, 9), 1))
