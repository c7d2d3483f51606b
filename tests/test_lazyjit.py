"""The lazily compiled kernels: one compilation under concurrent first calls, pickling by reference."""

import pickle
import threading

import numpy as np

from qpsolve.linalg import amg, monotone
from qpsolve.linalg.lazyjit import LazyKernel


def _add_one(x, out):
    for i in range(x.size):
        out[i] = x[i] + 1.0


def test_concurrent_first_calls_compile_once(monkeypatch):
    import numba

    made = []
    real = numba.njit

    def counting(*args, **options):
        if not args:  # the kernel's own njit(**options)(func); numba's internals pass a function
            made.append(options)
        return real(*args, **options)

    monkeypatch.setattr(numba, "njit", counting)
    kernel = LazyKernel(_add_one)
    outs = [np.empty(4) for _ in range(8)]
    start = threading.Barrier(8)

    def first_call(out):
        start.wait()
        kernel(np.arange(4.0), out)

    threads = [threading.Thread(target=first_call, args=(o,)) for o in outs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1
    for out in outs:
        assert out.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_the_solvers_kernels_pickle_as_themselves():
    for kernel in (amg._pgs, monotone._descent):
        assert pickle.loads(pickle.dumps(kernel)) is kernel
