"""Each new test of tests/test_lattice_kernels.py against broken kernels: apply one mutation to
qpsolve/linalg/lattice.py, run the file, record which tests fail, restore the file.

``PYTHONPATH=$PWD python benchmarks/results/amg/session11-detect/mutants.py`` from the worktree root.
"""
import re
import subprocess
import sys

SRC = "qpsolve/linalg/lattice.py"
MUTANTS = [
    ("wrap check off by one (>= m -> > m)", "if j + dj < 0 or j + dj >= m or", "if j + dj < 0 or j + dj > m or"),
    ("wrap check off by one (< 0 -> < -1)", "if j + dj < 0 or j + dj >= m or", "if j + dj < -1 or j + dj >= m or"),
    ("radius limit off by one", "abs(di) > rmax or abs(dj) > rmax", "abs(di) > rmax or abs(dj) > rmax + 1"),
    ("offsets keep stored zeros", "            if data[k] != 0:\n                d = np.int64(indices[k]) - r\n                seen",
     "            if True:\n                d = np.int64(indices[k]) - r\n                seen"),
    ("offsets slice drops the highest", "seen[lo + N - 1:hi + N]", "seen[lo + N - 1:hi + N - 1]"),
    ("scatter assigns instead of summing", "A[r, (di + R) * W + dj + R] += x", "A[r, (di + R) * W + dj + R] = x"),
    ("scatter mirrors dj", "A[r, (di + R) * W + dj + R] += x", "A[r, (di + R) * W - dj + R] += x"),
    ("scatter window off by one", "if abs(di) <= R and abs(dj) <= R:", "if abs(di) <= R and abs(dj) < R:"),
    ("outside sum drops its first term", "            s = x\n", "            s = 0.0 * x\n"),
    ("numpy path: wrap check off by one", "if j2.min() < 0 or j2.max() >= m:", "if j2.min() < 0 or j2.max() > m:"),
    ("numpy path: radius limit off by one", "return None if R > rmax else R", "return None if R > rmax + 1 else R"),
    ("numpy path: offsets keep stored zeros", "    keep = P.data != 0.0\n", "    keep = P.data == P.data\n"),
    ("outside sum ignores earlier duplicates", "if indices[kk] == c and data[kk] != 0:", "if indices[kk] == c and data[kk] != 0 and kk < 0:"),
]
orig = open(SRC).read()
try:
    for name, old, new in MUTANTS:
        assert orig.count(old) == 1, name
        open(SRC, "w").write(orig.replace(old, new))
        out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              "tests/test_lattice_kernels.py"], capture_output=True, text=True).stdout
        failed = sorted(set(re.findall(r"FAILED tests/test_lattice_kernels.py::(\w+)\[(\w+)\]", out)))
        print(f"{name}: {len(failed)} failing: " + ", ".join(f"{t}[{c}]" for t, c in failed), flush=True)
finally:
    open(SRC, "w").write(orig)
