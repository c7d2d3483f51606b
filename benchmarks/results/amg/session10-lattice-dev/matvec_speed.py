"""The lattice fine level's product: the session-9 kernel (``_sparse_dot`` per pixel) against the
session-10 ``_sparse_matvec`` (interior offsets and flat index worked out once), bitwise compared.

Run from the worktree: ``PYTHONPATH=$PWD python benchmarks/results/amg/session10-lattice-dev/matvec_speed.py``.
Best of 7 (each the mean of 3 calls), CPU seconds, alternating.
"""
import time

import numpy as np
from numba import njit

from qpsolve.bench.matrix_problems import build_matrix_problem
from qpsolve.linalg.gridmg import _sparse_dot, _sparse_matvec
from qpsolve.solvers.tnnmg import _lattice_level


@njit(cache=True)
def before(A, da, db, x, out, n, m, R):
    for i in range(n):
        for j in range(m):
            p = i * m + j
            out[p] = _sparse_dot(A, da, db, x, p, i, j, n, m, R)


for size in (512, 1024):
    prob = build_matrix_problem("plate-textured", size)
    lvl, work, order = _lattice_level(prob)
    ts = lvl.ts
    x = np.random.default_rng(0).normal(size=ts.n * ts.m)
    out = {"before": np.empty_like(x), "after": np.empty_like(x)}
    args = (ts._Ac, ts._da, ts._db, x)
    fs = {"before": lambda: before(*args, out["before"], ts.n, ts.m, ts.r),
          "after": lambda: _sparse_matvec(*args, out["after"], ts.n, ts.m, ts.r)}
    best = {}
    for r in range(7):
        for lab, f in fs.items():
            if r == 0:
                f()
            t0 = time.process_time()
            f(), f(), f()
            best[lab] = min(best.get(lab, 1e9), (time.process_time() - t0) / 3)
    print(size, "  ".join(f"{lab} {best[lab] / x.size * 1e9:.2f} ns/px" for lab in fs),
          "equal", bool(np.array_equal(out["before"], out["after"])), flush=True)
