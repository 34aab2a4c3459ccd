"""`layer2-planning`: plan a goal, serve the API, solve PSPLIB instances.

    layer2-planning plan GOAL.json [--json]     plan one goal in embedded mode and print it
    layer2-planning serve [--port 8082] [--demo GOAL.json]
    layer2-planning solve-psplib FILE... --time-limit S [--solver NAME] [--json] [--check]
    layer2-planning relay [--once]              publish the outbox's events to the topic exchange
    layer2-planning consume                     take goals.created, execution.feedback, resources.availability
    layer2-planning events [--unsent] [--limit N] [--topic T]   print the outbox's events (JSON lines)
    layer2-planning keys create --tenant T --role R [--name N] [--expires-in-days D]   a new API key (shown once)
    layer2-planning keys list | keys revoke ID
    layer2-planning audit verify                check the audit log's hash chain (exit 1 when broken)
    layer2-planning encryption new-key | rotate  a Fernet key for LAYER2_ENCRYPTION_KEYS; re-encrypt under the first
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from planning.lifecycle import VERSION_DONE_STATES

EXIT_INVALID = 2
EXIT_UNAVAILABLE = 3


class CliError(Exception):
    """Bad input on the command line: printed as one line, exit code 2."""


class UpgradeError(RuntimeError):
    """The database could not be migrated (unreachable, not answering): one line, exit code 3."""


def _read_goal(path: str) -> dict:
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise CliError(f"{path} is not valid JSON: {error.msg} at line {error.lineno}") from None


def _fail(message: str) -> int:
    print(f"layer2-planning: error: {message}", file=sys.stderr)
    return EXIT_INVALID


def _problem_line(problem: dict) -> str:
    errors = problem.get("errors") or []
    if errors:
        return "invalid goal: " + "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return f"{problem.get('title', 'error')}: {problem.get('detail', '')}"


def upgrade_database(app) -> None:
    """Migrate the app's database to the head revision; UpgradeError (one line) if it cannot.

    Fails within LAYER2_DB_CONNECT_TIMEOUT when the database is down or does not answer.
    Calls Alembic directly rather than flask_migrate.upgrade, which exits the process.
    """
    from alembic import command
    from alembic.util import CommandError

    from app import MIGRATIONS_DIR
    from app.problems import DATABASE_ERRORS
    from app.timeouts import dependency_reason

    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config(str(MIGRATIONS_DIR))
        try:
            command.upgrade(config, "head")
        except CommandError as error:  # migrations/env.py says why in one line
            raise UpgradeError(str(error)) from None
        except DATABASE_ERRORS as error:
            raise UpgradeError(f"cannot migrate: the database is unavailable ({dependency_reason(error)})") from None


def cmd_plan(args: argparse.Namespace) -> int:
    from app import create_app
    from app.render import render_plan

    _read_goal(args.goal)  # a file that cannot be read or is not JSON: its own one-line error
    with tempfile.TemporaryDirectory(prefix="layer2-plan-") as workdir:
        app = create_app({"DATABASE_URL": f"sqlite:///{workdir}/plan.sqlite", "CELERY_BROKER_URL": None,
                          "LOG_LEVEL": "WARNING"})
        upgrade_database(app)
        client = app.test_client()
        client.environ_base["HTTP_X_API_KEY"] = _local_admin_key(app, "layer2-planning plan")
        # the file's own bytes, so the API's edge checks them as sent (NaN, nesting, ...), not a re-encoding
        response = client.post("/api/v1/plans", data=Path(args.goal).read_bytes(), content_type="application/json")
        if response.status_code >= 400:
            return _fail(_problem_line(response.get_json(silent=True) or {}))
        plan = client.get(response.headers["Location"]).get_json()
    if plan.get("version_status") != "ready":
        return _fail(f"planning failed: {plan.get('error', plan['status'])}")
    print(json.dumps(plan, indent=2) if args.json else render_plan(plan))
    return 0


def _local_admin_key(app, name: str) -> str:
    """A new admin key of the tenant `default` in the app's (embedded) database; earlier keys of that name revoked."""
    from app.security.keys import local_admin_key

    return local_admin_key(app, name)


