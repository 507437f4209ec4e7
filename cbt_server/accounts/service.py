"""Account use cases."""

from __future__ import annotations

from sqlalchemy import or_, select

from cbt_server.clock import now
from cbt_server.models import ROLES, Enrolment, User, db


class AccountError(ValueError):
    """A request about an account that cannot be carried out; the message says why."""


def authenticate(login: str, password: str) -> User | None:
    """The active user whose username or NIP is ``login`` and whose password matches."""
    login = login.strip()
    if not login or not password:
        return None
    by_number = select(Enrolment.user_id).where(Enrolment.participant_number == login.upper())
    user = db.session.scalars(
        select(User).where(or_(User.username == login, User.nip == login, User.id.in_(by_number)))
    ).first()
    if user is None or not user.active or not user.check_password(password):
        return None
    return user


def create_user(
    username: str,
    password: str,
    role: str,
    full_name: str,
    *,
    nip: str | None = None,
    position_code: str | None = None,
    unit: str | None = None,
) -> User:
    """Add a user to the current transaction (the caller commits)."""
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(f"username {username!r} is already taken")
    user = User(
        username=username,
        role=role,
        full_name=full_name,
        nip=nip,
        position_code=position_code,
        unit=unit,
        created_at=now(),
    )
    user.set_password(password)
    db.session.add(user)
    return user
