"""Resource coordination, pure: pools, availability, conflicts and their resolution, cost, budget.

No I/O here: the Layer 8 client and the local pool storage live in `app/`, and hand
their data in (`planning.allocation.allocate_with_sources`).
"""

from planning.resources.allocate import allocate
from planning.resources.pools import AvailabilityWindow, Pool, ResourceError, merge_pools
from planning.resources.sources import SourceData, read_sources

__all__ = ["AvailabilityWindow", "Pool", "ResourceError", "SourceData", "allocate", "merge_pools", "read_sources"]
