"""A participant's login ended from elsewhere (a proctor's reset login) while a PC still holds
its cookie: that PC is told so, in words and with its own error code, on every later request.

The cookie session of a revoked login is emptied on its first request after the end
(``auth._check_login_session``) and keeps one mark, the role of the login, so that the PC's later
requests - which no longer carry a CSRF token in the session - are answered "your login was
ended by the proctor" (401 ``login_ended``, docs/exam-api.md) rather than "CSRF session token is
missing". Staff logins ended by an admin get the plain ``not_logged_in``.

A login whose time is up (``accounts/lifetime.py``) is ended the same way, with its own mark:
pages send the browser to the login page saying so, the API answers 401 ``login_expired``.
"""

from __future__ import annotations

from flask import flash, session
from flask_login import current_user, logout_user
from sqlalchemy import select

MARK = "login_ended"
#: set when the login ended because its time was up
TIMED_OUT = "login_timed_out"


def _role(user_id: object) -> str | None:
    from cbt_server.models import User, db

    try:
        uid = int(str(user_id))
    except ValueError:
        return None
    return db.session.scalar(select(User.role).where(User.id == uid))


def forget_ended_login(role: str | None = None, *, timed_out: bool = False) -> None:
    """Empty the cookie session of a revoked login, keeping the mark (one query, this once,
    unless the role is known). A login whose time is up leaves the login page a message."""
    role = role or _role(session.get("_user_id"))
    logout_user()
    session.clear()
    session[MARK] = role or "unknown"
    if timed_out:
        session[TIMED_OUT] = True
        from cbt_server.web.messages import delivery_message

        flash(delivery_message("login_expired"), "error")


def participant_login_ended() -> bool:
    """This request comes from a PC whose participant login was ended elsewhere."""
    mark = session.get(MARK)
    if mark is None and "_user_id" in session and not current_user.is_authenticated:
        mark = _role(session.get("_user_id"))  # revoked, and not yet emptied by this request
    return mark == "participant"


def not_logged_in_code() -> str:
    """``login_expired`` for a login whose time was up, ``login_ended`` for a participant login
    ended elsewhere, else ``not_logged_in``."""
    if session.get(TIMED_OUT):
        return "login_expired"
    return "login_ended" if participant_login_ended() else "not_logged_in"
