"""`GET /api/v1/plans/{id}/resources`: the spec's troubleshooting call for resource allocation failures.

The version's allocations as its document has them (local pools and Layer 8 rows, with their status),
its Layer 8 holds grouped by hold id, and each hold's state at Layer 8 now, asked with the client's own
timeout, retries and circuit breaker and within an overall time limit: a hold not asked in time says so.
"""

from __future__ import annotations

import time

from app.layer8.client import Layer8Client, Layer8Error

# Seconds all the Layer 8 look-ups of one call may take together; the rest are reported as not checked.
LOOKUP_BUDGET_SECONDS = 3.0
MAX_LOOKUPS = 50


def plan_resources(*, head: dict, document: dict | None, layer8_client: Layer8Client | None) -> dict:
    """`head`: plan_id, status, version, version_status; `document`: the version's (None before it is planned)."""
    document = document or {}
    allocations = list(document.get("allocations") or [])
    holds: dict[str, dict] = {}
    for row in allocations:
        hold_id = row.get("layer8_allocation_id")
        if not hold_id:
            continue
        hold = holds.setdefault(hold_id, {"id": hold_id, "resource": row["resource"], "units": 0,
                                          "from": row.get("from"), "to": row.get("to"), "tasks": []})
        hold["units"] += row.get("units") or 0
        hold["tasks"].append(row["task_id"])
    _ask_layer8(list(holds.values()), layer8_client)
    by_status: dict[str, int] = {}
    for row in allocations:
        by_status[row.get("status", "planned")] = by_status.get(row.get("status", "planned"), 0) + 1
    return {
        **head,
        "allocations": allocations,
        "allocations_by_status": by_status,
        "holds": list(holds.values()),
        "resource_pools": document.get("resource_pools") or [],
        "resource_conflicts": document.get("resource_conflicts") or [],
        "resource_requests": document.get("resource_requests") or [],
        "layer8": {"configured": layer8_client is not None,
                   **({"circuit": layer8_client.breaker.state} if layer8_client is not None else {}),
                   **((document.get("integration") or {}).get("layer8") or {})},
    }


def _ask_layer8(holds: list[dict], client: Layer8Client | None) -> None:
    """Each hold's `layer8` member: Layer 8's answer now, or why there is none."""
    deadline = time.monotonic() + LOOKUP_BUDGET_SECONDS
    for index, hold in enumerate(holds):
        if client is None:
            hold["layer8"] = {"checked": False, "reason": "Layer 8 is not configured"}
        elif index >= MAX_LOOKUPS or time.monotonic() >= deadline:
            hold["layer8"] = {"checked": False, "reason": "not asked: the call's time or look-up budget is spent"}
        else:
            try:
                answer = client.get_allocation(hold["id"])
                hold["layer8"] = {"checked": True, "status": answer.get("status"),
                                  "expires_at": answer.get("expires_at")}
            except Layer8Error as error:
                hold["layer8"] = {"checked": True, "status": "not_found" if error.kind == "not_found" else None,
                                  "error": str(error), "kind": error.kind}
