"""The Schur complement cache: ``P^g`` (the exact fast inverse) restricted to the contacts."""

from __future__ import annotations

import numpy as np

from ...linalg import greens

__all__ = ["SchurCache"]


class SchurCache:
    """``P^g`` restricted to a growing set of pixels, cached across iterations.

    New pixels append rows and columns; when most cached pixels have left the
    active set the cache is compacted to the current set.  ``odd`` boundaries
    also need each pixel's edge traces, kept as a list of column blocks so
    that growing never copies them.
    """

    def __init__(self, green, n, table=True):
        self.green = green
        # Small grids solved many times: every block is a gather.  Blocks evaluated here have the
        # table's bits (exact_order) wherever the grid may get one, so it does not matter which.
        self.table = green.dense if table else None
        self.exact = table and green.shape[0] * green.shape[1] <= greens.DENSE_TABLE_PIXELS
        self.pos = np.full(n, -1, dtype=np.int32 if n < 2**31 else np.int64)
        self._reset()
        self.evaluated = 0

    def _reset(self):
        self.pos[:] = -1
        self.idx = np.zeros(0, dtype=np.int64)
        self.store = np.zeros((0, 0))  # grows by a quarter; S is its leading block
        self.chunks = []  # [(start, stop, traces)] covering idx, for odd boundaries

    def _cross(self, new, tr_new):
        if not self.chunks:
            return self.green.block(new, self.idx, tr_new, None, self.exact)
        return np.concatenate([self.green.block(new, self.idx[a:b], tr_new, tr, self.exact)
                               for a, b, tr in self.chunks],
                              axis=1)

    def blocks(self, base, new):
        """``P^g[base, new]`` and ``P^g[new, new]`` (``base`` already evaluated)."""
        if self.table is not None:
            return self.table[np.ix_(base, new)], self.table[np.ix_(new, new)]
        self._add(new)
        pb, pn = self.pos[base], self.pos[new]
        return self.store[np.ix_(pb, pn)], self.store[np.ix_(pn, pn)]

    def _add(self, pixels):
        new = pixels[self.pos[pixels] < 0]
        if new.size:
            tr_new = self.green.traces(new)
            k = self.idx.size
            size = k + new.size
            if size > self.store.shape[0]:
                grown = np.empty((size + size // 4 + 16,) * 2)
                grown[:k, :k] = self.store[:k, :k]
                self.store = grown
            S = self.store
            if k:
                cross = self._cross(new, tr_new)
                S[k:size, :k] = cross
                S[:k, k:size] = cross.T
            corner = self.green.block(new, new, tr_new, tr_new, self.exact)
            S[k:size, k:size] = 0.5 * (corner + corner.T)
            self.pos[new] = np.arange(k, size)
            self.idx = np.concatenate([self.idx, new])
            if tr_new is not None:
                self.chunks.append((k, size, tr_new))
            self.evaluated += new.size

    def submatrix(self, act):
        if self.table is not None:
            return self.table[np.ix_(act, act)]
        self._add(act)
        p = self.pos[act]
        S = self.store[np.ix_(p, p)]
        if self.idx.size > 2 * act.size:
            # Mostly stale: keep just the current set, in its order (a tight store gathers faster).
            chunks = []
            if self.chunks:
                chunks = [(0, act.size, self.green.merge_traces([tr for _, _, tr in self.chunks], p))]
            self._reset()
            self.store, self.idx, self.chunks = S.copy(), act.copy(), chunks
            self.pos[act] = np.arange(act.size)
        return S
