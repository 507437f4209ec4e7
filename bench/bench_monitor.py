"""The proctor's live-monitor refresh for a 500-seat session, on SQLite and on PostgreSQL.

    .venv-test/bin/python bench/bench_monitor.py [--seats 500] [--runs 30] [--changed 10]
        [--other-sessions 0] [--databases sqlite,postgresql] [--show-sql]

For each database it builds a migrated database (a SQLite file; a PostgreSQL database of its own,
created on the server ``CBT_BENCH_PG_URL`` names, default
``postgresql://postgres@127.0.0.1:5432/test``, and dropped afterwards), imports the generated
50-item battery (``bench/generated_bank.py``) and bulk-inserts a session: participants,
enrolments, attempts in every state (absent, logged in, in progress, paused, submitted, expired,
voided) with ~40 answered items each, one heartbeat event a minute, integrity events, live
logins and last-seen times. ``--other-sessions N`` adds N earlier, finished sessions of the same
size (a server that has been in use for a while).

Then, through the Flask test client logged in as the session's proctor, it times
``GET /proctor/sessions/<id>/monitor.json`` (median and 90th percentile over ``--runs`` after a
warm-up), with the response size raw and gzip-compressed and the SQL statements per request
(a ``before_cursor_execute`` listener):

* **full**: no ``since`` (the page does this every 30 s);
* **since, steady state**: ``since`` = 13 s ago, the page's window (3 s poll + 10 s overlap),
  while connected PCs send their heartbeat every 15 s;
* **since, N changed**: a quiet moment in which only ``--changed`` seats saved an answer, raised
  an integrity event or were paused.

It also times ``monitor.seats()`` alone (the queries and the Python loop, without routing,
authentication and JSON).
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from flask import Flask  # noqa: E402
from generated_bank import write_bank_folder  # noqa: E402
from monitor_data import NOW, PROCTOR, Plan, change_seats, seed  # noqa: E402
from sqlalchemy import event  # noqa: E402

from cbt_server import create_app  # noqa: E402
from cbt_server.clock import ManualClock  # noqa: E402
from cbt_server.models import ExamSession, db  # noqa: E402
from tests import live  # noqa: E402

PG_URL = os.environ.get("CBT_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
STEADY_WINDOW = timedelta(seconds=13)  # monitor.js: POLL_MS 3 s + SINCE_OVERLAP_MS 10 s


# ---- databases ------------------------------------------------------------------------------


def fresh_database(kind: str, folder: Path):  # type: ignore[no-untyped-def]
    """An empty database: a SQLite file, or a PostgreSQL database created for this run on
    ``CBT_BENCH_PG_URL`` (dropped afterwards)."""
    return live.fresh_database(kind, folder, PG_URL)


def migrated_app(url: str, instance: Path, clock: ManualClock) -> Flask:
    """An app on ``url`` after ``flask db upgrade`` (the migrations, never create_all)."""
    from flask_migrate import upgrade

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "INSTANCE_PATH": instance,
            "SECRET_KEY": "bench-secret",
            "CBT_CLOCK": clock,
        }
    )
    with app.app_context():
        upgrade()
    return app


def import_battery(app: Flask, folder: Path) -> None:
    battery = write_bank_folder(folder)
    result = app.test_cli_runner().invoke(args=["banks", "import", str(folder)])
    if result.exit_code != 0:
        raise RuntimeError(result.output)
    print(f"  imported {battery}")


# ---- measuring ------------------------------------------------------------------------------


@dataclass
class Figures:
    seats: int
    median_ms: float
    p90_ms: float
    raw_bytes: int
    gzip_bytes: int
    statements: int


class StatementCounter:
    """Counts (and keeps the text of) the SQL statements the engine executes."""

    def __init__(self, engine: sa.Engine) -> None:
        self.texts: list[str] = []
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.texts.append(" ".join(statement.split()))

    def reset(self) -> None:
        self.texts = []


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def time_refresh(client: Any, path: str, query: dict, runs: int, sql: StatementCounter) -> Figures:
    for _ in range(3):  # warm-up: connections, template and statement caches
        client.get(path, query_string=query)
    timings, statements = [], []
    body = b""
    for _ in range(runs):
        sql.reset()
        started = time.perf_counter()
        response = client.get(path, query_string=query)
        timings.append((time.perf_counter() - started) * 1000)
        statements.append(len(sql.texts))
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code}")
        body = response.get_data()
    return Figures(
        seats=len(response.get_json()["seats"]),
        median_ms=statistics.median(timings),
        p90_ms=_percentile(timings, 0.9),
        raw_bytes=len(body),
        gzip_bytes=len(gzip.compress(body, 6)),
        statements=max(statements),
    )


def time_seats_call(app: Flask, session_id: int, since: datetime | None, runs: int) -> float:
    """Median milliseconds of ``monitor.seats()`` alone, each in a fresh app context."""
    from cbt_server.clock import now
    from cbt_server.proctoring import monitor

    timings = []
    for _ in range(runs + 3):
        with app.app_context():
            session = db.session.get(ExamSession, session_id)
            started = time.perf_counter()
            monitor.seats(session, now(), since)
            timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings[3:])


def print_row(label: str, f: Figures) -> None:
    print(
        f"  {label:<28}{f.seats:>6}{f.median_ms:>11.1f}{f.p90_ms:>9.1f}{f.raw_bytes:>10}"
        f"{f.gzip_bytes:>9}{f.statements:>7}"
    )


def measure(app: Flask, clock: ManualClock, session_id: int, plan: Plan, show_sql: bool) -> None:
    from tests.helpers import login

    with app.app_context():
        sql = StatementCounter(db.engine)
    client = app.test_client()
    if login(client, *PROCTOR).status_code != 302:
        raise RuntimeError("the proctor could not log in")
    path = f"/proctor/sessions/{session_id}/monitor.json"
    print(
        f"  {'refresh':<28}{'seats':>6}{'median ms':>11}{'p90 ms':>9}{'raw B':>10}"
        f"{'gzip B':>9}{'SQL':>7}"
    )
    clock.set(NOW)
    full = time_refresh(client, path, {}, plan.runs, sql)
    print_row("full", full)
    if show_sql:
        print("\n".join(f"      {t[:150]}" for t in sql.texts))
    steady_since = NOW - STEADY_WINDOW
    steady = time_refresh(client, path, {"since": steady_since.isoformat()}, plan.runs, sql)
    print_row("since, steady state (13 s)", steady)
    seats_full = time_seats_call(app, session_id, None, plan.runs)
    seats_steady = time_seats_call(app, session_id, steady_since, plan.runs)
    clock.set(NOW + timedelta(seconds=20))  # the attempt's stamp takes the app's clock
    change_seats(app, session_id, plan.changed, clock.now())
    clock.set(NOW + timedelta(seconds=30))
    quiet_since = NOW + timedelta(seconds=10)
    quiet = time_refresh(client, path, {"since": quiet_since.isoformat()}, plan.runs, sql)
    print_row(f"since, {plan.changed} seats changed", quiet)
    if show_sql:
        print("\n".join(f"      {t[:150]}" for t in sql.texts))
    seats_quiet = time_seats_call(app, session_id, quiet_since, plan.runs)
    print(
        f"  monitor.seats() alone, median ms: full {seats_full:.1f}, "
        f"steady {seats_steady:.1f}, {plan.changed} changed {seats_quiet:.1f}"
    )


# ---- main -----------------------------------------------------------------------------------


def run(kind: str, plan: Plan, show_sql: bool) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="cbt-monitor-") as tmp,
        fresh_database(kind, Path(tmp)) as url,
    ):
        clock = ManualClock(NOW - timedelta(days=plan.other_sessions + 2))
        app = migrated_app(url, Path(tmp), clock)
        import_battery(app, Path(tmp) / "qb")
        clock.set(NOW)
        started = time.perf_counter()
        session_id = seed(app, plan)
        print(f"  generated in {time.perf_counter() - started:.1f} s")
        try:
            measure(app, clock, session_id, plan, show_sql)
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seats", type=int, default=500)
    parser.add_argument("--answered", type=int, default=40, help="answered items per attempt")
    parser.add_argument("--changed", type=int, default=10, help="seats changed for ?since=")
    parser.add_argument("--runs", type=int, default=30, help="timed refreshes per figure (≥ 20)")
    parser.add_argument("--other-sessions", type=int, default=0, help="finished sessions before")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--show-sql", action="store_true", help="print one refresh's statements")
    args = parser.parse_args(argv)
    if args.runs < 20:
        parser.error("--runs must be at least 20 (a median of fewer is noise on a busy machine)")
    plan = Plan(args.seats, 50, args.answered, args.changed, args.runs, args.other_sessions)
    for kind in args.databases.split(","):
        print(
            f"\n{kind}: {plan.seats} seats, {plan.items} items (~{plan.answered} answered), "
            f"{plan.other_sessions} earlier sessions, {plan.runs} runs per figure"
        )
        run(kind, plan, args.show_sql)


if __name__ == "__main__":
    main()
