"""Sections of every kind in the browser: every shipped battery taken to its last item with the
page's own buttons, a review and a submit dialog that count every section alike, and two
labelled clocks with a section that stays started across a reload (docs/delivery.md)."""

from __future__ import annotations

import re

import yaml
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from cbt_server.models import Attempt, AttemptItem, AttemptScore, Response, db
from tests.e2e.conftest import E2E_SECRET
from tests.e2e.exam_pages import TIMEOUT, VIEWPORT, login, seed_session, start_attempt, wait_saved
from tests.live import REPO_ROOT, flask_command, server_env

#: Every battery shipped in question_banks/batteries/ (a new one is walked too).
SHIPPED_BATTERIES = tuple(
    sorted(
        yaml.safe_load(path.read_text(encoding="utf-8"))["code"]
        for path in (REPO_ROOT / "question_banks" / "batteries").glob("*.yaml")
    )
)


def _sections(app: Flask, attempt_id: int) -> list[list[int]]:
    """The attempt's positions, per section in order."""
    with app.app_context():
        rows = db.session.execute(
            select(AttemptItem.position, AttemptItem.section_index, AttemptItem.attempt_id)
            .where(AttemptItem.attempt_id == attempt_id)
            .order_by(AttemptItem.position)
        ).all()
    sections: dict[int, list[int]] = {}
    for position, index, _ in rows:
        sections.setdefault(index, []).append(position)
    return [sections[i] for i in sorted(sections)]


def _current(page: Page, position: int) -> None:
    expect(page.get_by_test_id(f"nav-{position}")).to_have_class(re.compile(r"\bcurrent\b"))


def _answer_shown_item(page: Page) -> None:
    """Answer the item on screen: a short answer, or its first option."""
    if page.get_by_test_id("short-answer").count():
        page.get_by_test_id("short-answer").fill("jawaban")
        page.get_by_test_id("short-answer").press("Tab")
    else:
        page.get_by_test_id("option-0").click()
        expect(page.get_by_test_id("option-0")).to_have_attribute("aria-checked", "true")


def _take_to_the_end(page: Page, app: Flask, attempt_id: int, battery: str) -> None:
    """Walk every section with "Berikutnya" to its last item, answer it, and go on with
    "Selesaikan bagian ini" until the last item of the last section."""
    sections = _sections(app, attempt_id)
    assert len(sections) >= 2, battery
    for n, positions in enumerate(sections):
        last_section = n + 1 == len(sections)
        start = page.get_by_test_id("btn-start-section")
        expect(start).to_be_visible()  # each section's instructions, once
        start.click()
        _current(page, positions[0])
        for position in positions[1:]:
            page.get_by_test_id("btn-next").click()
            _current(page, position)
        _answer_shown_item(page)
        if last_section:
            expect(page.get_by_test_id("btn-next-section")).to_be_hidden()
            expect(page.get_by_test_id("btn-next")).to_be_disabled()
        else:
            expect(page.get_by_test_id("btn-next")).to_be_hidden()
            page.get_by_test_id("btn-next-section").click()
            page.get_by_test_id("btn-confirm-finish-section").click()
    wait_saved(page)


def test_every_shipped_battery_is_taken_to_its_last_item(live_server, browser):  # type: ignore[no-untyped-def]
    """Issue 9 (1): an untimed first section (BAT-MANAJERIAL) stranded everyone before SK.01."""
    env = server_env(live_server.instance, live_server.database_url, E2E_SECRET)
    flask_command(env, "banks", "import", str(REPO_ROOT / "question_banks"))
    app = live_server.app()
    assert {"BAT-INTEGRITAS", "BAT-MANAJERIAL", "BAT-TEK-WP"} <= set(SHIPPED_BATTERIES)
    for n, battery in enumerate(SHIPPED_BATTERIES):
        lab = seed_session(app, battery_code=battery, participants=1, code=f"S-W{n}")
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT)
        username, password = lab.participants[0]
        login(page, live_server.url, username, password)
        page.fill("#token", lab.token)
        page.get_by_role("button", name="Lanjut").click()
        page.get_by_test_id("btn-start").click()
        expect(page.locator("body")).to_have_attribute("data-ready", "1")
        attempt_id = int(page.locator("#exam").get_attribute("data-attempt-id") or 0)
        _take_to_the_end(page, app, attempt_id, battery)
        page.get_by_test_id("btn-review").click()
        page.get_by_test_id("btn-submit").click()
        page.get_by_test_id("btn-confirm-submit").click()
        expect(page).to_have_url(re.compile(r"/exam/finish$"))
        context.close()
        sections = _sections(app, attempt_id)
        with app.app_context():
            assert db.session.get(Attempt, attempt_id).state == "submitted", battery
            answered = {
                r.position
                for r in db.session.scalars(
                    select(Response).where(
                        Response.attempt_id == attempt_id, Response.answer.is_not(None)
                    )
                )
            }
            scored = db.session.scalars(
                select(AttemptScore.code).where(
                    AttemptScore.attempt_id == attempt_id, AttemptScore.scope == "section"
                )
            ).all()
        assert answered == {positions[-1] for positions in sections}, battery
        assert len(scored) == len(sections), battery


