"""Time on each item, by the server's clock: what the page's position reports and saves leave in
the attempt's responses (docs/delivery.md, "Time on each item")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from cbt_server.delivery.item_time import elapsed_ms
from cbt_server.models import Response, db
from tests.builders import Participant, attempt_of, make_session
from tests.helpers import login
from tests.test_interventions import act


@pytest.fixture
def lab(app: Flask, fixture_banks):  # type: ignore[no-untyped-def]
    return make_session(app, participants=1)


@pytest.fixture
def person(app: Flask, lab) -> Participant:  # type: ignore[no-untyped-def]
    one = Participant(app, *lab.participants[0])
    one.begin(lab.token)
    return one


def _rows(app: Flask, username: str) -> dict[int, Response]:
    attempt = attempt_of(app, username)
    with app.app_context():
        rows = db.session.scalars(select(Response).where(Response.attempt_id == attempt.id))
        found = {r.position: r for r in rows}
        for row in found.values():
            db.session.expunge(row)
        return found


def _move(person: Participant, position: int):  # type: ignore[no-untyped-def]
    response = person.post("/position", {"position": position})
    assert response.status_code == 200
    return response


def test_each_visit_adds_the_server_time_the_item_was_on_screen(
    app: Flask, lab, person, clock
) -> None:  # type: ignore[no-untyped-def]
    clock.advance(seconds=12)  # item 0 on screen since the start
    _move(person, 1)
    clock.advance(seconds=30)
    _move(person, 0)  # back to item 0: a second visit
    clock.advance(seconds=5)
    _move(person, 2)
    clock.advance(seconds=3)
    rows = _rows(app, lab.participants[0][0])
    assert (rows[0].time_on_screen_ms, rows[0].visits) == (17_000, 2)
    assert (rows[1].time_on_screen_ms, rows[1].visits) == (30_000, 1)
    # item 2 is still on screen: its visit is closed by the next move or when the clock stops
    assert (rows[2].time_on_screen_ms, rows[2].visits) == (0, 0)
    assert person.post("/submit").status_code == 200
    assert (_rows(app, lab.participants[0][0])[2].time_on_screen_ms, 1) == (3_000, 1)


def test_a_heartbeat_or_a_repeated_report_of_the_same_item_adds_nothing(
    app: Flask, lab, person, clock
) -> None:  # type: ignore[no-untyped-def]
    clock.advance(seconds=20)
    assert person.post("/heartbeat", {"position": 0}).status_code == 200
    _move(person, 0)
    clock.advance(seconds=20)
    _move(person, 1)
    rows = _rows(app, lab.participants[0][0])
    assert (rows[0].time_on_screen_ms, rows[0].visits) == (40_000, 1)


def test_a_pause_stops_the_item_clock_and_a_resume_starts_it_again(
    app: Flask, lab, person, clock
) -> None:  # type: ignore[no-untyped-def]
    proctor = app.test_client()
    assert login(proctor, *lab.proctors[0]).status_code == 302
    name = lab.participants[0][0]
    clock.advance(seconds=10)
    assert act(app, proctor, lab, "pause", [name]).status_code == 200
    clock.advance(minutes=5)  # the pause: not time on any item
    assert act(app, proctor, lab, "resume", [name]).status_code == 200
    clock.advance(seconds=4)
    _move(person, 1)
    rows = _rows(app, name)
    assert rows[0].time_on_screen_ms == 14_000
    assert rows[0].visits == 2  # one visit before the pause, one after


def test_a_save_counts_the_changes_and_keeps_when_the_item_was_first_answered(
    app: Flask, lab, person, clock
) -> None:  # type: ignore[no-untyped-def]
    started = attempt_of(app, lab.participants[0][0]).started_at
    clock.advance(seconds=8)
    assert _save(person, 0, None, 1, shown_ms=7_900, flagged=True) == 200  # flagged only
    clock.advance(seconds=2)
    assert _save(person, 0, [1], 2, shown_ms=9_950) == 200  # the first answer
    clock.advance(seconds=6)
    assert _save(person, 0, [0], 3, shown_ms=15_900) == 200
    assert _save(person, 0, [0], 3, shown_ms=15_900) == 200  # a retry: not a change
    row = _rows(app, lab.participants[0][0])[0]
    assert row.save_count == 3
    assert row.first_answered_at == started + timedelta(seconds=10)
    assert row.first_answer_ms == 9_950
    assert row.saved_at == started + timedelta(seconds=16)


def _save(person: Participant, position: int, answer, seq: int, **more) -> int:  # type: ignore[no-untyped-def]
    flagged = more.pop("flagged", False)
    save = {"position": position, "answer": answer, "seq": seq, "flagged": flagged, **more}
    return person.post("/answers", {"saves": [save]}).status_code


def test_expiry_closes_the_visit_at_the_deadline(app: Flask, lab, person, clock) -> None:  # type: ignore[no-untyped-def]
    clock.advance(seconds=50)
    _move(person, 1)
    clock.advance(hours=2)  # long past the deadline: the attempt expires at its deadline
    assert person.post("/heartbeat").status_code in (200, 409)
    attempt = attempt_of(app, lab.participants[0][0])
    assert attempt.state == "expired"
    rows = _rows(app, lab.participants[0][0])
    assert rows[1].time_on_screen_ms == elapsed_ms(
        attempt.started_at + timedelta(seconds=50), attempt.deadline_at
    )
    assert rows[0].time_on_screen_ms == 50_000


def test_elapsed_ms_is_never_negative() -> None:
    from datetime import UTC, datetime

    at = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    assert elapsed_ms(at, at + timedelta(milliseconds=1500)) == 1500
    assert elapsed_ms(at, at - timedelta(seconds=1)) == 0


def test_a_late_report_places_the_visit_by_the_duration_the_page_measured(
    app: Flask, lab, person, clock
) -> None:  # type: ignore[no-untyped-def]
    """The page reports a move 3 s after it (debounced) or with the next save: the duration it
    sends places the start of the visit, never before what the server saw."""
    clock.advance(seconds=10)
    assert person.post("/position", {"position": 1, "position_age_ms": 3_000}).status_code == 200
    clock.advance(seconds=20)
    # a save carries the move to item 2, answered 4 s after it appeared
    response = person.post(
        "/answers",
        {
            "saves": [{"position": 2, "answer": [0], "seq": 1}],
            "position": 2,
            "position_age_ms": 4_000,
        },
    )
    assert response.status_code == 200
    clock.advance(seconds=5)
    # a PC claiming more than the server saw cannot move time from the item before
    assert person.post("/position", {"position": 3, "position_age_ms": 10**9}).status_code == 200
    rows = _rows(app, lab.participants[0][0])
    assert rows[0].time_on_screen_ms == 7_000
    assert rows[1].time_on_screen_ms == 19_000
    # the claim is cut to the 9 s the server saw since item 2 appeared: item 2 keeps 0 s
    assert rows[2].time_on_screen_ms == 0
    assert rows[2].visits == 1


@pytest.mark.parametrize("age", [-1, 2**31, "abc", 1.5e20])
def test_a_duration_out_of_range_is_a_400_and_changes_nothing(
    app: Flask, lab, person, clock, age
) -> None:  # type: ignore[no-untyped-def]
    clock.advance(seconds=10)
    response = person.post("/position", {"position": 1, "position_age_ms": age})
    assert response.status_code == 400
    assert attempt_of(app, lab.participants[0][0]).current_position == 0
    assert _save(person, 0, [1], 1, shown_ms=age) == 400
    assert _rows(app, lab.participants[0][0])[0].answer is None
