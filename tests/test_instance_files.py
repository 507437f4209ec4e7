"""The instance folder and the files the server creates in it are the server's alone: folders
0700, files 0600 (the database with its -wal/-shm, the secret key, the lock and throttle files),
whatever the umask of the shell that started it."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from cbt_server import create_app
from cbt_server.db import write_transaction
from cbt_server.models import db
from cbt_server.sessions import lab as lab_settings


@pytest.fixture
def lax_umask() -> Iterator[None]:
    """The usual shell umask: left alone, files come out 0644 and folders 0755."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_fresh_instance_is_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lax_umask
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("CBT_SECRET_KEY", raising=False)
    monkeypatch.delenv("CBT_DATABASE_URL", raising=False)
    instance = tmp_path / "fresh" / "instance"
    app = create_app({"INSTANCE_PATH": instance})
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        with write_transaction():  # the writer queue's lock file
            db.session.execute(db.text("UPDATE users SET active = active WHERE 0"))
        assert db.session.execute(db.text("PRAGMA journal_mode")).scalar() == "wal"
        assert app.test_client().get("/login").status_code == 200
        lab_settings.forget()  # what a change of a session's lab boundary does
        database = instance / "cbt.sqlite3"
        made = {
            "instance": instance,
            "database": database,
            "wal": Path(f"{database}-wal"),
            "shm": Path(f"{database}-shm"),
            "writelock": Path(f"{database}.writelock"),
            "secret_key": instance / "secret_key",
            "throttle": instance / "throttle.bin",
            "lab_boundary": instance / "lab-boundary.version",
        }
        for name, path in made.items():
            assert path.exists(), f"{name} was not created: {path}"
        modes = {name: oct(_mode(path)) for name, path in made.items()}
        db.session.remove()
        db.engine.dispose()
    assert modes == {name: oct(0o700 if name == "instance" else 0o600) for name in made}, modes


def test_a_database_outside_the_instance_folder_is_private_too(tmp_path: Path, lax_umask) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "data" / "exam.sqlite3"
    app = create_app(
        {
            "INSTANCE_PATH": tmp_path / "instance",
            "SECRET_KEY": "x",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{target}",
        }
    )
    assert not target.exists(), "the factory itself creates no database file"
    with app.app_context():
        db.session.execute(db.text("SELECT 1"))
        db.session.remove()
        db.engine.dispose()
    assert _mode(target) == 0o600
    assert _mode(target.parent) == 0o700
