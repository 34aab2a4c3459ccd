"""Security (issue 16): authentication, the role x tenant x endpoint matrix, BOLA, plan ACLs, JWT attacks, API
keys, rate limits, /metrics, mass assignment, the CLI. The audit chain: tests/test_audit_chain.py."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys

import pytest
import sqlalchemy as sa

from app.security.policy import ALL_ROLES, PERMISSIONS, SCOPES, rule_of
from tests.feedback_support import approved_plan, tiny_goal
from tests.security_support import RsaSigner, anonymous_client, keyed_client, make_key

API = "/api/v1"
TENANTS = ("acme", "globex")  # acme owns the objects; globex is the other tenant
PUBLIC = {"api-docs.openapi_json", "api-docs.openapi_swagger_ui", "openapi_assets.static"}


def _api_routes(app):
    """(endpoint, method, rule) of every /api/v1 route of the app."""
    return sorted((rule.endpoint, method, rule.rule) for rule in app.url_map.iter_rules()
                  if rule.rule.startswith(API) for method in rule.methods - {"HEAD", "OPTIONS"})


def test_every_api_route_without_credentials_is_a_401_problem(embedded_app):
    """Each /api/v1 route of app.url_map, called with no key and no token: 401 problem+json with a challenge
    (the OpenAPI document and its docs page are the only open ones, and they are exactly these)."""
    client = anonymous_client(embedded_app)
    routes = _api_routes(embedded_app)
    assert {endpoint for endpoint, _, _ in routes} >= PUBLIC
    checked = 0
    for endpoint, method, rule in routes:
        url = rule.replace("<path:filename>", "index.css")
        for name in ("plan_id", "risk_id", "issue_id", "uid", "key_id"):
            url = url.replace(f"<{name}>", "x")
        answer = client.open(url, method=method, json={})
        if endpoint in PUBLIC:
            assert answer.status_code == 200, (endpoint, answer.status_code)
            continue
        assert answer.status_code == 401, (method, url, answer.status_code)
        assert answer.mimetype == "application/problem+json" and answer.get_json()["type"] == "/problems/unauthorized"
        assert "X-API-Key" in answer.headers["WWW-Authenticate"]
        checked += 1
    assert checked >= 29
    for headers in ({"X-API-Key": "l2k_000000000000_nope"}, {"X-API-Key": "garbage"},
                    {"Authorization": "Bearer abc.def.ghi"}, {"X-Actor": "admin"}):
        assert client.get(f"{API}/plans", headers=headers).status_code == 401, headers
    assert client.get("/health").status_code == 200  # open


def test_every_api_view_declares_its_permission(embedded_app):
    """No /api/v1 view is without a @requires declaration (the authorizer would refuse it with a 403)."""
    undeclared = [endpoint for endpoint, _, _ in _api_routes(embedded_app)
                  if endpoint not in PUBLIC and rule_of(embedded_app.view_functions[endpoint]) is None]
    assert undeclared == []


# --- the matrix: tenants x roles x endpoints --------------------------------------------------------


@pytest.fixture
def world(embedded_app):
    """Keys of every role in two tenants; acme's approved plan with a blocked task (an issue), its risk and
    task uid, a second acme plan waiting for approval, and an acme key to revoke."""
    keys = {(tenant, role): make_key(embedded_app, tenant=tenant, role=role, name=f"{tenant} {role}")[0]
            for tenant in TENANTS for role in ALL_ROLES}
    admin = keyed_client(embedded_app, keys[("acme", "admin")])
    plan = approved_plan(admin)
    task = plan["tasks"][0]
    answer = admin.put(f"{API}/plans/{plan['id']}", json={"updates": [
        {"task_id": task["id"], "status": "blocked", "blocked_reason": "waiting"}]})
    assert answer.status_code == 200, answer.get_json()
    goal = tiny_goal() | {"title": "risky", "deadline": "2026-11-04"}  # alerts: waits in ready
    pending = admin.post(f"{API}/plans", json=goal).get_json()["id"]
    risks = admin.get(f"{API}/plans/{pending}/risks").get_json()["risks"]
    issues = admin.get(f"{API}/plans/{plan['id']}/issues").get_json()["issues"]
    victim = admin.post(f"{API}/keys", json={"role": "viewer"}).get_json()["id"]
    return {"keys": keys, "plan_id": plan["id"], "pending": pending, "uid": task["uid"], "task": task["id"],
            "risk_id": risks[0]["id"], "issue_id": issues[0]["id"], "key_id": victim}


def _calls(world: dict) -> dict[str, tuple[str, str, dict]]:
    """endpoint -> (method, url, request kwargs) of a request the endpoint would accept from an allowed caller."""
    plan, pending = world["plan_id"], world["pending"]
    return {
        "plans.list_plans": ("GET", f"{API}/plans", {}),
        "plans.create_plan": ("POST", f"{API}/plans", {"json": tiny_goal()}),
        "plans.get_plan": ("GET", f"{API}/plans/{plan}", {}),
        "plans.cancel_plan": ("DELETE", f"{API}/plans/{pending}", {"json": {"reason": "matrix"}}),
        "plans.get_plan_resources": ("GET", f"{API}/plans/{plan}/resources", {}),
        "lifecycle.approve": ("POST", f"{API}/plans/{pending}/approve", {"json": {}}),
        "lifecycle.reject": ("POST", f"{API}/plans/{pending}/reject", {"json": {"reason": "matrix"}}),
        "lifecycle.replan": ("POST", f"{API}/plans/{plan}/replan", {"json": {"reason": "matrix"}}),
        "lifecycle.replans": ("GET", f"{API}/plans/{plan}/replans", {}),
        "lifecycle.versions": ("GET", f"{API}/plans/{plan}/versions", {}),
        "lifecycle.diff": ("GET", f"{API}/plans/{plan}/diff?from=1&to=1", {}),
        "progress.put_feedback": ("PUT", f"{API}/plans/{plan}", {"json": {"updates": [
            {"task_id": world["task"], "status": "blocked", "blocked_reason": "still waiting"}]}}),
        "progress.get_progress": ("GET", f"{API}/plans/{plan}/progress", {}),
        "progress.get_report": ("GET", f"{API}/plans/{plan}/report", {}),
        "progress.list_issues": ("GET", f"{API}/plans/{plan}/issues", {}),
        "progress.resolve_issue": ("POST", f"{API}/issues/{world['issue_id']}/resolve",
                                   {"json": {"who": "ops", "resolution": "done"}}),
        "progress.get_task_progress": ("GET", f"{API}/tasks/{world['uid']}/progress", {}),
        "risks.list_plan_risks": ("GET", f"{API}/plans/{plan}/risks", {}),
        "risks.mitigate_risk": ("POST", f"{API}/risks/{world['risk_id']}/mitigate",
                                {"json": {"who": "pm", "why": "review", "probability": 0.1, "impact": "Low"}}),
        "resources.list_resources": ("GET", f"{API}/resources", {}),
        "resources.replace_resources": ("PUT", f"{API}/resources", {"json": {"resources": [
            {"type": "engineer", "capacity": 1, "cost_rate": 100}, {"type": "designer", "capacity": 1}]}}),
        "metrics.metrics_snapshot": ("GET", f"{API}/metrics/snapshot", {}),
        "security.list_audit": ("GET", f"{API}/audit", {}),
        "security.verify_audit": ("GET", f"{API}/audit/verify", {}),
        "security.get_acl": ("GET", f"{API}/plans/{plan}/acl", {}),
        "security.put_acl": ("PUT", f"{API}/plans/{plan}/acl", {"json": {"owners": [], "teams": []}}),
        "security.list_keys": ("GET", f"{API}/keys", {}),
        "security.create_key": ("POST", f"{API}/keys", {"json": {"role": "viewer"}}),
        "security.revoke_key": ("DELETE", f"{API}/keys/{world['key_id']}", {}),
    }


def _expected(endpoint: str, view, tenant: str, role: str | None) -> str:
    """'401', '403', '404' or 'allowed' (any answer but those: 2xx, or a 409/422 of the object's state)."""
    if role is None:
        return "401"
    rule = rule_of(view)
    if role not in PERMISSIONS[rule.permission]:
        return "403"
    if tenant != "acme" and (rule.scope in SCOPES or endpoint == "security.revoke_key"):
        return "404"
    return "allowed"


def test_matrix_of_tenants_roles_and_endpoints(embedded_app, world):
    """Every (tenant, role, endpoint) cell, and no credentials: the expected refusal, or not refused at all.
    acme's cells run last, so globex's callers meet acme's objects as they were seeded."""
    calls = _calls(world)
    declared = {endpoint for endpoint, _, _ in _api_routes(embedded_app)} - PUBLIC
    assert set(calls) == declared, sorted(declared ^ set(calls))
    cells, wrong, seen = 0, [], {}
    for tenant, role in [(None, None)] + [(t, r) for t in reversed(TENANTS) for r in ALL_ROLES]:
        client = (anonymous_client(embedded_app) if role is None
                  else keyed_client(embedded_app, world["keys"][(tenant, role)]))
        for endpoint, (method, url, kwargs) in calls.items():
            expected = _expected(endpoint, embedded_app.view_functions[endpoint], tenant, role)
            status = client.open(url, method=method, **kwargs).status_code
            seen[expected] = seen.get(expected, 0) + 1
            cells += 1
            refused = {401: "401", 403: "403", 404: "404"}.get(status, "allowed")
            if refused != expected or status >= 500:
                wrong.append((tenant, role, endpoint, expected, status))
    assert not wrong, wrong
    assert cells == 29 * 11 and seen["403"] and seen["404"] and seen["allowed"]
    print(f"security matrix: {cells} cells {seen}")


def test_bola_another_tenant_sees_nothing_and_changes_nothing(embedded_app, world):
    """globex's admin and planner: acme's plan, tasks, risks and issues are 404 to read, cancel, approve, send
    feedback to, mitigate, resolve; globex's lists do not hold them; acme's objects are unchanged."""
    acme = keyed_client(embedded_app, world["keys"][("acme", "admin")])
    before = acme.get(f"{API}/plans/{world['plan_id']}").get_json()
    before_pending = acme.get(f"{API}/plans/{world['pending']}").get_json()["status"]
    for role in ("admin", "planner", "approver", "executor"):
        other = keyed_client(embedded_app, world["keys"][("globex", role)])
        for method, url, body in [
            ("GET", f"{API}/plans/{world['plan_id']}", None), ("DELETE", f"{API}/plans/{world['pending']}", {}),
            ("POST", f"{API}/plans/{world['pending']}/approve", {}),
            ("PUT", f"{API}/plans/{world['plan_id']}",
             {"updates": [{"task_id": world["task"], "status": "completed"}]}),
            ("GET", f"{API}/tasks/{world['uid']}/progress", None),
            ("GET", f"{API}/plans/{world['plan_id']}/risks", None),
            ("POST", f"{API}/risks/{world['risk_id']}/mitigate",
             {"who": "x", "why": "y", "probability": 0, "impact": "Low"}),
            ("GET", f"{API}/plans/{world['plan_id']}/issues", None),
            ("POST", f"{API}/issues/{world['issue_id']}/resolve", {"who": "x", "resolution": "y"}),
            ("PUT", f"{API}/plans/{world['plan_id']}/acl", {"owners": ["key:me"]}),
        ]:
            answer = other.open(url, method=method, json=body)
            if role == "admin" or answer.status_code != 403:  # a role without the permission: 403 first
                assert answer.status_code == 404, (role, method, url, answer.status_code)
                assert answer.get_json()["type"].endswith("-not-found")
        if role in ("admin", "planner"):
            assert other.get(f"{API}/plans").get_json()["plans"] == []
    after = acme.get(f"{API}/plans/{world['plan_id']}").get_json()
    assert after["status"] == before["status"] and after["tasks"] == before["tasks"]
    assert acme.get(f"{API}/plans/{world['pending']}").get_json()["status"] == before_pending
    assert [p["id"] for p in acme.get(f"{API}/plans").get_json()["plans"]] == [world["pending"], world["plan_id"]]
    assert acme.get(f"{API}/plans/{world['plan_id']}/acl").get_json() == {
        "plan_id": world["plan_id"], "owners": [], "teams": []}
    other_admin = keyed_client(embedded_app, world["keys"][("globex", "admin")])
    assert all(entry["tenant"] == "globex" for entry in other_admin.get(f"{API}/audit").get_json()["entries"])
    assert world["key_id"] not in {k["id"] for k in other_admin.get(f"{API}/keys").get_json()["keys"]}


def test_a_plan_acl_restricts_it_to_named_owners_and_teams(embedded_app, world):
    """An ACL naming one viewer key: the other viewer of the tenant gets 404 and an empty list; a JWT user of a
    listed team sees it; the tenant's admin always does; an empty ACL opens it to the tenant again."""
    signer = RsaSigner()
    app = embedded_app
    app.extensions["layer2_jwt"] = _verifier(signer.public_pem)
    admin = keyed_client(app, world["keys"][("acme", "admin")])
    chosen_key, chosen_actor = make_key(app, tenant="acme", role="viewer")
    plan = world["plan_id"]
    assert admin.put(f"{API}/plans/{plan}/acl", json={"owners": [chosen_actor], "teams": ["ops"]}).status_code == 200
    chosen, other = keyed_client(app, chosen_key), keyed_client(app, world["keys"][("acme", "viewer")])
    assert chosen.get(f"{API}/plans/{plan}").status_code == 200
    assert other.get(f"{API}/plans/{plan}").status_code == 404
    assert plan not in [p["id"] for p in other.get(f"{API}/plans").get_json()["plans"]]
    assert plan in [p["id"] for p in chosen.get(f"{API}/plans").get_json()["plans"]]
    team = anonymous_client(app)
    for teams, status in ((["ops"], 200), (["sales"], 404)):
        token = signer.token(sub="carol", tenant="acme", roles=["viewer"], teams=teams)
        assert team.get(f"{API}/plans/{plan}", headers={"Authorization": f"Bearer {token}"}).status_code == status
    assert admin.get(f"{API}/plans/{plan}").status_code == 200
    assert admin.put(f"{API}/plans/{plan}/acl", json={}).status_code == 200
    assert other.get(f"{API}/plans/{plan}").status_code == 200


# --- JWT ------------------------------------------------------------------------------------------


def _verifier(public_pem: str, **settings):
    from app.security.jwt_auth import JwtVerifier

    return JwtVerifier({"enabled": True, "algorithms": ("RS256",), "public_key": public_pem, "jwks_url": None,
                        "audience": "layer2-planning", "issuer": "https://idp.test", "leeway": 0, **settings})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _forge(header: dict, claims: dict, key: bytes | None) -> str:
    """A token built by hand: `key` None leaves the signature empty (alg none)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


@pytest.fixture
def jwt_app(tmp_path):
    from app import create_app
    from app.cli import upgrade_database

    signer = RsaSigner()
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/jwt.sqlite", "CELERY_BROKER_URL": None,
                      "LAYER2_JWT_PUBLIC_KEY": signer.public_pem, "LAYER2_JWT_ISSUER": "https://idp.test"})
    upgrade_database(app)
    app.extensions["test_signer"] = signer
    yield app
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


def test_jwt_attacks_are_refused(jwt_app):
    """A valid token reads; alg none, HS256 signed with the public key, no exp, expired, wrong audience, wrong
    issuer, a tampered payload, no tenant, no sub, another key's signature: each a 401."""
    signer = jwt_app.extensions["test_signer"]
    client = anonymous_client(jwt_app)

    def status(token: str) -> int:
        return client.get(f"{API}/plans", headers={"Authorization": f"Bearer {token}"}).status_code

    good = signer.token(roles=["viewer"])
    assert status(good) == 200
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    tampered = f"{header}.{_b64(json.dumps({**claims, 'roles': ['admin'], 'tenant': 'globex'}).encode())}.{signature}"
    attacks = {
        "alg none": _forge({"alg": "none", "typ": "JWT"}, claims, None),
        "alg None": _forge({"alg": "None", "typ": "JWT"}, claims, None),
        "HS256 with the public key": _forge({"alg": "HS256", "typ": "JWT"}, claims, signer.public_pem.encode()),
        "no exp": signer.token(drop=("exp",)),
        "expired": signer.token(lifetime=-60),
        "no iat": signer.token(drop=("iat",)),
        "wrong audience": signer.token(audience="another-service"),
        "wrong issuer": signer.token(issuer="https://evil.test"),
        "tampered payload": tampered,
        "no tenant": signer.token(drop=("tenant",)),
        "no roles": signer.token(drop=("roles",)),
        "no sub": signer.token(drop=("sub",)),
        "another key": RsaSigner().token(),
        "not a token": "abc",
    }
    refused = {name: status(token) for name, token in attacks.items()}
    assert refused == dict.fromkeys(attacks, 401), refused
    # a JWT's roles are checked like a key's: a viewer cannot submit a goal
    assert client.post(f"{API}/plans", json=tiny_goal(),
                       headers={"Authorization": f"Bearer {good}"}).status_code == 403


def test_jwt_from_a_jwks_url_on_loopback(tmp_path):
    """LAYER2_JWT_JWKS_URL: a token signed by the JWKS's key (by kid) is taken; another kid is a 401."""
    import http.server
    import threading

    from app import create_app
    from app.cli import upgrade_database

    signer = RsaSigner(kid="k1")
    body = json.dumps(signer.jwks()).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/jwks.sqlite", "CELERY_BROKER_URL": None,
                          "LAYER2_JWT_JWKS_URL": f"http://127.0.0.1:{server.server_port}/jwks.json",
                          "LAYER2_JWT_ISSUER": "https://idp.test"})
        upgrade_database(app)
        client = anonymous_client(app)
        ok = client.get(f"{API}/plans", headers={"Authorization": f"Bearer {signer.token(roles=['viewer'])}"})
        assert ok.status_code == 200
        stranger = RsaSigner(kid="k2").token()
        assert client.get(f"{API}/plans", headers={"Authorization": f"Bearer {stranger}"}).status_code == 401
    finally:
        server.shutdown()


