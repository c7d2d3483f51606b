"""Per-pixel times of the lattice fine-level kernels: half-stencil storage (tried, session 10, dropped)
against the full one of ``LatticeStencil``.

Run from the worktree: ``PYTHONPATH=$PWD python benchmarks/results/amg/session10-lattice-dev/kernel_speed_half.py``.
Best of 5 (each the mean of 3 calls), CPU seconds; the two layouts alternate per kernel; the results
are checked bitwise equal.  The half kernels are the ones tried on the branch (kept here only).
"""
import time

import numpy as np
from numba import njit

from qpsolve.bench.matrix_problems import build_matrix_problem
from qpsolve.linalg.gridmg import _sparse_dot, _step  # noqa: F401  (_step: used by the sweep)
from qpsolve.solvers.tnnmg import _lattice_level

# A symmetric lattice matrix stores only the forward half of each stencil (the centre and the offsets
# after it in lexicographic order: 7 of a plate's 13), and reads the entry of row p at a backward offset
# -o from row p - o's column o: those rows lie at most R lattice rows back (in cache), and the array a
# product or sweep streams from memory halves (notes-session10.md).  ``src[k]`` is the row shift
# (``da[k] m + db[k]`` for a backward offset, 0 for a forward one), ``col[k]`` the column of the half
# array; the offsets are visited in the same order as by the full kernels, so every sum is the same.
@njit(cache=True, inline="always")
def _half_dot(H, da, db, src, col, x, p, i, j, n, m, R):
    """Row ``p = (i, j)`` of a half-stored symmetric stencil times ``x`` (the sum of :func:`_sparse_dot`)."""
    s = 0.0
    if R <= i < n - R and R <= j < m - R:  # the interior: no bounds to check
        for k in range(da.size):
            s += H[p + src[k], col[k]] * x[p + da[k] * m + db[k]]
        return s
    for k in range(da.size):
        i2 = i + da[k]
        j2 = j + db[k]
        if 0 <= i2 < n and 0 <= j2 < m:
            s += H[p + src[k], col[k]] * x[i2 * m + j2]
    return s


@njit(cache=True)
def _half_matvec(H, da, db, src, col, x, out, n, m, R):
    for i in range(n):
        for j in range(m):
            p = i * m + j
            out[p] = _half_dot(H, da, db, src, col, x, p, i, j, n, m, R)


@njit(cache=True)
def _half_sweep(H, da, db, src, col, cen, v, b, lo, hi, free, n, m, R, reverse, project):
    """:func:`_sparse_sweep` on a half-stored symmetric stencil (``cen``: the centre's column of ``H``)."""
    trunc = free.size > 0
    for ii in range(n):
        i = n - 1 - ii if reverse else ii
        for jj in range(m):
            j = m - 1 - jj if reverse else jj
            p = i * m + j
            if trunc and free[p] == 0:
                continue
            d = H[p, cen]
            if d <= 0.0:
                continue
            v[p] = _step(v[p] + (b[p] - _half_dot(H, da, db, src, col, v, p, i, j, n, m, R)) / d, lo, hi, p,
                         project)


@njit(cache=True)
def _half_rows(H, da, db, src, col, pix, n, m, cols, vals, nnz):
    """:func:`_sparse_rows` of a half-stored symmetric stencil."""
    for k in range(pix.size):
        p = pix[k]
        i = p // m
        j = p - i * m
        c = 0
        for e in range(da.size):
            i2 = i + da[e]
            j2 = j + db[e]
            if 0 <= i2 < n and 0 <= j2 < m:
                a = H[p + src[e], col[e]]
                if a != 0.0:
                    cols[k, c] = i2 * m + j2
                    vals[k, c] = a
                    c += 1
        nnz[k] = c


