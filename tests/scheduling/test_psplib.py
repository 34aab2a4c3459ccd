"""PSPLIB reader, reference tables and the solve-psplib command."""

from __future__ import annotations

import json

import pytest

from scheduling import SolveStatus, solve, verify_schedule
from scheduling.cli import solve_psplib_main
from scheduling.psplib import (
    PsplibFormatError,
    instance_id,
    parse_psplib,
    read_best_known_table,
    read_bounds_table,
    read_optimum_table,
)

from .conftest import DATA

# hand-checked optima (the reasoning is in each file's header line and below)
TINY = {
    "tiny_energy.sm": 6,  # = resource energy bound: 12 units of work on capacity 2
    "tiny_disjunctive.sm": 6,  # jobs 2, 3, 4 pairwise exceed R1, so 3 x 2 in sequence; bounds give 5
    "tiny_two_resources.sm": 8,  # 2 and 3 cannot overlap (R1) and both precede 6 (3 units): 3+2+3; bounds give 7
}


def test_parse_keys_and_data():
    """Jobs become string keys "1".."N" with durations, demands and successors."""
    data = parse_psplib(DATA / "tiny_disjunctive.sm")
    assert [a.key for a in data.activities] == [str(i) for i in range(1, 8)]
    assert data.activities[1].duration == 2 and data.activities[1].demands == {"R1": 2}
    assert [(r.key, r.capacity) for r in data.resources] == [("R1", 3), ("R2", 1)]
    assert {(p.pred, p.succ) for p in data.precedences if p.pred == "1"} == {("1", s) for s in "2345"}


@pytest.mark.parametrize("name", sorted(TINY))
def test_tiny_instances_solved_to_optimum(name, backend):
    """Each tiny instance is solved to its hand-checked optimum and proven optimal."""
    data = parse_psplib(DATA / name)
    res = solve(data, time_limit=10, solver=backend)
    assert res.makespan == TINY[name]
    assert res.status is SolveStatus.OPTIMAL
    assert verify_schedule(data, res.starts) == []


@pytest.mark.parametrize("name", sorted(TINY))
def test_tiny_instances_heuristic_never_below_optimum(name):
    """The heuristic alone is valid and never claims less than the optimum."""
    data = parse_psplib(DATA / name)
    res = solve(data, time_limit=0.5, solver="heuristic")
    assert res.makespan >= TINY[name]
    assert verify_schedule(data, res.starts) == []


def test_bad_file_raises(tmp_path):
    """A file without the PSPLIB sections raises PsplibFormatError naming the file."""
    bad = tmp_path / "bad.sm"
    bad.write_text("hello\n")
    with pytest.raises(PsplibFormatError, match="bad.sm"):
        parse_psplib(bad)


def test_tables(tmp_path):
    """Optimum, best-known and bound tables read (parameter, instance) rows and skip headers."""
    opt = tmp_path / "opt.sm"
    opt.write_text("Paramter Instance Makespan CPU-Time[sec.]\n----\n1       1         43       0.30\n12 4 60 1.5\n")
    assert read_optimum_table(opt) == {(1, 1): 43, (12, 4): 60}
    hrs = tmp_path / "hrs.sm"
    hrs.write_text("Par Inst Makespan Date Author\n1\t1\t77\t\tTue Apr  2 16:26:00 1996  R. Kolisch\n")
    assert read_best_known_table(hrs) == {(1, 1): 77}
    lb = tmp_path / "lb.sm"
    lb.write_text("Par  Inst    UB   LB         Author LB\n  1   4    91    91    *    Klein & Scholl\n  2 1 80 75\n")
    assert read_bounds_table(lb) == {(1, 4): (91, 91), (2, 1): (80, 75)}


def test_instance_id():
    """Instance names map to (parameter, instance)."""
    assert instance_id("j3012_4.sm") == (12, 4)
    assert instance_id("j6010_1.sm") == (10, 1)
    assert instance_id("tiny.sm") is None


def test_cli_json_lines(capsys):
    """solve-psplib --json prints one object per instance with starts keyed by job number."""
    files = [str(DATA / n) for n in sorted(TINY)]
    assert solve_psplib_main([*files, "--time-limit", "5", "--json", "--check"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(TINY)
    for line, name in zip(lines, sorted(TINY), strict=True):
        rec = json.loads(line)
        assert set(rec) == {"instance", "makespan", "lower_bound", "status", "seconds", "solver", "starts"}
        assert rec["instance"] == name and rec["makespan"] == TINY[name]
        assert rec["status"] == "optimal"
        assert set(rec["starts"]) == {a.key for a in parse_psplib(DATA / name).activities}


def test_cli_bad_file_exit_2(tmp_path, capsys):
    """A bad file gives exit status 2 and a one-line error, before any solving."""
    bad = tmp_path / "bad.sm"
    bad.write_text("nothing here\n")
    assert solve_psplib_main([str(DATA / "tiny_energy.sm"), str(bad), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and "bad.sm" in captured.err


def test_cli_missing_file_exit_2(tmp_path, capsys):
    """A missing file is a bad file too."""
    assert solve_psplib_main([str(tmp_path / "nope.sm")]) == 2


def test_cli_check_flags_violation(monkeypatch, capsys):
    """--check exits 1 when a schedule violates a constraint (a broken solver simulated)."""
    import scheduling.cli as cli

    real = cli.solve

    def broken(data, **kwargs):
        res = real(data, **kwargs)
        res.starts = {k: 0 for k in res.starts}
        return res

    monkeypatch.setattr(cli, "solve", broken)
    assert solve_psplib_main([str(DATA / "tiny_energy.sm"), "--check", "--time-limit", "1"]) == 1
    assert "resource 'R1'" in capsys.readouterr().err
