"""The real farm under load: throughput, latency, stage times, hand-offs, memory and CPU per process.

    .venv/bin/python bench/farm.py [--shape procfile|one-worker] [--goals 200] [--clients 16] [--json PATH]

Creates its own PostgreSQL database and Redis key prefix, starts the farm (every Procfile entry, or
the web and beat entries plus one worker serving every queue), then runs a warm-up (3 goals), an
idle-latency phase (5 goals one at a time) and a load phase (N goals posted by C client threads as
fast as they go, then awaited by polling the database, not the API). Stage times and hand-offs come
from `plan_versions` and `stage_runs`; memory (RSS, PSS) and CPU from /proc, per process group.
Prints markdown tables and tears everything down, also on Ctrl-C, SIGTERM or error.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import platform
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlparse

import psycopg2
import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
TERMINAL = ("ready", "failed", "cancelled")  # version states in which planning has ended (docs/lifecycle.md)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
JSON_HEADERS = {"Content-Type": "application/json"}


class FarmError(RuntimeError):
    """The farm or a phase failed; the message says which entry and why."""


class Post(NamedTuple):
    sent: float
    answered: float
    status: int  # 0 when no HTTP answer came (connection error, timeout)
    plan_id: str | None
    error: str | None


def _stage_order() -> tuple[str, ...]:
    """The pipeline's stage names in order, from wherever the registry lives now."""
    # The registry is moving from app.models to app.stages; a half-done move must not stop the bench.
    for module, name in (("app.stages", "STAGE_NAMES"), ("app.models", "STAGES")):
        try:
            return tuple(getattr(importlib.import_module(module), name))
        except Exception:  # ImportError, AttributeError, or a module broken mid-refactor
            continue
    print("warning: no stage registry importable; using the five default stages", file=sys.stderr)
    return ("risk", "decompose", "allocate", "schedule", "finalize")


def parse_args() -> argparse.Namespace:
    """Command line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", choices=["procfile", "one-worker"], default="procfile")
    p.add_argument("--procfile", type=Path, default=ROOT / "Procfile",
                   help="the Procfile the procfile shape starts (e.g. Procfile.per-stage)")
    p.add_argument("--goal", default=str(ROOT / "examples/goals/website-launch.json"))
    p.add_argument("--goals", type=int, default=200, help="goals posted in the load phase")
    p.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients in the load phase")
    p.add_argument("--concurrency", type=int, default=2, help="pool size of the one-worker shape's worker")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the load's plans")
    p.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="extra env for every process")
    p.add_argument("--with-flower", action="store_true", help="also start the Procfile's flower entry")
    p.add_argument("--json", type=Path, help="also write every figure to this file")
    args = p.parse_args()
    if any("=" not in item for item in args.env):
        p.error("--env takes KEY=VALUE")
    if args.goals < 1 or args.clients < 1:
        p.error("--goals and --clients must be at least 1")
    return args


def farm_entries(shape: str, with_flower: bool, concurrency: int, stages: tuple[str, ...],
                 procfile_path: Path) -> dict[str, str]:
    """Entry name -> shell command, from the Procfile (and, for one-worker, one worker on every queue)."""
    procfile = {}
    for line in procfile_path.read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() and not name.lstrip().startswith("#"):
            procfile[name.strip()] = command.strip()
    if shape == "one-worker":
        # One queue per stage plus replan: a stage added to the registry is served without editing this.
        worker = (f"celery -A tasks.worker:celery_app worker -Q {','.join((*stages, 'replan'))} -c {concurrency} "
                  "--hostname all@%h -l INFO")
        entries = {"web": procfile["web"], "worker": worker}
        entries |= {name: procfile[name] for name in ("beat", "flower") if name in procfile}
    else:
        entries = dict(procfile)
    if not with_flower:
        entries.pop("flower", None)
    return entries


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def admin_sql(dsn: str, sql: str) -> None:
    """Run one statement on the admin database (CREATE/DROP DATABASE cannot run in a transaction)."""
    connection = psycopg2.connect(dsn)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()


def clear_redis(url: str, prefix: str) -> int:
    """Delete every key under the farm's prefix; returns how many there were."""
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start:start + 500])
    client.close()
    return len(keys)


def _tail(path: Path, lines: int = 25) -> str:
    """The last lines of a log file, indented."""
    text = path.read_text(errors="replace") if path.exists() else "(no log)"
    return "\n".join("    " + line for line in text.splitlines()[-lines:])