@pytest.mark.parametrize("algorithms", ["HS256", "none", "RS256,HS512"])
def test_symmetric_and_none_algorithms_are_refused_by_configuration(algorithms):
    """LAYER2_JWT_ALGORITHMS with HMAC or none stops start-up, naming the setting."""
    from app.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="LAYER2_JWT_ALGORITHMS"):
        load_config(env={"LAYER2_JWT_ALGORITHMS": algorithms})


# --- API keys, limits, /metrics, mass assignment ---------------------------------------------------


def test_api_keys_are_stored_hashed_and_die_when_revoked_or_expired(embedded_app):
    """The key holds 256 random bits and is stored only as prefix + sha256; a changed secret, a revoked key and
    an expired key are 401s."""
    from datetime import timedelta

    from app.extensions import db
    from app.models import ApiKey, utcnow
    from app.security import keys

    key, _ = make_key(embedded_app, tenant="acme", role="viewer")
    tag, prefix, secret = key.split("_", 2)
    assert tag == "l2k" and len(base64.urlsafe_b64decode(secret + "=")) == 32
    with embedded_app.app_context():
        row = db.session.execute(sa.select(ApiKey).where(ApiKey.prefix == prefix)).scalar_one()
        assert row.key_hash == hashlib.sha256(key.encode()).hexdigest() and secret not in json.dumps(
            keys.list_keys(session=db.session))
        expired = keys.create_key(session=db.session, tenant="acme", role="viewer",
                                  expires_at=utcnow() - timedelta(seconds=1)).key
        db.session.commit()
        key_id = row.id
    client = anonymous_client(embedded_app)
    assert client.get(f"{API}/plans", headers={"X-API-Key": key}).status_code == 200
    forged = f"{tag}_{prefix}_{'A' * len(secret)}"
    assert client.get(f"{API}/plans", headers={"X-API-Key": forged}).status_code == 401
    assert client.get(f"{API}/plans", headers={"X-API-Key": expired}).status_code == 401
    with embedded_app.app_context():
        keys.revoke_key(session=db.session, key_id=key_id)
        db.session.commit()
    assert client.get(f"{API}/plans", headers={"X-API-Key": key}).status_code == 401


