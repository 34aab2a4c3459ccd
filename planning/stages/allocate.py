"""Stage `allocate`: pools from the goal, Layer 8 and the local pool set, matched to the tasks."""

from __future__ import annotations

from planning.allocation import allocate_with_sources
from planning.stages.input import StageInput, domain_library


def allocate_resources(data: StageInput) -> dict:
    """`data.sources` holds `local_pools` and `layer8` when the pipeline fetched them (empty otherwise).

    Their pools may be named in other words than the domain's roles: the role vocabulary matches them."""
    sources = {"local_pools": [], "layer8": None, **data.sources}
    roles = domain_library(data.settings.domains_dir).roles

    def role_of(name: str) -> str | None:
        fit = roles.role_of(name)
        return fit.role if fit is not None else None

    return allocate_with_sources(data.goal, data.network, data.settings, **sources, project_start=data.start,
                                 role_of=role_of)
