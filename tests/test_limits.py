"""Limits on what a participant can repeat, kept in the database so that every worker and every
host sees one limit: failed logins per account and per address, wrong tokens per participant,
integrity events per attempt (and none on a closed attempt)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cbt_server import create_app
from cbt_server.models import AttemptEvent, db
from tests.builders import Participant, attempt_of, make_session
from tests.helpers import login
from tests.test_interventions import act


@pytest.fixture
def lab(app: Flask, fixture_banks):  # type: ignore[no-untyped-def]
    return make_session(app, participants=3)


def _pc(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_ten_failed_logins_lock_the_account_for_the_window(app: Flask, lab, clock) -> None:  # type: ignore[no-untyped-def]
    username, password = lab.participants[0]
    for n in range(10):
        pc = _pc(app, f"10.0.1.{n + 1}")  # from ten PCs: the account's budget, not the PC's
        assert login(pc, username, "salah-sandi").status_code == 401
    locked = login(_pc(app, "10.0.1.99"), username, password)  # even the right password
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["Retry-After"]) <= 15 * 60 + 1
    assert "Terlalu banyak percobaan" in locked.get_data(as_text=True)
    other = login(_pc(app, "10.0.1.99"), *lab.participants[1])  # other accounts are not locked
    assert other.status_code == 302
    clock.advance(minutes=15, seconds=1)
    assert login(_pc(app, "10.0.1.99"), username, password).status_code == 302


def test_thirty_failed_logins_from_one_pc_stop_that_pc(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    flooder = _pc(app, "10.0.2.7")
    for n in range(30):
        assert login(flooder, f"tebak-{n}", "sandi").status_code == 401
    assert login(flooder, *lab.participants[0]).status_code == 429
    assert login(_pc(app, "10.0.2.8"), *lab.participants[0]).status_code == 302


def test_a_successful_login_forgets_the_accounts_failures(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    username, password = lab.participants[0]
    for n in range(9):
        assert login(_pc(app, f"10.0.3.{n}"), username, "salah").status_code == 401
    assert login(_pc(app, "10.0.3.50"), username, password).status_code == 302
    for n in range(9):
        assert login(_pc(app, f"10.0.3.{n}"), username, "salah").status_code == 401
    assert login(_pc(app, "10.0.3.50"), username, password).status_code == 302


def test_a_proctors_reset_unlocks_a_locked_out_participant(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    username, password = lab.participants[0]
    for n in range(10):
        login(_pc(app, f"10.0.4.{n}"), username, "salah")
    assert login(_pc(app, "10.0.4.50"), username, password).status_code == 429
    proctor = app.test_client()
    assert login(proctor, *lab.proctors[0]).status_code == 302
    assert act(app, proctor, lab, "reset_login", [username]).status_code == 200
    assert login(_pc(app, "10.0.4.50"), username, password).status_code == 302


def test_one_limit_for_every_worker(app: Flask, lab, database_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Two workers (two apps on one database) count the same failures."""
    other = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "INSTANCE_PATH": tmp_path / "worker-2",
            "SECRET_KEY": "test-secret",
            "CBT_CLOCK": app.config["CBT_CLOCK"],
            "TESTING": True,
        }
    )
    username, password = lab.participants[0]
    for n in range(5):
        assert login(_pc(app, f"10.0.5.{n}"), username, "salah").status_code == 401
        assert login(_pc(other, f"10.0.6.{n}"), username, "salah").status_code == 401
    assert login(_pc(app, "10.0.5.50"), username, password).status_code == 429
    assert login(_pc(other, "10.0.6.50"), username, password).status_code == 429
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def test_wrong_tokens_are_limited_per_participant(app: Flask, lab, clock) -> None:  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    assert person.login().status_code == 302
    for _ in range(10):
        assert person.enter_token("SALAH1").status_code == 403
    limited = person.enter_token(lab.token)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert "Terlalu banyak percobaan" in limited.get_data(as_text=True)
    clock.advance(minutes=10, seconds=1)
    assert person.enter_token(lab.token).status_code == 302


def _events(person: Participant, n: int = 1):  # type: ignore[no-untyped-def]
    return person.post("/events", {"events": [{"kind": "focus_lost"}] * n})


def test_events_are_limited_per_attempt_and_capped(app: Flask, lab, clock) -> None:  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    person.begin(lab.token)
    for _ in range(40):
        assert _events(person).status_code == 200
    flooded = _events(person)
    assert flooded.status_code == 429 and int(flooded.headers["Retry-After"]) > 0
    assert flooded.get_json()["error"] == "too_many_requests"
    stored = 40
    while stored < 2000:  # fill up to the cap, a minute's budget at a time
        clock.advance(61)
        for _ in range(20):
            response = _events(person, 100)
            assert response.status_code == 200
            stored += response.get_json()["stored"]
            if response.get_json()["dropped"]:
                break
    assert stored == 2000
    clock.advance(61)
    assert _events(person, 5).get_json() == {"stored": 0, "dropped": 5}
    attempt = attempt_of(app, lab.participants[0][0])
    with app.app_context():
        page_events = db.session.query(AttemptEvent).filter(
            AttemptEvent.attempt_id == attempt.id, AttemptEvent.kind != "started"
        )
        assert page_events.count() == 2000  # and the start's own event (delivery/lifecycle.py)


def test_no_events_on_a_closed_attempt(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    person.begin(lab.token)
    assert person.post("/submit").status_code == 200
    refused = _events(person)
    assert refused.status_code == 409 and refused.get_json()["error"] == "attempt_closed"
