"""What every strategy gets: the goal, its domain, the limits, the pools and the expanded work."""

from __future__ import annotations

from dataclasses import dataclass

from planning.decomposition.domain import Domain
from planning.decomposition.expansion import Expansion
from planning.decomposition.resources import ResourcePlan
from planning.decomposition.work import Draft
from planning.errors import PlanningError
from planning.goal import Goal
from planning.settings import PlanningSettings


@dataclass(frozen=True)
class Context:
    goal: Goal
    domain: Domain
    settings: PlanningSettings
    resources: ResourcePlan
    expansion: Expansion  # its draft is the base every strategy copies; never mutate it

    @property
    def base(self) -> Draft:
        return self.expansion.draft

    def check_size(self, draft: Draft, strategy: str) -> None:
        limit = self.settings.max_tasks_per_plan
        if len(draft.items) > limit:
            raise PlanningError(
                f"the {strategy} strategy makes {len(draft.items)} tasks for this goal, more than "
                f"max_tasks_per_plan={limit}; pick another strategy, split the goal or list fewer components",
                "strategy",
            )
