"""The migrations build the schema the models describe, on every database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from cbt_server.models import db


def test_migrated_schema_matches_the_models(app: Flask):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations differ: write a migration: {diff}"


def test_database_is_at_the_head_revision(app: Flask):
    from alembic.script import ScriptDirectory
    from flask_migrate import Config

    with app.app_context():
        config = Config(str(app.config["MIGRATIONS_DIR"] / "alembic.ini"))
        config.set_main_option("script_location", str(app.config["MIGRATIONS_DIR"]))
        head = ScriptDirectory.from_config(config).get_current_head()
        with db.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    assert current == head