def _half_layout(A, n, m, R, used):
    """``(H, src, col)`` of a variable-stencil ``A`` (offsets ``used``) stored by its forward half, or
    ``None`` when ``A`` is not exactly symmetric: ``A[p, o]`` and ``A[p + o, -o]`` the same bits for every
    pair of pixels inside the lattice (a matrix symmetric only to rounding keeps its own entries)."""
    W = 2 * R + 1
    half = W * W // 2  # the centre's column; the forward offsets are the columns after it
    A3 = A.view(np.uint64).reshape(n, m, W * W)
    have = np.zeros(W * W, bool)
    have[used] = True
    for c in range(half + 1, W * W):
        if not (have[c] or have[W * W - 1 - c]):
            continue
        # every pair once: row p's forward column c (offset o) against row p + o's backward column -o
        a, b = c // W - R, c % W - R
        i0, i1, j0, j1 = max(0, -a), min(n, n - a), max(0, -b), min(m, m - b)
        if i0 < i1 and j0 < j1 and not np.array_equal(A3[i0:i1, j0:j1, c],
                                                      A3[i0 + a:i1 + a, j0 + b:j1 + b, W * W - 1 - c]):
            return None
    fwd = np.unique(np.concatenate([used[used >= half], W * W - 1 - used[used < half]]))
    H = np.ascontiguousarray(A[:, fwd])
    da, db = used // W - R, used % W - R
    back = used < half
    src = np.where(back, da * m + db, 0).astype(np.int64)
    col = np.searchsorted(fwd, np.where(back, W * W - 1 - used, used)).astype(np.int64)
    return H, src, col


class Half:
    """The half-stencil products and sweeps of a full ``LatticeStencil``."""

    def __init__(self, ts):
        used = np.flatnonzero(np.any(ts.A != 0.0, axis=0))
        self.ts, (self.H, self.src, self.col) = ts, _half_layout(ts.A, ts.n, ts.m, ts.r, used)
        self.cen = int(self.col[ts._cen])

    def matvec(self, x, out):
        ts = self.ts
        _half_matvec(self.H, ts._da, ts._db, self.src, self.col, x, out, ts.n, ts.m, ts.r)
        return out

    def gauss_seidel(self, v, b, free):
        ts = self.ts
        _half_sweep(self.H, ts._da, ts._db, self.src, self.col, self.cen, v, b, b, b, free, ts.n, ts.m, ts.r,
                    False, False)

    def projected_gauss_seidel(self, x, lo, hi, q):
        ts = self.ts
        _half_sweep(self.H, ts._da, ts._db, self.src, self.col, self.cen, x, -q, lo, hi, ts._none, ts.n, ts.m,
                    ts.r, False, True)


for size in (512, 1024):
    prob = build_matrix_problem("plate-textured", size)
    lvl, work, order = _lattice_level(prob)
    full = lvl.ts
    half = Half(full)
    rng = np.random.default_rng(0)
    x = rng.normal(size=full.n * full.m)
    b = rng.normal(size=x.size)
    free = np.ones(x.size, np.uint8)
    free[::7] = 0
    state = {}
    for name in ("matvec", "gs", "pgs"):
        for lab in ("full", "half"):
            state[lab] = np.empty_like(x) if name == "matvec" else (x * free if name == "gs" else
                                                                    np.clip(x, lvl.lower, lvl.upper))
        best = {}
        for r in range(5):
            for lab, ts in (("full", full), ("half", half)):
                s = state[lab]
                f = {"matvec": lambda: ts.matvec(x, s), "gs": lambda: ts.gauss_seidel(s, b, free),
                     "pgs": lambda: ts.projected_gauss_seidel(s, lvl.lower, lvl.upper, lvl.q)}[name]
                if r == 0:
                    f()
                t0 = time.process_time()
                f(), f(), f()
                best[lab] = min(best.get(lab, 1e9), (time.process_time() - t0) / 3)
        cols = {"full": full._Ac.shape[1], "half": half.H.shape[1]}
        print(size, name, "  ".join(f"{lab} {best[lab] / x.size * 1e9:.2f} ns/px ({cols[lab]} cols)"
                                    for lab in ("full", "half")),
              "equal", bool(np.array_equal(state["full"], state["half"])), flush=True)
