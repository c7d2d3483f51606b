import sys, numpy as np, time
sys.path.insert(0, "benchmarks/results/dense")
from steps_run import camera_case
import qpsolve.solvers.tnnmg as T
from qpsolve.linalg.gridmg import TruncatedHierarchy
from qpsolve.linalg.threads import blas_threads
size, snap, Estar = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
img, prob = camera_case(size, 3)
lvl = T._Level(prob.lower, prob.upper, prob.q, prob.grid)
lo, hi, q = prob.lower, prob.upper, prob.q
x0 = np.load(snap)
def sweeps(x):
    for s in range(4):
        lvl.ts.projected_gauss_seidel(x, lo, hi, q, reverse=bool(s % 2))
    return x
with blas_threads(1):
    x = sweeps(x0.copy())
    g = lvl.gradient(x); gap, E = T._estimate(x, g, lo, hi, q)
    print(f"start rel gap {gap/E:.3e}, E-E* {E-Estar:.3e}", flush=True)
    room = np.minimum(x - lo, hi - x)
    for eps in (0, 1e-6, 1e-3):
        held = room <= eps
        h = TruncatedHierarchy(lvl.ts, (~held).astype(np.uint8), smooth=2, order=1, drop=False)
        b = -g.copy(); b[held] = 0
        for its in (3, 10, 30):
            c0 = time.process_time()
            d, k = h.pcg(b, rtol=1e-14, max_iter=its)
            xt, t, Et = T._arc(lvl, x, d, g, E)
            if xt is None:
                print(f"eps {eps} its {its}: search failed", flush=True); continue
            clipped = int(np.count_nonzero((x + t * d < lo) | (x + t * d > hi)))
            xs = sweeps(xt.copy()); gs = lvl.gradient(xs); gap2, E2 = T._estimate(xs, gs, lo, hi, q)
            print(f"eps {eps} held {held.sum()} its {its}: t {t}, clipped {clipped}, E-E* {Et-Estar:.3e}, after sweeps rel gap {gap2/E2:.3e} E-E* {E2-Estar:.3e} ({time.process_time()-c0:.1f} s)", flush=True)
