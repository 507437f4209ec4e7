"""Fixtures: a fresh app on a freshly migrated database per test, on SQLite and PostgreSQL.

Set ``CBT_TEST_DATABASE_URL`` to a PostgreSQL URL to run every database test against it as well.

Every test starts from a template database built once per test run (``tests/db_templates.py``),
never from ``create_all``:

- the bare schema, built by the migrations: ``sqlite_template``, a file each SQLite test gets a
  copy of, and ``postgres_url``, the run's one PostgreSQL database, which every PostgreSQL test
  uses and leaves empty again (its rows deleted, its sequences restarted);
- the schema with data, built once by the real commands when a test first needs it: the shipped
  banks (``imported``), the fixture banks (``fixture_banks``), and the fixture banks plus
  :func:`tests.builders.assessor_lab` (``lab``). These fixtures copy the template's rows into the
  test's database (SQLite: the file, through SQLite's backup API; PostgreSQL: a snapshot of the
  rows, loaded with COPY) instead of importing and hashing passwords again. They run the real
  commands instead when the template would not give the same start: the clock was moved, or
  something already wrote to the database.

Tests that exercise ``banks import`` itself use ``app``/``runner`` and import for real.
"""

from __future__ import annotations

import copy
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from cbt_server import create_app
from cbt_server.clock import ManualClock
from cbt_server.config import normalise_database_url
from tests import db_templates

REPO_ROOT = Path(__file__).resolve().parent.parent
BANKS_PATH = REPO_ROOT / "question_banks"

# "none" (as run.py takes it) or empty: SQLite only.
_PG_URL = os.environ.get("CBT_TEST_DATABASE_URL", "").strip()
_PG_URL = None if _PG_URL.lower() in ("", "none") else _PG_URL
DATABASE_KINDS = ["sqlite"] + (["postgresql"] if _PG_URL else [])
#: Where a fresh ``clock`` starts; templates are built at this moment.
_CLOCK_START = ManualClock().now()


def _app_config(database_url: str, instance: Path, clock: ManualClock) -> dict[str, Any]:
    """The configuration of the ``app`` fixture (templates are built with the same)."""
    return {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_PATH": instance,
        "SECRET_KEY": "test-secret",
        "CBT_CLOCK": clock,
        "CBT_BANKS_PATH": str(BANKS_PATH),
        "CBT_STRICT_WRITES": True,
        # Staff accounts: scrypt costs ~80 ms each, and the suite makes hundreds of them.
        "CBT_STAFF_PASSWORD_METHOD": "pbkdf2:sha256:1000",
        # Logins that outlive the tests moving the clock by hours (a proctor watching a
        # session's tokens rotate); tests/test_login_lifetime.py puts the shipped limits back.
        "CBT_STAFF_IDLE_MINUTES": 60 * 24 * 365,
        "CBT_STAFF_MAX_HOURS": 24 * 365,
        "CBT_PARTICIPANT_IDLE_MINUTES": 60 * 24 * 365,
        "CBT_PARTICIPANT_MAX_HOURS": 24 * 365,
        "CBT_PARTICIPANT_GRACE_MINUTES": 60 * 24 * 365,
        "TESTING": True,
    }


def _dispose(app: Flask) -> None:
    with app.app_context():
        from cbt_server.models import db

        db.session.remove()
        db.engine.dispose()


def _migrate(url: str, instance: Path) -> None:
    from flask_migrate import upgrade

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": instance, "SECRET_KEY": "test-secret"}
    )
    with app.app_context():
        upgrade()
    _dispose(app)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.sqlite3"
    _migrate(f"sqlite:///{path}", folder)
    return path


@pytest.fixture(scope="session")
def _pg_admin() -> Iterator[sa.Engine]:
    assert _PG_URL, "CBT_TEST_DATABASE_URL is not set"
    admin = db_templates.admin_engine(sa.engine.make_url(normalise_database_url(_PG_URL)))
    yield admin
    admin.dispose()


@pytest.fixture(scope="session")
def _pg_run_name() -> str:
    """The prefix of every database this run creates."""
    return f"cbt_test_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def postgres_url(
    tmp_path_factory: pytest.TempPathFactory, _pg_admin: sa.Engine, _pg_run_name: str
) -> Iterator[str]:
    """A database of its own for this run, created on the server CBT_TEST_DATABASE_URL names."""
    url = db_templates.create_database(_pg_admin, _pg_run_name)
    _migrate(url, tmp_path_factory.mktemp("pg-instance"))
    yield url
    db_templates.drop_database(_pg_admin, _pg_run_name)


@pytest.fixture(scope="session")
def _pg_cleaner(postgres_url: str) -> Iterator[sa.Engine]:
    """One connection kept for emptying the run's database after each test."""
    engine = sa.create_engine(postgres_url, pool_size=1)
    yield engine
    engine.dispose()


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "cbt.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        # Emptying the run's one database after each test (DELETE, some 5-10 ms) is faster than
        # a new database per test from a template (CREATE DATABASE ... TEMPLATE, ~0.2 s).
        cleaner = request.getfixturevalue("_pg_cleaner")
        yield request.getfixturevalue("postgres_url")
        with cleaner.begin() as conn:
            db_templates.empty_postgres(conn)


