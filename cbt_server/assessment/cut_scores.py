"""Where stored levels' cuts came from, for the score sheet and the profile: cuts set by a
method (who, when) or the bank's fixed percentages. The cuts grading uses are decided in
delivery/cuts.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from cbt_server.models import BatteryVersion, CutScore, User, db


@dataclass(frozen=True)
class CutSource:
    """Where a stored level's cuts came from, for a page: a set cut (method, when, who) or,
    with ``cut_score_id`` None, the bank's fixed percentages."""

    code: str
    cut_score_id: int | None = None
    method: str | None = None
    set_at: datetime | None = None
    set_by: str | None = None
    battery: str | None = None
    version_label: str | None = None

    @property
    def from_bank(self) -> bool:
        return self.cut_score_id is None


def cut_sources(pairs: Iterable[tuple[str, int | None]]) -> list[CutSource]:
    """Each distinct (competency code, cut_score_id) of stored levels as a :class:`CutSource`,
    by code, set cuts before the bank's; one query for the set cuts named."""
    wanted = sorted(set(pairs), key=lambda p: (p[0], p[1] is None, p[1] or 0))
    ids = {cut_id for _code, cut_id in wanted if cut_id is not None}
    found: dict[int, tuple] = {}
    if ids:
        for row in db.session.execute(
            select(
                CutScore.id,
                CutScore.method,
                CutScore.set_at,
                User.full_name,
                BatteryVersion.code,
                BatteryVersion.version_label,
            )
            .join(BatteryVersion, BatteryVersion.id == CutScore.battery_version_id)
            .outerjoin(User, User.id == CutScore.set_by_id)
            .where(CutScore.id.in_(ids))
        ):
            found[row[0]] = tuple(row[1:])
    sources = []
    for code, cut_id in wanted:
        if cut_id is None or cut_id not in found:
            sources.append(CutSource(code))
        else:
            sources.append(CutSource(code, cut_id, *found[cut_id]))
    return sources
