import sys, numpy as np, skimage.data, qpsolve as qs
from qpsolve.imaging.data import truncate_bits
from qpsolve.solvers import tnnmg
from qpsolve.linalg.gridmg import TruncatedHierarchy
bits=int(sys.argv[1]); k=int(sys.argv[2]); cg=int(sys.argv[3]) if len(sys.argv)>3 else 3
q=truncate_bits(skimage.data.camera(),bits); prob=qs.image_problem(q,bits=bits)
X=np.load('cam%d_snaps.npy'%bits); x=X[k-1].copy()
xs=qs.solve(prob).x
lev=tnnmg._Level(prob.lower,prob.upper,prob.q,prob.grid)
lo,hi,qq=lev.lower,lev.upper,lev.q
g=lev.gradient(x); gap,E=tnnmg._estimate(x,g,lo,hi,qq)
at_lo,at_hi=x<=lo,x>=hi; held=at_lo|at_hi; free=(~held).astype(np.uint8)
h=TruncatedHierarchy(lev.ts,free,smooth=2,order=1,drop=False)
b=-g.copy(); b[held]=0
rtol=min(1e-2,max(1e-13,0.1*gap/abs(E)))
d,its=h.pcg(b,rtol=rtol,max_iter=cg)
e=(xs-x)
def stats(y,name):
    gy=lev.gradient(y); gp,Ey=tnnmg._estimate(y,gy,lo,hi,qq)
    print(f"{name}: E-E0 {Ey-E:+.4e} rel gap {gp/abs(Ey):.2e} max|y-x*| {np.abs(y-xs).max():.4f} (top bump region {np.abs((y-xs).reshape(512,512)[:40,200:320]).max():.4f})")
print(f"its {its}; start: rel {gap/abs(E):.2e}, max|x-x*| {np.abs(e).max():.4f}; E*-E {prob.objective(xs)-E if hasattr(prob,'objective') else 0:+.3e}")
for t in [1,0.5,0.25,0.125]:
    y=np.clip(x+t*d,lo,hi); nclip=int(((x+t*d<lo)|(x+t*d>hi)).sum()); stats(y,f"t={t} clipped {nclip}")
# the newton step's quality on the bump: d vs e
D=d.reshape(512,512); Ee=e.reshape(512,512)
print("in bump region: d max", np.abs(D[:40,200:320]).max(), "e max", np.abs(Ee[:40,200:320]).max(), "corr", float(np.corrcoef(D[:40,200:320].ravel(),Ee[:40,200:320].ravel())[0,1]))
y=x+d; out=(y<lo)|(y>hi); O=out.reshape(512,512)
print("clipped rows/cols hist (first 40 rows, last 40 cols, else):", O[:40].sum(), O[:,-40:].sum(), O.sum())
def dual_bound(y):
    gy=lev.gradient(y); Ey=float(0.5*y@(gy-qq)+qq@y)
    with np.errstate(invalid='ignore'):
        m=np.minimum(gy*(lo-y),gy*(hi-y))
    return Ey+float(np.sum(m))
print("tol*E", 1e-8*abs(E))
for t in [1,0.5,0.25,0.125,0.0625]:
    for clipit in (False,True):
        y=x+t*d
        if clipit: y=np.clip(y,lo,hi)
        print(f"t={t} clip={clipit}: E(x)-D(y) = {E-dual_bound(y):.4e}  (plain {gap:.4e})")
from scipy.ndimage import gaussian_filter
print("oracle y=x*:", E-dual_bound(xs))
for (r0,r1,c0,c1) in [(0,60,180,340),(0,100,150,370),(0,512,0,512)]:
    for sig in (0,8):
        M=np.zeros((512,512)); M[r0:r1,c0:c1]=1
        if sig: M=gaussian_filter(M,sig)
        y=x+M.ravel()*(xs-x)
        print(f"oracle window {(r0,r1,c0,c1)} sigma {sig}: E(x)-D(y) = {E-dual_bound(y):.4e}")
print("---- oracle active set from x*")
slo,shi=xs<=lo,xs>=hi; sheld=slo|shi
print("held at x", int(held.sum()), "at x*", int(sheld.sum()), "x* only", int((sheld&~held).sum()), "x only", int((held&~sheld).sum()))
for cgn in (3,10,40):
    dd=np.zeros_like(x); dd[slo]=lo[slo]-x[slo]; dd[shi]=hi[shi]-x[shi]
    bb=-(g+lev.ts.matvec(dd)); bb[sheld]=0
    h2=TruncatedHierarchy(lev.ts,(~sheld).astype(np.uint8),smooth=2,order=1,drop=False)
    v,its2=h2.pcg(bb,rtol=1e-12,max_iter=cgn); dd+=v
    for t in (1.0,):
        yy=x+t*dd; nout=int(((yy<lo)|(yy>hi)).sum()); y=np.clip(yy,lo,hi)
        gy=lev.gradient(y); gp,Ey=tnnmg._estimate(y,gy,lo,hi,qq)
        print(f"cg {cgn}: out of box {nout}, E-E0 {Ey-E:+.3e}, gap {gp:.4e} (tol {1e-8*abs(Ey):.3f}), max|y-x*| {np.abs(y-xs).max():.4f}")
print("---- windowed steps")
def after_sweeps(y,k=4):
    y=y.copy()
    for s in range(k): lev.ts.projected_gauss_seidel(y,lo,hi,qq,reverse=bool(s%2))
    gy=lev.gradient(y); gp,Ey=tnnmg._estimate(y,gy,lo,hi,qq); return gp,Ey
for (r0,r1,c0,c1) in [(0,60,180,340),(0,100,150,370)]:
    M=np.zeros((512,512)); M[r0:r1,c0:c1]=1; M=gaussian_filter(M,8).ravel()
    for s in (0.15,0.25,0.3,0.4):
        yy=x+s*M*d; nout=int(((yy<lo)|(yy>hi)).sum()); y=np.clip(yy,lo,hi)
        gy=lev.gradient(y); gp,Ey=tnnmg._estimate(y,gy,lo,hi,qq); gp4,E4=after_sweeps(y)
        print(f"window {(r0,r1,c0,c1)} s={s}: out {nout}, E-E0 {Ey-E:+.3e}, gap {gp:.4f}, after 4 sweeps {gp4:.4f} (tol {1e-8*abs(Ey):.3f}); bump err {np.abs((y-xs).reshape(512,512)[:40,200:320]).max():.4f}")
gp4,E4=after_sweeps(x); print("x itself after 4 more sweeps: gap", gp4)
