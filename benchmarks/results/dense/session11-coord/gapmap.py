import sys, numpy as np, skimage.data, qpsolve as qs
from qpsolve.imaging.data import truncate_bits
from qpsolve.solvers import tnnmg
bits=int(sys.argv[1]); N=512*512
q=truncate_bits(skimage.data.camera(),bits)
prob=qs.image_problem(q,bits=bits)
snaps=[]
orig=tnnmg._estimate
def est(x,g,lo,hi,qq):
    out=orig(x,g,lo,hi,qq)
    if x.size==N: snaps.append((x.copy(),g.copy(),out))
    return out
tnnmg._estimate=est
r=qs.solve(prob,solver="tnnmg")
lo,hi=prob.lower,prob.upper
for k,(x,g,(gap,E)) in enumerate(snaps):
    term=np.where(g>0,g*(x-lo),np.where(g<0,g*(x-hi),0.0)); term=np.maximum(term,0)
    onb=(x<=lo)|(x>=hi)
    wrong=onb&(((x<=lo)&(g<0))|((x>=hi)&(g>0)))
    free=~onb
    tt=term.reshape(512,512)
    # where: share within 32 px of the border
    b=np.zeros((512,512),bool); b[:32,:]=b[-32:,:]=b[:,:32]=b[:,-32:]=True
    srt=np.sort(term)[::-1]; c=np.cumsum(srt)/max(term.sum(),1e-300)
    print(f"step {k+1}: rel {gap/abs(E):.2e} held {onb.sum()} | free share {term[free].sum()/gap:.2f} wrong-held share {term[wrong].sum()/gap:.2f} (n {wrong.sum()}) | border32 share {tt[b].sum()/gap:.2f} | pixels for 50/90% {np.searchsorted(c,0.5)+1}/{np.searchsorted(c,0.9)+1}")
np.save('cam%d_snaps.npy'%bits, np.array([s[0] for s in snaps]))
