# strong-convexity bound vs Frank-Wolfe gap on the fine iterates of tnnmg
import sys, time, numpy as np, skimage.data, qpsolve as qs, scipy.sparse.linalg as spla
from qpsolve.imaging.data import truncate_bits
from qpsolve.solvers import tnnmg
from skimage.transform import resize
bits=int(sys.argv[1]); size=int(sys.argv[2]) if len(sys.argv)>2 else 512
img=skimage.data.camera()
if size!=512:
    img=np.clip(np.rint(resize(img.astype(float),(size,size),order=1,anti_aliasing=False,preserve_range=True)),0,255).astype(np.uint8)
q=truncate_bits(img,bits)
prob=qs.image_problem(q,bits=bits)
N=size*size
snaps=[]
orig=tnnmg._estimate
def est(x,g,lo,hi,qq):
    out=orig(x,g,lo,hi,qq)
    if x.size==N: snaps.append((x.copy(),g.copy(),out))
    return out
tnnmg._estimate=est
t=time.time(); r=qs.solve(prob,solver="tnnmg"); print("solve", time.time()-t, r.status)
P=prob.P.tocsc() if hasattr(prob,'P') else None
t=time.time()
lam = spla.eigsh(P, k=1, sigma=0, which='LM', return_eigenvectors=False)[0]
print("lambda_min", lam, "eigsh s", time.time()-t)
lo,hi=prob.lower,prob.upper
def sc_bound(x,g,lam):
    # max over s in [lo-x, hi-x] of -g s - lam/2 s^2, per pixel
    s=np.clip(-g/lam, lo-x, hi-x)
    return np.sum(-g*s-0.5*lam*s*s)
for k,(x,g,(gap,E)) in enumerate(snaps):
    term=np.where(g>0,g*(x-lo),np.where(g<0,g*(x-hi),0.0)); fw=np.maximum(term,0).sum()
    b=sc_bound(x,g,lam)
    print(f"step {k+1}: E {E:.10g} FW rel {fw/abs(E):.3e} ({gap/abs(E):.3e})  SC rel {b/abs(E):.3e}  SC(lam/2) rel {sc_bound(x,g,lam/2)/abs(E):.3e}")
t=time.time()
w = spla.eigsh(P, k=8, sigma=-1e-7, which='LM', return_eigenvectors=False)
print("lowest eigenvalues", np.sort(w), time.time()-t)
lam5 = np.sort(w)[4]
for k,(x,g,(gap,E)) in enumerate(snaps):
    print(f"step {k+1}: SC(lam5) rel {sc_bound(x,g,lam5)/abs(E):.3e}  SC(lam5/4) rel {sc_bound(x,g,lam5/4)/abs(E):.3e}")
np.save('benchmarks/results/dense/session12/cam%d_snaps.npy'%bits, np.array([s[0] for s in snaps]))
