"""When a scheduled backup is due (pure: times in, a reason out).

- **During a session** (a session whose window ``starts_at <= now < ends_at`` contains now): every
  ``interval_minutes`` after the last good backup.
- **At a session's close**: once after its ``ends_at`` has passed, i.e. when a session ended
  after the last good backup started.
- After a failure the next try waits :data:`RETRY_AFTER`, so a full disk is not hammered every
  tick (and the audit log not flooded); a later good backup clears it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

#: the shortest wait after a failed backup before the scheduler tries again
RETRY_AFTER = timedelta(minutes=5)
INTERVAL = "interval"
CLOSE = "close"

Window = tuple[datetime, datetime]


def running(at: datetime, windows: Iterable[Window]) -> bool:
    """Whether any session's window contains ``at``."""
    return any(start <= at < end for start, end in windows)


def backup_due(
    at: datetime,
    windows: Iterable[Window],
    *,
    last_ok_at: datetime | None,
    last_failed_at: datetime | None,
    interval_minutes: int,
    at_close: bool,
) -> str | None:
    """:data:`CLOSE`, :data:`INTERVAL` or None (nothing due)."""
    windows = list(windows)
    failed_last = last_failed_at is not None and (last_ok_at is None or last_failed_at > last_ok_at)
    if failed_last and at - last_failed_at < RETRY_AFTER:  # type: ignore[operator]
        return None
    if at_close and any(
        end <= at and (last_ok_at is None or end > last_ok_at) for _start, end in windows
    ):
        return CLOSE
    if running(at, windows) and (
        last_ok_at is None or at - last_ok_at >= timedelta(minutes=interval_minutes)
    ):
        return INTERVAL
    return None
