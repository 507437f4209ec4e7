"""Everything stored about people that a profile needs, gathered in a few grouped queries.

A competency's measured level is the one from the person's most recent finished attempt that
measured it (any battery); self/supervisor ratings and performance come from the newest period.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from cbt_server.accounts import reach
from cbt_server.assessment import standards
from cbt_server.delivery.lifecycle import GRADED
from cbt_server.models import (
    Attempt,
    AttemptScore,
    BatteryVersion,
    Competency,
    CompetencyRating,
    Enrolment,
    PerformanceRating,
    PerformanceTarget,
    Position,
    PositionRequirement,
    User,
    db,
)


@dataclass(frozen=True)
class Measured:
    code: str
    score: float
    max_score: float
    percent: float | None
    level: int | None
    flagged: bool
    battery: str
    finished_at: datetime | None
    #: the set cuts ``level`` was computed with; None: the bank's percentages
    cut_score_id: int | None = None
    #: the level's band and whether the score measures anything (analytics/precision.py)
    level_low: int | None = None
    level_high: int | None = None
    quality: str | None = None
    #: the attempt the score is from (its response-quality flags: assessment/response_quality.py)
    attempt_id: int | None = None
    #: the calibration the level was read off (None: percentage cuts, provisional)
    calibration_id: int | None = None


@dataclass(frozen=True)
class Target:
    indicator: str
    target: float
    realisation: float
    unit: str | None

    @property
    def achievement(self) -> float:
        return round(100.0 * self.realisation / self.target, 2) if self.target else 0.0


@dataclass
class PersonData:
    user: User
    position_name: str | None
    required: dict[str, int] = field(default_factory=dict)
    #: the version of the position's standard that ``required`` is (None: not versioned)
    standard_version: int | None = None
    measured: dict[str, Measured] = field(default_factory=dict)
    self_levels: dict[str, float] = field(default_factory=dict)
    supervisor_levels: dict[str, float] = field(default_factory=dict)
    rating_period: str | None = None
    performance_period: str | None = None
    targets: list[Target] = field(default_factory=list)
    predicate: str | None = None
    performance_score: float | None = None


@dataclass(frozen=True)
class Dictionary:
    names: dict[str, str]
    groups: dict[str, str]
    validity: set[str]
    descriptors: dict[str, dict]


def dictionary() -> Dictionary:
    rows = db.session.scalars(select(Competency)).all()
    return Dictionary(
        {c.code: c.name for c in rows},
        {c.code: c.competency_group for c in rows},
        {c.code for c in rows if c.validity},
        {c.code: c.levels for c in rows},
    )


def roster_user_ids(session_id: int) -> list[int]:
    """The users on a session's roster, by name."""
    return list(
        db.session.scalars(
            select(User.id)
            .join(Enrolment, Enrolment.user_id == User.id)
            .where(Enrolment.session_id == session_id)
            .order_by(User.full_name, User.id)
        )
    )


def people_data(user_ids: Sequence[int]) -> list[PersonData]:
    """One :class:`PersonData` per user id, in the given order, from grouped queries; only the
    people the request's assessor may see (accounts/reach.py)."""
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return []
    seen = select(User).where(User.id.in_(ids), reach.current().people(User.id))
    users = {u.id: u for u in db.session.scalars(seen)}
    positions = dict(db.session.execute(select(Position.code, Position.name)).all())
    data = {
        uid: PersonData(users[uid], positions.get(users[uid].position_code or ""))
        for uid in ids
        if uid in users
    }
    _measured(data)
    _standards(data)
    _ratings(data)
    _performance(data)
    return [data[uid] for uid in ids if uid in data]


def _standards(data: dict[int, PersonData]) -> None:
    """Each person's standard: the version in force when their newest result was measured
    (the current one when nothing is measured yet), so a later change of the standard leaves
    an earlier profile as it was (assessment/standards.py)."""
    position_codes = {d.user.position_code for d in data.values() if d.user.position_code}
    versions = standards.versions_of(position_codes)
    current: dict[str, dict[str, int]] = {}
    for req in db.session.scalars(
        select(PositionRequirement).where(PositionRequirement.position_code.in_(position_codes))
    ):
        current.setdefault(req.position_code, {})[req.competency_code] = req.level
    for d in data.values():
        code = d.user.position_code or ""
        measured_at = max(
            (m.finished_at for m in d.measured.values() if m.finished_at is not None), default=None
        )
        version = standards.in_force(versions.get(code, []), measured_at)
        if version is None:
            d.required = dict(current.get(code, {}))
        else:
            d.required = dict(version.levels)
            d.standard_version = version.number


def _measured(data: dict[int, PersonData]) -> None:
    rows = db.session.execute(
        select(Attempt.user_id, Attempt.finished_at, BatteryVersion.code, AttemptScore, Attempt.id)
        .join(AttemptScore, AttemptScore.attempt_id == Attempt.id)
        .join(BatteryVersion, BatteryVersion.id == Attempt.battery_version_id)
        .where(
            Attempt.user_id.in_(list(data)),
            Attempt.state.in_(GRADED),
            AttemptScore.scope == "competency",
        )
        .order_by(Attempt.finished_at, Attempt.id)
    ).all()
    for user_id, finished_at, battery, score, attempt_id in rows:  # oldest first: newest wins
        data[user_id].measured[score.code] = Measured(
            score.code,
            score.score,
            score.max_score,
            score.percent,
            score.level,
            score.flagged,
            battery,
            finished_at,
            score.cut_score_id,
            score.level_low,
            score.level_high,
            score.quality,
            attempt_id,
            score.calibration_id,
        )


def _ratings(data: dict[int, PersonData]) -> None:
    rows = db.session.scalars(
        select(CompetencyRating)
        .where(CompetencyRating.user_id.in_(list(data)))
        .order_by(CompetencyRating.period, CompetencyRating.id)
    ).all()
    for rating in rows:  # oldest period first: the newest overwrites
        person = data[rating.user_id]
        target = person.self_levels if rating.source == "self" else person.supervisor_levels
        target[rating.competency_code] = rating.level
        person.rating_period = max(person.rating_period or "", rating.period) or None


def _performance(data: dict[int, PersonData]) -> None:
    latest: dict[int, str] = {}
    for rating in db.session.scalars(
        select(PerformanceRating)
        .where(PerformanceRating.user_id.in_(list(data)))
        .order_by(PerformanceRating.period)
    ):
        person = data[rating.user_id]
        person.predicate, person.performance_score = rating.predicate, rating.score
        latest[rating.user_id] = rating.period
    targets = db.session.scalars(
        select(PerformanceTarget)
        .where(PerformanceTarget.user_id.in_(list(data)))
        .order_by(PerformanceTarget.period, PerformanceTarget.id)
    ).all()
    for row in targets:
        latest[row.user_id] = max(latest.get(row.user_id, ""), row.period)
    for row in targets:
        if row.period == latest[row.user_id]:
            data[row.user_id].targets.append(
                Target(row.indicator, row.target, row.realisation, row.unit)
            )
    for user_id, period in latest.items():
        data[user_id].performance_period = period
