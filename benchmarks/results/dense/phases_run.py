"""Per-phase CPU seconds of one case in a fresh process (notes.md, session 7): ``python benchmarks/results/dense/phases_run.py CASE``
(CASE: camera-3, camera-4-default, coffee-3-default, ...). Prints one JSON line: process start + imports, the photo
pipeline, `pdas`'s measuring (the coarse solve nested in it included), `tnnmg`, the registry's finalize (certificate),
the blend, the rest of the call, and the route (levels) of every channel."""
import resource, sys, time, json
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
c_start = cpu()
import numpy as np
import qpsolve as qs
from qpsolve.imaging import photo
from qpsolve.imaging.data import truncate_bits
import qpsolve.solvers as reg
from qpsolve.solvers import pdas, tnnmg
import skimage.data
c_import = cpu()
acc = {}
depth = {"n": 0}
def wrap(mod, attr, key):
    f = getattr(mod, attr)
    def g(*a, **k):
        outer = depth["n"] == 0
        depth["n"] += 1
        t = cpu()
        try:
            return f(*a, **k)
        finally:
            depth["n"] -= 1
            if outer:
                acc[key] = acc.get(key, 0.0) + cpu() - t
    setattr(mod, attr, g)
wrap(photo, "_channel_problem", "pipeline")
wrap(photo, "_blend", "blend")
wrap(pdas, "solve", "probe (pdas)")
wrap(tnnmg, "solve", "tnnmg")
wrap(reg, "finalize", "finalize (certificate)")
case = sys.argv[1]
name, bits = case.split("-")[:2]; bits = int(bits)
q = truncate_bits(getattr(skimage.data, name)(), bits)
c0 = cpu(); w0 = time.perf_counter()
if case.endswith("default"):
    extra = {"channel_axis": -1} if q.ndim == 3 else {}
    _, res = qs.dequantize(q, bits=bits, return_result=True, **extra)
else:
    res = [qs.solve(qs.image_problem(q, bits=bits))]
res = res if isinstance(res, list) else [res]
c1 = cpu()
acc["call total"] = c1 - c0
acc["process start + imports"] = c_import - c_start
acc["other in call"] = acc["call total"] - sum(v for k, v in acc.items() if k not in ("call total", "process start + imports"))
acc["wall (call)"] = time.perf_counter() - w0
acc["steps"] = [[l.get("steps") for l in r.info["levels"]] if "fallback" not in r.info else r.info["fallback"]["iterations"] for r in res]
acc["certified"] = all(r.success for r in res)
acc["route"] = [[(l.get("n"), l.get("solver"), l.get("status")) for l in r.info["levels"]] for r in res]
print(json.dumps(acc))
