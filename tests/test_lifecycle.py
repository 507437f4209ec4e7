"""The attempt's life in one place (cbt_server/delivery/lifecycle.py): every move stamps the
attempt and records an event, closing runs the battery kind's hook, there is one set of state
names, and every shipped battery can be taken section by section to its last item."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from sqlalchemy import select

from cbt_server.assessment import item_matrix, person_data
from cbt_server.delivery import lifecycle
from cbt_server.models import (
    Attempt,
    AttemptEvent,
    AttemptItem,
    AttemptScore,
    Enrolment,
    Response,
    User,
    db,
)
from tests.builders import Participant, attempt_of, keyed_positions, make_session
from tests.helpers import csrf_token, login

ROOT = Path(__file__).resolve().parent.parent
#: Every battery shipped in question_banks/batteries/ (a new one is walked too).
SHIPPED_BATTERIES = tuple(
    sorted(
        yaml.safe_load(path.read_text(encoding="utf-8"))["code"]
        for path in (ROOT / "question_banks" / "batteries").glob("*.yaml")
    )
)


def _events(app: Flask, attempt_id: int) -> list[tuple[str, dict]]:
    with app.app_context():
        return [
            (e.kind, e.detail or {})
            for e in db.session.scalars(
                select(AttemptEvent)
                .where(AttemptEvent.attempt_id == attempt_id)
                .order_by(AttemptEvent.id)
            )
        ]


@pytest.fixture
def lab(app: Flask, fixture_banks):  # type: ignore[no-untyped-def]
    return make_session(app, participants=2)


@pytest.fixture
def proctor(app: Flask, lab):  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert login(client, *lab.proctors[0]).status_code == 302
    return client


def act(app: Flask, proctor, lab, action: str, usernames: list[str], **fields: Any):  # type: ignore[no-untyped-def]
    """A proctor's action on the session's participants ``usernames``, as the console posts it."""
    page = proctor.get(f"/proctor/sessions/{lab.id}")
    with app.app_context():
        ids = db.session.scalars(
            select(Enrolment.id)
            .join(User, User.id == Enrolment.user_id)
            .where(User.username.in_(usernames))
        ).all()
    return proctor.post(
        f"/proctor/sessions/{lab.id}/act/{action}",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "reason": "alasan pengujian",
            "enrolment_ids": [str(i) for i in ids],
            **fields,
        },
        headers={"Accept": "application/json"},
    )


def test_every_move_stamps_the_attempt_and_records_who_made_it(app: Flask, lab, proctor, clock):  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    attempt = person.begin(lab.token)
    name = person.username
    clock.advance(seconds=30)
    assert person.post("/sections/0/finish").status_code == 200
    # A section's end changes only attempt_sections, yet the monitor must see it.
    assert attempt_of(app, name).updated_at == clock.now()
    clock.advance(seconds=5)
    for action, extra in [("pause", {}), ("extend", {"minutes": "2"}), ("resume", {})]:
        assert act(app, proctor, lab, action, [name], **extra).status_code == 200
    assert act(app, proctor, lab, "reset_login", [name]).status_code == 200
    again = Participant(app, person.username, person.password)
    again.login()
    assert again.client.get("/exam/").status_code == 302  # resumes (and binds) this PC
    assert again.post("/submit").status_code == 200
    proctor_name = lab.proctors[0][0]
    assert _events(app, attempt["id"]) == [
        ("started", {"by": "participant"}),
        ("section_finished", {"by": "participant", "section": 0}),
        ("paused", {"by": "proctor", "actor": proctor_name}),
        ("extended", {"by": "proctor", "actor": proctor_name, "seconds": 120}),
        ("resumed", {"by": "proctor", "actor": proctor_name}),
        ("login_reset", {"by": "proctor", "actor": proctor_name}),
        ("submitted", {"by": "participant"}),
    ]


def test_time_moves_are_made_by_the_server(app: Flask, lab, clock, runner):  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    attempt = person.begin(lab.token)
    clock.advance(minutes=10, seconds=6)  # the timed first section is over (and its grace)
    assert [s["state"] for s in person.attempt()["sections"]] == ["closed", "open"]
    clock.advance(minutes=20)
    assert runner.invoke(args=["attempts", "sweep"]).exit_code == 0
    stored = attempt_of(app, person.username)
    assert stored.state == "expired" and stored.total_score is not None  # closed means graded
    kinds = [(kind, detail.get("by")) for kind, detail in _events(app, attempt["id"])]
    assert kinds == [
        ("started", "participant"),
        ("section_finished", "server"),
        ("expired", "server"),
    ]


def test_a_force_submit_and_a_void_are_proctor_moves(app: Flask, lab, proctor):  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    attempt = person.begin(lab.token)
    assert act(app, proctor, lab, "pause", [person.username]).status_code == 200
    assert act(app, proctor, lab, "force_submit", [person.username]).status_code == 200
    assert act(app, proctor, lab, "void", [person.username]).status_code == 200
    assert [kind for kind, _ in _events(app, attempt["id"])] == [
        "started",
        "paused",
        "force_submitted",
        "voided",
    ]
    stored = attempt_of(app, person.username)
    assert stored.state == "voided" and stored.finish_reason == "proctor"


def test_closing_runs_the_hook_of_the_battery_kind(app: Flask, lab, monkeypatch):  # type: ignore[no-untyped-def]
    closed: list[int] = []

    def store_nothing(attempt: Attempt, _definition: dict) -> None:
        closed.append(attempt.id)

    # BAT-UJI is a technical battery: pretend that kind is a questionnaire closed without grading.
    monkeypatch.setitem(
        lifecycle.CLOSING, "technical", lifecycle.Closing(store_nothing, scores=False)
    )
    person = Participant(app, *lab.participants[0])
    attempt = person.begin(lab.token)
    assert person.post("/submit").status_code == 200
    assert closed == [attempt["id"]]
    stored = attempt_of(app, person.username)
    assert stored.state == "submitted" and stored.total_score is None
    with app.app_context():
        assert not db.session.scalars(
            select(AttemptScore).where(AttemptScore.attempt_id == attempt["id"])
        ).all()
    # Closed without scores is what this kind does: the finish page does not close it again.
    assert person.client.get("/exam/finish").status_code == 200
    assert closed == [attempt["id"]]


def test_one_set_of_state_names():
    assert {"submitted", "expired", "voided"} == lifecycle.FINISHED
    assert {"submitted", "expired"} == lifecycle.GRADED and lifecycle.GRADED < lifecycle.FINISHED
    assert {"in_progress", "paused"} == lifecycle.RUNNING
    assert person_data.GRADED is lifecycle.GRADED and item_matrix.GRADED is lifecycle.GRADED
    assert not hasattr(person_data, "FINISHED") and not hasattr(item_matrix, "FINISHED")
    # The page's scripts keep one copy each, saying where it comes from.
    for script in ("static/js/exam/lifecycle.js", "static/js/exam-sw.js"):
        text = (ROOT / "cbt_server" / script).read_text()
        copied = re.search(r"const FINISHED = new Set\(\[([^\]]*)\]\)", text)
        assert copied is not None, script
        assert set(re.findall(r'"(\w+)"', copied.group(1))) == set(lifecycle.FINISHED), script
        assert "delivery/lifecycle.py" in text, script


def _answer_for(truth: dict[str, Any]) -> Any:
    return "jawaban" if truth["type"] == "short" else [0]


@pytest.mark.parametrize("battery", SHIPPED_BATTERIES)
def test_every_shipped_battery_is_taken_section_by_section_to_its_last_item(
    imported: Flask, clock, battery: str
):  # type: ignore[no-untyped-def]
    app = imported
    lab = make_session(app, battery, participants=1, code="S-WALK")
    person = Participant(app, *lab.participants[0])
    attempt = person.begin(lab.token)
    with app.app_context():
        sections = dict(
            db.session.execute(
                select(AttemptItem.position, AttemptItem.section_index).where(
                    AttemptItem.attempt_id == attempt["id"]
                )
            ).all()
        )
    truth = {t["position"]: t for t in keyed_positions(app, attempt["id"])}
    count = len(attempt["sections"])
    assert count >= 2, battery
    seq = 0
    for index in range(count):
        view = person.attempt()
        states = [s["state"] for s in view["sections"]]
        assert states == ["closed"] * index + ["open"] + ["locked"] * (count - index - 1)
        last = max(p for p, s in sections.items() if s == index)
        first = min(p for p, s in sections.items() if s == index)
        for position in (first, last):
            seq += 1
            response = person.save(position, _answer_for(truth[position]), seq)
            assert response.status_code == 200, (battery, index, response.get_json())
        clock.advance(seconds=30)
        if index + 1 < count:
            assert person.post(f"/sections/{index}/finish").status_code == 200, battery
    assert person.post("/submit").status_code == 200
    with app.app_context():
        stored = db.session.get(Attempt, attempt["id"])
        assert stored.state == "submitted"
        answered = {
            r.position
            for r in db.session.scalars(
                select(Response).where(
                    Response.attempt_id == attempt["id"], Response.answer.is_not(None)
                )
            )
        }
        section_scores = db.session.scalars(
            select(AttemptScore).where(
                AttemptScore.attempt_id == attempt["id"], AttemptScore.scope == "section"
            )
        ).all()
    for index in range(count):
        assert max(p for p, s in sections.items() if s == index) in answered, (battery, index)
    assert len(section_scores) == count
    assert all(row.max_score > 0 for row in section_scores), battery  # every one graded


def test_finishing_a_section_that_is_not_open_is_refused(app: Flask, lab, clock):  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    person.begin(lab.token)
    assert person.post("/sections/1/finish").get_json()["error"] == "section_closed"
    assert person.post("/sections/0/finish").status_code == 200
    assert person.post("/sections/0/finish").get_json()["error"] == "section_closed"
    clock.advance(minutes=1)
    view = person.attempt()
    assert [s["state"] for s in view["sections"]] == ["closed", "open"]
    assert [s["minutes"] for s in view["sections"]] == [10, None]
