"""Staff accounts: an admin's use cases (create, edit, deactivate and reactivate, reset a password,
import a file, limit an assessor), the first admin, and a staff member's own password change.

Every change is audited in its own write transaction. Passwords the server makes are returned
once (:class:`Issued`) for the page to show; only their hashes are stored, and the account must
choose its own at the next login (``must_change_password``). Participants are not staff: their
passwords are their enrolments' exam cards (docs/exam-credentials.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select

from cbt_server import audit
from cbt_server.accounts import login_sessions, policy
from cbt_server.accounts.service import AccountError, create_user, forget_failed_logins
from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.limits import budgets
from cbt_server.models import AssessorScope, ExamSession, User, db
from cbt_server.tabular import RowProblem, TableError, data_rows, map_columns, read_table

STAFF_ROLES = ("proctor", "assessor", "admin")
USERNAME = re.compile(r"^[a-z][a-z0-9._-]{2,63}$")
NAME_MAX = 200
UNIT_MAX = 200


class StaffError(AccountError):
    """A refused request; ``code`` says why (the pages word it), ``values`` fill the sentence."""

    def __init__(self, code: str, **values: object) -> None:
        super().__init__(code)
        self.code = code
        self.values = values


@dataclass(frozen=True)
class Issued:
    """A password the server made, to be shown once and never stored in clear."""

    username: str
    full_name: str
    role: str
    password: str


@dataclass(frozen=True)
class StaffLine:
    id: int
    username: str
    full_name: str
    role: str
    active: bool
    can_create_sessions: bool
    must_change_password: bool
    demo: bool
    #: an assessor's limits: units, and the codes of sessions (both empty: sees everyone)
    scope_units: tuple[str, ...] = ()
    scope_sessions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scope:
    units: tuple[str, ...] = ()
    session_ids: tuple[int, ...] = ()
    session_codes: tuple[str, ...] = field(default=(), compare=False)


# ---- reading ---------------------------------------------------------------------------------


def staff_lines() -> list[StaffLine]:
    """Every staff account (active first, then by role and name) with assessors' limits."""
    scopes = scopes_of(None)
    users = db.session.scalars(
        select(User)
        .where(User.role.in_(STAFF_ROLES))
        .order_by(User.active.desc(), User.role, User.full_name, User.id)
    )
    return [
        StaffLine(
            u.id,
            u.username,
            u.full_name,
            u.role,
            u.active,
            u.can_create_sessions,
            u.must_change_password,
            u.demo,
            scopes.get(u.id, Scope()).units,
            scopes.get(u.id, Scope()).session_codes,
        )
        for u in users
    ]


def scopes_of(user_id: int | None) -> dict[int, Scope]:
    """Assessors' limits by user id: one user's, or everyone's (``None``)."""
    query = (
        select(
            AssessorScope.user_id, AssessorScope.unit, AssessorScope.session_id, ExamSession.code
        )
        .outerjoin(ExamSession, ExamSession.id == AssessorScope.session_id)
        .order_by(AssessorScope.unit, ExamSession.code)
    )
    if user_id is not None:
        query = query.where(AssessorScope.user_id == user_id)
    found: dict[int, tuple[list[str], list[int], list[str]]] = {}
    for uid, unit, session_id, code in db.session.execute(query):
        units, ids, codes = found.setdefault(uid, ([], [], []))
        if unit is not None:
            units.append(unit)
        if session_id is not None:
            ids.append(session_id)
            codes.append(code)
    return {
        uid: Scope(tuple(units), tuple(ids), tuple(codes))
        for uid, (units, ids, codes) in found.items()
    }


def staff_account(user_id: int) -> User | None:
    """The staff account with this id (never a participant)."""
    user = db.session.get(User, user_id)
    return user if user is not None and user.role in STAFF_ROLES else None


def has_active_admin() -> bool:
    """Whether an active admin exists who is not the demo's (the first run asks for one)."""
    return (
        db.session.scalar(
            select(User.id).where(User.role == "admin", User.active.is_(True), User.demo.is_(False))
        )
        is not None
    )


def active_demo_accounts() -> list[str]:
    """User names of the demo's accounts that can still log in (with passwords once printed)."""
    return list(
        db.session.scalars(
            select(User.username)
            .where(User.demo.is_(True), User.active.is_(True))
            .order_by(User.username)
        )
    )


# ---- checks ----------------------------------------------------------------------------------


