"""Session 14: a banded Cholesky factor and solve in numba against LAPACK (scipy), n = 2^20 (notes.md)."""
import time, numpy as np
from numba import njit
from scipy.linalg import cholesky_banded, cho_solve_banded

@njit(cache=False, nogil=True)
def chol_band(ab, L):
    """L (lower band storage) with L L^T = A; returns 0, or the 1-based column that failed."""
    b = ab.shape[0] - 1
    n = ab.shape[1]
    for j in range(n):
        s = ab[0, j]
        for k in range(1, min(b, j) + 1):
            v = L[k, j - k]
            s -= v * v
        if not s > 0.0:
            return j + 1
        d = np.sqrt(s)
        L[0, j] = d
        for i in range(1, min(b, n - 1 - j) + 1):
            t = ab[i, j]
            for k in range(1, b - i + 1):
                if k > j:
                    break
                t -= L[i + k, j - k] * L[k, j - k]
            L[i, j] = t / d
    return 0

@njit(cache=False, nogil=True)
def solve_band(L, r, out):
    b = L.shape[0] - 1
    n = L.shape[1]
    for j in range(n):  # L y = r
        s = r[j]
        for k in range(1, min(b, j) + 1):
            s -= L[k, j - k] * out[j - k]
        out[j] = s / L[0, j]
    for j in range(n - 1, -1, -1):  # L^T x = y
        s = out[j]
        for k in range(1, min(b, n - 1 - j) + 1):
            s -= L[k, j] * out[j + k]
        out[j] = s / L[0, j]

rng = np.random.default_rng(0)
for b in (1, 2, 3, 8):
    n = 1 << 20
    ab = np.zeros((b + 1, n))
    ab[1:] = rng.normal(size=(b, n))
    ab[0] = 2 * b + 1 + rng.random(n) + np.abs(ab[1:]).sum(0) * 2
    for k in range(1, b + 1): ab[k, n - k:] = 0
    L = np.empty_like(ab); out = np.empty(n); r = rng.normal(size=n)
    chol_band(ab, L); solve_band(L, r, out)
    t = []; 
    for _ in range(5):
        t0 = time.perf_counter(); c = cholesky_banded(ab, lower=True, check_finite=False); t1 = time.perf_counter(); x = cho_solve_banded((c, True), r, check_finite=False); t2 = time.perf_counter()
        chol_band(ab, L); t3 = time.perf_counter(); solve_band(L, r, out); t4 = time.perf_counter()
        t.append((t1 - t0, t2 - t1, t3 - t2, t4 - t3))
    t = np.min(np.array(t), axis=0) * 1e3
    print(f"b={b}: lapack factor {t[0]:.1f} solve {t[1]:.1f} ms | numba factor {t[2]:.1f} solve {t[3]:.1f} ms | diff L {np.max(np.abs(L - c)):.1e} x {np.max(np.abs(out - x)) / np.max(np.abs(x)):.1e}")
