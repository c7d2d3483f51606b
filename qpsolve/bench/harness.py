"""Solver-comparison benchmark: every registered solver on the paper's problems, size by size.

Used by ``python -m benchmarks`` (from the repository root) and ``qpsolve bench``.

Each (solver, problem, size) run happens in a fresh Python subprocess, so that

* peak memory is the child's own high-water mark (``ru_maxrss`` of the child,
  i.e. ``VmHWM`` on Linux, measured at its end and sent back), and
* a crash, a runaway or a timeout of one run cannot take the benchmark down.

Sizes are run in increasing order.  Before a run, the time of the same solver
on the same problem at the previous size is extrapolated with that solver's
observed growth exponent (``t ~ pixels**p``; ``p = 1.5`` until two sizes are
measured); a run predicted to exceed the budget is skipped, and a run that hit
its time limit marks all larger sizes of that solver/problem as skipped.

With ``repeat=k`` every run that finished is made ``k`` times, each in a
fresh subprocess, and the table shows the median run (the lower median for
even ``k``) with the range of the ``k`` solve times beside it: single solves
on a shared machine vary by a quarter, which a ratio of two of them cannot
tell from a change of the code.  A repeat that fails or is not certified is
shown instead of the median, never averaged away; peak memory is the largest
of the ``k``.

Outputs (rewritten after every run, so an interrupted benchmark leaves partial
results): ``solvers.md`` (Markdown table, machine and versions, summary),
``solvers.json`` (raw records) and ``solvers.png`` (log-log time vs. pixels).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ..validation import check_positive_int

__all__ = [
    "PROBLEMS",
    "DEFAULT_SIZES",
    "QUICK_SIZES",
    "build_problem",
    "run_child",
    "predict_time",
    "combine_repeats",
    "run_benchmark",
    "build_parser",
    "add_arguments",
    "run_from_args",
    "main",
]

#: default square sizes (pixels per side)
DEFAULT_SIZES = (64, 128, 256, 512, 1024, 2048)
#: sizes of ``--quick``
QUICK_SIZES = (32, 64)
DEFAULT_TIME_LIMIT = 300.0
QUICK_TIME_LIMIT = 60.0
#: default budget of a predicted run (s): "more than a few minutes" is skipped
DEFAULT_BUDGET = 180.0
#: growth exponent assumed until a solver has two measured sizes on a problem
DEFAULT_EXPONENT = 1.5
MIN_SIZE = 8
_MARK = "@@QPSOLVE-BENCH@@"

#: problem name -> one-line description (builders in :func:`build_problem`)
PROBLEMS = {
    "gaussian2": "paper's Gaussian, 2 bits, biharmonic, bc odd",
    "gaussian2-even": "paper's Gaussian, 2 bits, biharmonic, bc even",
    "rosenbrock2": "paper's Rosenbrock, 2 bits, biharmonic, bc odd",
    "camera3": "skimage camera resized, truncated to 3 bits, biharmonic, bc odd",
    "camera4": "skimage camera resized, truncated to 4 bits, biharmonic, bc odd",
    "gaussian2-masked": "Gaussian 2 bits, biharmonic, bc odd, a disk (radius n/8, centre (0.5n, 0.3n)) masked out",
}


def _camera(size):
    from skimage.data import camera
    from skimage.transform import resize

    img = resize(camera().astype(np.float64), (size, size), anti_aliasing=True,
                 preserve_range=True)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def build_problem(name, size):
    """Build one benchmark problem.

    Parameters
    ----------
    name : str
        A key of :data:`PROBLEMS`.
    size : int
        Side of the square image in pixels.

    Returns
    -------
    BoxQP
        From :func:`qpsolve.image_problem`.

    Examples
    --------
    >>> build_problem("gaussian2", 16).n
    256
    """
    from .. import image_problem
    from ..imaging.data import gaussian, rosenbrock, to_uint8, truncate_bits

    if name not in PROBLEMS:
        raise ValueError(f"unknown problem {name!r}; choose from {sorted(PROBLEMS)}")
    if name in ("gaussian2", "gaussian2-even", "gaussian2-masked"):
        img = truncate_bits(to_uint8(gaussian(size)), 2)
        if name == "gaussian2-masked":
            # a disk across the level contours (at the centre it would hold no active bound)
            yy, xx = np.mgrid[:size, :size]
            cy, cx = 0.5 * (size - 1), 0.3 * (size - 1)
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 > (size / 8.0) ** 2  # False inside the disk
            return image_problem(img, bits=2, bc="odd", mask=mask)
        return image_problem(img, bits=2, bc="even" if name.endswith("even") else "odd")
    if name == "rosenbrock2":
        return image_problem(truncate_bits(to_uint8(rosenbrock(size)), 2), bits=2, bc="odd")
    bits = int(name[-1])  # camera3 / camera4
    return image_problem(truncate_bits(_camera(size), bits), bits=bits, bc="odd")


# ----------------------------------------------------------------------------- child side

def _peak_mb():
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":  # bytes there, kB on Linux
        return peak / 2**20
    try:  # VmHWM is the same number on Linux; prefer it when readable
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return peak / 1024.0


def _child(spec):
    """Run one benchmark cell in this (fresh) process and return its record."""
    import qpsolve as qs
    from qpsolve.solvers import backend

    rec = {"baseline_mb": _peak_mb()}
    t0 = time.perf_counter()
    prob = build_problem(spec["problem"], spec["size"])
    rec["build_time"] = time.perf_counter() - t0
    mod = backend(spec["solver"])
    why = mod.supports(prob)
    if why is not None:
        rec.update(outcome="unsupported", reason=str(why))
        return rec
    res = qs.solve(prob, solver=spec["solver"], tol=spec["tol"], time_limit=spec["time_limit"])
    rec.update(
        outcome="ran",
        solve_time=float(res.solve_time),
        iterations=int(res.iterations),
        objective=float(res.objective),
        relative_gap=float(res.kkt.relative_gap),
        gap=float(res.kkt.gap),
        projected_gradient=float(res.kkt.projected_gradient),
        status=str(res.status),
        success=bool(res.success),
        message=str(res.message),
    )
    rec["peak_mb"] = _peak_mb()
    return rec


def _child_main():
    """Entry point of the subprocess: spec as JSON in ``argv[1]``, record as a marked JSON line."""
    spec = json.loads(sys.argv[1])
    try:
        rec = _child(spec)
    except Exception as exc:  # reported, not raised: the parent records it
        rec = {"outcome": "error", "reason": f"{type(exc).__name__}: {exc}", "peak_mb": _peak_mb()}
    sys.stdout.flush()
    print(_MARK + json.dumps(rec), flush=True)


# ----------------------------------------------------------------------------- parent side

def run_child(solver, problem, size, *, time_limit, tol, margin=None):
    """Run one cell in a fresh interpreter and return its record.

    Parameters
    ----------
    solver, problem : str
        Registry name and :data:`PROBLEMS` key.
    size : int
        Image side.
    time_limit : float
        Passed to :func:`qpsolve.solve`; the subprocess is killed after
        ``time_limit + margin`` seconds.
    tol : float
        Certificate tolerance.
    margin : float, optional
        Extra seconds for start-up, problem building and the certificate
        (default ``30 + 0.25 * time_limit``).

    Returns
    -------
    dict
        ``outcome`` is ``'ran'``, ``'unsupported'``, ``'error'`` (exception in
        the child), ``'crashed'`` (no record came back) or ``'timeout'``.
    """
    if margin is None:
        margin = 30.0 + 0.25 * time_limit
    spec = {"solver": solver, "problem": problem, "size": int(size), "time_limit": float(time_limit),
            "tol": float(tol)}
    env = dict(os.environ)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MPLBACKEND", "Agg")
    pkg_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = pkg_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cmd = [sys.executable, "-c", "from qpsolve.bench.harness import _child_main; _child_main()", json.dumps(spec)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=time_limit + margin)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the child's own session: it and anything it spawned
        except (ProcessLookupError, PermissionError):
            proc.kill()
        proc.communicate()
        return {"outcome": "timeout", "wall_time": time.perf_counter() - t0,
                "reason": f"killed after {time_limit + margin:.0f} s (time limit {time_limit:g} s + margin)"}
    wall = time.perf_counter() - t0
    for line in reversed(out.splitlines()):
        if line.startswith(_MARK):
            rec = json.loads(line[len(_MARK):])
            rec["wall_time"] = wall
            return rec
    tail = (err.strip().splitlines() or ["no output"])[-1]
    return {"outcome": "crashed", "wall_time": wall,
            "reason": f"exit code {proc.returncode}: {tail[:200]}"}


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
    peaks = [r["peak_mb"] for r in ran if r.get("peak_mb") is not None]
    if peaks:
        rec["peak_mb"] = max(peaks)
    rec["wall_time"] = sum(r.get("wall_time", 0.0) for r in runs)
    return rec


def _time_range(r):
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


def _machine():
    info = {"cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    info["ram_gb"] = round(int(line.split()[1]) / 2**20, 1)
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def _versions():
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("qpsolve", "numpy", "scipy", "pyamg", "osqp", "cvxpy", "scikit-image", "matplotlib"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _cell_status(r):
    o = r["outcome"]
    if o == "ran":
        return "optimal" if r["success"] else f"{r['status']}"
    if o == "skipped":
        return r["reason"]
    if o == "unsupported":
        return "unsupported: " + r.get("reason", "").split(";")[0]
    return f"{o}: {r.get('reason', '')}".strip()


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def _table_rows(records):
    order = {p: i for i, p in enumerate(PROBLEMS)}
    return sorted(records, key=lambda r: (order.get(r["problem"], 99), r["size"], r["solver_index"]))


COLUMNS = ("problem", "size", "pixels", "solver", "solve s", "build s", "iterations", "objective",
           "rel. gap", "proj. grad", "status", "peak MB")


def _default_solver():
    from ..solvers import AUTO_ORDER

    return AUTO_ORDER[0]


def _summary(records):
    """The targets of the default solver, as measured in this run (``not measured`` otherwise)."""
    cell = {(r["solver"], r["problem"], r["size"]): r for r in records}
    lead = _default_solver()

    def ran(solver, size, problem="gaussian2"):
        r = cell.get((solver, problem, size))
        return r if r is not None and r["outcome"] == "ran" else None

    def verdict(r):
        return "certified optimal" if r["success"] else f"**{r['status']}**"

    def both(a, b):
        return "" if a["success"] and b["success"] else " (not both optimal)"

    lines = [f"Default solver (`solver='auto'` on these problems): `{lead}`."]
    for problem in ("gaussian2", "gaussian2-even"):
        r = ran(lead, 1024, problem)
        lines.append(f"- {lead} at 1024^2, `{problem}`: " + (
            f"**{r['solve_time']:.2f} s**, {verdict(r)}, relative gap {r['relative_gap']:.2e} (target: <= 3 s)"
            if r else "not measured"))
    for problem in ("gaussian2", "gaussian2-even"):
        a, b = ran(lead, 1024, problem), ran(lead, 2048, problem)
        if a and b:
            spread = ""
            if a.get("repeats", 1) > 1 or b.get("repeats", 1) > 1:
                spread = (f"; medians of {b.get('repeats', 1)} and {a.get('repeats', 1)} runs, ranges "
                          f"{_time_range(b)} s and {_time_range(a)} s")
            lines.append(f"- {lead} time ratio 2048^2 / 1024^2, `{problem}`: **{b['solve_time'] / a['solve_time']:.2f}**"
                         f" ({b['solve_time']:.2f} s / {a['solve_time']:.2f} s{spread}; target <= 5, linear is 4)"
                         f"{both(a, b)}")
        else:
            lines.append(f"- {lead} time ratio 2048^2 / 1024^2, `{problem}`: not measured")
        if b:
            lines.append(f"- {lead} peak memory at 2048^2, `{problem}`: **{b['peak_mb']:.0f} MB** (child max RSS "
                         f"with building the QP and any assembly of P the solver asked for, of which {b['baseline_mb']:.0f} MB after imports; target <= 1500)")
    p, o = ran(lead, 128), ran("osqp", 128)
    if p and o:
        lines.append(f"- speed-up of {lead} over osqp at 128^2: **{o['solve_time'] / p['solve_time']:.1f}x** "
                     f"(osqp {o['solve_time']:.2f} s, {lead} {p['solve_time']:.3f} s; target >= 50x){both(p, o)}")
    else:
        lines.append(f"- speed-up of {lead} over osqp at 128^2: not measured")
    return lines


def write_markdown(path, records, meta):
    """Write the Markdown report (command, date, machine, versions, table, summary)."""
    m = meta["machine"]
    repeat = int(meta.get("repeat", 1))
    columns = COLUMNS if repeat == 1 else (*COLUMNS[:5], "range s", *COLUMNS[5:])
    lines = [
        "# Solver comparison",
        "",
        f"Command: `{meta['command']}`  ",
        f"Date: {meta['date']}  ",
        f"Machine: {m.get('cores')} cores, {m.get('ram_gb', '?')} GB RAM, {m.get('cpu', '?')}, "
        f"{m.get('platform')}, Python {m.get('python')}  ",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + "  ",
        f"Settings: tol {meta['tol']:g}, time limit {meta['time_limit']:g} s per run, skip budget "
        f"{meta['budget']:g} s (predicted), growth exponent {DEFAULT_EXPONENT} until measured; "
        "OPENBLAS_NUM_THREADS=" + os.environ.get("OPENBLAS_NUM_THREADS", "1 (set for each run)")
        + (f"; every run that finished was made {repeat} times" if repeat > 1 else ""),
        "",
        "Each run is a fresh subprocess. *solve s* is `SolveResult.solve_time`"
        + ("" if repeat == 1 else
           f" of the median of the {repeat} runs (the lower median for an even count; a run that failed "
           "or was not certified is shown instead), *range s* the fastest and slowest of them, and "
           "*peak MB* the largest") + "; *build s* is the time "
        "to build the image and the QP (2-D energies are matrix-free `GridOperator`s; backends that "
        "need the CSR matrix assemble it inside *solve s*); *peak MB* is the child's max RSS "
        "(interpreter and imports included). *rel. gap* and *proj. grad* are the shared certificate's relative "
        "duality gap and scaled projected gradient.",
        "",
        "## Summary (2-bit Gaussian)",
        "",
        *_summary(records),
        "",
        "## Problems",
        "",
        *[f"- `{k}`: {v}" for k, v in PROBLEMS.items()],
        "",
        "## Results",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for r in _table_rows(records):
        ran = r["outcome"] == "ran"
        vals = [r["problem"], str(r["size"]), str(r["size"] ** 2), r["solver"],
                _fmt(r.get("solve_time") if ran else None, ".3f"),
                *([] if repeat == 1 else [_time_range(r)]),
                _fmt(r.get("build_time"), ".3f"),
                _fmt(r.get("iterations") if ran else None, "d"),
                _fmt(r.get("objective") if ran else None, ".10g"),
                _fmt(r.get("relative_gap") if ran else None, ".2e"),
                _fmt(r.get("projected_gradient") if ran else None, ".2e"),
                (_cell_status(r) + (f" ({r['repeat_note']})" if r.get("repeat_note") else "")).replace("|", "/"),
                _fmt(r.get("peak_mb"), ".0f")]
        lines.append("| " + " | ".join(vals) + " |")
    path.write_text("\n".join(lines) + "\n")


def write_plot(path, records, solvers):
    """Log-log solve time against pixels, one panel per problem; hollow markers = not optimal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    problems = [p for p in PROBLEMS if any(r["problem"] == p for r in records)]
    ncol = min(3, max(1, len(problems)))
    nrow = max(1, math.ceil(len(problems) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(5 * ncol, 4 * nrow), squeeze=False)
    colors = {s: f"C{i % 10}" for i, s in enumerate(solvers)}
    markers = "osD^v<>ph*"
    for ax, prob in zip(axes.flat, problems):
        for i, s in enumerate(solvers):
            rs = sorted((r for r in records if r["problem"] == prob and r["solver"] == s
                         and r["outcome"] == "ran"), key=lambda r: r["size"])
            if not rs:
                continue
            px = [r["size"] ** 2 for r in rs]
            t = [max(r["solve_time"], 1e-4) for r in rs]
            mk = markers[i % len(markers)]
            ax.plot(px, t, "-", color=colors[s], label=s)
            ok = [(a, b) for a, b, r in zip(px, t, rs) if r["success"]]
            bad = [(a, b) for a, b, r in zip(px, t, rs) if not r["success"]]
            if ok:
                ax.plot(*zip(*ok), mk, color=colors[s])
            if bad:
                ax.plot(*zip(*bad), mk, markerfacecolor="none", color=colors[s])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(prob)
        ax.set_xlabel("pixels")
        ax.set_ylabel("solve time (s)")
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, title="hollow: not optimal", title_fontsize=7)
    for ax in list(axes.flat)[len(problems):]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _write_all(out_dir, records, meta, solvers, plot=True):
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "solvers.json").write_text(json.dumps({"meta": meta, "runs": records}, indent=1) + "\n")
    write_markdown(out_dir / "solvers.md", records, meta)
    if plot:
        write_plot(out_dir / "solvers.png", records, solvers)


