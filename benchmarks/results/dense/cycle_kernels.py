"""Per-kernel CPU of a tnnmg fine step at 512^2 (notes.md, session 6): ``python cycle_kernels.py [REPEATS]``.

The state: camera 512^2, 3 bits, after 20 projected Gauss-Seidel sweeps from the bin centres (the held
set of an early Newton step, 16 % of the pixels).  Each line is the best of 3 rounds of REPEATS calls
(default 10), in CPU milliseconds of the process, one kernel thread (``QPSOLVE_THREADS=1`` is set here).
Runs on any version of the code that has these internals (the session-6 before/after table ran it on
both), so run it with ``PYTHONPATH`` at the code to measure.
"""
import os
import sys
import time

os.environ["QPSOLVE_THREADS"] = "1"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from qpsolve.linalg import gridmg as G  # noqa: E402
from qpsolve.linalg.threads import blas_threads  # noqa: E402
from steps_run import camera_case  # noqa: E402

K = int(sys.argv[1]) if len(sys.argv) > 1 else 10


def best(f, k=K):
    f()
    out = np.inf
    for _ in range(3):
        t0 = time.process_time()
        for _ in range(k):
            f()
        out = min(out, (time.process_time() - t0) / k * 1e3)
    return out


img, prob = camera_case(512, 3)
ts = G.TypedStencil(prob.grid.energy())
lo, hi, q = prob.lower, prob.upper, prob.q
x = 0.5 * (lo + hi)
for s in range(20):
    ts.projected_gauss_seidel(x, lo, hi, q, reverse=bool(s % 2))
held = (x <= lo) | (x >= hi)
free = (~held).astype(np.uint8)
rng = np.random.default_rng(0)
b = rng.normal(size=x.size) * free
rows = {}
with blas_threads(1):
    h = G.TruncatedHierarchy(ts, free, smooth=2, order=1, drop=False)
    mh = G.MonotoneHierarchy(ts, smooth=2)
    l0, l1 = h.levels[0], h.levels[1]
    v0, b0 = np.zeros(l0.n * l0.m), rng.normal(size=l0.n * l0.m)
    v = np.zeros(x.size)
    rows["fine projected Gauss-Seidel sweep"] = best(lambda: ts.projected_gauss_seidel(x.copy(), lo, hi, q))
    rows["fine truncated Gauss-Seidel sweep"] = best(lambda: ts.gauss_seidel(v, b, free))
    rows["fine product"] = best(lambda: ts.matvec(x))
    rows["coarse Gauss-Seidel sweep, 256^2"] = best(
        lambda: G._var_gs(l0.A, v0, b0, l0.n, l0.m, l0.R, l0.periodic, False))
    rows["coarse product, 256^2"] = best(
        lambda: G._var_product(l0.A, b0, np.empty_like(b0), l0.n, l0.m, l0.R, l0.periodic))
    rows["truncated V-cycle"] = best(lambda: h.vcycle(b))
    rows["pcg, 3 iterations"] = best(lambda: h.pcg(b, rtol=1e-12, max_iter=3))
    rows["monotone V-cycle"] = best(lambda: mh.vcycle(x.copy(), lo, hi, q, firm=0.1))
    tr = h.transfers[0]
    fine_out = np.zeros_like(l0.A)
    rows["fine Galerkin product, 512^2 -> 256^2"] = best(
        lambda: (fine_out.fill(0.0), ts.galerkin(free, *tr, l0.n, l0.m, l0.R, np.ones(l0.n * l0.m, np.uint8),
                                                  fine_out)), 3)
    tr1 = h.transfers[1]
    var_out = np.zeros_like(l1.A)
    rows["coarse Galerkin product, 256^2 -> 128^2"] = best(
        lambda: (var_out.fill(0.0), G._var_galerkin(l0.A, l0.n, l0.m, l0.R, l0.periodic, *tr1, l1.n, l1.m, l1.R,
                                                    var_out)), 3)
    rows["TruncatedHierarchy build"] = best(lambda: G.TruncatedHierarchy(ts, free, smooth=2, order=1, drop=False), 2)
    rows["MonotoneHierarchy build"] = best(lambda: G.MonotoneHierarchy(ts, smooth=2), 2)
    flips = []
    for frac in (0.01, 0.05):
        f2 = free.copy()
        f2[rng.choice(x.size, int(frac * x.size), replace=False)] ^= 1
        flips.append((frac, f2))

    def update(f2):
        hh = G.TruncatedHierarchy(ts, free, smooth=2, order=1, drop=False)
        t0 = time.process_time()
        hh.update(f2)
        return (time.process_time() - t0) * 1e3

    for frac, f2 in flips:
        rows[f"TruncatedHierarchy update, {frac:.0%} of the pixels flipped at random"] = min(update(f2)
                                                                                          for _ in range(3))
print(f"load {os.getloadavg()[0]:.1f}")
for name, ms in rows.items():
    print(f"| {name} | {ms:.2f} |")
