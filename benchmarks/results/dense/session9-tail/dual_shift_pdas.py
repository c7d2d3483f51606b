"""Dual PDAS for the certificate's shift: python shift2.py SIZE BITS SNAP CG ROUNDS"""
import sys, time
import numpy as np
sys.path.insert(0, "benchmarks/results/dense")
from steps_run import camera_case
import qpsolve.solvers.tnnmg as T
from qpsolve.certificate import certificate
from qpsolve.linalg.gridmg import TruncatedHierarchy

size, bits, snap, K, R = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
img, prob = camera_case(size, bits)
lvl = T._Level(prob.lower, prob.upper, prob.q, prob.grid)
ts, lo, hi, q = lvl.ts, prob.lower, prob.upper, prob.q
x = np.load(snap)
for s in range(4): ts.projected_gauss_seidel(x, lo, hi, q, reverse=bool(s % 2))
g = lvl.gradient(x)
c = certificate(prob, x, 1e-8); E = c.objective
print(f"plain: rel gap {c.relative_gap:.3e}")
at_lo, at_hi = (x <= lo), (x >= hi)
held = at_lo | at_hi
h = None
for r in range(R):
    c0 = time.process_time()
    free = (~held).astype(np.uint8)
    h = TruncatedHierarchy(ts, free, smooth=2, order=1, drop=False) if h is None else h.update(free)
    b = -g.copy(); b[held] = 0
    v, its = h.pcg(b, rtol=1e-14, max_iter=K)
    w = g + ts.matvec(v)
    terms = np.maximum(np.nan_to_num(np.where(w > 0, w * (x - lo), np.where(w < 0, w * (x - hi), 0.0))), 0)
    c = certificate(prob, x, 1e-8, dual_shift=v)
    wrong = held & (((x <= lo) & (w < 0)) | ((x >= hi) & (w > 0)))
    print(f"round {r}: held {held.sum()} shifted rel gap {c.relative_gap:.3e} held-terms {terms[held].sum()/E:.2e} "
          f"free-terms {terms[~held].sum()/E:.2e} wrong-sign {wrong.sum()} cpu {time.process_time()-c0:.1f} optimal {c.optimal}", flush=True)
    held = held & ~wrong
