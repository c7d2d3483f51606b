"""Times of the fine-level kernels at 512² (milliseconds, median and best of 21 calls), run from a checkout:
``PYTHONPATH=$PWD python benchmarks/results/dense/session15/kernels.py``.

The plain plate (biharmonic, ``odd``) as a ``TypedStencil`` and issue #20's ``plate-textured`` as a
``LatticeStencil``; the linear sweeps on a spatially correlated free mask (71 % free), as held sets are.
"""
import time

import numpy as np
import scipy.ndimage as ndi

from qpsolve.bench.matrix_problems import build_matrix_problem
from qpsolve.linalg import gridmg
from qpsolve.model.operators import GridSpec
from qpsolve.solvers.tnnmg import _lattice_level

N = 512
rng = np.random.default_rng(0)
x0 = rng.uniform(0, 32, N * N)
lo = np.floor(x0 / 4) * 4
hi = lo + 4
x0 = np.clip(x0 + rng.normal(size=N * N), lo, hi)
q = np.zeros(N * N)
free = (ndi.gaussian_filter(rng.normal(size=(N, N)), 3) > -0.05).astype(np.uint8).ravel()
b = rng.normal(size=N * N) * free


def report(name, f, reps=21):
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    print(f"{name:34s} {1e3 * np.median(times):7.3f} ms (best {1e3 * min(times):.3f})")


ts = gridmg.TypedStencil(GridSpec((N, N), "biharmonic", "odd").energy())
x, v, y = x0.copy(), np.zeros(N * N), np.empty(N * N)
ts.projected_gauss_seidel(x, lo, hi, q)  # compile / load once
ts.gauss_seidel(v, b, free)
ts.matvec(x0, out=y)
report("fine projected sweep, forward", lambda: ts.projected_gauss_seidel(x, lo, hi, q))
report("fine projected sweep, reverse", lambda: ts.projected_gauss_seidel(x, lo, hi, q, reverse=True))
report("fine linear sweep (71 % free)", lambda: ts.gauss_seidel(v, b, free))
report("fine linear sweep from zero", lambda: (v.fill(0.0), ts.gauss_seidel(v, b, free, zero=True)))
report("fine product", lambda: ts.matvec(x0, out=y))

fine, _, _ = _lattice_level(build_matrix_problem("plate-textured", N))
ls = fine.ts
xl = x0.copy()
ls.projected_gauss_seidel(xl, lo, hi, q)
report("lattice projected sweep", lambda: ls.projected_gauss_seidel(xl, lo, hi, q))
report("lattice linear sweep (71 % free)", lambda: ls.gauss_seidel(v, b, free))
report("lattice product", lambda: ls.matvec(x0, out=y))
