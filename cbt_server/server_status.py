"""What an admin checks before and during an exam day, in one read (``/admin/status``).

The database (kind, size, schema revision against the code's), the last backup, free disk at
the database and at the backup folder, the server's time and zone, the gunicorn workers, the
server clock's last stamp, and the sessions and attempts running now. Reads only.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from cbt_server.backup import service as backups
from cbt_server.backup.scheduler import session_windows
from cbt_server.backup.settings import folder_of, load_settings, load_state
from cbt_server.clock import now
from cbt_server.delivery.lifecycle import AttemptState
from cbt_server.localtime import to_local
from cbt_server.models import Attempt, ServerClock, db

#: free space under which the page warns (a day of backups, the WAL's growth)
LOW_DISK_BYTES = 1024**3


@dataclass(frozen=True)
class Disk:
    what: str  # database | backups
    path: str
    free_bytes: int | None

    @property
    def low(self) -> bool:
        return self.free_bytes is not None and self.free_bytes < LOW_DISK_BYTES


@dataclass(frozen=True)
class ServerStatus:
    server_time: datetime
    time_zone: str
    app_version: str
    database_kind: str
    database: str
    database_bytes: int | None
    schema_revision: str | None
    code_revision: str | None
    backup_scheduled: bool
    backup_folder: str
    last_backup_at: datetime | None
    last_backup_age_seconds: int | None
    last_backup_file: str | None
    #: the last try failed (no good backup since): its time and message
    backup_failing: bool
    last_failure_at: datetime | None
    last_failure: str | None
    disks: tuple[Disk, ...]
    workers_configured: int | None
    workers_live: int | None
    server_clock_at: datetime | None
    sessions_running: int
    attempts_in_progress: int
    attempts_paused: int

    @property
    def schema_current(self) -> bool:
        return self.schema_revision == self.code_revision

    @property
    def backup_ok(self) -> bool:
        return self.last_backup_at is not None and not self.backup_failing

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["disks"] = [asdict(d) | {"low": d.low} for d in self.disks]
        data["schema_current"] = self.schema_current
        data["backup_ok"] = self.backup_ok
        data["low_disk_bytes"] = LOW_DISK_BYTES
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()}


def server_status() -> ServerStatus:
    at = now()
    engine = db.engine
    kind = engine.dialect.name
    settings, state = load_settings(), load_state()
    folder = folder_of(settings)
    last_at = state.last_ok_at
    failure = state.last_failure or {}
    attempts = dict(
        db.session.execute(
            select(Attempt.state, func.count())
            .where(Attempt.state.in_([AttemptState.IN_PROGRESS, AttemptState.PAUSED]))
            .group_by(Attempt.state)
        ).all()
    )
    database_file = backups.sqlite_path(engine.url) if kind == "sqlite" else None
    disks = [Disk("backups", str(folder), _free(folder))]
    if database_file is not None:
        disks.insert(0, Disk("database", str(database_file.parent), _free(database_file.parent)))
    workers = current_app.config.get("CBT_GUNICORN_WORKERS")
    return ServerStatus(
        server_time=to_local(at),  # type: ignore[arg-type]
        time_zone=current_app.config.get("CBT_TIMEZONE", "Asia/Jakarta"),
        app_version=backups.app_version(),
        database_kind=kind,
        database=backups.shown_url(engine.url),
        database_bytes=_database_bytes(kind, database_file),
        schema_revision=_schema_revision(),
        code_revision=backups.head_revision(),
        backup_scheduled=settings.scheduled,
        backup_folder=str(folder),
        last_backup_at=last_at,
        last_backup_age_seconds=int((at - last_at).total_seconds()) if last_at else None,
        last_backup_file=(state.last_ok or {}).get("file"),
        backup_failing=state.failing,
        last_failure_at=state.last_failed_at,
        last_failure=failure.get("message"),
        disks=tuple(disks),
        workers_configured=int(workers) if workers else None,
        workers_live=_live_workers() if workers else None,
        server_clock_at=db.session.scalar(select(ServerClock.alive_at)),
        # ended after now, started by now: running
        sessions_running=len(session_windows(at, at)),
        attempts_in_progress=attempts.get(AttemptState.IN_PROGRESS.value, 0),
        attempts_paused=attempts.get(AttemptState.PAUSED.value, 0),
    )


def _schema_revision() -> str | None:
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        db.session.rollback()
        return None


def _database_bytes(kind: str, path: Path | None) -> int | None:
    if kind == "postgresql":
        from sqlalchemy import text

        return db.session.execute(text("SELECT pg_database_size(current_database())")).scalar()
    if path is None:
        return None
    return sum(
        p.stat().st_size for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
    )


def _free(path: Path) -> int | None:
    """Free bytes on the file system of ``path`` (or of its nearest existing parent)."""
    for folder in (path, *path.parents):
        if folder.exists():
            try:
                return shutil.disk_usage(folder).free
            except OSError:
                return None
    return None


def _live_workers() -> int | None:
    """gunicorn's live workers: the processes whose parent is this worker's parent (the
    master forks nothing else). Linux only; None elsewhere."""
    master = os.getppid()
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return None
    count = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: the fields follow the last ")"
        if int(stat.rsplit(")", 1)[1].split()[1]) == master:
            count += 1
    return count
