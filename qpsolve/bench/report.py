"""The benchmark's report: ``solvers.md`` (table, machine, versions, summary), ``solvers.json``, ``solvers.png``."""

from __future__ import annotations

import json
import math
import os
import platform

from ..linalg.threads import meminfo
from .matrix_problems import variables
from .problems import PROBLEMS
from .timing import DEFAULT_EXPONENT, time_range

__all__ = ["machine_info", "package_versions", "write_markdown", "write_plot", "write_results"]


def machine_info():
    info = {"cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    total = meminfo("MemTotal")
    if total is not None:
        info["ram_gb"] = round(total / 2**30, 1)
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def package_versions():
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


COLUMNS = ("problem", "size", "pixels", "solver", "solve s", "CPU s", "build s", "iterations", "objective",
           "rel. gap", "proj. grad", "status", "peak MB")


def _default_solver():
    from ..solvers import AUTO_ORDER

    return AUTO_ORDER[0]


def _summary(records):
    """The targets of the default solver, as measured in this run (``not measured`` otherwise).

    The default is ``solver="auto"``: its own rows (``--solvers auto``) speak
    for it when the run has them, else the rows of the backend it tries
    first (``AUTO_ORDER[0]``).
    """
    cell = {(r["solver"], r["problem"], r["size"]): r for r in records}
    lead = "auto" if any(r["solver"] == "auto" and r["outcome"] == "ran" for r in records) else _default_solver()

    def ran(solver, size, problem="gaussian2"):
        r = cell.get((solver, problem, size))
        return r if r is not None and r["outcome"] == "ran" else None

    def verdict(r):
        return "certified optimal" if r["success"] else f"**{r['status']}**"

    def both(a, b):
        return "" if a["success"] and b["success"] else " (not both optimal)"

    lines = [f"Default solver (`solver='auto'` on these problems): " + (
        "`auto` (its own rows)." if lead == "auto" else f"`{lead}`.")]
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
                          f"{time_range(b)} s and {time_range(a)} s")
            cpu = (f"; CPU seconds {b['solve_cpu']:.2f} / {a['solve_cpu']:.2f} = "
                   f"{b['solve_cpu'] / a['solve_cpu']:.2f}" if a.get("solve_cpu") and b.get("solve_cpu") else "")
            lines.append(f"- {lead} time ratio 2048^2 / 1024^2, `{problem}`: **{b['solve_time'] / a['solve_time']:.2f}**"
                         f" ({b['solve_time']:.2f} s / {a['solve_time']:.2f} s{spread}{cpu}; target <= 5, linear is 4)"
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
        + (f"; every run that finished was made {repeat} times" if repeat > 1 else "")
        + (", the repeats in rounds over all runs (interleaved)" if repeat > 1 and meta.get("interleave") else ""),
        "",
        "Each run is a fresh subprocess. *solve s* is `SolveResult.solve_time`"
        + ("" if repeat == 1 else
           f" of the median of the {repeat} runs (the lower median for an even count; a run that failed "
           "or was not certified is shown instead), *range s* the fastest and slowest of them, and "
           "*peak MB* the largest") + "; *CPU s* is the user + system seconds of the solve in the child "
        "(the median over the runs; on a shared machine it moves much less than *solve s*); *build s* is the time "
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
        who = r["solver"] + (f" ({r['backend']})" if r["solver"] == "auto" and r.get("backend") else "")
        vals = [r["problem"], str(r["size"]), str(variables(r["problem"], r["size"])), who,
                _fmt(r.get("solve_time") if ran else None, ".3f"),
                *([] if repeat == 1 else [time_range(r)]),
                _fmt(r.get("solve_cpu") if ran else None, ".3f"),
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
            px = [variables(prob, r["size"]) for r in rs]
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


def write_results(out_dir, records, meta, solvers, plot=True):
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "solvers.json").write_text(json.dumps({"meta": meta, "runs": records}, indent=1) + "\n")
    write_markdown(out_dir / "solvers.md", records, meta)
    if plot:
        write_plot(out_dir / "solvers.png", records, solvers)
