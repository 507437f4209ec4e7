"""A server outage costs nobody anything: the time the server was down is given back, answers
the PCs queued meanwhile are accepted, what is refused for good is kept apart as a late answer
for an assessor, and a proctor can reopen an attempt that ran out of time."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from cbt_server.delivery import outage
from cbt_server.models import AttemptEvent, AuditEntry, LateAnswer, Response, db
from tests.builders import Participant, attempt_of, make_session
from tests.helpers import csrf_token, login
from tests.test_interventions import act

#: BAT-UJI: 30 minutes in all, section 1 of 10 minutes


@pytest.fixture
def lab(app: Flask, fixture_banks):  # type: ignore[no-untyped-def]
    return make_session(app, participants=2)


def _stamp(app: Flask) -> int:
    """What a worker does every 2 s (and when it starts): the server is serving."""
    with app.app_context():
        return outage.stamp()


def _in_section_2(person: Participant) -> list[dict]:
    assert person.post("/sections/0/finish").status_code == 200
    attempt = person.attempt()
    return [i for i in attempt["items"] if i["section"] == 1 and i["type"] != "short"]


def test_time_the_server_was_down_is_given_back_and_queued_answers_are_kept(
    app: Flask, lab, clock
) -> None:  # type: ignore[no-untyped-def]
    """Killed 25 s before the deadline, back 15 s after it: every answer given before the
    deadline is stored, and the participant keeps the 25 s they had."""
    person = Participant(app, *lab.participants[0])
    person.begin(lab.token)
    items = _in_section_2(person)
    assert person.save(items[0]["position"], [0], 1).status_code == 200
    clock.advance(minutes=30, seconds=-25)  # 25 s before the deadline
    _stamp(app)  # the last sign of life (workers stamp every 2 s); then the server is killed
    clock.advance(seconds=40)  # down across the deadline; the PC queues answers meanwhile
    assert _stamp(app) == 1  # a worker starts again: the outage is given back first
    response = person.post(
        "/answers",
        {
            "saves": [
                {"position": items[1]["position"], "answer": [1], "seq": 2},
                {"position": items[2]["position"], "answer": [0], "seq": 3},
            ]
        },
    )
    assert response.status_code == 200
    assert [a["status"] for a in response.get_json()["acks"]] == ["saved", "saved"]
    assert response.get_json()["remaining_seconds"] == 25
    attempt = attempt_of(app, lab.participants[0][0])
    assert attempt.outage_seconds == 40
    with app.app_context():
        stored = {
            r.position: r.client_seq
            for r in db.session.scalars(select(Response).where(Response.attempt_id == attempt.id))
        }
        assert stored[items[1]["position"]] == 2 and stored[items[2]["position"]] == 3
        event = db.session.scalar(select(AttemptEvent).where(AttemptEvent.kind == "server_outage"))
        assert event.detail["seconds"] == 40
        row = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "server.outage"))
        assert row.details["attempts"] == 1 and row.details["handling"] == "time_given_back"


def test_a_request_before_the_first_stamp_still_gets_the_time_back(app: Flask, lab, clock) -> None:  # type: ignore[no-untyped-def]
    """The database was unwritable (or the request beat the sweeper): the save that would find
    the attempt expired gives the outage back first."""
    person = Participant(app, *lab.participants[0])
    person.begin(lab.token)
    items = _in_section_2(person)
    clock.advance(minutes=29, seconds=50)
    _stamp(app)
    clock.advance(seconds=30)  # 20 s past the deadline, no stamp since
    response = person.save(items[0]["position"], [1], 1)
    assert response.status_code == 200 and response.get_json()["acks"][0]["status"] == "saved"
    assert attempt_of(app, lab.participants[0][0]).state == "in_progress"


def test_the_outage_is_given_back_once_and_only_to_running_attempts(app: Flask, lab, clock) -> None:  # type: ignore[no-untyped-def]
    running = Participant(app, *lab.participants[0])
    running.begin(lab.token)
    done = Participant(app, *lab.participants[1])
    done.begin(lab.token)
    assert done.post("/submit").status_code == 200
    _stamp(app)
    before = attempt_of(app, lab.participants[0][0]).deadline_at
    clock.advance(seconds=60)
    assert _stamp(app) == 1
    assert _stamp(app) == 0  # a second worker starting finds the clock already caught up
    clock.advance(seconds=3)
    assert _stamp(app) == 0  # normal cadence: no outage
    assert attempt_of(app, lab.participants[0][0]).deadline_at == before + timedelta(seconds=60)
    finished = attempt_of(app, lab.participants[1][0])
    assert finished.state == "submitted" and finished.outage_seconds == 0


def test_a_long_outage_leaves_the_room_paused_for_the_proctor(app: Flask, lab, clock) -> None:  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    person.begin(lab.token)
    clock.advance(minutes=10)
    _stamp(app)
    clock.advance(minutes=45)  # longer than the 30 minutes given back automatically
    assert _stamp(app) == 1
    attempt = attempt_of(app, lab.participants[0][0])
    assert attempt.state == "paused"
    assert person.attempt()["remaining_seconds"] == 20 * 60  # frozen at the last sign of life
    proctor = app.test_client()
    assert login(proctor, *lab.proctors[0]).status_code == 302
    assert act(app, proctor, lab, "resume", [lab.participants[0][0]]).status_code == 200
    clock.advance(seconds=5)
    assert person.attempt()["remaining_seconds"] == 20 * 60 - 5


def test_a_proctor_can_reopen_an_attempt_that_ran_out_of_time(app: Flask, lab, clock) -> None:  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    person.begin(lab.token)
    items = _in_section_2(person)
    assert person.save(items[0]["position"], [0], 1).status_code == 200
    clock.advance(minutes=31)
    assert person.attempt()["state"] == "expired"
    assert attempt_of(app, lab.participants[0][0]).total_score is not None
    proctor = app.test_client()
    assert login(proctor, *lab.proctors[0]).status_code == 302
    refused = act(app, proctor, lab, "reopen", [lab.participants[0][0]], minutes="5", reason="")
    assert refused.status_code == 400  # a reason is required
    reopened = act(
        app,
        proctor,
        lab,
        "reopen",
        [lab.participants[0][0]],
        minutes="5",
        reason="server mati 4 menit menjelang akhir",
    )
    assert reopened.status_code == 200 and reopened.get_json()["changed"]
    view = person.attempt()
    assert view["state"] == "in_progress" and view["remaining_seconds"] == 300
    assert [s["state"] for s in view["sections"]] == ["closed", "open"]
    assert person.save(items[1]["position"], [1], 2).status_code == 200
    assert person.post("/submit").status_code == 200
    attempt = attempt_of(app, lab.participants[0][0])
    assert attempt.state == "submitted" and attempt.total_score is not None
    with app.app_context():
        row = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "attempt.reopen"))
        assert row.reason == "server mati 4 menit menjelang akhir"
    # A submitted attempt is never reopened.
    again = act(app, proctor, lab, "reopen", [lab.participants[0][0]], minutes="5", reason="uji")
    assert again.status_code == 400


def test_answers_refused_for_good_are_kept_apart_for_the_assessor(app: Flask, lab, clock) -> None:  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    person.begin(lab.token)
    items = _in_section_2(person)
    assert person.save(items[0]["position"], [0], 1).status_code == 200
    clock.advance(minutes=31)  # the PC was cut off (the server was not): time ran out
    refused = person.save(items[0]["position"], [1], 2)
    assert refused.status_code == 409 and refused.get_json()["error"] == "deadline_passed"
    late = {"saves": [{"position": items[0]["position"], "answer": [1], "seq": 2, "age_ms": 95000}]}
    first = person.post("/late-answers", late)
    assert first.status_code == 200
    assert first.get_json() == {"stored": 1, "duplicates": 0, "invalid": []}
    assert person.post("/late-answers", late).get_json()["duplicates"] == 1
    mixed = {"saves": [{"position": 999, "seq": 3}, {"seq": "x"}, {**late["saves"][0], "seq": 4}]}
    assert person.post("/late-answers", mixed).get_json() == {
        "stored": 1,
        "duplicates": 0,
        "invalid": [0, 1],  # the valid one is not held back by the others
    }
    assert person.post("/late-answers", {"saves": "x"}).status_code == 400
    attempt = attempt_of(app, lab.participants[0][0])
    total = attempt.total_score
    with app.app_context():
        row = db.session.scalar(select(LateAnswer).order_by(LateAnswer.id))
        assert (row.age_ms, row.source, row.decision) == (95000, "page", None)
        assert db.session.get(Response, (attempt.id, items[0]["position"])).client_seq == 1
    # The assessor decides.
    assessor = _assessor(app)
    page = assessor.get(f"/assessor/sessions/{lab.id}/late-answers")
    assert page.status_code == 200 and "95 detik sebelum dikirim" in page.get_data(as_text=True)
    token = csrf_token(page.get_data(as_text=True))
    decided = assessor.post(
        f"/assessor/sessions/{lab.id}/late-answers/{row.id}",
        data={"csrf_token": token, "decision": "accept", "reason": "PC terputus, terbukti"},
    )
    assert decided.status_code == 302
    with app.app_context():
        assert db.session.get(Response, (attempt.id, items[0]["position"])).client_seq == 2
        audit_row = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "late_answer.accept")
        )
        assert audit_row.details["total_before"] == total and audit_row.reason
    twice = assessor.post(
        f"/assessor/sessions/{lab.id}/late-answers/{row.id}",
        data={"csrf_token": token, "decision": "reject", "reason": "berubah pikiran"},
    )
    assert twice.status_code == 302  # refused with a message: already decided
    with app.app_context():
        assert db.session.get(LateAnswer, row.id).decision == "accepted"


def _assessor(app: Flask):  # type: ignore[no-untyped-def]
    from cbt_server.accounts.service import create_user

    with app.app_context():
        create_user("asesor-x", "sandi-asesor", "assessor", "Asesor X")
        db.session.commit()
    client = app.test_client()
    assert login(client, "asesor-x", "sandi-asesor").status_code == 302
    return client


def test_a_rescue_file_from_a_pc_is_kept_apart_and_a_bad_one_changes_nothing(
    app: Flask, lab, clock
) -> None:  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    attempt = person.begin(lab.token)
    proctor = app.test_client()
    assert login(proctor, *lab.proctors[0]).status_code == 302
    page = proctor.get(f"/proctor/sessions/{lab.id}")
    token = csrf_token(page.get_data(as_text=True))

    def upload(content: bytes, name: str = "penyelamatan-1.json"):  # type: ignore[no-untyped-def]
        return proctor.post(
            f"/proctor/sessions/{lab.id}/rescue",
            data={"csrf_token": token, "file": (io.BytesIO(content), name)},
            content_type="multipart/form-data",
            follow_redirects=True,
        )

    good = {
        "format": "cbt-rescue/1",
        "attempt_id": attempt["id"],
        "created_ms": 1,
        "saves": [{"position": 0, "answer": [0], "flagged": False, "seq": 7, "age_ms": 1200}],
    }
    for bad, message in [
        (b"\xff\xfe not json", "bukan berkas penyelamatan"),
        (json.dumps({**good, "format": "lain"}).encode(), "format harus"),
        (json.dumps({**good, "attempt_id": attempt["id"] + 99}).encode(), "bukan bagian dari sesi"),
        (json.dumps({**good, "saves": [{"position": 0, "seq": "x"}]}).encode(), "saves[0]"),
    ]:
        shown = upload(bad).get_data(as_text=True)
        assert message in shown, message
    with app.app_context():
        assert db.session.scalar(select(LateAnswer)) is None
    shown = upload(json.dumps(good).encode()).get_data(as_text=True)
    assert "1 jawaban dari berkas penyelamatan disimpan" in shown
    with app.app_context():
        row = db.session.scalar(select(LateAnswer))
        assert (row.source, row.client_seq, row.age_ms) == ("rescue_file", 7, 1200)
        audit_row = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "attempt.rescue_file")
        )
        assert audit_row.details["stored"] == 1
    assert "0 jawaban" in upload(json.dumps(good).encode()).get_data(as_text=True)  # idempotent
