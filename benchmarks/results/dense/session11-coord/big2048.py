import sys, time, resource, json
sys.path.insert(0, "benchmarks/results/dense")
from steps_run import camera_case
import qpsolve as qs
size, bits, tl = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
img, prob = camera_case(size, bits)
r0 = resource.getrusage(resource.RUSAGE_SELF); t0 = time.perf_counter()
res = qs.solve(prob, solver="tnnmg", time_limit=tl, verbose=True)
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"size": size, "bits": bits, "status": str(res.status), "wall": time.perf_counter() - t0,
                  "cpu": r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime, "peak_mb": r1.ru_maxrss / 1024,
                  "rel_gap": float(res.kkt.relative_gap),
                  "levels": [(l["n"], l["steps"], l["cg"], round(l["seconds"], 1)) for l in res.info.get("levels", [])]}))
