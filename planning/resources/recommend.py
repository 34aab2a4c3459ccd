"""Cost recommendations, each with its numbers: cheaper substitutes, crashing, the budget gap.

- **Cheaper substitute**: a task served by pool X could be served, in the same hours, by a
  cheaper pool P that may stand in for the type it needs and still has room then. The
  task keeps its window, so the finish (and the deadline, if the plan meets it) is kept.
  Suggestions are booked against P as they are made, so taken together they still fit.
- **Crash**: one more unit of the pool serving a critical task shortens it; the recommendation
  gives the working days the project gains (from the critical path recomputed with the
  shorter task), the extra cost, and the cost per day saved. An added unit is assumed
  `CRASH_EFFICIENCY` as productive as the others (onboarding and coordination).
  `within_capacity` says whether the pool has that unit spare while the task runs, or it
  has to be hired or requested.
- **Over budget**: how far the cost is above the budget less the reserve, and how much of
  that the substitutes above would recover.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from planning.network import TaskNetwork
from planning.resources.levelling import Placement, Precedences
from planning.resources.pools import Pool

CRASH_EFFICIENCY = 0.8
MAX_CRASH_CANDIDATES = 12  # the longest critical tasks tried (one CPM pass each)
MAX_CRASH_OPTIONS = 5


def least(values: np.ndarray) -> int:
    """The smallest value, or 0 for an empty window."""
    return int(values.min()) if values.size else 0


def cheaper_substitutes(rows: list[dict], pools: Mapping[str, Pool], capacity: Mapping[str, np.ndarray],
                        usage: Mapping[str, np.ndarray], *, currency: str, deadline_met: bool | None) -> list[dict]:
    spare = {kind: capacity[kind] - usage[kind] for kind in capacity}
    options = []
    for index, row in enumerate(rows):
        current = pools[row["resource"]]
        if row["status"] != "planned" or current.currency != currency:
            continue
        for pool in pools.values():
            if pool.type == current.type or pool.currency != currency or not pool.can_serve(row["requested_resource"]):
                continue
            if pool.hourly_rate < current.hourly_rate:
                saving = row["units"] * row["hours"] * (current.hourly_rate - pool.hourly_rate)
                options.append((saving, index, pool.type))
    grouped: dict[tuple[str, str, str], dict] = {}
    taken: set[int] = set()
    for saving, index, name in sorted(options, key=lambda o: (-o[0], o[1], o[2])):
        row = rows[index]
        window = slice(row["start_hour"], row["finish_hour"])
        if index in taken or name not in spare or least(spare[name][window]) < row["units"]:
            continue
        spare[name][window] -= row["units"]
        taken.add(index)
        key = (row["resource"], name, row["requested_resource"])
        entry = grouped.setdefault(key, {"task_ids": [], "unit_hours": 0, "saving": 0.0})
        entry["task_ids"].append(row["task_id"])
        entry["unit_hours"] += row["units"] * row["hours"]
        entry["saving"] += saving
    out = []
    for (current, name, requested), entry in sorted(grouped.items(), key=lambda kv: -kv[1]["saving"]):
        out.append({
            "kind": "cheaper_substitute",
            "resource": current,
            "substitute": name,
            "requested_resource": requested,
            "task_ids": entry["task_ids"],
            "unit_hours": entry["unit_hours"],
            "saving": round(entry["saving"], 2),
            "currency": currency,
            "finish_unchanged": True,
            "keeps_deadline": deadline_met,
            "message": (f"serve {len(entry['task_ids'])} task(s) with {name} instead of {current} in the same hours: "
                        f"saves {entry['saving']:,.2f} {currency}"),
        })
    return out


def crashing_options(network: TaskNetwork, placements: Mapping[str, Placement], pools: Mapping[str, Pool],
                     capacity: Mapping[str, np.ndarray], usage: Mapping[str, np.ndarray], *,
                     makespan: int, critical: Mapping[str, bool], hours_per_day: int, currency: str,
                     days_late: float | None) -> list[dict]:
    # Only tasks served by one pool: one more unit there speeds up the whole task; with
    # several roles, an extra unit of one does not shorten the others' work.
    candidates = sorted(
        (p for tid, p in placements.items()
         if critical.get(tid) and len(p.takes) == 1 and p.takes[0].status == "planned"),
        key=lambda p: (-p.duration, p.task_id),
    )[:MAX_CRASH_CANDIDATES]
    precedences = Precedences(network)
    options = []
    for placement in candidates:
        for take in placement.takes:
            pool = pools[take.pool]
            if pool.currency != currency:
                continue
            d = placement.duration
            shorter = math.ceil(d * take.units / (take.units + CRASH_EFFICIENCY))
            if shorter >= d:
                continue
            window = slice(placement.start, placement.start + shorter)
            spare = least(capacity[pool.type][window] - usage[pool.type][window]) >= 1
            gained = makespan - precedences.makespan({placement.task_id: shorter})
            if gained <= 0:
                continue
            before = take.units * d * pool.hourly_rate
            after = (take.units + 1) * shorter * pool.hourly_rate
            days = gained / hours_per_day
            extra = after - before
            options.append({
                "kind": "crash",
                "task_id": placement.task_id,
                "resource": pool.type,
                "add_units": 1,
                "duration_hours": d,
                "crashed_duration_hours": shorter,
                "days_saved": round(days, 2),
                "extra_cost": round(extra, 2),
                "cost_per_day_saved": round(extra / days, 2),
                "currency": currency,
                "within_capacity": bool(spare),
                "needed_for_deadline": days_late is not None and days_late > 0,
                "message": (f"add one {pool.type} to {placement.task_id}: {d} -> {shorter} h, the project finishes "
                            f"{days:.2f} working day(s) sooner for {extra:,.2f} {currency} "
                            f"({extra / days:,.2f} per day saved)"
                            + ("" if spare else f"; the pool has no spare {pool.type} then, so it must be hired "
                                                "or requested")),
            })
    options.sort(key=lambda o: (o["cost_per_day_saved"], o["task_id"]))
    return options[:MAX_CRASH_OPTIONS]


def over_budget(cost: dict, substitutes: list[dict]) -> list[dict]:
    if cost["within_budget"] is not False:
        return []
    gap = cost["total"] - cost["spendable"]
    recoverable = sum(option["saving"] for option in substitutes)
    return [{
        "kind": "over_budget",
        "over_by": round(gap, 2),
        "total": cost["total"],
        "spendable": cost["spendable"],
        "budget": cost["budget"],
        "currency": cost["currency"],
        "savings_available": round(recoverable, 2),
        "closes_gap": recoverable >= gap,
        "message": (f"the cost is {gap:,.2f} {cost['currency']} over the budget less the reserve; "
                    + (f"the cheaper substitutes above recover {recoverable:,.2f}" if recoverable
                       else "no cheaper substitute has room: reduce scope or raise the budget")),
    }]
