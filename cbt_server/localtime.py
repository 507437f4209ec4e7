"""Times are stored in UTC and shown / entered in the lab's zone (default WIB, Asia/Jakarta)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from flask import Flask, current_app


def zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("CBT_TIMEZONE", "Asia/Jakarta"))


def to_local(moment: datetime | None) -> datetime | None:
    return moment.astimezone(zone()) if moment is not None else None


def from_local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=zone()).astimezone(UTC)


def register_filters(app: Flask) -> None:
    @app.template_filter("local")
    def _local(moment: datetime | None, fmt: str = "%d-%m-%Y %H:%M") -> str:
        shown = to_local(moment)
        return shown.strftime(fmt) if shown is not None else "—"

    @app.context_processor
    def _zone_name() -> dict[str, str]:
        names = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}
        configured = current_app.config.get("CBT_TIMEZONE", "Asia/Jakarta")
        return {"zone_label": names.get(configured, configured)}
