"""A real server for browser tests and benchmarks: fresh databases, gunicorn on 127.0.0.1, and
the flags headless Chromium needs on a machine without internet.

Shared by ``tests/e2e/conftest.py`` and ``bench/`` so there is one way to start the server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from tests import db_templates

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CBT_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling Google's hosts, which a closed
# lab network refuses, many at a time.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def flask_command(env: dict[str, str], *args: str) -> None:
    """``flask --app cbt_server <args>`` in the repository, with ``env``; fails loudly."""
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "cbt_server", *args],
        check=True,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
    )


@contextmanager
def fresh_database(
    kind: str, folder: Path, postgres_url: str | None, template: str | None = None
) -> Iterator[str]:
    """A database of its own: a SQLite file in ``folder``, or a PostgreSQL database created on
    the server ``postgres_url`` names (dropped afterwards). Empty, or a copy of ``template`` (a
    database URL from :func:`template_database`) when given."""
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'cbt.sqlite3'}"
        if template:
            db_templates.copy_sqlite(db_templates.sqlite_path(template), url)
        yield url
        return
    admin = _admin(postgres_url)
    name = f"cbt_live_{uuid.uuid4().hex[:10]}"
    template_name = sa.engine.make_url(template).database if template else None
    try:
        yield db_templates.create_database(admin, name, template=template_name)
    finally:
        db_templates.drop_database(admin, name)
        admin.dispose()


@contextmanager
def template_database(
    kind: str, folder: Path, postgres_url: str | None, prepare: Callable[[str], None]
) -> Iterator[str]:
    """A database that ``prepare(url)`` fills once (say ``db upgrade`` and ``banks import``), to
    give many servers a copy of with :func:`fresh_database`: preparing it again for every server
    costs seconds, copying it milliseconds. Yields its URL; nothing may stay connected to it."""
    with fresh_database(kind, folder, postgres_url) as url:
        prepare(url)
        yield url


def _admin(postgres_url: str | None) -> sa.Engine:
    from cbt_server.config import normalise_database_url

    return db_templates.admin_engine(sa.engine.make_url(normalise_database_url(postgres_url or "")))


def server_env(instance: Path, database_url: str, secret: str, **settings: str) -> dict[str, str]:
    """The environment of a server on ``database_url`` with its instance folder."""
    return {
        **os.environ,
        "CBT_INSTANCE_PATH": str(instance),
        "CBT_DATABASE_URL": database_url,
        "CBT_SECRET_KEY": secret,
        # Any write that slips past the app's write transaction fails the test.
        "CBT_STRICT_WRITES": "1",
        **settings,
    }


@contextmanager
def gunicorn(env: dict[str, str], log_path: Path, workers: int = 2) -> Iterator[str]:
    """gunicorn (the repository's gunicorn.conf.py) on a free port of 127.0.0.1 with ``env``;
    yields its base URL once the login page answers, and stops it afterwards."""
    port = free_port()
    log = log_path.open("w")
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
            str(workers),
            "wsgi:app",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log_path)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _wait_until_up(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/login", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(log_path.read_text()) from None
            time.sleep(0.2)