class Farm:
    """The farm's processes, each entry in its own process group with its own log file."""

    def __init__(self, entries: dict[str, str], env: dict[str, str], log_dir: Path):
        # The run's own (empty) metrics directory, shared by its processes (scripts/farm-env.sh would name one
        # after this process's parent, the same for every run from one shell).
        env = {"PROMETHEUS_MULTIPROC_DIR": str(log_dir / "metrics"), **env}
        self.entries, self.env, self.log_dir = entries, env, log_dir
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    def start(self) -> None:
        """Start every entry as `bash -c`, in its own session so one killpg reaches its children."""
        for name, command in self.entries.items():
            self.logs[name] = self.log_dir / f"{name}.log"
            with open(self.logs[name], "w") as log:  # the child keeps its own descriptor
                self.procs[name] = subprocess.Popen(["bash", "-c", command], cwd=ROOT, env=self.env, stdout=log,
                                                    stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, base_url: str, timeout: float = 90.0) -> None:
        """Wait for GET /health = 200 and ' ready.' in every worker's log; FarmError naming the laggard."""
        pending = {name for name, command in self.entries.items() if " worker " in command}
        healthy = False
        deadline = time.monotonic() + timeout
        while True:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise FarmError(f"entry {name!r} exited with code {proc.returncode}:\n{_tail(self.logs[name])}")
            pending = {name for name in pending if " ready." not in self.logs[name].read_text(errors="replace")}
            with contextlib.suppress(requests.RequestException):
                healthy = healthy or requests.get(f"{base_url}/health", timeout=2).status_code == 200
            if healthy and not pending:
                return
            if time.monotonic() > deadline:
                late = sorted(pending) + ([] if healthy else ["web"])
                tails = "\n".join(f"--- {name} ({self.logs[name]}):\n{_tail(self.logs[name])}" for name in late)
                raise FarmError(f"not ready after {timeout:.0f} s: {', '.join(late)}\n{tails}")
            time.sleep(0.3)

    def groups(self) -> dict[str, tuple[str, int]]:
        """Entry name -> ('pgid', leader pid), for the /proc samplers."""
        return {name: ("pgid", proc.pid) for name, proc in self.procs.items()}

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM every process group, SIGKILL what is left after `grace` seconds, reap the leaders."""
        for proc in self.procs.values():
            _killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_group_alive(p) for p in self.procs.values()):
            time.sleep(0.2)
        for name, proc in self.procs.items():
            if _group_alive(proc):
                print(f"  {name}: still running after {grace:.0f} s, SIGKILL", file=sys.stderr)
                _killpg(proc.pid, signal.SIGKILL)
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)


def _killpg(pgid: int, sig: int) -> None:
    """Signal a process group that may already be gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(proc: subprocess.Popen) -> bool:
    """Whether any process of the leader's group still runs (the leader is reaped first: a zombie answers too)."""
    proc.poll()
    try:
        os.killpg(proc.pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _proc_table() -> dict[int, tuple[int, int, int]]:
    """pid -> (ppid, pgid, CPU ticks including reaped children) for every running process."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as file:
                raw = file.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields start after the last ')'.
        # fields[0] is proc(5) field 3 (state); ppid=4, pgrp=5, utime, stime, cutime, cstime=14..17.
        fields = raw[raw.rindex(")") + 2:].split()
        table[int(entry.name)] = (int(fields[1]), int(fields[2]), sum(int(x) for x in fields[11:15]))
    return table


def _members(table: dict[int, tuple[int, int, int]], spec: tuple[str, int]) -> list[int]:
    """Pids of a group: a process group ('pgid'), or a server process and its direct children ('tree')."""
    kind, ident = spec
    if kind == "pgid":
        return [pid for pid, (_, pgid, _) in table.items() if pgid == ident]
    return [pid for pid, (ppid, _, _) in table.items() if pid == ident or ppid == ident]


def cpu_seconds(groups: dict[str, tuple[str, int]]) -> dict[str, float]:
    """CPU seconds (user + system, reaped children included) per group, now."""
    table = _proc_table()
    return {name: sum(table[pid][2] for pid in _members(table, spec)) / CLOCK_TICKS for name, spec in groups.items()}


def _kib(path: str, key: str) -> int:
    """The kB figure after `key` in a /proc status-style file; 0 if absent or the process is gone."""
    try:
        with open(path) as file:
            for line in file:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class MemorySampler(threading.Thread):
    """Every 0.5 s, per group: process count, summed RSS and PSS, largest RSS; keeps the peaks (KiB)."""

    def __init__(self, groups: dict[str, tuple[str, int]]):
        super().__init__(daemon=True)
        self.groups = groups
        self.peaks = {name: {"procs": 0, "rss": 0, "pss": 0, "max_rss": 0} for name in groups}
        self.halt = threading.Event()

    def run(self) -> None:
        """Sample until halted."""
        while not self.halt.is_set():
            table = _proc_table()
            for name, spec in self.groups.items():
                pids = _members(table, spec)
                rss = [_kib(f"/proc/{pid}/status", "VmRSS:") for pid in pids]
                # PSS splits each shared page between its sharers: forked pool children share most of theirs.
                pss = sum(_kib(f"/proc/{pid}/smaps_rollup", "Pss:") for pid in pids)
                peak = self.peaks[name]
                peak["procs"] = max(peak["procs"], len(pids))
                peak["rss"] = max(peak["rss"], sum(rss))
                peak["pss"] = max(peak["pss"], pss)
                peak["max_rss"] = max(peak["max_rss"], max(rss, default=0))
            self.halt.wait(0.5)


def post_goal(session: requests.Session, url: str, body: bytes) -> Post:
    """POST one goal; any answer but 202 is an error."""
    sent = time.perf_counter()
    try:
        response = session.post(url, data=body, headers=JSON_HEADERS, timeout=60)
    except requests.RequestException as error:
        return Post(sent, time.perf_counter(), 0, None, f"{type(error).__name__}: {error}"[:200])
    answered = time.perf_counter()
    if response.status_code == 202:
        return Post(sent, answered, 202, response.json()["id"], None)
    return Post(sent, answered, response.status_code, None, response.text[:200])


def wait_plans(conn, plan_ids: list[str], timeout: float, label: str) -> int:
    """Poll the database until every plan's version 1 is terminal; returns how many are (fewer on timeout)."""
    deadline, last_report, done = time.monotonic() + timeout, time.monotonic(), 0
    while True:
        with conn.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM plan_versions WHERE plan_id = ANY(%s::text[]) AND version = 1 "
                           "AND status IN %s", (plan_ids, TERMINAL))
            done = cursor.fetchone()[0]
        if done == len(plan_ids) or time.monotonic() > deadline:
            return done
        if time.monotonic() - last_report > 10:
            print(f"  {label}: {done}/{len(plan_ids)} plans done", file=sys.stderr)
            last_report = time.monotonic()
        time.sleep(0.2 if len(plan_ids) == 1 else 0.5)


