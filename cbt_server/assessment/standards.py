"""Positions and their competency standards: the list, an admin's edit, and the versions.

A position's standard (the required level per competency) is versioned: every change, from the
bank folder's import or from an admin in the browser, adds a :class:`StandardVersion`, and
``position_requirements`` holds the newest. A profile uses the version in force when the
person's results were measured, so changing a standard does not rewrite old profiles
(docs/profiling.md, "Standards and their versions").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from cbt_server import audit
from cbt_server.banks.checks import POSITION_TYPES
from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.models import (
    AuditEntry,
    Competency,
    JobFamily,
    Position,
    PositionRequirement,
    StandardVersion,
    User,
    db,
)

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")


class StandardError(ValueError):
    """A position or standard that cannot be saved; ``problems`` says what and where."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{where}: {what}" for where, what in problems))
        self.problems = problems


@dataclass
class PositionView:
    code: str
    name: str
    position_type: str
    job_family: str | None
    levels: dict[str, int] = field(default_factory=dict)
    version: int | None = None
    version_at: datetime | None = None
    people: int = 0


def in_force(versions: Iterable[StandardVersion], at: datetime | None) -> StandardVersion | None:
    """The version in force at ``at``: the newest created at or before it; for results older
    than every version (measured before standards were versioned), the oldest; with no time,
    the newest. Pure."""
    ordered = sorted(versions, key=lambda v: v.number)
    if not ordered:
        return None
    if at is None:
        return ordered[-1]
    earlier = [v for v in ordered if v.created_at <= at]
    return earlier[-1] if earlier else ordered[0]


def versions_of(position_codes: Iterable[str]) -> dict[str, list[StandardVersion]]:
    """Every version of these positions' standards, oldest first, by position."""
    codes = sorted(set(position_codes))
    found: dict[str, list[StandardVersion]] = {code: [] for code in codes}
    if codes:
        for version in db.session.scalars(
            select(StandardVersion)
            .where(StandardVersion.position_code.in_(codes))
            .order_by(StandardVersion.position_code, StandardVersion.number)
        ):
            found[version.position_code].append(version)
    return found


def record_version(
    position_code: str,
    levels: Mapping[str, int],
    *,
    source: str,
    actor: User | None = None,
    reason: str | None = None,
) -> StandardVersion | None:
    """Make ``levels`` the position's standard (inside the caller's write transaction): the
    requirements rows follow, and a new version is added when they differ from the newest one
    (None when nothing changed)."""
    levels = {code: int(level) for code, level in levels.items()}
    newest = db.session.scalars(
        select(StandardVersion)
        .where(StandardVersion.position_code == position_code)
        .order_by(StandardVersion.number.desc())
        .limit(1)
    ).first()
    _sync_requirements(position_code, levels)
    if newest is not None and newest.levels == levels:
        return None
    version = StandardVersion(
        position_code=position_code,
        number=(newest.number + 1) if newest is not None else 1,
        levels=levels,
        created_at=now(),
        created_by_id=actor.id if actor is not None else None,
        source=source,
        reason=reason,
    )
    db.session.add(version)
    return version


def edited_in_browser() -> set[str]:
    """Positions an admin has saved in the browser: the bank folder's import leaves their name,
    type and family alone from then on."""
    return set(
        db.session.scalars(
            select(AuditEntry.target).where(
                AuditEntry.action.in_(("position.create", "position.update"))
            )
        )
    )


def import_standard(position_code: str, levels: Mapping[str, int]) -> StandardVersion | None:
    """The bank folder's standard for a position, at import (every server start imports the
    folder): applied only when the folder's own standard changed since its last import, so an
    admin's change in the browser is not undone by a restart."""
    imported = db.session.scalars(
        select(StandardVersion)
        .where(
            StandardVersion.position_code == position_code,
            StandardVersion.source.in_(("import", "migration")),
        )
        .order_by(StandardVersion.number.desc())
        .limit(1)
    ).first()
    if imported is not None and imported.levels == {c: int(v) for c, v in levels.items()}:
        return None
    return record_version(position_code, levels, source="import")


def _sync_requirements(position_code: str, required: Mapping[str, int]) -> None:
    existing = {
        row.competency_code: row
        for row in db.session.scalars(
            select(PositionRequirement).where(PositionRequirement.position_code == position_code)
        )
    }
    for code, row in existing.items():
        if code not in required:
            db.session.delete(row)
    for code, level in required.items():
        if code in existing:
            existing[code].level = level
        else:
            db.session.add(
                PositionRequirement(position_code=position_code, competency_code=code, level=level)
            )
    db.session.flush()