def run_benchmark(solvers, problems, sizes, *, time_limit, budget, tol=1e-8, out_dir="benchmarks/results",
                  command=None, log=print, repeat=1):
    """Run the benchmark and write ``solvers.{md,json,png}`` into ``out_dir``.

    Parameters
    ----------
    solvers, problems : list of str
        Registry names and :data:`PROBLEMS` keys (validated by the caller).
    sizes : list of int
        Image sides, run in increasing order.
    time_limit : float
        Per-run ``time_limit`` of :func:`qpsolve.solve`.
    budget : float
        A run whose predicted solve time exceeds this is skipped.
    tol : float
        Certificate tolerance.
    out_dir : str or Path
        Output folder (created).
    command : str, optional
        Command line recorded in the report.
    log : callable
        Progress printer.
    repeat : int
        Runs of every cell that finished (see :func:`combine_repeats`); a
        run that hit its time limit is not repeated.

    Returns
    -------
    list of dict
        One record per (solver, problem, size), skipped ones included.

    Raises
    ------
    ValueError
        If ``repeat`` is not a positive integer.
    """
    check_positive_int(repeat, "repeat")
    out_dir = Path(out_dir)
    meta = {"command": command or "qpsolve.bench.run_benchmark(...)",
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": _machine(), "versions": _versions(), "tol": tol, "time_limit": time_limit,
            "budget": budget, "solvers": list(solvers), "problems": list(problems), "sizes": list(sizes),
            "repeat": int(repeat)}
    records = []
    history = {}   # (solver, problem) -> [(pixels, seconds)]
    blocked = {}   # (solver, problem) -> reason for skipping all larger sizes
    for size in sorted(sizes):
        for prob in problems:
            for si, solver in enumerate(solvers):
                key = (solver, prob)
                base = {"solver": solver, "problem": prob, "size": int(size), "solver_index": si}
                pixels = size * size
                if key in blocked:
                    rec = dict(base, outcome="skipped", reason=blocked[key])
                else:
                    pred, p = predict_time(history.get(key, []), pixels)
                    if pred is not None and pred > budget:
                        rec = dict(base, outcome="skipped", predicted=pred, exponent=p,
                                   reason=f"skipped (predicted {pred:.0f} s > budget {budget:g} s)")
                    else:
                        log(f"[bench] {solver:>12s} {prob:>16s} {size:5d}^2 ...", end="", flush=True)
                        rec = dict(base, **run_child(solver, prob, size, time_limit=time_limit, tol=tol))
                        if repeat > 1 and rec["outcome"] == "ran" and rec["status"] != "time_limit":
                            runs = [rec]
                            for _ in range(repeat - 1):
                                runs.append(run_child(solver, prob, size, time_limit=time_limit, tol=tol))
                            log(" " + ", ".join(f"{r['solve_time']:.3f} s" if r["outcome"] == "ran" else r["outcome"]
                                                for r in runs) + ";", end="")
                            rec = dict(base, **combine_repeats(runs))
                        if pred is not None:
                            rec["predicted"] = pred
                        o = rec["outcome"]
                        if o == "ran":
                            log((" shown:" if rec.get("repeats", 1) > 1 else "")
                                + f" {rec['solve_time']:.3f} s, {rec['status']}, {rec['peak_mb']:.0f} MB")
                            history.setdefault(key, []).append((pixels, rec["solve_time"]))
                            if rec["status"] == "time_limit":
                                blocked[key] = "skipped: timed out at smaller size"
                        else:
                            log(f" {o}: {rec.get('reason', '').split(';')[0]}")
                            if o == "timeout":
                                blocked[key] = "skipped: timed out at smaller size"
                            elif o == "unsupported":
                                blocked[key] = f"unsupported: {rec['reason'].split(';')[0]}"
                            else:
                                blocked[key] = f"skipped: {o} at smaller size"
                        records.append(rec)
                        _write_all(out_dir, records, meta, solvers, plot=False)
                        continue
                records.append(rec)
        _write_all(out_dir, records, meta, solvers, plot=False)
    _write_all(out_dir, records, meta, solvers, plot=True)
    log(f"[bench] wrote {out_dir / 'solvers.md'}, {out_dir / 'solvers.json'}, {out_dir / 'solvers.png'}")
    return records


