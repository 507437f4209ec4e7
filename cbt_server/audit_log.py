"""Reading the audit log: the filtered, newest-first rows of the audit log viewer.

Read only: rows are written by :mod:`cbt_server.audit` and never changed. The filters match what
the writers store: a session's actions carry its code as ``target`` (or name it in ``details``,
e.g. ``{"session": "S-A"}``); a person appears as ``target`` (a login's username, a profile's
NIP) or as a string in ``details`` (participant numbers of a proctor's action). ``details`` is
matched as text (``CAST(details AS TEXT) ILIKE``), which SQLite and PostgreSQL both run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, Text, cast, func, or_, select

from cbt_server.localtime import from_local
from cbt_server.models import AuditEntry, db

PAGE_SIZE = 100
#: rows read at a time while a CSV is streamed
EXPORT_BATCH = 1000


@dataclass(frozen=True)
class AuditFilter:
    """The viewer's filters; empty text and ``None`` dates filter nothing."""

    who: str = ""
    what: str = ""
    session: str = ""
    person: str = ""
    since: date | None = None
    #: inclusive: the whole day counts
    until: date | None = None
    #: dates typed that are not dates (ignored, shown back to the user)
    bad_dates: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> AuditFilter:
        bad: list[str] = []

        def day(name: str) -> date | None:
            raw = (args.get(name) or "").strip()
            if not raw:
                return None
            try:
                return date.fromisoformat(raw)
            except ValueError:
                bad.append(raw)
                return None

        def text(name: str) -> str:
            return (args.get(name) or "").strip()[:200]

        return cls(
            who=text("who"),
            what=text("what"),
            session=text("session"),
            person=text("person"),
            since=day("since"),
            until=day("until"),
            bad_dates=tuple(bad),
        )

    def args(self) -> dict[str, str]:
        """The filters as query arguments (for links and the audit row of an export)."""
        values = {
            "who": self.who,
            "what": self.what,
            "session": self.session,
            "person": self.person,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class AuditLine:
    id: int
    at: datetime
    chain_seq: int | None
    actor_label: str
    action: str
    target: str | None
    reason: str | None
    details: str


@dataclass(frozen=True)
class AuditPage:
    lines: list[AuditLine]
    #: the ``before`` argument of the next (older) page; None on the last page
    older: int | None


def _like(value: str) -> str:
    """``value`` with LIKE's wildcards escaped (escape character ``\\``)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _details_names(value: str):  # type: ignore[no-untyped-def]
    """``details`` holds ``value`` as a whole JSON string (``"value"``), any case."""
    as_json = json.dumps(value)  # quoted, with JSON's own escapes (as stored)
    return cast(AuditEntry.details, Text).ilike(f"%{_like(as_json)}%", escape="\\")


_COLUMNS = (
    AuditEntry.id,
    AuditEntry.at,
    AuditEntry.chain_seq,
    AuditEntry.actor_label,
    AuditEntry.action,
    AuditEntry.target,
    AuditEntry.reason,
    AuditEntry.details,
)


def filtered(where: AuditFilter) -> Select[Any]:
    """The rows matching ``where``, newest first (``id`` grows with every row written)."""
    query = select(*_COLUMNS).order_by(AuditEntry.id.desc())
    if where.who:
        query = query.where(AuditEntry.actor_label.ilike(f"%{_like(where.who)}%", escape="\\"))
    if where.what:
        # an action, or a family of them: "login" is login, login.failed, login.timeout
        query = query.where(
            or_(
                AuditEntry.action == where.what,
                AuditEntry.action.like(f"{_like(where.what)}.%", escape="\\"),
            )
        )
    if where.session:
        query = query.where(
            or_(
                func.lower(AuditEntry.target) == where.session.lower(),
                _details_names(where.session),
            )
        )
    if where.person:
        query = query.where(
            or_(
                func.lower(AuditEntry.target) == where.person.lower(),
                _details_names(where.person),
            )
        )
    if where.since is not None:
        query = query.where(AuditEntry.at >= from_local(where.since, time.min))
    if where.until is not None:
        query = query.where(AuditEntry.at < from_local(where.until + timedelta(days=1), time.min))
    return query


def compact(details: Any) -> str:
    if details is None:
        return ""
    return json.dumps(details, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _line(row: Any) -> AuditLine:
    return AuditLine(
        id=row.id,
        at=row.at,
        chain_seq=row.chain_seq,
        actor_label=row.actor_label,
        action=row.action,
        target=row.target,
        reason=row.reason,
        details=compact(row.details),
    )


def page(where: AuditFilter, before: int | None = None, size: int | None = None) -> AuditPage:
    """One page of matching rows, older than row ``before`` when given (keyset paging)."""
    size = size or PAGE_SIZE
    query = filtered(where)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    entries = db.session.execute(query.limit(size + 1)).all()
    lines = [_line(e) for e in entries[:size]]
    older = lines[-1].id if len(entries) > size else None
    return AuditPage(lines=lines, older=older)


def last_id() -> int:
    """The newest row's id (0 before the first): an export covers the log up to here, not its
    own audit row written after."""
    return db.session.scalar(select(func.max(AuditEntry.id))) or 0


def all_lines(where: AuditFilter, upto: int, batch: int | None = None) -> Iterator[AuditLine]:
    """Every matching row up to row ``upto``, newest first, read a batch at a time (for a
    streamed export)."""
    batch = batch or EXPORT_BATCH
    before = upto + 1
    while True:
        query = filtered(where).where(AuditEntry.id < before)
        entries = db.session.execute(query.limit(batch)).all()
        lines = [_line(e) for e in entries]
        yield from lines
        if len(entries) < batch:
            return
        before = lines[-1].id


def actions() -> list[str]:
    """The actions present, and their families ("login" for login.failed), for the select."""
    present = db.session.scalars(select(AuditEntry.action).distinct()).all()
    return sorted(set(present) | {a.split(".", 1)[0] for a in present})
