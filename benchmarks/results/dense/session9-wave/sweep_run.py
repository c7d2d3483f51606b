"""One Gauss-Seidel sweep, serial against the two-thread wavefront (issue #18, session 9 "wave").

    python benchmarks/results/dense/session9-wave/sweep_run.py [SIZES...] [--repeats 7] [--old]

Per size (square grids, biharmonic, ``odd``) and kernel: the median wall and CPU (process, all
threads) milliseconds of one sweep, forward and reverse alternating, with ``sweep_threads`` 1 and
2, and whether the iterates are bitwise equal.  ``--old`` times only the serial kernels under their
pre-session names (run it from a checkout of the old code).  Kernels: the fine projected sweep of
``tnnmg``'s Newton steps and monotone smoothing, the fine linear sweep of the truncated V-cycle
(70 % free pixels), and a coarse (variable 5 x 5 stencil) linear sweep.
"""

import os
import resource
import sys
import time

import numpy as np

from qpsolve.linalg import gridmg
from qpsolve.model.operators import GridSpec

try:
    from qpsolve.linalg import wavefront
except ImportError:  # the old code
    wavefront = None


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed(f, repeats):
    walls, cpus = [], []
    for k in range(repeats):
        w0, c0 = time.perf_counter(), cpu()
        f(k % 2 == 1)
        walls.append(time.perf_counter() - w0)
        cpus.append(cpu() - c0)
    return 1e3 * float(np.median(walls)), 1e3 * float(np.median(cpus))


def kernels(n):
    rng = np.random.default_rng(n)
    ts = gridmg.TypedStencil(GridSpec((n, n), "biharmonic", "odd").energy())
    N = n * n
    lo = rng.normal(size=N) * 10.0
    hi = lo + 8.0
    q = rng.normal(size=N) * 50.0
    x = np.clip(rng.normal(size=N) * 10.0, lo, hi)
    free = (rng.random(N) < 0.7).astype(np.uint8)
    b = rng.normal(size=N) * free
    v = np.zeros(N)
    A = rng.normal(size=(N, 25)) * 0.1
    A[:, 12] = 30.0
    w = np.zeros(N)
    return {
        "fine projected": (lambda rev: ts.projected_gauss_seidel(x, lo, hi, q, reverse=rev), x),
        "fine linear (70% free)": (lambda rev: ts.gauss_seidel(v, b, free, reverse=rev), v),
        "coarse linear (5x5)": (lambda rev: gridmg._var_gs(A, w, b, n, n, 2, False, rev), w),
    }


def main():
    args = sys.argv[1:]
    repeats = 7
    if "--repeats" in args:
        i = args.index("--repeats")
        repeats = int(args[i + 1])
        del args[i:i + 2]
    sizes = [int(a) for a in args if not a.startswith("--")] or [512, 1024, 2048]
    modes = [1] if wavefront is None else [1, 2]
    print(f"load {os.getloadavg()[0]:.2f}  repeats {repeats}  {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC")
    print("| size | kernel | threads | wall ms | CPU ms | bitwise | two-thread sweeps / backed off / yields |")
    print("|---|---|---|---|---|---|---|")
    for n in sizes:
        for name in kernels(n):
            res = {}
            for k in modes:
                if wavefront is not None:
                    wavefront.set_sweep_threads(k)
                f, out = kernels(n)[name]
                f(False)  # compile / warm
                f, out = kernels(n)[name]
                st0 = dict(wavefront.STATS) if wavefront is not None else {}
                wall, c = timed(f, repeats)
                st = {key: wavefront.STATS[key] - st0[key] for key in st0} if k == 2 else {}
                res[k] = (wall, c, out.copy(), st)
            for k in modes:
                same = "" if k == 1 else str(bool(np.array_equal(res[1][2], res[k][2])))
                st = " / ".join(str(v) for v in res[k][3].values())
                print(f"| {n} | {name} | {k} | {res[k][0]:.2f} | {res[k][1]:.2f} | {same} | {st} |", flush=True)
    print(f"load after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
