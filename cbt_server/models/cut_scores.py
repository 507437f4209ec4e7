"""Cut scores set by a method: standard-setting studies, panelists' judgements, set cuts.

A battery's level cuts come from its bank file (``definition["levels"]``) until an assessor sets
cuts for a battery version and competency from a study (docs/scoring.md, "Cut scores by a
method"). The newest :class:`CutScore` of a battery version and competency is in force;
older ones stay as history, and each stored level names the set cuts it was computed with
(``attempt_scores.cut_score_id``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cbt_server.models.base import UTCDateTime, db

CUT_METHODS = ("angoff",)
STUDY_STATUSES = ("draft", "set")


def _judged_range(n: int) -> str:
    limit = "(CASE WHEN as_probability THEN 1.0 ELSE max_points END)"
    return f"value_{n} >= 0 AND value_{n} <= {limit}"


class CutStudy(db.Model):
    """A standard-setting study of one competency of one battery version. A draft takes
    judgements; once its cuts are set it is closed, so what was set can be recomputed."""

    __tablename__ = "cut_studies"
    __table_args__ = (
        CheckConstraint("method IN ('angoff')", name="method"),
        CheckConstraint("status IN ('draft', 'set')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    battery_version_id: Mapped[int] = mapped_column(ForeignKey("battery_versions.id"), index=True)
    competency_code: Mapped[str] = mapped_column(ForeignKey("competencies.code"))
    method: Mapped[str] = mapped_column(String(16), default="angoff")
    status: Mapped[str] = mapped_column(String(16), default="draft")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CutJudgement(db.Model):
    """One panelist's judgements of one item of the study's pool, one value per boundary
    (boundary b opens level b + 1): as entered, a probability 0..1 (``as_probability``, items
    scored all or nothing) or expected points 0..``max_points``. ``max_points`` is the item's
    maximum when it was judged, so the study's result never changes afterwards."""

    __tablename__ = "cut_judgements"
    __table_args__ = (
        UniqueConstraint("study_id", "panelist", "item_id"),
        CheckConstraint("max_points > 0", name="max_points"),
        CheckConstraint(_judged_range(1), name="value_1"),
        CheckConstraint(_judged_range(2), name="value_2"),
        CheckConstraint(_judged_range(3), name="value_3"),
        CheckConstraint(_judged_range(4), name="value_4"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(
        ForeignKey("cut_studies.id", ondelete="CASCADE"), index=True
    )
    #: the panelist's name as the assessor entered it (panelists need no account)
    panelist: Mapped[str] = mapped_column(String(200))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    as_probability: Mapped[bool]
    max_points: Mapped[float]
    value_1: Mapped[float]
    value_2: Mapped[float]
    value_3: Mapped[float]
    value_4: Mapped[float]
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def values(self) -> tuple[float, float, float, float]:
        return (self.value_1, self.value_2, self.value_3, self.value_4)


class CutScore(db.Model):
    """Four level cuts (percentages) set for a battery version and competency from a study:
    they replace the bank's percentages for attempts graded from then on."""

    __tablename__ = "cut_scores"
    __table_args__ = (
        CheckConstraint("method IN ('angoff')", name="method"),
        CheckConstraint(
            "cut_1 >= 0 AND cut_1 < cut_2 AND cut_2 < cut_3 AND cut_3 < cut_4 AND cut_4 <= 100",
            name="ascending",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    battery_version_id: Mapped[int] = mapped_column(ForeignKey("battery_versions.id"), index=True)
    competency_code: Mapped[str] = mapped_column(ForeignKey("competencies.code"))
    cut_1: Mapped[float]
    cut_2: Mapped[float]
    cut_3: Mapped[float]
    cut_4: Mapped[float]
    method: Mapped[str] = mapped_column(String(16))
    study_id: Mapped[int] = mapped_column(ForeignKey("cut_studies.id"))
    #: how many panelists' judgements the cuts came from
    panelists: Mapped[int]
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)

    @property
    def cuts(self) -> tuple[float, float, float, float]:
        return (self.cut_1, self.cut_2, self.cut_3, self.cut_4)