def clean_username(raw: str) -> str:
    """The user name as stored (trimmed, lower case); :class:`StaffError` when not usable."""
    username = (raw or "").strip().lower()
    if not USERNAME.match(username):
        raise StaffError("username_invalid", username=raw.strip())
    return username


def _username_free(username: str) -> None:
    taken = db.session.scalar(select(User.id).where(func.lower(User.username) == username))
    if taken is not None:
        raise StaffError("username_taken", username=username)


def _clean_name(raw: str) -> str:
    name = " ".join((raw or "").split())
    if not name:
        raise StaffError("name_missing")
    if len(name) > NAME_MAX:
        raise StaffError("name_too_long", limit=NAME_MAX)
    return name


def _check_role(role: str) -> None:
    if role not in STAFF_ROLES:
        raise StaffError("role_invalid", role=role)


def check_new_password(password: str, username: str) -> None:
    """:class:`StaffError` with the policy's code when ``password`` may not be chosen."""
    found = policy.problem(password, username)
    if found is not None:
        raise StaffError(found, length=policy.MIN_LENGTH)


def _account(user_id: int) -> User:
    user = staff_account(user_id)
    if user is None:
        raise StaffError("not_found")
    return user


def _keeps_an_admin(actor: User, user: User, *, stays_admin: bool) -> None:
    """An admin never deactivates or demotes themselves: the acting admin stays, so the last
    active admin can never be removed."""
    if user.id == actor.id and not stays_admin:
        raise StaffError("self_admin")


# ---- changes ---------------------------------------------------------------------------------


def create_staff(
    actor: User, username: str, full_name: str, role: str, can_create_sessions: bool = False
) -> Issued:
    """A new staff account with a one-time password, to be changed at its first login."""
    username, full_name = clean_username(username), _clean_name(full_name)
    _check_role(role)
    password = policy.one_time_password()
    with write_transaction():
        _username_free(username)
        user = _new_account(username, password, role, full_name, can_create_sessions)
        audit.record(
            "staff.create",
            actor=actor,
            target=username,
            details={"role": role, "can_create_sessions": user.can_create_sessions},
        )
    return Issued(username, full_name, role, password)


def _new_account(
    username: str, password: str, role: str, full_name: str, can_create_sessions: bool
) -> User:
    user = create_user(username, password, role, full_name)
    user.can_create_sessions = role == "proctor" and can_create_sessions
    user.must_change_password = True
    db.session.flush()
    return user


def update_staff(
    actor: User, user_id: int, full_name: str, role: str, can_create_sessions: bool
) -> dict[str, tuple[object, object]]:
    """Change an account's name, role or right to create sessions; returns what changed as
    (before, after). An assessor who becomes another role loses their limits."""
    full_name = _clean_name(full_name)
    _check_role(role)
    with write_transaction():
        user = _account(user_id)
        _keeps_an_admin(actor, user, stays_admin=role == "admin")
        wanted = {
            "full_name": full_name,
            "role": role,
            "can_create_sessions": role == "proctor" and can_create_sessions,
        }
        changed = {
            name: (getattr(user, name), value)
            for name, value in wanted.items()
            if getattr(user, name) != value
        }
        for name, (_before, after) in changed.items():
            setattr(user, name, after)
        if "role" in changed and role != "assessor":
            db.session.execute(delete(AssessorScope).where(AssessorScope.user_id == user.id))
        if changed:
            audit.record(
                "staff.update",
                actor=actor,
                target=user.username,
                details={name: {"before": b, "after": a} for name, (b, a) in changed.items()},
            )
    return changed


def deactivate(actor: User, user_id: int) -> User:
    """The account can no longer log in, and its live logins end at their next request."""
    with write_transaction():
        user = _account(user_id)
        if not user.active:
            raise StaffError("already_inactive", username=user.username)
        _keeps_an_admin(actor, user, stays_admin=False)
        user.active = False
        login_sessions.revoke_all(user.id)
        audit.record("staff.deactivate", actor=actor, target=user.username)
    return user


def reactivate(actor: User, user_id: int) -> User:
    with write_transaction():
        user = _account(user_id)
        if user.active:
            raise StaffError("already_active", username=user.username)
        user.active = True
        audit.record("staff.reactivate", actor=actor, target=user.username)
    return user


