"""Read models of the bank pages (staff only): the versions and what uses them, and the preview
of an item with its key. Nothing here writes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from cbt_server.delivery.grading import KeyFix, key_overrides
from cbt_server.delivery.views import CLIENT_TYPE
from cbt_server.models import (
    AuditEntry,
    BankVersion,
    BatteryVersion,
    Competency,
    ExamSession,
    Item,
    ItemKey,
    db,
)

#: the short hash that ends a version's name in an import's audit row: ``CODE 1 (0123abcd4567)``
_HASH_IN_LABEL = re.compile(r"\(([0-9a-f]{12})\)$")


@dataclass(frozen=True)
class Ref:
    """A version or session named on another's row, with the id to link to."""

    id: int
    code: str
    label: str


@dataclass
class VersionRow:
    id: int
    code: str
    version_label: str
    title: str
    kind: str
    content_hash: str
    source_path: str
    imported_at: datetime
    imported_by: str | None
    #: a bank version: its items; a battery version: the items one attempt draws
    items: int
    #: a bank version: the battery versions drawing from it; a battery's: its bank versions
    links: list[Ref] = field(default_factory=list)
    #: a battery version: the sessions using it
    sessions: list[Ref] = field(default_factory=list)


@dataclass(frozen=True)
class Catalogue:
    banks: list[VersionRow]
    batteries: list[VersionRow]


def catalogue() -> Catalogue:
    """Every bank and battery version, newest first within a code."""
    importers = _importers()
    counts = dict(
        db.session.execute(
            select(Item.bank_version_id, func.count(Item.id)).group_by(Item.bank_version_id)
        ).all()
    )
    banks = {
        v.id: _row(v, importers, counts.get(v.id, 0))
        for v in db.session.scalars(
            select(BankVersion).order_by(BankVersion.code, BankVersion.id.desc())
        )
    }
    batteries = []
    for version in db.session.scalars(
        select(BatteryVersion).order_by(BatteryVersion.code, BatteryVersion.id.desc())
    ):
        rules = [r for s in version.definition.get("sections", []) for r in s.get("rules", [])]
        row = _row(version, importers, sum(int(r.get("count", 0)) for r in rules))
        for bank_id in dict.fromkeys(r.get("bank_version_id") for r in rules):
            bank = banks.get(bank_id)  # type: ignore[arg-type]
            if bank is not None:
                row.links.append(Ref(bank.id, bank.code, bank.version_label))
                bank.links.append(Ref(row.id, row.code, row.version_label))
        batteries.append(row)
    by_battery = {row.id: row for row in batteries}
    for session in db.session.scalars(select(ExamSession).order_by(ExamSession.starts_at)):
        if session.battery_version_id in by_battery:
            by_battery[session.battery_version_id].sessions.append(
                Ref(session.id, session.code, session.name)
            )
    return Catalogue(list(banks.values()), batteries)


def _row(
    version: BankVersion | BatteryVersion, importers: dict[str, str], items: int
) -> VersionRow:
    return VersionRow(
        id=version.id,
        code=version.code,
        version_label=version.version_label,
        title=version.title,
        kind=version.kind,
        content_hash=version.content_hash,
        source_path=version.source_path,
        imported_at=version.imported_at,
        imported_by=importers.get(version.content_hash[:12]),
        items=items,
    )


def _importers() -> dict[str, str]:
    """Short content hash -> who imported that version, from the import's audit row (a
    version row does not name its importer: the audit log does)."""
    found: dict[str, str] = {}
    rows = db.session.execute(
        select(AuditEntry.actor_label, AuditEntry.details).where(
            AuditEntry.action == "banks.import"
        )
    )
    for actor, details in rows:
        for label in (details or {}).get("new_banks", []) + (details or {}).get(
            "new_batteries", []
        ):
            match = _HASH_IN_LABEL.search(str(label))
            if match:
                found.setdefault(match.group(1), actor)
    return found


# ---- a bank version and its items ----------------------------------------------------------------


@dataclass(frozen=True)
class ItemLine:
    id: int
    item_code: str
    item_type: str
    difficulty: str | None


