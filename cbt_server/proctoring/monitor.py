"""The live seat monitor: every participant of a session in a handful of grouped queries.

One refresh runs the same three queries whatever the number of seats (roster, attempts and live
logins; answer counts; event counts), never one per seat. With ``since`` it returns only the seats
whose attempt, answers, events or logins changed after that moment, so the page patches its table
instead of reloading it (and reloads it in full now and then, for roster changes).

Live response quality is one count in the answer-count query: answers given less than
:data:`LIVE_RAPID_MS` after their item appeared (the page's measure, ``first_answer_ms``). The
normative rapid-guessing rule (10 % of the item's mean time) needs the whole session's times, so
it, and the other flags, come after the session: score sheet and profile
(assessment/response_quality.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import case, func, or_, select

from cbt_server.delivery import clockwork
from cbt_server.delivery.lifecycle import RUNNING
from cbt_server.delivery.presence import DISCONNECTED_AFTER
from cbt_server.models import (
    Attempt,
    AttemptEvent,
    Enrolment,
    ExamSession,
    LoginSession,
    Response,
    User,
    db,
)

COUNTED_EVENTS = ("focus_lost", "reload", "fullscreen_exit", "copy_attempt", "paste_attempt")
#: a first answer given less than this long after its item appeared counts as rapid on the
#: monitor: a fixed live rule (nobody reads an item and its options in under 3 s), not the
#: normative threshold the score sheet applies after the session
LIVE_RAPID_MS = 3000


#: Whether a seat without an attempt has a live login (a column of the seat query: SQLite and
#: PostgreSQL evaluate it only for the rows the CASE reaches, the few seats not yet started).
_LIVE_LOGIN = (
    select(LoginSession.id)
    .where(LoginSession.user_id == User.id, LoginSession.revoked_at.is_(None))
    .exists()
)


@dataclass(frozen=True)
class Seat:
    enrolment_id: int
    participant_number: str | None
    nip: str | None
    name: str
    seat: str | None
    status: str
    answered: int
    total: int
    flagged: int
    remaining_seconds: float | None
    last_seen_seconds: float | None
    connected: bool
    ip: str | None
    events: dict[str, int]
    #: answers first given less than LIVE_RAPID_MS after their item appeared
    rapid: int = 0

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def seats(session: ExamSession, at: datetime, since: datetime | None = None) -> list[Seat]:
    # Columns, not ORM objects: a refresh of 500 seats would otherwise build 1,500 of them.
    base = (
        select(
            Enrolment.id.label("enrolment_id"),
            Enrolment.participant_number,
            Enrolment.seat,
            User.id.label("user_id"),
            User.nip,
            User.full_name,
            Attempt.id.label("attempt_id"),
            Attempt.state,
            Attempt.deadline_at,
            Attempt.paused_at,
            Attempt.last_seen_at,
            Attempt.last_ip,
            case((Attempt.id.is_(None), _LIVE_LOGIN), else_=False).label("logged_in"),
        )
        .join(User, User.id == Enrolment.user_id)
        .outerjoin(Attempt, Attempt.enrolment_id == Enrolment.id)
        .where(Enrolment.session_id == session.id)
    )
    if since is not None:
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)  # the server's times are UTC
        # Only this session's attempts: found through their keys' indexes, so the cost follows
        # the session, not every answer and event the server ever stored.
        own = select(Attempt.id).where(Attempt.session_id == session.id)
        changed_by_answer = select(Response.attempt_id).where(
            Response.attempt_id.in_(own), Response.saved_at > since
        )
        changed_by_event = select(AttemptEvent.attempt_id).where(
            AttemptEvent.attempt_id.in_(own),
            AttemptEvent.at > since,
            AttemptEvent.kind != "heartbeat",  # the connection history is not news
        )
        # A seat without an attempt changes status by logging in (or being logged out).
        roster = select(Enrolment.user_id).where(Enrolment.session_id == session.id)
        changed_by_login = select(LoginSession.user_id).where(
            LoginSession.user_id.in_(roster),
            or_(LoginSession.created_at > since, LoginSession.revoked_at > since),
        )
        # Silent for longer than the threshold since the last refresh: newly disconnected.
        went_silent = Attempt.last_seen_at.between(
            since - DISCONNECTED_AFTER, at - DISCONNECTED_AFTER
        )
        base = base.where(
            or_(
                Attempt.updated_at > since,
                went_silent,
                Attempt.id.in_(changed_by_answer),
                Attempt.id.in_(changed_by_event),
                User.id.in_(changed_by_login),
            )
        )
    # Seats without a PC last, on every database (SQLite sorts NULL first, PostgreSQL last).
    order = (Enrolment.seat.is_(None), Enrolment.seat, Enrolment.id)
    rows = db.session.execute(base.order_by(*order)).all()
    attempt_ids = [r.attempt_id for r in rows if r.attempt_id is not None]
    counts = _answer_counts(attempt_ids)
    events = _event_counts(attempt_ids)
    result = []
    for r in rows:
        started = r.attempt_id is not None
        answered, total, flagged, rapid = counts.get(r.attempt_id, (0, 0, 0, 0))
        age = (at - r.last_seen_at).total_seconds() if r.last_seen_at else None
        result.append(
            Seat(
                enrolment_id=r.enrolment_id,
                participant_number=r.participant_number,
                nip=r.nip,
                name=r.full_name,
                seat=r.seat,
                status=r.state if started else ("logged_in" if r.logged_in else "absent"),
                answered=answered,
                total=total,
                flagged=flagged,
                remaining_seconds=(
                    round(clockwork.countdown(r).remaining(at), 1) if r.state in RUNNING else None
                ),
                last_seen_seconds=round(age, 1) if age is not None else None,
                connected=age is not None and age <= DISCONNECTED_AFTER.total_seconds(),
                ip=r.last_ip,
                events=events.get(r.attempt_id, {}),
                rapid=rapid,
            )
        )
    return result


def presence(session: ExamSession, at: datetime) -> list[tuple[int, float]]:
    """Seconds since each running seat was last seen: sent with every refresh, because a
    last-seen stamp alone does not mark a seat as changed."""
    rows = db.session.execute(
        select(Attempt.enrolment_id, Attempt.last_seen_at).where(
            Attempt.session_id == session.id,
            Attempt.state.in_(tuple(RUNNING)),
            Attempt.last_seen_at.is_not(None),
        )
    )
    return [(enrolment, round((at - seen).total_seconds(), 1)) for enrolment, seen in rows]


def _answer_counts(attempt_ids: list[int]) -> dict[int, tuple[int, int, int, int]]:
    """Per attempt: answered, items, flagged, rapid first answers (one grouped query)."""
    if not attempt_ids:
        return {}
    query = (
        select(
            Response.attempt_id,
            func.sum(case((Response.answer.is_not(None), 1), else_=0)),
            func.count(),
            func.sum(case((Response.flagged, 1), else_=0)),
            # NULL (never answered, or no time measured) is not rapid
            func.sum(case((Response.first_answer_ms < LIVE_RAPID_MS, 1), else_=0)),
        )
        .where(Response.attempt_id.in_(attempt_ids))
        .group_by(Response.attempt_id)
    )
    return {
        a: (int(n or 0), int(t), int(f or 0), int(r or 0))
        for a, n, t, f, r in db.session.execute(query)
    }


def _event_counts(attempt_ids: list[int]) -> dict[int, dict[str, int]]:
    if not attempt_ids:
        return {}
    query = (
        select(AttemptEvent.attempt_id, AttemptEvent.kind, func.count())
        .where(AttemptEvent.attempt_id.in_(attempt_ids), AttemptEvent.kind.in_(COUNTED_EVENTS))
        .group_by(AttemptEvent.attempt_id, AttemptEvent.kind)
    )
    found: dict[int, dict[str, int]] = {}
    for attempt_id, kind, n in db.session.execute(query):
        found.setdefault(attempt_id, {})[kind] = int(n)
    return found
