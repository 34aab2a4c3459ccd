"""Encryption at rest (issue 16): a goal's description and context and a feedback note are stored encrypted
with LAYER2_ENCRYPTION_KEYS (Fernet), read back in clear through the API, and stay readable across a key
rotation; on SQLite and on PostgreSQL (whose feedback statement is SQL text)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from tests.feedback_support import approved_plan, tiny_goal

ROOT = Path(__file__).resolve().parent.parent
SECRET_TEXT, SECRET_NOTE = "merger with Globex, codename Bluebird", "the CFO resigned"


def _app(database_url: str, *keys: str):
    from app import create_app
    from app.cli import upgrade_database

    app = create_app({"DATABASE_URL": database_url, "CELERY_BROKER_URL": None, "CELERY_KEY_PREFIX": None,
                      "LAYER2_ENCRYPTION_KEYS": ",".join(keys)})
    upgrade_database(app)
    return app


def _raw(app) -> str:
    """Every goal document and feedback update as stored, as text."""
    from app.extensions import db

    with app.app_context():
        goals = db.session.execute(sa.text("SELECT document FROM goals")).scalars().all()
        updates = db.session.execute(sa.text('SELECT "update" FROM feedback_events')).scalars().all()
        db.session.remove()
    return json.dumps([str(value) for value in goals + updates])


def _write_and_read(app) -> tuple[str, str]:
    """A goal with a secret description and context, a feedback note; (plan id, task uid)."""
    client = app.test_client()
    goal = tiny_goal() | {"description": SECRET_TEXT, "context": {"deal": SECRET_TEXT}}
    plan = approved_plan(client, goal)
    task = plan["tasks"][0]
    answer = client.put(f"/api/v1/plans/{plan['id']}",
                        json={"updates": [{"task_id": task["id"], "percent_complete": 10, "note": SECRET_NOTE}]})
    assert answer.status_code == 200, answer.get_json()
    return plan["id"], task["uid"]


def _note_of(app, uid: str) -> str:
    body = app.test_client().get(f"/api/v1/tasks/{uid}/progress").get_json()
    return json.dumps(body)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_free_text_is_encrypted_at_rest_and_read_in_clear(backend, tmp_path, request):
    """Stored: no trace of the description, context or note, only Fernet tokens; read: the note in clear."""
    url = f"sqlite:///{tmp_path}/enc.sqlite" if backend == "sqlite" else _fresh_pg(request)
    app = _app(url, Fernet.generate_key().decode())
    _, uid = _write_and_read(app)
    stored = _raw(app)
    assert SECRET_TEXT not in stored and SECRET_NOTE not in stored and "$enc" in stored
    assert SECRET_NOTE in _note_of(app, uid)
    _dispose(app)


def test_rows_stay_readable_across_a_key_rotation(tmp_path):
    """Written under key 1; with keys 2,1 still read; `encryption rotate` re-encrypts under key 2, after which key 2
    alone reads everything and key 1 alone reads nothing."""
    url = f"sqlite:///{tmp_path}/rotate.sqlite"
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    app = _app(url, old)
    _, uid = _write_and_read(app)
    _dispose(app)

    both = _app(url, new, old)
    assert SECRET_NOTE in _note_of(both, uid)
    rotated = subprocess.run([sys.executable, "-m", "app.cli", "encryption", "rotate"], cwd=ROOT, timeout=120,
                             capture_output=True, text=True,
                             env={"DATABASE_URL": url, "LAYER2_ENCRYPTION_KEYS": f"{new},{old}",
                                  "LOG_LEVEL": "WARNING"})
    assert rotated.returncode == 0, rotated.stderr
    assert "1 goal(s), 1 feedback event(s)" in rotated.stdout
    _dispose(both)

    only_new = _app(url, new)
    assert SECRET_NOTE in _note_of(only_new, uid) and SECRET_TEXT not in _raw(only_new)
    _dispose(only_new)
    from app.security.encryption import EncryptionError

    only_old = _app(url, old)
    with pytest.raises(EncryptionError):
        with only_old.app_context():
            from app.extensions import db
            from app.models import Goal

            db.session.execute(sa.select(Goal.document)).all()
    _dispose(only_old)


def test_a_bad_key_stops_start_up():
    """LAYER2_ENCRYPTION_KEYS holding something that is not a Fernet key: a ConfigError naming it."""
    from app.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="LAYER2_ENCRYPTION_KEYS: key 2"):
        load_config(env={"LAYER2_ENCRYPTION_KEYS": f"{Fernet.generate_key().decode()},not-a-key"})


def _fresh_pg(request) -> str:
    from tests import farm

    request.getfixturevalue("pg_url")  # the services are up (or the test is skipped)
    url = farm.create_database()
    request.addfinalizer(lambda: farm.drop_database(url))
    return url


def _dispose(app) -> None:
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()