def post_and_wait(url: str, body: bytes, conn, count: int, timeout: float, one_at_a_time: bool) -> list[str]:
    """Post `count` goals (each awaited before the next, or all then awaited); returns the plan ids."""
    ids: list[str] = []
    with requests.Session() as session:
        for _ in range(count):
            post = post_goal(session, url, body)
            if post.status != 202:
                raise FarmError(f"POST answered {post.status}: {post.error}")
            ids.append(post.plan_id)
            if one_at_a_time and wait_plans(conn, ids[-1:], timeout, "idle") < 1:
                raise FarmError(f"plan {ids[-1]} not done after {timeout:.0f} s")
    if wait_plans(conn, ids, timeout, "warm-up") < len(ids):
        raise FarmError(f"{count} plans not done after {timeout:.0f} s")
    return ids


def run_load(url: str, body: bytes, goals: int, clients: int) -> list[Post]:
    """C threads, each with its own Session, post `goals` goals in total as fast as they are answered."""
    tickets: queue.SimpleQueue[int] = queue.SimpleQueue()
    for ticket in range(goals):
        tickets.put(ticket)
    posts: list[Post] = []  # list.append is atomic: no lock needed

    def client() -> None:
        with requests.Session() as session:
            while True:
                try:
                    tickets.get_nowait()
                except queue.Empty:
                    return
                posts.append(post_goal(session, url, body))

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return posts


