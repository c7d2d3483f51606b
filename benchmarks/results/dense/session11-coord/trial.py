"""Experiment: smooth the clipped trial point with a few projected GS sweeps before its energy is judged."""
import time, sys, json, os
import numpy as np
import qpsolve as qs
from qpsolve.solvers import tnnmg

case = sys.argv[1]; S = int(sys.argv[2]); NL = int(sys.argv[3]) if len(sys.argv) > 3 else 4
tnnmg.NONLINEAR_SWEEPS = NL
orig_trial = tnnmg._trial
stats = {"trials": 0, "acc_t": [], "search": 0}
def _trial(level, x, d, t, g, E0):
    lo, hi, q = level.lower, level.upper, level.q
    xt = np.clip(x + t * d, lo, hi)
    for s in range(S):
        level.ts.projected_gauss_seidel(xt, lo, hi, q, reverse=bool(s % 2))
    gt = level.gradient(xt)
    Et = float(0.5 * xt @ (gt - q) + q @ xt)
    stats["trials"] += 1
    return xt, Et, Et <= E0 + 1e-4 * float(g @ (xt - x))
tnnmg._trial = _trial
if case.startswith("camera"):
    import skimage.data
    from qpsolve.imaging.data import truncate_bits
    bits = int(case.split("-")[1])
    qq = truncate_bits(skimage.data.camera(), bits)
    prob = qs.image_problem(qq, bits=bits)
    warm = qs.image_problem(qq[:64, :64], bits=bits)
else:
    from qpsolve.bench.matrix_problems import build_matrix_problem
    size = int(case.split("-")[1])
    prob = build_matrix_problem("plate-textured", size)
    warm = build_matrix_problem("plate-textured", 64)
qs.solve(warm, solver="tnnmg")
c0 = time.process_time(); t0 = time.perf_counter()
r = qs.solve(prob, solver="tnnmg")
wall = time.perf_counter() - t0; cpu = time.process_time() - c0
fine = r.info["levels"][-1]
hist = fine["history"]
print(json.dumps({"case": case, "S": S, "NL": NL, "status": str(r.status), "wall": round(wall, 2), "cpu": round(cpu, 2),
                  "steps": fine["steps"], "cg": fine["cg"], "t": [h[3] for h in hist], "gap": [f"{h[0]:.1e}" for h in hist],
                  "E": float(r.objective) if hasattr(r, "objective") else None}))
