"""``gridmg._truncated`` (numba, session 10) against the numpy version before it: bits and CPU time.

Run from the worktree: ``PYTHONPATH=$PWD python benchmarks/results/amg/session10-lattice-dev/truncated_speed.py``.
The plate's 25-column stencils and a random free mask (70 % free); best of 5, alternating.
"""
import time

import numpy as np

from qpsolve.bench.matrix_problems import build_matrix_problem
from qpsolve.linalg.gridmg import _truncated
from qpsolve.solvers.tnnmg import _lattice_level


def before(A, mask, n, m, R):
    W = 2 * R + 1
    pad = np.zeros((n + 2 * R, m + 2 * R))
    pad[R:R + n, R:R + m] = mask.reshape(n, m)
    out = A * mask.reshape(-1, 1)
    for a in range(W):
        for b in range(W):
            out[:, a * W + b] *= pad[a:a + n, b:b + m].ravel()
    return out


for size in (512, 1024):
    prob = build_matrix_problem("plate-textured", size)
    lvl, work, order = _lattice_level(prob)
    ts = lvl.ts
    mask = (np.random.default_rng(0).random(ts.n * ts.m) < 0.7).astype(np.uint8)
    res, best = {}, {}
    for r in range(5):
        for lab, f in (("before", before), ("after", _truncated)):
            t0 = time.process_time()
            res[lab] = f(ts.A, mask, ts.n, ts.m, ts.r)
            best[lab] = min(best.get(lab, 1e9), time.process_time() - t0)
            del res[lab]
    a, b = before(ts.A, mask, ts.n, ts.m, ts.r), _truncated(ts.A, mask, ts.n, ts.m, ts.r)
    print(size, "  ".join(f"{lab} {best[lab] * 1e3:.1f} ms" for lab in best),
          "bitwise equal", bool(np.array_equal(a.view(np.uint64), b.view(np.uint64))), flush=True)
