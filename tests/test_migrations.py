"""Migrations are the only way the schema changes: one head, in step with the models, reversible."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade

from app import MIGRATIONS_DIR, create_app
from tests import farm

pytestmark = pytest.mark.farm


@pytest.fixture
def empty_pg(pg_url):
    url = farm.create_database()
    yield url
    farm.drop_database(url)


def test_single_head():
    """There is exactly one migration head."""
    from alembic.config import Config

    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_upgrade_builds_schema_matching_models(empty_pg):
    """`upgrade head` on an empty PostgreSQL gives a schema autogenerate finds no difference with."""
    from app.extensions import db

    app = create_app({"DATABASE_URL": empty_pg, "CELERY_BROKER_URL": None})
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
        db.engine.dispose()
    assert diff == []


def test_upgrade_downgrade_upgrade(empty_pg):
    """The migrations go down to nothing and back up again."""
    import sqlalchemy as sa

    from app.extensions import db

    app = create_app({"DATABASE_URL": empty_pg, "CELERY_BROKER_URL": None})
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))
        downgrade(directory=str(MIGRATIONS_DIR), revision="base")
        tables = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        upgrade(directory=str(MIGRATIONS_DIR))
        assert "plan_versions" in sa.inspect(db.engine).get_table_names()
        db.engine.dispose()
