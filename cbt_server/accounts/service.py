"""Account use cases."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import or_, select

from cbt_server import audit, commit_group
from cbt_server.accounts import login_sessions
from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.limits import budgets
from cbt_server.models import ROLES, Enrolment, User, db

#: longest login name kept in the audit row of a failed login (the column holds 200)
_TRIED_MAX = 100


class AccountError(ValueError):
    """A request about an account that cannot be carried out; the message says why."""


@dataclass(frozen=True)
class Login:
    """Who logged in, and the enrolment the login belongs to (None: chosen by the token)."""

    user: User
    enrolment_id: int | None = None
    #: whether the account has failed logins counted (only then is there something to clear)
    failures_counted: bool = True


def find_account(login: str) -> tuple[User | None, Enrolment | None]:
    """The user whose username, NIP or participant number is ``login``; with the enrolment when
    it is a participant number (printed on one enrolment's exam card)."""
    login = login.strip()
    if not login:
        return None, None
    user = db.session.scalars(
        select(User).where(or_(User.username == login, User.nip == login))
    ).first()
    if user is not None:
        return user, None
    enrolment = db.session.scalar(
        select(Enrolment).where(Enrolment.participant_number == login.upper())
    )
    if enrolment is None:
        return None, None
    return db.session.get(User, enrolment.user_id), enrolment


def check_login(user: User | None, enrolment: Enrolment | None, password: str) -> Login | None:
    """The login that ``password`` opens, or None (docs/exam-credentials.md has the rules).

    - a participant number opens only its enrolment, with that enrolment's card password;
    - a participant's NIP or username opens, with the card password of one of their enrolments,
      that enrolment; with the person's own password (accounts made by an admin or the command
      line) or a password shared by several of their cards, no enrolment yet: the session
      token the participant enters chooses among their sessions open now;
    - staff log in with their own password.
    """
    if user is None or not password or not user.active:
        return None
    if enrolment is not None:
        if user.role == "participant" and enrolment.check_password(password):
            return Login(user, enrolment.id)
        return None
    if user.check_password(password):
        return Login(user)
    if user.role != "participant":
        return None
    cards = db.session.scalars(
        select(Enrolment).where(Enrolment.user_id == user.id, Enrolment.password_hash.is_not(None))
    ).all()
    matching = [card.id for card in cards if card.check_password(password)]
    if not matching:
        return None
    return Login(user, matching[0] if len(matching) == 1 else None)


def authenticate(login: str, password: str) -> User | None:
    """The active user whose username, NIP or participant number is ``login`` and whose
    password (or card password) matches."""
    found = check_login(*find_account(login), password)
    return found.user if found is not None else None


def log_in(login: str, password: str, address: str | None) -> Login | None:
    """Check a login within the failed-login budgets of the account and of the address.

    Raises :class:`budgets.OverBudget` before any password is checked when either budget is
    spent; returns the login, or None after counting the failure against both and auditing it
    (the name tried and the address, never the password) in the same transaction.
    """
    at = now()
    user, enrolment = find_account(login)
    account_key = f"user:{user.id}" if user is not None else f"login:{login.strip().lower()}"
    address_key = address or "unknown"
    counted = budgets.check(budgets.FAILED_LOGINS_PER_ACCOUNT, account_key, at)
    budgets.check(budgets.FAILED_LOGINS_PER_ADDRESS, address_key, at)
    found = check_login(user, enrolment, password)
    if found is not None:
        return replace(found, failures_counted=counted)
    with write_transaction():
        budgets.spend(budgets.FAILED_LOGINS_PER_ACCOUNT, account_key, at)
        budgets.spend(budgets.FAILED_LOGINS_PER_ADDRESS, address_key, at)
        audit.record(
            "login.failed",
            actor_label="anonymous",
            target=login.strip()[:_TRIED_MAX],
            details={"address": address},
        )
    return None


def start_login(found: Login, address: str | None) -> str:
    """Open the login record of a checked login, clear the account's failed logins and audit
    it, in one write transaction. Returns the login record's id."""
    user = found.user
    # Read before the write turn: its opening commit expires the loaded user, and a room logging
    # in together queues on that turn (docs/benchmarks.md, "The way in").
    actor = audit.Actor(user.id, user.username)
    details = {"address": address, "role": user.role}
    if found.enrolment_id is not None:
        details["enrolment_id"] = found.enrolment_id
    opened: list[str] = []

    def write() -> bool:
        opened.append(login_sessions.open_login_session(actor.id, address, found.enrolment_id))
        if found.failures_counted:
            forget_failed_logins(actor.id)
        audit.record("login", actor=actor, target=actor.username, details=details)
        return True

    commit_group.shared_write(write)
    return opened[0]


def log_out(user: User, session_id: str | None, address: str | None) -> None:
    """End the login record and audit the logout."""
    with write_transaction():
        if session_id:
            login_sessions.revoke(session_id)
        audit.record("logout", actor=user, target=user.username, details={"address": address})


def end_timed_out_login(user: User, session_id: str, why: str, address: str | None) -> None:
    """Revoke a login whose time is up (:mod:`lifetime`) and audit it, once: a request racing
    this one finds it revoked already and writes nothing."""
    with write_transaction():
        if login_sessions.revoke(session_id):
            audit.record(
                "login.timeout",
                actor=user,
                target=user.username,
                details={"reason": why, "address": address},
            )


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


def change_identity(
    actor: User | None,
    nip: str,
    *,
    reason: str,
    full_name: str | None = None,
    position_code: str | None = None,
    unit: str | None = None,
) -> dict[str, tuple[str | None, str | None]]:
    """Change a person's name, position or unit: an admin's action (``actor`` None: the command
    line), audited with the reason and the values before and after. A roster import never does
    this (docs/exam-credentials.md). Returns the changed fields as (before, after)."""
    from cbt_server import audit
    from cbt_server.models import Position

    if actor is not None and actor.role != "admin":
        raise AccountError("only an admin changes a person's identity")
    reason = reason.strip()
    if len(reason) < 3:
        raise AccountError("give the reason for the change (--reason)")
    with write_transaction():
        user = db.session.scalar(select(User).where(User.nip == nip.strip()))
        if user is None:
            raise AccountError(f"no person with NIP {nip!r}")
        if position_code is not None and db.session.get(Position, position_code) is None:
            raise AccountError(f"position {position_code!r} is not in the job standards")
        wanted = {"full_name": full_name, "position_code": position_code, "unit": unit}
        changed = {
            name: (getattr(user, name), value)
            for name, value in wanted.items()
            if value is not None and value.strip() and value.strip() != getattr(user, name)
        }
        for name, (_before, after) in changed.items():
            setattr(user, name, after.strip())  # type: ignore[union-attr]
        audit.record(
            "person.identity",
            actor=actor,
            target=user.nip,
            reason=reason,
            details={name: {"before": b, "after": a} for name, (b, a) in changed.items()},
        )
    return changed
