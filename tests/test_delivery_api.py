"""The participant's exam over HTTP, with time moved by the injected clock."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from cbt_server.models import Attempt, AttemptEvent, AttemptScore, Response, db
from tests.builders import Participant, attempt_of, keyed_positions, make_session
from tests.helpers import csrf_token


@pytest.fixture
def lab(app: Flask, fixture_banks):  # type: ignore[no-untyped-def]
    return make_session(app, participants=3)


def _begin(app: Flask, lab, n: int = 0) -> tuple[Participant, dict[str, Any]]:  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[n])
    return person, person.begin(lab.token)


def _single(app: Flask, attempt_id: int) -> int:
    """The position of the 4-option single-choice item (shuffling puts it anywhere in S1)."""
    return next(t["position"] for t in keyed_positions(app, attempt_id) if t["code"] == "U-SGL")


def _stored(app: Flask, attempt_id: int, position: int) -> tuple[Any, int]:
    with app.app_context():
        row = db.session.get(Response, (attempt_id, position))
        return row.answer, row.client_seq


def _answers_for(truth: list[dict[str, Any]]) -> dict[int, Any]:
    """A fixed answer sheet: right, partial, wrong, reverse-keyed and validity answers."""
    sheet: dict[int, Any] = {}
    for t in truth:
        order, code = t["order"], t["code"]
        if code == "U-SGL":
            sheet[t["position"]] = [order.index("B")]  # right: 1 of 1
        elif code == "U-MUL":
            sheet[t["position"]] = [order.index("A")]  # partial: 0.5 of 1
        elif code == "U-TF":
            sheet[t["position"]] = [order.index("B")]  # wrong (Salah): 0 of 1
        elif code == "U-SHORT":
            sheet[t["position"]] = "  garuda   PANCASILA "  # normalised: 2 of 2
        elif code == "U-W":
            sheet[t["position"]] = [order.index("C")]  # weight 3 of 4
        elif code == "U-L1":
            sheet[t["position"]] = [order.index("4")]  # 4 of 5
        elif code == "U-L2":
            sheet[t["position"]] = [order.index("2")]  # reversed: 4 of 5
        elif code == "U-SD":
            sheet[t["position"]] = [order.index("5")]  # 5 of 5, flagged
    return sheet


EXPECTED_TOTAL, EXPECTED_MAX = 19.5, 24.0


def test_full_attempt_is_graded_as_answered(app: Flask, lab, clock):  # type: ignore[no-untyped-def]
    person, attempt = _begin(app, lab)
    assert attempt["state"] == "in_progress"
    assert attempt["remaining_seconds"] == 30 * 60
    assert [s["state"] for s in attempt["sections"]] == ["open", "locked"]
    assert attempt["sections"][0]["remaining_seconds"] == 10 * 60
    assert len(attempt["items"]) == 3  # the locked section's items come when it opens
    truth = keyed_positions(app, attempt["id"])
    sheet = _answers_for(truth)
    seq = 0
    for position in range(3):
        seq += 1
        response = person.save(position, sheet[position], seq, flagged=position == 1)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["acks"] == [
            {"position": position, "seq": seq, "status": "saved"}
        ]
    clock.advance(seconds=90)
    assert person.post("/sections/0/finish").status_code == 200
    for position in range(3, 8):
        seq += 1
        assert person.save(position, sheet[position], seq).status_code == 200
    view = person.attempt()
    assert [s["state"] for s in view["sections"]] == ["closed", "open"]
    assert view["items"][1]["flagged"] is True
    assert view["items"][3]["answer"] == "  garuda   PANCASILA "
    response = person.post("/submit")
    assert response.get_json() == {"state": "submitted", "finish_url": "/exam/finish"}
    with app.app_context():
        stored = db.session.get(Attempt, attempt["id"])
        assert stored.state == "submitted" and stored.finish_reason == "participant"
        assert (stored.total_score, stored.total_max) == (EXPECTED_TOTAL, EXPECTED_MAX)
        scores = {
            (s.scope, s.code): s
            for s in db.session.scalars(
                select(AttemptScore).where(AttemptScore.attempt_id == stored.id)
            )
        }
        assert scores[("section", "S1")].score == 1.5 and scores[("section", "S1")].max_score == 3
        assert scores[("competency", "T.UJ.02")].score == 5.0  # short 2 + weighted 3
        assert scores[("competency", "INT.UJ")].score == 8.0  # 4 + reversed(2) = 4
        sd = scores[("competency", "INT.SDUJ")]
        assert sd.percent == 100.0 and sd.flagged and sd.level == 5
        assert scores[("competency", "T.UJ.01")].level == 2  # 50 %: at or above 40, below 55
    finish = person.client.get("/exam/finish").get_data(as_text=True)
    assert "19,50" in finish and "24,00" in finish  # Indonesian decimals (docs/downloads.md)
    # A finished attempt takes no more answers.
    refused = person.save(4, [0], 99)
    assert refused.status_code == 409 and refused.get_json()["error"] == "attempt_closed"


def test_duplicate_save_is_a_no_op_and_older_seq_never_wins(app: Flask, lab):  # type: ignore[no-untyped-def]
    person, attempt = _begin(app, lab)
    pos = _single(app, attempt["id"])
    first = person.save(pos, [1], seq=5)
    assert first.get_json()["acks"][0]["status"] == "saved"
    again = person.save(pos, [1], seq=5)
    assert again.get_json()["acks"] == [{"position": pos, "seq": 5, "status": "duplicate"}]
    newer = person.save(pos, [2], seq=7)
    assert newer.get_json()["acks"][0]["status"] == "saved"
    late_older = person.save(pos, [3], seq=6)  # an older request arriving late
    assert late_older.get_json()["acks"] == [{"position": pos, "seq": 7, "status": "stale"}]
    answer, seq = _stored(app, attempt["id"], pos)
    order = keyed_positions(app, attempt["id"])[pos]["order"]
    assert answer == [order[2]] and seq == 7
    # Out of order inside one batch: the newest seq per item is what stays.
    batch = person.post(
        "/answers",
        {
            "saves": [
                {"position": 1, "answer": [0], "seq": 11},
                {"position": 1, "answer": [1], "seq": 10},
            ]
        },
    )
    assert [a["status"] for a in batch.get_json()["acks"]] == ["saved", "stale"]
    assert _stored(app, attempt["id"], 1)[1] == 11


def test_expired_attempt_refuses_saves_and_is_graded_by_the_sweep(app: Flask, lab, clock, runner):  # type: ignore[no-untyped-def]
    person, attempt = _begin(app, lab)
    away, _ = _begin(app, lab, 1)  # this PC never comes back
    truth = keyed_positions(app, attempt_of(app, away.username).id)
    sgl = next(t for t in truth if t["code"] == "U-SGL")
    assert away.save(sgl["position"], [sgl["order"].index("B")], 1).status_code == 200
    # A save into the last section, still open until the attempt's deadline.
    last = next(t["position"] for t in keyed_positions(app, attempt["id"]) if t["code"] == "U-L1")
    clock.advance(minutes=30, seconds=4)  # within the 5 s grace: in-flight save accepted
    assert person.save(last, [0], 1).status_code == 200
    clock.advance(seconds=2)  # 6 s past the deadline
    refused = person.save(last, [1], 2)
    assert refused.status_code == 409 and refused.get_json()["error"] == "deadline_passed"
    assert _stored(app, attempt["id"], last)[1] == 1
    result = runner.invoke(args=["attempts", "sweep"])
    assert result.exit_code == 0 and "closed and graded 1 " in result.output
    gone = attempt_of(app, away.username)
    assert gone.state == "expired" and gone.finish_reason == "deadline"
    assert gone.finished_at == gone.deadline_at
    assert gone.total_score == 1.0
    assert runner.invoke(args=["attempts", "sweep"]).output.startswith("closed and graded 0 ")


def test_time_rolls_sections_over_and_closed_section_refuses(app: Flask, lab, clock):  # type: ignore[no-untyped-def]
    person, attempt = _begin(app, lab)
    assert person.save(0, [0], 1).status_code == 200
    locked = person.save(4, [0], 2)
    assert locked.status_code == 409 and locked.get_json()["error"] == "section_closed"
    clock.advance(minutes=10, seconds=6)
    view = person.attempt()
    assert [s["state"] for s in view["sections"]] == ["closed", "open"]
    # The second section started when the first closed: the attempt's clock never stopped.
    assert view["remaining_seconds"] == 30 * 60 - 606
    refused = person.save(0, [2], 3)
    assert refused.status_code == 409 and refused.get_json()["error"] == "section_closed"
    assert _stored(app, attempt["id"], 0)[1] == 1
    assert person.save(4, [0], 4).status_code == 200


def test_another_participant_cannot_reach_an_attempt(app: Flask, lab):  # type: ignore[no-untyped-def]
    owner, attempt = _begin(app, lab)
    pos = _single(app, attempt["id"])
    assert owner.save(pos, [1], 3).status_code == 200
    other = Participant(app, *lab.participants[1])
    other.login()
    response = other.client.get("/api/v1/attempt")
    assert response.status_code == 404 and response.get_json()["error"] == "no_attempt"
    assert other.enter_token(lab.token).status_code == 302
    assert other.start().status_code == 302
    other.attempt()
    assert other.save(0, [0], 9).status_code == 200
    assert _stored(app, attempt["id"], pos) == (
        [keyed_positions(app, attempt["id"])[pos]["order"][1]],
        3,
    )


def test_second_device_is_refused_until_a_reset(app: Flask, lab):  # type: ignore[no-untyped-def]
    first, attempt = _begin(app, lab)
    second = Participant(app, first.username, first.password)
    refused = second.login()
    assert refused.status_code == 409
    assert "komputer lain" in refused.get_data(as_text=True)
    # Even with the login cookie copied over, the API refuses a PC without the device cookie.
    session_cookie = first.client.get_cookie("session")
    second.client.set_cookie("session", session_cookie.value)
    api = second.client.get("/api/v1/attempt")
    assert api.status_code == 409 and api.get_json()["error"] == "other_device"
    assert first.save(0, [1], 1).status_code == 200


def test_resume_continues_at_the_same_item_with_server_time(app: Flask, lab, clock):  # type: ignore[no-untyped-def]
    person, attempt = _begin(app, lab)
    person.post("/position", {"position": 2})
    person.save(1, [0], 4)
    items_before = [
        (i["position"], i["stem_html"], [o["html"] for o in i["options"]]) for i in attempt["items"]
    ]
    person.client.post("/logout", data={"csrf_token": person.csrf})
    clock.advance(minutes=3)  # the PC reboots; time keeps running
    assert person.login().headers["Location"].endswith("/exam/")
    assert person.client.get("/exam/").headers["Location"].endswith("/exam/take")
    view = person.attempt()
    assert view["current_position"] == 2
    assert view["remaining_seconds"] == 30 * 60 - 180
    assert [
        (i["position"], i["stem_html"], [o["html"] for o in i["options"]]) for i in view["items"]
    ] == items_before
    assert view["items"][1]["answer"] == [0]


def test_client_clock_has_no_effect(app: Flask, lab, clock):  # type: ignore[no-untyped-def]
    person, _attempt = _begin(app, lab)
    response = person.post(
        "/answers",
        {
            "saves": [
                {
                    "position": 0,
                    "answer": [0],
                    "seq": 1,
                    "client_time": "2099-01-01T00:00:00Z",
                    "remaining_seconds": 999999,
                }
            ],
            "client_time": "2000-01-01T00:00:00Z",
        },
    )
    assert response.get_json()["remaining_seconds"] == 30 * 60
    clock.advance(seconds=61)
    beat = person.post("/heartbeat", {"position": 0, "client_time": "2099-01-01T00:00:00Z"})
    assert beat.get_json()["remaining_seconds"] == 30 * 60 - 61


@pytest.mark.parametrize(
    "payload",
    [
        {"saves": [{"position": 0, "answer": [9], "seq": 1}]},  # option out of range
        {"saves": [{"position": 0, "answer": [0, 1], "seq": 1}]},  # two options, single item
        {"saves": [{"position": 99, "answer": [0], "seq": 1}]},  # no such position
        {"saves": [{"position": 0, "answer": [0], "seq": 0}]},  # seq must be >= 1
        {"saves": [{"position": 0, "answer": "x", "seq": 1}]},  # text for an option item
        {"saves": []},
        {"nothing": True},
    ],
)
def test_malformed_saves_are_refused_and_change_nothing(app: Flask, lab, payload):  # type: ignore[no-untyped-def]
    person, attempt = _begin(app, lab)
    pos = _single(app, attempt["id"])
    # Position 0 in the table above stands for the single-choice item, wherever shuffling put it.
    payload = copy.deepcopy(payload)
    for save in payload.get("saves", []):
        save["position"] = pos if save["position"] == 0 else save["position"]
    response = person.post("/answers", payload)
    assert response.status_code == 400
    assert response.get_json()["error"] == "bad_request" and response.get_json()["message"]
    assert _stored(app, attempt["id"], pos) == (None, 0)


def test_a_batch_with_one_bad_save_stores_nothing(app: Flask, lab):  # type: ignore[no-untyped-def]
    person, attempt = _begin(app, lab)
    response = person.post(
        "/answers",
        {
            "saves": [
                {"position": 0, "answer": [0], "seq": 1},
                {"position": 1, "answer": [42], "seq": 2},
            ]
        },
    )
    assert response.status_code == 400
    assert _stored(app, attempt["id"], 0) == (None, 0)


def test_api_posts_need_the_csrf_token(app: Flask, lab):  # type: ignore[no-untyped-def]
    person, attempt = _begin(app, lab)
    response = person.client.post(
        "/api/v1/attempt/answers", json={"saves": [{"position": 0, "answer": [0], "seq": 1}]}
    )
    assert response.status_code == 400 and response.get_json()["error"] == "csrf"
    assert _stored(app, attempt["id"], 0) == (None, 0)


def test_token_checks(app: Flask, lab, clock):  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    person.login()
    wrong = person.enter_token("ZZZZZZ")
    assert wrong.status_code == 403 and "Token salah" in wrong.get_data(as_text=True)
    assert person.client.get("/exam/confirm").status_code == 302  # no way around the token
    with app.app_context():
        from datetime import timedelta

        from cbt_server.models import ExamSession

        session = db.session.get(ExamSession, lab.id)
        session.previous_token, session.token = session.token, "NEWTKN"
        session.previous_token_until = clock.now() + timedelta(minutes=2)
        db.session.commit()
    assert person.enter_token(lab.token.lower()).status_code == 302  # overlap, case-insensitive
    clock.advance(minutes=3)
    stale = person.enter_token(lab.token)
    assert stale.status_code == 403 and "tidak berlaku" in stale.get_data(as_text=True)


def test_integrity_events_are_stored_with_server_time(app: Flask, lab, clock):  # type: ignore[no-untyped-def]
    person, attempt = _begin(app, lab)
    response = person.post(
        "/events",
        {
            "events": [
                {"kind": "focus_lost"},
                {"kind": "focus_regained"},
                {"kind": "copy_attempt"},
                {"kind": "reload"},
                {"kind": "fullscreen_exit", "detail": {"x": 1}},
            ]
        },
    )
    assert response.get_json() == {"stored": 5, "dropped": 0}
    assert person.post("/events", {"events": [{"kind": "hack"}]}).status_code == 400
    clock.advance(21)  # the last-seen stamp (and with it the connection history) is due
    person.post("/heartbeat", {"position": 0})
    person.post("/heartbeat", {"position": 0})  # throttled: one heartbeat event a minute
    with app.app_context():
        kinds = [
            e.kind
            for e in db.session.scalars(
                select(AttemptEvent)
                .where(AttemptEvent.attempt_id == attempt["id"])
                .order_by(AttemptEvent.id)
            )
        ]
        assert kinds == [
            "started",  # the start itself (delivery/lifecycle.py)
            "focus_lost",
            "focus_regained",
            "copy_attempt",
            "reload",
            "fullscreen_exit",
            "heartbeat",
        ]


def test_roles_other_than_participant_get_no_exam(app: Flask, lab):  # type: ignore[no-untyped-def]
    proctor = Participant(app, *lab.proctors[0])
    proctor.login()
    assert proctor.client.get("/exam/").status_code == 403
    assert proctor.client.get("/api/v1/attempt").status_code == 403
    anonymous = app.test_client()
    assert anonymous.get("/api/v1/attempt").status_code == 401


def test_a_start_whose_answer_was_lost_can_be_sent_again(app: Flask, lab):  # type: ignore[no-untyped-def]
    """In a stampede a PC's "Mulai" can time out after the server started the attempt; the
    browser sends it again without the cookies of the lost answer. It must start (resume), not
    be refused as another computer."""
    person = Participant(app, *lab.participants[0])
    assert person.login().status_code == 302
    assert person.enter_token(lab.token).status_code == 302
    page = person.client.get("/exam/confirm")
    token = csrf_token(page.get_data(as_text=True))
    jar = {(c.domain, c.path, c.key): c.value for c in person.client._cookies.values()}
    first = person.client.post("/exam/confirm", data={"csrf_token": token})
    assert first.status_code == 302 and first.headers["Location"].endswith("/exam/take")
    for cookie in list(person.client._cookies.values()):  # the answer never arrived
        person.client.delete_cookie(cookie.key, domain=cookie.domain, path=cookie.path)
    for (domain, path, key), value in jar.items():
        person.client.set_cookie(key, value, domain=domain, path=path)
    again = person.client.post("/exam/confirm", data={"csrf_token": token})
    assert again.status_code == 302 and again.headers["Location"].endswith("/exam/take")
    assert person.attempt()["state"] == "in_progress"
