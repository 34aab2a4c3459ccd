"""Checks run when ProblemData is built; each failure names the offending key."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .model import PRECEDENCE_KINDS, ProblemError

if TYPE_CHECKING:
    from .model import ProblemData


def _is_int(value: object) -> bool:
    # bool is an int subclass; True as a duration is almost certainly a bug upstream
    return isinstance(value, int) and not isinstance(value, bool)


def _is_amount(value: object) -> bool:
    """A finite number >= 0 (weights and costs)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def validate(data: ProblemData) -> None:
    resources = {}
    for res in data.resources:
        if not isinstance(res.key, str) or not res.key:
            raise ProblemError(f"resource key must be a non-empty string, got {res.key!r}", str(res.key), "key")
        if res.key in resources:
            raise ProblemError(f"duplicate resource key '{res.key}'", res.key, "key")
        if not _is_int(res.capacity) or res.capacity < 0:
            raise ProblemError(f"resource '{res.key}': capacity must be an integer >= 0", res.key, "capacity")
        for step in res.capacity_profile or []:
            if len(step) != 2 or not all(_is_int(v) and v >= 0 for v in step):
                raise ProblemError(
                    f"resource '{res.key}': capacity_profile steps must be (from_time, capacity) integers >= 0",
                    res.key,
                    "capacity_profile",
                )
        if not _is_amount(res.cost_per_unit):
            raise ProblemError(
                f"resource '{res.key}': cost_per_unit must be a finite number >= 0", res.key, "cost_per_unit"
            )
        resources[res.key] = res

    keys: set[str] = set()
    for act in data.activities:
        key = act.key
        if not isinstance(key, str) or not key:
            raise ProblemError(f"activity key must be a non-empty string, got {key!r}", str(key), "key")
        if key in keys:
            raise ProblemError(f"duplicate activity key '{key}'", key, "key")
        keys.add(key)
        if not _is_int(act.duration) or act.duration < 0:
            raise ProblemError(
                f"activity '{key}': duration must be an integer >= 0, got {act.duration!r}", key, "duration"
            )
        if not _is_int(act.release) or act.release < 0:
            raise ProblemError(f"activity '{key}': release must be an integer >= 0", key, "release")
        if act.deadline is not None and (not _is_int(act.deadline) or act.deadline < 0):
            raise ProblemError(f"activity '{key}': deadline must be an integer >= 0", key, "deadline")
        if act.fixed_start is not None and (not _is_int(act.fixed_start) or act.fixed_start < 0):
            raise ProblemError(f"activity '{key}': fixed_start must be an integer >= 0", key, "fixed_start")
        if not _is_amount(act.weight):
            raise ProblemError(f"activity '{key}': weight must be a finite number >= 0", key, "weight")
        for res_key, amount in act.demands.items():
            if res_key not in resources:
                raise ProblemError(f"activity '{key}' demands unknown resource '{res_key}'", key, "demands")
            if not _is_int(amount) or amount < 0:
                raise ProblemError(f"activity '{key}': demand on '{res_key}' must be an integer >= 0", key, "demands")
            final = resources[res_key].final_capacity()
            if amount > final:
                raise ProblemError(
                    f"activity '{key}' needs {amount} of resource '{res_key}' but its capacity is {final}",
                    key,
                    "demands",
                )

    for prec in data.precedences:
        for end in (prec.pred, prec.succ):
            if end not in keys:
                raise ProblemError(
                    f"precedence {prec.pred} -> {prec.succ} names unknown activity '{end}'", str(end), "precedences"
                )
        if prec.kind not in PRECEDENCE_KINDS:
            raise ProblemError(
                f"precedence {prec.pred} -> {prec.succ}: kind must be one of "
                f"{', '.join(PRECEDENCE_KINDS)}, got {prec.kind!r}",
                prec.succ,
                "precedences",
            )
        if not _is_int(prec.lag):
            raise ProblemError(
                f"precedence {prec.pred} -> {prec.succ}: lag must be an integer", prec.succ, "precedences"
            )
        if prec.pred == prec.succ:
            raise ProblemError(f"cycle: {prec.pred} -> {prec.pred}", prec.pred, "precedences")

    _check_cycles(data)
    _check_windows(data)


def _check_cycles(data: ProblemData) -> None:
    succs: dict[str, list[str]] = {a.key: [] for a in data.activities}
    for prec in data.precedences:
        succs[prec.pred].append(prec.succ)
    # iterative DFS with colours; the grey stack is the cycle when a back edge appears
    colour = dict.fromkeys(succs, 0)
    for root in succs:
        if colour[root]:
            continue
        stack = [(root, iter(succs[root]))]
        path = [root]
        colour[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                colour[node] = 2
            elif colour[child] == 1:
                cycle = path[path.index(child) :] + [child]
                raise ProblemError(f"cycle: {' -> '.join(cycle)}", child, "precedences")
            elif colour[child] == 0:
                colour[child] = 1
                path.append(child)
                stack.append((child, iter(succs[child])))


def _check_windows(data: ProblemData) -> None:
    core = data.core  # safe now: keys, kinds and acyclicity are checked
    es = core.earliest_starts()
    for i in core.topo:
        key = core.keys[i]
        fixed = core.fixed[i]
        if fixed is not None:
            for p, lag in core.pred[i]:
                if es[p] + lag > fixed:
                    raise ProblemError(
                        f"activity '{key}': fixed start {fixed} is earlier than predecessor '{core.keys[p]}' allows",
                        key,
                        "fixed_start",
                    )
            if fixed < core.release[i]:
                raise ProblemError(
                    f"activity '{key}': fixed start {fixed} is before its release {core.release[i]}", key, "fixed_start"
                )
        deadline = data.activities[i].deadline  # as given; the core also holds derived ones
        if deadline is not None and es[i] + core.dur[i] > deadline:
            raise ProblemError(
                f"activity '{key}': deadline {deadline} is before its earliest finish {es[i] + core.dur[i]}",
                key,
                "deadline",
            )
    _check_fixed_capacity(data)


def _check_fixed_capacity(data: ProblemData) -> None:
    core = data.core
    for k, res_key in enumerate(core.res_keys):
        cap = core.capacity[k]
        load = [0] * len(cap)
        for i in range(core.n):
            if core.fixed[i] is None or not core.demand[i][k]:
                continue
            for t in range(core.fixed[i], core.fixed[i] + core.dur[i]):
                load[t] += core.demand[i][k]
                if load[t] > cap[t]:
                    raise ProblemError(
                        f"activity '{core.keys[i]}': fixed start {core.fixed[i]} overloads "
                        f"resource '{res_key}' at time {t}",
                        core.keys[i],
                        "fixed_start",
                    )
