"""The one clock of the server. Tests replace it to move time without sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from flask import Flask, current_app


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to (tests, simulations)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 23, 8, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float = 0, **kwargs: float) -> datetime:
        self._now += timedelta(seconds=seconds, **kwargs)
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment


def init_clock(app: Flask) -> None:
    app.extensions["cbt_clock"] = app.config.get("CBT_CLOCK") or SystemClock()


def now() -> datetime:
    """The current time (UTC, aware) from the application's clock."""
    return current_app.extensions["cbt_clock"].now()
