"""Competency dictionary and job standards (reference data loaded from question_banks/)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cbt_server.models.base import JSONType, UTCDateTime, db


class JobFamily(db.Model):
    __tablename__ = "job_families"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class Competency(db.Model):
    __tablename__ = "competencies"
    __table_args__ = (
        CheckConstraint(
            "competency_group IN ('managerial', 'sociocultural', 'technical', 'integrity')",
            name="group",
        ),
    )

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    competency_group: Mapped[str] = mapped_column(String(16))
    definition: Mapped[str] = mapped_column(Text)
    job_family: Mapped[str | None] = mapped_column(ForeignKey("job_families.code"))
    validity: Mapped[bool] = mapped_column(default=False)
    #: {"1": descriptor, ..., "5": descriptor}
    levels: Mapped[dict] = mapped_column(JSONType)


class Position(db.Model):
    __tablename__ = "positions"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    position_type: Mapped[str] = mapped_column(String(16))
    job_family: Mapped[str | None] = mapped_column(ForeignKey("job_families.code"))


class PositionRequirement(db.Model):
    __tablename__ = "position_requirements"
    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 5", name="level"),)

    position_code: Mapped[str] = mapped_column(
        ForeignKey("positions.code", ondelete="CASCADE"), primary_key=True
    )
    competency_code: Mapped[str] = mapped_column(ForeignKey("competencies.code"), primary_key=True)
    level: Mapped[int]


class StandardVersion(db.Model):
    """One version of a position's competency standard: the required level per competency as
    it was from ``created_at`` on. ``position_requirements`` holds the newest; profiles use the
    version in force when the person's results were measured (docs/profiling.md)."""

    __tablename__ = "standard_versions"
    __table_args__ = (UniqueConstraint("position_code", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    position_code: Mapped[str] = mapped_column(
        ForeignKey("positions.code", ondelete="CASCADE"), index=True
    )
    #: 1, 2, … per position
    number: Mapped[int]
    #: {competency code: required level 1–5}
    levels: Mapped[dict] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: who set it in the browser; None for an import from the bank folder or the migration
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: import | browser | migration
    source: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
