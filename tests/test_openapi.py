"""The OpenAPI document, the docs page, pagination, and the bugs schemathesis found (embedded app)."""

from __future__ import annotations

import pytest

from tests.conftest import load_example


@pytest.fixture
def planned(client) -> str:
    """A planned (ready) plan's id."""
    answer = client.post("/api/v1/plans", json=load_example())
    assert answer.status_code == 202
    return answer.get_json()["id"]


@pytest.mark.parametrize("query", ["from=14597726797256847360&to=1", "from=1&to=2147483648"])
def test_a_version_past_the_database_integer_is_a_422(client, planned, query):
    """diff?from=<20 digits> answered 500 (OverflowError in the query); now a 422 naming the parameter."""
    answer = client.get(f"/api/v1/plans/{planned}/diff?{query}")
    assert answer.status_code == 422
    assert answer.mimetype == "application/problem+json"
    assert answer.get_json()["errors"][0]["field"] in ("from", "to")
    assert client.get(f"/api/v1/plans/{planned}?version=99999999999999999999").status_code == 422


def test_a_method_the_path_does_not_have_is_a_405_with_allow(client):
    """TRACE on a documented path: a 405 problem listing the allowed methods in Allow (it had no Allow)."""
    answer = client.open("/api/v1/plans/x/approve", method="TRACE")
    assert answer.status_code == 405
    assert answer.mimetype == "application/problem+json"
    assert "POST" in {method.strip() for method in answer.headers["Allow"].split(",")}


@pytest.mark.parametrize(("body", "status"), [(b"\x00", 400), (b"{\"reason\": ", 400), (b"[]", 400)])
def test_a_cancel_with_a_malformed_body_is_refused_and_cancels_nothing(client, planned, body, status):
    """DELETE with a body that is not a JSON object: a 400 problem, the plan not cancelled (it was ignored)."""
    answer = client.delete(f"/api/v1/plans/{planned}", data=body, content_type="application/json")
    assert answer.status_code == status
    assert answer.mimetype == "application/problem+json"
    assert client.get(f"/api/v1/plans/{planned}").get_json()["status"] != "cancelled"


def test_the_document_is_served_and_the_docs_page_needs_no_internet(client):
    """openapi.json is OpenAPI 3 naming every /api/v1 route; /api/v1/docs loads its script and style from the app."""
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    app = client.application
    routes = {(rule.rule.replace("<", "{").replace(">", "}"), method.lower()) for rule in app.url_map.iter_rules()
              for method in rule.methods - {"HEAD", "OPTIONS"}
              if rule.rule.startswith("/api/v1/") and not rule.rule.startswith(("/api/v1/docs", "/api/v1/openapi"))}
    documented = {(path, method) for path, item in spec["paths"].items() for method in item if method != "parameters"}
    assert routes == documented
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assets = [part.split('"')[0] for part in page.split('src="')[1:] + page.split('href="')[1:]]
    assert assets and all(asset.startswith("/api/v1/docs/assets/") for asset in assets), assets
    for asset in assets:
        answer = client.get(asset)
        assert answer.status_code == 200 and len(answer.data) > 1000, asset


def test_every_error_is_documented_as_a_problem(client):
    """Each operation's 4xx/5xx answers are application/problem+json in the document; 503 says Retry-After."""
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    content = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]["content"]
                    assert "application/problem+json" in content, (path, method)
            assert "503" in operation["responses"], (path, method)
    assert "Retry-After" in spec["components"]["responses"]["Problem503"]["headers"]


def _walk(client, url: str) -> tuple[list[dict], int]:
    """Follow Link rel=next from `url`; every item of every page and the number of pages."""
    items, pages = [], 0
    while url:
        answer = client.get(url)
        assert answer.status_code == 200, answer.get_json()
        body = answer.get_json()
        items += next(value for key, value in body.items() if isinstance(value, list))
        pages += 1
        link = answer.headers.get("Link")
        assert ("next_cursor" in body) == (link is not None)
        url = link.split(">")[0].lstrip("<") if link else None
        assert not link or link.endswith('; rel="next"')
    return items, pages


def test_lists_page_by_cursor_with_link_headers(client, planned):
    """Plans and risks walked two at a time by Link rel=next: every item once, in the one-page order."""
    for _ in range(3):
        client.post("/api/v1/plans", json=load_example())
    everything = client.get("/api/v1/plans").get_json()["plans"]
    walked, pages = _walk(client, "/api/v1/plans?limit=2")
    assert [plan["id"] for plan in walked] == [plan["id"] for plan in everything] and len(everything) == 4
    assert pages == 2
    risks = client.get(f"/api/v1/plans/{planned}/risks").get_json()["risks"]
    walked, pages = _walk(client, f"/api/v1/plans/{planned}/risks?limit=2")
    assert walked == risks and pages == (len(risks) + 1) // 2 > 1
    ready = client.get("/api/v1/plans?status=ready&limit=1").get_json()
    assert ready["plans"][0]["status"] == "ready" and "next_cursor" in ready


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=x", "cursor=bm90LWEtY3Vyc29y", "cursor=%%%"])
def test_a_bad_page_parameter_is_a_422_naming_it(client, planned, query):
    """A limit out of 1..1000 or a cursor the API did not give out (or gave for another list): 422 naming it."""
    for url in ("/api/v1/plans", f"/api/v1/plans/{planned}/versions", f"/api/v1/plans/{planned}/risks"):
        answer = client.get(f"{url}?{query}")
        assert answer.status_code == 422, (url, answer.get_json())
        assert answer.get_json()["errors"][0]["field"] == query.split("=")[0]
    other_list = client.get("/api/v1/plans?limit=1").get_json()
    client.post("/api/v1/plans", json=load_example())
    cursor = client.get("/api/v1/plans?limit=1").get_json()["next_cursor"]
    assert other_list and client.get(f"/api/v1/plans/{planned}/risks?cursor={cursor}").status_code == 422


