# channel 0 of the 12-Mpx CLI case (coffee upscaled to 3000x4000, 4 bits), default dequantize, verbose
import sys, time, resource, numpy as np, skimage.data
from skimage.transform import resize
import qpsolve as qs
from qpsolve.imaging.data import truncate_bits
img = skimage.data.coffee().astype(np.float64)
big = resize(img, (3000, 4000, 3), order=1, anti_aliasing=False, preserve_range=True)
q = truncate_bits(np.clip(np.rint(big), 0, 255).astype(np.uint8), 4)[..., 0]
t0 = time.perf_counter()
out, res = qs.dequantize(q, bits=4, return_result=True, verbose=True, time_limit=float(sys.argv[1]))
r = resource.getrusage(resource.RUSAGE_SELF)
print("DONE", res.status, res.success, "wall %.1f" % (time.perf_counter() - t0), "cpu %.1f" % (r.ru_utime + r.ru_stime),
      "maxrss MB %.0f" % (r.ru_maxrss / 1024), res.iterations, res.info.get("fallback"), flush=True)
for l in res.info.get("levels", []):
    print(l.get("n"), l.get("steps"), l.get("seconds"))
