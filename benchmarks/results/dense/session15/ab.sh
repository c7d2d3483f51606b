#!/bin/bash
# Alternate two checkouts of qpsolve, fresh processes, ROUNDS times over the cases:
#   bash ab.sh OLD_CHECKOUT NEW_CHECKOUT OUT.jsonl [ROUNDS]
# Each line of OUT.jsonl is one process of solve_twice.py (its second solve is the warm one);
# summary.py OUT.jsonl prints the table of notes.md.
old=$1; new=$2; out=$3; rounds=${4:-4}
here=$(cd "$(dirname "$0")" && pwd)
for round in $(seq "$rounds"); do
  for case in camera-3 camera-4 plate-textured-512 plate-textured-1024; do
    for tree in "$old" "$new"; do
      (cd "$tree" && PYTHONPATH="$tree" python "$here/solve_twice.py" "$case" 2) >> "$out"
    done
  done
  echo "round $round $(date -u) load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done
