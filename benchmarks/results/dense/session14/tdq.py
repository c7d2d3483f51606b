"""Per-tile routes and times of ``qs.dequantize(q, bits=B, tile=64)`` (session 14, docs/dense-contacts.md).

``python tdq.py PHOTO BITS OUT.json CHANNEL`` with the code to test on ``PYTHONPATH`` writes, per tile, its
slices, seconds, backend chain, projected Newton's statuses and iterations; run it on two checkouts and
compare the JSON files tile by tile (same chain and iterations: the same arithmetic).
"""
import sys, time, json, numpy as np, qpsolve as qs, skimage.data
from qpsolve.imaging import tiles
from qpsolve.imaging.data import truncate_bits
rec = []
orig = tiles._tile_task
def task(t, how):
    t0 = time.perf_counter(); out = orig(t, how); dt = time.perf_counter() - t0
    sl, res = out
    chain = "->".join(h['solver'] for h in res.info.get('handovers', [])) or res.solver
    pn = [lv['status'] for lv in res.info.get('levels', []) if lv.get('solver') == 'projected-newton']
    rec.append((str(sl), dt, chain, pn, res.iterations))
    return out
tiles._tile_task = task
name, bits = sys.argv[1], int(sys.argv[2])
img = getattr(skimage.data, name)()
q = truncate_bits(img, bits)
if q.ndim == 3: q = q[..., int(sys.argv[4])]
t = time.perf_counter(); qs.dequantize(q, bits=bits, tile=64); t = time.perf_counter() - t
json.dump(rec, open(sys.argv[3], "w")); print(round(t, 2), len(rec), round(sum(r[1] for r in rec), 2))
