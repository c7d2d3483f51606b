"""Medians per case and checkout of ab.sh's lines: python summary.py OUT.jsonl NEW_PATH_PART."""
import json, sys, statistics as S
rows = [json.loads(l) for l in open(sys.argv[1])]
NEW = sys.argv[2]  # a part of the new checkout's path
out = {}
for r in rows:
    v = "new" if NEW in r["qpsolve"] else "main"
    out.setdefault((r["case"], v), []).append(r)
print("| case | version | runs | warm wall s (median) | warm CPU s | all warm walls | first solve (fresh process) | objective | iterations |")
print("|---|---|---|---|---|---|---|---|---|")
for (case, v), rs in sorted(out.items()):
    w = [x["warm"][0][0] for x in rs]; c = [x["warm"][0][1] for x in rs]; f = [x["first"][0] for x in rs]
    objs = {repr(x["objective"]) for x in rs}; its = {x["iterations"] for x in rs}
    print(f"| {case} | {v} | {len(rs)} | {S.median(w):.3f} | {S.median(c):.3f} | {', '.join(f'{a:.2f}' for a in w)} | {S.median(f):.2f} | {', '.join(objs)} | {', '.join(map(str, its))} |")