#: "Belum dijawab: 7 soal. <flagged>: 2 soal." (the flag's name may change; the numbers not)
COUNTS_7_2 = re.compile(r"^Belum dijawab: 7 soal\. [^:]+: 2 soal\.$")


def _cells(page: Page, row: str) -> dict[str, str]:
    return {
        kind: page.get_by_test_id(f"{row}-{kind}").inner_text()
        for kind in ("answered", "unanswered", "flagged", "unseen")
    }


def test_review_and_submit_dialog_count_every_section(live_server, browser):  # type: ignore[no-untyped-def]
    """Issue 9 (4): from section 1 the review hid section 2, and its counts differed from the
    dialog's."""
    app = live_server.app()
    lab = seed_session(app, participants=1)  # BAT-UJI: 3 items (timed), then 5 (untimed)
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    start_attempt(page, live_server.url, lab)
    for position in (0, 1):
        page.get_by_test_id(f"nav-{position}").click()
        _current(page, position)
        page.get_by_test_id("btn-flag").click()
    page.get_by_test_id("nav-2").click()
    _answer_shown_item(page)
    wait_saved(page)

    page.get_by_test_id("btn-review").click()
    expect(page.get_by_test_id("review-unanswered-7")).to_be_disabled()  # listed, not opened yet
    expect(page.get_by_test_id("review-section-0")).to_contain_text("Sedang dikerjakan")
    expect(page.get_by_test_id("review-section-1")).to_contain_text("Belum dibuka")
    assert _cells(page, "review-section-0") == {
        "answered": "1",
        "unanswered": "2",
        "flagged": "2",
        "unseen": "0",
    }
    assert _cells(page, "review-section-1") == {
        "answered": "0",
        "unanswered": "5",
        "flagged": "0",
        "unseen": "5",
    }
    assert _cells(page, "review-total") == {
        "answered": "1",
        "unanswered": "7",
        "flagged": "2",
        "unseen": "5",
    }
    expect(page.get_by_test_id("review-warnings")).to_contain_text("Bagian Dua")
    expect(page.get_by_test_id("review-flagged-1")).to_be_enabled()

    page.get_by_test_id("btn-submit").click()
    dialog = page.get_by_test_id("confirm-submit-text")
    expect(dialog).to_have_text(COUNTS_7_2)
    warnings = page.get_by_test_id("confirm-submit-warnings")
    expect(warnings).to_contain_text("Belum pernah Anda lihat: 5 soal.")
    expect(warnings).to_contain_text("Bagian “Bagian Dua” belum Anda buka: 5 soal")
    page.locator("#confirm-submit [data-close-dialog]").click()

    # Section 1 closed: its flags still count, in the review and in the dialog alike.
    page.get_by_test_id("btn-finish-section").click()
    expect(page.get_by_test_id("confirm-finish-section-text")).to_have_text(
        re.compile(r"belum dijawab 2 soal, \w+ 2 soal, belum pernah dilihat 0 soal")
    )
    page.get_by_test_id("btn-confirm-finish-section").click()
    page.get_by_test_id("btn-start-section").click()
    _current(page, 3)
    page.get_by_test_id("btn-review").click()
    expect(page.get_by_test_id("review-section-0")).to_contain_text("Sudah ditutup")
    expect(page.get_by_test_id("review-flagged-0")).to_be_disabled()
    assert _cells(page, "review-total") == {
        "answered": "1",
        "unanswered": "7",
        "flagged": "2",
        "unseen": "4",
    }
    expect(page.get_by_test_id("review-warnings")).to_be_hidden()
    page.get_by_test_id("btn-submit").click()
    expect(dialog).to_have_text(COUNTS_7_2)
    expect(warnings).to_have_text("Belum pernah Anda lihat: 4 soal.")
    context.close()


