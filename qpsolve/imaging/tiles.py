"""Large images: overlapping tiles, blended, then an optional certified global polish.

Memory plan for a 24 Mpx RGB photograph in 24 GB.  The channels are solved
one after the other (``color_space='rgb'``), so one channel of 24 M pixels is
in memory at a time, and only as envelopes: :class:`GridBounds` holds the
bounds and the grid, and the global problem (whose ``P`` a solver such as
``pcg`` may assemble: 13 non-zeros per row for the biharmonic, ~3.7 GB as
CSR at 24 M) exists only when the global polish runs.  Each tile of ``tile x tile`` pixels is its own BoxQP (the
model's boundary rule at the tile's edges) with the envelopes sliced out of
the global ones, solved by the registry and certified (``solver='auto'``
re-solves a tile it could not certify, see
:data:`qpsolve.solvers.AUTO_RETRIES`).  Tiles are
independent: ``jobs=k`` solves them in ``k`` worker processes, each sent
only its tile's envelopes.  Neighbouring tiles overlap by ``overlap``
pixels and are blended with linear ramps -- a convex combination, so the
stitched image stays inside every envelope.

The stitched image is not the global optimum (tile boundaries are free
plates).  ``polish=True`` warm-starts one global solve from it and certifies
the answer against the whole image.  ``polish='auto'`` polishes when the
image has at most :data:`AUTO_POLISH_PIXELS` pixels and the estimated memory
of the global solve fits ``max_memory``: a global solve of a textured
photograph runs on ``pcg`` and takes minutes at 256 x 256 already.  Without
the polish the result is certified tile by tile (see :func:`solve_tiled`).
"""

from __future__ import annotations

import numbers
import time

import numpy as np

from ..problem import BoxQP
from ..solvers import finalize_parts, solve
from ..validation import check_positive_int, check_tile

__all__ = ["tile_slices", "blend_weights", "solve_tiled", "estimate_memory", "GridBounds", "AUTO_POLISH_PIXELS"]

#: ``polish='auto'`` polishes globally up to this many pixels (256 x 256).  A
#: smooth image polishes fast at 1 Mpx (``pdas``), but a photograph's global
#: solve runs on ``pcg`` and takes minutes already at 256 x 256 (see
#: ``benchmarks/results/design_notes.md``), so beyond this size the polish is left to ``polish=True``.
AUTO_POLISH_PIXELS = 2**16


class GridBounds:
    """Envelopes on a grid, without the operator: what :func:`solve_tiled` needs.

    Parameters
    ----------
    lower, upper : ndarray
        Bounds, one per grid point (any shape with ``grid.shape``'s size).
    grid : GridSpec
        Model, boundary rule and shape.

    Notes
    -----
    ``lower`` and ``upper`` are copied here (flat, float64), and :meth:`problem`
    shares these copies with the problem it builds instead of copying them
    again: the pipeline keeps its bounds for after the solve, and two more
    image-sized arrays would be alive for the whole solve.  Do not write to
    :attr:`lower` or :attr:`upper`; build a new ``GridBounds`` instead.

    Examples
    --------
    >>> import numpy as np
    >>> from qpsolve.model.operators import GridSpec
    >>> gb = GridBounds(np.zeros((4, 5)), np.ones((4, 5)), GridSpec(shape=(4, 5)))
    >>> gb.n, gb.problem().P.shape
    (20, (20, 20))
    >>> gb.problem().lower is gb.lower
    True
    """

    def __init__(self, lower, upper, grid):
        # private copies (C order, as ravel reads): problem() hands them to a BoxQP uncopied
        self.lower = np.array(lower, dtype=np.float64, order="C").ravel()
        self.upper = np.array(upper, dtype=np.float64, order="C").ravel()
        self.grid = grid
        self.n = self.lower.size
        if self.upper.size != self.n or int(np.prod(grid.shape)) != self.n:
            raise ValueError(f"bounds of sizes {self.n} and {self.upper.size} do not fit the grid {grid.shape}")

    def problem(self):
        """The global :class:`~qpsolve.BoxQP` (``P`` as ``grid.energy()``: a stencil on 2-D grids).

        Its ``lower`` and ``upper`` are this object's arrays (see the class notes), not copies.
        """
        return BoxQP._sharing(self.grid.energy(), self.lower, self.upper, grid=self.grid)



def _starts(n, t, overlap):
    if t >= n:
        return [0]
    stride = t - overlap
    s = list(range(0, n - t, stride))
    s.append(n - t)
    return sorted(set(s))


