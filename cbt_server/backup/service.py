"""Taking, listing, pruning and restoring backups of the server's database (docs/backup.md).

**SQLite**: SQLite's online backup API (:meth:`sqlite3.Connection.backup`) copies the live
database in one step, inside one read transaction on the source: the copy is the database as
one commit left it, with the WAL's committed frames, never a half-written page. In WAL mode a
reader does not block writers, so the copy neither takes the app's writer turn
(``<database>.writelock``, :class:`cbt_server.db.WriterQueue`) nor stops saves; it never
copies the file itself (a file copy of a live WAL database misses the WAL, or catches it torn).

**PostgreSQL**: ``pg_dump --format=custom`` (found on ``PATH``) from an exported snapshot, in
which the manifest's row counts are taken too, so counts and dump describe the same moment.

Every backup is checked before it counts: ``PRAGMA integrity_check`` on the copy (``pg_restore
--list`` on a dump), then written 0600 into a 0700 folder with a JSON manifest beside it (time,
source, schema revision, sizes, row counts of the key tables, SHA-256). A restore refuses a
non-empty target, checks the file against its manifest, restores, and runs the same checks on
the result.

Errors are :class:`BackupError` with a ``code`` (the pages word them in the interface language)
and an English message (the CLI prints it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable
from contextlib import closing, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app

from cbt_server.backup.settings import folder_problem
from cbt_server.clock import now
from cbt_server.config import normalise_database_url, private_folder, write_private_file
from cbt_server.localtime import to_local
from cbt_server.models import db

FORMAT = 1
#: tables whose row counts a manifest records and a restore compares
KEY_TABLES = (
    "users",
    "exam_sessions",
    "enrolments",
    "attempts",
    "attempt_items",
    "responses",
    "late_answers",
    "attempt_scores",
    "audit_log",
    "bank_versions",
    "items",
    "battery_versions",
    "media_files",
)
NAME = re.compile(r"^cbt-\d{8}-\d{6}(?:-\d+)?\.(sqlite3|dump)$")
EXTENSIONS = {"sqlite": "sqlite3", "postgresql": "dump"}
SQLITE_FILE = "cbt.sqlite3"


class BackupError(RuntimeError):
    """A backup or restore that could not be done; ``code`` says which (see docs/backup.md)."""

    def __init__(self, code: str, message: str, detail: str = "") -> None:
        super().__init__(f"{message}: {detail}" if detail else message)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Backup:
    """One backup file in a folder, with its manifest when it has one."""

    name: str
    path: Path
    size: int
    created_at: datetime
    kind: str
    manifest: dict[str, Any] | None

    @property
    def verified(self) -> bool:
        return bool(self.manifest and self.manifest.get("verified"))


# ---- facts of a database ----------------------------------------------------------------------


@dataclass
class Facts:
    integrity: str | None
    revision: str | None
    counts: dict[str, int]


def _facts(scalar: Callable[[str], Any], tables: set[str], integrity: str | None) -> Facts:
    # table names from KEY_TABLES only, never from input
    counts = {t: int(scalar(f'SELECT count(*) FROM "{t}"')) for t in KEY_TABLES if t in tables}  # noqa: S608
    revision = (
        scalar("SELECT version_num FROM alembic_version") if "alembic_version" in tables else None
    )
    return Facts(integrity, revision, counts)


def _sqlite_facts(conn: sqlite3.Connection) -> Facts:
    rows = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return _facts(
        lambda sql: conn.execute(sql).fetchone()[0],
        tables,
        "ok" if rows == ["ok"] else "; ".join(rows[:5]),
    )


def _sql_facts(conn: sa.Connection, integrity: str | None) -> Facts:
    tables = set(
        conn.exec_driver_sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).scalars()
    )
    return _facts(lambda sql: conn.exec_driver_sql(sql).scalar(), tables, integrity)


def head_revision() -> str | None:
    """The schema revision this code's migrations end at."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(current_app.config["MIGRATIONS_DIR"])).get_current_head()


def app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cbt-server")
    except PackageNotFoundError:
        return "dev"


def sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def database_kind() -> str:
    return db.engine.dialect.name


def shown_url(url: sa.URL) -> str:
    """A database URL for a manifest or a page: never its password."""
    return url.render_as_string(hide_password=True)


def sqlite_path(url: sa.URL) -> Path | None:
    return Path(url.database).resolve() if url.database and url.database != ":memory:" else None


# ---- taking a backup --------------------------------------------------------------------------


