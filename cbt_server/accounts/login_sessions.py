"""Server-side login records: Flask's cookie session alone cannot be revoked."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select, update

from cbt_server.clock import now
from cbt_server.models import LoginSession, db

SEEN_THROTTLE = timedelta(seconds=30)


def open_login_session(user_id: int, ip: str | None) -> str:
    at = now()
    record = LoginSession(
        id=secrets.token_urlsafe(32), user_id=user_id, created_at=at, last_seen_at=at, ip=ip
    )
    db.session.add(record)
    return record.id


def is_live(session_id: str | None, user_id: int) -> bool:
    """True when the login is known, belongs to the user and was not revoked."""
    if not session_id:
        return False
    record = db.session.get(LoginSession, session_id)
    if record is None or record.user_id != user_id or record.revoked_at is not None:
        return False
    at = now()
    if at - record.last_seen_at >= SEEN_THROTTLE:  # throttled: no write on every request
        record.last_seen_at = at
        db.session.commit()
    return True


def revoke(session_id: str) -> None:
    db.session.execute(
        update(LoginSession).where(LoginSession.id == session_id).values(revoked_at=now())
    )


def revoke_all(user_id: int) -> None:
    """End every login of the user (a proctor's reset, an admin's lock)."""
    db.session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=now())
    )


def live_count(user_id: int) -> int:
    return len(
        db.session.scalars(
            select(LoginSession.id).where(
                LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None)
            )
        ).all()
    )