def test_requests_per_key_are_limited_with_a_429_and_retry_after(tmp_path):
    """LAYER2_RATE_LIMIT=3/minute: the 4th call of a key is a 429 problem with Retry-After; another key goes on."""
    from app import create_app
    from app.cli import upgrade_database

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/limit.sqlite", "CELERY_BROKER_URL": None,
                      "LAYER2_RATE_LIMIT": "3/minute"})
    upgrade_database(app)
    first, second = (keyed_client(app, make_key(app, role="viewer")[0]) for _ in range(2))
    assert [first.get(f"{API}/plans").status_code for _ in range(3)] == [200, 200, 200]
    refused = first.get(f"{API}/plans")
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
    assert 1 <= int(refused.headers["Retry-After"]) <= 61 and refused.get_json()["type"] == "/problems/rate-limited"
    assert second.get(f"{API}/plans").status_code == 200
    assert first.get("/health").status_code == 200  # not an /api/v1 call: not counted


def test_metrics_answer_loopback_or_the_configured_token(tmp_path):
    """/metrics: open to 127.0.0.1; from elsewhere a 401 unless the bearer token is LAYER2_METRICS_TOKEN's."""
    from app import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/m.sqlite", "CELERY_BROKER_URL": None,
                      "LAYER2_METRICS_TOKEN": "s3cret-token"})
    client = anonymous_client(app)
    remote = {"REMOTE_ADDR": "10.1.2.3"}
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", environ_base=remote).status_code == 401
    assert client.get("/metrics", environ_base=remote, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", environ_base=remote,
                      headers={"Authorization": "Bearer s3cret-token"}).status_code == 200


