"""A proctor and a participant in two headless Chromium browsers against a real gunicorn.

The proctor reads the token off the monitor page, the participant logs in with it and answers;
the monitor (polling monitor.json) shows the seat in progress and its answered count rising.
The proctor extends the participant's time and the exam page's countdown follows (the heartbeat
carries the server's remaining time); the proctor resets the login and the participant carries on
in a fresh browser on another PC with every answer intact.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from cbt_server.models import Attempt, AuditEntry, Enrolment, Response, User, db
from tests.builders import keyed_positions, make_session

TIMEOUT = 15_000
#: the monitor polls every 3 s; the exam page's heartbeat comes every 15 s
MONITOR_TIMEOUT = 10_000
HEARTBEAT_TIMEOUT = 35_000
VIEWPORT = {"width": 1366, "height": 900}
EXTRA_MINUTES = 15


def _login(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#login", username)
    page.fill("#password", password)
    page.get_by_role("button", name="Masuk").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def _new_page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    return context, page


def _wait_saved(page: Page) -> None:
    expect(page.locator("body")).to_have_attribute("data-queue-length", "0", timeout=TIMEOUT)


def _open(page: Page, position: int) -> None:
    page.get_by_test_id(f"nav-{position}").click()
    expect(page.get_by_test_id(f"nav-{position}")).to_have_class(re.compile(r"\bcurrent\b"))


def _past_instructions(page: Page) -> None:
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    if page.get_by_test_id("btn-start-section").is_visible():
        page.get_by_test_id("btn-start-section").click()


def _seconds(text: str) -> int:
    hours, minutes, seconds = (int(part) for part in text.strip().split(":"))
    return hours * 3600 + minutes * 60 + seconds


def _act(monitor: Page, button: str, reason: str, minutes: int | None = None) -> None:
    """An action on the selected seats: the dialog names them and asks for the reason."""
    monitor.get_by_test_id(button).click()
    expect(monitor.get_by_test_id("act-dialog")).to_be_visible()
    if minutes is not None:
        monitor.get_by_test_id("act-minutes").fill(str(minutes))
    monitor.get_by_test_id("act-reason").fill(reason)
    monitor.get_by_test_id("dialog-confirm").click()
    expect(monitor.get_by_test_id("act-result")).to_have_attribute("data-state", "ok")
    expect(monitor.get_by_test_id("act-result")).to_have_text("Tindakan dicatat untuk 1 peserta.")


def _attempt(app, username: str) -> Attempt:  # type: ignore[no-untyped-def]
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        attempt = db.session.scalar(select(Attempt).where(Attempt.user_id == user.id))
        db.session.expunge_all()
        return attempt


def test_proctor_monitors_extends_and_moves_a_participant(live_server, browser):  # type: ignore[no-untyped-def]
    app = live_server.app()
    lab = make_session(app, participants=2)
    username, password = lab.participants[0]
    with app.app_context():
        seat_ids = [
            f"seat-{e.participant_number or e.id}"
            for e in db.session.scalars(
                select(Enrolment).where(Enrolment.session_id == lab.id).order_by(Enrolment.seat)
            )
        ]
    seat_id, other_id = seat_ids  # PC-01 is participant 1

    # (a) The proctor opens the monitor and reads the token off the page.
    proctor_context, monitor = _new_page(browser)
    _login(monitor, live_server.url, *lab.proctors[0])
    monitor.goto(f"{live_server.url}/proctor/sessions/{lab.id}/monitor")
    seat = monitor.get_by_test_id(seat_id)
    expect(seat).to_have_attribute("data-status", "absent")
    expect(monitor.get_by_test_id("act-selection")).to_have_text("Belum ada peserta dipilih.")
    token = monitor.get_by_test_id("session-token").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{4,12}", token), token

    # (b) The participant logs in on PC-01 with that token and starts.
    pc1, exam = _new_page(browser)
    _login(exam, live_server.url, username, password)
    exam.fill("#token", token)
    exam.get_by_role("button", name="Lanjut").click()
    expect(exam.get_by_test_id("who-name")).to_have_text("Peserta 1")
    exam.get_by_test_id("btn-start").click()
    _past_instructions(exam)
    attempt_id = int(exam.locator("#exam").get_attribute("data-attempt-id"))
    truth = keyed_positions(app, attempt_id)
    assert len(truth) == 8

    # (c) The monitor shows the seat in progress, and the answered count rising.
    expect(seat).to_have_attribute("data-status", "in_progress", timeout=MONITOR_TIMEOUT)
    expect(seat.get_by_test_id("status")).to_have_text("Mengerjakan")
    expect(seat.get_by_test_id("answered")).to_have_text("0/8")
    for position in range(3):  # section 1: single, multiple and true/false items
        _open(exam, position)
        exam.get_by_test_id("option-0").click()
        expect(exam.get_by_test_id("option-0")).to_have_attribute("aria-checked", "true")
    _wait_saved(exam)
    expect(seat.get_by_test_id("answered")).to_have_text("3/8", timeout=MONITOR_TIMEOUT)

    # (d) The proctor gives this participant more time; the exam page's countdown follows.
    seat.get_by_test_id("select").check()
    expect(monitor.get_by_test_id("act-selection")).to_contain_text("Peserta 1")
    before = _seconds(exam.get_by_test_id("countdown").inner_text())
    assert 25 * 60 < before <= 30 * 60, before
    _act(monitor, "act-extend", "Listrik PC-01 sempat padam", EXTRA_MINUTES)
    expect(seat.get_by_test_id("remaining")).to_have_text(
        re.compile(r"^4\d:\d\d$"), timeout=MONITOR_TIMEOUT
    )
    countdown = exam.get_by_test_id("countdown")
    expect(countdown).to_have_text(re.compile(r"^00:4\d:\d\d$"), timeout=HEARTBEAT_TIMEOUT)
    gained = _seconds(countdown.inner_text()) - before
    assert EXTRA_MINUTES * 60 - 60 < gained <= EXTRA_MINUTES * 60, gained
    other = monitor.get_by_test_id(other_id)
    expect(other).to_have_attribute("data-status", "absent")  # nobody else was touched
    assert _attempt(app, username).extra_seconds == EXTRA_MINUTES * 60

    # (e) PC-01 breaks down: the proctor resets the login; PC-01 is stopped at its next heartbeat.
    _act(monitor, "act-reset", "PC-01 rusak, pindah ke PC-09")
    expect(exam.get_by_test_id("error-dialog")).to_be_visible(timeout=HEARTBEAT_TIMEOUT)
    assert _attempt(app, username).device_hash is None
    pc1.close()

    # The participant logs in on another PC (a fresh browser) and carries on.
    pc9, exam = _new_page(browser)
    _login(exam, live_server.url, username, password)
    _past_instructions(exam)
    for position in range(3):
        _open(exam, position)
        expect(exam.get_by_test_id("option-0")).to_have_attribute("aria-checked", "true")
    expect(exam.get_by_test_id("countdown")).to_have_text(re.compile(r"^00:4\d:\d\d$"))
    exam.get_by_test_id("option-1").click()  # a changed answer is accepted from the new PC
    _wait_saved(exam)
    expect(seat).to_have_attribute("data-status", "in_progress", timeout=MONITOR_TIMEOUT)
    expect(seat.get_by_test_id("answered")).to_have_text("3/8")

    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        assert attempt.state == "in_progress"
        assert attempt.device_hash is not None  # bound to the new PC
        stored = {
            r.position: r.answer
            for r in db.session.scalars(select(Response).where(Response.attempt_id == attempt_id))
        }
        reasons = dict(
            db.session.execute(
                select(AuditEntry.action, AuditEntry.reason).where(
                    AuditEntry.action.in_(["attempt.extend", "attempt.reset_login"])
                )
            ).all()
        )
    assert reasons == {
        "attempt.extend": "Listrik PC-01 sempat padam",
        "attempt.reset_login": "PC-01 rusak, pindah ke PC-09",
    }
    expected = {t["position"]: [t["order"][0]] for t in truth[:3]}
    multiple = truth[2]["type"] == "multiple"
    expected[2] = sorted(t for t in truth[2]["order"][:2]) if multiple else [truth[2]["order"][1]]
    assert {p: stored[p] for p in range(3)} == expected
    assert all(stored[p] is None for p in range(3, 8))
    pc9.close()
    proctor_context.close()
