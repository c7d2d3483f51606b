"""Times of repeated and growing runs: the median of repeats, the extrapolation to the next size."""

from __future__ import annotations

import math

__all__ = ["DEFAULT_EXPONENT", "combine_repeats", "time_range", "predict_time"]

#: growth exponent assumed until a solver has two measured sizes on a problem
DEFAULT_EXPONENT = 1.5


def combine_repeats(runs):
    """One table record from repeated runs of the same cell.

    Parameters
    ----------
    runs : list of dict
        Records of :func:`run_child` for one (solver, problem, size); the
        first has ``outcome == 'ran'``.

    Returns
    -------
    dict
        The median run by solve time (the lower median for an even count),
        or the first run that did not finish or was not certified when some
        did and some did not; with ``repeats``, ``solve_times`` (``None`` for
        runs that did not finish), ``peak_mb`` the largest of the runs,
        ``wall_time`` their sum and, when a failure is shown, ``repeat_note``.

    Examples
    --------
    >>> runs = [{"outcome": "ran", "success": True, "solve_time": t, "peak_mb": m, "wall_time": 1.0}
    ...         for t, m in [(2.0, 300), (1.5, 310), (3.5, 290)]]
    >>> rec = combine_repeats(runs)
    >>> rec["solve_time"], rec["solve_times"], rec["peak_mb"], rec["wall_time"]
    (2.0, [2.0, 1.5, 3.5], 310, 3.0)
    """
    ran = [r for r in runs if r["outcome"] == "ran"]
    bad = [r for r in runs if r["outcome"] != "ran" or not r["success"]]
    if bad and len(bad) < len(runs):
        rec = dict(bad[0])
        rec["repeat_note"] = f"{len(bad)} of {len(runs)} repeats not certified or not finished"
    else:
        rec = dict(sorted(ran, key=lambda r: r["solve_time"])[(len(ran) - 1) // 2])
    rec["repeats"] = len(runs)
    rec["solve_times"] = [r["solve_time"] if r["outcome"] == "ran" else None for r in runs]
    cpus = sorted(r["solve_cpu"] for r in ran if r.get("solve_cpu") is not None)
    if cpus:  # the median of the runs' own CPU seconds (not necessarily the median run's)
        rec["solve_cpu"] = cpus[(len(cpus) - 1) // 2]
    peaks = [r["peak_mb"] for r in ran if r.get("peak_mb") is not None]
    if peaks:
        rec["peak_mb"] = max(peaks)
    rec["wall_time"] = sum(r.get("wall_time", 0.0) for r in runs)
    return rec


def time_range(r):
    times = [t for t in r.get("solve_times") or [] if t is not None]
    return f"{min(times):.3f}-{max(times):.3f}" if len(times) > 1 else "-"


def predict_time(history, pixels, default_exponent=DEFAULT_EXPONENT):
    """Extrapolate a solver's solve time to ``pixels``.

    Parameters
    ----------
    history : list of (int, float)
        ``(pixels, seconds)`` measured at smaller sizes, in increasing order.
    pixels : int
        The size to predict.
    default_exponent : float
        Growth exponent used until two sizes are measured.

    Returns
    -------
    (float or None, float)
        Predicted seconds (``None`` without history) and the exponent used.

    Examples
    --------
    >>> predict_time([(1000, 1.0)], 4000)
    (8.0, 1.5)
    >>> t, p = predict_time([(1000, 1.0), (4000, 16.0)], 16000); round(t, 6), round(p, 6)
    (256.0, 2.0)
    """
    if not history:
        return None, default_exponent
    p = default_exponent
    if len(history) >= 2:
        (n1, t1), (n2, t2) = history[-2], history[-1]
        if n2 > n1 and t1 > 0 and t2 > 0:
            # clamp: tiny runs are dominated by overheads and give meaningless slopes
            p = min(3.0, max(1.0, math.log(t2 / t1) / math.log(n2 / n1)))
    n0, t0 = history[-1]
    return max(t0, 1e-3) * (pixels / n0) ** p, p
