"""Batteries (test definitions), immutable versions keyed by content hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from cbt_server.models.base import JSONType, UTCDateTime, db


class BatteryVersion(db.Model):
    __tablename__ = "battery_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), index=True)
    version_label: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16))
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: sections, time limits, selection rules (pinned to bank_version ids), level cut points
    definition: Mapped[dict] = mapped_column(JSONType)
    source_path: Mapped[str] = mapped_column(String(500))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
