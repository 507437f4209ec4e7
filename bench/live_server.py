"""A real gunicorn on 127.0.0.1 over a temporary, migrated SQLite database with the generated
bank imported (the approach of tests/e2e/conftest.py, standalone), and a session on it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from generated_bank import write_bank_folder

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _flask(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "cbt_server", *args],
        check=True,
        cwd=ROOT,
        env=env,
        capture_output=True,
    )


@contextmanager
def live_server(work: Path, items: int) -> Iterator[tuple[str, dict[str, str]]]:
    """gunicorn (2 workers, the repo's gunicorn.conf.py) on a migrated SQLite file with the
    generated bank imported; yields the base URL and the environment for an app on it."""
    instance = work / "instance"
    instance.mkdir()
    env = {
        **os.environ,
        "CBT_INSTANCE_PATH": str(instance),
        "CBT_DATABASE_URL": f"sqlite:///{instance / 'cbt.sqlite3'}",
        "CBT_SECRET_KEY": "bench-secret",
    }
    write_bank_folder(work / "qb", items=items)
    _flask(env, "db", "upgrade")
    _flask(env, "banks", "import", str(work / "qb"))
    port = _free_port()
    log = (work / "gunicorn.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(ROOT / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process)
        yield url, env
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _wait_until_up(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/login", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start; see gunicorn.log") from None
            time.sleep(0.2)


def make_lab(env: dict[str, str], battery: str, token: str) -> list[tuple[str, str]]:
    """A session open now with two participants (tests/builders.make_session)."""
    from cbt_server import create_app
    from tests.builders import make_session

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": env["CBT_DATABASE_URL"],
            "INSTANCE_PATH": env["CBT_INSTANCE_PATH"],
            "SECRET_KEY": "bench-secret",
        }
    )
    lab = make_session(app, battery, participants=2, token=token)
    with app.app_context():
        from cbt_server.models import db

        db.engine.dispose()
    return lab.participants
