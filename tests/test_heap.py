"""qpsolve.linalg.heap: big solves take their temporaries from the heap, and give the setting back."""

import numpy as np
import pytest

import qpsolve as qs
from qpsolve.linalg import heap as _heap

glibc = pytest.mark.skipif(_heap._libc is None, reason="mallopt is glibc's; elsewhere large_heap is a no-op")

BIG = 5 * 2**20  # 40 MiB of float64: above glibc's largest mmap threshold (32 MiB)
# What the assertions "from a mapping" allocate: larger than any hole a freed BIG array (or a solve of
# another test) can leave inside the heap.  glibc serves a request from a free chunk of the heap that
# fits before it thinks of mmap; a freed 40 MiB array below a later small allocation stays such a
# chunk (malloc_trim cannot give it back), and a second BIG array then came from "[heap]" with the
# setting correctly restored (one CI run in six, session 10).
FRESH = 4 * BIG


def _region(a):
    """The /proc/self/maps line that holds ``a``'s data."""
    addr = a.ctypes.data
    with open("/proc/self/maps") as fh:
        for line in fh:
            lo, hi = (int(s, 16) for s in line.split()[0].split("-"))
            if lo <= addr < hi:
                return line
    raise AssertionError("address not mapped")


@glibc
def test_big_arrays_come_from_the_heap_inside_and_from_mappings_after():
    with _heap.large_heap(_heap.HEAP_MIN_PIXELS):
        inside = np.ones(BIG)
        assert "[heap]" in _region(inside)
        del inside
    after = np.ones(FRESH)
    assert "[heap]" not in _region(after)


@glibc
def test_nested_and_failing_solves_restore_the_setting():
    with pytest.raises(RuntimeError, match="boom"):
        with _heap.large_heap(_heap.HEAP_MIN_PIXELS):
            with _heap.large_heap(_heap.HEAP_MIN_PIXELS):
                pass
            assert "[heap]" in _region(np.ones(BIG))  # the outer solve still runs on the heap
            raise RuntimeError("boom")
    assert _heap._depth == 0
    assert "[heap]" not in _region(np.ones(FRESH))


@glibc
def test_small_problems_change_nothing():
    with _heap.large_heap(_heap.HEAP_MIN_PIXELS - 1):
        assert _heap._depth == 0
        assert "[heap]" not in _region(np.ones(FRESH))


def test_a_solve_under_the_heap_setting_is_the_same_solve(monkeypatch):
    # The threshold lowered so that a small problem takes the large-heap path: the answer is
    # bit-for-bit the one of the ordinary path.
    y = (np.add.outer(np.arange(24.0), np.arange(24.0)) ** 1.5 / 20.0).astype(np.uint8)
    prob = qs.image_problem(y, bits=8)
    plain = qs.solve(prob)
    monkeypatch.setattr(_heap, "HEAP_MIN_PIXELS", 1)
    heaped = qs.solve(prob)
    assert plain.success and heaped.success
    np.testing.assert_array_equal(plain.x, heaped.x)
    assert _heap._depth == 0
