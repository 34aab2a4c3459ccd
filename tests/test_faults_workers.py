"""Worker faults on the real farm (PostgreSQL, Redis, `celery worker` processes), with the shipped defaults.

No CELERY_VISIBILITY_TIMEOUT or LAYER2_RESUME_STALLED_AFTER here: the visibility timeout is
the longest stage hard limit + 10 s (35 s with the suite's PLANNING_SCHEDULE_TIME_LIMIT=3).
The only test-only switches are LAYER2_TESTONLY_STAGE_DELAY ('stage=seconds': sleep inside
that stage before it saves) and LAYER2_TESTONLY_STAGE_CRASH ('stage': the process running
that stage dies with os._exit(1) before it saves).

Every farm test checks the same end state: the plan completed (or failed with a stated
reason), exactly one `succeeded` run and one result row per stage that finished, one set of
plan_tasks rows, no run still marked running, and no message left in Redis (queued or
unacknowledged) that nobody will work on.
"""

from __future__ import annotations

import base64
import json
import time

import pytest
import redis
import requests
import sqlalchemy as sa

from app.config import ConfigError, build_planning_settings, load_config
from app.models import VERSION_DONE_STATES, PlanTask, PlanVersion, StageResult, StageRun
from app.services.pipeline import MAX_CRASHED_ATTEMPTS
from app.stages import STAGE_NAMES as STAGES
from app.stages import longest_hard_limit
from tests import farm
from tests.farm import wait_for_plan

# The message of a killed worker comes back after the visibility timeout (35 s here), and
# the issue asks for a plan to complete within a minute of losing its worker.
RECOVERY_BOUND_SECONDS = 60


# --- helpers ----------------------------------------------------------------------------


def _rows(app, model, version_id: int) -> list:
    from app.extensions import db

    with app.app_context():
        rows = db.session.execute(sa.select(model).where(model.plan_version_id == version_id)
                                  .order_by(model.id)).scalars().all()
        db.session.expunge_all()
        return rows


def _version(app, plan_id: str) -> PlanVersion:
    from app.extensions import db

    with app.app_context():
        version = db.session.execute(sa.select(PlanVersion).where(PlanVersion.plan_id == plan_id)).scalar_one()
        db.session.expunge(version)
        return version


