for i in 1 2 3 4; do for c in coffee-3-default coffee-4-default astronaut-3-default; do for j in 2 3; do
OPENBLAS_NUM_THREADS=1 python -m benchmarks.dense --child $c --channel-jobs $j | python -c "import json,sys,os; r=json.loads(sys.stdin.read().strip().splitlines()[-1]); print('$c', $j, round(r['wall'],2), round(r['cpu'],2), round(r['peak_mb']), r['certified'], r['load'])"
done; done; done
