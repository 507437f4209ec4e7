"""Read models for the assessor's pages (grouped queries, no per-row lookups)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from cbt_server.accounts import reach
from cbt_server.delivery.grading import key_overrides
from cbt_server.delivery.lifecycle import GRADED
from cbt_server.models import (
    Attempt,
    AttemptItem,
    BankVersion,
    BatteryVersion,
    CompetencyRating,
    Enrolment,
    ExamSession,
    Item,
    ItemKey,
    KeyOverride,
    LateAnswer,
    PerformanceRating,
    PerformanceTarget,
    Regrade,
    User,
    db,
)


@dataclass(frozen=True)
class SessionLine:
    id: int
    code: str
    name: str
    battery_code: str
    battery_title: str
    starts_at: datetime
    registered: int
    finished: int
    #: late answers still waiting for an assessor's decision
    late_pending: int = 0


@dataclass(frozen=True)
class BatteryLine:
    code: str
    title: str
    kind: str
    versions: int
    finished: int


@dataclass(frozen=True)
class Desk:
    sessions: list[SessionLine]
    batteries: list[BatteryLine]
    units: list[str]


def desk() -> Desk:
    """Sessions, batteries and units with what the request's assessor may see counted in
    (accounts/reach.py)."""
    seen = reach.current()
    registered = dict(
        db.session.execute(
            select(Enrolment.session_id, func.count())
            .where(seen.rows(Enrolment.session_id, Enrolment.user_id))
            .group_by(Enrolment.session_id)
        ).all()
    )
    attempts_seen = seen.rows(Attempt.session_id, Attempt.user_id)
    finished = dict(
        db.session.execute(
            select(Attempt.session_id, func.count())
            .where(Attempt.state.in_(tuple(GRADED)), attempts_seen)
            .group_by(Attempt.session_id)
        ).all()
    )
    pending = dict(
        db.session.execute(
            select(Attempt.session_id, func.count())
            .join(LateAnswer, LateAnswer.attempt_id == Attempt.id)
            .where(LateAnswer.decision.is_(None), attempts_seen)
            .group_by(Attempt.session_id)
        ).all()
    )
    sessions = [
        SessionLine(
            s.id,
            s.code,
            s.name,
            b.code,
            b.title,
            s.starts_at,
            registered.get(s.id, 0),
            finished.get(s.id, 0),
            pending.get(s.id, 0),
        )
        for s, b in db.session.execute(
            select(ExamSession, BatteryVersion)
            .join(BatteryVersion, BatteryVersion.id == ExamSession.battery_version_id)
            .where(seen.sessions(ExamSession.id))
            .order_by(ExamSession.starts_at.desc(), ExamSession.id.desc())
        ).all()
    ]
    by_code = dict(
        db.session.execute(
            select(BatteryVersion.code, func.count())
            .join(Attempt, Attempt.battery_version_id == BatteryVersion.id)
            .where(Attempt.state.in_(tuple(GRADED)), attempts_seen)
            .group_by(BatteryVersion.code)
        ).all()
    )
    batteries: dict[str, BatteryLine] = {}
    for version in db.session.scalars(select(BatteryVersion).order_by(BatteryVersion.id)):
        count = batteries[version.code].versions + 1 if version.code in batteries else 1
        batteries[version.code] = BatteryLine(
            version.code, version.title, version.kind, count, by_code.get(version.code, 0)
        )
    units = [
        u
        for u in db.session.scalars(
            select(User.unit)
            .where(User.role == "participant", User.unit.is_not(None), seen.people(User.id))
            .distinct()
        )
        if u
    ]
    return Desk(sessions, sorted(batteries.values(), key=lambda b: b.code), sorted(units))


@dataclass(frozen=True)
class OutsideSummary:
    self_ratings: int
    supervisor_ratings: int
    targets: int
    performance_ratings: int


def outside_data_summary() -> OutsideSummary:
    counts = dict(
        db.session.execute(
            select(CompetencyRating.source, func.count()).group_by(CompetencyRating.source)
        ).all()
    )
    return OutsideSummary(
        counts.get("self", 0),
        counts.get("supervisor", 0),
        db.session.scalar(select(func.count()).select_from(PerformanceTarget)) or 0,
        db.session.scalar(select(func.count()).select_from(PerformanceRating)) or 0,
    )


@dataclass(frozen=True)
class KeyLine:
    item_id: int
    item_code: str
    item_type: str
    bank_code: str
    options: list[str]
    key: list[str]
    weights: dict | None
    accept: list[str]
    corrected: bool


@dataclass(frozen=True)
class RegradeLine:
    at: datetime
    actor: str
    reason: str
    attempts: int
    changed: int
    bank: str | None


@dataclass(frozen=True)
class OverrideLine:
    at: datetime
    actor: str
    item_code: str
    key: list[str]
    weights: dict | None
    accept: list[str]
    reason: str


@dataclass(frozen=True)
class RegradePage:
    code: str
    title: str
    items: list[KeyLine]
    bank_versions: list[BankVersion]
    history: list[RegradeLine]
    overrides: list[OverrideLine]


def regrade_page(code: str) -> RegradePage | None:
    """The battery's items as its attempts used them, with the key grading applies now."""
    battery = db.session.scalars(
        select(BatteryVersion).where(BatteryVersion.code == code).order_by(BatteryVersion.id.desc())
    ).first()
    if battery is None:
        return None
    used = (
        select(AttemptItem.item_id)
        .join(Attempt, Attempt.id == AttemptItem.attempt_id)
        .join(BatteryVersion, BatteryVersion.id == Attempt.battery_version_id)
        .where(BatteryVersion.code == code)
        .distinct()
    )
    rows = db.session.execute(
        select(Item, ItemKey, BankVersion.code)
        .join(ItemKey, ItemKey.item_id == Item.id)
        .join(BankVersion, BankVersion.id == Item.bank_version_id)
        .where(Item.id.in_(used))
        .order_by(Item.item_code, Item.id)
    ).all()
    fixes = key_overrides([item.id for item, _k, _b in rows])
    items = []
    for item, key, bank_code in rows:
        fix = fixes.get(item.id)
        items.append(
            KeyLine(
                item.id,
                item.item_code,
                item.item_type,
                bank_code,
                [label for label, _ in item.options],
                list(fix.key if fix else key.key),
                fix.weights if fix else key.weights,
                list(fix.accept if fix else key.accept or []),
                fix is not None,
            )
        )
    bank_codes = sorted({b for _i, _k, b in rows})
    banks = list(
        db.session.scalars(
            select(BankVersion)
            .where(BankVersion.code.in_(bank_codes))
            .order_by(BankVersion.code, BankVersion.id.desc())
        )
    )
    names = dict(db.session.execute(select(User.id, User.full_name)).all())
    bank_names = {b.id: f"{b.code} v{b.version_label}" for b in banks}
    history = [
        RegradeLine(
            r.at,
            names.get(r.actor_id, "-"),
            r.reason,
            r.attempts,
            r.changed,
            bank_names.get(r.bank_version_id) if r.bank_version_id else None,
        )
        for r in db.session.scalars(
            select(Regrade).where(Regrade.battery_code == code).order_by(Regrade.id.desc())
        )
    ]
    codes = {item.id: item.item_code for item, _k, _b in rows}
    overrides = [
        OverrideLine(
            o.created_at,
            names.get(o.created_by, "-"),
            codes.get(o.item_id, "?"),
            list(o.key),
            o.weights,
            list(o.accept or []),
            o.reason,
        )
        for o in db.session.scalars(
            select(KeyOverride)
            .where(KeyOverride.item_id.in_(list(codes)))
            .order_by(KeyOverride.id.desc())
        )
    ]
    return RegradePage(code, battery.title, items, banks, history, overrides)