@pytest.mark.parametrize("field, value", [("id", "mine"), ("status", "approved"), ("tenant", "globex"),
                                          ("version", 7), ("approval", {"state": "approved"}),
                                          ("baseline_version", 1), ("owners", ["me"])])
def test_server_owned_fields_are_refused_in_a_goal(client, field, value):
    """Mass assignment: a goal naming a field the server owns is a 422 naming it, nothing is stored."""
    answer = client.post(f"{API}/plans", json={**tiny_goal(), field: value})
    assert answer.status_code == 422 and field in json.dumps(answer.get_json()["errors"])
    assert client.get(f"{API}/plans").get_json()["plans"] == []


def test_a_plan_takes_the_tenant_of_its_caller(embedded_app):
    """The plan (and its goal) belong to the submitting key's tenant, whatever the body says."""
    from app.extensions import db
    from app.models import Goal, Plan

    client = keyed_client(embedded_app, make_key(embedded_app, tenant="acme", role="planner")[0])
    plan_id = client.post(f"{API}/plans", json=tiny_goal()).get_json()["id"]
    with embedded_app.app_context():
        plan = db.session.get(Plan, plan_id)
        assert (plan.tenant, db.session.get(Goal, plan.goal_id).tenant) == ("acme", "acme")


def test_cli_keys_create_list_revoke(tmp_path):
    """`keys create` prints the key alone on its last line and it works; `keys list` shows no secret;
    `keys revoke` kills it."""
    from app import create_app

    env = {"LAYER2_HOME": str(tmp_path), "PATH": "", "LOG_LEVEL": "WARNING"}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, capture_output=True, text=True,
                              timeout=120, cwd=_root())

    created = cli("keys", "create", "--tenant", "acme", "--role", "planner", "--name", "ci")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("l2k_") and " " not in key
    listed = cli("keys", "list")
    assert listed.returncode == 0 and key.split("_", 2)[2] not in listed.stdout
    [row] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (row["tenant"], row["role"], row["name"], row["revoked_at"]) == ("acme", "planner", "ci", None)
    app = create_app({"LAYER2_HOME": str(tmp_path), "CELERY_BROKER_URL": None})
    client = anonymous_client(app)
    assert client.get(f"{API}/plans", headers={"X-API-Key": key}).status_code == 200
    assert cli("keys", "revoke", row["id"]).returncode == 0
    assert client.get(f"{API}/plans", headers={"X-API-Key": key}).status_code == 401
    assert cli("keys", "create", "--tenant", "acme", "--role", "root").returncode != 0
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


