"""Competency dictionary and job standards (reference data loaded from question_banks/)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cbt_server.models.base import JSONType, db


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
