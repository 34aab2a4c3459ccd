"""Issue 11, the edge: every input gets a plan or a clear 4xx, never a 5xx, a plan left running or invalid JSON.

The minimal cases of the issue's table as regressions (SQLite and PostgreSQL), malformed HTTP over a real
socket, a stage whose save fails, logging in embedded `serve`, and a bounded fuzz over mutated example goals.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app import json_input
from app.models import AuditEntry, Goal, Plan, PlanVersion, StageRun
from tests import farm
from tests.conftest import EXAMPLES, load_example
from tests.security_support import admin_key

ROOT = Path(__file__).resolve().parent.parent
BASE = load_example()  # website-launch: pools designer(1), engineer, qa, ...


def _strict_json(text: str):
    """json.loads that refuses NaN/Infinity, as every strict reader does."""
    def refuse(name):
        raise ValueError(f"not JSON: {name}")
    return json.loads(text, parse_constant=refuse)


def _goal(**changes) -> dict:
    goal = copy.deepcopy(BASE)
    goal.update(changes)
    return goal


def _task(index: int = 0, **changes) -> dict:
    goal = copy.deepcopy(BASE)
    goal["tasks"][index].update(changes)
    return goal


def _surrogate_task_id() -> dict:
    goal = copy.deepcopy(BASE)
    old = goal["tasks"][0]["id"]
    goal["tasks"][0]["id"] = "a\udfff"
    for task in goal["tasks"]:
        task["depends_on"] = ["a\udfff" if dep == old else dep for dep in task.get("depends_on", [])]
    return goal


def _many_tasks(count: int) -> dict:
    return {"title": "many", "tasks": [{"id": f"t{i}", "name": "T"} for i in range(count)]}


def _long_tasks() -> dict:
    """51 tasks of 10,000 pessimistic hours each: 510,000 hours in all, above the 500,000 the calendar allows."""
    hours = {"optimistic": 10_000, "most_likely": 10_000, "pessimistic": 10_000}
    return {"title": "long", "tasks": [{"id": f"t{i}", "name": "T", "estimate": hours} for i in range(51)]}


def _dumps(goal) -> bytes:
    return json.dumps(goal).encode("utf-8", "surrogatepass")


# (case id, raw body, status, field the problem names) -- the issue's table, smallest form
CASES = [
    ("units-1e30-no-pools",
     _dumps({"title": "x", "tasks": [{"id": "a", "name": "A", "resources": {"engineer": 10**30}}]}),
     422, "tasks[0].resources.engineer"),
    ("units-above-maximum-no-pools",
     _dumps({"title": "x", "tasks": [{"id": "a", "name": "A", "resources": {"engineer": 100_001}}]}),
     422, "tasks[0].resources.engineer"),
    ("lone-surrogate-title", b'{"title": "\\udfff"}', 422, "title"),
    ("lone-surrogate-task-id", _dumps(_surrogate_task_id()), 422, "tasks[0].id"),
    ("nul-in-title", _dumps(_goal(title="a\u0000b")), 422, "title"),
    ("nul-in-task-name", _dumps(_task(1, name="x\u0000")), 422, "tasks[1].name"),
    ("nul-in-context", _dumps(_goal(context={"note": ["ok", "bad\u0000"]})), 422, "context.note[1]"),
    ("surrogate-context-key", b'{"title": "x", "context": {"\\ud800": 1}}', 422, "context (key)"),
    ("huge-integer-in-context", _dumps(_goal(context={"n": 10**30})), 422, "context"),
    ("nan-in-context", b'{"title": "x", "context": {"a": NaN}}', 400, "(body)"),
    ("infinity-in-context", b'{"title": "x", "context": {"a": -Infinity}}', 400, "(body)"),
    ("number-too-large-for-float", b'{"title": "x", "budget": 1e400}', 400, "(body)"),
    ("nested-990-levels", ('{"title": "x", "context": ' + '[' * 990 + ']' * 990 + '}').encode(), 400, "(body)"),
    ("invalid-utf8", b'{"title": "\xff\xfe"}', 400, "(body)"),
    ("start-9999-12-31", _dumps(_goal(start="9999-12-31", deadline=None)), 422, "start"),
    ("start-before-1970", _dumps(_goal(start="1969-12-31")), 422, "start"),
    ("deadline-after-2200", _dumps(_goal(deadline="2201-01-01")), 422, "deadline"),
    ("estimate-1e300", _dumps(_task(0, estimate={"optimistic": 1e300, "most_likely": 1e300, "pessimistic": 1e300})),
     422, "tasks[0].estimate.optimistic"),
    ("estimates-all-1e9", _dumps(_task(2, estimate={"optimistic": 1e9, "most_likely": 1e9, "pessimistic": 1e9})),
     422, "tasks[2].estimate.pessimistic"),
    ("estimates-too-long-in-sum", _dumps(_long_tasks()), 422, "tasks"),
    ("cost-per-hour-1e308", _dumps(_goal(resources=[{"type": "designer", "capacity": 1, "cost_per_hour": 1e308}])),
     422, "resources[0].cost_per_hour"),
    ("budget-1e300", _dumps(_goal(budget=1e300)), 422, "budget"),
    ("more-tasks-than-max-tasks-per-plan", _dumps(_many_tasks(5001)), 422, "tasks"),
]


def _rows(app) -> int:
    from app.extensions import db

    with app.app_context():
        # the audit log is append-only: only its rows since the last _clear count
        audit = db.session.execute(sa.select(sa.func.count()).select_from(AuditEntry).where(
            AuditEntry.id > app.extensions.get("audit_rows_before", 0))).scalar_one()
        return audit + sum(db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()
                           for model in (Goal, Plan, PlanVersion))


@pytest.fixture
def pg_app(pg_url):
    """PostgreSQL with eager Celery: the whole chain runs inside the POST, as embedded mode does on SQLite."""
    from app import create_app
    from app.cli import upgrade_database

    app = create_app({"DATABASE_URL": pg_url, "CELERY_BROKER_URL": None, "CELERY_KEY_PREFIX": None,
                      "PLANNING_SCHEDULE_TIME_LIMIT": "1"})
    upgrade_database(app)
    _clear(app)
    yield app
    _clear(app)
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


def _clear(app) -> None:
    """The session's PostgreSQL database is shared by the run's tests: leave no plans behind for row counts."""
    from app.extensions import db

    with app.app_context():
        # not the audit log (append-only: its trigger refuses TRUNCATE) nor the API keys (the run's credentials)
        names = ", ".join(table.name for table in db.metadata.sorted_tables
                          if table.name not in ("resource_pools", "audit_log", "api_keys"))
        db.session.execute(sa.text(f"TRUNCATE {names} CASCADE"))
        db.session.commit()
        app.extensions["audit_rows_before"] = db.session.execute(sa.select(sa.func.max(AuditEntry.id))).scalar() or 0


@pytest.fixture(params=["sqlite", "postgresql"])
def any_app(request):
    if request.param == "sqlite":
        return request.getfixturevalue("embedded_app")
    return request.getfixturevalue("pg_app")


@pytest.mark.parametrize("case_id, body, status, field", CASES, ids=[case[0] for case in CASES])
def test_issue_table_case_is_a_4xx_problem_naming_the_field(any_app, case_id, body, status, field):
    """Each minimal case of issue 11 is refused at the edge (problem+json naming the field), nothing stored."""
    response = any_app.test_client().post("/api/v1/plans", data=body, content_type="application/json")
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    problem = _strict_json(response.get_data(as_text=True))
    assert field in {error["field"] for error in problem["errors"]}, problem
    assert _rows(any_app) == 0


def test_goal_at_every_maximum_is_planned(any_app):
    """The documented maxima themselves are accepted and planned, and the answers are strict JSON."""
    hours = {"optimistic": 1, "most_likely": 100, "pessimistic": 10_000}
    goal = {
        "title": "t" * 500, "start": "2200-12-31", "deadline": "2200-12-31", "budget": 1e15,
        "resources": [{"type": "crew", "capacity": 100_000, "cost_per_hour": 1_000_000}],
        "tasks": [{"id": "a", "name": "A \u00e9\U0001f680", "estimate": hours, "resources": {"crew": 100_000}},
                  {"id": "b", "name": "B", "estimate": hours, "depends_on": ["a"], "resources": {"crew": 1}}],
        "context": {"n": 2**53 - 1, "nested": [[[[{"deep": True}]]]]},
    }
    client = any_app.test_client()
    response = client.post("/api/v1/plans", json=goal)
    assert response.status_code == 202, response.get_data(as_text=True)
    plan = _strict_json(client.get(response.headers["Location"]).get_data(as_text=True))
    assert plan["status"] in farm.PLANNED, plan.get("error")
    assert plan["finish"].startswith("220")  # a few thousand working hours from 2200-12-31


def test_max_tasks_per_plan_setting_is_checked_at_post(tmp_path):
    """The setting, not only the schema's ceiling: 6 tasks against max_tasks_per_plan = 5 is a 422 naming tasks."""
    from app import create_app
    from app.cli import upgrade_database

    config = tmp_path / "layer2.toml"
    config.write_text("[planning]\nmax_tasks_per_plan = 5\n")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite", "CELERY_BROKER_URL": None,
                      "LAYER2_CONFIG_FILE": str(config)})
    upgrade_database(app)
    response = app.test_client().post("/api/v1/plans", json=_many_tasks(6))
    assert response.status_code == 422
    errors = {error["field"]: error["message"] for error in response.get_json()["errors"]}
    assert "max_tasks_per_plan" in errors["tasks"] and "5" in errors["tasks"]
    assert app.test_client().post("/api/v1/plans", json=_many_tasks(5)).status_code == 202


