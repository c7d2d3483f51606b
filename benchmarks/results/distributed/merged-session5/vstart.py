"""The V plane of chunk 1-5: is its start (the frames' 2-D plates) already certified optimal?"""
import numpy as np, time, resource
from qpsolve.distributed.clips import moving_scene, quantize
from qpsolve.distributed.temporal import frame_envelopes
from qpsolve.imaging.image import dequantize
from qpsolve.model.temporal import temporal_energy, temporal_continuity
from qpsolve.problem import BoxQP
from qpsolve.certificate import certificate
import qpsolve.distributed.video as V
import inspect
t = moving_scene(5, 480, 854, colour=True, speed=2.0); q = quantize(t, 3)
blk = q[2]
opts = {"bc": "even", "adaptive": False}
lo, hi = frame_envelopes(blk, 32, (0, 255), {"bc": "even"})
plates = np.stack([dequantize(f, step=32, data_range=(0, 255), x0=np.ravel(V.plane_start(f, 32, (0, 255), opts)), **opts) for f in blk])
print("plates: min/max", plates.min(), plates.max())
keep = temporal_continuity(lo, hi, 1)
P = temporal_energy(lo.shape, "biharmonic", "even", weight=0.1, keep=keep)
x = plates.ravel()
print("energy 0.5 x'Px =", 0.5 * x @ (P @ x), "P nnz", P.nnz, "CSR MB", round((P.data.nbytes + P.indices.nbytes + P.indptr.nbytes) / 2**20))
print(inspect.signature(certificate))
prob = BoxQP(P, lo.ravel(), hi.ravel())
c = certificate(prob, x)
print("start certificate: optimal", c.optimal, "gap", c.gap, "objective", c.objective)
print("plates exactly 128:", bool(np.all(plates == 128.0)), "max |x-128|", float(np.max(np.abs(x - 128))))
print("maxrss MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
