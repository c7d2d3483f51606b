"""Issue #20, fourth session: one figure from the benchmark runs' JSON files (nothing is re-run).

``python -m benchmarks.amg_session4_plot`` reads ``session4-final-256``, ``session4-quiet-512`` and ``session4-final-1024`` (this
session's lattice path), ``session4-same-run-256`` (``pcg`` in the same run as the first lattice
measurements) and ``session3-large`` (``pcg``, the third session) and writes
``benchmarks/results/amg/session4-summary.png``: solve seconds of the textured plate against its
side, per path, and the 256² same-run comparison with Clarabel.
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "amg"


def _runs(folder):
    path = RESULTS / folder / "solvers.json"
    if not path.exists():
        return []
    return [r for r in json.loads(path.read_text())["runs"] if r.get("outcome") == "ran"]


def _times(runs, solver, problem):
    pts = sorted((r["size"], r["solve_time"]) for r in runs if r["solver"] == solver and r["problem"] == problem)
    return [p[0] for p in pts], [p[1] for p in pts]


def main():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    final = _runs("session4-final-256") + _runs("session4-quiet-512") + _runs("session4-final-1024")
    pcg = _runs("session4-same-run-256") + _runs("session3-large")
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    for runs, solver, label, style in [(final, "tnnmg", "tnnmg on the lattice (session 4)", "o-"),
                                       (pcg, "pcg", "pcg, AMG (256²: session 4 run; 512², 1024²: session 3)", "s--"),
                                       (final, "cvxpy", "Clarabel (cvxpy)", "^:")]:
        x, y = _times(runs, solver, "plate-textured")
        if x:
            ax.loglog([s * s for s in x], y, style, label=label)
    ax.axhline(20, color="grey", lw=0.8)
    ax.text(7e4, 22, "512² target 20 s", color="grey", fontsize=8)
    ax.set_xlabel("variables")
    ax.set_ylabel("solve s (wall, shared 2-core machine)")
    ax.set_title("variable-stiffness plate, textured envelopes")
    ax.legend(fontsize=8)
    names = ["plate-smooth", "plate-textured"]
    width = 0.27
    for k, (runs, solver, label) in enumerate([(final, "tnnmg", "tnnmg (lattice)"),
                                               (_runs("session4-same-run-256"), "pcg", "pcg (AMG; the first run, 14:24 UTC)"),
                                               (final, "cvxpy", "Clarabel")]):
        vals = []
        for name in names:
            x, y = _times([r for r in runs if r["size"] == 256], solver, name)
            vals.append(y[0] if y else 0.0)
        bx.bar([i + (k - 1) * width for i in range(len(names))], vals, width, label=label)
    bx.set_xticks(range(len(names)), names)
    bx.set_ylabel("solve s, median of 3")
    bx.set_title("256²: tnnmg and Clarabel in the same run (14:47 UTC)")
    bx.legend(fontsize=8)
    fig.tight_layout()
    out = RESULTS / "session4-summary.png"
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main()