def pct(values: list[float], q: float) -> float | None:
    """Linearly interpolated q-th percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def analyse(conn, plan_ids: list[str], stages: tuple[str, ...]) -> dict:
    """Throughput, latency, stage durations, hand-offs and failures of these plans, from the database."""
    with conn.cursor() as cursor:
        cursor.execute("SELECT id, status, created_at, completed_at, error FROM plan_versions "
                       "WHERE plan_id = ANY(%s::text[]) AND version = 1", (plan_ids,))
        versions = cursor.fetchall()
        ids = [v[0] for v in versions]
        cursor.execute("SELECT plan_version_id, stage, started_at, finished_at, duration_seconds FROM stage_runs "
                       "WHERE state = 'succeeded' AND plan_version_id = ANY(%s::int[]) ORDER BY id", (ids,))
        runs = cursor.fetchall()
        cursor.execute("SELECT state, count(*) FROM stage_runs WHERE plan_version_id = ANY(%s::int[]) "
                       "AND state <> 'succeeded' GROUP BY state", (ids,))
        other_runs = dict(cursor.fetchall())
    first: dict[tuple[int, str], tuple] = {}
    durations: dict[str, list[float]] = defaultdict(list)
    for version_id, stage, started, finished, seconds in runs:
        first.setdefault((version_id, stage), (started, finished))
        durations[stage].append(seconds)
    handoffs: dict[str, list[float]] = {f"{a} → {b}": [] for a, b in zip(("created", *stages), (*stages, "completed"),
                                                                      strict=True)}
    for version_id, _status, created, completed, _error in versions:
        previous, previous_end = "created", created
        for stage in stages:
            if (version_id, stage) not in first:
                break
            started, finished = first[(version_id, stage)]
            handoffs[f"{previous} → {stage}"].append((started - previous_end).total_seconds())
            previous, previous_end = stage, finished
        else:
            # finalize sets completed_at in the transaction that closes its run, so this is rarely positive.
            if completed is not None and (completed - previous_end).total_seconds() > 0:
                handoffs[f"{previous} → completed"].append((completed - previous_end).total_seconds())
    done = [v for v in versions if v[1] == "ready"]  # planned (the plan itself may be ready or approved)
    latency = [(v[3] - v[2]).total_seconds() for v in done]
    span = (max(v[3] for v in done) - min(v[2] for v in versions)).total_seconds() if done else 0
    return {
        "completed": len(done), "failed": sum(v[1] == "failed" for v in versions),
        "plans_per_s": len(done) / span if span > 0 else None,
        "latency_p50_s": pct(latency, 50), "latency_p95_s": pct(latency, 95),
        "stages": {s: {"runs": len(durations[s]), "mean_ms": 1000 * sum(durations[s]) / len(durations[s])
                       if durations[s] else None, "p95_ms": _ms(pct(durations[s], 95))} for s in stages},
        "handoffs": {h: {"n": len(v), "p50_ms": _ms(pct(v, 50)), "p95_ms": _ms(pct(v, 95))}
                     for h, v in handoffs.items()},
        "other_stage_runs": other_runs,
        "errors": [v[4] for v in versions if v[1] == "failed"][:5],
    }


def _ms(seconds: float | None) -> float | None:
    """Seconds to milliseconds, None stays None."""
    return None if seconds is None else seconds * 1000


def _f(value: float | None, digits: int = 1) -> str:
    """A number for a table cell; '-' for none."""
    return "-" if value is None else f"{value:,.{digits}f}"


def table(headers: list[str], rows: list[list]) -> str:
    """A markdown table, every column but the first right-aligned."""
    lines = ["| " + " | ".join(headers) + " |", "| --- |" + " ---: |" * (len(headers) - 1)]
    return "\n".join(lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows])


def git_commit() -> str:
    """Short HEAD, with '-dirty' when tracked files differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return git("rev-parse", "--short", "HEAD") + ("-dirty" if git("status", "--porcelain", "-uno") else "")


