"""The Layer 8 client against a real HTTP server on a loopback port, with faults on demand."""

from __future__ import annotations

from datetime import date

import pytest
from prometheus_client import REGISTRY

from app.config import ConfigError, load_config
from app.layer8 import CircuitBreaker, Layer8Client, Layer8Error, TTLCache
from app.services.resources import reserve_with_layer8
from tests.layer8_server import Layer8TestServer

DEC1, DEC10 = date(2026, 12, 1), date(2026, 12, 10)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def layer8():
    with Layer8TestServer() as server:
        yield server


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(layer8, clock, sleeps):
    """Short timeouts, no real sleeping between retries (the delays are recorded), a fake clock."""
    made = Layer8Client(layer8.url, timeout=0.3, cache_ttl=30, max_attempts=3, backoff_base=0.1, backoff_max=1.0,
                        breaker=CircuitBreaker(failure_threshold=3, reset_timeout=10, clock=clock),
                        sleep=sleeps.append, jitter=lambda: 1.0, clock=clock)
    yield made
    made.close()


def errors(operation: str, kind: str) -> float:
    return REGISTRY.get_sample_value("layer2_integration_errors_total",
                                     {"system": "layer8", "operation": operation, "kind": kind}) or 0.0


# happy path ------------------------------------------------------------------------------


def test_availability_lists_the_types_and_the_pools_that_may_stand_in(client):
    """Asking for engineer brings the engineer pool and the senior pool that substitutes for it, with periods."""
    answer = client.availability(["engineer"], DEC1, DEC10)
    assert sorted(r["type"] for r in answer["resources"]) == ["engineer", "senior_engineer"]
    engineer = next(r for r in answer["resources"] if r["type"] == "engineer")
    assert engineer["periods"] == [{"from": "2026-12-01", "to": "2026-12-10", "available": 4}]
    assert answer["cached"] is False and answer["fetched_at"]


def test_hold_confirm_and_release_change_what_layer8_shows(client, layer8):
    """A held then confirmed allocation is confirmed at Layer 8 and reduces availability; release gives it back."""
    held = client.request_allocation(resource="engineer", units=3, start=date(2026, 12, 2), end=date(2026, 12, 3),
                                     reference="plan-1/v1", idempotency_key="plan-1/v1:a")
    assert held["status"] == "held" and held["expires_at"]
    assert client.confirm(held["id"])["status"] == "confirmed"
    assert layer8.allocation(held["id"])["status"] == "confirmed"
    periods = next(r for r in client.availability(["engineer"], DEC1, DEC10)["resources"]
                   if r["type"] == "engineer")["periods"]
    assert [p["available"] for p in periods] == [4, 1, 4]
    client.release(held["id"])
    assert layer8.allocation(held["id"])["status"] == "released"


def test_the_same_idempotency_key_names_the_same_hold(client, layer8):
    """A repeated allocation request (a retried stage) gets the first hold back, not a second one."""
    first = client.request_allocation(resource="qa", units=1, start=DEC1, end=DEC1, reference="p", idempotency_key="k")
    again = client.request_allocation(resource="qa", units=1, start=DEC1, end=DEC1, reference="p", idempotency_key="k")
    assert first["id"] == again["id"] and len(layer8.allocations()) == 1


def test_layer8_saying_no_is_an_answer_not_an_outage(client, layer8):
    """409 for lack of capacity is `rejected`: not retried, not counted as an integration error, breaker closed."""
    before = errors("request_allocation", "rejected")
    with pytest.raises(Layer8Error) as error:
        client.request_allocation(resource="qa", units=5, start=DEC1, end=DEC1, reference="p", idempotency_key="big")
    assert (error.value.kind, error.value.status, error.value.body["available"]) == ("rejected", 409, 2)
    assert layer8.hits("/api/v1/allocations", "POST") == 1
    assert errors("request_allocation", "rejected") == before
    assert client.breaker.state == "closed"


