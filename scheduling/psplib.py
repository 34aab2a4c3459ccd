"""PSPLIB single-mode (.sm) reader and the reference tables (j30opt, j60hrs, j60lb)."""

from __future__ import annotations

import re
from pathlib import Path

from .model import Activity, Precedence, ProblemData, Resource


class PsplibFormatError(ValueError):
    """The file is not a readable PSPLIB .sm instance."""


def _section(lines: list[str], title: str) -> list[str]:
    for idx, line in enumerate(lines):
        if line.strip().upper().startswith(title):
            body = []
            for row in lines[idx + 1 :]:
                if row.startswith("*"):
                    break
                body.append(row)
            return body
    raise PsplibFormatError(f"section '{title}' not found")  # the caller adds the path


def _ints(line: str) -> list[int]:
    return [int(tok) for tok in line.split()]


def parse_psplib(path: str | Path) -> ProblemData:
    """Read a PSPLIB .sm file; activity keys are the job numbers as strings ("1".."N")."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise PsplibFormatError(f"{path}: cannot read ({exc})") from exc
    lines = text.splitlines()
    try:
        prec_rows = [_ints(r) for r in _section(lines, "PRECEDENCE RELATIONS") if r.strip() and r.strip()[0].isdigit()]
        req_rows = [_ints(r) for r in _section(lines, "REQUESTS/DURATIONS") if r.strip() and r.strip()[0].isdigit()]
        avail_rows = [r for r in _section(lines, "RESOURCEAVAILABILITIES") if r.strip()]
        res_names = re.findall(r"([RN])\s*(\d+)", avail_rows[0])
        caps = _ints(avail_rows[1])
    except PsplibFormatError as exc:
        raise PsplibFormatError(f"{path}: {exc}") from None
    except (ValueError, IndexError) as exc:
        raise PsplibFormatError(f"{path}: malformed PSPLIB data ({exc})") from exc
    if not prec_rows or len(prec_rows) != len(req_rows) or len(res_names) != len(caps):
        raise PsplibFormatError(f"{path}: inconsistent section sizes")
    renewable = [
        (f"{kind}{num}", cap, idx)
        for idx, ((kind, num), cap) in enumerate(zip(res_names, caps, strict=True))
        if kind == "R"
    ]
    resources = [Resource(key, cap) for key, cap, _ in renewable]
    activities = []
    for row in req_rows:
        job, _mode, duration, *demands = row
        if len(demands) != len(caps):
            raise PsplibFormatError(f"{path}: job {job} has {len(demands)} demands for {len(caps)} resources")
        used = {key: demands[idx] for key, _, idx in renewable if demands[idx] > 0}
        activities.append(Activity(str(job), duration, used))
    precedences = []
    for row in prec_rows:
        job, _modes, count, *succs = row
        if len(succs) != count:
            raise PsplibFormatError(f"{path}: job {job} lists {len(succs)} successors, expected {count}")
        precedences.extend(Precedence(str(job), str(s)) for s in succs)
    return ProblemData(activities, resources, precedences)


def _table(path: str | Path, value_col: int) -> dict[tuple[int, int], int]:
    out: dict[tuple[int, int], int] = {}
    for line in Path(path).read_text(errors="replace").splitlines():
        toks = line.replace(",", " ").split()
        if len(toks) > value_col and all(t.isdigit() for t in toks[: value_col + 1]):
            out[(int(toks[0]), int(toks[1]))] = int(toks[value_col])
    return out


def read_optimum_table(path: str | Path) -> dict[tuple[int, int], int]:
    """j30opt.sm: (parameter, instance) -> proven optimal makespan."""
    return _table(path, 2)


def read_best_known_table(path: str | Path) -> dict[tuple[int, int], int]:
    """j60hrs.sm: (parameter, instance) -> best known makespan (upper bound)."""
    return _table(path, 2)


def read_bounds_table(path: str | Path) -> dict[tuple[int, int], tuple[int, int]]:
    """j60lb.sm: (parameter, instance) -> (upper bound, lower bound)."""
    ub = _table(path, 2)
    lb = _table(path, 3)
    return {key: (ub[key], lb[key]) for key in ub if key in lb}


def instance_id(path: str | Path) -> tuple[int, int] | None:
    """(parameter, instance) from a name like j3012_4.sm, or None."""
    m = re.match(r"j\d{2,3}?(\d+)_(\d+)\.sm$", Path(path).name)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2))
