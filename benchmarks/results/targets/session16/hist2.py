import sys, time, json
import qpsolve as qs
from qpsolve.bench.problems import build_problem
n = int(sys.argv[1])
prob = build_problem("gaussian2", n)
for k in range(int(sys.argv[2])):
    t=time.perf_counter()
    r = qs.solve(prob, solver="pdas")
    tot=time.perf_counter()-t
    levs = r.info["levels"]
    s = sum(l["seconds"] for l in levs)
    print(n, "total", round(tot,3), "levels", round(s,3), "rest", round(tot-s,3))
    for l in levs:
        h = l.get("history", [])
        print("  n=%d %s it=%d act=%d %.3f s  per-it: %s" % (l["n"], l["solver"], l["iterations"], l["active"], l["seconds"], " ".join("%.3f" % x["seconds"] for x in h)))
