"""Every status the OpenAPI document gives an operation is one the app answers, with the documented body.

One request per (operation, status), chosen to bring that answer, on the embedded app; each answer is
checked against the document by schemathesis's own validator (status, content type, headers, schema).
Only the answers a fault brings are left to the tests named in FAULT_ONLY.
"""

from __future__ import annotations

import pytest
import schemathesis

from tests.conftest import load_example
from tests.security_support import anonymous_client, keyed_client, make_key

FAULT_ONLY = {
    503: "a dependency down: tests/test_faults_services.py, tests/test_hardening_edge.py",
    408: "a body that stops arriving (a socket read timeout): tests/test_hardening_edge.py",
    429: "more requests than LAYER2_RATE_LIMIT in a minute: tests/test_security.py",
}
# A status no single request can bring, and why it is documented all the same.
RACES = {
    ("/api/v1/resources", "put", 409): "two replacements at once: the later commit loses (concurrent-update)",
}
BIG = b'{"x": "' + b"a" * 30_000 + b'"}'


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from app import create_app
    from app.cli import upgrade_database

    path = tmp_path_factory.mktemp("statuses")
    app = create_app({"DATABASE_URL": f"sqlite:///{path}/statuses.sqlite", "CELERY_BROKER_URL": None,
                      "CELERY_KEY_PREFIX": None, "LAYER2_MAX_GOAL_BYTES": "20000"})
    upgrade_database(app)
    yield app
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


@pytest.fixture(scope="module")
def seeded(app) -> dict:
    """Plans in the states the answers need, and ids of a risk, an issue and tasks."""
    client = app.test_client()

    def plan() -> str:
        return client.post("/api/v1/plans", json=load_example()).get_json()["id"]

    ids = {name: plan() for name in ("ready", "to_approve", "to_reject", "to_cancel", "approved", "cancelled")}
    ids["queued"] = _queued_plan(app)
    assert client.post(f"/api/v1/plans/{ids['approved']}/approve", json={}).status_code == 200
    assert client.delete(f"/api/v1/plans/{ids['cancelled']}").status_code == 200
    approved = client.get(f"/api/v1/plans/{ids['approved']}").get_json()
    answer = client.put(f"/api/v1/plans/{ids['approved']}", json={"updates": [
        {"task_id": approved["tasks"][index]["id"], "status": "blocked", "blocked_reason": "waiting"}
        for index in (0, 2)]})
    assert answer.status_code == 200
    issues = client.get(f"/api/v1/plans/{ids['approved']}/issues").get_json()["issues"]
    # A second version to compare with the first (a replan of the approved plan).
    assert client.post(f"/api/v1/plans/{ids['approved']}/replan", json={"reason": "seed"}).status_code == 202
    ids.update(task=approved["tasks"][1]["id"], uid=approved["tasks"][0]["uid"],
               risk=client.get(f"/api/v1/plans/{ids['ready']}/risks").get_json()["risks"][0]["id"],
               issue=issues[1]["id"], resolved_issue=issues[0]["id"])
    assert client.post(f"/api/v1/issues/{ids['resolved_issue']}/resolve",
                       json={"who": "ops", "resolution": "unblocked"}).status_code == 200
    ids["key"] = client.post("/api/v1/keys", json={"role": "viewer", "name": "to revoke"}).get_json()["id"]
    return ids


def _queued_plan(app) -> str:
    """A plan stored and not yet planned (as on the farm before a worker takes it): nothing to measure yet."""
    from app.extensions import db
    from app.schemas import GoalCreate
    from app.services import plans as plan_service

    with app.app_context():
        return plan_service.create_plan(session=db.session, goal_data=GoalCreate().load(load_example()),
                                        actor="test", settings=app.config["PLANNING"]).plan_id


