"""Security budgets in the database: fixed-window counters that every worker and host shares.

A check is one read; only a spend (a failed login, a wrong token, an events request) writes, and
it does so inside the caller's write transaction. A request over budget is refused before the
work it would cost (a password hash, a write), with the seconds until the window ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import case, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from cbt_server.models import RateCounter, db


@dataclass(frozen=True)
class Budget:
    name: str
    limit: int
    window: timedelta

    def configured(self) -> Budget:
        """``CBT_LIMIT_<NAME>`` = "count/seconds" overrides the default (e.g. "20/900")."""
        raw = current_app.config.get(f"CBT_LIMIT_{self.name.upper().replace('-', '_')}")
        if not raw:
            return self
        count, _, seconds = str(raw).partition("/")
        return Budget(self.name, int(count), timedelta(seconds=int(seconds or 60)))


#: OWASP ASVS 2.2.1: at most 100 failed attempts per hour on one account; far fewer here.
FAILED_LOGINS_PER_ACCOUNT = Budget("failed-logins-account", 10, timedelta(minutes=15))
#: one lab PC; a room behind one NAT address needs more (docs/limits.md)
FAILED_LOGINS_PER_ADDRESS = Budget("failed-logins-address", 30, timedelta(minutes=15))
WRONG_TOKENS_PER_PARTICIPANT = Budget("wrong-tokens", 10, timedelta(minutes=10))
#: the page sends its integrity events at most every 2 s
EVENT_REQUESTS_PER_ATTEMPT = Budget("events", 40, timedelta(minutes=1))


class OverBudget(Exception):
    """Refused: the budget is spent until the window ends."""

    def __init__(self, budget: Budget, retry_after: int) -> None:
        super().__init__(f"{budget.name}: retry after {retry_after} s")
        self.budget = budget
        self.retry_after = max(1, retry_after)


def _bucket(budget: Budget, key: str | int) -> str:
    return f"{budget.name}:{key}"[:200]


def check(budget: Budget, key: str | int, at: datetime) -> bool:
    """Raise :class:`OverBudget` when ``key`` has used the budget in the current window.
    Returns whether ``key`` has a counter at all (nothing to :func:`clear` otherwise)."""
    budget = budget.configured()
    row = db.session.execute(
        select(RateCounter.window_start, RateCounter.count).where(
            RateCounter.bucket == _bucket(budget, key)
        )
    ).first()
    if row is None:
        return False
    start, count = row
    if start + budget.window > at and count >= budget.limit:
        raise OverBudget(budget, int((start + budget.window - at).total_seconds()) + 1)
    return True


def spend(budget: Budget, key: str | int, at: datetime) -> None:
    """Count one use (inside a write transaction): a new window once the old one is over."""
    budget = budget.configured()
    table = RateCounter.__table__
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    expired = table.c.window_start <= at - budget.window
    statement = insert(table).values(bucket=_bucket(budget, key), window_start=at, count=1)
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.bucket],
            set_={
                "count": case((expired, 1), else_=table.c.count + 1),
                "window_start": case(
                    (expired, statement.excluded.window_start), else_=table.c.window_start
                ),
            },
        )
    )


def clear(budget: Budget, key: str | int) -> None:
    """Forget the uses (a successful login, a proctor's reset). Inside a write transaction."""
    db.session.execute(delete(RateCounter).where(RateCounter.bucket == _bucket(budget, key)))


def prune(at: datetime, older_than: timedelta = timedelta(days=1)) -> int:
    """Drop counters whose window ended long ago (the sweeper does this now and then)."""
    result = db.session.execute(
        delete(RateCounter).where(RateCounter.window_start < at - older_than)
    )
    return result.rowcount or 0
