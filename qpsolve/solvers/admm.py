"""``admm``: spectral ADMM for box QPs on a regular grid with ``even``/``periodic`` boundaries.

Splitting ``min 1/2 x^T P x + q^T x  s.t.  x = z,  L <= z <= U`` (scaled
form, dual ``y = rho u``)::

    x  <- (P + rho I)^-1 (rho (z - u) - q)        # diagonal in the DCT-II / FFT basis
    xr <- a x + (1 - a) z                          # over-relaxation, a ~ 1.6
    z  <- clip(xr + u, L, U)
    u  <- u + xr - z

With ``even`` (Neumann) boundaries every energy matrix of
:mod:`qpsolve.model.operators` is diagonalised by the orthonormal DCT-II, with
``periodic`` ones by the FFT, so the ``x``-update costs two transforms and
changing ``rho`` costs nothing.  The eigenvalues come from those of the 1-D
second difference,

    even:      lam_k = -4 sin^2(pi k / 2n)       (DCT-II, k = 0 .. n-1)
    periodic:  lam_k = -4 sin^2(pi k / n)        (DFT)

summed over the axes to ``s = sum_axes lam`` (the spectrum of the Laplacian):

=============  =========================================================
model          eigenvalue of ``P``
=============  =========================================================
laplace        ``-s``
biharmonic     ``s^2``
triharmonic    ``-s^3`` (``G^T G = -second difference`` on these grids)
thin-plate     ``sum lam_k^2 + 2 sum_{k<l} lam_k lam_l = s^2``
mixed          ``-alpha s + beta s^2``
=============  =========================================================

(checked against the eigenvalues of :func:`~qpsolve.model.operators.energy_matrix`
in ``tests/test_admm.py``).  :func:`supports` also verifies on the problem
itself that ``P`` acts as the spectrum says, so a ``BoxQP`` whose ``grid``
does not describe its ``P`` is refused, not solved wrongly.  Masks only change
bounds and are fine; ``odd`` boundaries are not diagonalised by a fast
transform and are refused.

The penalty follows either the geometric continuation of plug-and-play ADMM
(``rho <- gamma rho`` every ``every`` iterations, ``gamma > 1``, as in the
ShadowDiffusion schedule; ``rho_schedule="continuation"``, from ``rho0 / 100``
up to ``10 rho0``) or residual balancing (``"balance"``, the default: on 32x32
and 64x64 test images it needed as many or fewer iterations and never got
stuck at a too-large ``rho``).  ``rho0`` is the geometric mean of the non-zero
spectrum.  The shared certificate on the feasible ``z`` is checked every
``check_every`` iterations and decides when to stop.  ADMM's tail is slow, so
once the relative gap is below ``polish_below`` the backend tries, after
``polish_every`` checks, a polish: the active set read off ``z`` and the dual
is fixed and the free pixels solve their reduced system by CG; the polished
point is kept only when the certificate calls it optimal.  A failed polish
doubles the wait before the next one, and polishing may use at most
``polish_budget`` of the time spent so far; one polish runs at most
``min(polish_maxiter, max(100, iterations / 2))`` CG steps (each costs about
one ADMM iteration).  When the iterates
stop moving (residuals at round-off) and the gap has not improved for 50
checks, the backend reports ``stalled`` (the gap is then at its rounding
floor, which for ``triharmonic`` at 64x64 can exceed ``tol = 1e-8``).

Options
-------
rho : float, optional
    Initial penalty (default ``rho0``; ``rho0 / 100`` for continuation).
rho_schedule : {'balance', 'continuation', 'fixed'}
alpha_relax : float in (0, 2), default 1.6
gamma : float > 1, default 1.2 -- continuation factor
every : int, default 20 -- continuation period (iterations)
rho_max : float -- largest rho (default ``10 rho0`` for continuation,
    ``1e3 * max eigenvalue`` for balancing)
check_every : int, default 10 -- iterations between certificate checks
polish : bool, default True
polish_below, polish_every, polish_maxiter, polish_budget : 1e-4, 5, 2000, 0.25

Examples
--------
>>> import numpy as np
>>> import qpsolve as qs
>>> img = (np.add.outer(np.arange(24), np.arange(24)) * 5).astype(np.uint8) & 0xC0
>>> prob = qs.image_problem(img, bits=2, bc="even")
>>> sol = qs.solve(prob, solver="admm")
>>> sol.success, sol.solver
(True, 'admm')
>>> qs.solve(qs.image_problem(img, bits=2, bc="odd"), solver="admm")
Traceback (most recent call last):
...
qpsolve.solvers._base.BackendUnavailable: solver 'admm' cannot solve this problem: bc 'odd' is not diagonalised by a fast transform; spectral ADMM needs bc='even' (DCT-II) or bc='periodic' (FFT)
"""

