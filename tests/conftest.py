"""Fixtures: a fresh app on a freshly migrated database per test, on SQLite and PostgreSQL.

The schema is built by the migrations (never ``create_all``), once per test run and database
kind: SQLite tests copy a migrated template file; PostgreSQL tests share one database created for
the run and emptied (TRUNCATE) after each test. Set ``CBT_TEST_DATABASE_URL`` to a PostgreSQL URL
to run every database test against it as well.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from cbt_server import create_app
from cbt_server.clock import ManualClock
from cbt_server.config import normalise_database_url

REPO_ROOT = Path(__file__).resolve().parent.parent
BANKS_PATH = REPO_ROOT / "question_banks"

_PG_URL = os.environ.get("CBT_TEST_DATABASE_URL") or None
DATABASE_KINDS = ["sqlite"] + (["postgresql"] if _PG_URL else [])


def _migrate(url: str, instance: Path) -> None:
    from flask_migrate import upgrade

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": instance, "SECRET_KEY": "test-secret"}
    )
    with app.app_context():
        upgrade()
        from cbt_server.models import db

        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.sqlite3"
    _migrate(f"sqlite:///{path}", folder)
    return path


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of its own for this run, created on the server CBT_TEST_DATABASE_URL names."""
    assert _PG_URL, "CBT_TEST_DATABASE_URL is not set"
    admin_url = sa.engine.make_url(normalise_database_url(_PG_URL))
    name = f"cbt_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    _migrate(url, tmp_path_factory.mktemp("pg-instance"))
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _truncate_all(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        tables = [
            row[0]
            for row in conn.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        ]
        if tables:
            conn.exec_driver_sql(
                "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
            )
    engine.dispose()


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "cbt.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_url")
        yield url
        _truncate_all(url)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def app(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Flask]:
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "INSTANCE_PATH": tmp_path / "instance",
            "SECRET_KEY": "test-secret",
            "CBT_CLOCK": clock,
            "CBT_BANKS_PATH": str(BANKS_PATH),
            "TESTING": True,
        }
    )
    yield app
    with app.app_context():
        from cbt_server.models import db

        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def imported(app: Flask, runner: FlaskCliRunner) -> Flask:
    """The app with the shipped question banks imported."""
    result = runner.invoke(args=["banks", "import", str(BANKS_PATH)])
    assert result.exit_code == 0, result.output
    return app


@pytest.fixture
def lab(app: Flask, runner: FlaskCliRunner):  # type: ignore[no-untyped-def]
    """BAT-UJI imported; a session of three JF-UJ participants; an assessor account."""
    from tests.builders import FIXTURE_BANKS, assessor_lab

    assert runner.invoke(args=["banks", "import", str(FIXTURE_BANKS)]).exit_code == 0
    return assessor_lab(app)


@pytest.fixture
def assessor(app: Flask, lab) -> FlaskClient:  # type: ignore[no-untyped-def]
    """A browser logged in as the assessor of ``lab``."""
    from tests.helpers import login

    client = app.test_client()
    assert login(client, "asesor-1", "sandi-asesor").status_code == 302
    return client
