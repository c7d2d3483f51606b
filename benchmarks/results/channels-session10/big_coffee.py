import sys, time, resource, json, os
import numpy as np, skimage.data
from skimage.transform import resize
import qpsolve as qs
from qpsolve.imaging.data import truncate_bits
jobs=int(sys.argv[1])
img=resize(skimage.data.coffee().astype(float),(933,1400),order=1,anti_aliasing=False,preserve_range=True)
q=truncate_bits(np.clip(np.rint(img),0,255).astype(np.uint8),4)
t0=time.perf_counter()
out,res=qs.dequantize(q,bits=4,channel_axis=-1,channel_jobs=jobs,return_result=True)
w=time.perf_counter()-t0
r=resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"jobs":jobs,"wall":round(w,2),"cpu":round(r.ru_utime+r.ru_stime,2),"peak_mb":round(r.ru_maxrss/1024),"certified":all(x.success for x in res),"load":os.getloadavg()[0]}))
