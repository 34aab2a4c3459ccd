"""Execution feedback under load: updates/s and latency of PUT /api/v1/plans/{id} on the real PostgreSQL.

    .venv/bin/python bench/feedback.py [--clients 16] [--updates 1,5,10] [--seconds 15] [--workers 2 --threads 4]

Creates its own PostgreSQL database and migrates it, makes one plan in-process (Celery eager,
stored in that database) and approves it, then serves the API with gunicorn (gthread workers,
as the Procfile does; werkzeug's threaded server if gunicorn is missing: the table says which).
For each batch size it runs C client threads, each sending feedback requests of that many task
updates, back to back, for the given seconds after a short warm-up; every request updates tasks of
the one plan, so all of them queue on that plan's row lock. Prints a markdown table (requests/s,
updates/s, client-side latency p50/p95/p99), checks that the database holds exactly one event per
update answered 200, and drops the database, also on Ctrl-C or error.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg2
from farm import admin_sql, free_port  # bench/ is on sys.path when a bench script runs

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent  # the venv this runs in (gunicorn beside python)


class BenchError(RuntimeError):
    pass


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--goal", default=str(ROOT / "examples/goals/website-launch.json"),
                   help="a goal whose project start is past (feedback dates may not precede it)")
    p.add_argument("--clients", type=int, default=16, help="concurrent client threads (at least 8 for the issue)")
    p.add_argument("--updates", default="1,5,10", help="task updates per request, one run per value")
    p.add_argument("--seconds", type=float, default=15.0, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each run")
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    p.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    p.add_argument("--server", choices=["gunicorn", "werkzeug"], default="gunicorn")
    p.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--json", type=Path, help="also write the figures to this file")
    args = p.parse_args()
    args.updates = [int(v) for v in args.updates.split(",")]
    if args.clients < 1 or min(args.updates) < 1:
        p.error("--clients and --updates must be at least 1")
    return args


API_KEY: dict[str, str] = {}  # the bench's admin key (make_plan creates it)


def make_plan(db_url: str, goal_path: str) -> tuple[str, list[str]]:
    """Migrate, plan the goal in-process (eager Celery, stored in PostgreSQL), approve it; (plan id, task ids)."""
    sys.path.insert(0, str(ROOT))
    from app import create_app
    from app.cli import upgrade_database

    app = create_app({"DATABASE_URL": db_url, "CELERY_BROKER_URL": None, "CELERY_KEY_PREFIX": None})
    upgrade_database(app)
    from app.security.keys import local_admin_key

    client = app.test_client()
    client.environ_base["HTTP_X_API_KEY"] = API_KEY["key"] = local_admin_key(app, "bench")  # the API asks for one
    answer = client.post("/api/v1/plans", json=json.loads(Path(goal_path).read_text()))
    if answer.status_code != 202:
        raise BenchError(f"POST /api/v1/plans: {answer.status_code} {answer.get_data(as_text=True)[:500]}")
    plan_id = answer.get_json()["id"]
    plan = client.get(f"/api/v1/plans/{plan_id}").get_json()
    if plan["status"] == "ready":
        approved = client.post(f"/api/v1/plans/{plan_id}/approve", json={"comment": "bench"})
        if approved.status_code != 200:
            raise BenchError(f"approve: {approved.status_code} {approved.get_data(as_text=True)[:500]}")
    elif plan["status"] != "approved":
        raise BenchError(f"the plan is {plan['status']}: {plan.get('error')}")
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()
    return plan_id, [task["id"] for task in plan["tasks"]]


class Server:
    def __init__(self, kind: str, port: int, env: dict[str, str], workers: int, threads: int, log: Path):
        if kind == "gunicorn" and not (VENV_BIN / "gunicorn").exists():
            print("gunicorn is not installed: falling back to werkzeug's threaded server", file=sys.stderr)
            kind = "werkzeug"
        self.kind, self.log = kind, log
        if kind == "gunicorn":
            command = [str(VENV_BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                       "--worker-class", "gthread", "--threads", str(threads), "--log-level", "warning",
                       "app:create_app()"]
            self.shape = f"gunicorn, {workers} gthread workers x {threads} threads"
        else:
            code = ("from werkzeug.serving import run_simple; from app import create_app; "
                    f"run_simple('127.0.0.1', {port}, create_app(), threaded=True)")
            command = [sys.executable, "-c", code]
            self.shape = "werkzeug threaded (fallback)"
        with open(log, "w") as handle:
            self.proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.port = port

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"the server exited:\n{self.log.read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/health")
                if connection.getresponse().status in (200, 503):
                    return
            time.sleep(0.3)
        raise BenchError(f"the server did not answer in {timeout:.0f} s:\n{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def run(port: int, plan_id: str, tasks: list[str], clients: int, per_request: int, seconds: float,
        warmup: float) -> dict:
    """C clients send feedback back to back; latency of each measured request, its status, its update count."""
    results: list[list[tuple[float, int]]] = [[] for _ in range(clients)]
    phase = {"measure_from": float("inf"), "stop_at": float("inf")}
    start_line = threading.Barrier(clients + 1)

    def client(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        counter = 0
        start_line.wait()
        while True:
            now = time.monotonic()
            if now >= phase["stop_at"]:
                break
            # Each client walks its own slice of the tasks, so every request is a valid, different update.
            updates = []
            for k in range(per_request):
                task = tasks[(number * per_request + k) % len(tasks)]
                updates.append({"task_id": task, "status": "in_progress",
                                "percent_complete": (counter % 90) + 1, "actual_cost": float(counter)})
            counter += 1
            body = json.dumps({"updates": updates})
            sent = time.perf_counter()
            connection.request("PUT", f"/api/v1/plans/{plan_id}", body=body,
                               headers={"Content-Type": "application/json", "X-API-Key": API_KEY["key"]})
            response = connection.getresponse()
            response.read()
            took = time.perf_counter() - sent
            if now >= phase["measure_from"]:
                results[number].append((took, response.status))
        connection.close()

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    begin = time.monotonic()
    phase["measure_from"], phase["stop_at"] = begin + warmup, begin + warmup + seconds
    start_line.wait()
    for thread in threads:
        thread.join(timeout=warmup + seconds + 60)
    flat = [item for per_client in results for item in per_client]
    latencies = sorted(took for took, status in flat if status == 200)
    errors: dict[int, int] = {}
    for _, status in flat:
        if status != 200:
            errors[status] = errors.get(status, 0) + 1
    accepted = len(latencies)
    return {"updates_per_request": per_request, "clients": clients, "seconds": seconds, "requests": accepted,
            "updates": accepted * per_request, "requests_per_s": accepted / seconds,
            "updates_per_s": accepted * per_request / seconds, "p50_ms": pct(latencies, 0.50) * 1000,
            "p95_ms": pct(latencies, 0.95) * 1000, "p99_ms": pct(latencies, 0.99) * 1000, "errors": errors}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(q * len(values)))]


def check(db_url: str, plan_id: str) -> tuple[int, int, int]:
    """(events, distinct request sequence numbers among them, the feedback counter) in the database."""
    connection = psycopg2.connect(db_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM feedback_events WHERE plan_id = %s", (plan_id,))
            events = cursor.fetchone()[0]
            cursor.execute("SELECT feedback_seq FROM plan_progress WHERE plan_id = %s", (plan_id,))
            seq = (cursor.fetchone() or (0,))[0]
            cursor.execute("SELECT count(DISTINCT seq) FROM feedback_events WHERE plan_id = %s", (plan_id,))
            distinct = cursor.fetchone()[0]
    finally:
        connection.close()
    return events, distinct, seq


def table(rows: list[dict], shape: str, plan_tasks: int, args: argparse.Namespace) -> str:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    head = (f"Feedback on one approved plan ({plan_tasks} tasks), {shape}, {args.clients} client threads, "
            f"{args.seconds:.0f} s per run after {args.warmup:.0f} s warm-up; PostgreSQL on the same host "
            f"({platform.node()}, {os.cpu_count()} cores, load average {load} at the end)\n\n")
    lines = ["| updates/request | requests | updates | requests/s | updates/s | p50 ms | p95 ms | p99 ms | errors |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['updates_per_request']} | {r['requests']} | {r['updates']} | {r['requests_per_s']:.0f} | "
                     f"{r['updates_per_s']:.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} | "
                     f"{r['errors'] or 'none'} |")
    return head + "\n".join(lines)


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    token = secrets.token_hex(5)
    db_name = f"layer2_bench_feedback_{token}"
    db_url = args.pg_admin.rsplit("/", 1)[0] + "/" + db_name
    log_dir = Path(tempfile.mkdtemp(prefix="layer2-bench-feedback-"))
    port = free_port()
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}", "DATABASE_URL": db_url,
           # the server's per-key rate limit (app/security) would cap the load this measures
           "LAYER2_RATE_LIMIT": os.environ.get("LAYER2_RATE_LIMIT", "1000000/minute")}
    env.pop("CELERY_BROKER_URL", None)  # feedback never touches the broker; the API runs without one
    server, ok = None, False
    try:
        admin_sql(args.pg_admin, f'CREATE DATABASE "{db_name}"')
        plan_id, tasks = make_plan(db_url, args.goal)
        server = Server(args.server, port, env, args.workers, args.threads, log_dir / "server.log")
        server.wait_ready()
        print(f"plan {plan_id} ({len(tasks)} tasks) approved; {server.shape} on :{port}", file=sys.stderr)
        rows = []
        for per_request in args.updates:
            before = check(db_url, plan_id) if rows else (0, 0, 0)
            row = run(port, plan_id, tasks, args.clients, min(per_request, len(tasks)), args.seconds, args.warmup)
            if not row["requests"]:
                raise BenchError(f"no request was accepted: {row['errors']}; last answers in {server.log}")
            after = check(db_url, plan_id)
            row["db_events"], row["db_requests"] = after[0] - before[0], after[2] - before[2]
            if after[1] != after[2]:
                raise BenchError(f"feedback counter {after[2]} but {after[1]} distinct event sequences")
            rows.append(row)
            print(f"  {per_request} update(s)/request: {row['updates_per_s']:.0f} updates/s, p99 {row['p99_ms']:.1f} ms"
                  f" ({row['db_requests']} requests, {row['db_events']} events in the database, warm-up included)",
                  file=sys.stderr)
        print(table(rows, server.shape, len(tasks), args))
        if args.json:
            args.json.write_text(json.dumps({"server": server.shape, "rows": rows}, indent=2))
        ok = True
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    except (BenchError, psycopg2.Error) as error:
        print(f"feedback bench: {error}", file=sys.stderr)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if server is not None:
            server.stop()
        try:
            admin_sql(args.pg_admin, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            print(f"dropped {db_name}", file=sys.stderr)
        except psycopg2.Error as error:
            print(f"could not drop {db_name}: {error}", file=sys.stderr)
        if not ok:
            print(f"server log kept in {log_dir}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
