"""The I/O some stages need around their pure function: the allocate stage's sources and holds.

Kept out of the pure code: Layer 8 and the local pool table are read before the
stage runs, and holds are confirmed at Layer 8 before its result is saved (with
an idempotency key, so a redelivered stage confirms the same hold, not a new one).
"""

from __future__ import annotations

from flask import current_app

from app.extensions import db
from app.layer8 import layer8_client_for
from app.models import PlanVersion
from app.services.resources import gather_resource_sources, reserve_with_layer8
from planning.goal import Goal
from planning.settings import PlanningSettings


def gather_inputs(stage: str, *, goal: Goal, settings: PlanningSettings) -> dict:
    """Extra entries for the stage's `outputs` mapping (names start with `_`: not stage results)."""
    if stage == "allocate":
        client = layer8_client_for(current_app)
        return {"_sources": gather_resource_sources(session=db.session, goal=goal, settings=settings,
                                                    layer8_client=client)}
    return {}


def apply_effects(stage: str, output: dict, *, version: PlanVersion) -> dict:
    if stage == "allocate":
        return reserve_with_layer8(allocation=output, layer8_client=layer8_client_for(current_app),
                                   reference=f"{version.plan_id}/v{version.version}")
    return output
