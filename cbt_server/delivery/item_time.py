"""Time on each item, by the server's clock.

The page tells the server where it is: a position report when the participant moves to another
item (debounced), and the position carried by saves and heartbeats. The attempt keeps when the
page arrived at its current item (``position_since``); when the position changes, or the clock
stops (pause, submit, expiry, void), the time since then is added to that item's
``time_on_screen_ms`` and one visit to its ``visits``. The PC's clock is never used as a time:
a report may say how long the page has shown its item (a duration), which places the visit's
start before the report, within the time the server saw pass since the previous one. While the
clock stands (``position_since`` None) nothing accrues; it runs again on resume or reopen.
docs/delivery.md, "Time on each item".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, update

from cbt_server.models import Attempt, Response, db

_R = Response.__table__.c

#: One visit closed: its milliseconds added to the item's time on screen.
_CREDIT = (
    update(Response.__table__)
    .where(_R.attempt_id == bindparam("t_attempt"), _R.position == bindparam("t_position"))
    .values(
        time_on_screen_ms=_R.time_on_screen_ms + bindparam("t_ms"),
        visits=_R.visits + 1,
    )
)


def elapsed_ms(since: datetime, until: datetime) -> int:
    """Whole milliseconds from ``since`` to ``until`` (never negative: a clock stopped at the
    deadline may lie before the last position report)."""
    return max(0, round((until - since).total_seconds() * 1000))


def arrival(previous: datetime | None, at: datetime, age_ms: int) -> datetime:
    """When the page arrived at the item it reports at ``at``, having shown it ``age_ms``
    (a duration the PC measured: the report may come seconds after the move, debounced or
    carried by the next save). Never before the previous visit began: a PC cannot move time
    from one item to another beyond what the server saw."""
    if previous is None:
        return at
    return at - timedelta(milliseconds=min(age_ms, elapsed_ms(previous, at)))


def credit(
    connection: Any, attempt_id: int, position: int, since: datetime | None, until: datetime
) -> None:
    """Close the visit of ``position`` that began at ``since`` (inside a write transaction)."""
    if since is None:
        return
    connection.execute(
        _CREDIT,
        {"t_attempt": attempt_id, "t_position": position, "t_ms": elapsed_ms(since, until)},
    )


def stop(attempt: Attempt, until: datetime) -> None:
    """The clock stops at ``until``: the item on screen gets its time, and nothing accrues."""
    credit(
        db.session.connection(), attempt.id, attempt.current_position, attempt.position_since, until
    )
    attempt.position_since = None


def run(attempt: Attempt, at: datetime) -> None:
    """The clock runs again (resume, reopen): the item on screen is timed from ``at``."""
    attempt.position_since = at