def take_backup(folder: Path | str, reason: str = "manual") -> dict[str, Any]:
    """Back the server's database up into ``folder`` (created 0700 if missing); returns the
    manifest, which is also written beside the file as ``<file>.json``."""
    folder = Path(folder).resolve()
    problem = folder_problem(folder, create=True)
    if problem is not None:
        raise BackupError("folder_unusable", f"cannot write backups into {folder}", problem[1])
    engine = db.engine
    kind = engine.dialect.name
    if kind not in EXTENSIONS:
        raise BackupError("unsupported_database", f"cannot back up a {kind} database")
    started, clock = now(), time.monotonic()
    target = _reserve(folder, started, EXTENSIONS[kind])
    partial = target.with_name(target.name + ".partial")
    try:
        if kind == "sqlite":
            manifest = _sqlite_backup(engine.url, partial)
        else:
            manifest = _pg_backup(engine, partial)
        os.chmod(partial, 0o600)
        os.replace(partial, target)
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    except (OSError, sqlite3.Error, sa.exc.SQLAlchemyError) as error:
        partial.unlink(missing_ok=True)
        raise BackupError("failed", "the backup failed", str(error)) from error
    manifest = {
        "format": FORMAT,
        "kind": kind,
        "file": target.name,
        "created_at": started.isoformat(),
        "created_local": to_local(started).isoformat(),  # type: ignore[union-attr]
        "reason": reason,
        **manifest,
        "size_bytes": target.stat().st_size,
        "sha256": sha256_of(target),
        "verified": True,
        "duration_seconds": round(time.monotonic() - clock, 3),
        "app_version": app_version(),
    }
    write_private_file(_manifest_path(target), json.dumps(manifest, indent=2) + "\n")
    return manifest


def _reserve(folder: Path, at: datetime, extension: str) -> Path:
    """A new file name with the server's local time (``cbt-20261123-150000.sqlite3``), its
    ``.partial`` created 0600 so that two backups in one second get two names."""
    stamp = to_local(at).strftime("%Y%m%d-%H%M%S")  # type: ignore[union-attr]
    for n in range(1, 1000):
        target = folder / f"cbt-{stamp}{'' if n == 1 else f'-{n}'}.{extension}"
        if target.exists():
            continue
        try:
            os.close(os.open(f"{target}.partial", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            continue
        return target
    raise BackupError("failed", f"no free backup file name in {folder}")


def _sqlite_backup(url: sa.URL, partial: Path) -> dict[str, Any]:
    source_path = sqlite_path(url)
    if source_path is None or not source_path.is_file():
        raise BackupError("database_missing", f"no SQLite database at {url.database}")
    # A connection of its own, read-only by pragma (mode=ro cannot open a WAL database whose
    # -shm it may not write); opening a missing file would have created it, hence the check.
    with closing(sqlite3.connect(source_path, timeout=30)) as source:
        source.execute("PRAGMA query_only = ON")
        with closing(sqlite3.connect(partial)) as copy:
            source.backup(copy)  # pages=-1: all in one step, one read transaction: consistent
            # One self-contained file: the copy leaves WAL mode (the server sets it again).
            copy.execute("PRAGMA journal_mode = DELETE")
    with closing(sqlite3.connect(f"file:{partial}?mode=ro", uri=True)) as copy:
        facts = _sqlite_facts(copy)
    if facts.integrity != "ok":
        raise BackupError(
            "copy_not_intact", "the copy failed PRAGMA integrity_check", facts.integrity or ""
        )
    wal = Path(f"{source_path}-wal")
    return {
        "source": str(source_path),
        "source_bytes": source_path.stat().st_size + (wal.stat().st_size if wal.exists() else 0),
        "schema_revision": facts.revision,
        "counts": facts.counts,
        "integrity": "ok",
    }


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name}_missing",
            f"{name} is not on PATH: install the PostgreSQL client tools of the server's version",
        )
    return found


