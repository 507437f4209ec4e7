"""Imported question banks: immutable versions keyed by content hash.

What a participant may be shown (:class:`Item`) and what must stay on the server
(:class:`ItemKey`: key, weights, accepted answers, reverse flag, competency/scale) are separate
tables. Delivery code reads only :class:`Item`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cbt_server.models.base import JSONType, UTCDateTime, db

ITEM_TYPES = ("single", "multiple", "truefalse", "weighted", "likert", "short")
BANK_KINDS = ("technical", "managerial", "integrity")


class BankVersion(db.Model):
    __tablename__ = "bank_versions"
    __table_args__ = (
        CheckConstraint("kind IN ('technical', 'managerial', 'integrity')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), index=True)
    version_label: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    source_path: Mapped[str] = mapped_column(String(500))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)

    items: Mapped[list[Item]] = relationship(back_populates="bank_version", order_by="Item.id")


class Item(db.Model):
    """The participant-visible part of an item version."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("bank_version_id", "item_code"),
        CheckConstraint(
            "item_type IN ('single', 'multiple', 'truefalse', 'weighted', 'likert', 'short')",
            name="item_type",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_version_id: Mapped[int] = mapped_column(
        ForeignKey("bank_versions.id", ondelete="CASCADE"), index=True
    )
    item_code: Mapped[str] = mapped_column(String(64))
    item_type: Mapped[str] = mapped_column(String(16))
    difficulty: Mapped[str | None] = mapped_column(String(8))
    stem_html: Mapped[str] = mapped_column(Text)
    #: [[label, option html], ...] in canonical (file) order
    options: Mapped[list] = mapped_column(JSONType)
    image_sha256: Mapped[str | None] = mapped_column(ForeignKey("media_files.sha256"))
    points: Mapped[float] = mapped_column(default=1.0)
    likert_points: Mapped[int | None]

    bank_version: Mapped[BankVersion] = relationship(back_populates="items")


class ItemKey(db.Model):
    """Scoring data of an item version. Never serialised to a participant."""

    __tablename__ = "item_keys"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    competency_code: Mapped[str] = mapped_column(ForeignKey("competencies.code"), index=True)
    #: keyed option labels (single / multiple / truefalse)
    key: Mapped[list] = mapped_column(JSONType, default=list)
    #: {label: weight} (weighted)
    weights: Mapped[dict | None] = mapped_column(JSONType)
    #: accepted answers (short)
    accept: Mapped[list] = mapped_column(JSONType, default=list)
    reverse: Mapped[bool] = mapped_column(default=False)


class MediaFile(db.Model):
    """Images referenced by items, stored in the database so every worker and host serves them."""

    __tablename__ = "media_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
