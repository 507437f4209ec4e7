"""Read-only views of sessions for the pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from cbt_server.models import (
    BankVersion,
    BatteryVersion,
    Enrolment,
    ExamSession,
    Position,
    SessionProctor,
    User,
    db,
)


@dataclass(frozen=True)
class SessionRow:
    id: int
    code: str
    name: str
    room: str
    battery_title: str
    starts_at: datetime
    ends_at: datetime
    seat: str | None = None
    participants: int = 0


@dataclass(frozen=True)
class HomeOverview:
    role: str
    full_name: str
    position_name: str | None
    unit: str | None
    nip: str | None
    sessions: list[SessionRow] = field(default_factory=list)
    bank_versions: int = 0
    battery_versions: int = 0


def home_overview(user: User) -> HomeOverview:
    position_name = (
        db.session.scalar(select(Position.name).where(Position.code == user.position_code))
        if user.position_code
        else None
    )
    overview = HomeOverview(
        role=user.role,
        full_name=user.full_name,
        position_name=position_name,
        unit=user.unit,
        nip=user.nip,
        sessions=_sessions_for(user),
    )
    if user.role in ("assessor", "admin"):
        overview = HomeOverview(
            **{
                **overview.__dict__,
                "bank_versions": db.session.scalar(select(func.count(BankVersion.id))) or 0,
                "battery_versions": db.session.scalar(select(func.count(BatteryVersion.id))) or 0,
            }
        )
    return overview


def _sessions_for(user: User) -> list[SessionRow]:
    counts = (
        select(Enrolment.session_id, func.count(Enrolment.id).label("n"))
        .group_by(Enrolment.session_id)
        .subquery()
    )
    query = (
        select(ExamSession, BatteryVersion.title, func.coalesce(counts.c.n, 0))
        .join(BatteryVersion, BatteryVersion.id == ExamSession.battery_version_id)
        .outerjoin(counts, counts.c.session_id == ExamSession.id)
        .order_by(ExamSession.starts_at)
    )
    seat_by_session: dict[int, str | None] = {}
    if user.role == "participant":
        rows = db.session.execute(
            select(Enrolment.session_id, Enrolment.seat).where(Enrolment.user_id == user.id)
        ).all()
        seat_by_session = {session_id: seat for session_id, seat in rows}
        query = query.where(ExamSession.id.in_(seat_by_session.keys()))
    elif user.role == "proctor":
        assigned = select(SessionProctor.session_id).where(SessionProctor.user_id == user.id)
        query = query.where(ExamSession.id.in_(assigned))
    return [
        SessionRow(
            id=session.id,
            code=session.code,
            name=session.name,
            room=session.room,
            battery_title=title,
            starts_at=session.starts_at,
            ends_at=session.ends_at,
            seat=seat_by_session.get(session.id),
            participants=n,
        )
        for session, title, n in db.session.execute(query).all()
    ]