def test_the_metrics_snapshot_counts_what_the_database_holds(client, planned):
    """Goals, plans by state, a latency percentile for every stage, queues 'eager' when embedded."""
    client.post("/api/v1/plans", json={"title": ""})  # refused: no goal, no plan
    snapshot = client.get("/api/v1/metrics/snapshot").get_json()
    assert snapshot["goals"]["received"] == 1
    assert snapshot["plans"]["total"] == 1 and snapshot["plans"]["by_state"]["ready"] == 1
    for stage in ("risk", "decompose", "allocate", "schedule", "finalize"):
        latency = snapshot["stages"][stage]["latency_seconds"]
        assert latency["samples"] == 1 and 0 < latency["p50"] == latency["p99"] == latency["max"]
    assert snapshot["queues"]["mode"] == "eager" and set(snapshot["queues"]["depths"].values()) == {"eager"}
    assert snapshot["errors"]["stage_runs_failed_total"] == 0


def test_percentiles_interpolate_between_ranks():
    """p50 of 1..4 is 2.5, p99 of 0..100 is 99, one value is every percentile."""
    from app.services.snapshot import percentile

    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([float(v) for v in range(101)], 99) == 99.0
    assert percentile([7.0], 95) == 7.0


def test_plan_resources_show_the_holds_and_their_state_at_layer8(tmp_path):
    """GET /plans/{id}/resources: the allocations, each Layer 8 hold with Layer 8's state now (released after a
    cancel), and a plan without Layer 8 says it is not configured."""
    from app import create_app
    from app.cli import upgrade_database
    from tests.layer8_server import Layer8TestServer
    from tests.test_layer8_holds import GOAL, ONE_ENGINEER

    with Layer8TestServer(ONE_ENGINEER) as layer8:
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/l8.sqlite", "CELERY_BROKER_URL": None,
                          "CELERY_KEY_PREFIX": None, "LAYER8_BASE_URL": layer8.url})
        upgrade_database(app)
        client = app.test_client()
        plan_id = client.post("/api/v1/plans", json=GOAL).get_json()["id"]
        view = client.get(f"/api/v1/plans/{plan_id}/resources").get_json()
        assert view["layer8"]["configured"] and view["allocations"]
        held = {hold["id"] for hold in layer8.holds_of(plan_id)}
        assert held and {hold["id"] for hold in view["holds"]} == held
        assert {hold["layer8"]["status"] for hold in view["holds"]} == {"confirmed"}
        assert client.delete(f"/api/v1/plans/{plan_id}").status_code == 200
        view = client.get(f"/api/v1/plans/{plan_id}/resources?version=1").get_json()
        assert {hold["layer8"]["status"] for hold in view["holds"]} == {"released"}
        assert client.get(f"/api/v1/plans/{plan_id}/resources?version=2").status_code == 404
        with app.app_context():
            app.extensions["sqlalchemy"].engine.dispose()


def test_plan_resources_without_layer8(client, planned):
    """No Layer 8 configured: the local allocations, no holds, and the reason."""
    view = client.get(f"/api/v1/plans/{planned}/resources").get_json()
    assert view["allocations"] and view["holds"] == [] and view["layer8"]["configured"] is False
    assert sum(view["allocations_by_status"].values()) == len(view["allocations"])


def test_a_deadline_already_past_is_planned_not_an_internal_error(client):
    """A goal with no start whose deadline has passed: planned against a deadline 0 h away (the schedule stage
    crashed with ValueError 'moment is before the project start' and the plan failed; found by schemathesis)."""
    goal = {key: value for key, value in load_example().items() if key != "start"}
    answer = client.post("/api/v1/plans", json={**goal, "deadline": "2000-01-01"})
    assert answer.status_code == 202
    plan = client.get(f"/api/v1/plans/{answer.get_json()['id']}").get_json()
    assert plan["version_status"] == "ready", plan.get("error")
    assert plan["schedule_risk"]["deadline_hours"] == 0 and plan["schedule_risk"]["deadline_probability"] == 0


@pytest.fixture
def pg_client(pg_url):
    """The embedded app on this run's PostgreSQL database (its test client sends an admin key)."""
    from app import create_app
    from app.cli import upgrade_database

    app = create_app({"DATABASE_URL": pg_url, "CELERY_BROKER_URL": None, "CELERY_KEY_PREFIX": None})
    upgrade_database(app)
    yield app.test_client()
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


@pytest.mark.parametrize(("expires_at", "status", "stored"), [
    ("2647-01-21T15:58:42+18:19", 201, "2647-01-20T21:39:42+00:00"),
    ("0001-01-01T00:00:00+05:00", 422, None)])
def test_a_key_expiry_with_any_utc_offset_is_stored_in_utc(pg_client, expires_at, status, stored):
    """POST /api/v1/keys with an offset PostgreSQL refuses (over 15:59) was a 500 (found by schemathesis on the
    farm): it is stored in UTC; a moment that leaves the years 1..9999 in UTC is a 422 naming expires_at."""
    answer = pg_client.post("/api/v1/keys", json={"role": "viewer", "expires_at": expires_at})
    assert answer.status_code == status, answer.get_json()
    if stored:
        assert answer.get_json()["expires_at"] == stored
    else:
        assert answer.get_json()["errors"][0]["field"] == "expires_at"
