"""Sessions over days in a real browser (issue 11): the admin creates a night session on the form
(20:00–06:00, the form says it ends the next day), edits its room, copies it to the next day, and
both sessions appear on the console of the admin and of their proctor.

The server runs on the system clock, so the night session is planned for tomorrow (lab time):
it has not started while the test edits it, whatever the hour the test runs.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from cbt_server.accounts.service import create_user
from cbt_server.db import write_transaction
from cbt_server.models import ExamSession, db
from tests.e2e.exam_pages import login

LAB_ZONE = ZoneInfo("Asia/Jakarta")  # the server's default CBT_TIMEZONE (WIB)
PASSWORD = "sandi-staf-lab"


def _seed(live_server) -> None:  # type: ignore[no-untyped-def]
    app = live_server.app()
    with app.app_context(), write_transaction():
        create_user("admin-lab", PASSWORD, "admin", "Admin Lab")
        create_user("pengawas-malam", PASSWORD, "proctor", "Pengawas Malam")


def _console_rows(page: Page) -> dict[str, str]:
    """{session code: its row's text} on the console."""
    rows = page.locator("table.grid tbody tr")
    return {
        rows.nth(i).locator("td").first.inner_text(): rows.nth(i).inner_text()
        for i in range(rows.count())
    }


def test_a_night_session_is_created_edited_and_copied_in_the_browser(live_server, open_page):  # type: ignore[no-untyped-def]
    _seed(live_server)
    base = live_server.url
    tomorrow = datetime.now(LAB_ZONE).date() + timedelta(days=1)
    after = tomorrow + timedelta(days=1)
    then = after + timedelta(days=1)
    page = open_page()
    login(page, base, "admin-lab", PASSWORD)
    expect(page).not_to_have_url(re.compile(r"/login"))

    page.goto(f"{base}/proctor/sessions/new")
    page.fill("#code", "MLM-01")
    page.fill("#name", "Uji Kompetensi Malam")
    value = page.locator("#battery option", has_text="(BAT-UJI v").first.get_attribute("value")
    page.select_option("#battery", value=value)
    page.fill("#room", "Lab Malam")
    page.fill("#day", tomorrow.isoformat())
    page.fill("#starts", "20:00")
    page.fill("#ends", "22:00")
    expect(page.get_by_test_id("next-day")).to_be_hidden()
    page.fill("#ends", "06:00")
    # The form says that the end is on the next day before anything is sent.
    expect(page.get_by_test_id("next-day")).to_be_visible()
    expect(page.get_by_test_id("next-day")).to_have_text("Selesai besok.")
    page.select_option("#proctors", label=["Pengawas Malam"])
    page.fill("#rotate", "0")
    page.get_by_role("button", name="Simpan sesi").click()
    expect(page).to_have_url(re.compile(r"/proctor/sessions/\d+$"))
    first_id = int(page.url.rsplit("/", 1)[1])
    night = f"{tomorrow:%d-%m-%Y} 20:00–{after:%d-%m-%Y} 06:00 WIB"
    expect(page.get_by_test_id("session-window")).to_have_text(night)

    # Edit its room.
    page.get_by_test_id("edit-session").click()
    expect(page.get_by_test_id("next-day")).to_be_visible()  # the stored window, read back
    page.fill("#room", "Lab Malam 2")
    page.get_by_test_id("save-session").click()
    expect(page.locator(".flash-ok")).to_have_text("Sesi disimpan.")
    expect(page.locator("dl.facts").first).to_contain_text("Lab Malam 2")
    expect(page.get_by_test_id("session-window")).to_have_text(night)

    # Copy it to the next day: the code and the day are suggested, the times kept.
    page.get_by_test_id("copy-session").click()
    expect(page.locator("#code")).to_have_value("MLM-02")
    expect(page.locator("#day")).to_have_value(after.isoformat())
    expect(page.locator("#starts")).to_have_value("20:00")
    expect(page.locator("#ends")).to_have_value("06:00")
    expect(page.get_by_test_id("next-day")).to_be_visible()
    page.get_by_test_id("copy-session").click()
    expect(page.locator(".flash-ok")).to_contain_text("disalin menjadi MLM-02")
    copy_window = f"{after:%d-%m-%Y} 20:00–{then:%d-%m-%Y} 06:00 WIB"
    expect(page.get_by_test_id("session-window")).to_have_text(copy_window)

    # Both are on the console: the admin's, and the proctor's they were given to.
    for who in ("admin-lab", "pengawas-malam"):
        console = page if who == "admin-lab" else open_page()
        if who != "admin-lab":
            login(console, base, who, PASSWORD)
            expect(console).not_to_have_url(re.compile(r"/login"))
        console.goto(f"{base}/proctor/")
        rows = _console_rows(console)
        assert set(rows) >= {"MLM-01", "MLM-02"}, (who, rows)
        assert "Lab Malam 2" in rows["MLM-01"] and night.removesuffix(" WIB") in rows["MLM-01"]
        assert (
            "Lab Malam 2" in rows["MLM-02"] and copy_window.removesuffix(" WIB") in rows["MLM-02"]
        )

    app = live_server.app()
    with app.app_context():
        stored = db.session.get(ExamSession, first_id)
        assert stored.ends_at - stored.starts_at == timedelta(hours=10)
