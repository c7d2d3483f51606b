import sys, time, resource, json
import qpsolve as qs
from qpsolve.bench.harness import build_problem
import qpsolve.solvers.tnnmg as T
size, rs = int(sys.argv[1]), float(sys.argv[2])
prob = build_problem("plate-textured", size)
T.RETRY_SHORT = rs
r0 = resource.getrusage(resource.RUSAGE_SELF); t0 = time.perf_counter()
res = qs.solve(prob)
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"size": size, "retry_short": rs, "status": str(res.status), "solver": res.solver, "steps": res.iterations,
                  "wall": round(time.perf_counter() - t0, 2), "cpu": round(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime, 2)}))
