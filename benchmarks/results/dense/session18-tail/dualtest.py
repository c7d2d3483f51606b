import sys, numpy as np, time
sys.path.insert(0, "benchmarks/results/dense")
from steps_run import camera_case
import qpsolve.solvers.tnnmg as T
from qpsolve.certificate import certificate, gap_terms
from qpsolve.linalg.gridmg import TruncatedHierarchy
from qpsolve.linalg.threads import blas_threads
size, snap = int(sys.argv[1]), sys.argv[2]
img, prob = camera_case(size, 3)
lvl = T._Level(prob.lower, prob.upper, prob.q, prob.grid)
lo, hi, q = prob.lower, prob.upper, prob.q
x = np.load(snap)
xs = np.load(sys.argv[3]) if len(sys.argv) > 3 else None
with blas_threads(1):
    for s in range(4):
        lvl.ts.projected_gauss_seidel(x, lo, hi, q, reverse=bool(s % 2))
    g = lvl.gradient(x)
    c0 = certificate(prob, x)
    print("plain cert rel gap", c0.relative_gap, "exact grad", prob.exact_gradient, flush=True)
    held = (x <= lo) | (x >= hi)
    for rnd in range(4):
        h = TruncatedHierarchy(lvl.ts, (~held).astype(np.uint8), smooth=2, order=1, drop=False)
        b = -g.copy(); b[held] = 0
        for its in (3, 10, 30, 60):
            t0 = time.process_time()
            d, k = h.pcg(b, rtol=1e-14, max_iter=its)
            t1 = time.process_time() - t0
            c = certificate(prob, x, dual_shift=d)
            hh = g + lvl.ts.matvec(d)
            terms, _ = gap_terms(hh, x, lo, hi)
            wrong = held & (terms > 0)
            extra = f" |d-e| max {np.max(np.abs(d - (xs - x))):.3f}" if xs is not None else ""
            print(f"round {rnd} held {held.sum()} its {k} ({t1:.1f} s): dual rel gap {c.relative_gap:.3e}; terms on held {terms[held].sum():.3e} (wrong sign {wrong.sum()}), on free {terms[~held].sum():.3e}, 1/2 dPd {0.5*d@lvl.ts.matvec(d):.3e}{extra}", flush=True)
        # release wrong-sign held pixels
        held = held & ~wrong