def reset_password(actor: User, user_id: int) -> Issued:
    """A new one-time password (shown once), to be changed at the next login; the account's
    live logins end, and its failed logins are forgotten."""
    password = policy.one_time_password()
    with write_transaction():
        user = _account(user_id)
        if user.id == actor.id:
            raise StaffError("self_reset")
        user.set_password(password)
        user.must_change_password = True
        login_sessions.revoke_all(user.id)
        forget_failed_logins(user.id)
        audit.record("staff.password_reset", actor=actor, target=user.username)
    return Issued(user.username, user.full_name, user.role, password)


def set_scope(actor: User, user_id: int, units: Iterable[str], session_ids: Iterable[int]) -> Scope:
    """Limit an assessor to these units and sessions (none: they see everyone again)."""
    wanted_units = sorted({" ".join(u.split()) for u in units if u.strip()})
    for unit in wanted_units:
        if len(unit) > UNIT_MAX:
            raise StaffError("unit_too_long", limit=UNIT_MAX)
    wanted_ids = sorted(set(session_ids))
    with write_transaction():
        user = _account(user_id)
        if user.role != "assessor":
            raise StaffError("scope_not_assessor")
        known = set(
            db.session.scalars(select(ExamSession.id).where(ExamSession.id.in_(wanted_ids)))
        )
        if unknown := [i for i in wanted_ids if i not in known]:
            raise StaffError("session_unknown", session=unknown[0])
        before = scopes_of(user.id).get(user.id, Scope())
        db.session.execute(delete(AssessorScope).where(AssessorScope.user_id == user.id))
        for unit in wanted_units:
            db.session.add(AssessorScope(user_id=user.id, unit=unit))
        for session_id in wanted_ids:
            db.session.add(AssessorScope(user_id=user.id, session_id=session_id))
        db.session.flush()
        after = scopes_of(user.id).get(user.id, Scope())
        audit.record(
            "staff.scope",
            actor=actor,
            target=user.username,
            details={
                "before": {"units": list(before.units), "sessions": list(before.session_codes)},
                "after": {"units": list(after.units), "sessions": list(after.session_codes)},
            },
        )
    return after


def change_own_password(
    user: User, login_session_id: str | None, current: str, new: str, again: str
) -> None:
    """A staff member replaces their password. A wrong current password counts as a failed
    login (the account's budget); success ends their other logins and lifts a forced change."""
    at = now()
    account_key = f"user:{user.id}"
    budgets.check(budgets.FAILED_LOGINS_PER_ACCOUNT, account_key, at)
    if not user.check_password(current):
        with write_transaction():
            budgets.spend(budgets.FAILED_LOGINS_PER_ACCOUNT, account_key, at)
        raise StaffError("wrong_password")
    if new != again:
        raise StaffError("mismatch")
    check_new_password(new, user.username)
    if new == current:
        raise StaffError("unchanged")
    with write_transaction():
        user.set_password(new)
        user.must_change_password = False
        login_sessions.revoke_all(user.id, keep=login_session_id)
        audit.record("account.password_change", actor=user, target=user.username)


def create_first_admin(username: str, full_name: str, password: str) -> User:
    """The first admin of a server (the command line's ``admin create-first``); refused once an
    active admin exists who is not the demo's. The password is the admin's own choice."""
    username, full_name = clean_username(username), _clean_name(full_name)
    check_new_password(password, username)
    with write_transaction():
        if has_active_admin():
            raise StaffError("admin_exists")
        _username_free(username)
        user = create_user(username, password, "admin", full_name)
        audit.record(
            "staff.create",
            actor_label="cli",
            target=username,
            details={"role": "admin", "first_admin": True},
        )
    return user


# ---- importing a file ------------------------------------------------------------------------

HEADERS = {
    "username": "username",
    "nama pengguna": "username",
    "pengguna": "username",
    "login": "username",
    "nama": "name",
    "name": "name",
    "nama lengkap": "name",
    "full name": "name",
    "peran": "role",
    "role": "role",
    "lingkup unit": "units",
    "unit scope": "units",
    "lingkup": "units",
    "unit": "units",
    "unit kerja": "units",
    "buat sesi": "create",
    "boleh buat sesi": "create",
    "may create sessions": "create",
    "can create sessions": "create",
}
REQUIRED = ("username", "name", "role")
COLUMN_LABELS = {
    "username": "Nama pengguna",
    "name": "Nama",
    "role": "Peran",
    "units": "Lingkup unit",
    "create": "Buat sesi",
}
ROLE_WORDS = {
    "pengawas": "proctor",
    "proctor": "proctor",
    "asesor": "assessor",
    "assessor": "assessor",
    "admin": "admin",
    "administrator": "admin",
}
YES = {"ya", "y", "yes", "1", "true", "benar"}
NO = {"", "tidak", "t", "no", "n", "0", "false", "salah"}


