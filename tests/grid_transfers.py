"""Dense reference of a grid kernel's transfer: the prolongation matrix its parent table stands for.

Shared by the tests of :mod:`qpsolve.linalg.gridmg`'s transfers (``test_tnnmg``,
``test_gridmg_parallel``): written as a plain loop over the table, independent
of the kernels under test.
"""

from __future__ import annotations

import numpy as np

from qpsolve.linalg import gridmg


def dense_transfer(n, periodic, order=None, monotone=False):
    """``(nc, parents, weights, M)``: one axis' parent table (bilinear-monotone when ``monotone``)
    and its dense ``n x nc`` prolongation matrix."""
    if monotone:
        nc, par, w = gridmg._monotone_parents(n, periodic)
    else:
        nc, par, w = gridmg._parents(n, periodic, order)
    M = np.zeros((n, nc))
    for i in range(n):
        for k in range(par.shape[1]):
            if par[i, k] >= 0:
                M[i, par[i, k]] += w[i, k]
    return nc, par, w, M
