import os, sys, time, resource
import numpy as np
import qpsolve as qs
from qpsolve.bench.matrix_problems import build_matrix_problem
from qpsolve.linalg import gridmg as g
orig = g._coarsening_plan
which = sys.argv[1]  # "trunc": semi only in truncated; "mono": only in monotone; "both"; "none"
def plan(fine, order, monotone=False):
    use = which == "both" or (which == "trunc" and not monotone) or (which == "mono" and monotone)
    if use:
        return orig(fine, order, monotone)
    saved = g.ANISO; g.ANISO = 1e300
    try:
        fine.__dict__.pop("_plans", None)
        p = orig(fine, order, monotone)
        fine.__dict__.pop("_plans", None)
        return p
    finally:
        g.ANISO = saved
g._coarsening_plan = plan
if len(sys.argv) > 3: g.ANISO = float(sys.argv[3])
qs.solve(build_matrix_problem("plate-aniso", 64))
for S in [int(a) for a in sys.argv[2].split(",")]:
    prob = build_matrix_problem("plate-aniso", S)
    c0 = resource.getrusage(resource.RUSAGE_SELF)
    res = qs.solve(prob, solver="auto")
    c1 = resource.getrusage(resource.RUSAGE_SELF)
    lv = res.info["levels"]
    h = lv[-1]["history"]
    print(which, S, g.ANISO, res.status, "cpu %.2f" % (c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime), [l["steps"] for l in lv],
          "cg", lv[-1]["cg"], "load %.2f" % os.getloadavg()[0], flush=True)
    if os.environ.get("HIST"):
        for k, row in enumerate(h): print("  ", k, row)