@pytest.mark.parametrize("method, path", [("put", "/api/v1/resources"), ("put", "/api/v1/plans/p1")],
                         ids=["resources", "feedback"])
@pytest.mark.parametrize("body", [b"[" * 990 + b"]" * 990, b'{"a": NaN}', b'{"a": 1e400}'],
                         ids=["deep", "nan", "overflow"])
def test_other_json_endpoints_keep_the_limits(client, method, path, body):
    """Endpoints that parse with request.get_json() get the same limits through the app's JSON provider:
    a 4xx problem, never a RecursionError 500 or a NaN stored."""
    response = getattr(client, method)(path, data=body, content_type="application/json")
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("method, path, body", [
    ("put", "/api/v1/resources", {"resources": [{"type": "BAD", "capacity": 1}]}),
    ("put", "/api/v1/plans/p1", {"updates": [{"task_id": "a", "status": "in_progress", "note": "BAD"}]}),
], ids=["resources", "feedback"])
@pytest.mark.parametrize("bad", ["a\u0000b", "a\udfffb"], ids=["nul", "surrogate"])
def test_other_endpoints_refuse_unstorable_strings_with_a_422(any_app, method, path, body, bad):
    """NUL and lone surrogates are a 422 naming the field on every JSON endpoint, not a 500 at the database."""
    raw = json.dumps(body).replace("BAD", json.dumps(bad)[1:-1]).encode()
    client = any_app.test_client()
    if path.endswith("/p1"):  # a plan of the caller's tenant: another's (or none) is a 404 before the body is read
        path = path.replace("p1", client.post("/api/v1/plans", json=load_example()).get_json()["id"])
    response = getattr(client, method)(path, data=raw, content_type="application/json")
    assert response.status_code == 422, response.get_data(as_text=True)
    field = response.get_json()["errors"][0]["field"]
    assert field in ("resources[0].type", "updates[0].note")