def _requests(ids: dict) -> dict[tuple[str, str, int], dict]:
    """(path, method, status) -> the request (url, and json / data + content type, headers) that brings it."""
    p = "/api/v1/plans"
    ready, approved, cancelled = ids["ready"], ids["approved"], ids["cancelled"]
    text = {"data": b"plain", "content_type": "text/plain"}
    malformed = {"data": b"{", "content_type": "application/json"}
    big = {"data": BIG, "content_type": "application/json"}
    nul = "?x=%00"
    table = {
        (p, "get", 200): {"url": p}, (p, "get", 400): {"url": p + nul}, (p, "get", 422): {"url": p + "?limit=0"},
        (p, "post", 202): {"url": p, "json": load_example()}, (p, "post", 400): {"url": p, **malformed},
        (p, "post", 413): {"url": p, **big}, (p, "post", 415): {"url": p, **text},
        (p, "post", 422): {"url": p, "json": {"title": ""}},
    }
    one = p + "/{plan_id}"
    table.update({
        (one, "get", 200): {"url": f"{p}/{ready}"}, (one, "get", 400): {"url": f"{p}/{ready}{nul}"},
        (one, "get", 404): {"url": f"{p}/nope"}, (one, "get", 422): {"url": f"{p}/{ready}?version=x"},
        (one, "delete", 200): {"url": f"{p}/{ids['to_cancel']}", "json": {"reason": "not needed"}},
        (one, "delete", 400): {"url": f"{p}/{ready}", **malformed},
        (one, "delete", 404): {"url": f"{p}/nope"}, (one, "delete", 409): {"url": f"{p}/{cancelled}"},
        (one, "delete", 413): {"url": f"{p}/{ready}", **big}, (one, "delete", 415): {"url": f"{p}/{ready}", **text},
        (one, "delete", 422): {"url": f"{p}/{ready}", "json": {"reason": 5}},
        (one, "put", 200): {"url": f"{p}/{approved}", "json": {"updates": [{"task_id": ids["task"],
                                                                            "percent_complete": 10}]}},
        (one, "put", 400): {"url": f"{p}/{approved}", **malformed},
        (one, "put", 404): {"url": f"{p}/nope", "json": {"updates": [{"task_id": "a"}]}},
        (one, "put", 409): {"url": f"{p}/{ready}", "json": {"updates": [{"task_id": "a", "percent_complete": 1}]}},
        (one, "put", 412): {"url": f"{p}/{approved}", "headers": {"If-Match": '"feedback-999"'},
                            "json": {"updates": [{"task_id": ids["task"], "percent_complete": 20}]}},
        (one, "put", 413): {"url": f"{p}/{approved}", "json": {"updates": [{"task_id": "a"}] * 501}},
        (one, "put", 415): {"url": f"{p}/{approved}", **text},
        (one, "put", 422): {"url": f"{p}/{approved}", "json": {"updates": []}},
    })
    decisions = {"approve": ({"comment": "fine"}, ids["to_approve"], {"comment": 5}),
                 "reject": ({"reason": "too dear"}, ids["to_reject"], {"reason": " "}),
                 "replan": ({"reason": "scope moved"}, approved, {"reason": " "})}
    for verb, (body, target, invalid) in decisions.items():
        path = f"{one}/{verb}"
        table.update({
            (path, "post", 202 if verb == "replan" else 200): {"url": f"{p}/{target}/{verb}", "json": body},
            (path, "post", 400): {"url": f"{p}/{target}/{verb}", **malformed},
            (path, "post", 404): {"url": f"{p}/nope/{verb}", "json": body},
            (path, "post", 409): {"url": f"{p}/{cancelled}/{verb}", "json": body},
            (path, "post", 413): {"url": f"{p}/{target}/{verb}", **big},
            (path, "post", 415): {"url": f"{p}/{target}/{verb}", **text},
            (path, "post", 422): {"url": f"{p}/{target}/{verb}", "json": invalid},
        })
    for name, query_422 in (("replans", "limit=0"), ("versions", "limit=0"), ("risks", "status=bogus"),
                            ("resources", "version=0"), ("progress", "as_of=x"), ("report", "as_of=x"),
                            ("issues", "status=bogus"), ("diff", "from=x")):
        path = f"{one}/{name}"
        table.update({
            (path, "get", 200): {"url": f"{p}/{approved}/{name}"},
            (path, "get", 400): {"url": f"{p}/{approved}/{name}{nul}"},
            (path, "get", 404): {"url": f"{p}/nope/{name}"},
            (path, "get", 422): {"url": f"{p}/{approved}/{name}?{query_422}"},
        })
        if name in ("progress", "report", "issues"):
            table[(path, "get", 409)] = {"url": f"{p}/{ids['queued']}/{name}"}
    table[(f"{one}/diff", "get", 200)] = {"url": f"{p}/{approved}/diff?from=1&to=2"}
    table[(f"{one}/diff", "get", 409)] = {"url": f"{p}/{ids['queued']}/diff?from=1&to=1"}
    table[(f"{one}/resources", "get", 404)] = {"url": f"{p}/{approved}/resources?version=99"}
    resolve = "/api/v1/issues/{issue_id}/resolve"
    done = {"who": "ops", "resolution": "done"}
    table.update({
        (resolve, "post", 200): {"url": f"/api/v1/issues/{ids['issue']}/resolve", "json": done},
        (resolve, "post", 400): {"url": f"/api/v1/issues/{ids['issue']}/resolve", **malformed},
        (resolve, "post", 404): {"url": "/api/v1/issues/nope/resolve", "json": done},
        (resolve, "post", 409): {"url": f"/api/v1/issues/{ids['resolved_issue']}/resolve", "json": done},
        (resolve, "post", 413): {"url": f"/api/v1/issues/{ids['issue']}/resolve", **big},
        (resolve, "post", 415): {"url": f"/api/v1/issues/{ids['issue']}/resolve", **text},
        (resolve, "post", 422): {"url": f"/api/v1/issues/{ids['issue']}/resolve", "json": {}},
    })
    task = "/api/v1/tasks/{uid}/progress"
    table.update({
        (task, "get", 200): {"url": f"/api/v1/tasks/{ids['uid']}/progress"},
        (task, "get", 400): {"url": f"/api/v1/tasks/{ids['uid']}/progress{nul}"},
        (task, "get", 404): {"url": "/api/v1/tasks/nope/progress"},
        (task, "get", 422): {"url": f"/api/v1/tasks/{ids['uid']}/progress?as_of=x"},
    })
    mitigate = "/api/v1/risks/{risk_id}/mitigate"
    measure = {"who": "pm", "why": "extra reviewer", "probability": 0.2, "impact": "Low"}
    url = f"/api/v1/risks/{ids['risk']}/mitigate"
    table.update({
        (mitigate, "post", 200): {"url": url, "json": measure}, (mitigate, "post", 400): {"url": url, **malformed},
        (mitigate, "post", 404): {"url": "/api/v1/risks/nope/mitigate", "json": measure},
        (mitigate, "post", 413): {"url": url, **big}, (mitigate, "post", 415): {"url": url, **text},
        (mitigate, "post", 422): {"url": url, "json": {**measure, "probability": 2}},
    })
    pools = "/api/v1/resources"
    table.update({
        (pools, "get", 200): {"url": pools}, (pools, "get", 400): {"url": pools + nul},
        (pools, "get", 422): {"url": pools + "?limit=0"},
        (pools, "put", 200): {"url": pools, "json": {"resources": [{"type": "engineer", "capacity": 2}]}},
        (pools, "put", 400): {"url": pools, **malformed}, (pools, "put", 413): {"url": pools, **big},
        (pools, "put", 415): {"url": pools, **text}, (pools, "put", 422): {"url": pools, "json": {"resources": 5}},
        ("/api/v1/metrics/snapshot", "get", 200): {"url": "/api/v1/metrics/snapshot"},
        ("/api/v1/metrics/snapshot", "get", 400): {"url": "/api/v1/metrics/snapshot" + nul},
    })
    table.update(_security_requests(ids, malformed, big, text, nul))
    return table


