"""Coffee RGB upscaled (bilinear) to H x W x 3, 4 bits, default ``qs.dequantize`` with ``channel_jobs=J``:
``python rgbjobs.py H W J`` prints wall, user and system CPU, peak RSS, minor page faults and each channel's solve time."""
import sys, time, resource
import numpy as np
import skimage.data
from skimage.transform import resize
import qpsolve as qs
from qpsolve.imaging.data import truncate_bits
h, w, jobs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
img = skimage.data.coffee().astype(np.float64)
img = resize(img, (h, w, 3), order=1, anti_aliasing=False, preserve_range=True)
q = truncate_bits(np.clip(np.rint(img), 0, 255).astype(np.uint8), 4)
t = time.perf_counter(); r0 = resource.getrusage(resource.RUSAGE_SELF)
out, res = qs.dequantize(q, bits=4, channel_axis=-1, channel_jobs=jobs, return_result=True)
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(f"jobs {jobs} wall {time.perf_counter() - t:.1f} user {r1.ru_utime - r0.ru_utime:.1f} sys {r1.ru_stime - r0.ru_stime:.1f} "
      f"maxrss {r1.ru_maxrss / 1024:.0f} MB minflt {r1.ru_minflt - r0.ru_minflt} solves {[round(x.solve_time, 1) for x in res]} ok {[x.success for x in res]}")
