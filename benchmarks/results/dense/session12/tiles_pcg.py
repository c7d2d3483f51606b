import time, sys, numpy as np, skimage.data, qpsolve as qs
from qpsolve.imaging.data import truncate_bits
bits=int(sys.argv[1]); T=64
q=truncate_bits(skimage.data.camera(),bits)
qs.solve(qs.image_problem(q[T:2*T,:T],bits=bits),solver="pcg")
tot={}; worst={}
for s in ("pcg","tnnmg"):
    tot[s]=0; worst[s]=0
    for i in range(0,512,T):
        for j in range(0,512,T):
            p=qs.image_problem(q[i:i+T,j:j+T],bits=bits)
            t0=time.process_time(); r=qs.solve(p,solver=s); dt=time.process_time()-t0
            tot[s]+=dt; worst[s]=max(worst[s],dt)
            if str(r.status)!="optimal": print("not optimal",s,i,j,r.status)
print(bits, tot, worst)
