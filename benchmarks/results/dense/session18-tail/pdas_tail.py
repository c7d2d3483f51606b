"""A primal-dual active-set tail from a tnnmg iterate: infeasible PDAS iterates, the free-set systems solved by the
truncated V-cycle's PCG; each iterate clipped and certified."""
import sys, numpy as np, time
sys.path.insert(0, "benchmarks/results/dense")
from steps_run import camera_case
import qpsolve.solvers.tnnmg as T
from qpsolve.certificate import certificate
from qpsolve.linalg.gridmg import TruncatedHierarchy
from qpsolve.linalg.threads import blas_threads
size, snap, Estar = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
its, rounds = int(sys.argv[4]), int(sys.argv[5])
c = float(sys.argv[6]) if len(sys.argv) > 6 else 20.0
tau = float(sys.argv[7]) if len(sys.argv) > 7 else 0.0
img, prob = camera_case(size, 3)
lvl = T._Level(prob.lower, prob.upper, prob.q, prob.grid)
lo, hi, q = prob.lower, prob.upper, prob.q
x0 = np.load(snap)
def sweeps(x, n=4):
    for s in range(n):
        lvl.ts.projected_gauss_seidel(x, lo, hi, q, reverse=bool(s % 2))
    return x
c0 = time.process_time()
with blas_threads(1):
    x = sweeps(x0.copy())
    g = lvl.gradient(x); gap, E = T._estimate(x, g, lo, hi, q)
    print(f"start rel gap {gap/E:.3e}, E-E* {E-Estar:.3e}", flush=True)
    A_lo, A_hi = x <= lo, x >= hi
    y = x.copy()
    h = None
    for k in range(rounds):
        held = A_lo | A_hi
        free = (~held).astype(np.uint8)
        h = TruncatedHierarchy(lvl.ts, free, smooth=2, order=1, drop=False) if h is None else h.update(free)
        y[A_lo] = lo[A_lo]; y[A_hi] = hi[A_hi]
        r = -lvl.gradient(y); r[held] = 0.0
        d, n_it = h.pcg(r, rtol=1e-12, max_iter=its)
        y = y + d
        gy = lvl.gradient(y)
        lam = gy  # multipliers on held pixels: >0 at lower, <0 at upper
        # held pixels stay unless their multiplier is wrong by more than tau; free ones join when they violate by more
        new_lo = np.where(A_lo, lam / c > -tau, y < lo - tau)
        new_hi = np.where(A_hi, -lam / c > -tau, y > hi + tau) & ~new_lo
        added = int(((new_lo | new_hi) & ~held).sum()); released = int((held & ~(new_lo | new_hi)).sum())
        viol = max(float(np.max(lo - y)), float(np.max(y - hi)))
        nviol = int(((y < lo) | (y > hi)).sum())
        xc = np.clip(y, lo, hi)
        cert = certificate(prob, xc)
        xs = sweeps(xc.copy()); cs = certificate(prob, xs)
        print(f"round {k}: held {held.sum()} (+{added} -{released}), cg {n_it}, max viol {viol:.2e} at {nviol}; "
              f"clipped: E-E* {cert.objective-Estar:.2e} gap {cert.relative_gap:.2e}; +4 sweeps gap {cs.relative_gap:.2e} "
              f"E-E* {cs.objective-Estar:.2e}  [{time.process_time()-c0:.1f} s]", flush=True)
        A_lo, A_hi = new_lo, new_hi
