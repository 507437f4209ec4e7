"""Read models for the entry, confirmation and finish pages."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from cbt_server.delivery import frozen
from cbt_server.delivery.service import Entry
from cbt_server.models import AttemptScore, Position, User, db


@dataclass(frozen=True)
class SectionLine:
    title: str
    items: int
    minutes: int | None


@dataclass(frozen=True)
class EntrySummary:
    full_name: str
    nip: str | None
    position: str | None
    unit: str | None
    session_name: str | None
    session_code: str | None
    room: str | None
    battery_title: str | None
    minutes: int | None
    sections: list[SectionLine] = field(default_factory=list)

    @property
    def total_items(self) -> int:
        return sum(s.items for s in self.sections)


def entry_summary(entry: Entry) -> EntrySummary:
    user = db.session.get(User, entry.enrolment.user_id) if entry.enrolment else None
    position = (
        db.session.scalar(select(Position.name).where(Position.code == user.position_code))
        if user is not None and user.position_code
        else None
    )
    definition = frozen.definition(entry.battery.id) if entry.battery else {"sections": []}
    return EntrySummary(
        full_name=user.full_name if user else "",
        nip=user.nip if user else None,
        position=position,
        unit=user.unit if user else None,
        session_name=entry.session.name if entry.session else None,
        session_code=entry.session.code if entry.session else None,
        room=entry.session.room if entry.session else None,
        battery_title=entry.battery.title if entry.battery else None,
        minutes=definition.get("time_limit_minutes"),
        sections=[
            SectionLine(
                s["title"], sum(int(r["count"]) for r in s["rules"]), s.get("time_limit_minutes")
            )
            for s in definition["sections"]
        ],
    )


@dataclass(frozen=True)
class FinishSummary:
    state: str
    finished_at: object
    show_score: bool
    total_score: float | None
    total_max: float | None
    sections: list[tuple[str, float, float]]
    #: participant | deadline | proctor (a force-submit): the page says who ended the test
    finish_reason: str | None = None


def finish_summary(entry: Entry) -> FinishSummary:
    attempt = entry.attempt
    assert attempt is not None and entry.battery is not None
    show = bool(frozen.definition(entry.battery.id).get("show_score"))
    sections: list[tuple[str, float, float]] = []
    if show:
        titles = {s["code"]: s["title"] for s in frozen.definition(entry.battery.id)["sections"]}
        for row in db.session.scalars(
            select(AttemptScore).where(
                AttemptScore.attempt_id == attempt.id, AttemptScore.scope == "section"
            )
        ):
            sections.append((titles.get(row.code, row.code), row.score, row.max_score))
    return FinishSummary(
        state=attempt.state,
        finished_at=attempt.finished_at,
        show_score=show,
        total_score=attempt.total_score if show else None,
        total_max=attempt.total_max if show else None,
        sections=sections,
        finish_reason=attempt.finish_reason,
    )
