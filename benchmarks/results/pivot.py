"""One row per problem and size, one column per solver: the solver benchmark's JSON as docs/benchmarks.md shows it.

``python benchmarks/results/pivot.py benchmarks/results/solvers.json`` prints the Markdown table.  A cell is
the median solve seconds (bold when certified), ``(→ tnnmg)`` when ``auto`` or ``pdas`` handed the problem over,
the status and relative gap when not certified, ``skip`` when the harness skipped the run (predicted over its
budget, or out of time at a smaller size), ``n/a`` when the solver does not take the problem.
"""

import json
import re
import sys

NAMES = {"gaussian2": "2-bit Gaussian, odd", "gaussian2-even": "2-bit Gaussian, even",
         "rosenbrock2": "2-bit Rosenbrock, odd", "camera3": "camera, 3 bits", "camera4": "camera, 4 bits",
         "gaussian2-masked": "masked Gaussian"}
HEAD = {"cvxpy": "cvxpy (Clarabel)"}


def cell(r):
    if r is None:
        return ""
    if r["outcome"] == "unsupported":
        return "n/a"
    if r["outcome"] != "ran":
        return "skip"
    t = f"{r['solve_time']:.3g}"
    chain = re.findall(r"\[(\w[\w-]*) -> (\w[\w-]*)", r.get("message", ""))
    via = ""
    m = re.search(r"pdas: .*?; (\w[\w-]*) from (?:that point|its own start|the caller)", r.get("message", ""))
    if m:
        via = f" (→ {m.group(1)})"
    elif chain:
        via = f" (→ {chain[-1][1]})"
    if r["success"]:
        return f"**{t}**{via}"
    if r["status"] == "time_limit":
        return f"{t} (time limit)"
    return f"{t} ({r['status']}, gap {r['relative_gap']:.2g}){via}"


def main(path):
    data = json.load(open(path))
    runs, solvers = data["runs"], data["meta"]["solvers"]
    keys = []
    for r in runs:
        k = (r["problem"], r["size"])
        if k not in keys:
            keys.append(k)
    keys.sort(key=lambda k: (list(NAMES).index(k[0]) if k[0] in NAMES else 99, k[1]))
    by = {(r["problem"], r["size"], r["solver"]): r for r in runs}
    print("| problem | size | " + " | ".join(HEAD.get(s, s) for s in solvers) + " |")
    print("|---|---|" + "---|" * len(solvers))
    for p, n in keys:
        cells = [cell(by.get((p, n, s))) for s in solvers]
        print(f"| {NAMES.get(p, p)} | {n}² | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
