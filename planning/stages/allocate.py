"""Stage `allocate`: pools from the goal, Layer 8 and the local pool set, matched to the tasks."""

from __future__ import annotations

from planning.allocation import allocate_with_sources
from planning.stages.input import StageInput


def allocate_resources(data: StageInput) -> dict:
    """`data.sources` holds `local_pools` and `layer8` when the pipeline fetched them (empty otherwise)."""
    sources = {"local_pools": [], "layer8": None, **data.sources}
    return allocate_with_sources(data.goal, data.network, data.settings, **sources, project_start=data.start)
