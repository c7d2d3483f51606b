"""Run camera SIZE^2 BITS with tnnmg (verbose), saving the fine iterate (after the sweeps) at given steps."""
import sys, json, resource, time, os
import numpy as np
sys.path.insert(0, "benchmarks/results/dense")
from steps_run import camera_case, set_knobs
import qpsolve as qs, qpsolve.solvers.tnnmg as T
size, bits = int(sys.argv[1]), int(sys.argv[2])
opts = json.loads(sys.argv[3]); tl = float(sys.argv[4]); save = set(int(s) for s in sys.argv[5].split(","))
out = sys.argv[6]
img, prob = camera_case(size, bits)
set_knobs(opts, T)
count = [0]
orig = T._estimate
t0 = time.perf_counter()
def est(x, g, lo, hi, q):
    if x.size == prob.n:
        count[0] += 1
        if count[0] in save:
            np.save(f"{out}_step{count[0]}.npy", x)
        print(f"  [fine step {count[0]} at {time.perf_counter()-t0:.0f} s wall, cpu {time.process_time():.0f}]", flush=True)
    return orig(x, g, lo, hi, q)
T._estimate = est
r0 = resource.getrusage(resource.RUSAGE_SELF)
res = qs.solve(prob, solver="tnnmg", time_limit=tl, verbose=True)
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
lv = res.info.get("levels", [])
print(json.dumps({"size": size, "bits": bits, "opts": opts, "status": str(res.status), "cpu": round(cpu, 2),
                  "wall": round(time.perf_counter() - t0, 2), "maxrss_MB": r1.ru_maxrss // 1024,
                  "levels": [(l["n"], l["steps"], l["cg"]) for l in lv], "E": res.objective}), flush=True)
