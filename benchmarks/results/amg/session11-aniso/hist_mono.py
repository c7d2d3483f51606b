import sys, runpy
from qpsolve.linalg import gridmg as g
g.MONOTONE_SEMI = True
sys.argv = ["variant.py", "both", sys.argv[1]]
runpy.run_path("/work/wt-aniso/benchmarks/results/amg/session11-aniso/variant.py", run_name="__main__")
