"""One 480p temporal chunk (frames 1-5 of the benchmark clip, 3 bits, speed 2) solved alone by solve_chunk,
in this fresh process; prints ru_maxrss after each phase (plates, weights, spacetime solve, blend)."""
import os, resource, sys, time, json
import numpy as np

adaptive = sys.argv[1] == "adaptive"
trace = "trace" in sys.argv[2:]
if trace:
    import tracemalloc; tracemalloc.start()

import qpsolve
import qpsolve.distributed.video as V
import qpsolve.imaging.image as I
from qpsolve.distributed.clips import moving_scene, quantize

def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
def cur():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

log = []
def wrap(mod, name, label):
    f = getattr(mod, name)
    def g(*a, **k):
        t = time.perf_counter(); before = rss(); c0 = cur()
        if trace: tracemalloc.reset_peak()
        r = f(*a, **k)
        e = {"phase": label, "s": round(time.perf_counter() - t, 2), "maxrss_before": round(before), "maxrss_after": round(rss()),
             "rss_now_before": round(c0), "rss_now_after": round(cur())}
        if hasattr(r, "solver"):
            e["solver"] = r.solver; e["shape"] = list(a[0].shape)
            from qpsolve.distributed.temporal import start_contacts
            e["start_contacts"] = start_contacts(a[3] if len(a) > 3 else k.get("x0"), a[0], a[1])
        if trace: e["tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20)
        log.append(e)
        return r
    setattr(mod, name, g)

wrap(V, "solve_temporal_block", "temporal solve")
wrap(I, "dequantize", "2-D dequantize (plates)")
if hasattr(V, "chunk_blend_weights"):
    wrap(V, "chunk_blend_weights", "chunk blend weights")
if hasattr(V, "frame_blend_weights"):
    wrap(V, "frame_blend_weights", "frame blend weights")
wrap(V, "blend", "blend")

# `frames=A:B` (e.g. frames=4:8, the benchmark's second chunk, frames 5-8): that slice of the 8-frame clip
span = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("frames=")), None)
if span is None:
    truth = moving_scene(5, 480, 854, colour=True, speed=2.0)
else:
    a, b = (int(v) for v in span.split(":"))
    truth = [p[a:b] for p in moving_scene(8, 480, 854, colour=True, speed=2.0)]
q = quantize(truth, 3)
print("code", qpsolve.__file__, "adaptive", adaptive, "maxrss at start MB", round(rss()), flush=True)
opts = dict(V.TEMPORAL_DEFAULTS)
if not adaptive:
    opts["adaptive"] = False
t0 = time.perf_counter()
outs, info = V.solve_chunk([np.asarray(p) for p in q], 32, (0, 255), True, opts, True)
print("certified", info["certified"], "seconds", round(time.perf_counter() - t0, 1), "peak_rss_mb (as the report)", round(info["peak_rss_mb"]))
for e in log:
    if e["phase"] != "2-D dequantize (plates)" or e["maxrss_after"] > e["maxrss_before"] + 20:
        print(json.dumps(e))
print("solves", [(s["plane"], s["shape"], round(s["seconds"], 1)) for s in info["solves"]])
