"""Correcting a wrong key and regrading a battery's attempts, keeping the old scores.

A correction is a :class:`KeyOverride` on the item version the attempts used: typed in by an
assessor, or taken from a newer bank version whose item with the same id has another key. Grading
always applies the newest override, so attempts finished later are graded right too. A regrade
stores every attempt's scores before and after (:class:`AttemptRegrade`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from cbt_server import audit
from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.delivery import calibrated
from cbt_server.delivery.cuts import CutsInForce, cuts_in_force
from cbt_server.delivery.grading import grade_attempt, key_overrides
from cbt_server.delivery.lifecycle import GRADED
from cbt_server.models import (
    Attempt,
    AttemptItem,
    AttemptRegrade,
    AttemptScore,
    BankVersion,
    BatteryVersion,
    Item,
    ItemKey,
    KeyOverride,
    Regrade,
    Response,
    User,
    db,
)


class RegradeError(ValueError):
    """The correction or regrade is refused; the message says why (Indonesian, for the page)."""


@dataclass(frozen=True)
class KeyChange:
    item_code: str
    old: dict[str, Any]
    new: dict[str, Any]


def _labels(item: Item) -> list[str]:
    return [label for label, _ in item.options]


def check_key(item: Item, key: list[str], weights: dict | None, accept: list[str]) -> None:
    """Refuse a key that does not fit the item (same rules as the bank validator)."""
    labels = _labels(item)
    kind = item.item_type
    if kind == "likert":
        raise RegradeError("Butir Likert tidak memiliki kunci; arah skala ditetapkan di bank soal.")
    if kind == "short":
        if not [a for a in accept if a.strip()]:
            raise RegradeError("Isian singkat memerlukan minimal satu jawaban yang diterima.")
        return
    if kind == "weighted":
        if weights is None or set(weights) != set(labels):
            raise RegradeError(f"Bobot harus diberikan untuk setiap opsi: {', '.join(labels)}.")
        return
    unknown = [k for k in key if k not in labels]
    if unknown:
        raise RegradeError(f"Kunci {', '.join(unknown)} tidak ada di opsi ({', '.join(labels)}).")
    if kind in ("single", "truefalse") and len(key) != 1:
        raise RegradeError("Butir ini memerlukan tepat satu kunci.")
    if kind == "multiple" and not key:
        raise RegradeError("Butir jawaban ganda memerlukan minimal satu kunci.")


def override_key(
    actor: User, item_id: int, key: list[str], weights: dict | None, accept: list[str], reason: str
) -> KeyOverride:
    """Record a corrected key for one item version (applies from the next grading on)."""
    reason = (reason or "").strip()
    if not reason:
        raise RegradeError("Alasan koreksi kunci wajib diisi.")
    with write_transaction():
        item = db.session.get(Item, item_id)
        if item is None:
            raise RegradeError("Butir tidak ditemukan.")
        check_key(item, key, weights, accept)
        override = KeyOverride(
            item_id=item.id,
            key=key,
            weights=weights,
            accept=accept,
            reason=reason,
            created_by=actor.id,
            created_at=now(),
        )
        db.session.add(override)
        audit.record(
            "key.override",
            actor=actor,
            target=item.item_code,
            reason=reason,
            details={"item_id": item.id, "key": key, "weights": weights, "accept": accept},
        )
    return override


def _battery_attempts(battery_code: str) -> list[Attempt]:
    return list(
        db.session.scalars(
            select(Attempt)
            .join(BatteryVersion, BatteryVersion.id == Attempt.battery_version_id)
            .where(BatteryVersion.code == battery_code, Attempt.state.in_(tuple(GRADED)))
            .order_by(Attempt.id)
        )
    )


def changes_from_bank_version(
    battery_code: str, bank_version_id: int
) -> list[tuple[Item, KeyChange]]:
    """Items used by the battery's attempts whose key differs in the given bank version."""
    bank = db.session.get(BankVersion, bank_version_id)
    if bank is None:
        raise RegradeError("Versi bank soal tidak ditemukan.")
    used_ids = (
        select(AttemptItem.item_id)
        .join(Attempt, Attempt.id == AttemptItem.attempt_id)
        .join(BatteryVersion, BatteryVersion.id == Attempt.battery_version_id)
        .where(BatteryVersion.code == battery_code)
        .distinct()
    )
    # Ids first: PostgreSQL cannot DISTINCT over the items' JSON columns.
    used = db.session.scalars(
        select(Item)
        .join(BankVersion, BankVersion.id == Item.bank_version_id)
        .where(Item.id.in_(used_ids), BankVersion.code == bank.code)
        .order_by(Item.id)
    ).all()
    if not used:
        raise RegradeError(f"Bank {bank.code} tidak dipakai oleh percobaan baterai {battery_code}.")
    newer = {
        item.item_code: (item, key)
        for item, key in db.session.execute(
            select(Item, ItemKey)
            .join(ItemKey, ItemKey.item_id == Item.id)
            .where(Item.bank_version_id == bank.id)
        ).all()
    }
    fixes = key_overrides([item.id for item in used])
    changes = []
    for item in used:
        if item.item_code not in newer or newer[item.item_code][0].id == item.id:
            continue  # dropped from that version, or that version is this one: key unchanged
        new_item, new_key = newer[item.item_code]
        if _labels(new_item) != _labels(item) or new_item.item_type != item.item_type:
            raise RegradeError(
                f"Butir {item.item_code}: opsi atau jenis berubah di versi baru; "
                "jawaban lama tidak dapat dinilai ulang dengan kunci itu."
            )
        stored = db.session.get(ItemKey, item.id)
        current = fixes.get(item.id)
        old = {
            "key": list(current.key if current else stored.key),
            "weights": current.weights if current else stored.weights,
            "accept": list(current.accept if current else stored.accept or []),
        }
        new = {
            "key": list(new_key.key),
            "weights": new_key.weights,
            "accept": list(new_key.accept or []),
        }
        if old != new:
            changes.append((item, KeyChange(item.item_code, old, new)))
    return changes


