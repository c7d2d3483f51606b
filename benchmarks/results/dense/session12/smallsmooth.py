import time, sys, numpy as np, qpsolve as qs
from qpsolve.bench.harness import build_problem
qs.solve(build_problem("gaussian2", 64), solver="tnnmg"); qs.solve(build_problem("gaussian2", 64))
for name in ["gaussian2", "rosenbrock2"]:
  for n in [32, 48, 64, 96, 128]:
    try:
        prob = build_problem(name, n)
    except Exception as e:
        print(name, n, "skip", e); continue
    out=[]
    for s in ("auto","pdas","tnnmg"):
        ts=[]
        for _ in range(3):
            t=time.perf_counter(); r=qs.solve(prob, solver=s) if s!="pdas" else qs.solve(prob, solver="pdas", coarse_to_fine=True); ts.append(time.perf_counter()-t)
        chain = r.solver + ("->"+r.info["fallback"]["solver"] if isinstance(r.info.get("fallback"),dict) else "")
        out.append(f"{s}: {np.median(ts)*1000:.0f} ms {r.status} {chain}")
    print(name, n, " | ".join(out))