def test_release_of_an_unknown_allocation_counts_as_released(client):
    """Releasing what Layer 8 no longer knows (404) is not an error."""
    client.release("does-not-exist")


# faults ------------------------------------------------------------------------------------


def test_500s_are_retried_with_exponential_backoff(client, layer8, sleeps):
    """Two 500s then success: three requests, backoff 0.1 then 0.2 s (full jitter at its maximum)."""
    layer8.fault("error500", times=2)
    assert client.health() == {"status": "ok"}
    assert layer8.hits("/health") == 3
    assert sleeps == [0.1, 0.2]


def test_jitter_spreads_the_backoff_below_its_cap(layer8):
    """With jitter, each delay is a random share of base x 2^n, never above backoff_max."""
    delays: list[float] = []
    shares = iter([0.5, 0.25, 0.9, 0.9])
    made = Layer8Client(layer8.url, timeout=0.3, max_attempts=5, backoff_base=0.4, backoff_max=1.0,
                        sleep=delays.append, jitter=lambda: next(shares))
    layer8.fault("error500", times=4)
    made.health()
    assert delays == pytest.approx([0.2, 0.2, 0.9, 0.9])


def test_500s_until_retries_run_out_fail_and_are_counted_once(client, layer8):
    """Three 500s: a server_error after 3 attempts, one count in layer2_integration_errors_total."""
    before = errors("health", "server_error")
    layer8.fault("error500", times=None)
    with pytest.raises(Layer8Error) as error:
        client.health()
    assert error.value.kind == "server_error" and error.value.status == 500
    assert layer8.hits("/health") == 3
    assert errors("health", "server_error") == before + 1


def test_a_slow_answer_within_the_timeout_is_fine(client, layer8):
    """An answer 0.1 s late, under the 0.3 s timeout, is used."""
    layer8.fault("slow", delay=0.1)
    assert client.health() == {"status": "ok"}


def test_a_slow_answer_past_the_timeout_is_a_timeout(client, layer8):
    """Answers 0.6 s late against a 0.3 s timeout: a timeout after the retries."""
    layer8.fault("slow", delay=0.6, times=None)
    with pytest.raises(Layer8Error) as error:
        client.health()
    assert error.value.kind == "timeout"


def test_a_hanging_layer8_times_out_and_is_retried(client, layer8):
    """A server that never answers: each attempt times out, and the third failure is raised."""
    before = errors("availability", "timeout")
    layer8.fault("hang", times=None, path="/api/v1/resources")
    with pytest.raises(Layer8Error) as error:
        client.availability(None, DEC1, DEC10)
    assert error.value.kind == "timeout" and "after 3 attempt(s)" in str(error.value)
    assert layer8.hits("/api/v1/resources") == 3
    assert errors("availability", "timeout") == before + 1


def test_malformed_json_is_a_failure_and_is_not_retried(client, layer8):
    """A 200 whose body is not JSON raises `malformed` at once and is counted."""
    before = errors("availability", "malformed")
    layer8.fault("malformed")
    with pytest.raises(Layer8Error) as error:
        client.availability(["engineer"], DEC1, DEC10)
    assert error.value.kind == "malformed"
    assert layer8.hits("/api/v1/resources") == 1
    assert errors("availability", "malformed") == before + 1


def test_connection_refused_when_layer8_is_down(client, layer8):
    """With the server stopped, calls fail with `connection`; started again on its port, they work."""
    layer8.stop()
    with pytest.raises(Layer8Error) as error:
        client.health()
    assert error.value.kind == "connection"
    layer8.start()
    assert client.health() == {"status": "ok"}


# circuit breaker ---------------------------------------------------------------------------


