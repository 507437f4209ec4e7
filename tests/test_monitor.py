"""The proctor's live monitor (monitor.json): every seat, incremental refresh, constant queries."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select

from cbt_server.models import Enrolment, db
from tests.builders import Participant, make_session
from tests.helpers import csrf_token, login

STATUSES = ["absent", "logged_in", "in_progress", "paused", "submitted", "expired", "voided"]


@pytest.fixture
def banks(fixture_banks) -> None:  # type: ignore[no-untyped-def]
    """The fixture banks (a template of the run: tests/conftest.py)."""


@pytest.fixture
def lab(app: Flask, banks):  # type: ignore[no-untyped-def]
    return make_session(app, participants=len(STATUSES))


def proctor_of(app: Flask, lab) -> FlaskClient:  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert login(client, *lab.proctors[0]).status_code == 302
    return client


@pytest.fixture
def proctor(app: Flask, lab) -> FlaskClient:  # type: ignore[no-untyped-def]
    return proctor_of(app, lab)


def monitor(proctor: FlaskClient, lab, since: str | None = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    query = {"since": since} if since is not None else {}
    response = proctor.get(f"/proctor/sessions/{lab.id}/monitor.json", query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def by_seat(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {seat["seat"]: seat for seat in body["seats"]}


def act(proctor: FlaskClient, lab, action: str, seat: dict[str, Any], **fields: str) -> None:  # type: ignore[no-untyped-def]
    page = proctor.get(f"/proctor/sessions/{lab.id}/monitor").get_data(as_text=True)
    response = proctor.post(
        f"/proctor/sessions/{lab.id}/act/{action}",
        data={
            "csrf_token": csrf_token(page),
            "reason": "alasan pengujian",
            "enrolment_ids": str(seat["enrolment_id"]),
            **fields,
        },
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.get_json()


def events(person: Participant, *kinds: str) -> None:
    response = person.post("/events", {"events": [{"kind": kind} for kind in kinds]})
    assert response.status_code == 200, response.get_json()


@pytest.fixture
def room(app: Flask, lab, proctor, clock) -> dict[str, Participant]:  # type: ignore[no-untyped-def]
    """One seat in every status: PC-01 absent ... PC-07 voided (in the order of STATUSES)."""
    people = {status: Participant(app, *lab.participants[n]) for n, status in enumerate(STATUSES)}
    people["expired"].begin(lab.token)  # the first to start: its time runs out
    clock.advance(minutes=25)
    assert people["logged_in"].login().status_code == 302
    for status in ("in_progress", "paused", "submitted", "voided"):
        people[status].client.environ_base["REMOTE_ADDR"] = f"10.0.5.{STATUSES.index(status) + 1}"
        people[status].begin(lab.token)
    seats = by_seat(monitor(proctor, lab))
    act(proctor, lab, "pause", seats["PC-04"])
    act(proctor, lab, "void", seats["PC-07"])
    assert people["submitted"].post("/submit").status_code == 200
    clock.advance(minutes=5, seconds=6)  # the first attempt: past its deadline and the grace
    assert people["expired"].attempt()["state"] == "expired"
    return people


def test_every_seat_with_its_status(room, proctor, lab):  # type: ignore[no-untyped-def]
    body = monitor(proctor, lab)
    assert body["full"] is True and body["token"] == lab.token
    assert [s["seat"] for s in body["seats"]] == [f"PC-{n:02d}" for n in range(1, 8)]
    assert [s["status"] for s in body["seats"]] == STATUSES
    seats = by_seat(body)
    absent = seats["PC-01"]
    assert absent["name"] == "Peserta 1" and absent["nip"].startswith("1990")
    assert (absent["answered"], absent["total"], absent["flagged"]) == (0, 0, 0)
    assert absent["remaining_seconds"] is None and absent["last_seen_seconds"] is None
    assert absent["connected"] is False and absent["ip"] is None and absent["events"] == {}
    assert seats["PC-02"]["total"] == 0 and seats["PC-02"]["remaining_seconds"] is None
    # Started 5 min 6 s ago with 30 minutes: time runs for the running one, not the paused one.
    assert seats["PC-03"]["remaining_seconds"] == 30 * 60 - 306
    assert seats["PC-04"]["remaining_seconds"] == 30 * 60
    for finished in ("PC-05", "PC-06", "PC-07"):
        assert seats[finished]["remaining_seconds"] is None
        assert seats[finished]["total"] == 8
    assert seats["PC-03"]["ip"] == "10.0.5.3"  # the PC that started the attempt


def test_answers_flags_heartbeat_ip_and_integrity_events(room, proctor, lab, clock):  # type: ignore[no-untyped-def]
    person = room["in_progress"]
    assert person.save(0, [0], 1).status_code == 200
    assert person.save(1, [1], 2, flagged=True).status_code == 200
    assert person.save(2, None, 3, flagged=True).status_code == 200  # flagged, not answered
    events(person, "focus_lost", "focus_regained", "focus_lost", "reload", "copy_attempt")
    events(person, "focus_lost", "heartbeat", "offline", "online")
    assert person.post("/heartbeat", {"position": 2}).status_code == 200
    seat = by_seat(monitor(proctor, lab))["PC-03"]
    assert (seat["answered"], seat["total"], seat["flagged"]) == (2, 8, 2)
    assert seat["events"] == {"focus_lost": 3, "reload": 1, "copy_attempt": 1}
    assert seat["ip"] == "10.0.5.3"
    assert seat["last_seen_seconds"] == 0 and seat["connected"] is True
    # Silence: connected for 45 seconds (three heartbeats and the last-seen throttle), then
    # shown as disconnected.
    clock.advance(seconds=45)
    seat = by_seat(monitor(proctor, lab))["PC-03"]
    assert seat["last_seen_seconds"] == 45 and seat["connected"] is True
    clock.advance(seconds=1)
    seat = by_seat(monitor(proctor, lab))["PC-03"]
    assert seat["last_seen_seconds"] == 46 and seat["connected"] is False
    assert seat["status"] == "in_progress"  # the page shows it as disconnected
    assert seat["remaining_seconds"] == 30 * 60 - 306 - 46
    # The PC comes back.
    assert person.post("/heartbeat", {}).status_code == 200
    assert by_seat(monitor(proctor, lab))["PC-03"]["connected"] is True


def test_paused_and_extended_seats(room, proctor, lab, clock):  # type: ignore[no-untyped-def]
    seats = by_seat(monitor(proctor, lab))
    act(proctor, lab, "extend", seats["PC-04"], minutes="3")
    clock.advance(minutes=2)
    seat = by_seat(monitor(proctor, lab))["PC-04"]
    assert seat["status"] == "paused" and seat["remaining_seconds"] == 33 * 60
    act(proctor, lab, "resume", seat)
    clock.advance(seconds=10)
    seat = by_seat(monitor(proctor, lab))["PC-04"]
    assert seat["status"] == "in_progress" and seat["remaining_seconds"] == 33 * 60 - 10


def test_since_returns_only_the_seats_that_changed(app: Flask, room, proctor, lab, clock):  # type: ignore[no-untyped-def]
    full = monitor(proctor, lab)
    clock.advance(seconds=10)
    nothing = monitor(proctor, lab, since=full["server_time"])
    assert nothing["full"] is False and nothing["seats"] == []
    # An answer.
    mark = monitor(proctor, lab)["server_time"]
    clock.advance(seconds=1)
    assert room["in_progress"].save(0, [1], 1).status_code == 200
    changed = monitor(proctor, lab, since=mark)
    assert [s["seat"] for s in changed["seats"]] == ["PC-03"]
    assert changed["seats"][0]["answered"] == 1
    # An integrity event only.
    mark = changed["server_time"]
    clock.advance(seconds=1)
    events(room["in_progress"], "reload")
    changed = monitor(proctor, lab, since=mark)
    assert [(s["seat"], s["events"]) for s in changed["seats"]] == [("PC-03", {"reload": 1})]
    # A proctor's action.
    mark = changed["server_time"]
    clock.advance(seconds=1)
    act(proctor, lab, "resume", by_seat(full)["PC-04"])
    changed = monitor(proctor, lab, since=mark)
    assert [(s["seat"], s["status"]) for s in changed["seats"]] == [("PC-04", "in_progress")]
    # A login, and a login ended by the proctor: seats without an attempt change too.
    mark = changed["server_time"]
    clock.advance(seconds=1)
    assert room["absent"].login().status_code == 302
    act(proctor, lab, "reset_login", by_seat(full)["PC-02"])
    changed = monitor(proctor, lab, since=mark)
    assert [(s["seat"], s["status"]) for s in changed["seats"]] == [
        ("PC-01", "logged_in"),
        ("PC-02", "absent"),
    ]
    # The moment may carry its zone as the page sends it (toISOString), or none (UTC).
    moment = datetime.fromisoformat(changed["server_time"])
    for text in (
        moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        moment.replace(tzinfo=None).isoformat(),
    ):
        assert monitor(proctor, lab, since=text)["seats"] == []
    assert monitor(proctor, lab, since=(moment - timedelta(seconds=2)).isoformat())["seats"]
    bad = proctor.get(
        f"/proctor/sessions/{lab.id}/monitor.json", query_string={"since": "gisteren"}
    )
    assert bad.status_code == 400


def test_monitor_sort_order_is_by_seat(app: Flask, banks):  # type: ignore[no-untyped-def]
    lab = make_session(app, participants=3, code="S-URUT")
    with app.app_context():
        enrolments = db.session.scalars(select(Enrolment).order_by(Enrolment.id)).all()
        for enrolment, seat in zip(enrolments, ["PC-10", None, "PC-02"], strict=True):
            enrolment.seat = seat
        db.session.commit()
    seats = monitor(proctor_of(app, lab), lab)["seats"]
    # By PC; a participant without one comes last, on SQLite as on PostgreSQL.
    assert [s["name"] for s in seats] == ["Peserta 3", "Peserta 1", "Peserta 2"]


# ------------------------------------------------------------------ queries per refresh


def _fill(app: Flask, lab, clock) -> None:  # type: ignore[no-untyped-def]
    """A third of the room absent, a third logged in, a third answering with events."""
    people = [Participant(app, *account) for account in lab.participants]
    third = len(people) // 3
    for person in people[third : 2 * third]:
        assert person.login().status_code == 302
    for n, person in enumerate(people[2 * third :]):
        person.begin(lab.token)
        assert person.save(n % 3, [0], 1, flagged=n % 2 == 0).status_code == 200
        events(person, "focus_lost", "reload")
        assert person.post("/heartbeat", {}).status_code == 200


def _statements(app: Flask, client: FlaskClient, url: str, **query: str) -> list[str]:
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def count(_conn, _cursor, statement, _parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(url, query_string=query)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return seen


def test_queries_per_refresh_do_not_grow_with_the_seats(app: Flask, banks, clock):  # type: ignore[no-untyped-def]
    small = make_session(app, participants=3, code="S-KECIL")
    large = make_session(app, participants=30, code="S-BESAR")
    _fill(app, small, clock)
    _fill(app, large, clock)
    clients = {small.id: proctor_of(app, small), large.id: proctor_of(app, large)}
    since = (clock.now() - timedelta(minutes=1)).isoformat()
    counted = {}
    for lab in (small, large):
        url = f"/proctor/sessions/{lab.id}/monitor.json"
        client = clients[lab.id]
        assert len(client.get(url).get_json()["seats"]) == len(lab.participants)
        counted[lab.id] = (
            _statements(app, client, url),
            _statements(app, client, url, since=since),
        )
    (small_full, small_since), (large_full, large_since) = counted[small.id], counted[large.id]
    assert len(small_full) == len(large_full), (small_full, large_full)
    assert len(small_since) == len(large_since), (small_since, large_since)
    assert len(large_full) <= 12, large_full


def test_heartbeats_alone_are_not_resent_but_their_ages_are(room, proctor, lab, clock):  # type: ignore[no-untyped-def]
    """A last-seen stamp is not a change of the seat: the incremental refresh carries only
    every running seat's age, until a seat crosses the disconnection threshold."""
    person = room["in_progress"]
    assert person.post("/heartbeat", {}).status_code == 200  # connected (after 5 min of silence)
    mark = monitor(proctor, lab)["server_time"]
    clock.advance(seconds=25)
    assert person.post("/heartbeat", {}).status_code == 200  # writes the last-seen stamp
    quiet = monitor(proctor, lab, since=mark)
    assert quiet["seats"] == []
    ages = dict(quiet["presence"])
    assert ages[by_seat(monitor(proctor, lab))["PC-03"]["enrolment_id"]] == 0
    mark = quiet["server_time"]
    clock.advance(seconds=46)  # silent past the threshold: newly disconnected
    gone = monitor(proctor, lab, since=mark)
    assert [(s["seat"], s["connected"]) for s in gone["seats"]] == [("PC-03", False)]
    mark = gone["server_time"]
    clock.advance(seconds=5)
    assert monitor(proctor, lab, since=mark)["seats"] == []  # still gone: nothing new
    assert person.post("/heartbeat", {}).status_code == 200  # back
    back = monitor(proctor, lab, since=mark)
    assert [(s["seat"], s["connected"]) for s in back["seats"]] == [("PC-03", True)]
