"""Tail from a saved fine iterate: python tail.py SIZE BITS SNAP.npy STEPS KNOBS_JSON"""
import sys, json, time, resource
import numpy as np
sys.path.insert(0, "benchmarks/results/dense")
from steps_run import camera_case, set_knobs
import qpsolve.solvers.tnnmg as T
from qpsolve.linalg.threads import blas_threads
size, bits, snap, K = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
opts = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
img, prob = camera_case(size, bits)
set_knobs(opts, T)
x = np.load(snap)
lvl = T._Level(prob.lower, prob.upper, prob.q, prob.grid)
c0 = time.process_time(); w0 = time.perf_counter()
with blas_threads(1):
    x, status, steps, info, cert = T._newton(lvl, x, tol=1e-8, max_iter=K, deadline=None, verbose=True,
                                             label="tail", prob=prob)
print(json.dumps({"opts": opts, "snap": snap, "status": status, "steps": steps, "cg": info["cg"],
                  "gaps": ["%.3g" % h[0] for h in info["history"]], "ts": [h[3] for h in info["history"]],
                  "cpu": round(time.process_time() - c0, 1), "wall": round(time.perf_counter() - w0, 1)}), flush=True)
