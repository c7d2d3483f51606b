"""Warm CPU seconds of ``find_lattice`` and ``stencil_array`` on issue #20's textured plate.

``PYTHONPATH=<tree> python detect_time.py SIZE [REPS]``: calls both on a 64 x 64 plate first (numba import
and cache load; printed as ``warm-up``), then on ``plate-textured`` at SIZE once (``first``: the case of a
solve, which calls each once on fresh memory) and REPS (default 5) more times; prints the medians
(CPU = user + system of this process).
"""
import os
import resource
import statistics
import sys
import time

import qpsolve.linalg.lattice as L
from qpsolve.bench.matrix_problems import build_matrix_problem


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


size = int(sys.argv[1])
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
P = build_matrix_problem("plate-textured", size).P
P64 = build_matrix_problem("plate-textured", 64).P
c0 = cpu()
L.find_lattice(P64)
L.stencil_array(P64, (64, 64), 2)
warm = cpu() - c0
out = [f"{size} {os.path.dirname(L.__file__)} nnz {P.nnz}; warm-up (64 x 64) cpu {warm:.3f}"]
for name, call in [("find_lattice", lambda: L.find_lattice(P)),
                   ("stencil_array", lambda: L.stencil_array(P, (size, size), 2))]:
    c0, w0 = cpu(), time.perf_counter()
    res = call()
    first = (cpu() - c0, time.perf_counter() - w0)
    cs, ws = [], []
    for _ in range(reps):
        c0, w0 = cpu(), time.perf_counter()
        call()
        cs.append(cpu() - c0)
        ws.append(time.perf_counter() - w0)
    out.append(f"{name} first cpu {first[0]:.3f} wall {first[1]:.3f}; median of {reps} cpu "
               f"{statistics.median(cs):.3f} wall {statistics.median(ws):.3f} (min {min(cs):.3f} max {max(cs):.3f})")
    if name == "find_lattice":
        out[-1] += f" -> {res[0]}"
out.append(f"load {os.getloadavg()[0]:.2f}")
print("\n  ".join(out), flush=True)
