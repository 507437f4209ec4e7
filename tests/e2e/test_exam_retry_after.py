"""A save answered 503 with ``Retry-After: 2`` is kept and sent again no sooner than 2 s later.

Playwright intercepts the save requests: the first is answered 503 (what the server says when
its database cannot be written for a moment, or a 429 when a budget is spent) with Retry-After;
the later ones go to the real server. The page must keep the answer, say that the server is busy
(not that the network is down: the server answered), wait max(Retry-After, its backoff) - the
old page retried after its 1 s backoff - and then store it. Every save request carries the
page's position.
"""

from __future__ import annotations

import json
import threading
import time

from playwright.sync_api import Route, expect

from tests.e2e.exam_pages import (
    TIMEOUT,
    VIEWPORT,
    Answers,
    queue_length,
    responses,
    seed_session,
    start_attempt,
    wait_saved,
)

RETRY_AFTER = 2


def test_save_waits_for_retry_after_and_is_stored(live_server, browser):  # type: ignore[no-untyped-def]
    app = live_server.app()
    lab = seed_session(app, participants=1)
    # Without the service worker: Playwright's routing sees requests the page itself makes.
    context = browser.new_context(viewport=VIEWPORT, service_workers="block")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    attempt_id = start_attempt(page, live_server.url, lab)
    answers = Answers(app, attempt_id)

    seen: list[tuple[float, dict]] = []
    refuse = {"next": True}
    lock = threading.Lock()

    def answer_route(route: Route) -> None:
        with lock:
            seen.append((time.monotonic(), json.loads(route.request.post_data or "{}")))
            busy, refuse["next"] = refuse["next"], False
        if busy:
            route.fulfill(
                status=503,
                headers={"Retry-After": str(RETRY_AFTER)},
                content_type="application/json",
                body=json.dumps({"error": "unavailable", "message": "Server sedang sibuk."}),
            )
        else:
            route.continue_()

    page.route("**/api/v1/attempt/answers", answer_route)
    answers.choose(page, 0, 0)
    wait_saved(page)
    assert len(seen) == 2
    (first_at, first_body), (second_at, second_body) = seen
    assert second_at - first_at >= RETRY_AFTER, f"retried after {second_at - first_at:.2f} s"
    # The same save, sent again (same seq), with where the page is.
    assert first_body["saves"] == second_body["saves"]
    assert [s["position"] for s in first_body["saves"]] == [0]
    assert first_body.get("position") == 0 and second_body.get("position") == 0
    answer, _flagged, seq = responses(app, attempt_id)[0]
    assert answer == answers.canonical(0)
    assert seq == first_body["saves"][0]["seq"]

    # Meanwhile the page says the server is busy - never that the network is down: it answered.
    refuse["next"] = True
    answers.choose(page, 1, 1)
    expect(page.get_by_test_id("busy-banner")).to_be_visible()
    expect(page.get_by_test_id("offline-banner")).to_be_hidden()
    assert queue_length(page) == 1
    wait_saved(page)
    expect(page.get_by_test_id("busy-banner")).to_be_hidden()
    context.close()
    assert seen[3][0] - seen[2][0] >= RETRY_AFTER
    assert responses(app, attempt_id)[1][0] == answers.canonical(1)