def _root() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent.parent)


def test_an_executor_key_limited_to_its_layers_tasks(embedded_app):
    """An executor key scoped to `designer` reports on designer tasks only: an engineer task is answered as
    an unknown task (422 naming it, nothing written) and its progress is a 404; an unscoped executor does both."""
    admin = keyed_client(embedded_app, make_key(embedded_app, tenant="acme", role="admin")[0])
    plan = approved_plan(admin)
    by_id = {task["id"]: task for task in plan["tasks"]}
    design, build = by_id["design"], by_id["build"]  # designer, engineer (tests/feedback_support.py)
    scoped_key = admin.post(f"{API}/keys", json={"role": "executor", "task_scope": ["designer"]}).get_json()["key"]
    scoped = keyed_client(embedded_app, scoped_key)
    url = f"{API}/plans/{plan['id']}"
    refused = scoped.put(url, json={"updates": [{"task_id": build["id"], "percent_complete": 10}]})
    assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "updates[0].task_id"
    assert admin.get(f"{url}/progress").get_json()["percent_complete"] == 0
    assert scoped.put(url, json={"updates": [{"task_id": design["uid"], "percent_complete": 10}]}).status_code == 200
    assert scoped.get(f"{API}/tasks/{build['uid']}/progress").status_code == 404
    assert scoped.get(f"{API}/tasks/{design['uid']}/progress").status_code == 200
    anyone = keyed_client(embedded_app, make_key(embedded_app, tenant="acme", role="executor")[0])
    assert anyone.put(url, json={"updates": [{"task_id": build["id"], "percent_complete": 10}]}).status_code == 200
    assert anyone.get(f"{API}/tasks/{build['uid']}/progress").status_code == 200
    assert admin.post(f"{API}/keys", json={"role": "viewer", "task_scope": ["designer"]}).status_code == 422