def test_breaker_opens_after_consecutive_failures_and_refuses_without_calling(client, layer8, clock):
    """Three failed calls open the breaker; the fourth is refused at once (no request) and counted."""
    layer8.fault("error500", times=None)
    for _ in range(3):
        with pytest.raises(Layer8Error):
            client.health()
    assert client.breaker.state == "open"
    hits, before = layer8.hits(), errors("health", "circuit_open")
    with pytest.raises(Layer8Error) as error:
        client.health()
    assert error.value.kind == "circuit_open"
    assert layer8.hits() == hits
    assert errors("health", "circuit_open") == before + 1


def test_breaker_half_opens_after_the_cool_down_and_closes_on_success(client, layer8, clock):
    """After the 10 s cool-down one trial goes through; its success closes the breaker."""
    layer8.fault("error500", times=None)
    for _ in range(3):
        with pytest.raises(Layer8Error):
            client.health()
    layer8.clear_faults()
    clock.now += 9.9
    assert client.breaker.state == "open"
    clock.now += 0.2
    assert client.breaker.state == "half_open"
    assert client.health() == {"status": "ok"}
    assert client.breaker.state == "closed"


def test_a_failed_trial_opens_the_breaker_again(client, layer8, clock):
    """In half-open, a failed trial reopens the breaker for another full cool-down."""
    layer8.fault("error500", times=None)
    for _ in range(3):
        with pytest.raises(Layer8Error):
            client.health()
    clock.now += 10
    with pytest.raises(Layer8Error) as error:
        client.health()
    assert error.value.kind == "server_error"
    assert client.breaker.state == "open"
    clock.now += 5
    assert client.breaker.state == "open"


def test_a_success_resets_the_count_of_failures(client, layer8):
    """Two failures, a success, two failures: never three in a row, so the breaker stays closed."""
    for failures in (2, 2):
        layer8.fault("error500", times=3 * failures)
        for _ in range(failures):
            with pytest.raises(Layer8Error):
                client.health()
        client.health()
    assert client.breaker.state == "closed"


def test_only_one_trial_at_a_time_in_half_open(clock):
    """While the trial runs, other callers are refused."""
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=5, clock=clock)
    breaker.record_failure()
    clock.now += 5
    assert breaker.allow() is True
    assert breaker.allow() is False
    breaker.record_success()
    assert breaker.allow() is True


# cache -------------------------------------------------------------------------------------


def test_cached_availability_makes_no_request_even_when_layer8_hangs(client, layer8):
    """A second read within the TTL comes from the cache: no request, so Layer 8's latency cannot touch it."""
    client.availability(["engineer"], DEC1, DEC10)
    layer8.fault("hang", times=None)
    again = client.availability(["engineer"], DEC1, DEC10)
    assert again["cached"] is True and layer8.hits("/api/v1/resources") == 1


def test_cache_entries_expire_after_the_ttl(client, layer8, clock):
    """At 29.9 s the cache answers; at 30 s it asks Layer 8 again."""
    client.availability(["engineer"], DEC1, DEC10)
    clock.now += 29.9
    assert client.availability(["engineer"], DEC1, DEC10)["cached"] is True
    clock.now += 0.1
    assert client.availability(["engineer"], DEC1, DEC10)["cached"] is False
    assert layer8.hits("/api/v1/resources") == 2


def test_cache_is_keyed_by_query_and_cleared_by_allocations(client, layer8):
    """Other types or dates are other entries; a new hold empties the cache (availability changed)."""
    client.availability(["engineer"], DEC1, DEC10)
    client.availability(["qa"], DEC1, DEC10)
    assert layer8.hits("/api/v1/resources") == 2
    client.request_allocation(resource="qa", units=1, start=DEC1, end=DEC1, reference="p", idempotency_key="q")
    assert client.availability(["qa"], DEC1, DEC10)["cached"] is False


def test_ttl_cache_returns_copies_and_ttl_zero_disables_it(clock):
    """Changing a value read from the cache does not change the cache; a zero TTL stores nothing."""
    cache = TTLCache(10, clock=clock)
    cache.set("k", {"a": [1]})
    cache.get("k")["a"].append(2)
    assert cache.get("k") == {"a": [1]}
    off = TTLCache(0, clock=clock)
    off.set("k", 1)
    assert off.get("k") is None