def _submit(api_server, goal: dict) -> str:
    response = requests.post(f"{api_server.base_url}/api/v1/plans", json=goal, timeout=10)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _wait_for_run(app, version_id: int, stage: str, *, state: str = "running", count: int = 1,
                  timeout: float = 60.0) -> list[StageRun]:
    """Wait until `count` runs of `stage` are in `state`; returns them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [r for r in _rows(app, StageRun, version_id) if r.stage == stage and r.state == state]
        if len(runs) >= count:
            return runs
        time.sleep(0.2)
    pytest.fail(f"no {count} {state} run(s) of {stage} within {timeout} s: "
                f"{[(r.stage, r.state) for r in _rows(app, StageRun, version_id)]}")


def _assert_settled(app, prefix: str, version_id: int, *, finished: tuple[str, ...], tasks: int) -> None:
    """Nothing unfinished with nobody working on it, and nothing done twice."""
    version = _version_for_id(app, version_id)
    assert version.status in VERSION_DONE_STATES
    runs = _rows(app, StageRun, version_id)
    assert [r for r in runs if r.state in ("running", "retrying")] == [], "a run is left marked running"
    for stage in finished:
        assert [r.state for r in runs if r.stage == stage].count("succeeded") == 1, (stage, runs)
    assert not [r for r in runs if r.state == "succeeded" and r.stage not in finished]
    results = _rows(app, StageResult, version_id)
    assert sorted(r.stage for r in results) == sorted(finished)  # one row per finished stage
    rows = _rows(app, PlanTask, version_id)
    assert len(rows) == tasks and len({r.task_key for r in rows}) == tasks  # one set of plan_tasks rows
    # The last ack follows the last save by a moment; then nothing may be left in Redis.
    deadline = time.monotonic() + 10
    while (left := farm.broker_leftovers(prefix)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == {}, f"messages left in Redis: {left}"


def _version_for_id(app, version_id: int) -> PlanVersion:
    from app.extensions import db

    with app.app_context():
        version = db.session.get(PlanVersion, version_id)
        db.session.expunge(version)
        return version


@pytest.fixture
def shipped_defaults(farm_app, farm_env):
    """The farm runs with the shipped visibility timeout and sweep delay: nothing overridden."""
    import os

    for name in ("CELERY_VISIBILITY_TIMEOUT", "LAYER2_RESUME_STALLED_AFTER"):
        assert name not in os.environ and name not in farm_env, f"{name} must not be set for these tests"
    visibility = farm_app.config["CELERY"]["broker_transport_options"]["visibility_timeout"]
    assert visibility == int(longest_hard_limit(farm_app.config["PLANNING"])) + 10
    assert farm_app.config["RESUME_STALLED_AFTER_SECONDS"] == visibility + 30
    return visibility


# --- F1: a pool child killed mid-stage ----------------------------------------------------


@pytest.mark.farm
def test_pool_child_killed_mid_stage_is_requeued_and_rerun(api_server, farm_app, farm_env, start_worker,
                                                           example_goal, shipped_defaults):
    """SIGKILL of the pool child during `schedule`: the main process notices (within about 5 s),
    requeues the message (acks_late + reject_on_worker_lost: WorkerLostError -> reject with requeue),
    a new child of the same worker reruns the stage, and the plan completes within 60 s of the kill.

    The delay is below the schedule stage's soft limit (16 s here), not 60 s: the same worker
    gets the requeued message, and a 60 s sleep would then fail the plan at the soft limit.
    """
    worker = start_worker("w", LAYER2_TESTONLY_STAGE_DELAY="schedule=6")
    plan_id = _submit(api_server, example_goal)
    version_id = _version(farm_app, plan_id).id
    _wait_for_run(farm_app, version_id, "schedule")

    killed_child = worker.kill_pool_child()
    killed_at = time.monotonic()
    abandoned = _wait_for_run(farm_app, version_id, "schedule", state="abandoned", timeout=30)
    requeued_after = time.monotonic() - killed_at
    plan = wait_for_plan(api_server.base_url, plan_id, timeout=120)
    elapsed = time.monotonic() - killed_at

    assert plan["status"] in farm.PLANNED, plan.get("error")
    assert elapsed < RECOVERY_BOUND_SECONDS, f"completed {elapsed:.1f} s after the kill"
    # Requeued by the living main process, not restored by Redis after the visibility timeout (35 s).
    assert requeued_after < shipped_defaults - 10, f"rerun began {requeued_after:.1f} s after the kill"
    assert worker.process.poll() is None, "the main process should outlive its child"
    assert worker.pool_children() and killed_child not in worker.pool_children()
    assert "WorkerLostError" in worker.log_path.read_text()

    runs = [r for r in _rows(farm_app, StageRun, version_id) if r.stage == "schedule"]
    assert [(r.state, r.attempt) for r in runs] == [("abandoned", 1), ("succeeded", 2)]
    assert runs[0].id == abandoned[0].id and runs[0].error == "its worker died"
    assert all(r.worker.startswith(worker.name) for r in runs)  # the same worker, a new child
    _assert_settled(farm_app, farm_env["CELERY_KEY_PREFIX"], version_id, finished=STAGES,
                    tasks=len(example_goal["tasks"]))
    print(f"\nF1: rerun began {requeued_after:.1f} s and the plan completed {elapsed:.1f} s after the kill")


# --- F2: the whole worker killed mid-stage (moved here from test_farm.py) -------------------


@pytest.mark.farm
def test_worker_killed_mid_stage_plan_completes_on_another_within_a_minute(api_server, farm_app, farm_env,
                                                                           start_worker, example_goal,
                                                                           shipped_defaults):
    """kill -9 of the worker's whole process group during `schedule`, a plain worker started:
    the unacknowledged message comes back after the visibility timeout, the new worker finishes
    the plan within 60 s of the kill, one success per stage, nothing duplicated."""
    doomed = start_worker("doomed", LAYER2_TESTONLY_STAGE_DELAY="schedule=60")
    plan_id = _submit(api_server, example_goal)
    version_id = _version(farm_app, plan_id).id
    _wait_for_run(farm_app, version_id, "schedule")

    doomed.kill_hard()
    killed_at = time.monotonic()
    rescuer = start_worker("rescuer")
    plan = wait_for_plan(api_server.base_url, plan_id, timeout=120)
    elapsed = time.monotonic() - killed_at

    assert plan["status"] in farm.PLANNED, plan.get("error")
    assert elapsed < RECOVERY_BOUND_SECONDS, f"completed {elapsed:.1f} s after the kill"
    runs = [r for r in _rows(farm_app, StageRun, version_id) if r.stage == "schedule"]
    assert [(r.state, r.worker.split("@")[0]) for r in runs] == [("abandoned", doomed.name),
                                                                  ("succeeded", rescuer.name)]
    assert plan["stages"]["finalize"]["worker"].startswith(rescuer.name)
    _assert_settled(farm_app, farm_env["CELERY_KEY_PREFIX"], version_id, finished=STAGES,
                    tasks=len(example_goal["tasks"]))
    print(f"\nF2: the plan completed {elapsed:.1f} s after the kill")


# --- F7: a poison message -------------------------------------------------------------------


def _dead_letters(prefix: str) -> list[dict]:
    """The messages on the dead-letter queue: their headers and decoded (args, kwargs, embed) body."""
    client = redis.Redis.from_url(farm.REDIS_URL)
    messages = []
    for raw in client.lrange(f"{prefix}dead_letter", 0, -1):
        envelope = json.loads(raw)
        body = envelope["body"]
        if envelope["properties"].get("body_encoding") == "base64":
            body = base64.b64decode(body)
        messages.append({"headers": envelope["headers"], "body": json.loads(body)})
    return messages


@pytest.mark.farm
def test_stage_that_kills_its_worker_every_time_is_dead_lettered_not_looped(api_server, farm_app, farm_env,
                                                                            start_worker, example_goal,
                                                                            shipped_defaults):
    """A stage whose process dies every time: after MAX_CRASHED_ATTEMPTS attempts the plan fails
    naming the stage and the attempts, the message is parked on `dead_letter`, and nothing runs again."""
    worker = start_worker("w", LAYER2_TESTONLY_STAGE_CRASH="allocate")
    started = time.monotonic()
    plan_id = _submit(api_server, example_goal)
    version_id = _version(farm_app, plan_id).id
    plan = wait_for_plan(api_server.base_url, plan_id, timeout=180)
    took = time.monotonic() - started

    assert plan["status"] == "failed"
    assert "allocate" in plan["error"] and f"{MAX_CRASHED_ATTEMPTS} attempts" in plan["error"], plan["error"]
    runs = _rows(farm_app, StageRun, version_id)
    allocate = [r for r in runs if r.stage == "allocate"]
    assert [(r.state, r.attempt) for r in allocate] == [("abandoned", n) for n in range(1, MAX_CRASHED_ATTEMPTS + 1)]
    assert not [r for r in runs if r.stage in ("schedule", "finalize")]

    prefix = farm_env["CELERY_KEY_PREFIX"]
    letters = _dead_letters(prefix)
    assert len(letters) == 1, letters
    assert letters[0]["headers"]["task"] == "layer2.dead_letter"
    assert letters[0]["body"][0] == ["allocate", version_id]

    # It never loops: no further attempt, the worker alive and idle.
    count = len(runs)
    time.sleep(10)
    assert len(_rows(farm_app, StageRun, version_id)) == count
    assert _version_for_id(farm_app, version_id).status == "failed"
    assert worker.process.poll() is None
    assert worker.log_path.read_text().count("WorkerLostError") >= MAX_CRASHED_ATTEMPTS
    _assert_settled(farm_app, prefix, version_id, finished=("risk", "decompose"), tasks=len(example_goal["tasks"]))
    assert len(_dead_letters(prefix)) == 1
    print(f"\nF7: failed {took:.1f} s after the submit")


# --- F10: warm shutdown mid-stage -------------------------------------------------------------


@pytest.mark.farm
def test_sigterm_mid_stage_finishes_the_stage_and_loses_nothing(api_server, farm_app, farm_env, start_worker,
                                                                example_goal, shipped_defaults):
    """SIGTERM to the worker's main process during `schedule` (warm shutdown): the stage finishes
    and saves on that worker, which then exits; a second worker runs the rest; the plan completes."""
    first = start_worker("first", LAYER2_TESTONLY_STAGE_DELAY="schedule=6")
    plan_id = _submit(api_server, example_goal)
    version_id = _version(farm_app, plan_id).id
    _wait_for_run(farm_app, version_id, "schedule")

    first.terminate_main()
    signalled_at = time.monotonic()
    second = start_worker("second")
    plan = wait_for_plan(api_server.base_url, plan_id, timeout=120)
    elapsed = time.monotonic() - signalled_at
    assert first.process.wait(timeout=30) == 0, "warm shutdown should end the worker cleanly"

    assert plan["status"] in farm.PLANNED, plan.get("error")
    runs = _rows(farm_app, StageRun, version_id)
    schedule = [r for r in runs if r.stage == "schedule"]
    assert [(r.state, r.worker.split("@")[0]) for r in schedule] == [("succeeded", first.name)]
    assert plan["stages"]["finalize"]["worker"].startswith(second.name)
    assert not [r for r in runs if r.state != "succeeded"]
    _assert_settled(farm_app, farm_env["CELERY_KEY_PREFIX"], version_id, finished=STAGES,
                    tasks=len(example_goal["tasks"]))
    print(f"\nF10: the plan completed {elapsed:.1f} s after SIGTERM")


# --- hard limits under the visibility timeout -----------------------------------------------


@pytest.mark.parametrize("schedule_limit", ["0.5", "1", "3", "7.25", "10", "60", "600"])
def test_every_stage_hard_limit_is_under_the_visibility_timeout(schedule_limit):
    """Whatever the schedule time limit, each stage is killed before its message may go to a second worker."""
    config = load_config(env={"PLANNING_SCHEDULE_TIME_LIMIT": schedule_limit})
    visibility = config["CELERY"]["broker_transport_options"]["visibility_timeout"]
    limits = config["STAGE_TIME_LIMITS"]
    assert set(limits) == set(STAGES)
    for stage, (soft, hard) in limits.items():
        assert soft < hard < visibility, (stage, soft, hard, visibility)
    assert limits["schedule"][0] >= 2 * float(schedule_limit)  # the schedule stage's limit follows the setting
    assert config["RESUME_STALLED_AFTER_SECONDS"] > visibility  # the sweep waits for a redelivery first


@pytest.mark.parametrize("schedule_limit", ["3", "60"])
def test_visibility_timeout_at_or_below_the_longest_hard_limit_is_refused(schedule_limit):
    longest = longest_hard_limit(build_planning_settings({"PLANNING_SCHEDULE_TIME_LIMIT": schedule_limit}))
    assert longest == int(longest)
    for visibility in (int(longest), int(longest) - 1, 1):
        with pytest.raises(ConfigError, match="CELERY_VISIBILITY_TIMEOUT"):
            load_config(env={"PLANNING_SCHEDULE_TIME_LIMIT": schedule_limit,
                             "CELERY_VISIBILITY_TIMEOUT": str(visibility)})
    accepted = load_config(env={"PLANNING_SCHEDULE_TIME_LIMIT": schedule_limit,
                                "CELERY_VISIBILITY_TIMEOUT": str(int(longest) + 1)})
    assert accepted["CELERY"]["broker_transport_options"]["visibility_timeout"] == int(longest) + 1


@pytest.mark.farm
def test_stage_past_its_soft_time_limit_fails_the_plan_readably(api_server, farm_app, farm_env, start_worker,
                                                                example_goal, shipped_defaults):
    """A stage still running at its soft limit is interrupted inside the task (SoftTimeLimitExceeded ends
    the sleep) and fails the plan with a 'time limit' reason; no later stage runs."""
    start_worker("w", LAYER2_TESTONLY_STAGE_DELAY="risk=15")  # the risk stage's soft limit is 10 s
    plan_id = _submit(api_server, example_goal)
    version_id = _version(farm_app, plan_id).id
    plan = wait_for_plan(api_server.base_url, plan_id, timeout=60)

    soft, _ = farm_app.config["STAGE_TIME_LIMITS"]["risk"]
    assert plan["status"] == "failed"
    assert plan["error"] == f"risk: did not finish within its time limit of {soft:g} s"
    runs = _rows(farm_app, StageRun, version_id)
    assert [(r.stage, r.state) for r in runs] == [("risk", "failed")]
    assert soft - 1 < runs[0].duration_seconds < 15 - 1, "the sleep should end at the soft limit, not run out"
    assert plan["stages"]["decompose"]["state"] == "pending"
    _assert_settled(farm_app, farm_env["CELERY_KEY_PREFIX"], version_id, finished=(), tasks=0)