# ---- templates with data: built on first use by the same code the fixtures would run --------


def _import_banks(app: Flask, path: Path) -> None:
    result = app.test_cli_runner().invoke(args=["banks", "import", str(path)])
    assert result.exit_code == 0, result.output


def _seed_shipped_banks(app: Flask) -> None:
    _import_banks(app, BANKS_PATH)


def _seed_fixture_banks(app: Flask) -> None:
    from tests.builders import FIXTURE_BANKS

    _import_banks(app, FIXTURE_BANKS)


def _seed_assessor_lab(app: Flask):  # type: ignore[no-untyped-def]
    from tests.builders import assessor_lab

    _seed_fixture_banks(app)
    return assessor_lab(app)


class _Templates:
    """Seeded templates per (database kind, seed), built when a test first asks for one."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._built: dict[tuple[str, Callable[[Flask], Any]], tuple[Any, Any]] = {}

    def get(
        self, request: pytest.FixtureRequest, kind: str, seed: Callable[[Flask], Any]
    ) -> tuple[Any, Any]:
        """(template, what ``seed`` returned): a SQLite file, or a PostgreSQL snapshot."""
        key = (kind, seed)
        if key not in self._built:
            self._built[key] = self._build(request, kind, seed)
        return self._built[key]

    def _build(
        self, request: pytest.FixtureRequest, kind: str, seed: Callable[[Flask], Any]
    ) -> tuple[Any, Any]:
        name = seed.__name__.strip("_")
        instance = self._folder / f"{kind}-{name}-instance"
        if kind == "sqlite":
            path = self._folder / f"{name}.sqlite3"
            shutil.copy(request.getfixturevalue("sqlite_template"), path)
            return path, self._seed(f"sqlite:///{path}", instance, seed)
        admin = request.getfixturevalue("_pg_admin")
        database = f"{request.getfixturevalue('_pg_run_name')}_{name}"
        url = db_templates.create_database(admin, database)
        try:
            _migrate(url, instance)
            value = self._seed(url, instance, seed)
            # The rows are all a test needs: the database can go at once.
            return db_templates.PgSnapshot.capture(url), value
        finally:
            db_templates.drop_database(admin, database)

    @staticmethod
    def _seed(url: str, instance: Path, seed: Callable[[Flask], Any]) -> Any:
        app = create_app(_app_config(url, instance, ManualClock()))
        try:
            return seed(app)
        finally:
            _dispose(app)


@pytest.fixture(scope="session")
def _db_templates(tmp_path_factory: pytest.TempPathFactory) -> _Templates:
    return _Templates(tmp_path_factory.mktemp("seeded-templates"))


def _seeded(
    request: pytest.FixtureRequest,
    app: Flask,
    database_url: str,
    clock: ManualClock,
    seed: Callable[[Flask], Any],
) -> Any:
    """``seed(app)``: its rows copied from the run's template of it when that gives the same start
    (the clock has not moved, nothing was written yet), else written by running it."""
    if clock.now() == _CLOCK_START:
        kind = "sqlite" if database_url.startswith("sqlite") else "postgresql"
        template, value = request.getfixturevalue("_db_templates").get(request, kind, seed)
        if db_templates.load_if_pristine(database_url, template):
            return copy.deepcopy(value)
    return seed(app)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def app(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Flask]:
    app = create_app(_app_config(database_url, tmp_path / "instance", clock))
    yield app
    _dispose(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def imported(
    request: pytest.FixtureRequest, app: Flask, database_url: str, clock: ManualClock
) -> Flask:
    """The app with the shipped question banks imported."""
    _seeded(request, app, database_url, clock, _seed_shipped_banks)
    return app


@pytest.fixture
def fixture_banks(
    request: pytest.FixtureRequest, app: Flask, database_url: str, clock: ManualClock
) -> Flask:
    """The app with the fixture banks (tests/fixtures/qb, with BAT-UJI) imported."""
    _seeded(request, app, database_url, clock, _seed_fixture_banks)
    return app


@pytest.fixture
def lab(request: pytest.FixtureRequest, app: Flask, database_url: str, clock: ManualClock):  # type: ignore[no-untyped-def]
    """BAT-UJI imported; a session of three JF-UJ participants; an assessor account."""
    return _seeded(request, app, database_url, clock, _seed_assessor_lab)


@pytest.fixture
def assessor(app: Flask, lab) -> FlaskClient:  # type: ignore[no-untyped-def]
    """A browser logged in as the assessor of ``lab``."""
    from tests.helpers import login

    client = app.test_client()
    assert login(client, "asesor-1", "sandi-asesor").status_code == 302
    return client
