"""Metrics, logs, health and Flower on the real farm (issue 15): gunicorn with two workers, Celery workers,
a Flower started as the Procfile starts it, a throwaway Redis for /health's broker check."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from app.stages import STAGE_NAMES
from tasks.queues import QUEUE_NAMES
from tests import farm
from tests.conftest import load_example
from tests.farm import PLANNED, wait_for_plan
from tests.test_faults_services import farm_for, throwaway_redis  # noqa: F401  (fixtures)

pytestmark = pytest.mark.farm

SPEC_METRICS = (
    "layer2_goals_received_total", "layer2_plans_created_total", "layer2_plan_progress_percentage",
    "layer2_risks_identified_total", "layer2_resource_allocations_successful_total",
    "layer2_planning_duration_seconds", "layer2_task_decomposition_duration_seconds",
    "layer2_risk_assessment_duration_seconds", "layer2_planning_errors_total", "layer2_validation_errors_total",
    "layer2_integration_errors_total",
)
# A worker whose decompose stage refuses goals of more than 8 tasks: website-launch (10 tasks) fails there,
# explicit-api-hardening (6) is planned. The API keeps the default limit, so both are accepted (202).
SMALL_LIMIT_TOML = "[planning]\nmax_tasks_per_plan = 8\n"
GOOD_GOAL, FAILING_GOAL = "explicit-api-hardening.json", "website-launch.json"


class Gunicorn:
    """The API under gunicorn as the Procfile starts it (gthread, `-c python:app.gunicorn_conf`)."""

    def __init__(self, env: dict[str, str], log_dir: Path, workers: int = 2):
        self.port = farm.free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / "gunicorn.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115  (closed in stop)
        command = [sys.executable, "-m", "gunicorn", "-c", "python:app.gunicorn_conf", "--bind",
                   f"127.0.0.1:{self.port}", "--workers", str(workers), "--worker-class", "gthread", "--threads", "2",
                   "app:create_app()"]
        self.process = subprocess.Popen(command, cwd=farm.ROOT, env={**os.environ, **env}, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log_path.read_text()[-3000:]}")
            try:  # every worker booted: each counts itself in layer2_processes{kind="api"} once it has
                response = requests.get(f"{self.base_url}/metrics", timeout=5)
                if f'layer2_processes{{kind="api"}} {workers:.1f}' in response.text:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        farm.stop_group(self.process, self.log)


def _scrape(base_url: str) -> dict[str, float]:
    """Every sample of /metrics, by name and labels, parsed by prometheus_client's own parser."""
    response = requests.get(f"{base_url}/metrics", timeout=10)
    assert response.status_code == 200
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            key = sample.name + json.dumps(dict(sorted(sample.labels.items()))) if sample.labels else sample.name
            samples[key] = sample.value
    return samples


def _total(samples: dict[str, float], name: str) -> float:
    """The sum of a sample over its labels."""
    return sum(value for key, value in samples.items() if key == name or key.startswith(name + "{"))


def _json_lines(path: Path) -> list[dict]:
    lines = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return lines


