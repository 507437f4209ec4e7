"""One exam tab per attempt: the newest takes over, the older stops and hands over its queue.

Tab 1 answers (stored), then cannot reach the server for two more answers (its save requests are
aborted: they stay in its queue). Tab 2 opens the test in the same browser: tab 1 says the test
is open elsewhere and stops - no way to answer there any more - and tab 2 sends what tab 1 had
queued and goes on. Every answer reaches the server with an increasing seq, none is overwritten,
and no seq is used twice.
"""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.exam_pages import (
    TIMEOUT,
    VIEWPORT,
    Answers,
    past_instructions,
    queue_length,
    responses,
    seed_session,
    start_attempt,
    stored,
    wait_saved,
)

TAKEN_OVER = "Ujian ini dibuka di tab atau jendela lain. Tab ini dihentikan."


def test_newest_tab_takes_over_with_the_queue(live_server, browser):  # type: ignore[no-untyped-def]
    app = live_server.app()
    lab = seed_session(app, participants=1)
    context = browser.new_context(viewport=VIEWPORT, service_workers="block")
    first = context.new_page()
    first.set_default_timeout(TIMEOUT)
    attempt_id = start_attempt(first, live_server.url, lab)
    answers = Answers(app, attempt_id)

    answers.choose(first, 0, 0)
    wait_saved(first)
    first.route("**/api/v1/attempt/answers", lambda route: route.abort())
    answers.choose(first, 1, 1)
    answers.choose(first, 2, 0)
    assert queue_length(first) == 2
    handed = stored(first, "queue", attempt_id)
    assert [s["seq"] for s in handed] == [2, 3]

    second = context.new_page()
    second.set_default_timeout(TIMEOUT)
    second.goto(f"{live_server.url}/exam/take")
    past_instructions(second)

    # The old tab stopped for good: a message, no way to answer, nothing sent or written.
    expect(first.get_by_test_id("status-text")).to_have_text(TAKEN_OVER)
    expect(first.locator("body")).to_have_attribute("data-tab", "stopped")
    first.unroute("**/api/v1/attempt/answers")
    first.keyboard.press("2")  # would choose option 2 of the item on screen
    assert queue_length(first) == 2

    # The new tab delivered the handed-over queue, then answers with the next seq.
    wait_saved(second)
    answers.choose(second, 0, 1)
    wait_saved(second)
    answers.choose(second, 1, 0)
    wait_saved(second)
    assert stored(second, "seq", attempt_id) == 5
    assert stored(second, "queue", attempt_id) == []
    first.wait_for_timeout(1000)  # the stopped tab writes nothing more
    assert stored(second, "queue", attempt_id) == []
    assert stored(second, "seq", attempt_id) == 5
    context.close()

    stored_now = responses(app, attempt_id)
    for position, (answer, flagged) in answers.expected().items():
        assert stored_now[position][:2] == (answer, flagged), position
    # seq per item: position 2 from tab 1's queue (3), position 0 and 1 from tab 2 (4, 5).
    assert {p: stored_now[p][2] for p in (0, 1, 2)} == {0: 4, 1: 5, 2: 3}