# ----------------------------------------------------------------------------- command line

def add_arguments(p):
    """Add the benchmark's options to an :class:`argparse.ArgumentParser`."""
    p.add_argument("--solvers", nargs="+", metavar="NAME",
                   help="solvers to compare (default: all available)")
    p.add_argument("--problems", nargs="+", metavar="NAME",
                   help=f"problems (default: all): {', '.join(PROBLEMS)}")
    p.add_argument("--sizes", nargs="+", type=int, metavar="N",
                   help=f"square image sides (default: {' '.join(map(str, DEFAULT_SIZES))})")
    p.add_argument("--time-limit", type=float, default=None,
                   help=f"per-run time limit in s (default {DEFAULT_TIME_LIMIT:g}, {QUICK_TIME_LIMIT:g} with --quick)")
    p.add_argument("--budget", type=float, default=None,
                   help=f"skip a run whose predicted time exceeds this (s; default min({DEFAULT_BUDGET:g}, time limit))")
    p.add_argument("--tol", type=float, default=1e-8, help="certificate tolerance (default 1e-8)")
    p.add_argument("--quick", action="store_true",
                   help=f"sizes {' '.join(map(str, QUICK_SIZES))} and a {QUICK_TIME_LIMIT:g} s time limit "
                        "(explicit --sizes/--time-limit win)")
    p.add_argument("--repeat", type=int, default=1, metavar="K",
                   help="make every run that finished K times and report the median (default 1)")
    p.add_argument("--out", default=os.path.join("benchmarks", "results"),
                   help="output folder (default benchmarks/results)")
    return p


