"""The one write path: every write a request makes goes through ``write_transaction`` (on SQLite
``BEGIN IMMEDIATE``), so concurrent workers wait for the lock instead of failing at once."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from flask import Flask
from sqlalchemy import select, text

from cbt_server.db import WriteOutsideTransaction, install_write_guard, write_transaction
from cbt_server.models import LoginSession, User, db
from tests.builders import Participant, make_session


@pytest.fixture
def lab(app: Flask, fixture_banks):  # type: ignore[no-untyped-def]
    with app.app_context():
        install_write_guard(db.engine)  # as the test configuration does (CBT_STRICT_WRITES)
    return make_session(app, participants=2)


def test_a_write_outside_the_write_path_is_refused_while_serving(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    with app.test_request_context("/"):
        with pytest.raises(WriteOutsideTransaction, match="UPDATE users"):
            db.session.execute(text("UPDATE users SET active = active"))
        db.session.rollback()
        with write_transaction():
            db.session.execute(text("UPDATE users SET active = active"))


def test_an_idle_login_is_touched_through_the_write_path(app: Flask, lab, clock) -> None:  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    assert person.login().status_code == 302
    clock.advance(61)  # the login's last-seen stamp is due
    assert person.client.get("/exam/").status_code == 200
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == lab.participants[0][0]))
        record = db.session.scalar(select(LoginSession).where(LoginSession.user_id == user.id))
        assert record.last_seen_at == clock.now()


def test_a_touch_waits_for_another_workers_write_instead_of_failing(
    app: Flask, lab, clock, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    """Another connection holds the write lock and commits while the request runs: a deferred
    read-then-write would fail at once with 'database is locked'; the write path waits."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's lock")
    person = Participant(app, *lab.participants[0])
    assert person.login().status_code == 302
    clock.advance(61)
    other = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    other.execute("PRAGMA busy_timeout = 10000")
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE exam_sessions SET name = name || ''")
    statuses: list[int] = []
    request = threading.Thread(
        target=lambda: statuses.append(person.client.get("/exam/").status_code)
    )
    request.start()
    time.sleep(0.4)  # the request has read its user and now waits for the write lock
    other.execute("COMMIT")
    other.close()
    request.join(20)
    assert statuses == [200]


def test_concurrent_saves_and_idle_touches_all_succeed(app: Flask, lab, clock) -> None:  # type: ignore[no-untyped-def]
    """Two PCs saving in parallel threads while the clock makes every login touch due."""
    people = [Participant(app, *credentials) for credentials in lab.participants]
    positions = []
    for person in people:
        attempt = person.begin(lab.token)
        positions.append(
            [i["position"] for i in attempt["items"] if i["section"] == 0 and i["type"] != "short"]
        )
    failures: list[str] = []

    def run(person: Participant, mine: list[int]) -> None:
        for seq in range(1, 31):
            response = person.save(mine[seq % len(mine)], [0], seq)
            if response.status_code != 200:
                failures.append(f"{response.status_code} {response.get_data(as_text=True)[:120]}")

    def tick() -> None:  # section 1 lasts 10 minutes: stay inside it
        for _ in range(8):
            clock.advance(61)
            time.sleep(0.02)

    threads = [
        threading.Thread(target=run, args=pair) for pair in zip(people, positions, strict=True)
    ]
    threads.append(threading.Thread(target=tick))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
