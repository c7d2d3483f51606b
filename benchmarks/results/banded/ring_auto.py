"""A closed random walk (its ends meet) of N samples at 3 bits under the ``periodic`` rule: route, status, time.

Run from the repository root: ``PYTHONPATH=$PWD python benchmarks/results/banded/ring_auto.py 65536 [MODEL]``.
"""
import sys
import time

import numpy as np

import qpsolve as qs
from qpsolve.imaging.data import truncate_bits

n = int(sys.argv[1])
model = sys.argv[2] if len(sys.argv) > 2 else "biharmonic"
f = np.cumsum(np.random.default_rng(0).normal(0, 1, n))
f = np.abs(np.mod(f - np.linspace(0, f[-1] - f[0], n) + 128, 510) - 255)
prob = qs.image_problem(truncate_bits(np.rint(f).astype(np.uint8), 3), bits=3, bc="periodic", model=model)
for k in range(2):
    t = time.perf_counter()
    r = qs.solve(prob, time_limit=120)
    print(n, model, r.solver, r.status, r.iterations, f"{time.perf_counter() - t:.2f} s", f"gap {r.kkt.relative_gap:.2e}",
          flush=True)
