"""The solver-comparison benchmark harness (``python -m benchmarks`` / ``qpsolve bench``), quick mode."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qpsolve.bench import harness as bench
from qpsolve.cli import main as cli_main

ROOT = Path(__file__).resolve().parent.parent


def _table(md):
    lines = [ln for ln in md.splitlines() if ln.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[1:]]
    return header, rows


def test_quick_run_writes_reports_and_skips_over_budget(tmp_path, capsys):
    out = tmp_path / "results"
    # budget 1e-6 s: the first size runs (nothing to extrapolate from), the second is skipped
    code = bench.main(["--quick", "--solvers", "pcg", "osqp", "--problems", "gaussian2", "--sizes", "32", "48",
                       "--budget", "1e-6", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    for name in ("solvers.md", "solvers.png", "solvers.json"):
        assert (out / name).stat().st_size > 0

    runs = json.loads((out / "solvers.json").read_text())["runs"]
    assert len(runs) == 4
    ran = [r for r in runs if r["outcome"] == "ran"]
    assert {(r["solver"], r["size"]) for r in ran} == {("pcg", 32), ("osqp", 32)}
    for r in ran:
        assert r["success"] and r["peak_mb"] > 10 and r["solve_time"] > 0 and r["build_time"] >= 0
        # the CPU seconds of the whole qs.solve call (its certificate and first kernel loads included,
        # which SolveResult.solve_time need not cover: no bound by solve_time holds)
        assert isinstance(r["solve_cpu"], float) and r["solve_cpu"] >= 0

    md = (out / "solvers.md").read_text()
    assert "Command: `python -m benchmarks --quick" in md and "cores" in md and "numpy" in md
    header, rows = _table(md)
    for col in ("problem", "size", "solver", "solve s", "CPU s", "build s", "iterations", "objective",
                "rel. gap", "proj. grad", "status", "peak MB"):
        assert col in header
    assert len(rows) == 4
    status = {(r[header.index("solver")], r[header.index("size")]): r[header.index("status")] for r in rows}
    cpu = {(r[header.index("solver")], r[header.index("size")]): r[header.index("CPU s")] for r in rows}
    assert cpu[("pcg", "32")] == f"{next(r for r in ran if r['solver'] == 'pcg')['solve_cpu']:.3f}"
    assert status[("pcg", "32")] == "optimal"
    assert status[("pcg", "48")].startswith("skipped (predicted") and "> budget" in status[("pcg", "48")]
    # the summary speaks of the default solver, and says what this run did not measure
    assert "Default solver (`solver='auto'` on these problems): `pdas`" in md
    assert "speed-up of pdas over osqp at 128^2: not measured" in md
    assert "pdas at 1024^2, `gaussian2`: not measured" in md


def test_timed_out_blocks_larger_sizes(monkeypatch, tmp_path):
    calls = []

    def fake_child(solver, problem, size, **kw):
        calls.append(size)
        return {"outcome": "timeout", "reason": "killed", "wall_time": 1.0}

    monkeypatch.setattr(bench, "run_child", fake_child)
    recs = bench.run_benchmark(["osqp"], ["gaussian2"], [32, 48, 64], time_limit=1, budget=100,
                               out_dir=tmp_path, log=lambda *a, **k: None)
    assert calls == [32]
    assert [r["reason"] for r in recs[1:]] == ["skipped: timed out at smaller size"] * 2


def _ran(t, peak=100.0, success=True, status="optimal"):
    return {"outcome": "ran", "success": success, "status": status, "solve_time": t, "peak_mb": peak,
            "baseline_mb": 70.0, "build_time": 0.01, "iterations": 3, "objective": 1.0, "relative_gap": 1e-12,
            "projected_gradient": 1e-14, "message": "", "wall_time": t + 1.0}


def test_repeat_reports_the_median_run_its_range_and_the_largest_peak(monkeypatch, tmp_path):
    # pdas: three runs per size, the middle one is not the first; ratio of medians 10 / 2 = 5
    times = {1024: [2.5, 1.5, 2.0], 2048: [9.0, 12.0, 10.0]}
    peaks = {1024: [300.0, 320.0, 310.0], 2048: [1000.0, 1100.0, 1050.0]}
    calls = []

    def fake_child(solver, problem, size, **kw):
        k = sum(1 for c in calls if c == size)
        calls.append(size)
        return _ran(times[size][k], peaks[size][k])

    monkeypatch.setattr(bench, "run_child", fake_child)
    recs = bench.run_benchmark(["pdas"], ["gaussian2"], [1024, 2048], time_limit=100, budget=1e6,
                               out_dir=tmp_path, log=lambda *a, **k: None, repeat=3)
    assert calls == [1024] * 3 + [2048] * 3
    assert [r["solve_time"] for r in recs] == [2.0, 10.0]
    assert [r["solve_times"] for r in recs] == [times[1024], times[2048]]
    assert [r["peak_mb"] for r in recs] == [320.0, 1100.0]
    md = (tmp_path / "solvers.md").read_text()
    header, rows = _table(md)
    assert header[header.index("solve s") + 1] == "range s"
    assert [r[header.index("range s")] for r in rows] == ["1.500-2.500", "9.000-12.000"]
    assert "made 3 times" in md
    assert ("time ratio 2048^2 / 1024^2, `gaussian2`: **5.00** (10.00 s / 2.00 s; medians of 3 and 3 runs, "
            "ranges 9.000-12.000 s and 1.500-2.500 s" in md)


def test_interleaved_repeats_come_in_rounds_and_give_the_same_medians(monkeypatch, tmp_path):
    # the same runs as above, made in rounds: every size's k-th run before any size's (k+1)-th
    times = {1024: [2.5, 1.5, 2.0], 2048: [9.0, 12.0, 10.0]}
    calls = []

    def fake_child(solver, problem, size, **kw):
        k = sum(1 for c in calls if c == size)
        calls.append(size)
        return _ran(times[size][k], 100.0 + k)

    monkeypatch.setattr(bench, "run_child", fake_child)
    recs = bench.run_benchmark(["pdas"], ["gaussian2"], [1024, 2048], time_limit=100, budget=1e6,
                               out_dir=tmp_path, log=lambda *a, **k: None, repeat=3, interleave=True)
    assert calls == [1024, 2048] * 3
    assert [r["solve_time"] for r in recs] == [2.0, 10.0]
    assert [r["solve_times"] for r in recs] == [times[1024], times[2048]]
    assert [r["peak_mb"] for r in recs] == [102.0, 102.0]
    md = (tmp_path / "solvers.md").read_text()
    assert "made 3 times, the repeats in rounds over all runs (interleaved)" in md
    assert "time ratio 2048^2 / 1024^2, `gaussian2`: **5.00** (10.00 s / 2.00 s; medians of 3 and 3 runs" in md
    assert json.loads((tmp_path / "solvers.json").read_text())["meta"]["interleave"] is True


def test_the_interleave_option_reaches_the_runs(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(bench, "run_child", lambda solver, problem, size, **kw: calls.append(size) or _ran(1.0))
    assert bench.main(["--solvers", "pcg", "--problems", "gaussian2", "--sizes", "48", "32", "--repeat", "2",
                       "--interleave", "--out", str(tmp_path)]) == 0
    assert calls == [32, 48, 32, 48]
    calls.clear()
    assert bench.main(["--solvers", "pcg", "--problems", "gaussian2", "--sizes", "32", "48", "--repeat", "2",
                       "--out", str(tmp_path)]) == 0
    assert calls == [32, 32, 48, 48]


def test_an_interleaved_repeat_that_fails_is_shown_and_larger_sizes_keep_their_runs(monkeypatch, tmp_path):
    # rounds: 32, 48 (first runs), 32 not certified, 48, 32, 48
    outcomes = iter([_ran(1.0), _ran(2.0), _ran(5.0, success=False, status="not_certified"), _ran(2.2),
                     _ran(1.1), _ran(2.1)])
    monkeypatch.setattr(bench, "run_child", lambda *a, **k: next(outcomes))
    recs = bench.run_benchmark(["pcg"], ["gaussian2"], [32, 48], time_limit=100, budget=1e6, out_dir=tmp_path,
                               log=lambda *a, **k: None, repeat=3, interleave=True)
    assert recs[0]["status"] == "not_certified" and recs[0]["solve_time"] == 5.0
    assert recs[0]["solve_times"] == [1.0, 5.0, 1.1]
    assert recs[1]["status"] == "optimal" and recs[1]["solve_times"] == [2.0, 2.2, 2.1]


def test_interleaved_partial_reports_say_how_many_runs_each_cell_has(monkeypatch, tmp_path):
    # what an interrupted run leaves: every write during the rounds, the prediction kept on the
    # record although its median is not the first run, no note once a cell is complete
    times = {32: [1.0, 0.5, 0.8], 48: [4.0, 3.0, 3.5]}
    calls, written = [], []

    def fake_child(solver, problem, size, **kw):
        k = sum(1 for c in calls if c == size)
        calls.append(size)
        return _ran(times[size][k])

    real_write = bench.write_results
    monkeypatch.setattr(bench, "run_child", fake_child)
    monkeypatch.setattr(bench, "write_results", lambda out, records, *a, **k: (
        written.append([(r["size"], r.get("repeat_note")) for r in records]), real_write(out, records, *a, **k)))
    recs = bench.run_benchmark(["pcg"], ["gaussian2"], [32, 48], time_limit=100, budget=1e6, out_dir=tmp_path,
                               log=lambda *a, **k: None, repeat=3, interleave=True)
    assert [(32, "1 of 3 runs so far"), (48, "1 of 3 runs so far")] in written
    assert [(32, "2 of 3 runs so far"), (48, "1 of 3 runs so far")] in written
    assert [(32, None), (48, "2 of 3 runs so far")] in written
    assert written[-1] == [(32, None), (48, None)]
    assert recs[1]["predicted"] > 0 and recs[1]["solve_time"] == 3.5


def test_interleave_without_repeats_runs_each_cell_once(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(bench, "run_child", lambda solver, problem, size, **kw: calls.append(size) or _ran(1.0))
    recs = bench.run_benchmark(["pcg"], ["gaussian2"], [32, 48], time_limit=100, budget=1e6, out_dir=tmp_path,
                               log=lambda *a, **k: None, repeat=1, interleave=True)
    assert calls == [32, 48] and all("repeats" not in r for r in recs)


def test_repeat_shows_a_failed_repeat_instead_of_the_median(monkeypatch, tmp_path):
    outcomes = iter([_ran(1.0), _ran(5.0, success=False, status="not_certified"), _ran(1.2)])
    monkeypatch.setattr(bench, "run_child", lambda *a, **k: next(outcomes))
    (rec,) = bench.run_benchmark(["pcg"], ["gaussian2"], [32], time_limit=100, budget=1e6, out_dir=tmp_path,
                                 log=lambda *a, **k: None, repeat=3)
    assert rec["status"] == "not_certified" and rec["solve_time"] == 5.0
    assert rec["repeat_note"] == "1 of 3 repeats not certified or not finished"
    md = (tmp_path / "solvers.md").read_text()
    assert "not_certified (1 of 3 repeats not certified or not finished)" in md


def test_a_repeat_killed_by_the_harness_is_reported_and_blocks_larger_sizes(monkeypatch, tmp_path):
    outcomes = iter([_ran(1.0), {"outcome": "timeout", "reason": "killed", "wall_time": 3.0}, _ran(2.0)])
    monkeypatch.setattr(bench, "run_child", lambda *a, **k: next(outcomes))
    recs = bench.run_benchmark(["pcg"], ["gaussian2"], [32, 48], time_limit=1, budget=1e6, out_dir=tmp_path,
                               log=lambda *a, **k: None, repeat=3)
    assert recs[0]["outcome"] == "timeout" and recs[0]["solve_times"] == [1.0, None, 2.0]
    assert recs[1]["reason"] == "skipped: timed out at smaller size"


@pytest.mark.parametrize("interleave", [False, True])
def test_repeat_skips_runs_that_hit_their_time_limit(interleave, monkeypatch, tmp_path):
    # interleaved or not: a first run at its time limit is neither repeated nor followed by larger sizes
    calls = []

    def fake_child(solver, problem, size, **kw):
        calls.append(size)
        return _ran(1.0, success=False, status="time_limit")

    monkeypatch.setattr(bench, "run_child", fake_child)
    recs = bench.run_benchmark(["pcg"], ["gaussian2"], [32, 48], time_limit=1, budget=1e6, out_dir=tmp_path,
                               log=lambda *a, **k: None, repeat=3, interleave=interleave)
    assert calls == [32]
    assert "repeats" not in recs[0] and recs[1]["reason"] == "skipped: timed out at smaller size"
    with pytest.raises(ValueError, match="repeat must be a positive integer"):
        bench.run_benchmark(["pcg"], ["gaussian2"], [32], time_limit=1, budget=1, out_dir=tmp_path, repeat=0)


def test_predict_time_uses_observed_exponent():
    t, p = bench.predict_time([(100, 1.0), (400, 8.0)], 1600)
    assert p == pytest.approx(1.5) and t == pytest.approx(64.0)
    assert bench.predict_time([], 100) == (None, bench.DEFAULT_EXPONENT)


@pytest.mark.parametrize("argv, word", [
    (["--solvers", "nope"], "unknown solver"),
    (["--problems", "nope"], "unknown problem"),
    (["--sizes", "0"], "sizes"),
    (["--sizes", "-4"], "sizes"),
    (["--time-limit", "0"], "time-limit"),
    (["--repeat", "0"], "repeat"),
])
def test_bad_arguments_exit_nonzero(tmp_path, capsys, argv, word):
    assert bench.main([*argv, "--out", str(tmp_path / "o")]) == 2
    assert word in capsys.readouterr().err
    assert cli_main(["bench", *argv, "--out", str(tmp_path / "o")]) == 2
    assert word in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_entry_points_from_repo_root():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    for cmd in ([sys.executable, "-m", "benchmarks", "--help"], [sys.executable, "-m", "qpsolve", "bench", "--help"]):
        res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=60)
        assert res.returncode == 0, res.stderr
        assert "--sizes" in res.stdout and "--quick" in res.stdout
    res = subprocess.run([sys.executable, "-m", "benchmarks", "--solvers", "nope"], cwd=ROOT,
                         capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode == 2 and "unknown solver" in res.stderr


def test_auto_is_a_solver_column_that_names_the_backend_it_picked(tmp_path, capsys):
    # the user-built plate is a matrix on a 2-D lattice: auto gives it to tnnmg, and the table says so
    code = bench.main(["--solvers", "auto", "--problems", "plate-textured", "--sizes", "32", "--time-limit", "60",
                       "--out", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    header, rows = _table((tmp_path / "solvers.md").read_text())
    (row,) = rows
    cell = dict(zip(header, row))
    assert cell["solver"] == "auto (tnnmg)" and cell["status"] == "optimal"
    assert bench.main(["--solvers", "magic", "--problems", "plate-textured", "--sizes", "32",
                       "--out", str(tmp_path)]) != 0
    assert "unknown solver 'magic'; choose 'auto' or one of" in capsys.readouterr().err


def test_summary_speaks_for_auto_rows_when_the_run_has_them():
    from qpsolve.bench.report import _summary

    def rec(solver, size, t):
        return {"solver": solver, "problem": "gaussian2", "size": size, "outcome": "ran", "success": True,
                "status": "optimal", "solve_time": t, "relative_gap": 1e-9, "peak_mb": 500.0, "baseline_mb": 100.0}

    lines = "\n".join(_summary([dict(rec("auto", 1024, 2.0), solve_cpu=1.5), dict(rec("auto", 2048, 9.0), solve_cpu=6.3),
                                rec("auto", 128, 0.1), rec("osqp", 128, 5.0)]))
    assert "Default solver (`solver='auto'` on these problems): `auto` (its own rows)." in lines
    assert "auto at 1024^2, `gaussian2`: **2.00 s**" in lines
    assert "auto time ratio 2048^2 / 1024^2, `gaussian2`: **4.50**" in lines
    assert "CPU seconds 6.30 / 1.50 = 4.20" in lines
    assert "speed-up of auto over osqp at 128^2: **50.0x**" in lines
    assert "not measured" in lines  # gaussian2-even was not run: said, not hidden


def test_repeats_keep_the_median_of_their_own_cpu_seconds():
    from qpsolve.bench.timing import combine_repeats

    runs = [{"outcome": "ran", "success": True, "solve_time": t, "solve_cpu": c, "peak_mb": 100, "wall_time": 1.0}
            for t, c in [(2.0, 1.9), (1.5, 1.4), (3.5, 1.6)]]  # the slowest wall run was a loaded one
    rec = combine_repeats(runs)
    assert rec["solve_time"] == 2.0 and rec["solve_cpu"] == 1.6
