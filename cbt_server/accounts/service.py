"""Account use cases."""

from __future__ import annotations

from sqlalchemy import or_, select

from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.limits import budgets
from cbt_server.models import ROLES, Enrolment, User, db


class AccountError(ValueError):
    """A request about an account that cannot be carried out; the message says why."""


def find_account(login: str) -> User | None:
    """The user whose username, NIP or participant number is ``login``."""
    login = login.strip()
    if not login:
        return None
    by_number = select(Enrolment.user_id).where(Enrolment.participant_number == login.upper())
    return db.session.scalars(
        select(User).where(or_(User.username == login, User.nip == login, User.id.in_(by_number)))
    ).first()


def authenticate(login: str, password: str) -> User | None:
    """The active user whose username or NIP is ``login`` and whose password matches."""
    user = find_account(login)
    if user is None or not password or not user.active or not user.check_password(password):
        return None
    return user


def log_in(login: str, password: str, address: str | None) -> User | None:
    """Check a login within the failed-login budgets of the account and of the address.

    Raises :class:`budgets.OverBudget` before any password is checked when either budget is
    spent; returns the user, or None after counting the failure against both.
    """
    at = now()
    user = find_account(login)
    account_key = f"user:{user.id}" if user is not None else f"login:{login.strip().lower()}"
    address_key = address or "unknown"
    budgets.check(budgets.FAILED_LOGINS_PER_ACCOUNT, account_key, at)
    budgets.check(budgets.FAILED_LOGINS_PER_ADDRESS, address_key, at)
    if user is not None and password and user.active and user.check_password(password):
        return user
    with write_transaction():
        budgets.spend(budgets.FAILED_LOGINS_PER_ACCOUNT, account_key, at)
        budgets.spend(budgets.FAILED_LOGINS_PER_ADDRESS, address_key, at)
    return None


def forget_failed_logins(user_id: int) -> None:
    """A successful login or a proctor's reset clears the account's failures (in a write
    transaction); the address keeps its count."""
    budgets.clear(budgets.FAILED_LOGINS_PER_ACCOUNT, f"user:{user_id}")


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
