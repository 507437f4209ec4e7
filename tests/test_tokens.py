"""The session token over HTTP: rotation on the injected clock, overlap, rotate now, entry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cbt_server.clock import now
from cbt_server.models import AuditEntry, ExamSession, db
from tests.builders import Participant, make_session
from tests.helpers import csrf_token, login

BAD = "Token salah. Periksa kembali token yang diumumkan pengawas."
STALE = "Token sudah tidak berlaku. Gunakan token terbaru yang ditampilkan pengawas."


def _rotating(app: Flask, lab, minutes: int | None) -> None:  # type: ignore[no-untyped-def]
    """Start the session's rotation schedule now (as creating a session does)."""
    with app.app_context():
        session = db.session.get(ExamSession, lab.id)
        session.token_rotated_at = now()
        if minutes is not None:
            session.token_rotate_minutes = minutes
        db.session.commit()


@pytest.fixture
def lab(app: Flask, fixture_banks):  # type: ignore[no-untyped-def]
    lab = make_session(app, participants=4)
    _rotating(app, lab, None)  # the default: every 15 minutes
    return lab


@pytest.fixture
def proctor(app: Flask, lab) -> FlaskClient:  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert login(client, *lab.proctors[0]).status_code == 302
    return client


def shown(proctor: FlaskClient, lab) -> tuple[str, float | None]:  # type: ignore[no-untyped-def]
    """The token on the proctor's monitor, and the seconds until it rotates."""
    body = proctor.get(f"/proctor/sessions/{lab.id}/monitor.json").get_json()
    return body["token"], body["token_rotates_in"]


def enter(app: Flask, lab, n: int, token: str):  # type: ignore[no-untyped-def]
    """A participant logs in and types ``token``; returns the response to the token form."""
    person = Participant(app, *lab.participants[n])
    assert person.login().status_code == 302
    return person, person.enter_token(token)


def accepted(response) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code == 302 and response.headers["Location"].endswith("/exam/confirm")


def refused_with(response, message: str) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code == 403 and message in response.get_data(as_text=True)


def test_the_default_rotation_is_every_15_minutes_without_drift(proctor, lab, clock):  # type: ignore[no-untyped-def]
    first, rotates_in = shown(proctor, lab)
    assert first == lab.token and rotates_in == 15 * 60
    clock.advance(minutes=14, seconds=59)
    assert shown(proctor, lab) == (first, 1)
    clock.advance(seconds=1)
    second, rotates_in = shown(proctor, lab)
    assert second != first and rotates_in == 15 * 60
    # Nobody looks for 16 minutes: the token still changes on the 15-minute grid.
    clock.advance(minutes=16)
    third, rotates_in = shown(proctor, lab)
    assert third not in (first, second) and rotates_in == 14 * 60
    page = proctor.get(f"/proctor/sessions/{lab.id}/monitor").get_data(as_text=True)
    assert f'data-testid="session-token">{third}<' in page


@pytest.mark.parametrize("minutes", [5, 30])
def test_the_session_sets_the_rotation_period(app: Flask, proctor, lab, clock, minutes: int):  # type: ignore[no-untyped-def]
    _rotating(app, lab, minutes)
    first, rotates_in = shown(proctor, lab)
    assert rotates_in == minutes * 60
    clock.advance(minutes=minutes, seconds=-1)
    assert shown(proctor, lab)[0] == first
    clock.advance(seconds=1)
    assert shown(proctor, lab)[0] != first


def test_rotation_zero_means_only_the_proctor_changes_it(app: Flask, proctor, lab, clock):  # type: ignore[no-untyped-def]
    _rotating(app, lab, 0)
    clock.advance(hours=3)
    assert shown(proctor, lab) == (lab.token, None)
    assert accepted(enter(app, lab, 0, lab.token)[1])


def test_previous_token_is_valid_during_the_overlap_then_stale(app: Flask, proctor, lab, clock):  # type: ignore[no-untyped-def]
    old, _ = shown(proctor, lab)
    clock.advance(minutes=15)
    new, _ = shown(proctor, lab)
    assert new != old
    clock.advance(minutes=2)  # the last second of the overlap
    assert accepted(enter(app, lab, 0, old)[1])
    clock.advance(seconds=1)
    assert refused_with(enter(app, lab, 1, old)[1], STALE)
    assert accepted(enter(app, lab, 2, new)[1])


