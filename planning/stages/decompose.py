"""Stage `decompose`: the goal becomes a task network (domain methods and strategies)."""

from __future__ import annotations

from planning.decomposition import decompose
from planning.stages.input import StageInput, domain_library


def decompose_goal(data: StageInput) -> dict:
    return decompose(data.goal, data.settings, domain_library(data.settings.domains_dir)).to_dict()