@pytest.mark.parametrize("method, path", [
    ("get", "/api/v1/plans/a%00b"), ("get", "/api/v1/plans/a%00b/versions"), ("delete", "/api/v1/plans/a%00b"),
    ("post", "/api/v1/plans/a%00b/approve"), ("get", "/api/v1/plans/x?version=%00"),
])
def test_nul_in_the_url_is_a_400(any_app, method, path):
    """A plan id (or query parameter) holding NUL is a 400 problem, not a 500 from PostgreSQL."""
    response = getattr(any_app.test_client(), method)(path, json={} if method == "post" else None)
    assert response.status_code == 400 and response.mimetype == "application/problem+json"


def test_cli_plan_refuses_what_the_api_refuses(tmp_path, capsys):
    """`layer2-planning plan` sends the file as it is: NaN in it is refused (exit 2), not re-encoded as null."""
    from app.cli import main

    path = tmp_path / "goal.json"
    path.write_text('{"title": "x", "budget": NaN}')
    assert main(["plan", str(path)]) == 2
    assert "NaN" in capsys.readouterr().err


# --- JSON out -------------------------------------------------------------------------------------------


def test_json_provider_never_writes_nan_or_infinity(embedded_app, caplog):
    """A non-finite float that reaches a response is sent as null, with a warning: the answer stays JSON."""
    with embedded_app.app_context():
        with caplog.at_level(logging.WARNING, logger="app.json_provider"):
            text = embedded_app.json.dumps({"a": float("inf"), "b": [float("nan"), 1.5], "c": (float("-inf"),)})
    assert _strict_json(text) == {"a": None, "b": [None, 1.5], "c": [None]}
    assert "non-finite" in caplog.text
    assert embedded_app.json.dumps({"a": 1.0}) == '{"a": 1.0}'


