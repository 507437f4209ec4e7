"""Which sessions a proctor or admin may see and act on."""

from __future__ import annotations

from sqlalchemy import select

from cbt_server.models import ExamSession, SessionProctor, User, db


class NoAccess(Exception):
    """The session does not exist or is not the user's: both look the same (404)."""


def session_for(user: User, session_id: int) -> ExamSession:
    session = db.session.get(ExamSession, session_id)
    if session is None or not may_act_on(user, session_id):
        raise NoAccess(session_id)
    return session


def may_act_on(user: User, session_id: int) -> bool:
    if user.role == "admin":
        return True
    if user.role != "proctor":
        return False
    return (
        db.session.scalar(
            select(SessionProctor.user_id).where(
                SessionProctor.session_id == session_id, SessionProctor.user_id == user.id
            )
        )
        is not None
    )