def positions() -> list[PositionView]:
    """Every position with its current standard, its version and how many people hold it."""
    views = {
        p.code: PositionView(p.code, p.name, p.position_type, p.job_family)
        for p in db.session.scalars(
            select(Position).order_by(Position.position_type, Position.name)
        )
    }
    for row in db.session.scalars(select(PositionRequirement)):
        if row.position_code in views:
            views[row.position_code].levels[row.competency_code] = row.level
    for code, versions in versions_of(views).items():
        if versions:
            views[code].version = versions[-1].number
            views[code].version_at = versions[-1].created_at
    for code, count in db.session.execute(
        select(User.position_code, func.count())
        .where(User.position_code.is_not(None))
        .group_by(User.position_code)
    ):
        if code in views:
            views[code].people = count
    return list(views.values())


@dataclass
class PositionDetail:
    view: PositionView
    #: oldest first
    versions: list[StandardVersion]
    #: who set each version in the browser: user id → name
    authors: dict[int, str]


def position(code: str) -> PositionDetail | None:
    """One position with its current standard and every version of it."""
    found = next((p for p in positions() if p.code == code), None)
    if found is None:
        return None
    versions = versions_of([code])[code]
    ids = {v.created_by_id for v in versions if v.created_by_id is not None}
    authors = dict(
        db.session.execute(select(User.id, User.full_name).where(User.id.in_(ids))).all()
    )
    return PositionDetail(found, versions, authors)


def job_families() -> list[tuple[str, str]]:
    return [
        (f.code, f.name) for f in db.session.scalars(select(JobFamily).order_by(JobFamily.name))
    ]


def competencies() -> list[Competency]:
    """The competencies a position's standard may require, grouped as the profile shows them.
    Integrity scales are not among them: no position sets a level for them (docs/profiling.md)."""
    order = {"managerial": 0, "sociocultural": 1, "technical": 2}
    rows = db.session.scalars(
        select(Competency).where(Competency.competency_group != "integrity")
    ).all()
    return sorted(rows, key=lambda c: (order.get(c.competency_group, 9), c.code))


def save_position(
    actor: User,
    *,
    code: str,
    name: str,
    position_type: str,
    job_family: str | None,
    levels: Mapping[str, int | None],
    reason: str,
    new: bool,
) -> StandardVersion | None:
    """Create a position or change one (its name, type, family and standard), audited with
    the reason. Refuses with :class:`StandardError` naming each field; writes nothing then."""
    code = code.strip().upper()
    name, reason = name.strip(), reason.strip()
    problems: list[tuple[str, str]] = []
    if not _CODE.match(code):
        problems.append(("Kode", "2–32 huruf besar, angka, '-' atau '_'."))
    if not name:
        problems.append(("Nama", "Nama jabatan wajib diisi."))
    if position_type not in POSITION_TYPES:
        problems.append(("Jenis", f"Pilih salah satu: {', '.join(POSITION_TYPES)}."))
    if not reason:
        problems.append(("Alasan", "Tuliskan alasan perubahan (dicatat di log audit)."))
    known = {c.code for c in competencies()}
    chosen: dict[str, int] = {}
    for competency, level in levels.items():
        if level is None:
            continue
        if competency not in known:
            problems.append((competency, "Kompetensi tidak ada dalam kamus."))
        elif not 1 <= int(level) <= 5:
            problems.append((competency, "Level harus 1–5."))
        else:
            chosen[competency] = int(level)
    if not chosen:
        problems.append(("Standar", "Tetapkan level minimal satu kompetensi."))
    if job_family and job_family not in dict(job_families()):
        problems.append(("Rumpun", "Rumpun jabatan tidak dikenal."))
    with write_transaction():
        existing = db.session.get(Position, code)
        if new and existing is not None:
            problems.append(("Kode", f"Jabatan {code} sudah ada."))
        if not new and existing is None:
            problems.append(("Kode", f"Jabatan {code} tidak ditemukan."))
        if problems:
            raise StandardError(problems)
        before = {
            r.competency_code: r.level
            for r in db.session.scalars(
                select(PositionRequirement).where(PositionRequirement.position_code == code)
            )
        }
        if existing is None:
            existing = Position(code=code)
            db.session.add(existing)
        changed_fields = {
            key: value
            for key, value in (
                ("name", name),
                ("position_type", position_type),
                ("job_family", job_family or None),
            )
            if getattr(existing, key, None) != value
        }
        for key, value in changed_fields.items():
            setattr(existing, key, value)
        db.session.flush()
        version = record_version(code, chosen, source="browser", actor=actor, reason=reason)
        audit.record(
            "position.create" if new else "position.update",
            actor=actor,
            target=code,
            reason=reason,
            details={
                "fields": changed_fields,
                "levels_before": before,
                "levels_after": chosen,
                "standard_version": version.number if version is not None else None,
            },
        )
    return version
