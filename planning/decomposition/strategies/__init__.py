"""One module per strategy; each turns the expanded domain work into a differently shaped network."""

from __future__ import annotations

from collections.abc import Callable

from planning.decomposition.context import Context
from planning.decomposition.strategies import functional, hierarchical, resource_based, risk_based, temporal
from planning.decomposition.work import Draft

Builder = Callable[[Context], Draft]

BUILDERS: dict[str, Builder] = {
    "hierarchical": hierarchical.build,
    "functional": functional.build,
    "temporal": temporal.build,
    "resource_based": resource_based.build,
    "risk_based": risk_based.build,
}
