"""A section's items reach the PC only once the section is open, and nothing while paused.

The fixture battery BAT-UJI has two sections: S1 (3 items, 10 minutes) and S2 (5 items, untimed).
"""

from __future__ import annotations

import html
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from cbt_server.models import AttemptItem, Item, db
from tests.builders import Participant, make_session
from tests.helpers import csrf_token, login


@pytest.fixture
def lab(app: Flask, fixture_banks):  # type: ignore[no-untyped-def]
    return make_session(app, participants=1)


@pytest.fixture
def proctor(app: Flask, lab):  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert login(client, *lab.proctors[0]).status_code == 302
    return client


def _act(proctor, lab, action: str, **fields: Any):  # type: ignore[no-untyped-def]
    page = proctor.get(f"/proctor/sessions/{lab.id}/monitor")
    response = proctor.post(
        f"/proctor/sessions/{lab.id}/act/{action}",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "reason": "alasan pengujian",
            **fields,
        },
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def _stems_by_section(app: Flask, attempt_id: int) -> dict[int, list[str]]:
    """Server-side truth: the stems of each section of the attempt."""
    with app.app_context():
        rows = db.session.execute(
            select(AttemptItem.section_index, Item.stem_html)
            .join(Item, Item.id == AttemptItem.item_id)
            .where(AttemptItem.attempt_id == attempt_id)
        ).all()
    stems: dict[int, list[str]] = {}
    for index, stem in rows:
        stems.setdefault(index, []).append(stem)
    return stems


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _raw(person: Participant, path: str = "/api/v1/attempt") -> str:
    """Every text a response carries (the strings of a JSON body, an HTML page unescaped)."""
    response = person.client.get(path)
    assert response.status_code == 200
    if response.is_json:
        return "\n".join(_strings(response.get_json()))
    return html.unescape(response.get_data(as_text=True))


def test_a_locked_section_is_listed_without_its_items(app: Flask, lab):  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    attempt = person.begin(lab.token)
    first, second = attempt["sections"]
    assert (first["state"], second["state"]) == ("open", "locked")
    # The locked section keeps its place in the attempt: title, limits, positions, count.
    assert second["title"] == "Bagian Dua" and second["count"] == 5
    assert second["first_position"] == 3 and second["minutes"] is None
    assert sorted(i["position"] for i in attempt["items"]) == [0, 1, 2]
    assert {i["section"] for i in attempt["items"]} == {0}
    # None of the locked section's text is anywhere in the response, nor on the exam page.
    stems = _stems_by_section(app, attempt["id"])
    body, page = _raw(person), _raw(person, "/exam/take")
    for stem in stems[1]:
        assert stem not in body and stem not in page
    assert all(stem in body for stem in stems[0])


def test_items_arrive_when_the_section_opens_and_closed_ones_stay(app: Flask, lab):  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    person.begin(lab.token)
    assert person.save(0, [0], 1).status_code == 200
    finished = person.post("/sections/0/finish")
    assert finished.status_code == 200
    # Finishing answers with the timing only: no items ride along.
    assert "items" not in finished.get_json() and "stem_html" not in finished.get_data(as_text=True)
    attempt = person.attempt()
    assert [s["state"] for s in attempt["sections"]] == ["closed", "open"]
    assert sorted(i["position"] for i in attempt["items"]) == list(range(8))
    assert next(i for i in attempt["items"] if i["position"] == 0)["answer"] == [0]


def test_a_timed_section_running_out_opens_the_next_one(app: Flask, lab, clock):  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    person.begin(lab.token)
    clock.advance(minutes=10, seconds=6)  # its 10 minutes and the 5 s grace
    attempt = person.attempt()
    assert [s["state"] for s in attempt["sections"]] == ["closed", "open"]
    assert len(attempt["items"]) == 8


def test_nothing_while_paused_and_everything_back_on_resume(app: Flask, lab, proctor):  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    attempt = person.begin(lab.token)
    stems = _stems_by_section(app, attempt["id"])
    _act(proctor, lab, "pause")
    paused = person.attempt()
    assert paused["state"] == "paused"
    assert paused["items"] == []
    # The sections are still described (the page keeps its navigator), without any item text.
    assert [s["state"] for s in paused["sections"]] == ["open", "locked"]
    body = _raw(person)
    assert not any(stem in body for section in stems.values() for stem in section)
    _act(proctor, lab, "resume")
    resumed = person.attempt()
    assert resumed["state"] == "in_progress"
    assert sorted(i["position"] for i in resumed["items"]) == [0, 1, 2]


def test_a_save_into_a_locked_section_is_refused(app: Flask, lab):  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    person.begin(lab.token)
    refused = person.save(4, [0], 1)
    assert refused.status_code == 409 and refused.get_json()["error"] == "section_closed"
