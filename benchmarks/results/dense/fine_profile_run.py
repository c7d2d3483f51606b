"""cProfile of the fine level's Newton loop only: ``python fine_profile_run.py S BITS [KNOBS_JSON [SORT [N]]]``.

Wraps ``tnnmg._newton`` so the profiler (on the process's CPU clock) runs only while the fine level
iterates; prints the CPU seconds per level of the coarse-to-fine chain, the steps and CG iterations,
the energy, and the N (default 30) most expensive functions sorted by SORT (default ``tottime``).
The session-6 table of notes.md ("Where a fine step goes") came from ``512 3 '{}' cumtime 40``.
Profile with ``QPSOLVE_THREADS=1``: kernels on pool threads are not seen by cProfile.
"""
import sys, time, json, cProfile, pstats, os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qpsolve as qs
from qpsolve.imaging.data import truncate_bits
from steps_run import camera_case, set_knobs
import qpsolve.solvers.tnnmg as T, qpsolve.linalg.gridmg as G
size, bits = int(sys.argv[1]), int(sys.argv[2])
opts = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
set_knobs(opts, T, G)
img, prob = camera_case(size, bits)
qs.solve(qs.image_problem(truncate_bits(img[:64,:64].copy(), bits), bits=bits), solver="tnnmg")
pr = cProfile.Profile(time.process_time)
orig = T._newton
cpu = {}
def wrapped(level, x, **kw):
    fine = kw.get("prob") is not None
    t0 = time.process_time()
    if fine: pr.enable()
    out = orig(level, x, **kw)
    if fine: pr.disable()
    cpu[level.n] = time.process_time() - t0
    return out
T._newton = wrapped
t0=time.process_time()
res = qs.solve(prob, solver="tnnmg")
print("cpu", round(time.process_time()-t0,2), "per level", {k: round(v,2) for k,v in cpu.items()}, [(l["n"], l["steps"], l["cg"]) for l in res.info["levels"]], "E", repr(res.objective))
s = pstats.Stats(pr); s.sort_stats(sys.argv[4] if len(sys.argv) > 4 else "tottime").print_stats(int(sys.argv[5]) if len(sys.argv) > 5 else 30)