def tile_slices(shape, tile, overlap):
    """Slices of overlapping tiles that cover ``shape``.

    Examples
    --------
    >>> [tuple((s.start, s.stop) for s in sl) for sl in tile_slices((20,), 12, 4)]
    [((0, 12),), ((8, 20),)]
    """
    tile = check_tile(tile, len(shape))
    per_axis = [[slice(s, min(s + t, n)) for s in _starts(n, t, overlap)] for n, t in zip(shape, tile)]
    out = [()]
    for sl in per_axis:
        out = [o + (s,) for o in out for s in sl]
    return out


def blend_weights(sl, shape, overlap):
    """Separable linear ramps over the overlap, 1 at the image border.

    Examples
    --------
    >>> blend_weights((slice(4, 10),), (10,), 2).tolist()
    [0.25, 0.75, 1.0, 1.0, 1.0, 1.0]
    """
    w = np.ones([s.stop - s.start for s in sl])
    for ax, (s, n) in enumerate(zip(sl, shape)):
        m = s.stop - s.start
        i = np.arange(m) + 0.5
        r = np.ones(m)
        if overlap > 0:
            if s.start > 0:
                r = np.minimum(r, i / overlap)
            if s.stop < n:
                r = np.minimum(r, (m - i) / overlap)
        shp = [1] * len(sl)
        shp[ax] = m
        w = w * r.reshape(shp)
    return w


def estimate_memory(n, nnz_per_row=13, vectors=20):
    """Rough bytes for a global iterative solve: CSR ``P`` plus work vectors.

    Examples
    --------
    >>> round(estimate_memory(24_000_000) / 2**30, 1)
    7.1
    """
    return int(n * nnz_per_row * 12 + n * 8 * vectors)


def _tile_task(task, how):
    """Solve one tile (a process-pool worker's job): ``(slices, result)``."""
    sl, grid, lo, hi = task
    solver, tol, max_iter, verbose, options = how
    return sl, solve(BoxQP(grid.energy(), lo.ravel(), hi.ravel(), grid=grid),
                     solver=solver, tol=tol, max_iter=max_iter, verbose=verbose, **options)


#: tiles in flight when ``jobs`` is an executor (its size is not known here)
EXECUTOR_IN_FLIGHT = 16


def _run_tiles(tasks, jobs, how):
    """Yield ``(slices, result)`` per tile: in order with ``jobs=1``, as they finish otherwise.

    At most ``4 * jobs`` tiles (:data:`EXECUTOR_IN_FLIGHT` with an executor)
    are in flight, so the envelopes of a 24 Mpx image are not copied into the
    queue all at once.
    """
    if jobs == 1:
        for task in tasks:
            yield _tile_task(task, how)
        return
    import concurrent.futures as cf
    import contextlib
    import multiprocessing

    if isinstance(jobs, numbers.Integral):
        # fork: workers share the imported modules; tile energies are cached per worker.
        pool_cm, limit = cf.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")), 4 * jobs
    else:  # the caller's executor (a Dask client's, say): the caller shuts it down
        pool_cm, limit = contextlib.nullcontext(jobs), EXECUTOR_IN_FLIGHT
    with pool_cm as pool:
        pending = set()
        try:
            for task in tasks:
                pending.add(pool.submit(_tile_task, task, how))
                if len(pending) >= limit:
                    finished, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                    yield from (f.result() for f in finished)
            for f in cf.as_completed(pending):
                yield f.result()
        except BaseException:  # Ctrl-C or a failing tile: drop the queue, do not wait for it
            for f in pending:
                f.cancel()
            raise


