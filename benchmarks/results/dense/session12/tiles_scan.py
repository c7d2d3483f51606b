import time, sys, json, numpy as np, skimage.data, qpsolve as qs
from qpsolve.imaging.data import truncate_bits
name=sys.argv[1]; bits=int(sys.argv[2]); T=int(sys.argv[3]) if len(sys.argv)>3 else 64
if name=="gaussian":
    n=512; yy,xx=np.mgrid[0:n,0:n]/n
    img=(255*np.exp(-((xx-.5)**2+(yy-.5)**2)/0.1)).astype(np.uint8)
else:
    img=getattr(skimage.data,name)()
    if img.ndim==3: img=img[...,0]
q=truncate_bits(img,bits)
qs.solve(qs.image_problem(q[:T,:T],bits=bits),solver="tnnmg"); qs.solve(qs.image_problem(q[T:2*T,:T],bits=bits))
rows=[]
for i in range(0,q.shape[0]-T+1,T):
    for j in range(0,q.shape[1]-T+1,T):
        p=qs.image_problem(q[i:i+T,j:j+T],bits=bits)
        out={}
        for s in ("auto","tnnmg"):
            t0=time.process_time(); r=qs.solve(p,solver=s); dt=time.process_time()-t0
            held=np.mean((r.x<=p.lower)|(r.x>=p.upper))
            out[s]=(dt,str(r.status),r.solver + ("->"+r.info["fallback"]["solver"] if isinstance(r.info.get("fallback"),dict) else ""),held,[(l.get("n"),l.get("active"),l.get("status"),l.get("solver"),round(l.get("seconds",0),3)) for l in r.info.get("levels",[])])
        rows.append((i,j,out))
a=sum(r[2]["auto"][0] for r in rows); t=sum(r[2]["tnnmg"][0] for r in rows)
print(name,bits,T,"tiles",len(rows),f"auto {a:.2f} s  tnnmg {t:.2f} s")
from collections import defaultdict
agg=defaultdict(lambda:[0,0.0,0.0])
for i,j,o in rows:
    k=o["auto"][2]; agg[k][0]+=1; agg[k][1]+=o["auto"][0]; agg[k][2]+=o["tnnmg"][0]
for k,v in agg.items(): print(f"  auto={k}: {v[0]} tiles, auto {v[1]:.2f} s, tnnmg {v[2]:.2f} s")
# by held fraction
for lo,hi in [(0,0.02),(0.02,0.05),(0.05,0.1),(0.1,0.2),(0.2,1.01)]:
    sel=[o for i,j,o in rows if lo<=o["tnnmg"][3]<hi]
    if sel: print(f"  held {lo:.2f}-{hi:.2f}: {len(sel)} tiles, auto {sum(o['auto'][0] for o in sel):.2f} tnnmg {sum(o['tnnmg'][0] for o in sel):.2f}  auto-wins {sum(o['auto'][0]<o['tnnmg'][0] for o in sel)}")
bad=[(i,j,o) for i,j,o in rows if o["auto"][1]!="optimal" or o["tnnmg"][1]!="optimal"]
print("  not optimal:",bad[:5])
json.dump(rows,open(f"benchmarks/results/dense/session12/scan_{name}{bits}_{T}.json","w"))
