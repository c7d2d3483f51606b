import time, sys, numpy as np, scipy.sparse as sp
from qpsolve.bench.matrix_problems import build_matrix_problem
from qpsolve.linalg import lattice as L
def T(label, f, *a):
    c0, w0 = time.process_time(), time.perf_counter(); r = f(*a); print(f"  {label}: cpu {time.process_time()-c0:.3f} wall {time.perf_counter()-w0:.3f}", flush=True); return r
for size in [int(s) for s in sys.argv[1:]]:
    prob = build_matrix_problem("plate-textured", size)
    P = sp.csr_matrix(prob.P)
    print(size, P.nnz, P.has_canonical_format, P.indices.dtype)
    rows, cols = T("entries", L._entries, P)
    offs = T("offsets", L._offsets, rows, cols)
    lat, why = T("find_lattice", L.find_lattice, P)
    R = T("radius", L._radius, rows, cols, lat.shape[1])
    A = T("stencil_array", L.stencil_array, P, lat.shape, lat.radius)
    T("split", L._split, cols - rows, lat.shape[1])
