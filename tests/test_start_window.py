"""An attempt starts only inside its session's window; an accepted token ends with the window.

The window of a start is ``starts_at <= now < ends_at`` of a session that is not closed
(docs/sessions.md). Resuming an attempt already running is not a start: its own deadline rules.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from cbt_server.db import write_transaction
from cbt_server.models import Attempt, ExamSession, db
from tests.builders import Participant, make_session

#: make_session: opened 5 minutes ago, 4 hours long, so it ends in 235 minutes.
UNTIL_END = timedelta(minutes=235)
ASK_PROCTOR = "pengawas"


@pytest.fixture
def lab(app: Flask, fixture_banks):  # type: ignore[no-untyped-def]
    return make_session(app, participants=2)


def _attempts(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Attempt)) or 0


def _close_session(app: Flask, session_id: int) -> None:
    with app.app_context(), write_transaction():
        session = db.session.get(ExamSession, session_id)
        session.status = "closed"
        session.closed_at = session.starts_at


def _accepted(app: Flask, lab) -> Participant:  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    assert person.login().status_code == 302
    entered = person.enter_token(lab.token)
    assert entered.status_code == 302 and entered.headers["Location"].endswith("/exam/confirm")
    return person


def test_a_token_accepted_before_the_end_starts_nothing_after_it(app: Flask, lab, clock):  # type: ignore[no-untyped-def]
    person = _accepted(app, lab)
    confirm = person.client.get("/exam/confirm")
    assert confirm.status_code == 200
    clock.advance(seconds=(UNTIL_END + timedelta(minutes=1)).total_seconds())
    started = person.client.post(
        "/exam/confirm", data={"csrf_token": _csrf(confirm.get_data(as_text=True))}
    )
    assert started.status_code in (302, 403)
    assert _attempts(app) == 0
    # The participant is told why, in their language, and to ask the proctor.
    page = person.client.get("/exam/", follow_redirects=True).get_data(as_text=True)
    if started.status_code == 403:
        page = started.get_data(as_text=True)
    assert "berakhir" in page and ASK_PROCTOR in page
    # The acceptance is gone: the confirmation page sends them back to the token.
    again = person.client.get("/exam/confirm")
    assert again.status_code == 302 and again.headers["Location"].endswith("/exam/")


def test_the_acceptance_ends_at_the_end_exactly(app: Flask, lab, clock):  # type: ignore[no-untyped-def]
    person = _accepted(app, lab)
    token = _csrf(person.client.get("/exam/confirm").get_data(as_text=True))
    clock.advance(seconds=UNTIL_END.total_seconds())  # at ends_at: the window is over
    response = person.client.post("/exam/confirm", data={"csrf_token": token})
    assert response.status_code in (302, 403)
    assert not response.headers.get("Location", "").endswith("/exam/take")
    assert _attempts(app) == 0


def test_a_start_just_before_the_end_is_a_start(app: Flask, lab, clock):  # type: ignore[no-untyped-def]
    person = _accepted(app, lab)
    clock.advance(seconds=UNTIL_END.total_seconds() - 1)
    response = person.start()
    assert response.status_code == 302 and response.headers["Location"].endswith("/exam/take")
    assert _attempts(app) == 1


def test_a_closed_session_starts_nothing(app: Flask, lab):  # type: ignore[no-untyped-def]
    person = _accepted(app, lab)
    _close_session(app, lab.id)
    response = person.start()
    assert response.status_code == 403 and ASK_PROCTOR in response.get_data(as_text=True)
    assert _attempts(app) == 0


def test_no_token_is_accepted_at_the_end(app: Flask, lab, clock):  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    assert person.login().status_code == 302
    clock.advance(seconds=UNTIL_END.total_seconds())
    refused = person.enter_token(lab.token)
    assert refused.status_code == 403
    assert ASK_PROCTOR in refused.get_data(as_text=True)


def test_the_service_refuses_a_start_outside_the_window(app: Flask, lab, clock):  # type: ignore[no-untyped-def]
    """Whatever route calls it, the use case itself will not create an attempt late."""
    from cbt_server.delivery import service
    from cbt_server.delivery.errors import DeliveryError
    from cbt_server.models import User

    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.username == lab.participants[0][0]))
    clock.advance(seconds=UNTIL_END.total_seconds() + 1)
    with app.test_request_context(), pytest.raises(DeliveryError) as refused:
        service.start_or_resume(user_id, None)
    assert refused.value.code == "session_closed"
    assert _attempts(app) == 0


def test_a_running_attempt_resumes_on_a_reload_late_in_the_window(app: Flask, lab, clock):  # type: ignore[no-untyped-def]
    """Started 10 minutes before the end: it runs on after the end and a reload resumes it."""
    person = _accepted(app, lab)
    clock.advance(seconds=UNTIL_END.total_seconds() - 600)
    assert person.start().headers["Location"].endswith("/exam/take")
    clock.advance(minutes=15)  # past the session's end, inside the attempt's 30 minutes
    resumed = person.client.get("/exam/")
    assert resumed.status_code == 302 and resumed.headers["Location"].endswith("/exam/take")
    assert person.client.get("/exam/take").status_code == 200
    view = person.attempt()
    assert view["state"] == "in_progress" and view["remaining_seconds"] == 15 * 60


def _csrf(html: str) -> str:
    from tests.helpers import csrf_token

    return csrf_token(html)
