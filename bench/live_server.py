"""A real gunicorn on 127.0.0.1 over a temporary, migrated SQLite database with the generated
bank imported (started as the browser tests start it: tests/live.py), and a session on it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from generated_bank import write_bank_folder

from tests.live import flask_command, gunicorn, server_env


@contextmanager
def live_server(work: Path, items: int) -> Iterator[tuple[str, dict[str, str]]]:
    """gunicorn (2 workers, the repo's gunicorn.conf.py) on a migrated SQLite file with the
    generated bank imported; yields the base URL and the environment for an app on it."""
    instance = work / "instance"
    instance.mkdir()
    env = server_env(instance, f"sqlite:///{instance / 'cbt.sqlite3'}", "bench-secret")
    write_bank_folder(work / "qb", items=items)
    flask_command(env, "db", "upgrade")
    flask_command(env, "banks", "import", str(work / "qb"))
    with gunicorn(env, work / "gunicorn.log") as url:
        yield url, env


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
