"""Proctor interventions change attempts exactly as stated, with the injected clock."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from cbt_server.models import AuditEntry, Enrolment, User, db
from tests.builders import Participant, attempt_of, keyed_positions, make_session
from tests.helpers import csrf_token, login


@pytest.fixture
def lab(app: Flask, fixture_banks):  # type: ignore[no-untyped-def]
    return make_session(app, participants=3)


@pytest.fixture
def proctor(app: Flask, lab):  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert login(client, *lab.proctors[0]).status_code == 302
    return client


def _enrolment_id(app: Flask, username: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(Enrolment.id)
            .join(User, User.id == Enrolment.user_id)
            .where(User.username == username)
        )


def act(
    app: Flask,
    proctor,
    lab,
    action: str,
    usernames: list[str] | None = None,  # type: ignore[no-untyped-def]
    **fields: Any,
):
    page = proctor.get(f"/proctor/sessions/{lab.id}/monitor")
    data: dict[str, Any] = {
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "reason": fields.pop("reason", "alasan pengujian"),
        **fields,
    }
    if usernames:
        data["enrolment_ids"] = [str(_enrolment_id(app, u)) for u in usernames]
    return proctor.post(
        f"/proctor/sessions/{lab.id}/act/{action}",
        data=data,
        headers={"Accept": "application/json"},
    )


def test_pause_extend_resume_accounting_to_the_second(app: Flask, lab, proctor, clock):  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    person.begin(lab.token)
    name = person.username
    clock.advance(seconds=100)  # 1700 s left
    assert act(app, proctor, lab, "pause", [name]).status_code == 200
    paused = person.attempt()
    assert paused["state"] == "paused" and paused["remaining_seconds"] == 1700
    refused = person.save(0, [0], 1)
    assert refused.status_code == 423 and refused.get_json()["error"] == "attempt_paused"
    clock.advance(seconds=250)  # time stands still while paused
    assert person.attempt()["remaining_seconds"] == 1700
    assert act(app, proctor, lab, "extend", [name], minutes="2").status_code == 200
    assert person.attempt()["remaining_seconds"] == 1820
    clock.advance(seconds=37)
    assert act(app, proctor, lab, "resume", [name]).status_code == 200
    resumed = person.attempt()
    assert resumed["state"] == "in_progress" and resumed["remaining_seconds"] == 1820
    # The open timed section moved with the pause, and took the extension too:
    # 600 - 100 used + 120 granted = 620 s left in it.
    assert resumed["sections"][0]["remaining_seconds"] == 620
    clock.advance(seconds=20)
    assert person.attempt()["remaining_seconds"] == 1800
    stored = attempt_of(app, name)
    assert stored.paused_seconds == 287 and stored.extra_seconds == 120
    assert person.save(0, [0], 2).status_code == 200


def test_extend_everyone_reaches_every_running_attempt(app: Flask, lab, proctor, clock):  # type: ignore[no-untyped-def]
    first, second = (Participant(app, *lab.participants[n]) for n in (0, 1))
    first.begin(lab.token)
    second.begin(lab.token)
    response = act(app, proctor, lab, "extend", minutes="5")  # no one chosen: everyone
    body = response.get_json()
    assert response.status_code == 200 and len(body["changed"]) == 2 and len(body["skipped"]) == 1
    assert first.attempt()["remaining_seconds"] == 35 * 60
    assert second.attempt()["remaining_seconds"] == 35 * 60


def test_force_submit_grades_what_was_saved(app: Flask, lab, proctor):  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    attempt = person.begin(lab.token)
    sgl = next(t for t in keyed_positions(app, attempt["id"]) if t["code"] == "U-SGL")
    person.save(sgl["position"], [sgl["order"].index("B")], 1)
    assert act(app, proctor, lab, "force_submit", [person.username]).status_code == 200
    stored = attempt_of(app, person.username)
    assert stored.state == "submitted" and stored.finish_reason == "proctor"
    assert stored.total_score == 1.0 and stored.total_max == 24.0
    assert person.save(0, [1], 5).get_json()["error"] == "attempt_closed"


def test_reset_login_lets_a_second_device_continue_with_every_answer(app: Flask, lab, proctor):  # type: ignore[no-untyped-def]
    first_pc = Participant(app, *lab.participants[0])
    attempt = first_pc.begin(lab.token)
    for position in range(3):
        first_pc.save(position, [position % 2], position + 1, flagged=position == 2)
    second_pc = Participant(app, first_pc.username, first_pc.password)
    assert second_pc.login().status_code == 409
    assert act(app, proctor, lab, "reset_login", [first_pc.username]).status_code == 200
    # The first PC's login is revoked at once.
    assert first_pc.client.get("/api/v1/attempt").status_code == 401
    assert second_pc.login().status_code == 302
    # A started attempt resumes straight away: no token, no confirmation page again.
    entry = second_pc.client.get("/exam/")
    assert entry.status_code == 302 and entry.headers["Location"].endswith("/exam/take")
    view = second_pc.attempt()
    assert view["id"] == attempt["id"]
    assert [i["answer"] for i in view["items"][:3]] == [[0], [1], [0]]
    assert view["items"][2]["flagged"] is True
    assert second_pc.save(0, [1], 10).status_code == 200  # and goes on answering
    # ...and now the first PC is the stranger.
    assert Participant(app, first_pc.username, first_pc.password).login().status_code == 409


def test_void_needs_a_participant_and_a_reason(app: Flask, lab, proctor):  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    person.begin(lab.token)
    assert act(app, proctor, lab, "void").status_code == 400  # nobody chosen
    no_reason = act(app, proctor, lab, "void", [person.username], reason=" ")
    assert no_reason.status_code == 400 and "alasan" in no_reason.get_json()["message"]
    assert attempt_of(app, person.username).state == "in_progress"
    assert act(app, proctor, lab, "void", [person.username]).status_code == 200
    assert attempt_of(app, person.username).state == "voided"


def test_every_intervention_is_audited(app: Flask, lab, proctor):  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    person.begin(lab.token)
    for action, extra in [
        ("pause", {}),
        ("extend", {"minutes": "3"}),
        ("resume", {}),
        ("reset_login", {}),
        ("force_submit", {}),
    ]:
        assert (
            act(
                app, proctor, lab, action, [person.username], reason=f"why {action}", **extra
            ).status_code
            == 200
        )
    with app.app_context():
        rows = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        mine = [
            (r.action, r.reason, r.actor_label) for r in rows if r.action.startswith("attempt.")
        ]
    assert mine == [
        ("attempt.pause", "why pause", lab.proctors[0][0]),
        ("attempt.extend", "why extend", lab.proctors[0][0]),
        ("attempt.resume", "why resume", lab.proctors[0][0]),
        ("attempt.reset_login", "why reset_login", lab.proctors[0][0]),
        ("attempt.force_submit", "why force_submit", lab.proctors[0][0]),
    ]
