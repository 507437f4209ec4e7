"""What one exam request costs the database: a save, a heartbeat and a load of the test are a few
statements in at most one short write transaction (the battery, the items and the attempt's frozen
layout come from memory), and only real changes move a seat's ``updated_at``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from sqlalchemy import event

from cbt_server.models import Attempt, db
from tests.builders import Participant, make_session

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA")


@pytest.fixture
def lab(app: Flask, fixture_banks):  # type: ignore[no-untyped-def]
    return make_session(app, participants=2)


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """Every SQL statement the app sends, transaction control (BEGIN/COMMIT) aside."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, _params, _context, _many):  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith(TRANSACTION_CONTROL):
            seen.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _writes(sql: list[str]) -> list[str]:
    return [s for s in sql if s.split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE")]


def _ready(app: Flask, lab) -> tuple[Participant, dict]:  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    attempt = person.begin(lab.token)
    first = next(i for i in attempt["items"] if i["section"] == 0 and i["type"] != "short")
    assert person.save(first["position"], [0], 1).status_code == 200  # warms the caches
    return person, first


def test_a_save_is_at_most_five_statements(app: Flask, lab, clock) -> None:  # type: ignore[no-untyped-def]
    person, item = _ready(app, lab)
    clock.advance(1)
    with statements(app) as sql:
        response = person.save(item["position"], [1], 2)
    assert response.status_code == 200
    assert response.get_json()["acks"] == [
        {"position": item["position"], "seq": 2, "status": "saved"}
    ]
    assert len(sql) <= 5, "\n".join(sql)
    assert not any("battery_versions" in s or "FROM items" in s for s in sql), sql
    assert len(_writes(sql)) == 1, sql  # the answer; last-seen is not due after 1 s


def test_a_save_with_the_last_seen_stamp_due_is_still_one_short_transaction(
    app: Flask, lab, clock
) -> None:  # type: ignore[no-untyped-def]
    person, item = _ready(app, lab)
    clock.advance(25)
    with statements(app) as sql:
        assert person.save(item["position"], [1], 2).status_code == 200
    assert len(sql) <= 5, "\n".join(sql)
    assert [s.split()[0:3] for s in _writes(sql)] == [
        ["UPDATE", "responses", "SET"],
        ["UPDATE", "attempts", "SET"],
    ]


def test_a_heartbeat_with_nothing_due_writes_nothing(app: Flask, lab, clock) -> None:  # type: ignore[no-untyped-def]
    person, item = _ready(app, lab)
    clock.advance(5)
    with statements(app) as sql:
        response = person.post("/heartbeat", {"position": item["position"]})
    assert response.status_code == 200
    assert _writes(sql) == [] and len(sql) <= 3, sql
    clock.advance(20)  # now the last-seen stamp is due
    with statements(app) as sql:
        assert person.post("/heartbeat", {"position": item["position"]}).status_code == 200
    assert len(_writes(sql)) >= 1


def test_loading_the_test_reads_and_writes_nothing_it_need_not(app: Flask, lab, clock) -> None:  # type: ignore[no-untyped-def]
    person, _item = _ready(app, lab)
    clock.advance(1)
    with statements(app) as sql:
        response = person.client.get("/api/v1/attempt")
    assert response.status_code == 200
    assert _writes(sql) == [] and len(sql) <= 3, sql


def test_a_last_seen_stamp_alone_does_not_move_the_seat_for_the_monitor(
    app: Flask, lab, clock
) -> None:  # type: ignore[no-untyped-def]
    person, item = _ready(app, lab)

    def stamp() -> tuple:  # type: ignore[type-arg]
        with app.app_context():
            attempt = db.session.scalar(db.select(Attempt))
            return attempt.updated_at, attempt.last_seen_at

    before, _ = stamp()
    clock.advance(25)
    assert person.post("/heartbeat", {"position": item["position"]}).status_code == 200
    after, seen = stamp()
    assert seen == clock.now() and after == before
    clock.advance(60)  # silent longer than the disconnection threshold, then back
    assert person.post("/heartbeat", {"position": item["position"]}).status_code == 200
    back, _ = stamp()
    assert back == clock.now()


@pytest.fixture
def turn_log(app: Flask) -> Iterator[list[str]]:
    """Every statement sent while a write transaction is open, transaction control aside."""
    from cbt_server.db import in_write_transaction

    seen: list[str] = []

    def record(_conn, _cursor, statement, _params, _context, _many):  # type: ignore[no-untyped-def]
        if in_write_transaction() and not statement.lstrip().upper().startswith(
            TRANSACTION_CONTROL
        ):
            seen.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_starting_an_attempt_holds_the_write_turn_for_plain_inserts_only(
    app: Flask, lab, turn_log
) -> None:  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    assert person.login().status_code == 302
    assert person.enter_token(lab.token).status_code == 302
    page = person.client.get("/exam/confirm")
    from tests.helpers import csrf_token

    turn_log.clear()
    started = person.client.post(
        "/exam/confirm", data={"csrf_token": csrf_token(page.get_data(as_text=True))}
    )
    assert started.status_code == 302 and started.headers["Location"].endswith("/exam/take")
    # One check that the enrolment has no attempt yet, the attempt, its sections, items, blank
    # answers and start event, and the login's binding to the enrolment; no re-read of rows
    # the request already holds, no assembly work in between.
    assert len(turn_log) <= 7, "\n".join(turn_log)
    assert [s.split()[0] for s in turn_log].count("SELECT") == 1, turn_log
    assert person.attempt()["state"] == "in_progress"


def test_a_login_holds_the_write_turn_for_its_record_and_audit_row_only(
    app: Flask, lab, turn_log
) -> None:  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    assert person.login().status_code == 302
    # the login record, the audit row and the audit chain's head (two updates); the account has
    # no failed logins to clear and the user is not read again
    assert len(turn_log) <= 4, "\n".join(turn_log)
    assert not any(s.startswith("SELECT") or "rate_counters" in s for s in turn_log), turn_log
