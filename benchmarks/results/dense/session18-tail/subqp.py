"""Subspace QP hypothesis: from a tail iterate, minimise E(x + Z c) inside the box, Z = bilinear from K x K."""
import sys, time, json
import numpy as np, scipy.sparse as sp
sys.path.insert(0, "benchmarks/results/dense")
from steps_run import camera_case
import qpsolve.solvers.tnnmg as T
from qpsolve.linalg.threads import blas_threads
import cvxpy as cp

size, bits, snap, K, R = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
steps = int(sys.argv[6]) if len(sys.argv) > 6 else 0
img, prob = camera_case(size, bits)
x = np.load(snap)
lvl = T._Level(prob.lower, prob.upper, prob.q, prob.grid)
lo, hi, q = prob.lower, prob.upper, prob.q

def axis_interp(n, k):
    s = n / k
    c = (np.arange(n) + 0.5) / s - 0.5
    c = np.clip(c, 0, k - 1)
    i0 = np.floor(c).astype(int); i1 = np.minimum(i0 + 1, k - 1); w = c - i0
    rows = np.r_[np.arange(n), np.arange(n)]
    return sp.csr_matrix((np.r_[1 - w, w], (rows, np.r_[i0, i1])), shape=(n, k))

Zy, Zx = axis_interp(size, K), axis_interp(size, K)
Z = sp.kron(Zy, Zx).tocsr()
EPS = float(sys.argv[7]) if len(sys.argv) > 7 else -1
if EPS >= 0:
    keep = np.minimum(x - lo, hi - x) > EPS
    print("truncated: free", int(keep.sum()), flush=True)
    Z = sp.diags(keep.astype(float)) @ Z
    Z = Z.tocsr(); Z.eliminate_zeros()
P = prob.P.tocsr()
def sweeps(x, n=4):
    x = x.copy()
    for s in range(n):
        lvl.ts.projected_gauss_seidel(x, lo, hi, q, reverse=bool(s % 2))
    return x
def report(tag, x):
    g = lvl.gradient(x); gap, E = T._estimate(x, g, lo, hi, q)
    xs = sweeps(x); gs = lvl.gradient(xs); gap2, E2 = T._estimate(xs, gs, lo, hi, q)
    print(f"{tag}: E {E:.10f} rel gap {gap/E:.3e}; after 4 sweeps E {E2:.10f} rel gap {gap2/E2:.3e}", flush=True)
    return xs
with blas_threads(1):
    xs0 = report("start", x)
t0 = time.perf_counter()
g = lvl.gradient(x)
A = (Z.T @ P @ Z).toarray(); b = Z.T @ g
A = 0.5 * (A + A.T)
room_lo, room_hi = lo - x, hi - x
near = (np.minimum(-room_lo, room_hi) < R) & (np.diff(Z.indptr) > 0)
Zn = Z[near]
print("constraints", int(near.sum()), "of", x.size, flush=True)
c = cp.Variable(K * K)
L = np.linalg.cholesky(A + 1e-9 * np.trace(A) / K**2 * np.eye(K * K))
obj = 0.5 * cp.sum_squares(L.T @ c) + b @ c
cons = [Zn @ c >= room_lo[near], Zn @ c <= room_hi[near]]
pr = cp.Problem(cp.Minimize(obj), cons)
pr.solve(solver="CLARABEL", verbose=False)
cv = c.value
dz = Z @ cv
viol = max(np.max(room_lo - dz), np.max(dz - room_hi))
print(f"subQP {time.perf_counter()-t0:.1f} s, status {pr.status}, model decrease {0.5*cv@A@cv + b@cv:.4e}, max |Zc| {np.max(np.abs(dz)):.3f}, violation {viol:.2e}", flush=True)
x1 = np.clip(x + dz, lo, hi)
with blas_threads(1):
    xs1 = report("after subQP", x1)
    if steps:
        for tag, xx in (("plain", xs0), ("subqp", xs1)):
            c0 = time.process_time()
            xo, status, st, info, cert = T._newton(lvl, xx.copy(), tol=1e-8, max_iter=steps, deadline=None, verbose=False, label="t", prob=prob)
            print(tag, status, st, ["%.2e" % h[0] for h in info["history"]], f"cpu {time.process_time()-c0:.1f}", flush=True)
