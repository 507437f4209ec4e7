"""Facts about running the server itself: rate-limit counters and the server's last sign of life.

Both live in the database so that every gunicorn worker, and every host of a PostgreSQL
deployment, sees the same limit and the same clock of liveness.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from cbt_server.models.base import UTCDateTime, db


class RateCounter(db.Model):
    """A fixed-window counter: ``count`` events of ``bucket`` since ``window_start``."""

    __tablename__ = "rate_counters"

    bucket: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    count: Mapped[int] = mapped_column(default=0)


class ServerClock(db.Model):
    """One row (id 1): when a worker of this server last proved it was serving.

    A gap between ``alive_at`` and the next proof is an outage: time nobody could use
    (cbt_server/delivery/outage.py)."""

    __tablename__ = "server_clock"

    id: Mapped[int] = mapped_column(primary_key=True)
    alive_at: Mapped[datetime] = mapped_column(UTCDateTime)
