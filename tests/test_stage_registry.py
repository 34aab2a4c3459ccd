"""The stage registry is the one place stages are declared; everything else follows it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from app.config import ConfigError, load_config
from app.stages import REGISTRY, STAGE_NAMES, get_stage, longest_hard_limit, stages_from
from planning.settings import PlanningSettings
from tasks.queues import QUEUE_NAMES

ROOT = Path(__file__).resolve().parent.parent


def test_every_stage_reads_only_earlier_stages():
    """A stage's `reads` name stages that run before it, so a chain from any stage has its inputs."""
    for position, stage in enumerate(REGISTRY):
        assert set(stage.reads) <= set(STAGE_NAMES[:position]), stage.name


def test_only_the_last_stage_writes_the_document():
    """Exactly one stage completes the version, and it is the last: every chain ends with it."""
    assert [stage.name for stage in REGISTRY if stage.writes_document] == [STAGE_NAMES[-1]]


def test_every_stage_function_resolves_and_is_pure_code():
    """Each entry names an importable function in planning/stages/."""
    for stage in REGISTRY:
        module, _, attribute = stage.function.partition(":")
        assert module.startswith("planning.stages."), stage.function
        assert callable(stage.pure_function), stage.function
        assert stage.pure_function.__name__ == attribute


def test_chain_can_start_at_any_stage():
    """A replan's chain starts at allocate and runs to the end."""
    assert [stage.name for stage in stages_from("allocate")] == ["allocate", "schedule", "finalize", "validate"]
    assert stages_from(STAGE_NAMES[0]) == REGISTRY
    assert get_stage("schedule").task_name == "layer2.schedule"


def test_queues_and_tasks_come_from_the_registry(embedded_app):
    """Every stage has its queue and its registered Celery task with the registry's time limits."""
    celery_app = embedded_app.extensions["celery"]
    settings = embedded_app.config["PLANNING"]
    assert set(STAGE_NAMES) <= set(QUEUE_NAMES)
    for stage in REGISTRY:
        assert stage.task_name in celery_app.tasks
        limits = celery_app.conf.task_annotations[stage.task_name]
        assert limits == {"soft_time_limit": stage.soft_limit(settings), "time_limit": stage.hard_limit(settings)}


@pytest.mark.parametrize("solver_seconds", ["1", "3", "10", "60", "300"])
def test_hard_limits_stay_below_the_visibility_timeout(solver_seconds):
    """Whatever the solver's time limit, no stage can still run when its message is redelivered."""
    config = load_config({"CELERY_BROKER_URL": "redis://127.0.0.1:6379/0"},
                         env={"PLANNING_SCHEDULE_TIME_LIMIT": solver_seconds})
    timeout = config["CELERY"]["broker_transport_options"]["visibility_timeout"]
    assert all(hard < timeout for _, hard in config["STAGE_TIME_LIMITS"].values())
    assert config["RESUME_STALLED_AFTER_SECONDS"] > timeout


def test_a_visibility_timeout_at_or_below_a_hard_limit_is_refused():
    """Configuring a timeout a stage could outlive stops start-up with a message naming the setting."""
    longest = longest_hard_limit(PlanningSettings())
    with pytest.raises(ConfigError, match="CELERY_VISIBILITY_TIMEOUT"):
        load_config(env={"CELERY_VISIBILITY_TIMEOUT": str(int(longest))})
    load_config(env={"CELERY_VISIBILITY_TIMEOUT": str(int(longest) + 1)})


def test_stage_names_appear_nowhere_else_in_the_runner():
    """The generic runner, the tasks and the chain name no stage: they read the registry."""
    for path in ("app/services/pipeline.py", "tasks/stages.py", "tasks/chain.py", "tasks/maintenance.py"):
        text = (ROOT / path).read_text()
        for name in STAGE_NAMES:
            assert f'"{name}"' not in text and f"'{name}'" not in text, (path, name)


def test_a_worker_main_process_does_not_import_the_solvers(tmp_path):
    """Stage code loads on first use: importing the worker app pulls in neither NumPy nor PuLP."""
    import subprocess

    code = ("import sys, tasks.worker; "
            "print(sorted(m for m in ('numpy', 'pulp', 'highspy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
                              "LAYER2_HOME": str(tmp_path)})
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
