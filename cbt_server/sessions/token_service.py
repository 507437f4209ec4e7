"""The session token: lazy rotation every N minutes, and rotation at the proctor's request.

Rotation happens when someone needs the token (the proctor's screen, a participant typing it),
in a write transaction under a row lock, so several workers never rotate twice.
"""

from __future__ import annotations

from sqlalchemy import select

from cbt_server import audit
from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.models import ExamSession, User, db
from cbt_server.sessions.tokens import rotate, rotate_if_due, rotation_due


def current_token(session_id: int) -> ExamSession:
    """The session with a token that is not overdue (rotating it if it is)."""
    session = db.session.get(ExamSession, session_id)
    if session is not None and rotation_due(session, now()):
        with write_transaction():
            session = db.session.scalar(
                select(ExamSession).where(ExamSession.id == session_id).with_for_update()
            )
            if session is not None:
                rotate_if_due(session, now())
    return session  # type: ignore[return-value]


def rotate_now(actor: User, session: ExamSession, reason: str | None = None) -> ExamSession:
    with write_transaction():
        locked = db.session.scalar(
            select(ExamSession).where(ExamSession.id == session.id).with_for_update()
        )
        rotate(locked, now())
        audit.record("session.token_rotate", actor=actor, target=locked.code, reason=reason)
    return locked
