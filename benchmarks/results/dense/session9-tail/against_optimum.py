import sys, numpy as np
sys.path.insert(0, "benchmarks/results/dense")
from steps_run import camera_case
import qpsolve.solvers.tnnmg as T
img, prob = camera_case(1024, 3)
lvl = T._Level(prob.lower, prob.upper, prob.q, prob.grid)
ts, lo, hi, q = lvl.ts, prob.lower, prob.upper, prob.q
x = np.load("x1024_step10.npy")
for s in range(4): ts.projected_gauss_seidel(x, lo, hi, q, reverse=bool(s % 2))
xs = np.load("x1024_opt.npy")
g = lvl.gradient(x); gs = lvl.gradient(xs)
term = np.maximum(np.nan_to_num(np.where(g > 0, g * (x - lo), np.where(g < 0, g * (x - hi), 0.0))), 0)
gap = term.sum()
n = 1024
o = np.argsort(term)[::-1]; top = np.zeros(x.size, bool); top[o[: x.size // 100]] = True
held = (x <= lo) | (x >= hi); helds = (xs <= lo) | (xs >= hi)
print("held now", held.sum(), "held at opt", helds.sum(), "both", (held & helds).sum())
print("top1% carries", term[top].sum() / gap)
d = xs - x
print("|x*-x| max %.3g, 99%% %.3g, in top1%%: max %.3g median %.3g" % (np.abs(d).max(), np.quantile(np.abs(d), .99), np.abs(d[top]).max(), np.median(np.abs(d[top]))))
# blocks
B = n // 32
blk = term.reshape(B, 32, B, 32).sum(axis=(1, 3))
idx = np.argsort(blk.ravel())[::-1][:8]
for b in idx:
    bi, bj = divmod(b, B)
    sl = (slice(bi * 32, bi * 32 + 32), slice(bj * 32, bj * 32 + 32))
    X, XS, H, HS = x.reshape(n, n)[sl], xs.reshape(n, n)[sl], held.reshape(n, n)[sl], helds.reshape(n, n)[sl]
    L, U = lo.reshape(n, n)[sl], hi.reshape(n, n)[sl]
    print(f"block ({bi*32},{bj*32}) share {blk.ravel()[b]/gap:.3f} held {H.mean():.3f} held* {HS.mean():.3f} "
          f"x {X.min():.3f}..{X.max():.3f} x* {XS.min():.3f}..{XS.max():.3f} bins {L.min():.0f}..{U.max():.0f} max|dx| {np.abs(XS-X).max():.3f}"
          f" g-sign+ {(g.reshape(n,n)[sl]>0).mean():.2f}")
# where does x* differ most
big = np.abs(d) > 0.1 * np.abs(d).max()
r, c = np.divmod(np.flatnonzero(big), n)
print("pixels with |dx| > 10% of max:", big.sum(), "rows", r.min(), r.max(), "cols", c.min(), c.max())