def solve_tiled(prob, shape, tile=256, overlap=None, *, polish="auto", max_memory=8 * 2**30,
                solver="auto", tol=1e-8, max_iter=None, verbose=False, progress=False, jobs=1, **options):
    """Solve a grid BoxQP in overlapping tiles, blend, and optionally polish globally.

    Parameters
    ----------
    prob : BoxQP or GridBounds
        Built by :func:`qpsolve.image_problem` (needs ``prob.grid``), or the
        bounds alone (:class:`GridBounds`): then the global operator is
        assembled only for the polish.
    shape : tuple
        Grid shape.
    tile : int or tuple
        Tile size per axis (>= 8).
    overlap : int, optional
        Overlap of neighbouring tiles (default ``max(4, tile // 8)``).
    polish : bool or 'auto'
        Warm-start a global solve from the stitched image and certify it.
        ``'auto'``: when the image has at most :data:`AUTO_POLISH_PIXELS`
        pixels and :func:`estimate_memory` is below ``max_memory``.
    solver, tol, max_iter, verbose, **options
        As in :func:`qpsolve.solve` (per tile and for the polish).
    progress : bool
        tqdm bar over the tiles.
    jobs : int or concurrent.futures.Executor
        Worker processes solving tiles side by side (``1``: in this
        process), or an executor to submit the tiles to (a Dask client's
        ``get_executor()``: one task per tile).  Each worker holds a few
        tile problems, not the image.

    Returns
    -------
    SolveResult
        Polished: certified against the *global* problem.  Not polished:
        ``x`` is the stitched image and the certificate is that of the tiles
        -- ``success`` when every tile problem is certified optimal, with
        objectives and gaps summed and the other numbers the worst tile's;
        the stitched image is *not* certified against the whole image (its
        objective there is ``info['stitched_objective']`` when ``prob`` is a
        BoxQP, ``None`` otherwise).  ``info['tiles']`` is the number of
        tiles, ``info['polished']`` whether the polish ran,
        ``info['tiles_retried']`` how many tiles ``solver='auto'`` had to
        re-solve (:data:`qpsolve.solvers.AUTO_RETRIES`) and
        ``info['uncertified_tiles']`` where those left uncertified start.

    Examples
    --------
    >>> import numpy as np
    >>> import qpsolve as qs
    >>> x = np.linspace(-1, 1, 40)
    >>> img = ((np.exp(-2 * (x[:, None]**2 + x**2)) * 255).astype(np.uint8) >> 6) << 6
    >>> prob = qs.image_problem(img, bits=2)
    >>> res = solve_tiled(prob, img.shape, tile=24, polish=True)
    >>> res.success, res.info["tiles"]
    (True, 4)
    """
    if getattr(prob, "grid", None) is None:
        raise ValueError("solve_tiled needs a grid problem (prob.grid), as built by qpsolve.image_problem")
    shape = tuple(int(s) for s in shape)
    if int(np.prod(shape)) != prob.n:
        raise ValueError(f"shape {shape} does not match the problem's {prob.n} variables")
    tile = check_tile(tile, len(shape))
    if overlap is None:
        overlap = max(4, min(tile) // 8)
    if isinstance(overlap, bool) or not isinstance(overlap, numbers.Integral) or not 0 <= overlap < min(tile) // 2:
        raise ValueError(f"overlap must be an integer in [0, tile/2), got {overlap!r}")
    if not callable(getattr(jobs, "submit", None)):
        check_positive_int(jobs, "jobs")
    if polish not in (True, False, "auto"):
        raise ValueError(f"polish must be True, False or 'auto', got {polish!r}")
    from dataclasses import replace

    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    lo = prob.lower.reshape(shape)
    hi = prob.upper.reshape(shape)
    num = np.zeros(shape)
    den = np.zeros(shape)
    slices = tile_slices(shape, tile, overlap)
    results = []
    retried = 0
    uncertified = []  # origins of the tiles left uncertified
    tasks = ((sl, replace(prob.grid, shape=tuple(s.stop - s.start for s in sl)), lo[sl], hi[sl]) for sl in slices)
    done = _run_tiles(tasks, jobs, (solver, tol, max_iter, verbose, options))
    for sl, r in tqdm(done, total=len(slices), desc="tiles", disable=not progress, leave=False, unit="tile"):
        retried += "retry" in r.info
        if not r.success:
            uncertified.append(tuple(int(s.start) for s in sl))
        results.append(r)
        w = blend_weights(sl, shape, overlap)
        num[sl] += w * r.x.reshape(w.shape)
        den[sl] += w
        del r.x, r.active  # keep the certificates, not per-tile copies of the image
    stitched = np.clip((num / den).ravel(), prob.lower, prob.upper)  # convex combination: inside already
    del num, den
    do_polish = polish is True or (polish == "auto" and prob.n <= AUTO_POLISH_PIXELS
                                   and estimate_memory(prob.n) <= max_memory)
    glob = prob if isinstance(prob, BoxQP) else (prob.problem() if do_polish else None)
    info = {"tiles": len(slices), "overlap": int(overlap), "polished": bool(do_polish),
            "stitched_objective": None if glob is None else float(glob.objective(stitched)),
            "tiles_certified": sum(bool(r.success) for r in results), "tiles_retried": retried,
            "uncertified_tiles": sorted(uncertified)}
    if do_polish:
        res = solve(glob, solver=solver, tol=tol, max_iter=max_iter, x0=stitched, verbose=verbose, **options)
        res.info.update(info)
        res.solve_time = time.perf_counter() - t0
        return res
    message = (f"{len(slices)} tiles, {info['tiles_certified']} certified optimal for their own tile problems; "
               f"the stitched image is not certified against the whole image (polish=True does that)")
    bad = len(results) - info["tiles_certified"]
    if bad:
        where = ", ".join(map(str, info["uncertified_tiles"][:5])) + (", ..." if bad > 5 else "")
        message += f"; uncertified tiles start at {where}"
    return finalize_parts(prob, stitched, results, tol, time.perf_counter() - t0, label="tiles", message=message,
                          info=info)
