"""What assessors add around the test scores: outside ratings, performance, key fixes, regrades."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cbt_server.models.base import JSONType, UTCDateTime, db


class CompetencyRating(db.Model):
    """A self- or supervisor assessment of one competency, imported from a file."""

    __tablename__ = "competency_ratings"
    __table_args__ = (
        UniqueConstraint("user_id", "source", "competency_code", "period"),
        CheckConstraint("source IN ('self', 'supervisor')", name="source"),
        CheckConstraint("level >= 1 AND level <= 5", name="level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    competency_code: Mapped[str] = mapped_column(ForeignKey("competencies.code"))
    #: the period the rating covers, e.g. "2026"; "" when the file gives none
    period: Mapped[str] = mapped_column(String(32), default="")
    level: Mapped[float]
    rater: Mapped[str | None] = mapped_column(String(200))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PerformanceTarget(db.Model):
    """One performance indicator of a person's SKP: target against realisation."""

    __tablename__ = "performance_targets"
    __table_args__ = (UniqueConstraint("user_id", "period", "indicator"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    period: Mapped[str] = mapped_column(String(32))
    indicator: Mapped[str] = mapped_column(String(300))
    target: Mapped[float]
    realisation: Mapped[float]
    unit: Mapped[str | None] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PerformanceRating(db.Model):
    """A person's overall performance rating for a period (SKP predikat and/or a 0-100 score)."""

    __tablename__ = "performance_ratings"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    period: Mapped[str] = mapped_column(String(32), primary_key=True)
    predicate: Mapped[str | None] = mapped_column(String(32))
    score: Mapped[float | None]
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)


class KeyOverride(db.Model):
    """A corrected key for one item version; grading uses the newest active override."""

    __tablename__ = "key_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    key: Mapped[list] = mapped_column(JSONType, default=list)
    weights: Mapped[dict | None] = mapped_column(JSONType)
    accept: Mapped[list] = mapped_column(JSONType, default=list)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Regrade(db.Model):
    """One regrade run over a battery's finished attempts: who, when, why."""

    __tablename__ = "regrades"

    id: Mapped[int] = mapped_column(primary_key=True)
    battery_code: Mapped[str] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(Text)
    #: keys taken from this bank version's items with the same ids (None: stored keys/overrides)
    bank_version_id: Mapped[int | None] = mapped_column(ForeignKey("bank_versions.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    changed: Mapped[int] = mapped_column(default=0)


class AttemptRegrade(db.Model):
    """An attempt's scores before and after a regrade: the old ones are never lost."""

    __tablename__ = "attempt_regrades"

    regrade_id: Mapped[int] = mapped_column(
        ForeignKey("regrades.id", ondelete="CASCADE"), primary_key=True
    )
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), primary_key=True, index=True)
    old_total: Mapped[float | None]
    new_total: Mapped[float | None]
    #: [[scope, code, score, max, percent, level, flagged], ...] and per position item scores
    old_scores: Mapped[dict] = mapped_column(JSONType)
    new_scores: Mapped[dict] = mapped_column(JSONType)
