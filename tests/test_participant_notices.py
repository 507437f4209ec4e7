"""What the participant's PC is told after a proctor acts (issue 9): an ended login, a
force-submit, more time. The page's side is in tests/e2e/test_exam_comfort.py."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from cbt_server.models import Enrolment, User, db
from tests.builders import Participant, make_session
from tests.helpers import csrf_token, login


@pytest.fixture
def lab(app: Flask, fixture_banks):  # type: ignore[no-untyped-def]
    return make_session(app, participants=2)


@pytest.fixture
def proctor(app: Flask, lab):  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert login(client, *lab.proctors[0]).status_code == 302
    return client


def act(app: Flask, proctor, lab, action: str, username: str, **fields: Any) -> None:  # type: ignore[no-untyped-def]
    page = proctor.get("/proctor/")  # any page: the logout form carries the token
    with app.app_context():
        enrolment = db.session.scalar(
            select(Enrolment.id)
            .join(User, User.id == Enrolment.user_id)
            .where(User.username == username)
        )
    response = proctor.post(
        f"/proctor/sessions/{lab.id}/act/{action}",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "reason": "alasan pengujian",
            "enrolment_ids": [str(enrolment)],
            **fields,
        },
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)


ENDED = "diakhiri oleh pengawas"


def test_old_pc_hears_that_the_proctor_ended_its_login(app: Flask, lab, proctor):  # type: ignore[no-untyped-def]
    old_pc = Participant(app, *lab.participants[0])
    old_pc.begin(lab.token)
    assert old_pc.save(0, [0], 1).status_code == 200
    form_token = csrf_token(old_pc.client.get("/exam/take").get_data(as_text=True))
    act(app, proctor, lab, "reset_login", old_pc.username)

    first = old_pc.save(0, [1], 2)
    assert first.status_code == 401 and first.get_json()["error"] == "login_ended"
    assert ENDED in first.get_json()["message"]
    # The session was emptied by that answer: no CSRF token in it any more. Still the same
    # answer, never "The CSRF session token is missing."
    again = old_pc.post("/heartbeat", {"position": 0})
    assert again.status_code == 401 and again.get_json()["error"] == "login_ended"
    assert old_pc.client.get("/api/v1/attempt").get_json()["error"] == "login_ended"

    # The page's own forms (the "Keluar" button) lead to the login page with the reason.
    logout = old_pc.client.post("/logout", data={"csrf_token": form_token})
    assert logout.status_code == 302 and "/login" in logout.headers["Location"]
    page = old_pc.client.get(logout.headers["Location"]).get_data(as_text=True)
    assert ENDED in page and "CSRF" not in page

    # The participant goes on on another PC.
    assert Participant(app, *lab.participants[0]).login().status_code == 302


def test_a_login_that_simply_ran_out_is_not_blamed_on_the_proctor(app: Flask, lab):  # type: ignore[no-untyped-def]
    stranger = app.test_client()
    response = stranger.post("/api/v1/attempt/heartbeat", json={})
    assert response.status_code == 401 and response.get_json()["error"] == "not_logged_in"
    assert stranger.get("/api/v1/attempt").get_json()["error"] == "not_logged_in"


def test_a_stale_form_token_is_told_in_the_interface_language(app: Flask, lab):  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[1])
    assert person.login().status_code == 302
    response = person.client.post("/logout", data={"csrf_token": "kedaluwarsa"})
    assert response.status_code == 400
    assert "kedaluwarsa" in response.get_data(as_text=True)
    assert "CSRF" not in response.get_data(as_text=True)


def test_finish_page_says_the_proctor_collected_the_test(app: Flask, lab, proctor):  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    person.begin(lab.token)
    act(app, proctor, lab, "force_submit", person.username)
    page = person.client.get("/exam/finish").get_data(as_text=True)
    assert "Ujian Anda dikumpulkan oleh pengawas" in page

    other = Participant(app, *lab.participants[1])
    other.begin(lab.token)
    assert other.post("/submit").status_code == 200
    assert "oleh pengawas" not in other.client.get("/exam/finish").get_data(as_text=True)


def test_the_attempt_tells_the_time_the_proctor_added(app: Flask, lab, proctor):  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    assert person.begin(lab.token)["extra_seconds"] == 0
    act(app, proctor, lab, "extend", person.username, minutes="7")
    assert person.attempt()["extra_seconds"] == 7 * 60