def _libpq(url: sa.URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password, and an environment that carries it (so it
    never shows in the process list)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    dsn = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return dsn, env


def _run(code: str, command: list[str], env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        tail = " ".join(done.stderr.strip().splitlines()[-3:])
        raise BackupError(code, f"{Path(command[0]).name} failed (exit {done.returncode})", tail)
    return done.stdout


def _pg_backup(engine: sa.Engine, partial: Path) -> dict[str, Any]:
    pg_dump = _tool("pg_dump")
    pg_restore = _tool("pg_restore")
    dsn, env = _libpq(engine.url)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            # The dump reads the snapshot the counts are taken in: both are the same moment.
            snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
            facts = _sql_facts(conn, None)
            size = conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar()
            _run(
                "pg_dump_failed",
                [
                    pg_dump,
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    f"--file={partial}",
                    f"--dbname={dsn}",
                ],
                env,
            )
    _run("copy_not_intact", [pg_restore, "--list", str(partial)])
    return {
        "source": shown_url(engine.url),
        "source_bytes": int(size or 0),
        "schema_revision": facts.revision,
        "counts": facts.counts,
        "integrity": "pg_restore --list ok",
    }


# ---- the folder -------------------------------------------------------------------------------


def _manifest_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(_manifest_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def list_backups(folder: Path | str) -> list[Backup]:
    """The backups in ``folder``, newest first (none when it does not exist)."""
    folder = Path(folder)
    found = []
    with suppress(FileNotFoundError, NotADirectoryError, PermissionError):
        for path in folder.iterdir():
            match = NAME.match(path.name)
            if match is None or not path.is_file():
                continue
            manifest = read_manifest(path)
            stat = path.stat()
            created = _created_at(manifest) or datetime.fromtimestamp(stat.st_mtime, UTC)
            kind = "sqlite" if match.group(1) == "sqlite3" else "postgresql"
            found.append(Backup(path.name, path, stat.st_size, created, kind, manifest))
    return sorted(found, key=lambda b: (b.created_at, b.name), reverse=True)


def _created_at(manifest: dict[str, Any] | None) -> datetime | None:
    try:
        return datetime.fromisoformat(manifest["created_at"]) if manifest else None
    except (KeyError, TypeError, ValueError):
        return None


def find_backup(folder: Path | str, name: str) -> Backup | None:
    """The backup ``name`` in ``folder``; None for any other name (no path tricks)."""
    if not NAME.match(name):
        return None
    return next((b for b in list_backups(folder) if b.name == name), None)


def prune(
    folder: Path | str, keep: int | None = None, max_age_days: float | None = None
) -> list[str]:
    """Delete all but the ``keep`` newest backups, and those older than ``max_age_days`` (never
    the newest one); returns the names deleted."""
    backups = list_backups(folder)
    doomed = list(backups[keep:]) if keep is not None else []
    if max_age_days is not None:
        cutoff = now() - timedelta(days=max_age_days)
        doomed += [b for b in backups[1:] if b.created_at < cutoff and b not in doomed]
    for backup in doomed:
        backup.path.unlink(missing_ok=True)
        _manifest_path(backup.path).unlink(missing_ok=True)
    return [b.name for b in doomed]


# ---- restore ----------------------------------------------------------------------------------


@dataclass
class Check:
    """One check of a restore: ``ok`` None means it could not be made (no manifest)."""

    name: str
    ok: bool | None
    detail: str

    def line(self) -> str:
        mark = {True: "OK  ", False: "FAIL", None: "--  "}[self.ok]
        return f"{mark} {self.name}: {self.detail}"


@dataclass
class RestoreReport:
    source: Path
    target: str
    kind: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok is not False for c in self.checks)

    def lines(self) -> list[str]:
        head = f"restored {self.source.name} into {self.target}"
        return [head, *(c.line() for c in self.checks)]


@dataclass(frozen=True)
class Target:
    kind: str
    url: sa.URL
    #: the SQLite file to create
    path: Path | None = None
    #: the instance folder, when the target was given as one
    instance: Path | None = None


def restore_target(into: str) -> Target:
    """An instance folder (its ``cbt.sqlite3``), a ``sqlite:///`` URL or a PostgreSQL URL."""
    if "://" in into:
        url = sa.make_url(normalise_database_url(into))
        if url.get_backend_name() == "sqlite":
            path = sqlite_path(url)
            if path is None:
                raise BackupError("bad_target", f"{into} names no SQLite file")
            return Target("sqlite", sa.make_url(f"sqlite:///{path}"), path)
        if url.get_backend_name() == "postgresql":
            return Target("postgresql", url)
        raise BackupError("bad_target", f"cannot restore into a {url.get_backend_name()} database")
    folder = Path(into).resolve()
    path = folder / SQLITE_FILE
    return Target("sqlite", sa.make_url(f"sqlite:///{path}"), path, folder)


def restore(backup_file: Path | str, into: str, *, secret_key: str | None = None) -> RestoreReport:
    """Restore ``backup_file`` into an empty target (see :func:`restore_target`) and check the
    result: integrity, schema revision = this code's head, row counts = the manifest's.

    ``secret_key``: written to a new instance folder's ``secret_key`` if it has none, so the
    restored server accepts the exam cards printed by the old one (docs/backup.md)."""
    source = Path(backup_file).resolve()
    if not source.is_file():
        raise BackupError("backup_not_found", f"no backup file {source}")
    manifest = read_manifest(source)
    kind = (manifest or {}).get("kind") or ("postgresql" if source.suffix == ".dump" else "sqlite")
    target = restore_target(into)
    if target.kind != kind:
        raise BackupError("kind_mismatch", f"a {kind} backup cannot be restored into {target.kind}")
    report = RestoreReport(source, shown_url(target.url), kind)
    if manifest is not None:
        digest = sha256_of(source)
        if digest != manifest.get("sha256"):
            raise BackupError(
                "checksum_mismatch",
                f"{source.name} is not the file its manifest describes (damaged or changed)",
                f"sha256 {digest[:16]}…, manifest {str(manifest.get('sha256'))[:16]}…",
            )
        report.checks.append(Check("sha256", True, f"{digest[:16]}… as in the manifest"))
    else:
        report.checks.append(Check("sha256", None, "no manifest beside the file"))
    if kind == "sqlite":
        facts = _restore_sqlite(source, target.path)  # type: ignore[arg-type]
    else:
        facts = _restore_postgres(source, target.url)
    _compare(report, facts, manifest)
    if target.instance is not None and secret_key:
        key_file = target.instance / "secret_key"
        if not key_file.exists():
            write_private_file(key_file, secret_key + "\n")
    if report.ok:
        _audit_restore(target, source, manifest)
    return report


def _restore_sqlite(source: Path, target: Path) -> Facts:
    if (target.exists() and target.stat().st_size > 0) or Path(f"{target}-wal").exists():
        raise BackupError(
            "target_not_empty", f"{target} already holds a database: choose a new place"
        )
    try:
        with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as backup:
            facts = _sqlite_facts(backup)
            if facts.integrity != "ok":
                raise BackupError(
                    "not_a_backup",
                    f"{source.name} fails PRAGMA integrity_check",
                    facts.integrity or "",
                )
            private_folder(target.parent)
            with suppress(FileExistsError):  # an empty file may be there already
                os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            with closing(sqlite3.connect(target)) as restored:
                backup.backup(restored)
                restored.execute("PRAGMA journal_mode = WAL")
    except sqlite3.DatabaseError as error:
        raise BackupError(
            "not_a_backup", f"{source.name} is not a SQLite database backup", str(error)
        ) from error
    with closing(sqlite3.connect(target)) as restored:
        return _sqlite_facts(restored)


def _restore_postgres(source: Path, url: sa.URL) -> Facts:
    pg_restore = _tool("pg_restore")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = conn.exec_driver_sql(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
            ).scalar()
        if tables:
            raise BackupError(
                "target_not_empty",
                f"{shown_url(url)} already holds {tables} table(s): "
                "restore into a new, empty database",
            )
        dsn, env = _libpq(url)
        _run("not_a_backup", [pg_restore, "--list", str(source)])
        _run(
            "restore_failed",
            [
                pg_restore,
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                f"--dbname={dsn}",
                str(source),
            ],
            env,
        )
        with engine.connect() as conn:
            # pg_restore stopped at the first error (--exit-on-error): it ran through
            return _sql_facts(conn, "ok")
    finally:
        engine.dispose()


def _compare(report: RestoreReport, facts: Facts, manifest: dict[str, Any] | None) -> None:
    if facts.integrity is not None:
        report.checks.append(Check("integrity", facts.integrity == "ok", facts.integrity))
    head = head_revision()
    report.checks.append(
        Check(
            "schema revision",
            facts.revision == head,
            f"{facts.revision} (this code's head: {head})"
            + ("" if facts.revision == head else "; run `flask --app cbt_server db upgrade`"),
        )
    )
    if manifest is None or not isinstance(manifest.get("counts"), dict):
        report.checks.append(Check("row counts", None, "no manifest to compare with"))
        return
    expected = {k: int(v) for k, v in manifest["counts"].items()}
    differ = [
        f"{t} {facts.counts.get(t)} ≠ {n}" for t, n in expected.items() if facts.counts.get(t) != n
    ]
    shown = ", ".join(
        f"{t} {n}" for t, n in expected.items() if t in ("attempts", "responses", "users")
    )
    report.checks.append(
        Check(
            "row counts",
            not differ,
            "; ".join(differ) if differ else f"as in the manifest ({shown})",
        )
    )


def _audit_restore(target: Target, source: Path, manifest: dict[str, Any] | None) -> None:
    """The restored database records where it came from (its own audit chain goes on)."""
    from cbt_server import audit, create_app
    from cbt_server.db import write_transaction

    settings: dict[str, Any] = {
        "SQLALCHEMY_DATABASE_URI": target.url.render_as_string(hide_password=False),
        "INSTANCE_PATH": target.instance or current_app.instance_path,
        "CBT_CLOCK": current_app.extensions["cbt_clock"],
        "CBT_THROTTLE_RATE": 0,
    }
    if target.instance is None:
        settings["SECRET_KEY"] = current_app.config["SECRET_KEY"]
    restored = create_app(settings)
    try:
        with restored.app_context(), write_transaction():
            audit.record(
                "backup.restore",
                target=source.name,
                details={
                    "from": str(source),
                    "backup_created_at": (manifest or {}).get("created_at"),
                    "sha256": (manifest or {}).get("sha256"),
                },
            )
    finally:
        with restored.app_context():
            db.session.remove()
            db.engine.dispose()
