"""The rescue file: answers the page cannot deliver, downloaded for the proctor.

The PC loses the network after one acknowledged answer; three more changes (two answers and a
flag) stay queued. The rescue button appears only once the server has been unreachable for a
while (the page's clock is moved on with Playwright's clock), and downloads
``penyelamatan-<attempt>-<yyyymmdd-hhmmss>.json`` holding exactly the unsent saves - the
acknowledged one is not in it. Downloading changes nothing: when the network returns the queue
is delivered and the button goes away.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import expect

from tests.e2e.exam_pages import (
    TIMEOUT,
    VIEWPORT,
    Answers,
    queue_length,
    responses,
    seed_session,
    start_attempt,
    stored,
    wait_saved,
)


def test_rescue_file_holds_every_unsent_answer(live_server, browser):  # type: ignore[no-untyped-def]
    app = live_server.app()
    lab = seed_session(app, participants=1)
    context = browser.new_context(viewport=VIEWPORT, service_workers="block", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    page.clock.install()
    attempt_id = start_attempt(page, live_server.url, lab)
    answers = Answers(app, attempt_id)

    answers.choose(page, 0, 0)
    wait_saved(page)
    context.set_offline(True)
    answers.choose(page, 1, 1)
    answers.choose(page, 2, 0)
    answers.flag(page, 2)
    expect(page.get_by_test_id("offline-banner")).to_be_visible()
    assert queue_length(page) == 3
    expect(page.get_by_test_id("rescue")).to_be_hidden()  # a short cut is not "long"

    page.clock.fast_forward("01:05")
    expect(page.get_by_test_id("rescue")).to_be_visible()
    queued = stored(page, "queue", attempt_id)
    with page.expect_download() as download_info:
        page.get_by_test_id("btn-rescue").click()
    download = download_info.value
    name = download.suggested_filename
    assert re.fullmatch(rf"penyelamatan-{attempt_id}-\d{{8}}-\d{{6}}\.json", name), name
    rescue = json.loads(Path(download.path()).read_text(encoding="utf-8"))

    assert rescue["format"] == "cbt-rescue/1"
    assert rescue["attempt_id"] == attempt_id
    assert isinstance(rescue["created_ms"], int) and rescue["created_ms"] > 0
    saves = rescue["saves"]
    assert [(s["position"], s["answer"], s["flagged"], s["seq"]) for s in saves] == [
        (q["position"], q["answer"], q["flagged"], q["seq"]) for q in queued
    ]
    assert [s["position"] for s in saves] == [1, 2, 2]
    assert saves[0]["answer"] == answers.shown[1]
    assert saves[-1]["answer"] == answers.shown[2] and saves[-1]["flagged"] is True
    # Given before the clock was moved on by 65 s.
    assert all(isinstance(s["age_ms"], int) and s["age_ms"] >= 60_000 for s in saves)

    # Nothing was taken away: back online, the queue is delivered and the offer disappears.
    context.set_offline(False)
    wait_saved(page)
    expect(page.get_by_test_id("rescue")).to_be_hidden()
    context.close()
    stored_now = responses(app, attempt_id)
    for position, (answer, flagged) in answers.expected().items():
        assert stored_now[position][:2] == (answer, flagged), position
