import sys, numpy as np, skimage.data, qpsolve as qs, matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
from qpsolve.imaging.data import truncate_bits
bits=int(sys.argv[1]); k=int(sys.argv[2])
q=truncate_bits(skimage.data.camera(),bits); prob=qs.image_problem(q,bits=bits)
print(prob.grid)
X=np.load('cam%d_snaps.npy'%bits); x=X[k-1]
g=prob.matvec(x)+prob.q; lo,hi=prob.lower,prob.upper
term=np.maximum(np.where(g>0,g*(x-lo),np.where(g<0,g*(x-hi),0.0)),0).reshape(512,512)
r=qs.solve(prob); xs=r.x
err=(x-xs).reshape(512,512)
fig,ax=plt.subplots(1,3,figsize=(18,6))
ax[0].imshow(np.log10(term+1e-12),vmin=-6,cmap='magma'); ax[0].set_title(f'log10 gap term, step {k}')
m=np.abs(err).max(); ax[1].imshow(err,cmap='RdBu',vmin=-m,vmax=m); ax[1].set_title(f'x - x*, max {m:.3f}')
held=((x<=lo)|(x>=hi)).reshape(512,512); ax[2].imshow(held,cmap='gray'); ax[2].set_title('held')
plt.savefig('gap%d_%d.png'%(bits,k),dpi=60,bbox_inches='tight')
rows=term.sum(1); cols=term.sum(0)
print("rows with most gap", np.argsort(rows)[-8:], "cols", np.argsort(cols)[-8:])
print("max|err| at", np.unravel_index(np.abs(err).argmax(),err.shape), "E-E*", prob.objective(x)-prob.objective(xs) if hasattr(prob,'objective') else '')
