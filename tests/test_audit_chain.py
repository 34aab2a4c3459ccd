"""The audit log (issue 16): who/tenant/request id/address from the request, append-only in the database, a hash
chain that finds a changed and a deleted row, on SQLite and on PostgreSQL, under concurrent writers."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import farm
from tests.feedback_support import approved_plan
from tests.security_support import keyed_client, make_key

ROOT = Path(__file__).resolve().parent.parent


def _verify(app) -> dict:
    from app.extensions import db
    from app.security.audit_chain import verify

    with app.app_context():
        return verify(db.session.connection()).as_dict()


def _tamper(app, *statements: str) -> None:
    """What someone with the database owner's rights could do: switch the guard off, change history."""
    from app.extensions import db

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            statements = ("ALTER TABLE audit_log DISABLE TRIGGER USER", *statements,
                          "ALTER TABLE audit_log ENABLE TRIGGER USER")
        else:
            statements = ("DROP TRIGGER audit_log_append_only", "DROP TRIGGER audit_log_no_delete", *statements)
        for statement in statements:
            db.session.execute(sa.text(statement))
        db.session.commit()


def _refused(app, statement: str) -> bool:
    from app.extensions import db

    with app.app_context():
        try:
            db.session.execute(sa.text(statement))
            db.session.commit()
        except sa.exc.DBAPIError as error:
            db.session.rollback()
            return "append-only" in str(error)
    return False


def _exercise(app) -> tuple[str, str]:
    """A plan made, approved and reported on through the API by a planner-admin of tenant acme."""
    key, actor = make_key(app, tenant="acme", role="admin")
    client = keyed_client(app, key)
    plan = approved_plan(client)
    answer = client.put(f"/api/v1/plans/{plan['id']}", headers={"X-Request-ID": "req-audit-1", "X-Actor": "mallory"},
                        json={"updates": [{"task_id": plan["tasks"][0]["id"], "percent_complete": 50}]})
    assert answer.status_code == 200, answer.get_json()
    return plan["id"], actor


def _check_chain(app) -> None:
    from app.extensions import db
    from app.models import AuditEntry

    plan_id, actor = _exercise(app)
    report = _verify(app)
    assert report["ok"] and report["rows"] >= 6, report
    with app.app_context():
        feedback = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "plan.feedback",
                                                                  AuditEntry.entity_id == plan_id)).scalar_one()
        # who (the key, not X-Actor), tenant, from where, which request: whatever statement wrote the row
        assert (feedback.actor, feedback.tenant, feedback.request_id, feedback.remote_addr) == (
            actor, "acme", "req-audit-1", "127.0.0.1")
        rows = db.session.execute(sa.select(AuditEntry.id, AuditEntry.seq).order_by(AuditEntry.seq)).all()
    assert [seq for _, seq in rows] == list(range(1, len(rows) + 1))
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        assert _refused(app, statement), statement
    middle, later = rows[2].id, rows[4].id
    _tamper(app, f"UPDATE audit_log SET actor = 'someone else' WHERE id = {middle}",
            f"DELETE FROM audit_log WHERE id = {later}")
    problems = _verify(app)["problems"]
    assert any(f"row id {middle} " in p and "changed" in p for p in problems), problems
    assert any("missing (deleted rows)" in p for p in problems), problems
    assert any("prev_hash does not match" in p for p in problems), problems


def test_the_audit_chain_on_sqlite(embedded_app):
    """SQLite: rows carry the key, tenant, request id and address; UPDATE and DELETE refused; a changed and a
    deleted row found by the chain."""
    _check_chain(embedded_app)


def test_audit_verify_cli_exits_1_on_a_broken_chain(tmp_path):
    """`layer2-planning audit verify`: 0 and ok on an intact log, 1 and the problems once a row is changed."""
    from app import create_app
    from app.cli import upgrade_database

    app = create_app({"LAYER2_HOME": str(tmp_path), "CELERY_BROKER_URL": None})
    upgrade_database(app)
    _exercise(app)

    def verify() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "app.cli", "audit", "verify"], capture_output=True, text=True,
                              env={"LAYER2_HOME": str(tmp_path), "LOG_LEVEL": "WARNING"}, cwd=ROOT, timeout=120)

    intact = verify()
    assert intact.returncode == 0 and '"ok": true' in intact.stdout, intact.stdout + intact.stderr
    _tamper(app, "UPDATE audit_log SET tenant = 'globex' WHERE seq = 1")
    broken = verify()
    assert broken.returncode == 1 and "seq 1" in broken.stdout and "changed" in broken.stdout
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