# nothing confirmed that Layer 8 did not confirm ------------------------------------------------


def allocation_using_layer8(*rows):
    return {"allocations": [dict(row) for row in rows], "shortfalls": [], "warnings": [], "integration": {}}


def row(task_id, resource="engineer", units=1, status="planned", source="layer8"):
    return {"task_id": task_id, "resource": resource, "units": units, "status": status, "source": source,
            "from": "2026-12-01", "to": "2026-12-02", "requested_resource": resource}


def test_confirmed_rows_are_confirmed_at_layer8(client, layer8):
    """Rows from Layer 8 pools are held and confirmed there; each row names its Layer 8 allocation."""
    result = reserve_with_layer8(allocation=allocation_using_layer8(row("a"), row("b", "qa"), row("c", source="local")),
                                 layer8_client=client, reference="plan-1/v1")
    statuses = {r["task_id"]: r["status"] for r in result["allocations"]}
    assert statuses == {"a": "confirmed", "b": "confirmed", "c": "planned"}
    for r in result["allocations"][:2]:
        assert layer8.allocation(r["layer8_allocation_id"])["status"] == "confirmed"
    assert result["integration"]["layer8"]["reservations"] == {"confirmed": 2, "unconfirmed": 0, "declined": 0}


def test_a_confirmation_layer8_did_not_give_is_not_shown_and_the_hold_is_released(client, layer8):
    """Confirm answers 200 but the allocation stays held: the row is `unconfirmed` and the hold released."""
    layer8.fault("unconfirmed")
    result = reserve_with_layer8(allocation=allocation_using_layer8(row("a")), layer8_client=client, reference="p/v1")
    [only] = result["allocations"]
    assert only["status"] == "unconfirmed" and "layer8_allocation_id" not in only
    assert [a["status"] for a in layer8.allocations()] == ["released"]
    assert any("did not confirm 1 allocation" in w for w in result["warnings"])


def test_a_failed_confirmation_leaves_nothing_half_allocated(client, layer8):
    """Confirm fails with 500s: the row is `unconfirmed` and Layer 8 holds nothing for it."""
    layer8.fault("error500", times=3, path="/api/v1/allocations/")
    result = reserve_with_layer8(allocation=allocation_using_layer8(row("a")), layer8_client=client, reference="p/v1")
    assert result["allocations"][0]["status"] == "unconfirmed"
    assert layer8.allocations("held") == [] and layer8.allocations("confirmed") == []


def test_declined_extra_units_become_shortfalls(client, layer8):
    """Extra units Layer 8 has no room for are `declined` and reported as a shortfall for the risk assessor."""
    extra = row("a", "qa", units=5, status="requested", source="local")
    result = reserve_with_layer8(allocation=allocation_using_layer8(extra), layer8_client=client, reference="p/v1")
    assert result["allocations"][0]["status"] == "declined"
    assert [(s["task_id"], s["resource"], s["needed"], s["available"]) for s in result["shortfalls"]] == [
        ("a", "qa", 5, 0)]


def test_with_layer8_down_every_row_is_unconfirmed(client, layer8):
    """Layer 8 stopped: nothing is confirmed, the plan keeps its rows, and says so."""
    layer8.stop()
    result = reserve_with_layer8(allocation=allocation_using_layer8(row("a"), row("b")), layer8_client=client,
                                 reference="p/v1")
    assert [r["status"] for r in result["allocations"]] == ["unconfirmed", "unconfirmed"]


# configuration -----------------------------------------------------------------------------


