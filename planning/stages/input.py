"""What a stage reads: the goal parsed once, earlier results, settings, and the version's facts."""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from planning.goal import Goal
from planning.network import TaskNetwork
from planning.settings import PlanningSettings


@dataclass(frozen=True)
class StageInput:
    """One stage's input, built once from the stored rows.

    `results` holds the earlier stages' outputs by stage name; `sources` what the
    stage's I/O step gathered before it ran (the allocate stage's pools and Layer 8
    answer). The task network is parsed at most once per stage, on first use.
    """

    goal: Goal
    settings: PlanningSettings
    created_at: datetime  # when the plan version was made: dates and timestamps derive from it
    results: Mapping[str, dict] = field(default_factory=dict)
    sources: Mapping[str, Any] = field(default_factory=dict)
    plan_id: str = ""
    version: int = 1
    # time.monotonic() when the stage began (the runner sets it): a stage with a wall-time
    # promise (schedule) counts its budget from here, loading and parsing included
    started: float = field(default_factory=time.monotonic)

    def seconds_left(self, limit: float, reserve: float = 0.0) -> float:
        """What is left of a `limit` counted from the stage's start, keeping `reserve` for after."""
        return limit - (time.monotonic() - self.started) - reserve

    @functools.cached_property
    def network(self) -> TaskNetwork:
        return TaskNetwork.from_dict(self.results["decompose"])

    @property
    def start(self) -> date:
        """The goal's start, else the day the version was made (so a replay gives the same dates)."""
        return self.goal.start or self.created_at.date()

    def result(self, stage: str) -> dict:
        return self.results[stage]


@functools.lru_cache(maxsize=4)
def domain_library(domains_dir: str | None):
    """The domain library, parsed once per process (about 0.1 s), then shared by every plan."""
    from planning.decomposition.library import load_domain_library

    return load_domain_library(extra_dir=domains_dir)