@pytest.fixture
def own_pg_app(pg_url):
    """An embedded-mode app on a PostgreSQL database of its own (the chain spans the whole database)."""
    from app import create_app
    from app.cli import upgrade_database

    url = farm.create_database()
    app = create_app({"DATABASE_URL": url, "CELERY_BROKER_URL": None, "CELERY_KEY_PREFIX": None})
    upgrade_database(app)
    yield app
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()
    farm.drop_database(url)


def test_the_audit_chain_on_postgresql(own_pg_app):
    """PostgreSQL: the trigger chains the rows and refuses UPDATE, DELETE and TRUNCATE; a changed and a deleted
    row are found."""
    assert _refused(own_pg_app, "TRUNCATE audit_log")
    _check_chain(own_pg_app)


def test_concurrent_writers_keep_one_chain_on_postgresql(own_pg_app):
    """8 threads writing 25 audit rows each, each in its own transaction: one unbroken chain of 200 rows."""
    from app.extensions import db
    from app.services import audit

    errors = []

    def write(worker: int) -> None:
        try:
            with own_pg_app.app_context():
                for n in range(25):
                    audit.record(actor=f"w{worker}", action="test.write", entity="test", entity_id=f"{worker}-{n}")
                    db.session.commit()
        except Exception as error:  # noqa: BLE001  (reported below)
            errors.append(error)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    report = _verify(own_pg_app)
    assert report["ok"] and report["rows"] == 200 and report["head_seq"] == 200, report


def test_rows_written_outside_a_request_take_their_plans_tenant(embedded_app):
    """A worker's or the beat's audit rows (no caller) carry the tenant of the plan they are about, so the
    tenant's admin sees them in GET /api/v1/audit; rows about the service itself have none."""
    from app.extensions import db
    from app.models import utcnow
    from app.services import audit, lifecycle

    key, _ = make_key(embedded_app, tenant="acme", role="admin")
    client = keyed_client(embedded_app, key)
    plan_id = approved_plan(client)["id"]
    with embedded_app.app_context():
        db.session.execute(lifecycle.AUDIT_TRANSITION, [
            lifecycle.plan_audit(plan_id, "approved", "executing", actor="worker", now=utcnow()),
            lifecycle.version_audit(plan_id, 1, "ready", "ready", actor="worker", now=utcnow())])
        audit.record(actor="beat", action="resources.sync", entity="resource_pools", entity_id="local")
        db.session.commit()
    entries = client.get("/api/v1/audit").get_json()["entries"]
    assert [(e["actor"], e["entity"], e["tenant"]) for e in entries][:2] == [
        ("worker", "plan_version", "acme"), ("worker", "plan", "acme")]
    assert "beat" not in {e["actor"] for e in entries}  # the service's own row is no tenant's


@pytest.mark.parametrize("proxies, expected", [("0", "127.0.0.1"), ("1", "203.0.113.9")])
def test_the_client_address_behind_a_trusted_proxy(tmp_path, proxies, expected):
    """X-Forwarded-For is believed only with LAYER2_TRUSTED_PROXIES: the audit row's address is then the client's,
    else the peer's."""
    from app import create_app
    from app.cli import upgrade_database
    from app.extensions import db
    from app.models import AuditEntry

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/proxy.sqlite", "CELERY_BROKER_URL": None,
                      "LAYER2_TRUSTED_PROXIES": proxies})
    upgrade_database(app)
    client = keyed_client(app, make_key(app, tenant="acme", role="admin")[0])
    answer = client.post("/api/v1/keys", json={"role": "viewer"}, headers={"X-Forwarded-For": "203.0.113.9"})
    assert answer.status_code == 201
    with app.app_context():
        row = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "key.create")).scalar_one()
        assert row.remote_addr == expected
        app.extensions["sqlalchemy"].engine.dispose()


def test_keys_made_on_the_command_line_are_audited(tmp_path):
    """`keys create` and `keys revoke` leave rows naming cli:<login> and the key's tenant."""
    from app import create_app
    from app.extensions import db
    from app.models import AuditEntry

    env = {"LAYER2_HOME": str(tmp_path), "LOG_LEVEL": "WARNING", "USER": "ops"}

    def cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    cli("keys", "create", "--tenant", "acme", "--role", "viewer")
    key_id = [line for line in cli("keys", "list").splitlines()][0].split('"id": "')[1].split('"')[0]
    cli("keys", "revoke", key_id)
    app = create_app({"LAYER2_HOME": str(tmp_path), "CELERY_BROKER_URL": None})
    with app.app_context():
        rows = db.session.execute(sa.select(AuditEntry.actor, AuditEntry.action, AuditEntry.tenant)
                                  .order_by(AuditEntry.seq)).all()
        app.extensions["sqlalchemy"].engine.dispose()
    assert [tuple(row) for row in rows] == [("cli:ops", "key.create", "acme"), ("cli:ops", "key.revoke", "acme")]
    assert _verify(app)["ok"]
