"""The token for the room's projector: its page and token.json, scoped like the monitor and
carrying nothing about any participant."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cbt_server.db import write_transaction
from cbt_server.models import ExamSession, User, db
from tests.builders import make_session
from tests.helpers import csrf_token, login


@pytest.fixture
def lab(app: Flask, fixture_banks, clock):  # type: ignore[no-untyped-def]
    lab = make_session(app, participants=3, code="S-PROJ")
    with app.app_context(), write_transaction():
        session = db.session.get(ExamSession, lab.id)
        session.token_rotate_minutes = 10
        session.token_rotated_at = clock.now()
    return lab


@pytest.fixture
def proctor(app: Flask, lab) -> FlaskClient:  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert login(client, *lab.proctors[0]).status_code == 302
    return client


def _participants(app: Flask) -> list[tuple[str, str, str]]:
    with app.app_context():
        return [
            tuple(row)
            for row in db.session.execute(
                select(User.full_name, User.nip, User.username).where(User.role == "participant")
            )
        ]


def test_projector_page_shows_the_token_and_nobody(app: Flask, lab, proctor):  # type: ignore[no-untyped-def]
    page = proctor.get(f"/proctor/sessions/{lab.id}/projector")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.search(r'data-testid="projector-token"[^>]*>TOKEN7<', html)
    assert f"/proctor/sessions/{lab.id}/token.json" in html and "js/projector.js" in html
    for person in _participants(app):
        for value in person:
            assert value not in html


def test_token_json_counts_down_to_the_rotation_and_rotates(app: Flask, lab, proctor, clock):  # type: ignore[no-untyped-def]
    body = proctor.get(f"/proctor/sessions/{lab.id}/token.json").get_json()
    assert body == {"token": "TOKEN7", "token_rotates_in": 600.0}
    clock.advance(minutes=9, seconds=30)
    assert proctor.get(f"/proctor/sessions/{lab.id}/token.json").get_json() == {
        "token": "TOKEN7",
        "token_rotates_in": 30.0,
    }
    clock.advance(seconds=31)  # due: the next reader rotates it
    body = proctor.get(f"/proctor/sessions/{lab.id}/token.json").get_json()
    assert body["token"] != "TOKEN7"
    assert 0 < body["token_rotates_in"] <= 600
    with app.app_context():
        assert db.session.get(ExamSession, lab.id).token == body["token"]


def test_a_rotation_by_the_proctor_reaches_the_projector(app: Flask, lab, proctor):  # type: ignore[no-untyped-def]
    base = f"/proctor/sessions/{lab.id}"
    token = csrf_token(proctor.get(f"{base}/monitor").get_data(as_text=True))
    rotated = proctor.post(
        f"{base}/token", data={"csrf_token": token}, headers={"Accept": "application/json"}
    )
    assert proctor.get(f"{base}/token.json").get_json()["token"] == rotated.get_json()["token"]


def test_only_the_sessions_proctors_see_its_token(app: Flask, lab):  # type: ignore[no-untyped-def]
    stranger = make_session(app, participants=0, code="S-LAIN", token="LAIN77")
    client = app.test_client()
    assert login(client, *stranger.proctors[0]).status_code == 302
    for tail in ("projector", "token.json"):
        assert client.get(f"/proctor/sessions/{lab.id}/{tail}").status_code == 404
    participant = app.test_client()
    assert login(participant, *lab.participants[0]).status_code == 302
    assert participant.get(f"/proctor/sessions/{lab.id}/token.json").status_code == 403