def test_an_old_token_is_stale_even_if_nobody_asked_for_the_new_one(app: Flask, lab, clock):  # type: ignore[no-untyped-def]
    # The proctor's screen was closed: the rotation is still dated when it fell due.
    clock.advance(minutes=15 + 2, seconds=1)
    assert refused_with(enter(app, lab, 0, lab.token)[1], STALE)
    # Two rotations later it is not even the previous token: simply a wrong one.
    clock.advance(minutes=15)
    assert refused_with(enter(app, lab, 1, lab.token)[1], BAD)


def test_rotate_now_changes_the_token_at_once_and_is_audited(app: Flask, proctor, lab, clock):  # type: ignore[no-untyped-def]
    old, _ = shown(proctor, lab)
    clock.advance(minutes=7)
    page = proctor.get(f"/proctor/sessions/{lab.id}/monitor").get_data(as_text=True)
    response = proctor.post(
        f"/proctor/sessions/{lab.id}/token",
        data={"csrf_token": csrf_token(page), "reason": "token terlihat dari luar ruang"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200
    new = response.get_json()["token"]
    assert new != old and shown(proctor, lab) == (new, 15 * 60)  # a fresh period starts
    with app.app_context():
        entry = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "session.token_rotate")
        )
        assert (entry.actor_label, entry.target) == (lab.proctors[0][0], lab.code)
        assert entry.reason == "token terlihat dari luar ruang" and entry.at == now()
    # PCs mid-typing keep the overlap, then the old token is stale.
    clock.advance(minutes=2)
    assert accepted(enter(app, lab, 0, old)[1])
    clock.advance(seconds=1)
    assert refused_with(enter(app, lab, 1, old)[1], STALE)
    # The plain form (no JavaScript) rotates as well and returns to the monitor.
    plain = proctor.post(f"/proctor/sessions/{lab.id}/token", data={"csrf_token": csrf_token(page)})
    assert plain.status_code == 302 and plain.headers["Location"].endswith("/monitor")
    assert shown(proctor, lab)[0] not in (old, new)


def test_rotate_now_needs_the_csrf_token(proctor, lab):  # type: ignore[no-untyped-def]
    assert proctor.post(f"/proctor/sessions/{lab.id}/token").status_code == 400
    assert shown(proctor, lab)[0] == lab.token


@pytest.mark.parametrize("typed", ["ZZZZZZ", "TOKEN", "TOKEN77", "TÖKEN7", "TOKEN7!"])
def test_a_wrong_token_is_refused_with_a_clear_message(app: Flask, lab, typed: str):  # type: ignore[no-untyped-def]
    person, response = enter(app, lab, 0, typed)
    assert refused_with(response, BAD)
    # ... and it does not open the confirmation page.
    assert person.client.get("/exam/confirm").headers["Location"].endswith("/exam/")


@pytest.mark.parametrize("typed", ["token7", "ToKeN7", " tok en7 "])
def test_participants_type_the_token_in_any_case(app: Flask, lab, typed: str):  # type: ignore[no-untyped-def]
    person, response = enter(app, lab, 0, typed)
    assert accepted(response)
    assert person.start().status_code == 302
    assert person.attempt()["state"] == "in_progress"


def test_a_rotated_token_is_accepted_in_lower_case(app: Flask, proctor, lab, clock):  # type: ignore[no-untyped-def]
    clock.advance(minutes=15)
    new, _ = shown(proctor, lab)
    assert accepted(enter(app, lab, 0, new.lower())[1])


def test_the_token_opens_only_during_the_session_window(app: Flask, lab, clock):  # type: ignore[no-untyped-def]
    with app.app_context():
        session = db.session.get(ExamSession, lab.id)
        starts, ends = session.starts_at, session.ends_at
    clock.set(starts - timedelta(seconds=1))
    assert refused_with(enter(app, lab, 0, lab.token)[1], "Sesi ujian belum dibuka.")
    clock.set(ends + timedelta(seconds=1))
    assert refused_with(enter(app, lab, 1, lab.token)[1], "Sesi ujian sudah ditutup.")
