"""Running backups: one at a time, recorded, audited; and the schedule inside the server.

Every backup (the scheduler's, the admin's button, ``flask backup now``) runs under an advisory
file lock, ``instance/backup.lock`` (``flock``): one backup at a time per instance, whichever
process or gunicorn worker asks. The scheduler's turn never waits: each worker's thread wakes
every ``CBT_BACKUP_TICK_SECONDS``, tries the lock, and a worker that finds it taken skips the
tick; the worker that gets it reads the last result (``backup-state.json``) under the lock,
so a backup that another worker just made is seen and not made again.

The thread is started next to the sweeper in each gunicorn worker (``gunicorn.conf.py``,
``post_worker_init``) when ``CBT_BACKUP_SCHEDULER`` is on (the default), never by
:func:`cbt_server.create_app`: the CLI and the tests build apps that must not start threads.
It is a thread of its own, not a step of the sweeper's loop: a backup of a large database takes
seconds, and the sweeper's loop stamps the server clock every 2 s (a late stamp would look like
an outage, cbt_server/delivery/outage.py).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from cbt_server import audit
from cbt_server.backup import schedule, service
from cbt_server.backup.service import BackupError
from cbt_server.backup.settings import (
    Settings,
    folder_of,
    instance_path,
    load_settings,
    load_state,
    save_state,
)
from cbt_server.clock import now
from cbt_server.config import flag
from cbt_server.db import served_work, write_transaction
from cbt_server.models import ExamSession, User, db

log = logging.getLogger(__name__)

LOCK_FILE = "backup.lock"


class Busy(BackupError):
    """Another backup of this instance is running."""

    def __init__(self) -> None:
        super().__init__("busy", "another backup is running; try again in a moment")


@contextmanager
def backup_turn(wait: bool = False) -> Iterator[None]:
    """Hold the instance's backup lock; :class:`Busy` at once when ``wait`` is False and it
    is taken. A new open file each time: ``flock`` locks belong to the open file, so two turns
    exclude each other even in one process."""
    path = instance_path() / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise Busy() from None
        yield
    finally:
        os.close(fd)  # releases the lock


def run_backup(
    reason: str,
    *,
    actor: User | None = None,
    actor_label: str | None = None,
    folder: Path | str | None = None,
    wait: bool = False,
) -> dict[str, Any]:
    """Take a backup now (into ``folder``, else the configured one), keep the configured
    number in that folder, record the result and audit it. Returns the manifest; raises
    :class:`BackupError` (recorded and audited too) or :class:`Busy`."""
    settings = load_settings()
    target = Path(folder).resolve() if folder else folder_of(settings)
    with backup_turn(wait):
        return _run_locked(settings, target, reason, actor, actor_label)


def _run_locked(
    settings: Settings, target: Path, reason: str, actor: User | None, actor_label: str | None
) -> dict[str, Any]:
    state = load_state()
    try:
        manifest = service.take_backup(target, reason)
    except BackupError as error:
        state.last_failure = {
            "at": now().isoformat(),
            "reason": reason,
            "folder": str(target),
            "code": error.code,
            "message": str(error),
        }
        save_state(state)
        _audit(
            "backup.failed",
            actor,
            actor_label,
            str(target),
            reason=reason,
            code=error.code,
            message=str(error),
        )
        log.error("backup into %s failed: %s", target, error)
        raise
    # The retention applies to the configured folder only (not to a one-off --to folder).
    pruned = service.prune(target, keep=settings.keep) if target == folder_of(settings) else []
    state.last_ok = {
        "at": manifest["created_at"],
        "reason": reason,
        "file": str(target / manifest["file"]),
        "size_bytes": manifest["size_bytes"],
        "verified": manifest["verified"],
    }
    save_state(state)
    _audit(
        "backup.create",
        actor,
        actor_label,
        manifest["file"],
        reason=reason,
        folder=str(target),
        size_bytes=manifest["size_bytes"],
        sha256=manifest["sha256"],
        schema_revision=manifest["schema_revision"],
        pruned=pruned,
    )
    return manifest


def _audit(action: str, actor: User | None, label: str | None, target: str, **details: Any) -> None:
    try:
        with write_transaction():
            audit.record(action, actor=actor, actor_label=label, target=target, details=details)
    except Exception:  # the backup itself is on disk; a busy database must not hide that
        log.exception("could not audit %s of %s", action, target)


def prune_now(
    keep: int | None, max_age_days: float | None, *, actor_label: str = "cli"
) -> list[str]:
    """Prune the configured folder (audited); defaults to the configured retention."""
    settings = load_settings()
    folder = folder_of(settings)
    if keep is None and max_age_days is None:
        keep = settings.keep
    with backup_turn(wait=True):
        removed = service.prune(folder, keep=keep, max_age_days=max_age_days)
    _audit(
        "backup.prune",
        None,
        actor_label,
        str(folder),
        keep=keep,
        max_age_days=max_age_days,
        removed=removed,
    )
    return removed


# ---- the schedule -----------------------------------------------------------------------------


def session_windows(at: datetime, since: datetime | None) -> list[schedule.Window]:
    """(starts_at, ends_at) of the sessions running at ``at`` or ended after ``since`` (the last
    good backup; a day back when there is none)."""
    horizon = min(since or at - timedelta(days=1), at)
    return [
        (starts, ends)
        for starts, ends in db.session.execute(
            select(ExamSession.starts_at, ExamSession.ends_at).where(
                ExamSession.starts_at <= at, ExamSession.ends_at > horizon
            )
        )
    ]


def tick(app: Flask) -> str:
    """One look at the schedule: ``off`` (not set up), ``busy`` (another worker's turn),
    ``idle`` (nothing due), ``failed``, or the reason of the backup made (``interval`` /
    ``close``)."""
    with app.app_context(), served_work():
        try:
            return _tick()
        finally:
            db.session.remove()


def _tick() -> str:
    settings = load_settings()
    if not settings.scheduled:
        return "off"
    try:
        with backup_turn(wait=False):
            state = load_state()
            at = now()
            reason = schedule.backup_due(
                at,
                session_windows(at, state.last_ok_at),
                last_ok_at=state.last_ok_at,
                last_failed_at=state.last_failed_at,
                interval_minutes=settings.interval_minutes,
                at_close=settings.at_close,
            )
            db.session.commit()  # end the read before the backup: nothing held meanwhile
            if reason is None:
                return "idle"
            try:
                _run_locked(settings, folder_of(settings), reason, None, "server")
            except BackupError:
                return "failed"
            return reason
    except Busy:
        return "busy"


def start_scheduler(app: Flask, interval: float | None = None) -> threading.Thread | None:
    """The scheduler's thread in this worker, or None when ``CBT_BACKUP_SCHEDULER`` is off."""
    from cbt_server.delivery.sweeper import every

    if not flag(app.config.get("CBT_BACKUP_SCHEDULER", True)):
        return None

    def _step() -> None:
        done = tick(app)
        if done in (schedule.INTERVAL, schedule.CLOSE):
            log.info("scheduled backup (%s) made", done)

    seconds = float(interval or app.config.get("CBT_BACKUP_TICK_SECONDS", 30))
    return every("cbt-backup-scheduler", seconds, _step)
