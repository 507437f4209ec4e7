"""Server-side login records: Flask's cookie session alone cannot be revoked.

Every authenticated request needs the user and the proof that their login is still live; both come
from one query (:func:`load_live_user`), which also reads what the time limits of a login need
(:mod:`lifetime`: when it was opened and last seen, and the state of its attempt). The record's
``last_seen_at`` is kept coarsely (at most one small write a minute per login, through the write
path), never on every request.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, select, update

from cbt_server.accounts import lifetime
from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.models import Attempt, LoginSession, User, db

#: default of ``CBT_LOGIN_SEEN_SECONDS``
SEEN_THROTTLE = timedelta(seconds=lifetime.SEEN_SECONDS)


def open_login_session(user_id: int, ip: str | None, enrolment_id: int | None = None) -> str:
    """A new login record; a participant's card login belongs to its enrolment from the start."""
    at = now()
    record = LoginSession(
        id=secrets.token_urlsafe(32),
        user_id=user_id,
        created_at=at,
        last_seen_at=at,
        ip=ip,
        enrolment_id=enrolment_id,
    )
    db.session.add(record)
    return record.id


#: Built once: it runs before every authenticated request. The attempt of the login's enrolment
#: (unique per enrolment) comes with it for the participant's time limit.
_LIVE_USER = (
    select(
        User,
        LoginSession.last_seen_at,
        LoginSession.enrolment_id,
        LoginSession.created_at,
        Attempt.state,
        Attempt.finished_at,
    )
    .join(LoginSession, LoginSession.user_id == User.id)
    .outerjoin(Attempt, Attempt.enrolment_id == LoginSession.enrolment_id)
    .where(
        User.id == bindparam("user_id"),
        LoginSession.id == bindparam("session_id"),
        LoginSession.revoked_at.is_(None),
        # A deactivated account's logins end at once, even one the deactivation did not revoke.
        User.active.is_(True),
    )
)


@dataclass(frozen=True)
class LiveLogin:
    user: User
    last_seen_at: datetime
    #: the enrolment the login belongs to (None: not bound to one yet)
    enrolment_id: int | None
    #: why the login has ended by time ("idle", "absolute", "attempt_over"), None while it lives
    ended: str | None


def limits() -> lifetime.Limits:
    return lifetime.limits(current_app.config)


def load_live_user(session_id: str | None, user_id: int) -> LiveLogin | None:
    """The user of a known, not revoked login, and whether its time is up (one query)."""
    if not session_id:
        return None
    row = db.session.execute(_LIVE_USER, {"user_id": user_id, "session_id": session_id}).first()
    if row is None:
        return None
    user, last_seen, enrolment_id, created, state, finished = row
    why = lifetime.ended(user.role, created, last_seen, state, finished, now(), limits())
    return LiveLogin(user, last_seen, enrolment_id, why)


def bind_enrolment(session_id: str, enrolment_id: int) -> None:
    """From now on the login belongs to this enrolment (its token was accepted and the attempt
    started or resumed): a proctor's reset in another session no longer ends it. Inside a
    write transaction."""
    db.session.execute(
        update(LoginSession)
        .where(LoginSession.id == session_id, LoginSession.enrolment_id.is_(None))
        .values(enrolment_id=enrolment_id)
    )


def touch_due(last_seen: datetime) -> bool:
    seconds = current_app.config.get("CBT_LOGIN_SEEN_SECONDS") or SEEN_THROTTLE.seconds
    return now() - last_seen >= timedelta(seconds=float(seconds))


def touch_if_due(session_id: str, last_seen: datetime) -> None:
    """Record that the login is in use, at most once per ``CBT_LOGIN_SEEN_SECONDS``."""
    if not touch_due(last_seen):
        return
    at = now()
    throttle = timedelta(
        seconds=float(current_app.config.get("CBT_LOGIN_SEEN_SECONDS") or SEEN_THROTTLE.seconds)
    )
    with write_transaction():
        db.session.execute(
            update(LoginSession)
            .where(LoginSession.id == session_id, LoginSession.last_seen_at < at - throttle)
            .values(last_seen_at=at)
        )


def revoke(session_id: str) -> bool:
    """End the login (inside a write transaction); False when it had already ended."""
    result = db.session.execute(
        update(LoginSession)
        .where(LoginSession.id == session_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=now())
    )
    return bool(result.rowcount)


def revoke_enrolment(enrolment_id: int, user_id: int, keep_unbound: bool) -> int:
    """End the logins of one enrolment (a proctor's reset), and the person's logins not bound to
    any enrolment yet unless ``keep_unbound``; never a login of another enrolment. Returns how
    many logins ended."""
    bound = LoginSession.enrolment_id == enrolment_id
    scope = bound if keep_unbound else bound | LoginSession.enrolment_id.is_(None)
    result = db.session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None), scope)
        .values(revoked_at=now())
    )
    return int(result.rowcount or 0)


def revoke_all(user_id: int, keep: str | None = None) -> None:
    """End every login of the user (an admin's lock or reset), but ``keep`` (the login that
    changed its own password)."""
    query = update(LoginSession).where(
        LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(LoginSession.id != keep)
    db.session.execute(query.values(revoked_at=now()))