def _http_json(method: str, url: str, body: dict | None = None, api_key: str | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", **({"X-API-Key": api_key} if api_key else {})}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _demo(base_url: str, goal_path: str, api_key: str | None) -> None:
    from app.render import render_plan

    try:
        goal = _read_goal(goal_path)
    except CliError as error:
        _fail(str(error))
        return
    print(f"Submitting {goal_path} to {base_url}/api/v1/plans ...", flush=True)
    status, body = _http_json("POST", f"{base_url}/api/v1/plans", goal, api_key)
    if status != 202:
        print(_problem_line(body), file=sys.stderr)
        return
    plan_url = f"{base_url}/api/v1/plans/{body['id']}"
    while True:
        _, plan = _http_json("GET", plan_url, api_key=api_key)
        stages = ", ".join(f"{name} {info['state']}" for name, info in plan.get("stages", {}).items())
        print(f"  plan {plan['id']} {plan['status']}: {stages}", flush=True)
        if plan.get("version_status") in VERSION_DONE_STATES:  # no stage left to run
            break
        time.sleep(0.5)
    print()
    print(render_plan(plan), flush=True)
    print(f"\nThe full plan document: curl -H \"X-API-Key: $LAYER2_API_KEY\" {plan_url}")


def cmd_serve(args: argparse.Namespace) -> int:
    from werkzeug.serving import make_server

    from app import create_app

    app = create_app()
    if app.config["EMBEDDED"]:
        upgrade_database(app)
    server = make_server(args.host, args.port, app, threaded=True)
    base_url = f"http://{args.host}:{args.port}"
    mode = "embedded (SQLite + eager Celery)" if app.config["EMBEDDED"] else "farm (queues on the broker)"
    print(f"Layer 2 Planning API on {base_url}  [{mode}]", flush=True)
    api_key = os.environ.get("LAYER2_API_KEY") or None
    if app.config["EMBEDDED"]:
        # Embedded mode (make run): a local admin key, new each start (the previous one revoked), so a newcomer
        # can call the API at once; the farm has no such key: `layer2-planning keys create` (docs/security.md).
        api_key = _local_admin_key(app, "embedded serve (local admin)")
        print("A local admin key for this run (tenant default; revoked at the next start):\n"
              f"  export LAYER2_API_KEY={api_key}\n"
              f"  curl -H \"X-API-Key: $LAYER2_API_KEY\" {base_url}/api/v1/plans", flush=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        if args.demo:
            _demo(base_url, args.demo, api_key)
        print(f"\nServing the API on {base_url} (POST /api/v1/plans, GET /api/v1/plans/ID, /health, /metrics). "
              "Ctrl-C to stop.", flush=True)
        while thread.is_alive():
            thread.join(1.0)
    except KeyboardInterrupt:
        print("\nstopping", flush=True)
    finally:
        server.shutdown()
    return 0


def _events_app(command: str):
    """The app for an events process; CliError in embedded mode (no broker: events stay in the outbox)."""
    from app import create_app

    app = create_app()
    if not app.config["EVENTS"]["broker_url"]:
        raise CliError(f"{command} needs a broker (CELERY_BROKER_URL or LAYER2_EVENTS_BROKER_URL); in embedded "
                       "mode events stay in the outbox table: layer2-planning events")
    from app.metrics import exporter_port, start_exporter

    if exporter_port() is not None:  # a pod of its own (Kubernetes): its counters on LAYER2_METRICS_PORT
        start_exporter(exporter_port())
    return app


def _stop_on_signals(stop: threading.Event) -> None:
    import signal

    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())


def cmd_relay(args: argparse.Namespace) -> int:
    from app.events.relay import Relay

    app = _events_app("relay")
    stop = threading.Event()
    _stop_on_signals(stop)
    print(f"relay: publishing the outbox to the topic exchange {app.config['EVENTS']['exchange']}", flush=True)
    published = Relay(app, stop).run(once=args.once)
    print(f"relay: stopped after publishing {published} event(s)", flush=True)
    return 0


def cmd_consume(args: argparse.Namespace) -> int:
    from app.events.consumer import Consumer

    app = _events_app("consume")
    stop = threading.Event()
    _stop_on_signals(stop)
    print(f"consume: taking goals.created, execution.feedback, resources.availability from "
          f"{app.config['EVENTS']['exchange']}", flush=True)
    consumer = Consumer(app, stop)
    consumer.run()
    print(f"consume: stopped ({consumer.handled})", flush=True)
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    """The outbox as JSON lines, oldest first: in embedded mode the events stay here (docs/events.md)."""
    import sqlalchemy as sa

    from app import create_app
    from app.extensions import db
    from app.models import OutboxEvent
    from app.services.outbox import envelope

    app = create_app({"LOG_LEVEL": "WARNING"})
    if app.config["EMBEDDED"]:
        upgrade_database(app)
    with app.app_context():
        query = sa.select(OutboxEvent).order_by(OutboxEvent.id.desc()).limit(args.limit)
        if args.unsent:
            query = query.where(OutboxEvent.sent_at.is_(None))
        if args.topic:
            query = query.where(OutboxEvent.topic == args.topic)
        rows = list(db.session.execute(query).scalars())
        for row in reversed(rows):
            print(json.dumps({**envelope(row), "sent_at": row.sent_at.isoformat() if row.sent_at else None}))
    return 0


def _admin_app():
    """The app for the keys and audit commands: the service's database (DATABASE_URL; embedded: migrated)."""
    from app import create_app

    app = create_app({"LOG_LEVEL": "WARNING"})
    if app.config["EMBEDDED"]:
        upgrade_database(app)
    return app


def _cli_actor() -> str:
    """The audit log's actor for a command run on the host: `cli:<login>`."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"[:200]
    except (KeyError, OSError):
        return "cli"


def cmd_keys(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from app.extensions import db
    from app.models import ApiKey, utcnow
    from app.security import keys
    from app.services import audit

    app = _admin_app()
    with app.app_context():
        if args.keys_command == "create":
            expires = utcnow() + timedelta(days=args.expires_in_days) if args.expires_in_days else None
            try:
                scope = [t for t in args.resources.split(",")] if args.resources else None
                created = keys.create_key(session=db.session, tenant=args.tenant, role=args.role, name=args.name,
                                          expires_at=expires, task_scope=scope)
            except ValueError as error:
                raise CliError(str(error)) from None
            audit.record(actor=_cli_actor(), action="key.create", entity="api_key", entity_id=created.id,
                         after={"tenant": created.tenant, "role": created.role, "name": created.name},
                         tenant=created.tenant)
            db.session.commit()
            print(f"key id {created.id}: tenant {created.tenant}, role {created.role}"
                  + (f", expires {expires.isoformat()}" if expires else "")
                  + ". The key is shown this once; send it in the X-API-Key header:")
            print(created.key)
        elif args.keys_command == "list":
            for key in keys.list_keys(session=db.session):
                print(json.dumps(key))
        else:
            if not keys.revoke_key(session=db.session, key_id=args.id):
                raise CliError(f"no key with id {args.id!r}")
            row = db.session.get(ApiKey, args.id)
            audit.record(actor=_cli_actor(), action="key.revoke", entity="api_key", entity_id=args.id,
                         tenant=row.tenant)
            db.session.commit()
            print(f"key {args.id} revoked")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from app.extensions import db
    from app.security.audit_chain import verify

    app = _admin_app()
    with app.app_context():
        report = verify(db.session.connection())
    print(json.dumps(report.as_dict(), indent=2))
    return 0 if report.ok else 1


def cmd_encryption(args: argparse.Namespace) -> int:
    """new-key: print a Fernet key. rotate: re-encrypt every encrypted field under the first configured key."""
    if args.encryption_command == "new-key":
        from cryptography.fernet import Fernet

        print(Fernet.generate_key().decode())
        return 0
    import sqlalchemy as sa

    from app.extensions import db
    from app.models import FeedbackEvent, Goal

    app = _admin_app()
    if "layer2_cipher" not in app.extensions:
        raise CliError("LAYER2_ENCRYPTION_KEYS is not set: nothing to rotate to")
    counts = {}
    with app.app_context():
        # Read through the columns' type (decrypted with any configured key), written back (encrypted under the first).
        for model, column in ((Goal, "document"), (FeedbackEvent, "update")):
            done, last = 0, None
            while True:
                query = sa.select(model.id, getattr(model, column)).order_by(model.id).limit(500)
                if last is not None:
                    query = query.where(model.id > last)
                rows = db.session.execute(query).all()
                if not rows:
                    break
                for row_id, value in rows:
                    db.session.execute(sa.update(model).where(model.id == row_id).values({column: value}))
                db.session.commit()
                done, last = done + len(rows), rows[-1][0]
            counts[model.__tablename__] = done
    print(f"re-encrypted under the first key: {counts['goals']} goal(s), {counts['feedback_events']} feedback "
          "event(s); the other keys may now be removed from LAYER2_ENCRYPTION_KEYS")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "solve-psplib":
        from scheduling.cli import solve_psplib_main

        return solve_psplib_main(argv[1:])
    parser = argparse.ArgumentParser(prog="layer2-planning", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser("plan", help="plan one goal in embedded mode and print the plan")
    plan.add_argument("goal", help="path to a goal JSON document (see docs/goal-format.md)")
    plan.add_argument("--json", action="store_true", help="print the full plan document as JSON")
    plan.set_defaults(func=cmd_plan)
    serve = commands.add_parser("serve", help="serve the API (embedded unless DATABASE_URL/CELERY_BROKER_URL are set)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8082)
    serve.add_argument("--demo", metavar="GOAL", help="submit this goal once the server is up and print its plan")
    serve.set_defaults(func=cmd_serve)
    commands.add_parser("solve-psplib", help="solve PSPLIB .sm instances (see --help of the subcommand)")
    relay = commands.add_parser("relay", help="publish the outbox's events to the topic exchange (docs/events.md)")
    relay.add_argument("--once", action="store_true", help="stop when the outbox has nothing left to send")
    relay.set_defaults(func=cmd_relay)
    consume = commands.add_parser("consume", help="consume goals.created, execution.feedback, resources.availability")
    consume.set_defaults(func=cmd_consume)
    events = commands.add_parser("events", help="print the outbox's events as JSON lines (oldest first)")
    events.add_argument("--unsent", action="store_true", help="only the events not yet published")
    events.add_argument("--topic", help="only this topic (plans.created, plans.updated, tasks.assigned, risks.alerts)")
    events.add_argument("--limit", type=int, default=100, help="the latest N events (default 100)")
    events.set_defaults(func=cmd_events)
    keys = commands.add_parser("keys", help="API keys: create (shown once), list, revoke (docs/security.md)")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_commands.add_parser("create", help="a new key; the key alone on the last line")
    create.add_argument("--tenant", required=True)
    create.add_argument("--role", required=True, choices=("viewer", "planner", "approver", "executor", "admin"))
    create.add_argument("--name", default="")
    create.add_argument("--expires-in-days", type=float, default=None)
    create.add_argument("--resources", metavar="TYPE,...",
                        help="executor keys: only the tasks needing one of these resource types (its layer's)")
    keys_commands.add_parser("list", help="every key as JSON lines (never a secret)")
    revoke = keys_commands.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("id")
    keys.set_defaults(func=cmd_keys)
    audit = commands.add_parser("audit", help="the audit log: verify its hash chain")
    audit.add_argument("audit_command", choices=("verify",))
    audit.set_defaults(func=cmd_audit)
    encryption = commands.add_parser("encryption", help="encryption at rest: new-key, rotate (docs/security.md)")
    encryption.add_argument("encryption_command", choices=("new-key", "rotate"))
    encryption.set_defaults(func=cmd_encryption)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CliError as error:
        return _fail(str(error))
    except UpgradeError as error:
        _fail(str(error))
        return EXIT_UNAVAILABLE


if __name__ == "__main__":
    sys.exit(main())