def _security_requests(ids: dict, malformed: dict, big: dict, text: dict, nul: str) -> dict:
    """The audit log, a plan's ACL and the API keys (app/security/api.py)."""
    acl = "/api/v1/plans/{plan_id}/acl"
    url = f"/api/v1/plans/{ids['ready']}/acl"
    keys, key = "/api/v1/keys", "/api/v1/keys/{key_id}"
    return {
        ("/api/v1/audit", "get", 200): {"url": "/api/v1/audit?limit=2"},
        ("/api/v1/audit", "get", 400): {"url": "/api/v1/audit" + nul},
        ("/api/v1/audit", "get", 422): {"url": "/api/v1/audit?limit=0"},
        ("/api/v1/audit/verify", "get", 200): {"url": "/api/v1/audit/verify"},
        ("/api/v1/audit/verify", "get", 400): {"url": "/api/v1/audit/verify" + nul},
        (acl, "get", 200): {"url": url}, (acl, "get", 400): {"url": url + nul},
        (acl, "get", 404): {"url": "/api/v1/plans/nope/acl"},
        (acl, "put", 200): {"url": url, "json": {"teams": ["planning"]}}, (acl, "put", 400): {"url": url, **malformed},
        (acl, "put", 404): {"url": "/api/v1/plans/nope/acl", "json": {}}, (acl, "put", 413): {"url": url, **big},
        (acl, "put", 415): {"url": url, **text}, (acl, "put", 422): {"url": url, "json": {"owners": "me"}},
        (keys, "get", 200): {"url": keys}, (keys, "get", 400): {"url": keys + nul},
        (keys, "post", 201): {"url": keys, "json": {"role": "viewer"}}, (keys, "post", 400): {"url": keys, **malformed},
        (keys, "post", 413): {"url": keys, **big}, (keys, "post", 415): {"url": keys, **text},
        (keys, "post", 422): {"url": keys, "json": {"role": "root"}},
        (key, "delete", 200): {"url": f"/api/v1/keys/{ids['key']}"},
        (key, "delete", 400): {"url": f"/api/v1/keys/{ids['key']}{nul}"},
        (key, "delete", 404): {"url": "/api/v1/keys/nope"},
    }