from __future__ import annotations

import time

import numpy as np

from ..certificate import certificate
from ..linalg.threads import out_of_time
from ..model.spectra import second_difference_eigenvalues
from ..validation import check_positive_int
from ._base import BackendOutput, importable

NAME = "admm"
SPECTRAL_BC = ("even", "periodic")
SPECTRAL_MODELS = ("laplace", "biharmonic", "triharmonic", "thin-plate", "mixed")


def available():
    return importable("scipy.fft")


def axis_eigenvalues(n, bc):
    """Eigenvalues of the 1-D second difference of length ``n`` in transform order.

    Examples
    --------
    >>> np.round(axis_eigenvalues(4, "periodic"), 12).tolist()
    [-0.0, -2.0, -4.0, -2.0]
    """
    if bc == "even":
        return -second_difference_eigenvalues(n, "dct")
    if bc == "periodic":
        return -second_difference_eigenvalues(n, "fft")
    raise ValueError(f"bc must be one of {SPECTRAL_BC} for a spectral operator, got {bc!r}")


def spectrum(shape, model="biharmonic", bc="even", *, alpha=1.0, beta=1.0, real=False):
    """Eigenvalues of ``energy_matrix(shape, model, bc)`` laid out on the transform grid.

    Parameters
    ----------
    shape : tuple of int
    model : str
        One of :data:`SPECTRAL_MODELS`.
    bc : {'even', 'periodic'}
    alpha, beta : float
        Weights of ``mixed``.
    real : bool
        For ``periodic``: the layout of ``scipy.fft.rfftn`` (last axis
        ``n // 2 + 1``) instead of ``fftn``.

    Returns
    -------
    ndarray
        Non-negative eigenvalues, one per transform coefficient.

    Examples
    --------
    >>> from qpsolve.model.operators import energy_matrix
    >>> ev = spectrum((4, 5), "biharmonic", "even")
    >>> ref = np.linalg.eigvalsh(energy_matrix((4, 5), "biharmonic", "even").toarray())
    >>> bool(np.allclose(np.sort(ev.ravel()), ref))
    True
    """
    shape = tuple(int(n) for n in shape)
    d = len(shape)
    lams = []
    for ax, n in enumerate(shape):
        lam = axis_eigenvalues(n, bc)
        if real and bc == "periodic" and ax == d - 1:
            lam = lam[: n // 2 + 1]
        lams.append(lam.reshape([-1 if a == ax else 1 for a in range(d)]))
    s = sum(lams)
    if model == "laplace":
        ev = -s
    elif model in ("biharmonic", "thin-plate"):
        ev = s * s
    elif model == "triharmonic":
        ev = -(s**3)
    elif model == "mixed":
        ev = -alpha * s + beta * s * s
    else:
        raise ValueError(f"no spectrum for model {model!r}; spectral models are {SPECTRAL_MODELS}")
    out_shape = list(shape)
    if real and bc == "periodic":
        out_shape[-1] = shape[-1] // 2 + 1
    return np.maximum(np.broadcast_to(ev, out_shape), 0.0).copy()  # clear -0 / -1e-17 round-off


class _Spectral:
    """``P`` (and ``(P + rho I)^-1``) applied through the DCT-II or the real FFT."""

    def __init__(self, grid):
        import scipy.fft as fft

        self.shape = tuple(grid.shape)
        self.bc = grid.bc
        self.eig = spectrum(self.shape, grid.model, grid.bc, alpha=grid.alpha, beta=grid.beta, real=True)
        self._fft = fft
        self.workers = 1

    def forward(self, x):
        x = x.reshape(self.shape)
        if self.bc == "even":
            return self._fft.dctn(x, type=2, norm="ortho", workers=self.workers)
        return self._fft.rfftn(x, workers=self.workers)

    def inverse(self, c):
        if self.bc == "even":
            return self._fft.idctn(c, type=2, norm="ortho", workers=self.workers).ravel()
        return self._fft.irfftn(c, s=self.shape, workers=self.workers).ravel()

    def apply(self, x):
        return self.inverse(self.eig * self.forward(x))


def supports(prob):
    grid = getattr(prob, "grid", None)
    if grid is None:
        return "needs a problem built on a grid (prob.grid, as qpsolve.image_problem sets); got none"
    if grid.bc not in SPECTRAL_BC:
        return (f"bc {grid.bc!r} is not diagonalised by a fast transform; spectral ADMM needs "
                f"bc='even' (DCT-II) or bc='periodic' (FFT)")
    if grid.model not in SPECTRAL_MODELS:
        return f"no spectrum known for model {grid.model!r}"
    try:
        op = _Spectral(grid)
    except ValueError as exc:  # pragma: no cover - defensive
        return str(exc)
    # The grid must describe P itself: compare one product with a fixed random vector.
    v = np.random.default_rng(12345).standard_normal(prob.n)
    ref = prob.P @ v
    err = np.max(np.abs(op.apply(v) - ref))
    if not err <= 1e-9 * max(1.0, np.max(np.abs(ref))):
        return (f"P does not match the spectrum of the {grid.model}/{grid.bc} grid {grid.shape} "
                f"(max deviation {err:.3g}); was P modified after image_problem?")
    return None


def _polish(prob, z, y, tol, maxiter, op=None, shift=None):
    """Fix the active set read off ``z`` and the dual ``y`` and solve the reduced system.

    Pixels where ``z`` sits on a bound with a multiplier of the right sign
    (``y = -(P z + q)``: ``y < 0`` holds a pixel up at ``L``, ``y > 0`` down at
    ``U``) stay there; the others are free and solve
    ``P_FF x_F = -(q_F + P_FA z_A)`` by CG, preconditioned with the
    restriction of the spectral ``(P + shift I)^-1`` to the free pixels when
    ``op`` is given (SPD, and close to ``P_FF^-1`` on the large free regions
    between contours), else by Jacobi.  Returns the
    projected point and its certificate, or ``(z, None)`` when CG fails.
    """
    import scipy.sparse.linalg as spla

    thresh = 1e-9 * max(float(np.max(np.abs(y))), 1e-300)
    at_lo = (z <= prob.lower) & (y < -thresh)
    at_hi = (z >= prob.upper) & (y > thresh)
    free = ~(at_lo | at_hi)
    if not free.any():
        return z, certificate(prob, z, tol)
    P = prob.P
    Pf = P[free][:, free]
    rhs = -(prob.q[free] + P[free][:, ~free] @ z[~free])
    if op is not None:
        inv = 1.0 / (op.eig + shift)
        full = np.zeros(prob.n)

        def precond(v):
            full[free] = v
            return op.inverse(inv * op.forward(full))[free]

        M = spla.LinearOperator(Pf.shape, matvec=precond)
    else:
        d = Pf.diagonal()
        d = np.where(d > 0, d, 1.0)
        M = spla.LinearOperator(Pf.shape, matvec=lambda v: v / d)
    xf, info = spla.cg(Pf, rhs, x0=z[free], rtol=1e-13, atol=0.0, maxiter=maxiter, M=M)
    if not np.isfinite(xf).all():
        return z, None
    xp = z.copy()
    xp[free] = xf
    xp = prob.project(xp)
    return xp, certificate(prob, xp, tol)


def _default_rho(eig):
    pos = eig[eig > 1e-12 * eig.max()] if eig.max() > 0 else np.array([1.0])
    return float(np.sqrt(pos.min() * pos.max()))


def solve(prob, *, tol, max_iter, x0, verbose, time_limit, rho=None, rho_schedule="balance",
          alpha_relax=1.6, gamma=1.2, every=20, rho_max=None, check_every=10, polish=True,
          polish_below=1e-4, polish_every=5, polish_maxiter=2000, polish_budget=0.25, **options):
    """Run spectral ADMM on ``prob`` (see the module docstring for the options)."""
    if options:
        raise TypeError(f"admm got unknown option(s): {', '.join(sorted(options))}")
    if rho_schedule not in ("balance", "continuation", "fixed"):
        raise ValueError(f"rho_schedule must be 'balance', 'continuation' or 'fixed', got {rho_schedule!r}")
    if not 0 < alpha_relax < 2:
        raise ValueError(f"alpha_relax must lie in (0, 2), got {alpha_relax!r}")
    if not gamma > 1:
        raise ValueError(f"gamma must be > 1, got {gamma!r}")
    for name, v in (("every", every), ("check_every", check_every)):
        check_positive_int(v, name)

    t0 = time.perf_counter()
    op = _Spectral(prob.grid)
    eig = op.eig
    lo, hi, q = prob.lower, prob.upper, prob.q
    rho0 = _default_rho(eig)
    cont = rho_schedule == "continuation"
    if rho is None:
        rho = rho0 * 1e-2 if cont else rho0
    rho = float(rho)
    if not (np.isfinite(rho) and rho > 0):
        raise ValueError(f"rho must be a positive finite number, got {rho!r}")
    if rho_max is None:
        rho_max = 10.0 * rho0 if cont else 1e3 * max(float(eig.max()), 1.0)
    rho_max = float(rho_max)
    rho_min = 1e-6 * max(float(eig.max()), 1.0)
    max_iter = 50_000 if max_iter is None else int(max_iter)

    if x0 is not None:
        z = prob.project(np.asarray(x0, dtype=np.float64))
        u = -(op.apply(z) + q) / rho  # the dual y = -(P z + q) of an optimal z
    else:
        z = prob.start_point()
        u = np.zeros(prob.n)
    inv = 1.0 / (eig + rho)
    history = []
    polishes = []
    polish_time = 0.0
    polish_wait = int(polish_every)
    next_polish = 0
    it = 0
    converged = hit_time = stalled = False
    best_gap, best_at = np.inf, 0
    cert = None

    def check(it):
        g = op.apply(z) + q
        return certificate(prob, z, tol, gradient=g)

    cert = check(0)
    if cert.optimal:
        converged = True
    a = float(alpha_relax)
    x = z.copy()
    while not converged and it < max_iter:
        it += 1
        x = op.inverse(inv * op.forward(rho * (z - u) - q))
        xr = a * x + (1.0 - a) * z
        z_old = z
        z = np.minimum(np.maximum(xr + u, lo), hi)
        u = u + xr - z

        if rho_schedule == "continuation" and it % every == 0 and rho < rho_max:
            new = min(rho * gamma, rho_max)
            u *= rho / new
            rho = new
            inv = 1.0 / (eig + rho)

        if it % check_every == 0:
            r_prim = float(np.max(np.abs(x - z)))
            r_dual = float(rho * np.max(np.abs(z - z_old)))
            cert = check(it)
            history.append((it, rho, r_prim, r_dual, cert.relative_gap))
            if verbose and (len(history) % 10 == 1 or cert.optimal):
                print(f"admm {it:6d}  rho {rho:9.3e}  primal {r_prim:9.3e}  dual {r_dual:9.3e}  "
                      f"rel.gap {cert.relative_gap:9.3e}  pg {cert.projected_gradient:9.3e}")
            if cert.optimal:
                converged = True
                break
            if (polish and cert.relative_gap < polish_below and it >= next_polish
                    and polish_time <= polish_budget * (time.perf_counter() - t0)):
                tp = time.perf_counter()
                # One CG step costs about one ADMM iteration: never spend more than half
                # of the iterations so far on a single polish.
                cg_iter = int(min(polish_maxiter, max(100, it // 2)))
                xp, pc = _polish(prob, z, rho * u, tol, cg_iter, op, rho)
                polish_time += time.perf_counter() - tp
                polishes.append((it, pc.relative_gap if pc is not None else np.inf))
                next_polish = it + polish_wait * check_every
                polish_wait *= 2
                if pc is not None and pc.optimal:
                    z, cert, converged = xp, pc, True
                    if verbose:
                        print(f"admm {it:6d}  polished: rel.gap {pc.relative_gap:9.3e}")
                    break
            # Stalled: the iterates no longer move (residuals at round-off) and the
            # gap has not improved for 50 checks -- it sits on its rounding floor.
            if cert.relative_gap < 0.9 * best_gap:
                best_gap, best_at = cert.relative_gap, it
            tiny = 1e-11 * prob.scale
            if r_prim < tiny and r_dual < tiny * max(1.0, rho) and it - best_at >= 50 * check_every:
                stalled = True
                break
            # past the time limit, or cancelled (a colour channel: linalg.threads.cancel_scope)
            if out_of_time(None if time_limit is None else t0 + time_limit):
                hit_time = True
                break
            if rho_schedule == "balance":
                # Residual balancing in relative terms (as OSQP): grow rho when the
                # constraint x = z lags, shrink it when the dual residual does.
                xs = max(float(np.max(np.abs(x))), float(np.max(np.abs(z))), 1e-300)
                ys = max(float(rho * np.max(np.abs(u))), 1e-300)
                ratio = np.sqrt((r_prim / xs) / max(r_dual / ys, 1e-300)) if r_dual > 0 else 1.0
                if ratio > 5 or ratio < 0.2:
                    new = float(np.clip(rho * ratio, rho_min, rho_max))
                    u *= rho / new
                    rho = new
                    inv = 1.0 / (eig + rho)

    msg = ("certificate met" if converged else
           "time limit reached" if hit_time else
           "iterates stopped moving (residuals at round-off) before the certificate was met" if stalled
           else f"iteration limit {max_iter} reached")
    return BackendOutput(
        x=z,
        iterations=it,
        converged=converged,
        message=f"{msg} after {it} iterations (rho {rho:.3g})",
        hit_time_limit=hit_time,
        stalled=stalled,
        info={"history": history, "polishes": polishes, "polish_time": polish_time, "rho": rho, "rho_schedule": rho_schedule,
              "backend_time": time.perf_counter() - t0},
    )
