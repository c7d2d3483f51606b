import sys, time, resource, numpy as np, skimage.data
import qpsolve as qs
from qpsolve.imaging.data import truncate_bits
bits = int(sys.argv[1]); mode = sys.argv[2]
img = truncate_bits(skimage.data.coffee(), bits)
qs.dequantize(truncate_bits(skimage.data.camera()[:64,:64], 3), bits=3)  # warm
r0 = resource.getrusage(resource.RUSAGE_SELF); t0 = time.perf_counter()
if mode == "seq":
    out, res = qs.dequantize(img, bits=bits, channel_axis=-1, return_result=True)
else:
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(2) as ex:
        futs = [ex.submit(qs.dequantize, img[..., c], bits=bits, return_result=True) for c in range(3)]
        rr = [f.result() for f in futs]
    out = np.stack([o for o, _ in rr], -1); res = [r for _, r in rr]
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(mode, bits, "wall %.2f cpu %.2f" % (time.perf_counter() - t0, r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime),
      [str(r.status) for r in res], float(np.abs(out.astype(float)).sum()))
