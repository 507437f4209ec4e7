"""The save lane (cbt_server/web/api/save_lane.py) answers the common save itself and passes
everything else, unchanged, to the Flask route: the same checks, the same answers."""

from __future__ import annotations

import pytest
from flask import Flask

from cbt_server.models import Response, db
from tests.builders import Participant, attempt_of, make_session
from tests.helpers import login
from tests.test_interventions import act


@pytest.fixture
def lab(app: Flask, fixture_banks):  # type: ignore[no-untyped-def]
    return make_session(app, participants=2)


def _ready(app: Flask, lab) -> tuple[Participant, dict]:  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    attempt = person.begin(lab.token)
    item = next(i for i in attempt["items"] if i["section"] == 0 and i["type"] != "short")
    return person, item


def _by_lane(response) -> bool:  # type: ignore[no-untyped-def]
    return "lane" in response.headers.get("Server-Timing", "")


def test_a_common_save_is_answered_by_the_lane_like_the_route(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    person, item = _ready(app, lab)
    response = person.save(item["position"], [1], 1)
    assert response.status_code == 200 and _by_lane(response)
    body = response.get_json()
    assert body["acks"] == [{"position": item["position"], "seq": 1, "status": "saved"}]
    assert set(body) == {"acks", "state", "server_time", "remaining_seconds"}
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in response.headers
    with app.app_context():
        stored = db.session.get(
            Response, (body and attempt_of(app, lab.participants[0][0]).id, item["position"])
        )
        assert stored.client_seq == 1
    again = person.save(item["position"], [1], 1)  # a retry of an acknowledged save
    assert again.get_json()["acks"][0]["status"] == "duplicate"


@pytest.mark.parametrize(
    "spoil, status",
    [
        ("csrf", 400),  # a forged or missing CSRF header
        # A tampered session cookie: no login (and no CSRF token) in it: 401, not a CSRF 400.
        ("cookie", 401),
    ],
)
def test_what_the_lane_cannot_vouch_for_goes_to_the_route(
    app: Flask, lab, spoil: str, status: int
) -> None:  # type: ignore[no-untyped-def]
    person, item = _ready(app, lab)
    if spoil == "csrf":
        person.csrf = person.csrf[:-2] + "xx"
    else:
        cookie = person.client.get_cookie("session")
        person.client.set_cookie("session", cookie.value[:-3] + "abc")
    response = person.save(item["position"], [1], 1)
    assert response.status_code == status and not _by_lane(response)


def test_a_reset_login_and_another_pc_are_refused_by_the_route(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    person, item = _ready(app, lab)
    proctor = app.test_client()
    assert login(proctor, *lab.proctors[0]).status_code == 302
    assert act(app, proctor, lab, "reset_login", [lab.participants[0][0]]).status_code == 200
    refused = person.save(item["position"], [1], 1)
    assert refused.status_code == 401 and not _by_lane(refused)
    other = Participant(app, *lab.participants[0])  # the same participant on a second PC
    assert other.login().status_code == 302
    assert other.client.get("/exam/").status_code == 302  # binds the attempt to the new PC
    other.attempt()
    assert other.save(item["position"], [0], 5).status_code == 200
    person.client.delete_cookie("session")
    assert person.login().status_code == 409  # the old PC: the attempt is elsewhere


def test_refusals_are_given_by_the_route(app: Flask, lab, clock) -> None:  # type: ignore[no-untyped-def]
    person, item = _ready(app, lab)
    proctor = app.test_client()
    assert login(proctor, *lab.proctors[0]).status_code == 302
    assert act(app, proctor, lab, "pause", [lab.participants[0][0]]).status_code == 200
    paused = person.save(item["position"], [1], 1)
    assert paused.status_code == 423 and not _by_lane(paused)
    assert act(app, proctor, lab, "resume", [lab.participants[0][0]]).status_code == 200
    assert person.post("/sections/0/finish").status_code == 200
    closed = person.save(item["position"], [1], 2)
    assert closed.status_code == 409 and closed.get_json()["error"] == "section_closed"
    bad = person.post("/answers", {"saves": [{"position": 0, "seq": 0}]})
    assert bad.status_code == 400 and not _by_lane(bad)


def test_the_login_stamp_due_goes_through_the_route(app: Flask, lab, clock) -> None:  # type: ignore[no-untyped-def]
    person, item = _ready(app, lab)
    clock.advance(61)
    stamped = person.save(item["position"], [1], 1)
    assert stamped.status_code == 200 and not _by_lane(stamped)
    assert _by_lane(person.save(item["position"], [0], 2))  # stamped: the lane again
