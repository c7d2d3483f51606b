"""Grouped CPU profile of one tnnmg solve on camera S^2: ``python profile_run.py S BITS [KNOBS_JSON]``.

KNOBS_JSON sets constants of qpsolve.solvers.tnnmg or qpsolve.linalg.gridmg.  cProfile runs on
``time.process_time`` (CPU of the whole process); kernels run on pool threads are not seen by it, so
profile with ``QPSOLVE_THREADS=1``.
"""
import sys, time, resource, json, cProfile, pstats, io, os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qpsolve as qs
from qpsolve.imaging.data import truncate_bits
from steps_run import camera_case, set_knobs
size, bits = int(sys.argv[1]), int(sys.argv[2])
opts = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
img, prob = camera_case(size, bits)
import qpsolve.solvers.tnnmg as T, qpsolve.linalg.gridmg as G
set_knobs(opts, T, G)
qs.solve(qs.image_problem(truncate_bits(img[:64,:64].copy(), bits), bits=bits), solver="tnnmg")
pr = cProfile.Profile(time.process_time)
r0 = resource.getrusage(resource.RUSAGE_SELF); t0 = time.perf_counter(); l0 = os.getloadavg()[0]
pr.enable()
res = qs.solve(prob, solver="tnnmg")
pr.disable()
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
wall = time.perf_counter()-t0
lv = res.info.get("levels", [])
print(json.dumps({"size": size, "bits": bits, "opts": opts, "status": str(res.status), "cpu": round(cpu, 2), "wall": round(wall, 2), "load": [round(l0,1), round(os.getloadavg()[0],1)],
  "levels": [(l["n"], l["steps"], l["cg"], round(l["seconds"],2)) for l in lv]}))
st = pstats.Stats(pr).stats
groups = {  # kernel names before (039bd12) and after session 5's row-range kernels
 "projected GS, fine (Newton sweeps + monotone smoothing)": ["_fine_pgs", "_fine_pgs_rows"],
 "GS, fine (V-cycle smoothing in PCG)": ["_fine_gs", "_fine_gs_rows"],
 "GS, coarse levels (V-cycle)": ["_var_gs", "_var_gs_rows"],
 "projected GS, coarse levels (monotone V-cycle)": ["_var_pgs", "_var_pgs_rows"],
 "operator products, fine": ["_fine_matvec", "_fine_matvec_rows"],
 "operator products, coarse": ["_var_matvec", "_var_matvec_rows"],
 "Galerkin incremental updates": ["_fine_galerkin_delta", "_var_galerkin_delta", "_apply_delta"],
 "Galerkin rebuilds": ["_fine_galerkin", "_var_galerkin", "_fine_rows", "_var_rows"],
 "transfers (restrict, prolong, obstacles)": ["_restrict", "_prolong_add", "_restrict_obstacles", "_prolong_add_rows",
     "_restrict_gather_rows", "_obstacle_columns_rows", "_obstacle_by_rows", "_restrict2",
     "_prolong_add_rows2"],
 "coarsest dense Cholesky": ["_coarsest"],
 "certificate": ["certificate"],
}
tot = {}
for (f, l, name), (cc, nc, tt, ct, callers) in st.items():
    for g, names in groups.items():
        if name in names and ("gridmg" in f or "galerkin" in f or "certificate" in f):
            key = g
            val = ct if name in ("_coarsest", "certificate") else tt
            tot[key] = tot.get(key, 0.0) + val
            break
print("profile cpu", round(cpu, 2))
for g in groups:
    print(f"| {g} | {tot.get(g,0):.2f} | {100*tot.get(g,0)/cpu:.0f} % |")
print(f"| rest (numpy vector work, line search and estimate arithmetic, Python) | {cpu-sum(tot.values()):.2f} | {100*(cpu-sum(tot.values()))/cpu:.0f} % |")