@dataclass(frozen=True)
class BankPage:
    version: BankVersion
    items: list[ItemLine]


def bank_page(version_id: int) -> BankPage | None:
    version = db.session.get(BankVersion, version_id)
    if version is None:
        return None
    items = [
        ItemLine(*row)
        for row in db.session.execute(
            select(Item.id, Item.item_code, Item.item_type, Item.difficulty)
            .where(Item.bank_version_id == version_id)
            .order_by(Item.id)
        )
    ]
    return BankPage(version, items)


@dataclass(frozen=True)
class OptionView:
    label: str
    #: stored at import, sanitised: the participant's page shows the same HTML
    html: str
    keyed: bool
    weight: float | None


@dataclass(frozen=True)
class ItemPreview:
    version: BankVersion
    item: Item
    #: the participant page's item type (a weighted item is shown as a single choice)
    shown_type: str
    options: list[OptionView]
    competency_code: str
    competency_name: str | None
    key: list[str]
    accept: list[str]
    reverse: bool
    #: a key correction grading applies instead of the stored key (newest), if any
    corrected: bool
    previous_id: int | None
    next_id: int | None


def item_preview(version_id: int, item_id: int) -> ItemPreview | None:
    """One item as the participant sees it, with its key (from ``item_keys``, or the newest
    key correction grading applies)."""
    item = db.session.get(Item, item_id)
    if item is None or item.bank_version_id != version_id:
        return None
    key_row = db.session.get(ItemKey, item_id)
    if key_row is None:
        return None
    ids = list(
        db.session.scalars(
            select(Item.id).where(Item.bank_version_id == version_id).order_by(Item.id)
        )
    )
    at = ids.index(item_id)
    name = select(Competency.name).where(Competency.code == key_row.competency_code)
    return _preview(
        item,
        key_row,
        key_overrides([item_id]).get(item_id),
        db.session.scalar(name),
        previous_id=ids[at - 1] if at > 0 else None,
        next_id=ids[at + 1] if at + 1 < len(ids) else None,
    )


def item_previews(item_ids: Sequence[int]) -> list[ItemPreview]:
    """Several items as :func:`item_preview` shows them, in the given order (without the
    previous/next links), from a fixed number of queries: for pages that show a set of items,
    such as a standard-setting study's judgement form."""
    if not item_ids:
        return []
    rows = {
        item.id: (item, key_row)
        for item, key_row in db.session.execute(
            select(Item, ItemKey)
            .join(ItemKey, ItemKey.item_id == Item.id)
            .options(selectinload(Item.bank_version))
            .where(Item.id.in_(set(item_ids)))
        )
    }
    fixes = key_overrides(list(rows))
    names = dict(
        db.session.execute(
            select(Competency.code, Competency.name).where(
                Competency.code.in_({key_row.competency_code for _i, key_row in rows.values()})
            )
        ).all()
    )
    previews = []
    for item_id in item_ids:
        if item_id in rows:
            item, key_row = rows[item_id]
            fix, name = fixes.get(item_id), names.get(key_row.competency_code)
            previews.append(_preview(item, key_row, fix, name))
    return previews


def _preview(
    item: Item,
    key_row: ItemKey,
    fix: KeyFix | None,
    competency_name: str | None,
    previous_id: int | None = None,
    next_id: int | None = None,
) -> ItemPreview:
    keyed = fix if fix is not None else key_row  # as grading takes it (delivery/grading.py)
    key, weights, accept = list(keyed.key or []), keyed.weights or {}, list(keyed.accept or [])
    options = [
        OptionView(label, html, label in key, float(weights[label]) if label in weights else None)
        for label, html in item.options
    ]
    return ItemPreview(
        version=item.bank_version,
        item=item,
        shown_type=CLIENT_TYPE.get(item.item_type, item.item_type),
        options=options,
        competency_code=key_row.competency_code,
        competency_name=competency_name,
        key=key,
        accept=accept,
        reverse=bool(key_row.reverse),
        corrected=fix is not None,
        previous_id=previous_id,
        next_id=next_id,
    )
