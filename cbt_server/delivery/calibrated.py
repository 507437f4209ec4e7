"""Levels on a calibrated scale, where the bank has been calibrated.

A competency's level comes from percentage cuts until its bank is calibrated
(docs/psychometrics.md, "Levels with their error"). Once the newest converged Rasch calibration
of the bank holds a difficulty for every item the attempt presented for the competency, grading
reads the level off the ability scale instead (:func:`cbt_server.analytics.precision.theta_level`):
the ability (Warm's WLE) with its standard error, against the same
percentage cuts carried onto the scale through the competency's item pool. Forms of different
difficulty then give comparable levels, and the band is the ability's error, not the
percentage's. One small query per graded attempt when no bank of the battery is calibrated (the
banks' newest calibrations), two when one is (and their items); the item pools are the
delivery's cached ones. A regrade reads the scale once per battery version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select

from cbt_server.analytics.irt import full_marks
from cbt_server.analytics.precision import ThetaLevel, theta_level
from cbt_server.delivery import frozen
from cbt_server.models import Calibration, CalibrationItem, db

#: item types the Rasch calibration covers (an item's score is 1 with full marks, else 0)
CALIBRATED_TYPES = frozenset({"single", "multiple", "truefalse", "short"})
USABLE = ("calibrated", "anchor")


@dataclass(frozen=True)
class Scale:
    """The newest calibration of each bank a battery draws from, ready for grading (empty
    when none is calibrated)."""

    battery_version_id: int
    #: bank code -> calibration id
    calibrations: dict[str, int]
    #: (bank code, item code) -> difficulty
    difficulty: dict[tuple[str, str], float]
    #: competency code -> [(bank code, item code)] the battery may draw for it
    pools: dict[str, list[tuple[str, str]]]
    #: bank version id -> bank code (an item names its bank version)
    bank_codes: dict[int, str]

    def level(
        self,
        competency: str,
        presented: Sequence[tuple[str, str, str]],
        scores: Sequence[float],
        maxima: Sequence[float],
        cuts: Sequence[float],
    ) -> tuple[int, ThetaLevel] | None:
        """(calibration id, level) of a competency's presented items ``(bank, item code, type)``
        and their scores, or None when it cannot be read off one calibrated scale."""
        banks = {bank for bank, _code, _type in presented}
        if len(banks) != 1 or not presented:
            return None
        bank = banks.pop()
        calibration_id = self.calibrations.get(bank)
        if calibration_id is None:
            return None
        keys = [(b, code) for b, code, _type in presented]
        if any(t not in CALIBRATED_TYPES for _b, _c, t in presented) or any(
            k not in self.difficulty for k in keys
        ):
            return None
        pool = [self.difficulty[k] for k in self.pools.get(competency, []) if k in self.difficulty]
        full = full_marks(np.asarray([scores], dtype=float), np.asarray(maxima, dtype=float))[0]
        own = [self.difficulty[k] for k in keys]
        return calibration_id, theta_level(full, own, pool or own, cuts)


def scale_for(battery_version_id: int, definition: dict) -> Scale:
    """The calibrated scale of a battery's banks (empty when none of them is calibrated)."""
    rules = [rule for section in definition["sections"] for rule in section["rules"]]
    # the battery's definition names each rule's bank and bank version: no query for the codes
    codes = {rule["bank_version_id"]: rule["bank"] for rule in rules}
    newest = (
        select(Calibration.bank_code, func.max(Calibration.version).label("version"))
        .where(
            Calibration.bank_code.in_(set(codes.values())),
            Calibration.model == "rasch",
            Calibration.converged.is_(True),  # an estimation that did not settle is no scale
        )
        .group_by(Calibration.bank_code)
        .subquery()
    )
    rows = db.session.execute(
        select(Calibration.id, Calibration.bank_code).join(
            newest,
            (newest.c.bank_code == Calibration.bank_code)
            & (newest.c.version == Calibration.version),
        )
    ).all()
    if not rows:
        return Scale(battery_version_id, {}, {}, {}, codes)
    calibrations = {bank: cid for cid, bank in rows}
    bank_of = {cid: bank for cid, bank in rows}
    difficulty = {
        (bank_of[cid], code): float(b)
        for cid, code, b in db.session.execute(
            select(
                CalibrationItem.calibration_id,
                CalibrationItem.item_code,
                CalibrationItem.difficulty,
            ).where(
                CalibrationItem.calibration_id.in_(list(bank_of)),
                CalibrationItem.status.in_(USABLE),
                CalibrationItem.difficulty.is_not(None),
            )
        )
        if np.isfinite(b)
    }
    pools: dict[str, list[tuple[str, str]]] = {}
    candidates = frozen.candidates(battery_version_id, definition)
    for s_index, section in enumerate(definition["sections"]):
        for r_index, rule in enumerate(section["rules"]):
            bank = codes.get(rule["bank_version_id"])
            pools.setdefault(rule["competency"], []).extend(
                (bank, c.item_code) for c in candidates.get((s_index, r_index), [])
            )
    return Scale(battery_version_id, calibrations, difficulty, pools, codes)