# --- a stage whose save fails ends the plan failed -----------------------------------------------------


def _break_save(monkeypatch, stage_name: str, output: dict) -> None:
    """Test-only: the stage's pure function returns `output`, which the database (or its JSON codec) refuses."""
    from app.stages import get_stage

    monkeypatch.setitem(get_stage(stage_name).__dict__, "pure_function", lambda data: output)


@pytest.mark.parametrize("bad_value", ["lone surrogate \udfff", "nul \u0000"], ids=["surrogate", "nul"])
def test_a_save_that_fails_ends_the_plan_failed(any_app, monkeypatch, bad_value):
    """An exception at the stage's save/commit fails the plan with a reason and a stage-run row; the chain stops."""
    if bad_value.startswith("nul") and any_app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite stores NUL; PostgreSQL's jsonb refuses it")
    _break_save(monkeypatch, "decompose", {"tasks": [{"id": bad_value}]})
    client = any_app.test_client()
    response = client.post("/api/v1/plans", json=BASE)
    assert response.status_code == 202
    plan = client.get(response.headers["Location"]).get_json()
    assert plan["status"] == "failed" and plan["version_status"] == "failed"
    assert plan["error"].startswith("decompose: its result could not be saved (")
    stages = plan["stages"]
    assert stages["risk"]["state"] == "succeeded" and stages["decompose"]["state"] == "failed"
    assert stages["decompose"]["error"] == plan["error"]
    assert all(stages[name]["state"] == "pending" for name in ("allocate", "schedule", "finalize"))
    from app.extensions import db

    with any_app.app_context():
        runs = db.session.execute(sa.select(StageRun.stage, StageRun.state)).all()
    assert ("decompose", "failed") in runs and not any(state == "running" for _, state in runs)


# --- logging --------------------------------------------------------------------------------------------


def test_migrations_leave_the_application_loggers_enabled(embedded_app, caplog):
    """After the embedded database is migrated (alembic's env.py ran), an unhandled error is logged."""
    assert not logging.getLogger("app.problems").disabled

    @embedded_app.get("/testonly-boom")
    def boom():
        raise RuntimeError("testonly boom")

    with caplog.at_level(logging.ERROR):
        response = embedded_app.test_client().get("/testonly-boom")
    assert response.status_code == 500
    assert "unhandled error on GET /testonly-boom" in caplog.text and "testonly boom" in caplog.text