def test_layer8_settings_have_defaults_and_come_from_the_environment():
    """LAYER8_TIMEOUT_SECONDS and LAYER8_CACHE_TTL_SECONDS default to 2 and 60 and are read from the env."""
    assert (load_config(env={})["LAYER8_TIMEOUT_SECONDS"], load_config(env={})["LAYER8_CACHE_TTL_SECONDS"]) == (2, 60)
    config = load_config(env={"LAYER8_BASE_URL": "http://l8:9000", "LAYER8_TIMEOUT_SECONDS": "0.5",
                              "LAYER8_CACHE_TTL_SECONDS": "0"})
    made = Layer8Client.from_config(config)
    assert (made.timeout, made.cache.ttl, made.base_url) == (0.5, 0, "http://l8:9000")
    assert Layer8Client.from_config(load_config(env={})) is None


@pytest.mark.parametrize("name, value", [("LAYER8_TIMEOUT_SECONDS", "0"), ("LAYER8_TIMEOUT_SECONDS", "soon"),
                                         ("LAYER8_CACHE_TTL_SECONDS", "-1"), ("LAYER8_CACHE_TTL_SECONDS", "nan")])
def test_bad_layer8_settings_stop_startup_naming_them(name, value):
    """A bad timeout or TTL raises ConfigError naming the variable."""
    with pytest.raises(ConfigError, match=name):
        load_config(env={name: value})


# the contract ----------------------------------------------------------------------------


def contract() -> dict:
    import re
    from pathlib import Path

    import yaml

    text = (Path(__file__).resolve().parent.parent / "docs" / "layer8-contract.md").read_text()
    return yaml.safe_load(re.search(r"```yaml\n(.*?)```", text, re.S).group(1))


def test_contract_the_test_server_answers_every_documented_operation_as_documented(layer8):
    """Each path and method of docs/layer8-contract.md answers with a documented status and the required fields."""
    import requests

    spec = contract()
    schemas = spec["components"]["schemas"]
    hold = {"resource": "qa", "units": 1, "from": "2026-12-01", "to": "2026-12-01"}
    created = requests.post(layer8.url + "/api/v1/allocations", headers={"Idempotency-Key": "contract"}, json=hold,
                            timeout=2).json()["id"]
    calls = {
        ("/api/v1/resources/availability", "get"):
            ("GET", "/api/v1/resources/availability?from=2026-12-01&to=2026-12-02", None, "Availability"),
        ("/api/v1/allocations", "post"): ("POST", "/api/v1/allocations", dict(hold, resource="engineer"), "Allocation"),
        ("/api/v1/allocations/{id}", "get"): ("GET", f"/api/v1/allocations/{created}", None, "Allocation"),
        ("/api/v1/allocations/{id}/confirm", "post"): ("POST", f"/api/v1/allocations/{created}/confirm", None,
                                                       "Allocation"),
        ("/api/v1/allocations/{id}", "delete"): ("DELETE", f"/api/v1/allocations/{created}", None, None),
        ("/health", "get"): ("GET", "/health", None, None),
    }
    documented = {(path, method) for path, item in spec["paths"].items() for method in item if method != "parameters"}
    assert documented == set(calls)
    for (path, method), (verb, url, body, schema) in calls.items():
        response = requests.request(verb, layer8.url + url, json=body, headers={"Idempotency-Key": "c-" + path},
                                    timeout=2)
        assert str(response.status_code) in spec["paths"][path][method]["responses"], (path, method)
        if schema:
            assert set(schemas[schema]["required"]) <= set(response.json()), (path, method)
    pool = requests.get(layer8.url + "/api/v1/resources/availability?from=2026-12-01&to=2026-12-01",
                        timeout=2).json()["resources"][0]
    assert set(schemas["Pool"]["required"]) <= set(pool) and set(pool) <= set(schemas["Pool"]["properties"])
    missing_key = requests.post(layer8.url + "/api/v1/allocations", json={"resource": "qa"}, timeout=2)
    assert missing_key.status_code == 400 and missing_key.headers["Content-Type"] == "application/problem+json"
