#!/bin/bash
# tiled dequantize (tile=64, defaults), before (HEAD worktree) and after (working tree), alternating
. /work/venv/bin/activate
export OPENBLAS_NUM_THREADS=1
for case in "4 auto camera" "3 auto camera" "3 auto coffee" "4 auto astronaut"; do
  for tree in /work/wt-before /work/main; do
    echo -n "$(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg) $tree: "
    (cd $tree && PYTHONPATH=$tree python benchmarks/results/dense/session12/tiled.py $case 2>&1 | head -1)
  done
done
