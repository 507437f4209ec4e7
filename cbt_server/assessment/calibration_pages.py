"""Read models of the calibration pages: the banks on the desk, a bank's calibration versions
with the sessions that can be calibrated from, and one calibration's items. Nothing here
writes (docs/assessor.md, "Bank calibration")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from cbt_server.analytics import irt
from cbt_server.assessment.calibration import MISFITS
from cbt_server.delivery.lifecycle import GRADED
from cbt_server.models import (
    Attempt,
    BankVersion,
    BatteryVersion,
    Calibration,
    CalibrationItem,
    ExamSession,
    User,
    db,
)


@dataclass(frozen=True)
class BankLine:
    """A bank on the desk: its newest version's title and kind, and its calibrations."""

    code: str
    title: str
    kind: str
    versions: int
    calibrations: int


@dataclass(frozen=True)
class CalibrationLine:
    id: int
    version: int
    model: str
    created_at: datetime
    #: the person who ran it; None: the command line
    created_by: str | None
    sessions: list[str]
    persons: int
    responses: int
    calibrated: int
    population_mean: float
    population_sd: float
    converged: bool
    iterations: int
    anchored_to: int | None
    anchors: int
    note: str | None


@dataclass(frozen=True)
class SessionChoice:
    """A session whose battery draws from the bank, with its graded attempts."""

    id: int
    code: str
    name: str
    battery_code: str
    starts_at: datetime
    graded: int


@dataclass(frozen=True)
class BankCalibrations:
    code: str
    title: str
    versions: list[CalibrationLine]
    sessions: list[SessionChoice]

    def has_model(self, model: str) -> bool:
        """A calibration of the model exists (one to anchor to)."""
        return any(v.model == model for v in self.versions)


@dataclass(frozen=True)
class ItemLine:
    code: str
    item_type: str
    status: str
    n: int
    correct: int | None
    difficulty: float | None
    difficulty_se: float | None
    discrimination: float | None
    discrimination_se: float | None
    infit: float | None
    outfit: float | None
    fit_category: str | None

    @property
    def misfit(self) -> bool:
        return self.fit_category in MISFITS


@dataclass(frozen=True)
class CalibrationPage:
    code: str
    title: str
    calibration: CalibrationLine
    #: items with parameters, easiest first
    items: list[ItemLine]
    #: items without parameters, with their status
    others: list[ItemLine]

    @property
    def misfits(self) -> int:
        return sum(item.misfit for item in self.items)


def bank_lines() -> list[BankLine]:
    """Every bank code with its newest version's title, its versions and calibrations."""
    calibrations = dict(
        db.session.execute(
            select(Calibration.bank_code, func.count()).group_by(Calibration.bank_code)
        ).all()
    )
    lines: dict[str, BankLine] = {}
    for version in db.session.scalars(select(BankVersion).order_by(BankVersion.id)):
        count = lines[version.code].versions + 1 if version.code in lines else 1
        lines[version.code] = BankLine(
            version.code, version.title, version.kind, count, calibrations.get(version.code, 0)
        )
    return sorted(lines.values(), key=lambda line: line.code)


def _title(code: str) -> str | None:
    return db.session.scalar(
        select(BankVersion.title)
        .where(BankVersion.code == code)
        .order_by(BankVersion.id.desc())
        .limit(1)
    )


def _lines(*conditions) -> list[CalibrationLine]:  # type: ignore[no-untyped-def]
    """Calibrations matching the conditions, newest version first."""
    usable = (
        select(func.count())
        .where(
            CalibrationItem.calibration_id == Calibration.id,
            CalibrationItem.status.in_(irt.USABLE),
        )
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(Calibration, User.full_name, usable)
        .outerjoin(User, User.id == Calibration.created_by_id)
        .where(*conditions)
        .order_by(Calibration.version.desc())
    ).all()
    anchored = {c.anchored_to_id for c, _name, _n in rows if c.anchored_to_id is not None}
    versions = dict(
        db.session.execute(
            select(Calibration.id, Calibration.version).where(Calibration.id.in_(anchored))
        ).all()
    )
    return [
        CalibrationLine(
            id=c.id,
            version=c.version,
            model=c.model,
            created_at=c.created_at,
            created_by=name,
            sessions=[s["code"] for s in c.sessions],
            persons=c.persons,
            responses=c.responses,
            calibrated=n or 0,
            population_mean=c.population_mean,
            population_sd=c.population_sd,
            converged=c.converged,
            iterations=c.iterations,
            anchored_to=versions.get(c.anchored_to_id) if c.anchored_to_id else None,
            anchors=c.anchors,
            note=c.note,
        )
        for c, name, n in rows
    ]


def session_choices(code: str) -> list[SessionChoice]:
    """Sessions whose battery version draws from a version of the bank and that have graded
    attempts, newest first: the sessions a calibration of the bank can read."""
    bank_ids = set(db.session.scalars(select(BankVersion.id).where(BankVersion.code == code)))
    batteries = {
        version.id: version.code
        for version in db.session.scalars(select(BatteryVersion))
        if bank_ids & _drawn_banks(version.definition)
    }
    if not batteries:
        return []
    graded = (
        select(func.count())
        .where(Attempt.session_id == ExamSession.id, Attempt.state.in_(tuple(GRADED)))
        .scalar_subquery()
    )
    return [
        SessionChoice(s.id, s.code, s.name, batteries[s.battery_version_id], s.starts_at, n)
        for s, n in db.session.execute(
            select(ExamSession, graded)
            .where(ExamSession.battery_version_id.in_(batteries))
            .order_by(ExamSession.starts_at.desc(), ExamSession.id.desc())
        ).all()
        if n
    ]


def _drawn_banks(definition: dict) -> set[int]:
    return {
        rule.get("bank_version_id")
        for section in definition.get("sections", [])
        for rule in section.get("rules", [])
    }


def bank_calibrations(code: str) -> BankCalibrations | None:
    """The bank's calibration versions and the sessions to calibrate from; None: no such bank."""
    title = _title(code)
    if title is None:
        return None
    return BankCalibrations(
        code, title, _lines(Calibration.bank_code == code), session_choices(code)
    )


def calibration_page(code: str, version: int) -> CalibrationPage | None:
    """One calibration of the bank with its items; None: no such bank or version."""
    title = _title(code)
    lines = _lines(Calibration.bank_code == code, Calibration.version == version)
    if title is None or not lines:
        return None
    items = [
        ItemLine(
            i.item_code,
            i.item_type,
            i.status,
            i.n,
            i.correct,
            i.difficulty,
            i.difficulty_se,
            i.discrimination,
            i.discrimination_se,
            i.infit,
            i.outfit,
            i.fit_category,
        )
        for i in db.session.scalars(
            select(CalibrationItem).where(CalibrationItem.calibration_id == lines[0].id)
        )
    ]
    usable = sorted(
        (i for i in items if i.status in irt.USABLE),
        key=lambda i: (i.difficulty if i.difficulty is not None else 0.0, i.code),
    )
    others = sorted((i for i in items if i.status not in irt.USABLE), key=lambda i: i.code)
    return CalibrationPage(code, title, lines[0], usable, others)
