"""Is the PC still there? Coarse, cheap last-seen stamps on the attempt.

A PC sends a heartbeat every 15 s and a save on every change. Writing ``last_seen_at`` on each of
them would make every request a write, and SQLite serialises writes; so it is written at most
every :data:`SEEN_THROTTLE`, and a seat counts as disconnected only after
:data:`DISCONNECTED_AFTER` of silence (more than a heartbeat period plus the throttle). A stamp
alone is not a change the proctor's monitor must resend; coming back after a disconnection is.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cbt_server.models import Attempt, AttemptEvent, db

SEEN_THROTTLE = timedelta(seconds=20)
DISCONNECTED_AFTER = timedelta(seconds=45)
#: a heartbeat is kept as an attempt event (the connection history) at most this often
HEARTBEAT_EVENT_EVERY = timedelta(seconds=60)


def seen_due(attempt: Attempt, at: datetime, ip: str | None = None) -> bool:
    """Whether a request at ``at`` from ``ip`` has something to record."""
    if ip and attempt.last_ip != ip:
        return True
    return attempt.last_seen_at is None or at - attempt.last_seen_at >= SEEN_THROTTLE


def mark_seen(
    attempt: Attempt, at: datetime, ip: str | None = None, *, heartbeat: bool = False
) -> None:
    """Record the sign of life (inside a write transaction), when due."""
    if ip and attempt.last_ip != ip:
        attempt.last_ip = ip
    if attempt.last_seen_at is not None and at - attempt.last_seen_at < SEEN_THROTTLE:
        return
    if attempt.last_seen_at is None or at - attempt.last_seen_at > DISCONNECTED_AFTER:
        attempt.updated_at = at  # back after a disconnection: the monitor must show it
    attempt.last_seen_at = at
    if heartbeat and (
        attempt.last_heartbeat_event_at is None
        or at - attempt.last_heartbeat_event_at >= HEARTBEAT_EVENT_EVERY
    ):
        attempt.last_heartbeat_event_at = at
        db.session.add(AttemptEvent(attempt_id=attempt.id, kind="heartbeat", at=at))