SERVE_WITH_A_FAILING_ROUTE = textwrap.dedent("""
    import sys
    import app as package
    from app.cli import main

    original = package.create_app

    def create_app(config=None):
        application = original(config)

        @application.get("/testonly-boom")
        def boom():
            raise RuntimeError("testonly boom")

        return application

    package.create_app = create_app
    sys.exit(main(["serve", "--port", sys.argv[1]]))
""")


def test_embedded_serve_logs_an_unhandled_error(tmp_path):
    """`layer2-planning serve` (embedded: it migrates SQLite first) logs a 500's traceback on stderr."""
    port = farm.free_port()
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "LAYER2_CONFIG_FILE")}
    env["LAYER2_HOME"] = str(tmp_path)
    stderr = tmp_path / "stderr.txt"
    with open(stderr, "w") as err:
        process = subprocess.Popen([sys.executable, "-c", SERVE_WITH_A_FAILING_ROUTE, str(port)], cwd=tmp_path,
                                   env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline and status is None:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/testonly-boom", timeout=5)
            except urllib.error.HTTPError as error:
                status = error.code
            except OSError:
                time.sleep(0.2)
        assert status == 500
        deadline = time.monotonic() + 5
        while "testonly boom" not in stderr.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=10)
    log = stderr.read_text()
    assert "unhandled error on GET /testonly-boom" in log and "RuntimeError: testonly boom" in log, log


# --- malformed HTTP over a real socket ----------------------------------------------------------------


_SERVER_KEYS: dict[int, str] = {}  # port -> the admin key its raw requests send (tests/security_support.py)


@pytest.fixture
def http_server(embedded_app):
    server = farm.ApiServer(embedded_app)
    _SERVER_KEYS[server.port] = admin_key(embedded_app)
    yield server
    server.stop()