def build_parser(prog="python -m benchmarks"):
    """The stand-alone parser of ``python -m benchmarks``."""
    p = argparse.ArgumentParser(prog=prog, description="Compare qpsolve's solvers on the paper's problems.")
    return add_arguments(p)


def _resolve(args):
    from ..solvers import SOLVERS, available_solvers

    avail = available_solvers()
    solvers = args.solvers or avail
    for s in solvers:
        if s not in SOLVERS:
            raise ValueError(f"unknown solver {s!r}; choose from {list(SOLVERS)}")
        if s not in avail:
            raise ValueError(f"solver {s!r} is not installed here; available: {avail}")
    problems = args.problems or list(PROBLEMS)
    for q in problems:
        if q not in PROBLEMS:
            raise ValueError(f"unknown problem {q!r}; choose from {list(PROBLEMS)}")
    sizes = args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES)
    for n in sizes:
        if n < MIN_SIZE:
            raise ValueError(f"sizes must be integers >= {MIN_SIZE}, got {n}")
    tl = args.time_limit if args.time_limit is not None else (QUICK_TIME_LIMIT if args.quick else DEFAULT_TIME_LIMIT)
    if not (math.isfinite(tl) and tl > 0):
        raise ValueError(f"--time-limit must be a positive number of seconds, got {tl}")
    budget = args.budget if args.budget is not None else min(DEFAULT_BUDGET, tl)
    if not budget > 0:
        raise ValueError(f"--budget must be positive, got {budget}")
    if not 0 < args.tol < 1:
        raise ValueError(f"--tol must be in (0, 1), got {args.tol}")
    dedup = lambda xs: list(dict.fromkeys(xs))  # noqa: E731
    # (the repeat count is checked by run_benchmark, before anything is written)
    return dedup(solvers), dedup(problems), sorted(set(sizes)), tl, budget, args.repeat


def run_from_args(args, command=None):
    """Validate parsed arguments and run; returns the exit status (0).

    Raises
    ------
    ValueError
        For an unknown solver or problem name, a size below 8, a non-positive
        time limit, budget or repeat count.
    """
    solvers, problems, sizes, tl, budget, repeat = _resolve(args)
    if command is None:
        command = " ".join(shlex.quote(a) for a in [os.path.basename(sys.executable), *sys.argv])
    run_benchmark(solvers, problems, sizes, time_limit=tl, budget=budget, tol=args.tol, out_dir=args.out,
                  command=command, repeat=repeat)
    return 0


def main(argv=None, prog="python -m benchmarks"):
    """Command-line entry of ``python -m benchmarks``; returns the exit status.

    Bad arguments print one line on stderr and return 2.
    """
    args = build_parser(prog).parse_args(argv)
    argv_list = sys.argv[1:] if argv is None else list(argv)
    command = " ".join(shlex.quote(a) for a in ["python", "-m", "benchmarks", *argv_list])
    try:
        return run_from_args(args, command=command)
    except ValueError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
