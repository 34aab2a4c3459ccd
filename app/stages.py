"""The stage registry: every pipeline stage declared once, in order.

A stage's name is its queue and its Celery task (`layer2.<name>`). The entry
says which pure function runs it (imported on first use, so a worker pays only
for the stages its queues carry), which earlier results it reads, the I/O around
it (gather before, effect after: Layer 8), the rows it writes beside its result,
and its time limit. The chain, the queues, the Celery tasks, the runner, the
stalled-plan sweep and the docs all read this tuple; adding a stage is one entry
here plus its pure function in `planning/stages/`.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass, replace

from app.services import stage_io
from planning.settings import PlanningSettings

# Seconds between a stage's soft limit (the stage fails the plan, readably) and its
# hard limit (the pool child is killed): room to record the failure.
HARD_LIMIT_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class StageMode:
    """How a stage runs for versions of another mode (`plan_versions.mode`): its function and I/O instead."""

    function: str
    gather: Callable | None = None
    effect: Callable | None = None


@dataclass(frozen=True)
class Stage:
    name: str
    function: str  # "module:function" of the pure `(StageInput) -> dict`
    reads: tuple[str, ...]  # earlier stages whose results it needs
    time_limit: Callable[[PlanningSettings], float]  # soft limit, seconds
    gather: Callable | None = None  # (StageInput) -> sources: I/O before the pure function
    effect: Callable | None = None  # (output, StageInput) -> output: I/O after, before the save
    # (output, StageInput): undoes the effect when the save keeps nothing (the plan was cancelled meanwhile)
    undo: Callable | None = None
    save_rows: Callable | None = None  # (session, version_id, output, StageInput): rows beside the result
    writes_document: bool = False  # its output is the plan document; saving it completes the version
    # Other modes of the version (`plan_versions.mode`, e.g. "replan"): the function and I/O that replace these.
    modes: tuple[tuple[str, StageMode], ...] = ()

    @property
    def task_name(self) -> str:
        return f"layer2.{self.name}"

    def soft_limit(self, settings: PlanningSettings) -> float:
        return float(self.time_limit(settings))

    def hard_limit(self, settings: PlanningSettings) -> float:
        return self.soft_limit(settings) + HARD_LIMIT_GRACE_SECONDS

    def for_mode(self, mode: str | None) -> Stage:
        """This stage as it runs for a version of `mode` (itself for "plan", or a mode it does not name)."""
        return _mode_variant(self, mode) if mode and mode != "plan" and dict(self.modes).get(mode) else self

    @functools.cached_property
    def pure_function(self) -> Callable:
        module, _, attribute = self.function.partition(":")
        return getattr(importlib.import_module(module), attribute)


@functools.cache
def _mode_variant(stage: Stage, mode: str) -> Stage:
    variant = dict(stage.modes)[mode]
    return replace(stage, function=variant.function, gather=variant.gather,
                   effect=variant.effect if variant.effect is not None else stage.effect, modes=())


def _fixed(seconds: float) -> Callable[[PlanningSettings], float]:
    return lambda settings: seconds


def _schedule_limit(settings: PlanningSettings) -> float:
    # The solver stops itself at its time limit; twice that plus 10 s covers the
    # heuristics before it, the MILP child's start-up and the CPM afterwards.
    return 2 * settings.schedule_time_limit_seconds + 10


def _validate_limit(settings: PlanningSettings) -> float:
    # Layer 3's answer (at most stage_io.LAYER3_BUDGET_SECONDS, 10 s, retries included), then, when it adds tasks,
    # the schedule again (its solver stops schedule_time_limit_seconds from the stage's start, or 0.5 s after the
    # answer) and the document; no longer than finalize's with the defaults, so the visibility timeout stays.
    return max(20.0, settings.schedule_time_limit_seconds + 10)


REGISTRY: tuple[Stage, ...] = (
    Stage("risk", "planning.stages.risk:assess_goal_risks", reads=(), time_limit=_fixed(10)),
    Stage("decompose", "planning.stages.decompose:decompose_goal", reads=(), time_limit=_fixed(20),
          save_rows=stage_io.save_task_rows),
    # A replan (docs/lifecycle.md) re-runs the chain from allocate: the schedule is planning.replanning's, from
    # the status date, starting from the old one, and its new holds replace the replaced version's (finalize).
    Stage("allocate", "planning.stages.allocate:allocate_resources", reads=("decompose",), time_limit=_fixed(20),
          gather=stage_io.gather_allocation_sources),
    Stage("schedule", "planning.stages.schedule:schedule_tasks", reads=("decompose", "allocate"),
          time_limit=_schedule_limit,
          modes=(("replan", StageMode("planning.replanning.stage:replan_tasks", gather=stage_io.gather_replan)),)),
    # The plan document, from every earlier result: the whole-plan risk assessment and Monte Carlo.
    Stage("finalize", "planning.stages.finalize:finalize_plan", reads=("risk", "decompose", "allocate", "schedule"),
          time_limit=_fixed(20),
          modes=(("replan", StageMode("planning.stages.finalize:finalize_replan", gather=stage_io.gather_replan)),)),
    # Layer 3's verdict on that document (docs/layer3-contract.md): its requirements scheduled in, its findings
    # made risks; then the Layer 8 holds, for the days the final schedule gives each task (docs/layer8-contract.md),
    # and the version is ready. With LAYER3_BASE_URL unset nothing is asked and the document says so.
    Stage("validate", "planning.stages.validate:validate_plan",
          reads=("risk", "decompose", "allocate", "schedule", "finalize"), time_limit=_validate_limit,
          gather=stage_io.gather_validation, effect=stage_io.hold_scheduled_with_layer8,
          undo=stage_io.release_document_holds, save_rows=stage_io.save_validation_rows, writes_document=True,
          modes=(("replan", StageMode("planning.stages.validate:validate_replan",
                                      gather=stage_io.gather_replan_validation,
                                      effect=stage_io.replace_layer8_holds)),)),
)

STAGE_NAMES: tuple[str, ...] = tuple(stage.name for stage in REGISTRY)
_BY_NAME = {stage.name: stage for stage in REGISTRY}


def get_stage(name: str) -> Stage:
    return _BY_NAME[name]


def stages_from(name: str) -> tuple[Stage, ...]:
    """The chain from `name` to the end (a replan starts at `allocate`)."""
    return REGISTRY[STAGE_NAMES.index(name):]


def stages_before(name: str) -> tuple[Stage, ...]:
    """The stages a chain from `name` does not run: a replan copies their results from the version it replaces."""
    return REGISTRY[:STAGE_NAMES.index(name)]


# Where a replan's chain starts: what the goal says (risk pre-assessment, decomposition) has not changed;
# the resources, the schedule and everything derived from them are planned again.
REPLAN_FROM = "allocate"


def longest_hard_limit(settings: PlanningSettings) -> float:
    return max(stage.hard_limit(settings) for stage in REGISTRY)
