"""What is alive at the peak of one default ``qs.dequantize`` of a large grayscale photograph, by allocation site.

``python memsnap.py H W``: coffee's red channel upscaled (bilinear) to H x W, 4 bits.  A thread samples
tracemalloc every 50 ms and keeps the snapshot of the largest traced total; prints the traced peak in bytes
per pixel and the sites holding at least 2 B/px then (innermost qpsolve frames first).
"""
import sys, time, threading, tracemalloc
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
qs.dequantize(q[:64, :64], bits=4)  # compile/warm
tracemalloc.start(12)
best = [0, None]
stop = False
def poll():
    while not stop:
        cur, peak = tracemalloc.get_traced_memory()
        if cur > best[0]:
            best[0] = cur
            best[1] = tracemalloc.take_snapshot()
        time.sleep(0.05)
th = threading.Thread(target=poll); th.start()
out = qs.dequantize(q, bits=4)
stop = True; th.join()
cur, peak = tracemalloc.get_traced_memory()
print("peak MB", peak / 2**20, "snap MB", best[0] / 2**20, "B/px peak", peak / (h * w))
snap = best[1]
for stat in [s for s in snap.statistics("traceback") if s.size/(h*w) >= 2][:60]:
    print(f"{stat.size/2**20:8.1f} MB  {stat.size/(h*w):6.1f} B/px  count {stat.count}")
    for fr in stat.traceback.format()[-12:]:
        if "qpsolve" in fr or "File" not in fr:
            pass
    frames = [f"{fr.filename.split('/work/main/')[-1]}:{fr.lineno}" for fr in stat.traceback if "qpsolve" in fr.filename]
    print("     ", " <- ".join(frames[::-1][:5]))
