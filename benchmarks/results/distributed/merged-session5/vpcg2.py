"""The V plane's temporal solve of chunk 1-5 (480p benchmark clip) alone: ru_maxrss around pcg's phases."""
import numpy as np, time, resource
from qpsolve.distributed.clips import moving_scene, quantize
from qpsolve.distributed.temporal import frame_envelopes, solve_temporal_block
from qpsolve.imaging.image import dequantize
import qpsolve.distributed.video as V
import qpsolve.solvers.pcg as pcg
import qpsolve.model.temporal as MT
import qpsolve.distributed.temporal as DT

def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
def cur():
    with open("/proc/self/statm") as f:
        import os
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
def wrap(mod, name):
    f = getattr(mod, name)
    def g(*a, **k):
        b, c0, t = rss(), cur(), time.perf_counter()
        r = f(*a, **k)
        print(f"{mod.__name__}.{name}: {time.perf_counter() - t:.1f} s, peak {b:.0f} -> {rss():.0f} MB, resident {c0:.0f} -> {cur():.0f} MB", flush=True)
        return r
    setattr(mod, name, g)
for n in ("Hierarchy", "SmoothedLevels", "AggregateLevels", "_coarse_problem", "_solve_level", "_active_set_steps", "_solve_chain"):
    wrap(pcg, n)
wrap(pcg, "solve")

t = moving_scene(5, 480, 854, colour=True, speed=2.0); q = quantize(t, 3)
blk = q[2]
opts = {"bc": "even", "adaptive": False}
lo, hi = frame_envelopes(blk, 32, (0, 255), {"bc": "even"})
plates = np.stack([dequantize(f, step=32, data_range=(0, 255), x0=np.ravel(V.plane_start(f, 32, (0, 255), opts)), **opts) for f in blk])
print("before the temporal solve: peak", round(rss()), "MB")
t0 = time.perf_counter()
res = solve_temporal_block(lo, hi, {"bc": "even"}, plates)
print("solver", res.solver, "success", res.success, "seconds", round(time.perf_counter() - t0, 1), "|", res.message)
print("peak after", round(rss()), "MB")
