"""Hybrid: build every other strategy's network and keep the one with the best score.

The score (see `planning.decomposition.scoring`) is the length of a
resource-constrained schedule plus twice the critical chain's standard
deviation plus an hour per handoff.
Every candidate's figures and the reason the winner won go into the notes.
"""

from __future__ import annotations

from planning.decomposition.context import Context
from planning.decomposition.scoring import HANDOFF_HOURS, SIGMA_WEIGHT, score
from planning.decomposition.strategies import BUILDERS
from planning.decomposition.work import Draft
from planning.errors import PlanningError

FORMULA = (
    f"score = simulated_hours + {SIGMA_WEIGHT:g} * chain_sigma_hours + {HANDOFF_HOURS:g} * handoffs "
    "(working hours; lower is better)"
)


def build(ctx: Context) -> tuple[Draft, dict]:
    capacities = ctx.resources.capacities()
    candidates: dict[str, dict] = {}
    drafts: dict[str, Draft] = {}
    for name, builder in BUILDERS.items():
        try:
            draft = builder(ctx)
        except PlanningError as error:
            if error.field != "strategy":
                raise
            candidates[name] = {"skipped": error.message}
            continue
        drafts[name] = draft
        candidates[name] = score(draft, capacities)
    if not drafts:
        raise PlanningError("no strategy fits this goal within max_tasks_per_plan", "strategy")
    ranked = sorted(drafts, key=lambda name: (candidates[name]["score"], list(BUILDERS).index(name)))
    winner = ranked[0]
    return drafts[winner], {
        "winner": winner,
        "formula": FORMULA,
        "candidates": candidates,
        "reason": _reason(winner, ranked, candidates),
    }


def _reason(winner: str, ranked: list[str], candidates: dict[str, dict]) -> str:
    best = candidates[winner]
    if len(ranked) == 1:
        return f"{winner} is the only strategy that fits the task limit (score {best['score']:g})"
    runner_up = ranked[1]
    other = candidates[runner_up]
    terms = {
        "length": other["simulated_hours"] - best["simulated_hours"],
        "uncertainty": SIGMA_WEIGHT * (other["chain_sigma_hours"] - best["chain_sigma_hours"]),
        "handoffs": HANDOFF_HOURS * (other["handoffs"] - best["handoffs"]),
    }
    decisive = max(terms, key=terms.__getitem__)
    explain = {
        "length": f"it finishes sooner with the available people ({best['simulated_hours']:g} h against "
        f"{other['simulated_hours']:g} h)",
        "uncertainty": f"its critical chain is less uncertain (sigma {best['chain_sigma_hours']:g} h against "
        f"{other['chain_sigma_hours']:g} h)",
        "handoffs": f"it has fewer handoffs ({best['handoffs']} against {other['handoffs']})",
    }[decisive]
    return (
        f"{winner} has the lowest score, {best['score']:g} against {other['score']:g} for the runner-up "
        f"{runner_up}; the biggest difference: {explain}"
    )
