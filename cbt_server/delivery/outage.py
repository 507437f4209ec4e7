"""A server outage costs nobody anything: the server's last sign of life, and time given back.

Every worker stamps ``server_clock.alive_at`` every few seconds (the sweeper thread) and once when
it starts, before it serves. A gap longer than :data:`OUTAGE_AFTER` between the last stamp and
now means nobody could save, load or submit: the server was down (killed, a power cut), or its
database refused writes. The first worker to notice gives the time back, exactly once (under the
clock row's lock):

- a gap up to ``CBT_OUTAGE_CREDIT_MAX_MINUTES`` (30 by default): every attempt that was running
  when the server went quiet gets its deadline (and its open section's) moved forward by the gap,
  as if a proctor had paused and resumed the room. Answers the PCs queued during the outage then
  arrive before the moved deadline and are stored as usual;
- a longer gap: those attempts are paused at the last sign of life, with their remaining time
  frozen; the proctor resumes the room when it is ready (docs/operations.md).

Only durations measured by the server are used: no PC's clock is trusted, and nobody gains more
than the outage. An attempt a proctor had paused is not touched (its clock was not running).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from cbt_server import audit
from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.delivery import clockwork
from cbt_server.delivery.lifecycle import AttemptState, Move, next_state
from cbt_server.models import Attempt, AttemptEvent, ServerClock, db

log = logging.getLogger(__name__)

#: how often each worker proves the server is serving
STAMP_EVERY = timedelta(seconds=2)
#: a silence longer than this is an outage (several stamps missed by every worker)
OUTAGE_AFTER = timedelta(seconds=8)
CLOCK_ROW = 1


def stamp(at: datetime | None = None) -> int:
    """Record that the server is serving; first give back any outage before it. Returns the
    number of attempts the outage touched (0 when there was none)."""
    at = at or now()
    with write_transaction():
        clock = db.session.scalar(
            select(ServerClock).where(ServerClock.id == CLOCK_ROW).with_for_update()
        )
        if clock is None:
            db.session.add(ServerClock(id=CLOCK_ROW, alive_at=at))
            return 0
        touched = 0
        if at - clock.alive_at > OUTAGE_AFTER:
            touched = _give_back(clock.alive_at, at)
        if at > clock.alive_at:
            clock.alive_at = at
    return touched


def catch_up(at: datetime) -> None:
    """Inside a write transaction that is about to expire an attempt or end a section: if the
    server has been quiet too long, give the outage back first (a request may come before the
    sweeper's next stamp, e.g. when a read-only database becomes writable again)."""
    clock = db.session.scalar(
        select(ServerClock).where(ServerClock.id == CLOCK_ROW).with_for_update()
    )
    if clock is not None and at - clock.alive_at > OUTAGE_AFTER:
        _give_back(clock.alive_at, at)
        clock.alive_at = at


def _give_back(quiet_since: datetime, back_at: datetime) -> int:
    gap = back_at - quiet_since
    limit = timedelta(minutes=float(current_app.config.get("CBT_OUTAGE_CREDIT_MAX_MINUTES", 30)))
    pause = gap > limit
    running = db.session.scalars(
        select(Attempt)
        .options(selectinload(Attempt.sections))
        .where(
            Attempt.state == AttemptState.IN_PROGRESS,
            Attempt.deadline_at > quiet_since - clockwork.GRACE,  # not yet over when it went quiet
        )
        .with_for_update()
    ).all()
    seconds = int(gap.total_seconds())
    for attempt in running:
        if pause:
            attempt.state = next_state(attempt.state, Move.PAUSE).value
            attempt.paused_at = quiet_since
        else:
            clockwork.moved_deadline(attempt, gap.total_seconds())
        attempt.outage_seconds += seconds
        db.session.add(
            AttemptEvent(
                attempt_id=attempt.id,
                kind="server_outage",
                at=back_at,
                detail={"seconds": seconds, "from": quiet_since.isoformat(), "paused": pause},
            )
        )
    audit.record(
        "server.outage",
        actor_label="server",
        details={
            "from": quiet_since.isoformat(),
            "to": back_at.isoformat(),
            "seconds": seconds,
            "attempts": len(running),
            "handling": "paused" if pause else "time_given_back",
        },
    )
    log.warning(
        "server was quiet for %d s: %s for %d running attempt(s)",
        seconds,
        "paused" if pause else "time given back",
        len(running),
    )
    return len(running)