def _exchange(port: int, head: bytes, body_parts=(), *, timeout: float = 15.0) -> tuple[int, dict, bytes, float]:
    """Send a request (head, then the body parts from a thread), read the answer until the server closes or
    the answer's Content-Length is read; (status, headers, body, seconds to the answer)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    started = time.monotonic()

    def send():
        try:
            sock.sendall(head)
            for part in body_parts:
                sock.sendall(part)
        except OSError:  # the server answered and closed before reading it all: expected for 413
            pass

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    received = b""
    try:
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        elapsed = time.monotonic() - started
        head_text, _, rest = received.partition(b"\r\n\r\n")
        lines = head_text.decode("latin-1").split("\r\n")
        pairs = (line.partition(":") for line in lines[1:])
        headers = {name.strip().lower(): value.strip() for name, _, value in pairs}
        length = int(headers.get("content-length", 0))
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    finally:
        sock.close()
    return int(lines[0].split()[1]), headers, rest, elapsed


def _post_head(port: int, extra: str) -> bytes:
    return (f"POST /api/v1/plans HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"X-API-Key: {_SERVER_KEYS[port]}\r\n{extra}\r\n").encode()


def _problem(body: bytes) -> dict:
    problem = _strict_json(body.decode())
    assert problem["type"].startswith("/problems/") and problem["detail"]
    return problem


@pytest.mark.parametrize("body, status, words", [
    (b'{"title": 42}', 422, "string"),
    (b'{"title": "x", "priority": "urgent"}', 422, "1-5"),
    (b'{"title": "x", "context": ' + b"[" * 990 + b"]" * 990 + b"}", 400, "32 levels"),
    (b'{"title": "\xc3\x28"}', 400, "UTF-8"),
    (b'{"title": "x", "budget": NaN}', 400, "NaN"),
    (b"\x00\x01\x02", 400, "JSON"),
], ids=["wrong-type-string", "wrong-type-integer", "deep-nesting", "invalid-utf8", "nan", "binary"])
def test_malformed_body_over_http_is_a_4xx_problem(http_server, body, status, words):
    """Over a real connection with Content-Length: the answer is a problem naming what is wrong."""
    code, headers, answer, _ = _exchange(http_server.port, _post_head(http_server.port,
                                                                      f"Content-Length: {len(body)}\r\n") + body)
    assert code == status and headers["content-type"] == "application/problem+json"
    problem = _problem(answer)
    assert words.lower() in json.dumps(problem).lower(), problem


def test_chunked_body_over_the_limit_is_a_413(http_server):
    """10 MB sent chunked (no Content-Length) is a 413, not a 400 about a truncated document."""
    chunk = b"x" * 65536
    first = b'{"title": "'
    parts = [b"%x\r\n%s\r\n" % (len(first), first)] + [b"%x\r\n%s\r\n" % (len(chunk), chunk)] * 160
    parts.append(b"0\r\n\r\n")
    code, headers, answer, elapsed = _exchange(http_server.port,
                                               _post_head(http_server.port, "Transfer-Encoding: chunked\r\n"), parts)
    assert code == 413 and headers["content-type"] == "application/problem+json"
    assert headers.get("connection", "").lower() == "close"
    assert elapsed < 10


def test_chunked_body_within_the_limit_is_planned(http_server):
    """A goal sent chunked (no Content-Length) below the limit is read whole and accepted."""
    data = json.dumps(BASE).encode()
    parts = [b"%x\r\n%s\r\n" % (len(data[i:i + 500]), data[i:i + 500]) for i in range(0, len(data), 500)]
    code, _, answer, _ = _exchange(http_server.port, _post_head(http_server.port, "Transfer-Encoding: chunked\r\n"),
                                   [*parts, b"0\r\n\r\n"], timeout=60)
    assert code == 202, answer


def test_lying_content_length_is_a_408_within_the_read_timeout(http_server, monkeypatch):
    """Content-Length 1,000 and 10 bytes sent, the connection left open: a 408 after the read timeout
    (0.5 s here, 5 s by default), and the connection is closed; the thread is not held for longer."""
    monkeypatch.setattr(json_input, "BODY_READ_TIMEOUT", 0.5)
    code, headers, answer, elapsed = _exchange(
        http_server.port, _post_head(http_server.port, "Content-Length: 1000\r\n") + b'{"title": ')
    assert code == 408 and headers.get("connection", "").lower() == "close"
    assert "Content-Length" in _problem(answer)["detail"]
    assert 0.4 < elapsed < 3


# --- the fuzz ---------------------------------------------------------------------------------------------

EXAMPLE_GOALS = [json.loads(path.read_text()) for path in sorted(EXAMPLES.glob("*.json"))]

_NASTY_STRINGS = ["", " ", "\u0000", "a\udfff", "\ud800", "\U0001f680" * 3, "x" * 600, "9999-12-31", "NaN",
                  "engineer", "requirements"]
_NASTY_NUMBERS = [float("nan"), float("inf"), -float("inf"),
                  0, -1, 1, 0.5, 1e-300, 2**31, 2**53, 10**30, 1e9, 1e300, 1e308, 10_000, 10_001, 100_000, 100_001,
                  1_000_000, 1e15, -1e308]
VALUES = st.one_of(
    st.sampled_from(_NASTY_STRINGS), st.sampled_from(_NASTY_NUMBERS), st.text(max_size=20),
    st.integers(min_value=-(10**40), max_value=10**40), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([None, True, False, [], {}, [1, 2], {"a": "b"}, "1970-01-01", "2200-12-31", "0001-01-01",
                     "2026-02-30"]),
)
# In range but extreme: what a goal may hold, so that many mutants are accepted and must then be planned.
IN_RANGE = {
    "hours": st.one_of(st.sampled_from([1e-6, 0.01, 1, 10_000]), st.floats(min_value=1e-3, max_value=10_000)),
    "units": st.one_of(st.sampled_from([1, 100_000]), st.integers(min_value=1, max_value=100_000)),
    "cost": st.one_of(st.sampled_from([0, 1_000_000]), st.floats(min_value=0, max_value=1_000_000)),
    "date": st.dates(min_value=date(1970, 1, 1), max_value=date(2200, 12, 31)).map(date.isoformat),
    "text": st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=30),
    "budget": st.floats(min_value=0, max_value=1e15),
}
TOP_FIELDS = ["title", "description", "domain", "strategy", "priority", "start", "deadline", "budget", "currency",
              "components", "resources", "tasks", "context", "schedule_objective", "unknown_field"]
TASK_FIELDS = ["id", "name", "description", "estimate", "depends_on", "resources", "inputs", "outputs"]


@st.composite
def mutated_goals(draw):
    """An example goal with one to three of its values replaced by something hostile or out of range."""
    goal = copy.deepcopy(draw(st.sampled_from(EXAMPLE_GOALS)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        tasks, pools = _dicts(goal.get("tasks")), _dicts(goal.get("resources"))
        if draw(st.booleans()):  # a value within the documented bounds, at its extremes
            _mutate_in_range(draw, goal, tasks, pools)
            continue
        where = draw(st.sampled_from(["top", "task", "estimate", "units", "pool", "context"]))
        value = draw(VALUES)
        if where == "task" and tasks:
            draw(st.sampled_from(tasks))[draw(st.sampled_from(TASK_FIELDS))] = value
        elif where == "estimate" and tasks:
            task = draw(st.sampled_from(tasks))
            if isinstance(task.get("estimate"), dict):
                task["estimate"][draw(st.sampled_from(["optimistic", "most_likely", "pessimistic"]))] = value
            else:
                task["estimate"] = {"optimistic": value, "most_likely": value, "pessimistic": value}
        elif where == "units" and tasks:
            task = draw(st.sampled_from(tasks))
            names = [str(pool.get("type")) for pool in pools] + ["engineer", "\u0000", "a\udfff"]
            name = draw(st.sampled_from(names))
            task["resources"] = {**_dict(task.get("resources")), name: value}
        elif where == "pool" and pools:
            draw(st.sampled_from(pools))[draw(st.sampled_from(["type", "capacity", "cost_per_hour"]))] = value
        elif where == "context":
            goal["context"] = {"k": value, draw(st.sampled_from(_NASTY_STRINGS)): [value]}
        else:
            goal[draw(st.sampled_from(TOP_FIELDS))] = value
    return goal


def _dicts(value) -> list[dict]:
    """The dicts of a list (an earlier mutation may have replaced the list or its items by anything)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _mutate_in_range(draw, goal, tasks, pools) -> None:
    where = draw(st.sampled_from(["estimate", "units", "capacity", "cost", "start", "deadline", "budget", "text"]))
    if where == "estimate" and tasks:
        points = sorted(draw(IN_RANGE["hours"]) for _ in range(3))
        low, likely, high = points
        draw(st.sampled_from(tasks))["estimate"] = {"optimistic": low, "most_likely": likely, "pessimistic": high}
    elif where == "units" and tasks:
        task = draw(st.sampled_from(tasks))
        if pools:
            pool = draw(st.sampled_from(pools))
            capacity = pool.get("capacity") if isinstance(pool.get("capacity"), int) else 1
            task["resources"] = {**_dict(task.get("resources")),
                                 str(pool.get("type")): max(1, min(draw(IN_RANGE["units"]), capacity))}
        else:
            task["resources"] = {draw(st.sampled_from(["engineer", "qa", "crew"])): draw(IN_RANGE["units"])}
    elif where == "capacity" and pools:
        draw(st.sampled_from(pools))["capacity"] = 100_000
    elif where == "cost" and pools:
        draw(st.sampled_from(pools))["cost_per_hour"] = draw(IN_RANGE["cost"])
    elif where in ("start", "deadline"):
        goal[where] = draw(IN_RANGE["date"])
    elif where == "budget":
        goal["budget"] = draw(IN_RANGE["budget"])
    elif where == "text" and tasks:
        draw(st.sampled_from(tasks))[draw(st.sampled_from(["name", "description"]))] = draw(IN_RANGE["text"])
    else:
        goal["title"] = draw(IN_RANGE["text"])


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    from app import create_app
    from app.cli import upgrade_database

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('fuzz')}/fuzz.sqlite",
                      "CELERY_BROKER_URL": None, "CELERY_KEY_PREFIX": None,
                      "PLANNING_SCHEDULE_TIME_LIMIT": "0.3", "LOG_LEVEL": "ERROR"})
    upgrade_database(app)
    yield app
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