def test_metrics_of_every_process_add_up_and_logs_carry_request_and_plan_ids(farm_app, farm_env, start_worker,
                                                                              tmp_path):
    """gunicorn (2 workers) and a Celery worker share a multiprocess directory: after real work every spec
    metric is there, the counts equal the plans made (worker-side counters included), and six scrapes (served
    by either gunicorn worker, or by the worker's and gunicorn master's exporters on LAYER2_METRICS_PORT) agree
    and count both gunicorn workers; a pool child killed -9 leaves the live
    sums and not the counts; every process that exits is marked dead. The worker's JSON log lines carry the
    request id sent to the API and the plan id, for every stage, and the failed plan is logged at ERROR."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    config = tmp_path / "small.toml"
    config.write_text(SMALL_LIMIT_TOML)
    shared = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "LOG_FORMAT": "json"}
    # The exporters of a pod of their own (LAYER2_METRICS_PORT): the worker's main process, gunicorn's master.
    worker_port, master_port = farm.free_port(), farm.free_port()
    worker = start_worker("metrics", **shared, LAYER2_CONFIG_FILE=str(config), LAYER2_METRICS_PORT=worker_port)
    api = Gunicorn({**farm_env, **shared, "LAYER2_METRICS_PORT": str(master_port)}, tmp_path)
    try:
        posted: dict[str, str] = {}  # plan id -> request id
        for index, goal in enumerate([GOOD_GOAL, GOOD_GOAL, GOOD_GOAL, FAILING_GOAL]):
            request_id = f"obs-{index}-{uuid.uuid4().hex[:6]}"
            response = requests.post(f"{api.base_url}/api/v1/plans", json=load_example(goal),
                                     headers={"X-Request-ID": request_id}, timeout=10)
            assert response.status_code == 202 and response.headers["X-Request-ID"] == request_id
            posted[response.json()["id"]] = request_id
        invalid = requests.post(f"{api.base_url}/api/v1/plans", json={"title": ""}, timeout=10)
        assert invalid.status_code == 422 and invalid.headers["X-Request-ID"]  # one was made for it
        plans = {plan_id: wait_for_plan(api.base_url, plan_id, timeout=90) for plan_id in posted}
        made = [plan for plan in plans.values() if plan["status"] in PLANNED]
        failed = [plan_id for plan_id, plan in plans.items() if plan["status"] == "failed"]
        assert len(made) == 3 and len(failed) == 1, {pid: (p["status"], p.get("error")) for pid, p in plans.items()}

        scrapes = [_scrape(api.base_url) for _ in range(6)]
        exporters = [_scrape(f"http://127.0.0.1:{port}") for port in (worker_port, master_port)]
        # A pool child killed with SIGKILL (no exit hook runs): its replacement marks it dead as it starts, so
        # the live gauges count the processes alive while the dead one's counters stay counted.
        killed = worker.kill_pool_child()
        _until(worker.pool_children, lambda pids: pids and killed not in pids, worker.log_path)
        after_kill = _until(lambda: _scrape(api.base_url),
                            lambda samples: _total(samples, 'layer2_processes{"kind": "worker"}') == 1,
                            worker.log_path)
    finally:
        api.stop()
    worker.stop()
    assert sorted(path.name for path in metrics_dir.glob("gauge_live*")) == [], "a process was not marked dead"

    first = scrapes[0]
    for name in SPEC_METRICS:
        assert any(key == name or key.startswith((name + "{", name + "_")) for key in first), f"{name} missing"
    expected = {
        "layer2_goals_received_total": 4,
        "layer2_validation_errors_total": 1,
        "layer2_plans_created_total": 3,
        "layer2_planning_errors_total": 1,
        "layer2_risks_identified_total": sum(len(plan["risks"]) for plan in made),
        "layer2_resource_allocations_successful_total": sum(len(plan["allocations"]) for plan in made),
        "layer2_planning_duration_seconds_count": 3,
        "layer2_task_decomposition_duration_seconds_count": 3,
        "layer2_risk_assessment_duration_seconds_count": 4,  # the failed plan's risk stage ran too
        "layer2_integration_errors_total": 0,
        "layer2_plan_progress_percentage_count": 0,
    }
    assert {name: _total(first, name) for name in expected} == expected
    assert expected["layer2_risks_identified_total"] > 0
    assert expected["layer2_resource_allocations_successful_total"] > 0
    assert _total(first, 'layer2_stage_duration_seconds_count{"stage": "finalize"}') == 3
    spec_keys = sorted(key for key in first if key.startswith(SPEC_METRICS) or key.startswith("layer2_stage_"))
    for scrape in [*scrapes[1:], after_kill, *exporters]:
        assert {key: scrape.get(key) for key in spec_keys} == {key: first[key] for key in spec_keys}
    for scrape in scrapes:  # both gunicorn workers and the pool child are in every scrape's sums
        assert _total(scrape, 'layer2_processes{"kind": "api"}') == 2
        assert _total(scrape, 'layer2_processes{"kind": "worker"}') == 1
        assert _total(scrape, "layer2_stages_running") == 0

    lines = _json_lines(worker.log_path)
    for plan_id, request_id in posted.items():
        mine = [line for line in lines if line.get("plan_id") == plan_id]
        stages = {line["task"].removeprefix("layer2.") for line in mine if line.get("task")}
        ran = set(STAGE_NAMES) if plan_id not in failed else {"risk", "decompose"}
        assert ran <= stages, (plan_id, stages)
        assert {line.get("request_id") for line in mine} == {request_id}, plan_id
    errors = [line for line in lines if line["level"] == "ERROR" and line["logger"] == "app.services.pipeline"]
    assert [(line["plan_id"], line["request_id"]) for line in errors] == [(failed[0], posted[failed[0]])]
    assert "max_tasks_per_plan" in errors[0]["message"]


def test_flower_started_as_the_procfile_starts_it(api_server, farm_env, start_worker, tmp_path):
    """Flower (the Procfile's line) asks for its basic auth login, lists a worker of every queue, shows a task
    of every stage ended SUCCESS, the failed plan's decompose ended FAILURE, the queued stage of a plan
    cancelled REVOKED, and no task left STARTED; a worker stopped is shown offline."""
    config = tmp_path / "small.toml"
    config.write_text(SMALL_LIMIT_TOML)
    # The risk stage takes 2 s, so a plan posted right after another waits in the queue long enough to cancel.
    worker = start_worker("flower", LAYER2_CONFIG_FILE=str(config), LAYER2_TESTONLY_STAGE_DELAY="risk=2")
    port, login = farm.free_port(), ("ops", uuid.uuid4().hex)
    command = _procfile_entry("flower")
    log_path = tmp_path / "flower.log"
    with open(log_path, "w") as log:
        flower = subprocess.Popen(["sh", "-c", command], cwd=farm.ROOT, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True,
                                  env={**os.environ, **farm_env, "FLOWER_PORT": str(port),
                                       "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                                       "FLOWER_BASIC_AUTH": ":".join(login),
                                       "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "flower-metrics")})
    base = f"http://127.0.0.1:{port}"
    try:
        workers = _until(lambda: requests.get(f"{base}/api/workers?refresh=1", auth=login, timeout=10),
                         lambda r: r.status_code == 200 and any(name.startswith(worker.name) for name in r.json()),
                         log_path, flower)
        assert requests.get(f"{base}/api/workers", timeout=10).status_code == 401
        assert requests.get(f"{base}/api/workers", auth=("ops", "wrong"), timeout=10).status_code == 401
        queues = {queue["name"] for name, info in workers.json().items() if name.startswith(worker.name)
                  for queue in info.get("active_queues") or ()}
        assert set(QUEUE_NAMES) <= queues, queues
        # Flower turns task events on by a broadcast every few seconds: wait for the worker to take it.
        _until(lambda: worker.log_path.read_text(), lambda text: "enabled by remote" in text, worker.log_path)

        plans = f"{api_server.base_url}/api/v1/plans"
        good = requests.post(plans, json=load_example(GOOD_GOAL), timeout=10).json()["id"]
        cancelled = requests.post(plans, json=load_example(GOOD_GOAL), timeout=10).json()["id"]
        assert requests.delete(f"{plans}/{cancelled}", timeout=10).json()["status"] == "cancelled"
        bad = requests.post(plans, json=load_example(FAILING_GOAL), timeout=10).json()["id"]
        assert wait_for_plan(api_server.base_url, good)["status"] in PLANNED
        assert wait_for_plan(api_server.base_url, bad)["status"] == "failed"

        def tasks_settled(response) -> bool:
            states = [(task["name"], task["state"]) for task in response.json().values()]
            return (response.status_code == 200 and ("layer2.finalize", "SUCCESS") in states
                    and ("layer2.decompose", "FAILURE") in states and any(s == "REVOKED" for _, s in states)
                    and not any(state in ("STARTED", "RECEIVED", "PENDING") for _, state in states))

        tasks = _until(lambda: requests.get(f"{base}/api/tasks", auth=login, timeout=10), tasks_settled, log_path)
        # A worker that stops says so (worker-offline): Flower's status shows it no longer alive.
        worker.stop()
        _until(lambda: requests.get(f"{base}/api/workers?status=1", auth=login, timeout=10),
               lambda r: r.status_code == 200 and [alive for name, alive in r.json().items()
                                                   if name.startswith(worker.name)] == [False], log_path)
    finally:
        os.killpg(flower.pid, signal.SIGTERM)
        flower.wait(timeout=20)
    # A task revoked before it was received has no name in Flower (the worker's task-revoked event has none).
    states = sorted((task["name"] or "layer2.risk", task["state"]) for task in tasks.json().values())
    assert states == sorted([*((f"layer2.{stage}", "SUCCESS") for stage in STAGE_NAMES), ("layer2.risk", "REVOKED"),
                             ("layer2.risk", "SUCCESS"), ("layer2.decompose", "FAILURE")]), states


def test_health_reports_each_queues_workers_and_answers_503_within_3_s_when_the_broker_dies(
        pg_url, throwaway_redis, farm_for):  # noqa: F811
    """With a throwaway Redis: /health names the worker of each queue; with the worker stopped it warns which
    queues have none (200) while /health/workers is 503; with Redis killed /health is 503 naming the broker,
    every answer within 3 s."""
    app, server, worker = farm_for(pg_url, throwaway_redis.url)
    base = server.base_url

    def timed(path: str) -> requests.Response:
        started = time.monotonic()
        response = requests.get(f"{base}{path}", timeout=10)
        assert time.monotonic() - started < 3.0, f"{path} took {time.monotonic() - started:.2f} s"
        return response

    healthy = timed("/health")
    assert healthy.status_code == 200, healthy.text
    body = healthy.json()
    assert body["database"] == "ok" and body["broker"] == "ok" and "warnings" not in body
    assert set(body["workers"]) == set(QUEUE_NAMES)
    assert all(names[0].startswith(worker.name) for names in body["workers"].values()), body["workers"]
    assert timed("/health/workers").status_code == 200

    worker.stop()
    idle = timed("/health")
    assert idle.status_code == 200 and idle.json()["workers"] == {queue: "no worker" for queue in QUEUE_NAMES}
    assert all(queue in idle.json()["warnings"]["workers"] for queue in QUEUE_NAMES)
    farm_check = timed("/health/workers")
    assert farm_check.status_code == 503 and "no worker consumes" in farm_check.json()["reasons"]["workers"]

    throwaway_redis.kill()
    down = timed("/health")
    assert down.status_code == 503 and down.headers["Retry-After"]
    assert down.json()["broker"] == "unavailable" and set(down.json()["reasons"]) == {"broker"}
    assert down.json()["workers"].startswith("unknown")
    assert timed("/health/workers").status_code == 503


def _procfile_entry(name: str) -> str:
    for line in (farm.ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.partition(":")[2].strip()
    raise AssertionError(f"no {name} entry in the Procfile")


def _until(fetch, done, log_path: Path, process: subprocess.Popen | None = None, timeout: float = 45.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"exited ({process.returncode}):\n{log_path.read_text()[-3000:]}")
        try:
            last = fetch()
            if done(last):
                return last
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"not reached in {timeout} s; last: {getattr(last, 'text', last)!r:.1000}\n"
                         f"{log_path.read_text()[-3000:]}")
