"""Item calibrations of a bank (item response theory), kept as numbered versions.

A calibration is one run of the Rasch model (or the 2PL) on the graded attempts of the sessions
an assessor chose (docs/psychometrics.md, "Calibrating a bank from stored responses"). Versions
are numbered per bank code (1, 2, …) and never changed afterwards; each item of the bank that
those attempts presented has a row with its parameters and fit, or with why it has none.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cbt_server.models.base import JSONType, UTCDateTime, db

CALIBRATION_MODELS = ("rasch", "2pl")
#: analytics/irt.py's statuses, and ``excluded`` for the item types no model here covers
ITEM_STATUSES = (
    "calibrated",
    "anchor",
    "too_few",
    "too_few_for_2pl",
    "all_correct",
    "all_wrong",
    "excluded",
)
FIT_CATEGORIES = ("good", "productive", "overfit", "noisy", "degrading")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Calibration(db.Model):
    """One calibration of a bank: what went in (sessions, anchors), the population and how the
    estimation ended. ``persons`` are the attempts in the likelihood (at least one response to
    a calibrated item); ``responses`` their 0/1 responses to the items with parameters."""

    __tablename__ = "calibrations"
    __table_args__ = (
        UniqueConstraint("bank_code", "version"),
        CheckConstraint("version >= 1", name="version"),
        CheckConstraint(_one_of("model", CALIBRATION_MODELS), name="model"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_code: Mapped[str] = mapped_column(String(64))
    #: 1, 2, … per bank code
    version: Mapped[int]
    model: Mapped[str] = mapped_column(String(8))
    #: the sessions whose graded attempts were read: [{"id": …, "code": …}, …]
    sessions: Mapped[list] = mapped_column(JSONType)
    persons: Mapped[int]
    responses: Mapped[int]
    #: the population N(μ, σ²) on the calibration's scale (μ = 0 unless anchored)
    population_mean: Mapped[float]
    population_mean_se: Mapped[float | None]
    population_sd: Mapped[float]
    population_sd_se: Mapped[float | None]
    log_likelihood: Mapped[float]
    iterations: Mapped[int]
    converged: Mapped[bool]
    #: the earlier calibration whose parameters the anchor items kept (None: not linked)
    anchored_to_id: Mapped[int | None] = mapped_column(ForeignKey("calibrations.id"))
    anchors: Mapped[int] = mapped_column(default=0)
    #: None: the command line
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)

    items: Mapped[list[CalibrationItem]] = relationship(
        back_populates="calibration",
        order_by="CalibrationItem.item_code",
        cascade="all, delete-orphan",
    )


class CalibrationItem(db.Model):
    """One item of a calibration, by its id in the bank (``item_code``, stable across bank
    versions). ``n`` responses, ``correct`` of them with full marks (None for an excluded
    type); parameters and fit are None unless the status is calibrated or anchor."""

    __tablename__ = "calibration_items"
    __table_args__ = (
        CheckConstraint(_one_of("status", ITEM_STATUSES), name="status"),
        CheckConstraint(_one_of("fit_category", FIT_CATEGORIES), name="fit_category"),
    )

    calibration_id: Mapped[int] = mapped_column(
        ForeignKey("calibrations.id", ondelete="CASCADE"), primary_key=True
    )
    item_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    item_type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    n: Mapped[int]
    correct: Mapped[int | None]
    difficulty: Mapped[float | None]
    difficulty_se: Mapped[float | None]
    discrimination: Mapped[float | None]
    discrimination_se: Mapped[float | None]
    infit: Mapped[float | None]
    outfit: Mapped[float | None]
    #: the worse of the infit and outfit bands (analytics/irt.py, ``fit_category``)
    fit_category: Mapped[str | None] = mapped_column(String(16))

    calibration: Mapped[Calibration] = relationship(back_populates="items")
