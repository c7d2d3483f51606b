#!/bin/bash
# alternate the benchmark's pdas target runs on two trees: ab_pdas.sh OLD NEW ROUNDS
. /work/venv/bin/activate
OLD=$1; NEW=$2; R=${3:-2}
for i in $(seq ${START:-1} $R); do
  for t in old new; do
    tree=$OLD; [ $t = new ] && tree=$NEW
    echo "== $t $i $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
    (cd $tree && PYTHONPATH=$tree python -m benchmarks --solvers pdas --problems gaussian2 --sizes 1024 2048 --repeat 5 --time-limit 400 --budget 400 --out /work/scratch/s24/ab/$t$i > /work/scratch/s24/ab/$t$i.log 2>&1)
    grep -h "ratio 2048" /work/scratch/s24/ab/$t$i/solvers.md
  done
done
