"""One whole solve with the sweeps on 1 or 2 threads (issue #18 / #20, session 9 "wave").

    python benchmarks/results/dense/session9-wave/solve_run.py THREADS camera SIZE BITS
    python benchmarks/results/dense/session9-wave/solve_run.py THREADS plate SIZE

``camera``: ``tnnmg`` on camera at ``SIZE^2`` truncated to ``BITS`` (as ``steps_run.py``); ``plate``:
issue #20's textured plate as a plain matrix through ``qs.solve`` (as
``session8-coordinator/retry_short_run.py`` with its default ``RETRY_SHORT``).  Prints one JSON
line: load before and after, CPU and wall seconds, the CPU seconds every other process used meanwhile
(from ``/proc/stat``: the other helper's load, on this shared machine), Newton steps, E (repr), and what the wavefront
did (:data:`qpsolve.linalg.wavefront.STATS`).
"""
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import qpsolve as qs  # noqa: E402
from qpsolve.linalg import wavefront  # noqa: E402


def busy():
    """CPU seconds all processes of the machine have used (``/proc/stat``)."""
    with open("/proc/stat") as f:
        v = [int(t) for t in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait


def main():
    k, case = int(sys.argv[1]), sys.argv[2]
    wavefront.set_sweep_threads(k)
    if case == "camera":
        from steps_run import camera_case
        size, bits = int(sys.argv[3]), int(sys.argv[4])
        prob = camera_case(size, bits)[1]
        kw = {"solver": "tnnmg"}
    else:
        from qpsolve.bench.harness import build_problem
        size, bits = int(sys.argv[3]), None
        prob = build_problem("plate-textured", size)
        kw = {}
    load0 = os.getloadavg()[0]
    b0 = busy()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    res = qs.solve(prob, **kw)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
    others = busy() - b0 - cpu
    lv = res.info.get("levels", [])
    print(json.dumps({"threads": k, "case": case, "size": size, "bits": bits, "status": str(res.status),
                      "solver": res.solver, "steps": res.iterations,
                      "fine": [lv[-1]["steps"], lv[-1]["cg"]] if lv else None,
                      "cpu": round(cpu, 2), "wall": round(wall, 2), "others_cpu": round(others, 2),
                      "E": repr(res.objective), "wave": dict(wavefront.STATS),
                      "load": [round(load0, 2), round(os.getloadavg()[0], 2)],
                      "utc": time.strftime("%H:%M:%S", time.gmtime())}), flush=True)


if __name__ == "__main__":
    main()
