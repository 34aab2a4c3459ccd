"""The pure core stays pure: planning/ and scheduling/ import no Flask, Celery, SQL, app or tasks."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"flask", "flask_sqlalchemy", "flask_migrate", "celery", "kombu", "sqlalchemy", "alembic", "redis",
             "psycopg2", "marshmallow", "app", "tasks", "werkzeug", "prometheus_client"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", ["planning", "scheduling"])
def test_pure_packages_import_nothing_of_the_outside(package):
    """No module of the pure packages imports a web, queue or database library, or app/tasks."""
    offenders = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = imported_roots(path) & FORBIDDEN
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_checker_sees_a_forbidden_import(tmp_path):
    """The checker itself flags a forbidden import (so the test above can fail)."""
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom flask import Flask\n")
    assert imported_roots(sample) & FORBIDDEN == {"flask"}
