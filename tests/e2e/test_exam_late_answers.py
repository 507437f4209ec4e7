"""Answers that could not reach the server before the deadline become late answers, never nothing.

The PC loses the network a few seconds before the deadline (the server stays up, so it gives no
time back), and two more changes stay queued. The page's clock reaches 0: it locks and says it
is waiting for the server. The server closes the attempt. When the network returns the server
refuses the queued saves for good (``deadline_passed`` / ``attempt_closed``): the page keeps them
in its late store, sends them to ``POST /api/v1/attempt/late-answers`` and goes to the finish
page, which says what happened to them. They are stored apart (``late_answers``), never as
graded answers; on a server without that endpoint yet they stay on the PC and the finish page
offers the rescue file.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import select

from cbt_server.clock import now
from cbt_server.db import write_transaction
from cbt_server.models import Attempt, AttemptSection, db
from tests.e2e.exam_pages import (
    TIMEOUT,
    VIEWPORT,
    Answers,
    late_answers,
    queue_length,
    responses,
    seed_session,
    start_attempt,
    stored,
    wait_saved,
)

DEADLINE_IN = 6


def _move_deadline(app, attempt_id: int, seconds: float) -> None:  # type: ignore[no-untyped-def]
    with app.app_context(), write_transaction():
        attempt = db.session.get(Attempt, attempt_id)
        attempt.deadline_at = now() + timedelta(seconds=seconds)
        for section in db.session.scalars(
            select(AttemptSection).where(AttemptSection.attempt_id == attempt_id)
        ):
            if section.started_at is not None and section.closed_at is None:
                section.deadline_at = attempt.deadline_at


def _state(app, attempt_id: int) -> str:  # type: ignore[no-untyped-def]
    with app.app_context():
        return db.session.get(Attempt, attempt_id).state


def test_saves_refused_after_the_deadline_become_late_answers(live_server, browser):  # type: ignore[no-untyped-def]
    app = live_server.app()
    lab = seed_session(app, participants=1)
    context = browser.new_context(viewport=VIEWPORT, service_workers="block", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    attempt_id = start_attempt(page, live_server.url, lab)
    answers = Answers(app, attempt_id)

    answers.choose(page, 0, 0)
    wait_saved(page)
    _move_deadline(app, attempt_id, DEADLINE_IN)
    answers.choose(page, 1, 0)
    wait_saved(page)
    before = responses(app, attempt_id)

    context.set_offline(True)
    answers.choose(page, 2, 1)
    answers.choose(page, 1, 1)
    assert queue_length(page) == 2
    queued = stored(page, "queue", attempt_id)
    expect(page.get_by_test_id("status-text")).to_contain_text(
        "server belum dapat dihubungi", timeout=(DEADLINE_IN + 10) * 1000
    )
    waited = time.monotonic() + 30
    while _state(app, attempt_id) != "expired":  # the server's sweeper closes it
        assert time.monotonic() < waited, "the attempt was not closed"
        time.sleep(0.5)
    assert queue_length(page) == 2  # nothing thrown away while waiting

    context.set_offline(False)
    expect(page.get_by_test_id("finish")).to_be_visible(timeout=30_000)
    notice = page.get_by_test_id("finish-late")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("2 jawaban tidak sampai ke server sebelum waktunya habis")
    expect(notice).to_contain_text("jawaban terlambat untuk diputuskan oleh asesor")
    assert stored(page, "queue", attempt_id) == []

    rows = late_answers(app, attempt_id)
    if rows or page.evaluate("() => document.body.dataset.lateLength") == "0":
        # The server has the endpoint: both are stored apart, with their age.
        expect(page.get_by_test_id("finish-late-status")).to_contain_text("sudah diterima server")
        rows = late_answers(app, attempt_id)
        assert sorted((r.position, r.client_seq) for r in rows) == sorted(
            (q["position"], q["seq"]) for q in queued
        )
        assert all(r.source == "page" and (r.age_ms or 0) >= 0 for r in rows)
        assert stored(page, "late", attempt_id) == []
    else:
        # No such endpoint yet: the answers stay on the PC, and the rescue file holds them.
        assert [(s["position"], s["seq"]) for s in stored(page, "late", attempt_id)] == [
            (q["position"], q["seq"]) for q in queued
        ]
        expect(page.get_by_test_id("rescue")).to_be_visible(timeout=TIMEOUT)
        with page.expect_download() as download_info:
            page.get_by_test_id("btn-rescue").click()
        rescue = json.loads(Path(download_info.value.path()).read_text(encoding="utf-8"))
        assert [(s["position"], s["answer"], s["seq"]) for s in rescue["saves"]] == [
            (q["position"], q["answer"], q["seq"]) for q in queued
        ]
    context.close()

    # Never graded as answers: what the server stored before the deadline is unchanged.
    after = responses(app, attempt_id)
    assert {p: after[p][:3] for p in (0, 1, 2)} == {p: before[p][:3] for p in (0, 1, 2)}
