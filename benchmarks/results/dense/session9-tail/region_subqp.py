"""Region sub-QP from a saved fine iterate: python proto.py SIZE BITS SNAP FRAC DILATE"""
import sys, time, json
import numpy as np, scipy.sparse as sp, scipy.sparse.linalg as sla
from scipy import ndimage
sys.path.insert(0, "benchmarks/results/dense")
from steps_run import camera_case
import qpsolve.solvers.tnnmg as T
from qpsolve.certificate import certificate

size, bits, snap, frac, dil = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
img, prob = camera_case(size, bits)
lvl = T._Level(prob.lower, prob.upper, prob.q, prob.grid)
ts, lo, hi, q = lvl.ts, prob.lower, prob.upper, prob.q
x = np.load(snap)
for s in range(4): ts.projected_gauss_seidel(x, lo, hi, q, reverse=bool(s % 2))
def gapterm(x):
    g = lvl.gradient(x)
    term = np.where(g > 0, g * (x - lo), np.where(g < 0, g * (x - hi), 0.0))
    term = np.maximum(np.nan_to_num(term), 0)
    gap, E = T._estimate(x, g, lo, hi, q)
    return g, term, gap, E
g, term, gap, E = gapterm(x)
print("start rel gap %.3e E %.10e" % (gap / abs(E), E))
c0 = time.process_time()
# region: pixels by descending term until frac of gap, dilated
o = np.argsort(term)[::-1]
k = int(np.searchsorted(np.cumsum(term[o]), frac * gap)) + 1
mask = np.zeros(x.size, bool); mask[o[:k]] = True
mask = ndimage.binary_dilation(mask.reshape(size, size), iterations=dil).ravel()
idx = np.flatnonzero(mask)
print("seed pixels", k, "region", idx.size)
cols, vals, nnz = ts.rows(idx)
pos = np.full(x.size, -1); pos[idx] = np.arange(idx.size)
r = np.repeat(np.arange(idx.size), nnz)
sel = np.arange(cols.shape[1])[None, :] < nnz[:, None]
cc, vv = cols[sel], vals[sel]
inR = pos[cc] >= 0
A = sp.csr_matrix((vv[inR], (r[inR], pos[cc[inR]])), shape=(idx.size, idx.size))
y = x[idx].copy(); l, u = lo[idx], hi[idx]
c = g[idx] - A @ y
dA = A.diagonal()
t1 = time.process_time(); sg = 1.0
for it in range(30):
    if it > 2 and sg < 1e-13 * 1: break
    mu = A @ y + c
    alo = (mu - dA * (y - l) > 0) & np.isfinite(l)
    ahi = (mu - dA * (y - u) < 0) & np.isfinite(u)
    ahi &= ~alo
    F = ~(alo | ahi)
    yn = y.copy(); yn[alo] = l[alo]; yn[ahi] = u[ahi]
    fi = np.flatnonzero(F)
    AFF = A[fi][:, fi].tocsc()
    rhs = -(c[fi] + A[fi] @ np.where(F, 0.0, yn))
    yn[fi] = sla.spsolve(AFF, rhs, permc_spec="MMD_AT_PLUS_A") if fi.size else yn[fi]
    viol = int(np.sum((yn < l - 1e-12) | (yn > u + 1e-12)))
    same = it > 0 and np.array_equal(alo, palo) and np.array_equal(ahi, pahi)
    palo, pahi = alo, ahi
    y = yn
    yc = np.clip(y, l, u); gg = A @ yc + c
    sg = np.sum(np.maximum(np.nan_to_num(np.where(gg > 0, gg * (yc - l), np.where(gg < 0, gg * (yc - u), 0.0))), 0))
    print(f" subgap {sg/abs(E):.3e}", end="")
    print(f" pdas {it}: lo {alo.sum()} hi {ahi.sum()} viol {viol} cpu {time.process_time()-t1:.1f}", flush=True)
    if same and viol == 0: break
y = np.clip(y, l, u)
xn = x.copy(); xn[idx] = y
g2, term2, gap2, E2 = gapterm(xn)
dist = ndimage.distance_transform_edt(~mask.reshape(size, size)).ravel()
for a, b in [(0, 1), (1, 4), (4, 16), (16, 64), (64, 1e9)]:
    sel2 = (dist > a) & (dist <= b) if a else (dist <= 1) & ~mask
    print(f"  outside at distance ({a},{b}]: pixels {sel2.sum()} share {term2[sel2].sum()/gap2:.3f}")
print("gap shares: seed %.3f region %.3f outside %.3f" % (term2[o[:k]].sum()/gap2, term2[mask].sum()/gap2, term2[~mask].sum()/gap2))
print("after region: rel gap %.3e E %.10e dE %.3e cpu %.1f" % (gap2 / abs(E2), E2, E2 - E, time.process_time() - c0))
for s in range(4): ts.projected_gauss_seidel(xn, lo, hi, q, reverse=bool(s % 2))
g3, term3, gap3, E3 = gapterm(xn)
print("after 4 sweeps: rel gap %.3e E %.10e" % (gap3 / abs(E3), E3))
np.save(snap.replace(".npy", "_region.npy"), xn)
