"""``qs.dequantize(camera, bits=4, tile=64)`` with ``greens.DENSE_TABLE_AFTER`` set to ``argv[1]``.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=$PWD python benchmarks/results/greens/table_after.py 4
"""
import resource, sys, time, hashlib, os
import numpy as np, skimage.data
import qpsolve as qs
from qpsolve.linalg import greens
from qpsolve.imaging.data import truncate_bits
greens.DENSE_TABLE_AFTER = int(sys.argv[1])
img = truncate_bits(skimage.data.camera(), 4)
qs.solve(qs.image_problem(truncate_bits(skimage.data.camera()[-64:, -64:].copy(), 3), bits=3))
r0 = resource.getrusage(resource.RUSAGE_SELF); t0 = time.perf_counter()
out, res = qs.dequantize(img, bits=4, tile=64, return_result=True)
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(f"after={sys.argv[1]}: {r1.ru_utime+r1.ru_stime-r0.ru_utime-r0.ru_stime:.2f} CPU s, {time.perf_counter()-t0:.2f} wall, "
      f"iterations {res.iterations}, certified {res.success}, peak {r1.ru_maxrss/1024:.0f} MB, "
      f"sha1 {hashlib.sha1(np.ascontiguousarray(out).tobytes()).hexdigest()[:12]}, load {os.getloadavg()[0]:.2f}", flush=True)