def test_configured_ceilings_for_pools_and_feedback_updates(tmp_path):
    """LAYER2_MAX_POOLS_PER_GOAL=1: a goal with two pools is a 422 naming `resources`; LAYER2_MAX_FEEDBACK_UPDATES=1:
    two updates are a 413 naming `updates`, nothing written; both within the ceiling pass. Out of range stops
    start-up."""
    from app import create_app
    from app.cli import upgrade_database
    from app.config import ConfigError, load_config

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/limits.sqlite", "CELERY_BROKER_URL": None,
                      "LAYER2_MAX_POOLS_PER_GOAL": "1", "LAYER2_MAX_FEEDBACK_UPDATES": "1"})
    upgrade_database(app)
    client = app.test_client()
    refused = client.post(f"{API}/plans", json=tiny_goal())  # two pools
    assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "resources"
    goal = tiny_goal()
    goal["resources"] = goal["resources"][:1]
    goal["tasks"] = [{**task, "resources": {"engineer": 1}} for task in goal["tasks"]]
    plan = approved_plan(client, goal)
    url = f"{API}/plans/{plan['id']}"
    two = [{"task_id": task["id"], "percent_complete": 5} for task in plan["tasks"][:2]]
    too_many = client.put(url, json={"updates": two})
    assert too_many.status_code == 413 and too_many.get_json()["errors"][0]["field"] == "updates"
    assert client.get(f"{url}/progress").get_json()["percent_complete"] == 0
    assert client.put(url, json={"updates": two[:1]}).status_code == 200
    for name, value in (("LAYER2_MAX_POOLS_PER_GOAL", "201"), ("LAYER2_MAX_FEEDBACK_UPDATES", "0")):
        with pytest.raises(ConfigError, match=name):
            load_config(env={name: value})
