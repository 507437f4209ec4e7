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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

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
def fresh_database(kind: str, folder: Path, postgres_url: str | None) -> Iterator[str]:
    """An empty database: a SQLite file in ``folder``, or a PostgreSQL database of its own
    created on the server ``postgres_url`` names (dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'cbt.sqlite3'}"
        return
    from cbt_server.config import normalise_database_url

    admin_url = sa.engine.make_url(normalise_database_url(postgres_url or ""))
    name = f"cbt_live_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def server_env(instance: Path, database_url: str, secret: str, **settings: str) -> dict[str, str]:
    """The environment of a server on ``database_url`` with its instance folder."""
    return {
        **os.environ,
        "CBT_INSTANCE_PATH": str(instance),
        "CBT_DATABASE_URL": database_url,
        "CBT_SECRET_KEY": secret,
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