def report(args: argparse.Namespace, figures: dict) -> str:
    """The header line and the four tables."""
    s, load, mem, cpu = figures["summary"], figures["load"], figures["memory"], figures["cpu_s"]
    lines = [figures["header"], "", table(
        ["shape", "goals", "clients", "accepted/s", "POST p50 ms", "POST p95 ms", "POST p99 ms", "errors",
         "plans completed/s", "POST→completed p50 s", "POST→completed p95 s", "idle POST→completed p50 ms"],
        [[args.shape, args.goals, args.clients, _f(s["accepted_per_s"]), _f(s["post_p50_ms"]), _f(s["post_p95_ms"]),
          _f(s["post_p99_ms"]), s["errors"], _f(s["plans_per_s"], 2), _f(load["latency_p50_s"], 2),
          _f(load["latency_p95_s"], 2), _f(s["idle_p50_ms"], 0)]])]
    lines += [f"\nPOST error: {status} {text}" for status, text in figures["post_errors"]]
    lines += [f"\nfailed plans: {load['failed']}" + "".join(f"\n    {e}" for e in load["errors"])] \
        if load["failed"] else []
    lines += ["", table(["stage", "runs", "mean ms", "p95 ms"], [[name, v["runs"], _f(v["mean_ms"]), _f(v["p95_ms"])]
                                                               for name, v in load["stages"].items()])]
    if load["other_stage_runs"]:
        lines.append("\nother stage runs: " + ", ".join(f"{k} {v}" for k, v in load["other_stage_runs"].items()))
    lines += ["", table(["hand-off", "n", "p50 ms", "p95 ms"], [[name, v["n"], _f(v["p50_ms"]), _f(v["p95_ms"])]
                                                               for name, v in load["handoffs"].items()])]
    rows = []
    for name, seconds in cpu.items():
        peak = mem.get(name)
        per_plan = 1000 * seconds / load["completed"] if load["completed"] else None
        rows.append([name, peak["procs"] if peak else "-", *(_f(peak[k] / 1024) if peak else "-"
                                                              for k in ("rss", "pss", "max_rss")),
                     _f(seconds, 2), _f(per_plan)])
    lines += ["", table(["entry", "procs", "RSS peak MiB", "PSS peak MiB", "largest RSS MiB", "CPU s", "CPU ms/plan"],
                        rows)]
    return "\n".join(lines)


def service_groups(redis_url: str) -> dict[str, tuple[str, int]]:
    """PostgreSQL's postmaster and the Redis server with their children, if pgrep finds them."""
    groups = {}
    patterns = {"postgres": "postgres -D", "redis": f"redis-server.*:{urlparse(redis_url).port or 6379}"}
    for name, pattern in patterns.items() if shutil.which("pgrep") else ():
        found = subprocess.run(["pgrep", "-o", "-f", pattern], capture_output=True, text=True).stdout.split()
        if found:
            groups[name] = ("tree", int(found[0]))
    return groups


def run_phases(args: argparse.Namespace, url: str, conn, groups: dict, body: bytes, stages: tuple[str, ...]) -> dict:
    """Warm-up, idle latency and load, sampling memory throughout the last two; returns every figure."""
    print("warm-up: 3 goals", file=sys.stderr)
    post_and_wait(url, body, conn, 3, args.timeout, one_at_a_time=False)
    sampler = MemorySampler(groups)
    sampler.start()
    try:
        print("idle latency: 5 goals one at a time", file=sys.stderr)
        idle = analyse(conn, post_and_wait(url, body, conn, 5, args.timeout, one_at_a_time=True), stages)
        print(f"load: {args.goals} goals from {args.clients} clients", file=sys.stderr)
        cpu_before, bench_before = cpu_seconds(groups), os.times()
        posts = run_load(url, body, args.goals, args.clients)
        plan_ids = [p.plan_id for p in posts if p.plan_id]
        done = wait_plans(conn, plan_ids, args.timeout, "load")
        cpu_after, bench_after = cpu_seconds(groups), os.times()
    finally:
        sampler.halt.set()
        sampler.join()
    cpu = {name: cpu_after[name] - cpu_before[name] for name in groups}
    # This process: the client threads and the sampler, which compete with the farm for the same cores.
    cpu["bench"] = (bench_after.user + bench_after.system) - (bench_before.user + bench_before.system)
    answered = [1000 * (p.answered - p.sent) for p in posts if p.status]
    wall = max(p.answered for p in posts) - min(p.sent for p in posts)
    load = analyse(conn, plan_ids, stages)
    return {
        "header": f"{datetime.now().isoformat(timespec='seconds')} {platform.node()} nproc={os.cpu_count()} "
                  f"commit={git_commit()}",
        "summary": {"accepted_per_s": len(plan_ids) / wall if wall > 0 else None,
                    "post_p50_ms": pct(answered, 50), "post_p95_ms": pct(answered, 95),
                    "post_p99_ms": pct(answered, 99), "errors": len(posts) - len(plan_ids),
                    "plans_per_s": load["plans_per_s"], "idle_p50_ms": _ms(idle["latency_p50_s"]),
                    "load_wall_s": wall, "timed_out": len(plan_ids) - done},
        "post_errors": Counter((p.status, p.error) for p in posts if p.status != 202).most_common(5),
        "idle": idle, "load": load, "cpu_s": cpu, "memory": sampler.peaks,
        "args": {k: str(v) for k, v in vars(args).items()},
    }