def _seconds(text: str) -> int:
    h, m, s = (int(part) for part in text.split(":"))
    return h * 3600 + m * 60 + s


def _font_px(page: Page, test_id: str) -> float:
    return float(
        page.get_by_test_id(test_id).evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    )


def _open_test(live_server, browser):  # type: ignore[no-untyped-def]
    lab = seed_session(live_server.app(), participants=1)  # BAT-UJI: 30 min; section 1: 10
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    username, password = lab.participants[0]
    login(page, live_server.url, username, password)
    page.fill("#token", lab.token)
    page.get_by_role("button", name="Lanjut").click()
    page.get_by_test_id("btn-start").click()
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    return context, page


def test_section_time_and_total_time_are_two_labelled_clocks(live_server, browser):  # type: ignore[no-untyped-def]
    """Issue 9 (5): the big clock showed the battery's time (51:55) while the open section had
    29:57 left."""
    context, page = _open_test(live_server, browser)
    section_clock = page.locator("#section-clock")
    expect(section_clock).to_be_visible()
    expect(section_clock).to_contain_text("Sisa waktu bagian ini")
    expect(page.locator("#attempt-clock")).to_contain_text("Sisa waktu seluruh tes")
    expect(page.get_by_test_id("section-countdown")).to_have_text(
        re.compile(r"^00:(09:[0-5]\d|10:00)$")
    )
    expect(page.get_by_test_id("countdown")).to_have_text(re.compile(r"^00:(29:[0-5]\d|30:00)$"))
    # The section's clock, which ends first, is the big one.
    assert _font_px(page, "section-countdown") > _font_px(page, "countdown")
    # The instructions say that the section's time is running.
    expect(page.get_by_test_id("instructions-time")).to_contain_text("10 menit")

    # Into the untimed section: one clock, the whole test's, which is its time.
    page.get_by_test_id("btn-start-section").click()
    page.get_by_test_id("btn-finish-section").click()
    page.get_by_test_id("btn-confirm-finish-section").click()
    expect(page.get_by_test_id("instructions-time")).to_contain_text(
        "tidak memiliki batas waktu sendiri"
    )
    expect(section_clock).to_be_hidden()
    expect(page.locator("#attempt-clock")).to_be_visible()
    context.close()


def test_a_reload_keeps_a_started_section_started(live_server, browser):  # type: ignore[no-untyped-def]
    """Issue 9 (5): a reload showed the section's instructions again as if it had not started."""
    context, page = _open_test(live_server, browser)
    page.get_by_test_id("btn-start-section").click()
    expect(page.get_by_test_id("item-stem")).to_be_visible()
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    expect(page.get_by_test_id("item-stem")).to_be_visible()
    expect(page.get_by_test_id("btn-start-section")).to_be_hidden()
    seconds = _seconds(page.get_by_test_id("section-countdown").inner_text())
    assert 9 * 60 <= seconds <= 10 * 60  # the same running time, not a fresh start
    # The instructions can still be read, and say the time runs.
    page.get_by_test_id("btn-show-instructions").click()
    expect(page.get_by_test_id("instructions-time")).to_contain_text("berjalan")
    page.get_by_test_id("btn-start-section").click()

    # The next section too, once started.
    page.get_by_test_id("btn-finish-section").click()
    page.get_by_test_id("btn-confirm-finish-section").click()
    page.get_by_test_id("btn-start-section").click()
    _current(page, 3)
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    expect(page.get_by_test_id("item-stem")).to_be_visible()
    expect(page.get_by_test_id("btn-start-section")).to_be_hidden()
    context.close()
