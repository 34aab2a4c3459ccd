"""Sources in order (goal, Layer 8, local pool, suggestions) and a Layer 8 that failed or answered badly."""

from __future__ import annotations

from planning.allocation import allocate_with_sources
from tests.planning.resources_cases import SETTINGS, goal, network, rows_of, task

LOCAL = [{"type": "engineer", "capacity": 9, "cost_rate": 1.0, "rate_unit": "hour", "currency": "EUR",
          "hours_per_day": 8, "substitutes": []},
         {"type": "qa", "capacity": 3, "cost_rate": 30.0, "rate_unit": "hour", "currency": "EUR",
          "hours_per_day": 8, "substitutes": []}]


def layer8_answer(*resources):
    return {"from": "2027-01-04", "to": "2027-02-26", "resources": list(resources), "cached": False}


def layer8_pool(kind, capacity, rate, periods=(), substitutes=()):
    return {"type": kind, "capacity": capacity, "cost_rate": rate, "rate_unit": "hour", "currency": "EUR",
            "hours_per_day": 8, "substitutes": list(substitutes), "periods": list(periods)}


def work():
    return network(task("a", 8, {"engineer": 1}), task("b", 8, {"qa": 1}), task("c", 8, {"designer": 1}))


def test_first_source_naming_a_type_defines_its_pool():
    """engineer from the goal (over Layer 8 and the local pool), qa from Layer 8 (over the local pool)."""
    net = network(task("a", 8, {"engineer": 1}), task("b", 8, {"qa": 1}))
    the_goal = goal(resources=[{"type": "engineer", "capacity": 2, "cost_per_hour": 85}])
    result = allocate_with_sources(the_goal, net, SETTINGS, local_pools=LOCAL,
                                   layer8=layer8_answer(layer8_pool("qa", 2, 55), layer8_pool("engineer", 8, 5)))
    assert result["integration"]["sources"] == {"engineer": "goal", "qa": "layer8"}
    assert {p["type"]: p["capacity"] for p in result["pools"]} == {"engineer": 2, "qa": 2}
    assert result["cost"]["total"] == 8 * 85 + 8 * 55
    assert result["integration"]["layer8"]["status"] == "ok"


def test_local_pool_serves_when_layer8_is_not_configured():
    """layer8=None: the local pool set is the source and the plan says Layer 8 is not configured."""
    result = allocate_with_sources(goal(), work(), SETTINGS, local_pools=LOCAL, layer8=None)
    assert result["integration"]["sources"] == {"designer": "assumed", "engineer": "local", "qa": "local"}
    assert result["integration"]["layer8"] == {"status": "not_configured"}


def test_layer8_failure_falls_back_to_the_local_pool_with_a_warning():
    """An error description instead of an answer: planned from the local pool, integration warning, no requests."""
    failed = {"error": "timeout: no answer within 2.0 s after 3 attempt(s)", "kind": "timeout", "status": None}
    result = allocate_with_sources(goal(), work(), SETTINGS, local_pools=LOCAL, layer8=failed)
    assert result["integration"]["layer8"]["status"] == "unavailable"
    assert result["integration"]["layer8"]["kind"] == "timeout"
    assert result["warnings"][0].startswith("Layer 8 resource manager unavailable (timeout")
    assert result["warnings"][0].endswith("planned from the local pool")
    assert rows_of(result, "a")[0]["source"] == "local" and result["requests"] == []


def test_layer8_periods_limit_availability_and_make_types_requestable():
    """Layer 8 has no engineer free on the first day: the conflict is requested from it, not reported short."""
    periods = [{"from": "2027-01-04", "to": "2027-01-04", "available": 0},
               {"from": "2027-01-05", "to": "2027-02-26", "available": 1}]
    net = network(task("a", 8, {"engineer": 1}))
    result = allocate_with_sources(goal(), net, SETTINGS, local_pools=LOCAL,
                                   layer8=layer8_answer(layer8_pool("engineer", 1, 80, periods)))
    assert [(r["resource"], r["units"], r["from"], r["to"]) for r in result["requests"]] == [
        ("engineer", 1, "2027-01-04", "2027-01-04")]
    assert result["shortfalls"] == []


def test_layer8_substitute_pool_is_used_across_sources():
    """A Layer 8 senior pool that may do engineer work serves the local engineers' overflow."""
    net = network(task("t1", 8, {"engineer": 1}), task("t2", 8, {"engineer": 1}))
    local = [dict(LOCAL[0], capacity=1)]
    result = allocate_with_sources(goal(), net, SETTINGS, local_pools=local,
                                   layer8=layer8_answer(layer8_pool("senior", 1, 110, substitutes=["engineer"])))
    assert sorted((r["resource"], r["source"]) for r in result["allocations"]) == [
        ("engineer", "local"), ("senior", "layer8")]


def test_bad_entries_are_skipped_with_a_warning():
    """A Layer 8 entry without capacity and a local row with a bad unit are ignored, and each is named."""
    local = [dict(LOCAL[0], rate_unit="fortnight"), LOCAL[1]]
    answer = layer8_answer({"type": "engineer"}, layer8_pool("qa", 1, 50, [{"from": "nonsense"}]))
    result = allocate_with_sources(goal(), work(), SETTINGS, local_pools=local, layer8=answer)
    text = " | ".join(result["warnings"])
    assert "Layer 8 resource entry 0 ignored" in text
    assert "local pool entry 0 ignored" in text
    assert "Layer 8 period of 'qa' ignored" in text
    assert result["integration"]["sources"]["qa"] == "layer8"


def test_an_answer_without_resources_counts_as_unavailable():
    """A Layer 8 answer lacking its `resources` list is treated as a failure, not as no pools."""
    result = allocate_with_sources(goal(), work(), SETTINGS, local_pools=LOCAL, layer8={"resources": "all"})
    assert result["integration"]["layer8"]["status"] == "unavailable"
