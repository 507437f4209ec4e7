"""Configuration layering: defaults, instance/config.py, CBT_* environment, explicit overrides."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

PACKAGE_DIR = Path(__file__).resolve().parent

#: Environment variables with a name of their own; any other ``CBT_<NAME>`` sets the config
#: key ``CBT_<NAME>``.
ENV_ALIASES = {
    "CBT_DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "CBT_SECRET_KEY": "SECRET_KEY",
}


def default_instance_path() -> Path:
    """``CBT_INSTANCE_PATH`` or ``./instance``: explicit, so an installed package never hides it."""
    return Path(os.environ.get("CBT_INSTANCE_PATH") or Path.cwd() / "instance").resolve()


def defaults(instance: Path) -> dict[str, Any]:
    return {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'cbt.sqlite3'}",
        "MIGRATIONS_DIR": PACKAGE_DIR / "migrations",
        "CBT_BANKS_PATH": str(Path.cwd() / "question_banks"),
        "CBT_MEDIA_MAX_BYTES": 2 * 1024 * 1024,
        # Banks uploaded in the browser (docs/question-banks.md): the upload (below
        # MAX_CONTENT_LENGTH), what a zip unpacks to in all, and how many files it may hold.
        "CBT_BANK_UPLOAD_MAX_BYTES": 15_000_000,
        "CBT_BANK_UPLOAD_MAX_UNZIPPED_BYTES": 100_000_000,
        "CBT_BANK_UPLOAD_MAX_FILES": 2000,
        "BABEL_DEFAULT_LOCALE": "id",
        "CBT_TIMEZONE": "Asia/Jakarta",
        "CBT_SWEEP_SECONDS": 20,
        # Scheduled backups in the gunicorn workers (docs/backup.md); the schedule itself is
        # the admin's (instance/backup.json), off until set.
        "CBT_BACKUP_SCHEDULER": True,
        "CBT_BACKUP_TICK_SECONDS": 30,
        # A server outage up to this long is given back to running attempts automatically;
        # after a longer one they stay paused for the proctor (docs/operations.md).
        "CBT_OUTAGE_CREDIT_MAX_MINUTES": 30,
        # Requests per second (and burst) one client address may send; 0 turns it off. The
        # loopback address is exempt (a reverse proxy on the host). docs/limits.md
        "CBT_THROTTLE_RATE": 20,
        "CBT_THROTTLE_BURST": 120,
        "CBT_THROTTLE_EXEMPT": "127.0.0.1,::1",
        # How long a request waits for another's write lock before answering 503 (retry).
        "CBT_DB_LOCK_TIMEOUT_MS": 10_000,
        # Profiling (docs/profiling.md): JPM categories "mapping" or "selection"; 9-box cut
        # points "low,high" on 0-100 for potential (the JPM %) and a numeric performance score.
        "CBT_JPM_SCALE": "mapping",
        "CBT_NINEBOX_POTENTIAL_CUTS": "60,80",
        "CBT_NINEBOX_PERFORMANCE_CUTS": "60,80",
        # Cut scores by the modified Angoff method (docs/scoring.md): panelists needed before
        # cuts may be set (never fewer than 2), and below how many the page warns.
        "CBT_ANGOFF_MIN_PANELISTS": 3,
        "CBT_ANGOFF_RECOMMENDED_PANELISTS": 5,
        "CBT_LANGUAGES": ("id", "en"),
        # How long logins live (docs/operations.md, "Logins"); a participant's login never
        # ends while their attempt runs.
        "CBT_STAFF_IDLE_MINUTES": 30,
        "CBT_STAFF_MAX_HOURS": 12,
        "CBT_PARTICIPANT_IDLE_MINUTES": 60,
        "CBT_PARTICIPANT_MAX_HOURS": 4,
        "CBT_PARTICIPANT_GRACE_MINUTES": 30,
        # Served over HTTPS (docs/tls.md): every cookie Secure even when a request arrives as
        # http. Cookies of a request that came over https are Secure in any case.
        "CBT_HTTPS": False,
        # Reverse proxies in front of the server whose X-Forwarded-For/-Proto are trusted; 0:
        # none, so a PC cannot claim another address (docs/tls.md).
        "CBT_PROXY_HOPS": 0,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the login session (exams > 1 h)
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    }


def configure_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    overrides = dict(overrides or {})
    instance = Path(overrides.pop("INSTANCE_PATH", None) or default_instance_path())
    app = Flask("cbt_server", instance_path=str(instance), instance_relative_config=True)
    app.config.update(defaults(instance))
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(_from_environment(os.environ))
    app.config.update(overrides)
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(
        app.config["SQLALCHEMY_DATABASE_URI"]
    )
    if "SQLALCHEMY_ENGINE_OPTIONS" not in app.config:
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(
            app.config["SQLALCHEMY_DATABASE_URI"]
        )
    if flag(app.config.get("CBT_HTTPS")):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["PREFERRED_URL_SCHEME"] = "https"
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret_key(instance)
    return app


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith("CBT_") or name == "CBT_INSTANCE_PATH":
            continue
        found[ENV_ALIASES.get(name, name)] = value
    return found


def flag(value: Any) -> bool:
    """A boolean setting, whether it came from Python (True) or the environment ("1", "yes")."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def engine_options(url: str) -> dict[str, Any]:
    """A server database: check a pooled connection before use (the server may have restarted).
    SQLite is a file: a check would only add a statement to every request."""
    if url.startswith("sqlite"):
        return {}
    return {"pool_pre_ping": True}


def normalise_database_url(url: str) -> str:
    """Accept the common ``postgresql://`` spelling and use the psycopg 3 driver we ship."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def instance_secret_key(instance: Path) -> str:
    """Read ``instance/secret_key``, creating it (mode 0600) on first run.

    Several gunicorn workers may start at once: ``O_EXCL`` makes exactly one of them write the
    key; the others read what it wrote.
    """
    private_folder(instance)
    path = instance / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            key = path.read_text(encoding="ascii").strip()
            if key:
                return key
            import time

            time.sleep(0.02)
        raise RuntimeError(f"{path} is empty: delete it or set CBT_SECRET_KEY") from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


def write_private_file(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically, readable by the server's user only (0600): a
    reader (another worker) sees the old file or the new one, never half of it."""
    private_folder(path.parent)
    spare = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(spare, path)


def private_folder(path: Path) -> Path:
    """Create ``path`` (and missing parents) readable by the server's user only (0700).

    An existing folder is left as it is - an administrator may have chosen otherwise - but a
    folder others can enter is logged (docs/operations.md, "Files and permissions")."""
    if not path.is_dir():
        for folder in reversed([path, *path.parents]):
            if not folder.exists():
                # another worker may make it meanwhile
                folder.mkdir(mode=0o700, exist_ok=True)
    elif path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
        import logging

        logging.getLogger(__name__).warning(
            "%s is readable by other users: chmod 700 it (docs/operations.md)", path
        )
    return path