def snapshot(attempt: Attempt) -> dict[str, Any]:
    """The attempt's stored scores, for keeping next to the regraded ones."""
    scores = [
        [s.scope, s.code, s.score, s.max_score, s.percent, s.level, s.flagged]
        for s in db.session.scalars(
            select(AttemptScore)
            .where(AttemptScore.attempt_id == attempt.id)
            .order_by(AttemptScore.scope, AttemptScore.code)
        )
    ]
    items = [
        [r.position, r.score, r.max_score]
        for r in db.session.scalars(
            select(Response).where(Response.attempt_id == attempt.id).order_by(Response.position)
        )
    ]
    return {"scores": scores, "items": items}


def regrade_battery(
    actor: User, battery_code: str, reason: str, bank_version_id: int | None = None
) -> Regrade:
    """Regrade every finished attempt of a battery (all its versions), keeping old scores.

    With ``bank_version_id``, first record key overrides for every item whose key differs in
    that bank version.
    """
    reason = (reason or "").strip()
    if not reason:
        raise RegradeError("Alasan penilaian ulang wajib diisi.")
    with write_transaction():
        attempts = _battery_attempts(battery_code)
        if not attempts:
            raise RegradeError(f"Belum ada percobaan selesai untuk baterai {battery_code}.")
        changes = (
            changes_from_bank_version(battery_code, bank_version_id) if bank_version_id else []
        )
        for item, change in changes:
            db.session.add(
                KeyOverride(
                    item_id=item.id,
                    key=change.new["key"],
                    weights=change.new["weights"],
                    accept=change.new["accept"],
                    reason=reason,
                    created_by=actor.id,
                    created_at=now(),
                )
            )
        db.session.flush()
        run = Regrade(
            battery_code=battery_code,
            reason=reason,
            bank_version_id=bank_version_id,
            actor_id=actor.id,
            at=now(),
            attempts=len(attempts),
        )
        db.session.add(run)
        db.session.flush()
        definitions: dict[int, dict] = {}
        # read once per battery version, not per attempt
        cuts: dict[int, CutsInForce] = {}
        scales: dict[int, calibrated.Scale] = {}
        for attempt in attempts:
            version_id = attempt.battery_version_id
            if version_id not in definitions:
                definitions[version_id] = db.session.get(BatteryVersion, version_id).definition
                cuts[version_id] = cuts_in_force(version_id, definitions[version_id]["levels"])
                scales[version_id] = calibrated.scale_for(version_id, definitions[version_id])
            old_total, old = attempt.total_score, snapshot(attempt)
            grade_attempt(
                attempt,
                definitions[version_id],
                reason="regrade",
                cuts=cuts[version_id],
                scale=scales[version_id],
            )
            db.session.flush()
            new = snapshot(attempt)
            run.changed += int(old != new)
            db.session.add(
                AttemptRegrade(
                    regrade_id=run.id,
                    attempt_id=attempt.id,
                    old_total=old_total,
                    new_total=attempt.total_score,
                    old_scores=old,
                    new_scores=new,
                )
            )
        audit.record(
            "battery.regrade",
            actor=actor,
            target=battery_code,
            reason=reason,
            details={
                "regrade_id": run.id,
                "attempts": run.attempts,
                "changed": run.changed,
                "bank_version_id": bank_version_id,
                "key_changes": [c.item_code for _i, c in changes],
            },
        )
    return run
