"""Cost per allocation row and in total, and the budget check with the reserve.

A row costs units x hours x the serving pool's hourly rate (a day rate spread over the
pool's working hours per day). The total is in the goal's currency; a row priced in
another currency is shown in its own and left out of the total, with a warning, since
the planner knows no exchange rates.
"""

from __future__ import annotations

from collections.abc import Mapping

from planning.resources.pools import Pool


def row_cost(pool: Pool, units: int, hours: int) -> float:
    return units * hours * pool.hourly_rate


def summarise(rows: list[dict], pools: Mapping[str, Pool], *, currency: str, budget: float | None,
              reserve: float) -> tuple[dict, list[str]]:
    """The plan's `cost` block and any warnings (foreign currency, over budget)."""
    total = 0.0
    by_pool: dict[str, float] = {}
    by_task: dict[str, float] = {}
    foreign: dict[str, float] = {}
    for row in rows:
        pool = pools[row["resource"]]
        if pool.currency != currency:
            foreign[pool.currency] = foreign.get(pool.currency, 0.0) + row["cost"]
            continue
        total += row["cost"]
        by_pool[pool.type] = by_pool.get(pool.type, 0.0) + row["cost"]
        by_task[row["task_id"]] = by_task.get(row["task_id"], 0.0) + row["cost"]
    warnings = [f"{amount:,.2f} {code} of cost is in {code}, not {currency}, and is not in the total"
                for code, amount in sorted(foreign.items())]
    spendable = None if budget is None else budget * (1 - reserve)
    within = None if spendable is None else total <= spendable + 1e-9
    if within is False:
        warnings.append(f"estimated cost {total:.2f} {currency} exceeds the budget {budget:.2f} "
                        f"less the {reserve:.0%} reserve")
    block = {
        "total": round(total, 2),
        "currency": currency,
        "budget": budget,
        "reserve_percentage": reserve,
        "within_budget": within,
        "spendable": None if spendable is None else round(spendable, 2),
        "headroom": None if spendable is None else round(spendable - total, 2),
        "by_pool": {name: round(amount, 2) for name, amount in sorted(by_pool.items())},
        "by_task": {name: round(amount, 2) for name, amount in by_task.items()},
        "not_converted": {code: round(amount, 2) for code, amount in sorted(foreign.items())},
    }
    return block, warnings
