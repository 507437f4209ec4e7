"""Times are stored in UTC and shown / entered in the lab's zone (default WIB, Asia/Jakarta)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Flask, current_app


def zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("CBT_TIMEZONE", "Asia/Jakarta"))


def to_local(moment: datetime | None) -> datetime | None:
    return moment.astimezone(zone()) if moment is not None else None


def from_local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=zone()).astimezone(UTC)


def window_from_local(day: date, starts: time, ends: time) -> tuple[datetime, datetime]:
    """A session's window typed as one day and two times: an end at or before the start is on
    the next day (a night session, 20:00–06:00; 08:00–08:00 is 24 hours)."""
    end_day = day + timedelta(days=1) if ends <= starts else day
    return from_local(day, starts), from_local(end_day, ends)


def last_day(starts_at: datetime, ends_at: datetime) -> date | None:
    """The lab's day on which a window ends, when it is not the day it starts (None): a window
    ending at midnight sharp ends on its start day."""
    first = to_local(starts_at).date()  # type: ignore[union-attr]
    last = to_local(ends_at - timedelta(microseconds=1)).date()  # type: ignore[union-attr]
    return last if last > first else None


def window_text(
    starts_at: datetime, ends_at: datetime, *, with_day: bool = True, day_format: str = "%d-%m-%Y"
) -> str:
    """``24-11-2026 08:00–10:30``; a window ending on a later day names that day at its end
    (``24-11-2026 20:00–25-11-2026 06:00``). Without ``with_day`` the start's day is left out."""
    starts, ends = to_local(starts_at), to_local(ends_at)
    begin = f"{starts:{day_format} %H:%M}" if with_day else f"{starts:%H:%M}"  # type: ignore[str-format]
    later = last_day(starts_at, ends_at)
    end = f"{ends:{day_format} %H:%M}" if later else f"{ends:%H:%M}"  # type: ignore[str-format]
    return f"{begin}–{end}"


def register_filters(app: Flask) -> None:
    @app.template_filter("local")
    def _local(moment: datetime | None, fmt: str = "%d-%m-%Y %H:%M") -> str:
        shown = to_local(moment)
        return shown.strftime(fmt) if shown is not None else "—"

    @app.template_filter("window")
    def _window(session: object, with_day: bool = True) -> str:
        """A session's (or a row's) ``starts_at``–``ends_at`` as :func:`window_text` writes it."""
        return window_text(session.starts_at, session.ends_at, with_day=with_day)  # type: ignore[attr-defined]

    @app.context_processor
    def _zone_name() -> dict[str, str]:
        names = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}
        configured = current_app.config.get("CBT_TIMEZONE", "Asia/Jakarta")
        return {"zone_label": names.get(configured, configured)}