def _refusals(app, documented: set, table: dict) -> dict:
    """401 (no credentials) and 403 (a role without the permission) of each operation documenting them: its
    2xx request, sent without a key or with a key of such a role (app/security)."""
    from app.security.policy import ALL_ROLES, PERMISSIONS, rule_of

    adapter = app.url_map.bind("localhost")
    calls = {}
    for path, method, status in documented:
        if status not in (401, 403):
            continue
        success = min(key for key in table if key[:2] == (path, method) and key[2] < 300)
        call = dict(table[success])
        if status == 401:
            calls[(path, method, status)] = {**call, "as": None}
            continue
        endpoint, _ = adapter.match(call["url"].split("?")[0], method=method.upper())
        permission = rule_of(app.view_functions[endpoint]).permission
        calls[(path, method, status)] = {**call, "as": next(role for role in ALL_ROLES
                                                            if role not in PERMISSIONS[permission])}
    return calls


def test_every_documented_status_is_answered_as_documented(app, seeded):
    """Each (operation, status) in the document: a request brings it, and the answer validates against it."""
    client = app.test_client()
    spec = client.get("/api/v1/openapi.json").get_json()
    schema = schemathesis.openapi.from_dict(spec)
    documented = {(path, method, int(status)) for path, item in spec["paths"].items()
                  for method, operation in item.items() if method != "parameters"
                  for status in operation["responses"]}
    table = _requests(seeded)
    table.update(_refusals(app, documented, table))
    expected = {key for key in documented if key[2] not in FAULT_ONLY and key not in RACES}
    assert set(table) == expected, (f"documented, no request: {sorted(expected - set(table))}; "
                                    f"a request, not documented: {sorted(set(table) - expected)}")
    wrong = []
    clients = {"admin": client, None: anonymous_client(app)}
    for (path, method, status), call in sorted(table.items(), key=lambda item: item[0][2]):  # 2xx first
        call = dict(call)
        role = call.pop("as", "admin")
        if role not in clients:
            clients[role] = keyed_client(app, make_key(app, role=role)[0])
        answer = clients[role].open(call.pop("url"), method=method.upper(), **call)
        if answer.status_code != status:
            wrong.append((path, method, status, answer.status_code, answer.get_data(as_text=True)[:200]))
            continue
        schema[path][method.upper()].validate_response(answer)
    assert not wrong, wrong