_FUZZ_SETTINGS = {"deadline": None,
                  "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]}


@settings(max_examples=50, **_FUZZ_SETTINGS)  # 0.6 s an example (accepted goals are planned)
@given(goal=mutated_goals())
def test_fuzz_every_goal_is_planned_or_refused_with_a_4xx(fuzz_app, goal):
    """Every answer is 202 or a 4xx problem+json, never a 5xx; an accepted goal is planned, or fails with a
    reason that is not an internal error; every answer is strict JSON."""
    _post_and_check(fuzz_app, goal)


@settings(max_examples=50, **_FUZZ_SETTINGS)
@given(goal=mutated_goals())
def test_fuzz_on_postgresql(pg_fuzz_app, goal):
    """The same on PostgreSQL (eager chain), which refuses more than SQLite does (NUL, in any text)."""
    _post_and_check(pg_fuzz_app, goal)


@pytest.fixture(scope="module")
def pg_fuzz_app(pg_url):
    from app import create_app
    from app.cli import upgrade_database

    app = create_app({"DATABASE_URL": pg_url, "CELERY_BROKER_URL": None, "CELERY_KEY_PREFIX": None,
                      "PLANNING_SCHEDULE_TIME_LIMIT": "0.3", "LOG_LEVEL": "ERROR"})
    upgrade_database(app)
    yield app
    _clear(app)
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


def _post_and_check(app, goal) -> None:
    client = app.test_client()
    body = json.dumps(goal).encode("utf-8", "surrogatepass")  # NaN, Infinity, surrogates and NUL go out as sent
    response = client.post("/api/v1/plans", data=body, content_type="application/json")
    text = response.get_data(as_text=True)
    assert response.status_code == 202 or 400 <= response.status_code < 500, text[:1000]
    answer = _strict_json(text)
    event(f"answer {response.status_code}")
    if response.status_code != 202:
        assert response.mimetype == "application/problem+json" and answer["errors"], answer
        return
    plan_text = client.get(response.headers["Location"]).get_data(as_text=True)
    plan = _strict_json(plan_text)
    assert plan["status"] in (*farm.PLANNED, "failed"), plan["status"]
    event(f"plan {plan['status']}")
    if plan["status"] == "failed":
        assert "internal error" not in plan["error"] and "could not be saved" not in plan["error"], plan["error"]


@pytest.mark.parametrize("method, path", [("DELETE", "/api/v1/plans/{id}"), ("POST", "/api/v1/plans/{id}/approve"),
                                          ("PUT", "/api/v1/plans/{id}")], ids=["cancel", "approve", "feedback"])
def test_lying_content_length_on_an_optional_or_small_body_is_a_408(http_server, embedded_app, monkeypatch, method,
                                                                   path):
    """The endpoints whose body is optional or capped read it like a goal's: a stalled body is a 408, not a 400."""
    monkeypatch.setattr(json_input, "BODY_READ_TIMEOUT", 0.5)
    plan_id = embedded_app.test_client().post("/api/v1/plans", json=BASE).get_json()["id"]
    head = (f"{method} {path.format(id=plan_id)} HTTP/1.1\r\nHost: 127.0.0.1:{http_server.port}\r\n"
            f"Content-Type: application/json\r\nX-API-Key: {_SERVER_KEYS[http_server.port]}\r\n"
            "Content-Length: 1000\r\n\r\n").encode()
    code, headers, answer, elapsed = _exchange(http_server.port, head + b'{"comment": ')
    assert code == 408 and headers.get("connection", "").lower() == "close", answer
    assert elapsed < 3
