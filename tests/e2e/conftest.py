"""Real-browser tests: a real gunicorn on 127.0.0.1 and headless Debian Chromium via Playwright.

The fixtures install what they need: Chromium from the system's packages when it is missing
(as root, through apt-get), and Playwright's Python package comes with the test extra. Playwright
never downloads a browser of its own; it drives /usr/bin/chromium.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import _PG_URL, DATABASE_KINDS, REPO_ROOT

CHROMIUM = os.environ.get("CBT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def _flask(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "cbt_server", *args],
        check=True,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
    )


@contextmanager
def _fresh_database(kind: str, instance: Path) -> Iterator[str]:
    """An empty database for one test: a SQLite file, or a PostgreSQL database of its own on the
    server ``CBT_TEST_DATABASE_URL`` names (dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite:///{instance / 'cbt.sqlite3'}"
        return
    from cbt_server.config import normalise_database_url

    admin_url = sa.engine.make_url(normalise_database_url(_PG_URL or ""))
    name = f"cbt_e2e_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=DATABASE_KINDS)
def live_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """gunicorn serving a fresh database with the fixture banks imported: SQLite, and also
    PostgreSQL when ``CBT_TEST_DATABASE_URL`` is set."""
    instance = tmp_path / "instance"
    instance.mkdir()
    with _fresh_database(request.param, instance) as database_url:
        yield from _serve(tmp_path, instance, database_url)


def _serve(tmp_path: Path, instance: Path, database_url: str) -> Iterator[LiveServer]:
    from tests.builders import FIXTURE_BANKS

    env = {
        **os.environ,
        "CBT_INSTANCE_PATH": str(instance),
        "CBT_DATABASE_URL": database_url,
        "CBT_SECRET_KEY": "e2e-secret",
        "CBT_SWEEP_SECONDS": "5",
    }
    _flask(env, "db", "upgrade")
    _flask(env, "banks", "import", str(FIXTURE_BANKS))
    port = _free_port()
    log = (tmp_path / "gunicorn.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(REPO_ROOT / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "wsgi:app",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/login", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                log.close()
                raise RuntimeError((tmp_path / "gunicorn.log").read_text()) from None
            time.sleep(0.2)
    try:
        yield LiveServer(url, database_url, instance)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    executable = _ensure_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
