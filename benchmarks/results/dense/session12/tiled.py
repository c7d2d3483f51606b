import time, sys, resource, numpy as np, skimage.data, qpsolve as qs
from qpsolve.imaging.data import truncate_bits
from skimage.metrics import peak_signal_noise_ratio as _p
psnr=lambda a,b: _p(a,b,data_range=255)
bits=int(sys.argv[1]); solver=sys.argv[2]; name=sys.argv[3] if len(sys.argv)>3 else "camera"
img=getattr(skimage.data,name)()
q=truncate_bits(img,bits)
kw={"channel_axis":-1} if q.ndim==3 else {}
r0=resource.getrusage(resource.RUSAGE_SELF); t0=time.perf_counter()
out,res=qs.dequantize(q,bits=bits,tile=64,solver=solver,return_result=True,**kw)
wall=time.perf_counter()-t0; r1=resource.getrusage(resource.RUSAGE_SELF)
cpu=r1.ru_utime+r1.ru_stime-r0.ru_utime-r0.ru_stime
res = res if isinstance(res,list) else [res]
from collections import Counter
print(name,bits,solver,f"wall {wall:.1f} cpu {cpu:.1f} peak {r1.ru_maxrss/1024:.0f} MB", [str(r.status) for r in res], f"psnr {psnr(img.astype(float),out):.3f}")
for r in res:
    print(" ", {k: v for k, v in r.info.items() if k in ("tiles","solvers","tile_solvers")})
np.save(f"benchmarks/results/dense/session12/tiled_{name}{bits}_{solver}.npy", out)