@dataclass(frozen=True)
class StaffRow:
    row: int
    username: str
    name: str
    role: str
    units: tuple[str, ...]
    can_create_sessions: bool


def parse_staff(
    table: Sequence[Sequence[str]], taken: Iterable[str]
) -> tuple[list[StaffRow], list[RowProblem]]:
    """Check every row of a staff file; the rows and every problem (row, column, message).

    ``taken`` are the user names already in use (lower case). Rows are numbered as a
    spreadsheet shows them (the header is row 1)."""
    columns, problems = map_columns(table, HEADERS, REQUIRED)
    if problems:
        return [], [
            RowProblem(p.row, COLUMN_LABELS.get(p.column or "", p.column), p.message)
            for p in problems
        ]
    seen = {name: 0 for name in taken}
    result = []
    for number, cell in data_rows(table, columns):
        before = len(problems)

        def refuse(column: str, message: str, number: int = number) -> None:
            problems.append(RowProblem(number, COLUMN_LABELS[column], message))

        username = cell["username"].strip().lower()
        if not USERNAME.match(username):
            refuse(
                "username",
                f"nama pengguna {cell['username']!r} tidak sah: 3–64 huruf kecil, angka, titik, "
                "garis bawah atau tanda hubung, diawali huruf",
            )
        elif username in seen:
            where = f"baris {seen[username]}" if seen[username] else "akun yang sudah ada"
            refuse("username", f"nama pengguna {username} sudah dipakai ({where})")
        else:
            seen[username] = number
        name = " ".join(cell["name"].split())
        if not name:
            refuse("name", "nama kosong")
        elif len(name) > NAME_MAX:
            refuse("name", f"nama lebih dari {NAME_MAX} karakter")
        role = ROLE_WORDS.get(cell["role"].strip().lower())
        if role is None:
            refuse(
                "role",
                f"peran {cell['role']!r} tidak dikenal: tulis pengawas, asesor atau admin "
                "(akun peserta dibuat dari daftar peserta sesi)",
            )
        listed = cell.get("units", "").split(";")
        units = tuple(dict.fromkeys(" ".join(u.split()) for u in listed if u.strip()))
        if units and role != "assessor":
            refuse("units", "lingkup unit hanya untuk asesor")
        for unit in units:
            if len(unit) > UNIT_MAX:
                refuse("units", f"unit {unit[:40]!r}… lebih dari {UNIT_MAX} karakter")
        create = cell.get("create", "").strip().lower()
        if create not in YES | NO:
            refuse("create", f"tulis ya atau tidak, tertulis {cell.get('create')!r}")
        elif create in YES and role != "proctor":
            refuse("create", "hak membuat sesi hanya untuk pengawas (admin selalu boleh)")
        if len(problems) == before and role is not None:
            result.append(StaffRow(number, username, name, role, units, create in YES))
    if not result and not problems:
        problems.append(RowProblem(None, None, "tidak ada baris akun"))
    return result, problems


def import_staff(actor: User, filename: str, data: bytes) -> tuple[list[Issued], list[RowProblem]]:
    """Create every account of the file, or none when any row is bad. Returns the one-time
    passwords of the accounts made (to show once) and the problems."""
    try:
        table = read_table(filename, data)
    except TableError as error:
        return [], [error.problem()]
    taken = {name.lower() for name in db.session.scalars(select(User.username))}
    rows, problems = parse_staff(table, taken)
    if problems:
        return [], problems
    issued = []
    with write_transaction():
        for row in rows:
            _username_free(row.username)
            password = policy.one_time_password()
            user = _new_account(row.username, password, row.role, row.name, row.can_create_sessions)
            for unit in row.units:
                db.session.add(AssessorScope(user_id=user.id, unit=unit))
            issued.append(Issued(row.username, row.name, row.role, password))
        audit.record(
            "staff.import",
            actor=actor,
            target=filename[:200],
            details={
                "rows": len(rows),
                "accounts": {row.username: row.role for row in rows},
                "scopes": {row.username: list(row.units) for row in rows if row.units},
            },
        )
    return issued, []
