"""Real-browser tests: a real gunicorn on 127.0.0.1 and headless Debian Chromium via Playwright.

The fixtures install what they need: Chromium from the system's packages when it is missing
(as root, through apt-get), and Playwright's Python package comes with the test extra. Playwright
never downloads a browser of its own; it drives /usr/bin/chromium.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import _PG_URL, DATABASE_KINDS
from tests.live import (
    CHROMIUM,
    CHROMIUM_ARGS,
    flask_command,
    fresh_database,
    gunicorn,
    server_env,
)


def _ensure_chromium() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(
            ["apt-get", "update", "-qq"], check=False, env=env, stdout=subprocess.DEVNULL
        )
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    if Path(CHROMIUM).exists():
        return CHROMIUM
    message = f"no Chromium at {CHROMIUM} and it could not be installed"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
    raise AssertionError  # unreachable


@dataclass
class LiveServer:
    url: str
    database_url: str
    instance: Path

    def app(self):  # type: ignore[no-untyped-def]
        """An app on the same database, for seeding data and checking what was stored."""
        from cbt_server import create_app

        return create_app(
            {
                "SQLALCHEMY_DATABASE_URI": self.database_url,
                "INSTANCE_PATH": self.instance,
                "SECRET_KEY": "e2e-secret",
            }
        )


@pytest.fixture(params=DATABASE_KINDS)
def live_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """gunicorn serving a fresh database with the fixture banks imported: SQLite, and also
    PostgreSQL when ``CBT_TEST_DATABASE_URL`` is set."""
    instance = tmp_path / "instance"
    instance.mkdir()
    with fresh_database(request.param, instance, _PG_URL) as database_url:
        yield from _serve(tmp_path, instance, database_url)


def _serve(tmp_path: Path, instance: Path, database_url: str) -> Iterator[LiveServer]:
    from tests.builders import FIXTURE_BANKS

    env = server_env(instance, database_url, "e2e-secret", CBT_SWEEP_SECONDS="5")
    flask_command(env, "db", "upgrade")
    flask_command(env, "banks", "import", str(FIXTURE_BANKS))
    with gunicorn(env, tmp_path / "gunicorn.log") as url:
        yield LiveServer(url, database_url, instance)


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    executable = _ensure_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