def _interrupt(signum, frame) -> None:
    """SIGTERM behaves like Ctrl-C, so the teardown in main's finally runs."""
    raise KeyboardInterrupt


def main() -> int:
    """Set up, run the phases, report, tear down."""
    args = parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    sys.path.insert(0, str(ROOT))
    stages = _stage_order()
    body = Path(args.goal).read_bytes()
    json.loads(body)  # a broken goal file should fail here, not as 400s under load
    token = secrets.token_hex(5)
    db_name, prefix, port = f"layer2_bench_{token}", f"layer2bench-{token}:", free_port()
    db_url = args.pg_admin.rsplit("/", 1)[0] + "/" + db_name
    log_dir = Path(tempfile.mkdtemp(prefix="layer2-bench-"))
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}", "DATABASE_URL": db_url,
           "CELERY_BROKER_URL": args.redis, "CELERY_KEY_PREFIX": prefix, "API_PORT": str(port),
           "FLOWER_PORT": str(free_port()),
           # the per-key rate limit (app/security) would cap the load this measures
           "LAYER2_RATE_LIMIT": os.environ.get("LAYER2_RATE_LIMIT", "1000000/minute")}
    env.update(item.split("=", 1) for item in args.env)
    base, farm, conn, ok = f"http://127.0.0.1:{port}", None, None, False
    try:
        admin_sql(args.pg_admin, f'CREATE DATABASE "{db_name}"')
        migrated = subprocess.run([str(VENV_BIN / "flask"), "--app", "app:create_app", "db", "upgrade"], cwd=ROOT,
                                  env=env, capture_output=True, text=True)
        if migrated.returncode:
            raise FarmError(f"flask db upgrade failed:\n{migrated.stdout}{migrated.stderr}")
        # an admin key of the run's database (the API asks for one: docs/security.md); the key is the last line
        created = subprocess.run([str(VENV_BIN / "layer2-planning"), "keys", "create", "--tenant", "default",
                                  "--role", "admin", "--name", "bench"], cwd=ROOT, env=env, capture_output=True,
                                 text=True)
        if created.returncode:
            raise FarmError(f"keys create failed:\n{created.stdout}{created.stderr}")
        JSON_HEADERS["X-API-Key"] = created.stdout.strip().splitlines()[-1]
        conn = psycopg2.connect(db_url)
        conn.autocommit = True  # each poll must see other processes' commits
        farm = Farm(farm_entries(args.shape, args.with_flower, args.concurrency, stages, args.procfile), env, log_dir)
        print(f"starting {', '.join(farm.entries)} (logs in {log_dir})", file=sys.stderr)
        farm.start()
        farm.wait_ready(base)
        groups = farm.groups() | service_groups(args.redis)
        figures = run_phases(args, f"{base}/api/v1/plans", conn, groups, body, stages)
        print(report(args, figures))
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2, default=str))
        if figures["summary"]["timed_out"]:
            raise FarmError(f"{figures['summary']['timed_out']} plans not done after {args.timeout:.0f} s")
        ok = True
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    except FarmError as error:
        print(f"farm bench: {error}", file=sys.stderr)
    finally:
        # A second Ctrl-C must not cut the teardown short and leave workers or a database behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("tearing down", file=sys.stderr)
        if farm is not None:
            farm.stop()
        if conn is not None:
            conn.close()
        try:
            admin_sql(args.pg_admin, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            keys = clear_redis(args.redis, prefix)
            print(f"dropped {db_name}, deleted {keys} Redis keys under {prefix}", file=sys.stderr)
        except (psycopg2.Error, redis.RedisError) as error:
            print(f"teardown incomplete ({db_name}, {prefix}*): {error}", file=sys.stderr)
        if ok:
            shutil.rmtree(log_dir, ignore_errors=True)
        else:
            print(f"logs kept in {log_dir}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
