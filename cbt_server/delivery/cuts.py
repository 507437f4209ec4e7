"""The level cuts grading uses for a battery version.

A competency's cuts are the newest set by a method for that battery version (``cut_scores``,
assessment/standard_setting.py), else the bank's percentages (``definition["levels"]``: the
competency's line, else ``default``). :func:`cuts_in_force` is the one place that decides it:
grading a single attempt, regrades and the standard-setting pages ask it. It costs one indexed
query. (Where a stored level's cuts came from, for the pages: assessment/cut_scores.py.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from cbt_server.models import CutScore, db
from cbt_server.scoring.levels import bank_cuts


@dataclass(frozen=True)
class SetCuts:
    """Cuts set by a method for a battery version and competency."""

    id: int
    cuts: tuple[float, ...]


@dataclass(frozen=True)
class CutsInForce:
    """The cuts grading uses for one battery version: set ones first, else the bank's."""

    battery_version_id: int
    levels: Mapping[str, Sequence[float]]
    set_cuts: Mapping[str, SetCuts] = field(default_factory=dict)

    def cuts(self, code: str) -> Sequence[float]:
        """The four cuts of a competency (or integrity scale)."""
        found = self.set_cuts.get(code)
        return found.cuts if found is not None else bank_cuts(self.levels, code)

    def cut_score_id(self, code: str) -> int | None:
        """The set cuts in force for a competency; None when the bank's percentages are."""
        found = self.set_cuts.get(code)
        return found.id if found is not None else None


def cuts_in_force(battery_version_id: int, levels: Mapping[str, Sequence[float]]) -> CutsInForce:
    """The cuts in force for a battery version (``levels``: its definition's table). One query
    on ``cut_scores``' battery version index; the newest set cuts of a competency win."""
    newest: dict[str, SetCuts] = {}
    rows = db.session.execute(
        select(
            CutScore.id,
            CutScore.competency_code,
            CutScore.cut_1,
            CutScore.cut_2,
            CutScore.cut_3,
            CutScore.cut_4,
        )
        .where(CutScore.battery_version_id == battery_version_id)
        .order_by(CutScore.id)
    )
    for cut_id, code, *cuts in rows:  # ascending ids: the newest wins
        newest[code] = SetCuts(cut_id, tuple(float(c) for c in cuts))
    return CutsInForce(battery_version_id, levels, newest)
