"""Overhead of the progress hook: camera 512^2, 3 bits, plain plate (adaptive=False), warm process.

python benchmarks/results/dense/progress_overhead_run.py alternate 5   # this tree: no bar / bar, alternating
python benchmarks/results/dense/progress_overhead_run.py plain 5       # any tree (e.g. PYTHONPATH=/work/main)
tqdm's output (stderr) should go to /dev/null or a file.
"""
import hashlib
import os
import resource
import sys
import time

import skimage.data

import qpsolve as qs
from qpsolve.imaging.data import truncate_bits


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run(progress):
    kw = {"progress": True} if progress else {}
    t, c = time.perf_counter(), cpu()
    out, res = qs.dequantize(img, bits=3, adaptive=False, return_result=True, **kw)
    chain = "+".join(h["solver"] if isinstance(h, dict) and "solver" in h else str(h)
                     for h in res.info.get("handovers", [])) or res.solver
    print(f"{'bar ' if progress else 'none'} cpu {cpu() - c:6.2f} s  wall {time.perf_counter() - t:6.2f} s  "
          f"{chain} it {res.iterations}  rel {res.kkt.relative_gap:.2e}  out {hashlib.sha1(out.tobytes()).hexdigest()[:10]}  "
          f"load {os.getloadavg()[0]:.2f}", flush=True)


img = truncate_bits(skimage.data.camera(), 3)
mode, k = sys.argv[1], int(sys.argv[2])
print(qs.__file__, flush=True)
run(False)  # warm-up: numba kernels, the Green's tables
for _ in range(k):
    run(False)
    if mode == "alternate":
        run(True)
