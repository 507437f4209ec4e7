"""Importing validated bank files into the database as immutable, content-addressed versions."""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from cbt_server import audit
from cbt_server.assessment import standards
from cbt_server.banks.format import BankSpec, BatterySpec, Problem, Repository
from cbt_server.banks.markdown import render_markdown
from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.models import (
    BankVersion,
    BatteryVersion,
    Competency,
    Item,
    ItemKey,
    JobFamily,
    MediaFile,
    Position,
    User,
    db,
)


class ImportRefused(Exception):
    """The files have problems; nothing was imported."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) found; nothing imported")
        self.problems = problems


@dataclass
class ImportReport:
    """What an import found, each version as ``CODE label (short hash)``."""

    new_banks: list[str] = field(default_factory=list)
    unchanged_banks: list[str] = field(default_factory=list)
    new_batteries: list[str] = field(default_factory=list)
    unchanged_batteries: list[str] = field(default_factory=list)
    competencies: int = 0
    positions: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.new_banks or self.new_batteries)


def import_repository(
    repo: Repository,
    *,
    actor: User | None = None,
    actor_label: str = "cli",
    target: str | None = None,
    source: Callable[[Path], str] = str,
) -> ImportReport:
    """Import everything in ``repo`` in one transaction, or nothing if it has any problem.

    ``actor`` is the person importing from the browser (else ``actor_label``), ``target`` what
    they uploaded, ``source`` how a file's path is stored on its version (where it came from).
    """
    if not repo.ok:
        raise ImportRefused(list(repo.problems))
    report = ImportReport()
    with write_transaction():
        report.competencies, report.positions = _sync_dictionary(repo)
        bank_versions: dict[str, BankVersion] = {}
        for bank in repo.banks.values():
            bank_versions[bank.code] = _import_bank(bank, report, source)
        for battery in repo.batteries.values():
            _import_battery(battery, bank_versions, report, source)
        if report.changed:
            audit.record(
                "banks.import",
                actor=actor,
                actor_label=actor_label,
                target=target,
                details={"new_banks": report.new_banks, "new_batteries": report.new_batteries},
            )
    return report


def version_label(code: str, version: str, content_hash: str) -> str:
    """How reports and audit rows name a version: ``CODE label (first 12 hex digits)``."""
    return f"{code} {version} ({content_hash[:12]})"


def _sync_dictionary(repo: Repository) -> tuple[int, int]:
    """Upsert reference data. Codes are never deleted: stored scores keep pointing at them."""
    for family in repo.job_families.values():
        db.session.merge(JobFamily(code=family.code, name=family.name))
    db.session.flush()
    for comp in repo.competencies.values():
        db.session.merge(
            Competency(
                code=comp.code,
                name=comp.name,
                competency_group=comp.group,
                definition=comp.definition,
                job_family=comp.job_family,
                validity=comp.validity,
                levels={str(level): text for level, text in comp.levels.items()},
            )
        )
    db.session.flush()
    edited = standards.edited_in_browser()
    for position in repo.positions.values():
        if position.code not in edited:  # an admin's edit is not undone by the next start
            db.session.merge(
                Position(
                    code=position.code,
                    name=position.name,
                    position_type=position.type,
                    job_family=position.job_family,
                )
            )
            db.session.flush()
        standards.import_standard(position.code, position.required)
    db.session.flush()
    return len(repo.competencies), len(repo.positions)


def _import_bank(
    bank: BankSpec, report: ImportReport, source: Callable[[Path], str]
) -> BankVersion:
    label = version_label(bank.code, bank.version, bank.content_hash)
    found = db.session.scalar(
        select(BankVersion).where(BankVersion.content_hash == bank.content_hash)
    )
    if found is not None:
        report.unchanged_banks.append(label)
        return found
    version = BankVersion(
        code=bank.code,
        version_label=str(bank.version),
        title=bank.title,
        kind=bank.kind,
        language=bank.language,
        content_hash=bank.content_hash,
        source_path=source(bank.path)[:500],
        imported_at=now(),
    )
    db.session.add(version)
    db.session.flush()
    media = {name: _store_media(name, path.read_bytes()) for name, path in bank.media.items()}
    for spec in bank.items:
        item = Item(
            bank_version_id=version.id,
            item_code=spec.id,
            item_type=spec.type,
            difficulty=spec.difficulty,
            stem_html=render_markdown(spec.stem),
            options=[[label, render_inline(text)] for label, text in spec.options],
            image_sha256=media[spec.image] if spec.image else None,
            points=float(spec.points),
            likert_points=spec.likert_points,
        )
        db.session.add(item)
        db.session.flush()
        db.session.add(
            ItemKey(
                item_id=item.id,
                competency_code=spec.competency,
                key=list(spec.key),
                weights=dict(spec.weights) if spec.weights is not None else None,
                accept=list(spec.accept),
                reverse=spec.reverse,
            )
        )
    report.new_banks.append(label)
    return version


def _store_media(name: str, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    if db.session.get(MediaFile, digest) is None:
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        db.session.add(
            MediaFile(sha256=digest, filename=name, content_type=content_type, data=data)
        )
        db.session.flush()
    return digest


def _import_battery(
    battery: BatterySpec,
    bank_versions: dict[str, BankVersion],
    report: ImportReport,
    source: Callable[[Path], str],
) -> None:
    content_hash = battery.content_hash({c: v.content_hash for c, v in bank_versions.items()})
    label = version_label(battery.code, battery.version, content_hash)
    if db.session.scalar(
        select(BatteryVersion.id).where(BatteryVersion.content_hash == content_hash)
    ):
        report.unchanged_batteries.append(label)
        return
    db.session.add(
        BatteryVersion(
            code=battery.code,
            version_label=str(battery.version),
            title=battery.title,
            kind=battery.kind,
            content_hash=content_hash,
            definition=_battery_definition(battery, bank_versions),
            source_path=source(battery.path)[:500],
            imported_at=now(),
        )
    )
    db.session.flush()
    report.new_batteries.append(label)


def _battery_definition(battery: BatterySpec, bank_versions: dict[str, BankVersion]) -> dict:
    """The frozen test definition; selection rules point at the exact bank versions."""
    return {
        "time_limit_minutes": battery.time_limit_minutes,
        "show_score": battery.show_score,
        "validity_flag_percent": battery.validity_flag_percent,
        "levels": {code: list(cuts) for code, cuts in battery.levels.items()},
        "sections": [
            {
                "code": section.code,
                "title": section.title,
                "instructions_html": render_markdown(section.instructions or ""),
                "time_limit_minutes": section.time_limit_minutes,
                "shuffle_items": section.shuffle_items,
                "shuffle_options": section.shuffle_options,
                "rules": [
                    {
                        "bank": rule.bank,
                        "bank_version_id": bank_versions[rule.bank].id,
                        "competency": rule.competency,
                        "count": rule.count,
                        "difficulty": rule.difficulty,
                    }
                    for rule in section.rules
                ],
            }
            for section in battery.sections
        ],
    }


def render_inline(text: str) -> str:
    """Option text: Markdown without the paragraph wrapper a one-line block gets."""
    html = render_markdown(text).strip()
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        return html[3:-4]
    return html
