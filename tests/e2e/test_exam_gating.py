"""The exam page with items sent only for open sections and none while paused (docs/delivery.md,
"What the page is sent when"): the navigator and the review still cover every section, the next
section's items arrive when it opens, a pause keeps what the page holds, and a reload during a
pause waits for the resume."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from cbt_server.models import AttemptItem, Item, db
from tests.e2e.exam_pages import (
    ask_server_now,
    proctor_act,
    seed_session,
    start_attempt,
    wait_saved,
)

#: the exam page asks the server every 15 s; an "online" event makes it ask at once
HEARTBEAT_TIMEOUT = 20_000


def _stems(app: Flask, attempt_id: int) -> dict[int, str]:
    with app.app_context():
        return dict(
            db.session.execute(
                select(AttemptItem.position, Item.stem_html)
                .join(Item, Item.id == AttemptItem.item_id)
                .where(AttemptItem.attempt_id == attempt_id)
            ).all()
        )


def _api_items(page: Page) -> list[dict[str, Any]]:
    return page.evaluate(
        "fetch('/api/v1/attempt', {cache: 'no-store'}).then(r => r.json())"
        ".then(d => d.attempt.items)"
    )


def test_the_next_section_arrives_when_it_opens(live_server, open_page):  # type: ignore[no-untyped-def]
    app = live_server.app()
    lab = seed_session(app, participants=1)
    page = open_page()
    attempt_id = start_attempt(page, live_server.url, lab)
    # Every position is in the navigator; the locked section's cannot be opened.
    for position in range(8):
        expect(page.get_by_test_id(f"nav-{position}")).to_be_attached()
    for position in range(3, 8):
        expect(page.get_by_test_id(f"nav-{position}")).to_be_disabled()
    assert sorted(i["position"] for i in _api_items(page)) == [0, 1, 2]
    # The review counts the locked section all the same.
    page.get_by_test_id("btn-review").click()
    expect(page.get_by_test_id("review-section-1-unanswered")).to_have_text("5")
    expect(page.get_by_test_id("review-total-unanswered")).to_have_text("8")
    page.locator("#btn-review-back").click()
    # Finishing the section brings the next one's items: its instructions, then its first item.
    page.get_by_test_id("btn-finish-section").click()
    page.get_by_test_id("btn-confirm-finish-section").click()
    page.get_by_test_id("btn-start-section").click()
    expect(page.get_by_test_id("nav-3")).to_have_class(re.compile(r"\bcurrent\b"))
    stems = _stems(app, attempt_id)
    expect(page.get_by_test_id("item-stem")).to_contain_text(_text(stems[3]))
    for position in range(4, 8):
        expect(page.get_by_test_id(f"nav-{position}")).to_be_enabled()
    page.get_by_test_id("nav-4").click()
    expect(page.get_by_test_id("item-stem")).to_contain_text(_text(stems[4]))
    page.get_by_test_id("option-0").click()
    wait_saved(page)
    for position in range(3):
        expect(page.get_by_test_id(f"nav-{position}")).to_be_disabled()  # closed: read-only


def test_a_pause_keeps_the_page_and_a_reload_waits_for_the_resume(live_server, open_page):  # type: ignore[no-untyped-def]
    app = live_server.app()
    lab = seed_session(app, participants=1)
    username = lab.participants[0][0]
    page = open_page()
    attempt_id = start_attempt(page, live_server.url, lab)
    stems = _stems(app, attempt_id)
    page.get_by_test_id("nav-1").click()
    page.get_by_test_id("option-0").click()
    wait_saved(page)
    page.wait_for_timeout(3500)  # the position report goes out 3 s after the move

    proctor_act(app, lab, "pause", username)
    ask_server_now(page)
    expect(page.get_by_test_id("paused-overlay")).to_be_visible(timeout=HEARTBEAT_TIMEOUT)
    assert _api_items(page) == []  # nothing more leaves the server while paused
    expect(page.get_by_test_id("item-stem")).to_contain_text(_text(stems[1]))  # kept

    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    expect(page.get_by_test_id("paused-overlay")).to_be_visible()
    expect(page.get_by_test_id("item-stem")).to_be_hidden()

    proctor_act(app, lab, "resume", username)
    ask_server_now(page)
    expect(page.get_by_test_id("paused-overlay")).to_be_hidden(timeout=HEARTBEAT_TIMEOUT)
    expect(page.get_by_test_id("nav-1")).to_have_class(re.compile(r"\bcurrent\b"))
    expect(page.get_by_test_id("item-stem")).to_contain_text(_text(stems[1]))
    expect(page.get_by_test_id("option-0")).to_have_attribute("aria-checked", "true")


def _text(stem_html: str) -> str:
    """The stem's first words as shown (tags dropped)."""
    return re.sub(r"<[^>]+>", "", stem_html).split("\n")[0].strip()[:30]
