"""The participant's attempt as plain values, read and written with single Core statements.

Saves and heartbeats are most of a lab's traffic, and on SQLite every write waits its turn: the
less Python runs inside that turn, the more answers per second the room gets. This module reads
the attempt with its sections in one statement into plain dataclasses that carry the same
attribute names as the ORM objects (so the timer rules, :mod:`clockwork`, :mod:`presence` and
:mod:`views` work on either), and writes back only the columns that changed.

The ORM path (:func:`cbt_server.delivery.service.load_for_update`) remains the one place that
moves an attempt through its states (expiry, a section's end, grading); callers switch to it
when :func:`lifecycle.due` says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime

from sqlalchemy import bindparam, func, select, update

from cbt_server.clock import now
from cbt_server.delivery import item_time
from cbt_server.models import Attempt, AttemptSection, LoginSession, User, db

_A = Attempt.__table__.c
_S = AttemptSection.__table__.c


@dataclass
class SectionRow:
    section_index: int
    started_at: datetime | None
    deadline_at: datetime | None
    closed_at: datetime | None


@dataclass
class AttemptRow:
    id: int
    user_id: int
    #: the enrolment (the save lane checks its session's lab boundary)
    enrolment_id: int
    state: str
    seed: int
    battery_version_id: int
    deadline_at: datetime
    paused_at: datetime | None
    device_hash: str | None
    current_position: int
    #: when the page arrived there (None while the clock stands): delivery/item_time.py
    position_since: datetime | None
    last_seen_at: datetime | None
    last_ip: str | None
    last_heartbeat_event_at: datetime | None
    updated_at: datetime | None
    total_score: float | None
    #: time the proctor added (the page tells the participant when it grows)
    extra_seconds: int
    sections: list[SectionRow] = field(default_factory=list)


#: the columns the presence rules may change, written back when they did
_WRITABLE = (
    "current_position",
    "position_since",
    "last_seen_at",
    "last_ip",
    "last_heartbeat_event_at",
    "updated_at",
)
_ATTEMPT_FIELDS = [f.name for f in fields(AttemptRow) if f.name != "sections"]
_SECTION_FIELDS = [f.name for f in fields(SectionRow)]


def _statement(lock: bool):  # type: ignore[no-untyped-def]
    newer = Attempt.__table__.alias("newer")
    latest = (
        select(func.max(newer.c.id))
        .where(newer.c.user_id == bindparam("user_id"))
        .scalar_subquery()
    )
    query = (
        select(*(_A[name] for name in _ATTEMPT_FIELDS), *(_S[name] for name in _SECTION_FIELDS))
        .select_from(Attempt.__table__.outerjoin(AttemptSection.__table__, _S.attempt_id == _A.id))
        .where(_A.id == latest, _A.user_id == bindparam("user_id"))
        .order_by(_S.section_index)
    )
    return query.with_for_update(of=Attempt.__table__) if lock else query


_READ = _statement(lock=False)
_READ_LOCKED = _statement(lock=True)
_COUNT = len(_ATTEMPT_FIELDS)
_SECTIONS = len(_SECTION_FIELDS)


def _with_login():  # type: ignore[no-untyped-def]
    """The attempt of a live participant login, when that login was last seen and the enrolment
    it belongs to: what the save lane needs before it writes, in one statement."""
    login, user = LoginSession.__table__.c, User.__table__.c
    return (
        _statement(lock=False)
        .add_columns(login.enrolment_id, login.last_seen_at)
        .join(
            LoginSession.__table__,
            (login.user_id == _A.user_id)
            & (login.id == bindparam("login_id"))
            & login.revoked_at.is_(None),
        )
        .join(
            User.__table__,
            (user.id == _A.user_id) & (user.role == "participant") & user.active.is_(True),
        )
    )


_READ_WITH_LOGIN = _with_login()


def read(user_id: int, *, lock: bool = False) -> AttemptRow | None:
    """The participant's newest attempt (locked for the transaction when ``lock``)."""
    # Core on the session's connection (inside its transaction): the ORM's execute adds more
    # Python than the query costs.
    rows = (
        db.session.connection().execute(_READ_LOCKED if lock else _READ, {"user_id": user_id}).all()
    )
    if not rows:
        return None
    attempt = AttemptRow(*rows[0][:_COUNT])
    attempt.sections = [SectionRow(*row[_COUNT:]) for row in rows if row[_COUNT] is not None]
    return attempt


def read_with_login(user_id: int, login_id: str) -> tuple[AttemptRow, datetime, int | None] | None:
    """The participant's newest attempt, when their live login ``login_id`` was last seen and
    the enrolment that login belongs to; None when the login is not a live participant login
    (not revoked: its time limit is the caller's) or there is no attempt."""
    rows = (
        db.session.connection()
        .execute(_READ_WITH_LOGIN, {"user_id": user_id, "login_id": login_id})
        .all()
    )
    if not rows:
        return None
    attempt = AttemptRow(*rows[0][:_COUNT])
    attempt.sections = [
        SectionRow(*row[_COUNT : _COUNT + _SECTIONS]) for row in rows if row[_COUNT] is not None
    ]
    return attempt, rows[0][-1], rows[0][-2]


def of(attempt: Attempt) -> AttemptRow:
    """The plain values of an ORM attempt (after the ORM path has moved it)."""
    values = {name: getattr(attempt, name) for name in _ATTEMPT_FIELDS}
    sections = [
        SectionRow(*(getattr(s, name) for name in _SECTION_FIELDS)) for s in attempt.sections
    ]
    return AttemptRow(**values, sections=sections)


def copy(attempt: AttemptRow) -> AttemptRow:
    return replace(attempt, sections=list(attempt.sections))


def write_changes(before: AttemptRow, after: AttemptRow) -> bool:
    """Write the presence columns that differ (inside a write transaction). A new address is
    news for the proctor's monitor, like a return after a disconnection (``updated_at``). A
    move to another item closes the visit of the one left (:mod:`item_time`)."""
    if after.current_position != before.current_position and after.position_since is not None:
        item_time.credit(
            db.session.connection(),
            before.id,
            before.current_position,
            before.position_since,
            after.position_since,
        )
    values = {
        name: getattr(after, name)
        for name in _WRITABLE
        if getattr(after, name) != getattr(before, name)
    }
    if "last_ip" in values:
        values["updated_at"] = now()
    if not values:
        return False
    db.session.connection().execute(
        update(Attempt.__table__).where(_A.id == before.id).values(**values)
    )
    for name, value in values.items():
        setattr(before, name, value)
    return True
