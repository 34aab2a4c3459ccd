"""Resource coordination, pure: pools, availability, conflicts and their resolution, cost, budget.

No I/O here: the Layer 8 client and the local pool storage live in `app/`, and hand
their data in (`planning.allocation.allocate_with_sources`). Exports load on first use.
"""

from planning.lazy import lazy_exports

_WHERE = {
    "allocate": ".allocator",
    "AvailabilityWindow": ".pools",
    "Pool": ".pools",
    "ResourceError": ".pools",
    "merge_pools": ".pools",
    "SourceData": ".sources",
    "read_sources": ".sources",
}
__all__ = sorted(_WHERE)
__getattr__ = lazy_exports(__name__, _WHERE)
