"""Resource use cases: the local pool set, and the I/O around the pure allocation.

The allocate stage does three things, only the middle one pure:

1. `gather_resource_sources`: read the local pools and ask Layer 8 for availability
   (never raising on a Layer 8 failure: the error goes into the plan as a warning);
2. `planning.allocation.allocate_with_sources(goal, network, settings, **sources)`;
3. `reserve_with_layer8`: hold and confirm at Layer 8 what the allocation takes from it.
   A row is `confirmed` only when Layer 8 confirmed it; a hold that could not be
   confirmed is released, so nothing is left half-allocated.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.layer8.client import Layer8Client, Layer8Error
from app.models import Plan, PlanVersion, ResourcePoolRecord
from app.services import audit
from planning.goal import Goal
from planning.settings import PlanningSettings

log = logging.getLogger(__name__)

POOL_FIELDS = ("type", "capacity", "cost_rate", "rate_unit", "currency", "hours_per_day", "substitutes")
# A plan's pool of one of these sources follows the local set; goal and Layer 8 pools do not.
LOCAL_FOLLOWING_SOURCES = frozenset({"local", "suggested", "assumed", None})


# -- the local pool set ------------------------------------------------------------------

def list_pools(*, session: Session) -> list[ResourcePoolRecord]:
    return list(session.scalars(sa.select(ResourcePoolRecord).order_by(ResourcePoolRecord.type)))


def replace_pools(*, session: Session, pools: list[dict], actor: str) -> dict:
    """Replace the whole local set in one transaction; report what changed and the plans it touches."""
    records = {record.type: record for record in list_pools(session=session)}
    before = {kind: record.to_dict() for kind, record in records.items()}
    after = {pool["type"]: {name: pool[name] for name in POOL_FIELDS} for pool in pools}
    changed = sorted(kind for kind in before.keys() | after.keys() if before.get(kind) != after.get(kind))
    # Unchanged pools keep their row and `updated_at`; the others are updated, added or removed.
    for kind in changed:
        if kind not in after:
            session.delete(records[kind])
        elif kind in records:
            for name, value in after[kind].items():
                setattr(records[kind], name, value)
        else:
            session.add(ResourcePoolRecord(**after[kind]))
    audit.record(actor=actor, action="resources.replace", entity="resource_pools", entity_id="local",
                 before=sorted(before.values(), key=lambda p: p["type"]),
                 after=sorted(after.values(), key=lambda p: p["type"]))
    flagged = plans_using(session=session, types=changed)
    from app.services.replanning import record_pool_changes  # a trigger for the replan scan

    record_pool_changes(session=session, plan_ids=flagged, before=before, after=after)
    session.commit()
    return {"resources": [record.to_dict() for record in list_pools(session=session)],
            "changed": changed, "flagged_plans": flagged}


def plans_using(*, session: Session, types: Iterable[str]) -> list[str]:
    """Ids of plans whose current planned (ready) version allocates one of `types` from a pool that
    follows the local set (not the goal's own, not Layer 8's).

    Reads each such version's document: fine for thousands of plans; a JSONB index would be
    the next step beyond that.
    """
    wanted = set(types)
    if not wanted:
        return []
    query = (
        sa.select(Plan.id, PlanVersion.document)
        .join(PlanVersion, sa.and_(PlanVersion.plan_id == Plan.id, PlanVersion.version == Plan.current_version))
        .where(PlanVersion.status == "ready")
        .order_by(Plan.id)
    )
    flagged = []
    for plan_id, document in session.execute(query):
        sources = {pool.get("type"): pool.get("source") for pool in (document or {}).get("resource_pools") or ()}
        for row in (document or {}).get("allocations") or ():
            kinds = {row.get("resource"), row.get("requested_resource")} & wanted
            if any(sources.get(kind) in LOCAL_FOLLOWING_SOURCES for kind in kinds):
                flagged.append(plan_id)
                break
    return flagged


# -- the allocate stage's I/O ------------------------------------------------------------

def planning_window(goal: Goal, settings: PlanningSettings, project_start: date | None = None,
                    schedule_until: date | None = None) -> tuple[date, date]:
    """From the project start to the deadline, the planning horizon or `schedule_until` (the network's
    precedence-only finish: no schedule ends before it), whichever is latest: the whole schedule, as far as it is
    known before scheduling."""
    start = project_start or goal.start or date.today()
    end = start + timedelta(days=settings.planning_horizon_days)
    for later in (goal.deadline, schedule_until):
        if later and later > end:
            end = later
    return start, end


def gather_resource_sources(*, session: Session, goal: Goal, settings: PlanningSettings,
                            layer8_client: Layer8Client | None, types: Iterable[str] | None = None,
                            project_start: date | None = None, schedule_until: date | None = None) -> dict:
    """`{local_pools, layer8}` for `allocate_with_sources`; never raises on a Layer 8 failure.

    `layer8` is Layer 8's availability answer, None when no client is configured, or
    `{"error", "kind", "status"}` when the call failed (already counted in the metric).
    `types` narrows the query (Layer 8 adds the pools that may stand in for them).
    """
    local_pools = [record.to_dict() for record in list_pools(session=session)]
    if layer8_client is None:
        return {"local_pools": local_pools, "layer8": None}
    start, end = planning_window(goal, settings, project_start, schedule_until)
    try:
        layer8: dict = layer8_client.availability(types, start, end)
    except Layer8Error as error:
        layer8 = error.describe()
    except Exception as error:  # a bug in the client must not cost the plan: report it like an outage
        log.exception("Layer 8 availability query crashed")
        layer8 = {"error": f"{type(error).__name__}: {error}", "kind": "client_error", "status": None}
    return {"local_pools": local_pools, "layer8": layer8}


def reserve_with_layer8(*, allocation: dict, layer8_client: Layer8Client | None, reference: str) -> dict:
    """Hold and confirm at Layer 8 the rows it serves (and the extra units requested from it).

    Returns a copy of `allocation` whose rows say `confirmed` (with `layer8_allocation_id`)
    only when Layer 8 confirmed them; otherwise `unconfirmed` (Layer 8 failed; the hold, if
    any, was released) or `declined` (Layer 8 has no room). Declined or unconfirmed extra
    units become shortfalls. Idempotency keys derive from `reference` (plan id and
    version), so a retried stage finds its earlier holds instead of making new ones.
    """
    result = copy.deepcopy(allocation)
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for row in result["allocations"]:
        extra = row["status"] == "requested"
        if extra or (row.get("source") == "layer8" and row["status"] == "planned"):
            groups.setdefault((row["task_id"], row["resource"], "extra" if extra else "pool"), []).append(row)
    summary = {"confirmed": 0, "unconfirmed": 0, "declined": 0}
    if not groups:
        return result
    warnings: list[str] = []
    for (task_id, resource, kind), rows in groups.items():
        outcome = _reserve(layer8_client, rows, reference=reference, key=f"{reference}:{task_id}:{resource}:{kind}")
        summary[outcome] += len(rows)
        if outcome != "confirmed" and kind == "extra":
            for row in rows:
                result["shortfalls"].append({"task_id": task_id, "resource": resource, "needed": row["units"],
                                             "available": 0, "from": row["from"], "to": row["to"],
                                             "reason": f"Layer 8 {outcome} the request"})
    if summary["unconfirmed"]:
        warnings.append(f"Layer 8 did not confirm {summary['unconfirmed']} allocation(s); they are planned "
                        "but not reserved")
    if summary["declined"]:
        warnings.append(f"Layer 8 declined {summary['declined']} allocation(s) for lack of capacity")
    result["warnings"] = list(result.get("warnings", [])) + warnings
    integration = result.setdefault("integration", {}).setdefault("layer8", {})
    integration["reservations"] = summary
    return result


def _reserve(client: Layer8Client | None, rows: list[dict], *, reference: str, key: str) -> str:
    if client is None:
        for row in rows:
            row["status"] = "unconfirmed"
        return "unconfirmed"
    first = rows[0]
    try:
        held = client.request_allocation(resource=first["resource"], units=sum(r["units"] for r in rows),
                                         start=date.fromisoformat(first["from"]), end=date.fromisoformat(first["to"]),
                                         reference=reference, idempotency_key=key)
    except Layer8Error as error:
        outcome = "declined" if error.kind == "rejected" else "unconfirmed"
        for row in rows:
            row["status"], row["layer8_error"] = outcome, str(error)
        return outcome
    try:
        confirmed = client.confirm(held["id"])
    except Layer8Error as error:
        released = _release_quietly(client, held["id"])
        for row in rows:
            row["status"], row["layer8_error"] = "unconfirmed", str(error)
            if not released:
                row["layer8_hold_expires_at"] = held.get("expires_at")  # Layer 8 drops the hold then
        return "unconfirmed"
    for row in rows:
        row["status"], row["layer8_allocation_id"] = "confirmed", confirmed["id"]
    return "confirmed"


def version_holds(*, session: Session, version_ids: Iterable[int]) -> list[str]:
    """The Layer 8 holds the versions made: in their plan documents (made at finalize, for the scheduled dates)
    and in their allocate results (where versions made before holds followed the schedule kept them)."""
    from app.models import StageResult

    ids = list(version_ids)
    if not ids:
        return []
    outputs = [row for (row,) in session.execute(sa.select(PlanVersion.document).where(PlanVersion.id.in_(ids)))]
    outputs += [row for (row,) in session.execute(sa.select(StageResult.output).where(
        StageResult.plan_version_id.in_(ids), StageResult.stage.in_(("allocate", "finalize"))))]
    return sorted({row["layer8_allocation_id"] for output in outputs for row in (output or {}).get("allocations") or ()
                   if row.get("layer8_allocation_id")})


def release_plan_holds(*, session: Session, plan_id: str, layer8_client: Layer8Client | None) -> dict:
    """Release at Layer 8 every hold any version of the plan made (a cancelled plan keeps nothing there).

    Never raises on a Layer 8 failure: a hold not released expires or stays confirmed, and is logged.
    """
    versions = [row for (row,) in session.execute(sa.select(PlanVersion.id).where(PlanVersion.plan_id == plan_id))]
    held = version_holds(session=session, version_ids=versions)
    session.rollback()  # reads only: no transaction stays open across the calls to Layer 8
    if layer8_client is None or not held:
        return {"holds": len(held), "released": 0}
    released = sum(_release_quietly(layer8_client, allocation_id) for allocation_id in held)
    log.info("plan %s: released %d of %d Layer 8 hold(s)", plan_id, released, len(held))
    return {"holds": len(held), "released": released}


def _release_quietly(client: Layer8Client, allocation_id: str) -> bool:
    try:
        client.release(allocation_id)
        return True
    except Layer8Error:
        log.warning("could not release Layer 8 hold %s; it expires on its own", allocation_id)
        return False
