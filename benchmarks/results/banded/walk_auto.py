"""The note's reproduction: `qs.solve` of a 1-D random walk (N samples, seed S) at 3 bits: route, status, gap.

Run from the repository root: `PYTHONPATH=$PWD python benchmarks/results/banded/walk_auto.py 4096 3`.
"""
import time, numpy as np, qpsolve as qs, sys
from qpsolve.imaging.data import truncate_bits
n = int(sys.argv[1]); seed = int(sys.argv[2]); scale = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
f = np.cumsum(np.random.default_rng(seed).normal(0, scale, n)) + 128
img = np.clip(np.rint(f), 0, 255).astype(np.uint8)
q = truncate_bits(img, 3)
t0 = time.perf_counter()
prob = qs.image_problem(q, bits=3)
r = qs.solve(prob)
print(n, seed, "solve", round(time.perf_counter() - t0, 3), r.status, r.solver, r.kkt.relative_gap, r.kkt.objective, r.info.get("fallback", {}).get("solver") if isinstance(r.info.get("fallback"), dict) else r.info.get("fallback"), flush=True)
