"""Logins end: staff after an idle time and an absolute time, participants after their attempt is
over (plus a grace period) or, without an attempt, after an idle and an absolute bound. A
participant's login never ends while their attempt runs (docs/operations.md, "Logins")."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, update

from cbt_server.accounts import lifetime
from cbt_server.config import defaults
from cbt_server.db import maintenance_writes
from cbt_server.models import AuditEntry, LoginSession, User, db
from tests.builders import Participant
from tests.helpers import audit_count, login

#: the defaults a lab runs with (the test suite's own config keeps logins open for tests that
#: move the clock by hours; these tests put the shipped defaults back)
REAL_DEFAULTS = {
    name: value
    for name, value in defaults(Path("instance")).items()
    if name.startswith(("CBT_STAFF_", "CBT_PARTICIPANT_"))
}
ENDED = "Login Anda berakhir"


@pytest.fixture
def real_limits(app: Flask) -> Flask:
    app.config.update(REAL_DEFAULTS)
    return app


def _backdate_logins(app: Flask, username: str, *, seen: bool = True, **delta: float) -> None:
    """Move the user's logins into the past, as if they were opened ``delta`` ago (and last
    seen then, unless not ``seen``)."""
    with app.app_context(), maintenance_writes():
        user_id = db.session.scalar(select(User.id).where(User.username == username))
        for login_session in db.session.scalars(
            select(LoginSession).where(LoginSession.user_id == user_id)
        ):
            login_session.created_at -= timedelta(**delta)
            if seen:
                login_session.last_seen_at -= timedelta(**delta)
        db.session.commit()


def _ended_on_the_login_page(client, path: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"], path
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert ENDED in page


# ---- the observation: a login backdated 61 days still opened the assessor desk ---------------


def test_a_login_backdated_61_days_no_longer_opens_the_assessor_desk(
    real_limits: Flask, lab, assessor
) -> None:  # type: ignore[no-untyped-def]
    app = real_limits
    assert assessor.get("/assessor/").status_code == 200
    _backdate_logins(app, "asesor-1", days=61)
    _ended_on_the_login_page(assessor, "/assessor/")
    # ended for good: the row is revoked and a later request is not let in either
    assert assessor.get("/assessor/").status_code == 302
    with app.app_context():
        revoked = db.session.scalars(select(LoginSession.revoked_at)).all()
    assert revoked and all(at is not None for at in revoked)


def test_the_api_answers_401_json_for_an_ended_login(real_limits: Flask, lab, assessor) -> None:  # type: ignore[no-untyped-def]
    _backdate_logins(real_limits, "asesor-1", days=61)
    response = assessor.get("/api/v1/attempt")
    assert response.status_code == 401
    assert response.get_json()["error"] == "login_expired"


# ---- staff: idle and absolute timeouts ------------------------------------------------------


def test_a_staff_login_ends_after_the_idle_time_allowing_for_the_last_seen_throttle(
    real_limits: Flask, lab, assessor, clock
) -> None:  # type: ignore[no-untyped-def]
    # last_seen_at is written at most once a minute: a request 59 s after the last stamp left
    # it 59 s old, so the idle time counts from the stamp plus that throttle.
    clock.advance(minutes=30, seconds=59)
    assert assessor.get("/assessor/").status_code == 200  # stamps last_seen_at
    clock.advance(minutes=31)
    assert assessor.get("/assessor/").status_code == 200
    clock.advance(minutes=31, seconds=1)
    _ended_on_the_login_page(assessor, "/assessor/")


def test_a_busy_staff_login_still_ends_at_the_absolute_time(
    real_limits: Flask, lab, assessor, clock
) -> None:  # type: ignore[no-untyped-def]
    for _ in range(35):  # 11 h 40 min of a request every 20 minutes
        clock.advance(minutes=20)
        assert assessor.get("/assessor/").status_code == 200
    clock.advance(minutes=19)
    assert assessor.get("/assessor/").status_code == 200
    clock.advance(minutes=2)  # 12 h 1 min after the login
    _ended_on_the_login_page(assessor, "/assessor/")


def test_staff_timeouts_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path, database_url: str, lab
) -> None:  # type: ignore[no-untyped-def]
    from cbt_server import create_app
    from cbt_server.clock import ManualClock

    monkeypatch.setenv("CBT_STAFF_IDLE_MINUTES", "5")
    monkeypatch.setenv("CBT_STAFF_MAX_HOURS", "1")
    clock = ManualClock()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "INSTANCE_PATH": tmp_path / "env-instance",
            "SECRET_KEY": "test-secret",
            "CBT_CLOCK": clock,
            "CBT_STRICT_WRITES": True,
        }
    )
    client = app.test_client()
    assert login(client, "asesor-1", "sandi-asesor").status_code == 302
    clock.advance(minutes=5)
    assert client.get("/assessor/").status_code == 200
    clock.advance(minutes=7)
    _ended_on_the_login_page(client, "/assessor/")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_login_ended_by_time_is_audited_once(real_limits: Flask, lab, assessor, clock) -> None:  # type: ignore[no-untyped-def]
    clock.advance(hours=2)
    assert assessor.get("/assessor/").status_code == 302
    assert assessor.get("/assessor/").status_code == 302
    assert audit_count(real_limits, "login.timeout") == 1
    with real_limits.app_context():
        row = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "login.timeout"))
        assert row is not None
        assert row.actor_label == "asesor-1" and row.details["reason"] == "idle"


# ---- participants: never during the attempt; after it, a grace period ----------------------


def test_a_participant_login_does_not_end_while_the_attempt_runs(
    real_limits: Flask, lab, clock
) -> None:  # type: ignore[no-untyped-def]
    person = Participant(real_limits, *lab.participants[0])
    attempt = person.begin(lab.token)
    item = next(i for i in attempt["items"] if i["section"] == 0 and i["type"] != "short")
    # a login opened long ago, silent for hours (a proctor's pause, a PC left asleep)
    _backdate_logins(real_limits, lab.participants[0][0], days=61)
    assert person.client.get("/api/v1/attempt").status_code == 200
    assert person.save(item["position"], [0], 1).status_code == 200
    assert person.client.get("/exam/take").status_code == 200


def test_a_participant_login_ends_a_grace_period_after_the_attempt(
    real_limits: Flask, lab, clock
) -> None:  # type: ignore[no-untyped-def]
    person = Participant(real_limits, *lab.participants[0])
    person.begin(lab.token)
    assert person.post("/submit").status_code == 200
    clock.advance(minutes=29)
    assert person.client.get("/exam/finish").status_code == 200
    clock.advance(minutes=2)
    response = person.client.get("/api/v1/attempt")
    assert response.status_code == 401 and response.get_json()["error"] == "login_expired"
    _ended_on_the_login_page(person.client, "/exam/finish")


def test_a_participant_waiting_for_the_token_is_logged_out_after_the_idle_time(
    real_limits: Flask, lab, clock
) -> None:  # type: ignore[no-untyped-def]
    person = Participant(real_limits, *lab.participants[0])
    assert person.login().status_code == 302
    clock.advance(minutes=50)
    assert person.client.get("/exam/").status_code == 200
    clock.advance(minutes=62)
    _ended_on_the_login_page(person.client, "/exam/")


def test_the_save_lane_refuses_a_login_the_flask_check_would_end(
    real_limits: Flask, lab, clock
) -> None:  # type: ignore[no-untyped-def]
    """A participant whose login belongs to no attempt (logged in again with the NIP after a
    reset), opened longer ago than the bound and seen just now (so no stamp is due): the lane in
    front of Flask must not serve the save either."""
    person = Participant(real_limits, *lab.participants[0])
    attempt = person.begin(lab.token)
    item = next(i for i in attempt["items"] if i["section"] == 0 and i["type"] != "short")
    with real_limits.app_context(), maintenance_writes():
        db.session.execute(update(LoginSession).values(enrolment_id=None))
        db.session.commit()
    _backdate_logins(real_limits, lab.participants[0][0], seen=False, hours=5)
    response = person.save(item["position"], [0], 1)
    assert response.status_code == 401
    assert response.get_json()["error"] == "login_expired"


# ---- the rules themselves (pure) ------------------------------------------------------------


def _limits() -> lifetime.Limits:
    return lifetime.limits({**REAL_DEFAULTS, "CBT_LOGIN_SEEN_SECONDS": 60})


def test_the_shipped_defaults() -> None:
    assert REAL_DEFAULTS == {
        "CBT_STAFF_IDLE_MINUTES": 30,
        "CBT_STAFF_MAX_HOURS": 12,
        "CBT_PARTICIPANT_IDLE_MINUTES": 60,
        "CBT_PARTICIPANT_MAX_HOURS": 4,
        "CBT_PARTICIPANT_GRACE_MINUTES": 30,
    }


def test_rules_for_staff() -> None:
    from cbt_server.clock import ManualClock

    t0 = ManualClock().now()
    rules = _limits()
    assert lifetime.ended("proctor", t0, t0, None, None, t0 + timedelta(minutes=31), rules) is None
    assert (
        lifetime.ended("admin", t0, t0, None, None, t0 + timedelta(minutes=31, seconds=1), rules)
        == "idle"
    )
    late = t0 + timedelta(hours=12, seconds=1)
    assert lifetime.ended("assessor", t0, late, None, None, late, rules) == "absolute"


def test_rules_for_participants() -> None:
    from cbt_server.clock import ManualClock

    t0 = ManualClock().now()
    rules = _limits()
    much_later = t0 + timedelta(days=61)
    for running in ("in_progress", "paused"):
        assert lifetime.ended("participant", t0, t0, running, None, much_later, rules) is None
    done = t0 + timedelta(hours=2)
    assert (
        lifetime.ended(
            "participant", t0, t0, "submitted", done, done + timedelta(minutes=30), rules
        )
        is None
    )
    assert (
        lifetime.ended("participant", t0, t0, "expired", done, done + timedelta(minutes=31), rules)
        == "attempt_over"
    )
    # a login opened after the attempt ended gets its grace from the login
    later = t0 + timedelta(hours=5)
    assert (
        lifetime.ended(
            "participant", later, later, "submitted", done, later + timedelta(minutes=10), rules
        )
        is None
    )
    # no attempt: idle (plus the stamp's throttle) and absolute bounds
    assert (
        lifetime.ended("participant", t0, t0, None, None, t0 + timedelta(minutes=61), rules) is None
    )
    assert (
        lifetime.ended("participant", t0, t0, None, None, t0 + timedelta(minutes=62), rules)
        == "idle"
    )
    busy = t0 + timedelta(hours=4, seconds=1)
    assert lifetime.ended("participant", t0, busy, None, None, busy, rules) == "absolute"


def test_the_running_states_are_the_lifecycles():
    from cbt_server.delivery import lifecycle

    assert {str(state) for state in lifecycle.RUNNING} == lifetime.RUNNING_STATES
