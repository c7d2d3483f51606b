"""Peak RSS of one default ``qs.dequantize``: ``python mem_rss.py H W rss`` (coffee's red channel upscaled
to H x W, 4 bits; ``trace`` instead of ``rss`` adds the tracemalloc peak)."""
import sys, time, resource, tracemalloc, linecache
import numpy as np
import skimage.data
from skimage.transform import resize
import qpsolve as qs
from qpsolve.imaging.data import truncate_bits
h, w = int(sys.argv[1]), int(sys.argv[2])
img = skimage.data.coffee()[..., 0].astype(np.float64)
img = resize(img, (h, w), order=1, anti_aliasing=False, preserve_range=True)
img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
q = truncate_bits(img, 4)
mode = sys.argv[3] if len(sys.argv) > 3 else "trace"
if mode == "trace":
    tracemalloc.start(8)
t = time.perf_counter()
out = qs.dequantize(q, bits=4)
print("wall", time.perf_counter() - t, "maxrss MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
if mode == "trace":
    cur, peak = tracemalloc.get_traced_memory()
    print("traced peak MB", peak / 2**20, "pixels", h * w, "B/px", peak / (h * w))
