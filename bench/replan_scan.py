"""The replan scan over many executing plans, in a throwaway PostgreSQL database (a benchmark, not a test).

    .venv/bin/python bench/replan_scan.py [--plans 10000] [--changed 100] [--repeat 5]

One tiny plan is planned, approved and given feedback through the app (embedded Celery, the
bench database), then cloned in SQL into `--plans` executing plans (plan, version with its
document, task rows, progress row). Then it times `app.services.replanning.scan`:

- first: every plan unseen (`replan_checked_at` null): each is evaluated (its document, rows,
  snapshot, triggers; the deadline re-simulated when nothing fires) within the scan's time budget,
  over as many scans as it takes (`--unbudgeted`: also one scan of them all, which takes minutes);
- steady: nothing new since the last look: the SQL alone;
- changed: `--changed` plans got feedback since, half of them slipping (a cheap trigger fires), half on
  time (nothing cheap fires, so the deadline chance is re-simulated): the SQL plus those.

The database is dropped at the end. Needs PostgreSQL on 127.0.0.1:5432 (LAYER2_TEST_PG_ADMIN).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from tests import farm  # noqa: E402
from tests.feedback_support import tiny_goal  # noqa: E402

SLIP = {"status_date": "2026-11-03T13:00:00Z", "updates": [
    {"task_id": "design", "status": "completed", "actual_finish": "2026-11-03T11:00:00Z", "actual_cost": 500},
    {"task_id": "docs", "percent_complete": 10}]}
ON_TIME = {"status_date": "2026-11-02T13:00:00Z", "updates": [{"task_id": "design", "percent_complete": 50}]}


def _seed(app, plans: int) -> tuple[str, str]:
    """Two planned, approved, executing templates (one slipping, one on time), cloned into `plans` plans."""
    from app.extensions import db
    from app.security.keys import local_admin_key

    client = app.test_client()
    client.environ_base["HTTP_X_API_KEY"] = local_admin_key(app, "bench")  # the API asks for a key
    templates = []
    for body in (SLIP, ON_TIME):
        plan_id = client.post("/api/v1/plans", json=tiny_goal()).get_json()["id"]
        if client.get(f"/api/v1/plans/{plan_id}").get_json()["status"] == "ready":
            client.post(f"/api/v1/plans/{plan_id}/approve", json={})
        assert client.put(f"/api/v1/plans/{plan_id}", json=body).status_code == 200
        templates.append(plan_id)
    slipping, on_time = templates
    with app.app_context():
        connection = db.session.connection()
        # Every clone copies the on-time template (nothing fires); the scan's "changed" set later gets some slipping.
        connection.execute(sa.text("""
            CREATE TEMP TABLE clones AS
            SELECT gen_random_uuid()::text AS id, n FROM generate_series(1, :plans) AS n;
            INSERT INTO plans (id, goal_id, status, current_version, baseline_version, created_at, updated_at)
            SELECT c.id, p.goal_id, 'executing', 1, 1, now(), now() FROM clones c, plans p WHERE p.id = :tpl;
            INSERT INTO plan_versions (plan_id, version, status, reason, document, created_at, updated_at,
                                       completed_at, mode)
            SELECT c.id, 1, 'ready', 'initial plan', v.document, now(), now(), now(), 'plan'
            FROM clones c, plan_versions v WHERE v.plan_id = :tpl AND v.version = 1;
            INSERT INTO plan_tasks (plan_version_id, task_key, uid, name, phase, data, status, percent_complete,
                                    actual_start, actual_finish, remaining_hours, actual_cost, blocked_reason,
                                    status_date, row_version)
            SELECT nv.id, t.task_key, gen_random_uuid()::text, t.name, t.phase, t.data, t.status, t.percent_complete,
                   t.actual_start, t.actual_finish, t.remaining_hours, t.actual_cost, t.blocked_reason, t.status_date, 1
            FROM clones c JOIN plan_versions nv ON nv.plan_id = c.id,
                 plan_tasks t JOIN plan_versions tv ON tv.id = t.plan_version_id
            WHERE tv.plan_id = :tpl AND tv.version = 1;
            INSERT INTO stage_results (plan_version_id, stage, output, created_at)
            SELECT nv.id, r.stage, r.output, now()
            FROM clones c JOIN plan_versions nv ON nv.plan_id = c.id,
                 stage_results r JOIN plan_versions tv ON tv.id = r.plan_version_id
            WHERE tv.plan_id = :tpl AND tv.version = 1;
            INSERT INTO plan_progress (plan_id, plan_version_id, feedback_seq, started_at, status_date, updated_at)
            SELECT c.id, nv.id, 1, now(), pp.status_date, now() - interval '1 hour'
            FROM clones c JOIN plan_versions nv ON nv.plan_id = c.id, plan_progress pp WHERE pp.plan_id = :tpl;
            ANALYZE;
        """), {"plans": plans, "tpl": on_time})
        db.session.commit()
    return slipping, on_time


def _make_slipping(app, slipping: str, count: int, at: datetime) -> list[str]:
    """`count` clones get new feedback: half of them the slipping template's live state."""
    from app.extensions import db

    with app.app_context():
        connection = db.session.connection()
        ids = [row[0] for row in connection.execute(sa.text(
            "SELECT id FROM plans WHERE status = 'executing' AND id NOT IN (SELECT plan_id FROM replan_triggers) "
            "ORDER BY random() LIMIT :n"), {"n": count})]
        half = ids[: count // 2]
        connection.execute(sa.text("""
            UPDATE plan_tasks t SET status = s.status, percent_complete = s.percent_complete,
                   actual_start = s.actual_start, actual_finish = s.actual_finish, actual_cost = s.actual_cost,
                   status_date = s.status_date
            FROM plan_versions v, plan_tasks s JOIN plan_versions sv ON sv.id = s.plan_version_id
            WHERE t.plan_version_id = v.id AND v.plan_id = ANY(:ids) AND sv.plan_id = :tpl AND s.task_key = t.task_key
        """), {"ids": half, "tpl": slipping})
        # all of them have news; the slipping half also a later status date (the others: a report on time)
        connection.execute(sa.text("UPDATE plan_progress SET updated_at = :at WHERE plan_id = ANY(:ids)"),
                           {"ids": ids, "at": at})
        connection.execute(sa.text("UPDATE plan_progress SET status_date = '2026-11-03T13:00:00Z' "
                                   "WHERE plan_id = ANY(:ids)"), {"ids": half})
        db.session.commit()
    return ids


def _reset(app) -> None:
    """Every plan unseen again, no trigger stored."""
    from app.extensions import db

    with app.app_context():
        db.session.execute(sa.text("DELETE FROM replan_triggers"))
        db.session.execute(sa.text("UPDATE plans SET replan_checked_at = NULL, last_auto_replan_at = NULL"))
        db.session.commit()
        db.session.remove()


def _scan(app, now: datetime, budget: float | None = -1.0):
    from app.extensions import db
    from app.services import replanning

    kwargs = {} if budget == -1.0 else {"budget_seconds": budget}
    with app.app_context():
        started = time.perf_counter()
        result = replanning.scan(session=db.session, settings=app.config["PLANNING"], now=now, **kwargs)
        seconds = time.perf_counter() - started
        db.session.remove()
    return seconds, result


def _explain(app) -> str:
    from app.extensions import db
    from app.services.replanning import _CANDIDATES

    with app.app_context():
        compiled = _CANDIDATES.compile(dialect=db.engine.dialect)
        state = compiled.construct_expanded_state({"b_cutoff": datetime.now(UTC) - timedelta(hours=1)})
        rows = db.session.connection().exec_driver_sql("EXPLAIN (ANALYZE, TIMING OFF) " + state.statement,
                                                       state.parameters).all()
        db.session.remove()
    return "\n".join(row[0] for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=10_000)
    parser.add_argument("--changed", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--unbudgeted", action="store_true", help="also time one scan of every unseen plan, unbudgeted")
    args = parser.parse_args()
    from app import create_app
    from app.cli import upgrade_database

    url = farm.create_database()
    try:
        app = create_app({"DATABASE_URL": url, "CELERY_BROKER_URL": None, "CELERY_KEY_PREFIX": None,
                          "LAYER2_DB_STATEMENT_TIMEOUT": "0"})
        upgrade_database(app)
        t0 = time.perf_counter()
        slipping, _ = _seed(app, args.plans)
        print(f"seeded {args.plans} executing plans in {time.perf_counter() - t0:.1f} s")
        rows = []
        now = datetime.now(UTC)
        if args.unbudgeted:
            seconds, result = _scan(app, now, budget=None)
            rows.append(("first, every plan unseen, no time budget", seconds, result))
            _reset(app)
        drains = []
        while True:
            now += timedelta(seconds=60)
            seconds, result = _scan(app, now)
            drains.append(seconds)
            if not result.deferred:
                break
        rows.append((f"first, every plan unseen, {len(drains)} budgeted scans: the slowest", max(drains), result))
        steady = []
        for _ in range(args.repeat):
            now += timedelta(seconds=60)
            seconds, result = _scan(app, now)
            steady.append(seconds)
        rows.append((f"steady (nothing new), median of {args.repeat}", statistics.median(steady), result))
        changed = []
        for _ in range(args.repeat):
            now += timedelta(seconds=60)
            _make_slipping(app, slipping, args.changed, at=now - timedelta(seconds=30))
            seconds, result = _scan(app, now)
            changed.append((seconds, result))
        seconds = statistics.median(s for s, _ in changed)
        rows.append((f"{args.changed} changed ({args.changed // 2} slipping), median of {args.repeat}", seconds,
                     changed[-1][1]))
        print(f"\n| scan of {args.plans} executing plans | seconds | candidates | evaluated | fired | triggers |")
        print("|---|---|---|---|---|---|")
        for name, seconds, result in rows:
            print(f"| {name} | {seconds:.3f} | {result.candidates} | {result.candidates - result.deferred} | "
                  f"{result.fired} | {len(result.triggers)} |")
        if args.explain:
            print("\n" + _explain(app))
    finally:
        farm.drop_database(url)


if __name__ == "__main__":
    main()
