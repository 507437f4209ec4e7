"""A lab run from the browser alone (issue 11): an admin makes a proctor and an assessor, limits the
assessor to one unit, plans a session with the proctor on it, loads its roster and prints the exam
cards; the proctor (after changing the one-time password) runs it, two participants take it, the
assessor downloads the score sheet holding only the unit's participant; then the admin switches
the assessor off and the assessor is refused. Nothing is typed into a terminal.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from cbt_server.accounts.service import create_user
from cbt_server.db import write_transaction
from tests.e2e.exam_pages import login, past_instructions
from tests.e2e.staff_pages import choose_password, deactivate_and_check_locked_out, make_staff

LAB_ZONE = ZoneInfo("Asia/Jakarta")  # the server's default CBT_TIMEZONE (WIB)
ADMIN = ("kepala-lab", "Sandi-Kepala-Lab-1")
NIP_UNIT = "198703152010012001"  # works in "Unit Uji", which the assessor is limited to
NIP_OTHER = "199001202015031002"  # works in "Unit Lain"
ROSTER = (
    "NIP;Nama;Jabatan;Unit Kerja;Kursi\n"
    f"{NIP_UNIT};Siti Aminah;JF-UJ;Unit Uji;PC-01\n"
    f"{NIP_OTHER};Budi Hartono;JF-UJ;Unit Lain;PC-02\n"
)


def _first_login(page: Page, base: str, username: str, one_time: str, chosen: str) -> None:
    login(page, base, username, one_time)
    expect(page).to_have_url(re.compile(r"/account/password$"))
    choose_password(page, one_time, chosen)


def _take_and_submit(page: Page, base: str, login_name: str, password: str, token: str) -> None:
    login(page, base, login_name, password)
    page.fill("#token", token)
    page.get_by_role("button", name="Lanjut").click()
    page.get_by_test_id("btn-start").click()
    past_instructions(page)
    page.get_by_test_id("option-0").click()
    expect(page.locator("body")).to_have_attribute("data-queue-length", "0", timeout=20_000)
    # Through the remaining sections (each closes for good), then hand the test in.
    while page.get_by_test_id("btn-finish-section").is_visible():
        page.get_by_test_id("btn-finish-section").click()
        page.get_by_test_id("btn-confirm-finish-section").click()
        page.get_by_test_id("btn-start-section").click()
        expect(page.get_by_test_id("item-stem")).to_be_visible()
    page.get_by_test_id("btn-review").click()
    page.get_by_test_id("btn-submit").click()
    page.get_by_test_id("btn-confirm-submit").click()
    expect(page).to_have_url(re.compile(r"/exam/finish"), timeout=20_000)


def test_a_lab_runs_from_the_browser_with_staff_the_admin_made(live_server, open_page) -> None:  # type: ignore[no-untyped-def]
    base = live_server.url
    with live_server.app().app_context(), write_transaction():
        create_user(*ADMIN, "admin", "Kepala Lab")

    # The admin makes the proctor and the assessor, and limits the assessor to "Unit Uji".
    admin = open_page()
    login(admin, base, *ADMIN)
    proctor_once = make_staff(admin, base, "dewi.pengawas", "Dewi Lestari", "proctor")
    assessor_once = make_staff(admin, base, "budi.asesor", "Budi Asesor", "assessor")
    admin.goto(f"{base}/admin/staff/")
    admin.get_by_role("link", name="budi.asesor").click()
    admin.fill("#units", "Unit Uji")
    admin.get_by_role("button", name="Simpan batas").click()
    expect(admin.get_by_test_id("scope-form").locator("#units")).to_have_value("Unit Uji")

    # The admin plans a session open now with the proctor on it, loads the roster, prints cards.
    now = datetime.now(LAB_ZONE)
    start, end = now - timedelta(minutes=5), now + timedelta(hours=2)
    admin.goto(f"{base}/proctor/sessions/new")
    admin.fill("#code", "LAB-A")
    admin.fill("#name", "Uji Kompetensi Teknis")
    value = admin.locator("#battery option", has_text="(BAT-UJI v").first.get_attribute("value")
    admin.select_option("#battery", value=value)
    admin.fill("#room", "Lab 1")
    admin.fill("#day", start.date().isoformat())
    admin.fill("#starts", f"{start:%H:%M}")
    admin.fill("#ends", f"{end:%H:%M}")
    admin.select_option("#proctors", label=["Dewi Lestari"])
    admin.fill("#rotate", "0")
    admin.get_by_role("button", name="Simpan sesi").click()
    expect(admin).to_have_url(re.compile(r"/proctor/sessions/\d+$"))
    session_id = int(admin.url.rsplit("/", 1)[1])
    admin.set_input_files(
        "#roster-file",
        files=[{"name": "peserta.csv", "mimeType": "text/csv", "buffer": ROSTER.encode()}],
    )
    admin.get_by_role("button", name="Impor daftar peserta").click()
    expect(admin.get_by_role("alert").first).to_contain_text("2")
    with admin.context.expect_page() as opened:
        admin.get_by_test_id("print-cards").click()
    cards = opened.value
    expect(cards.get_by_test_id("exam-card")).to_have_count(2)
    logins = [c.inner_text().strip() for c in cards.get_by_test_id("card-login").all()]
    passwords = [c.inner_text().strip() for c in cards.get_by_test_id("card-password").all()]

    # The proctor changes the one-time password, finds the session and reads its token.
    proctor = open_page()
    _first_login(proctor, base, "dewi.pengawas", proctor_once, "Dewi-Pengawas-2026")
    proctor.get_by_test_id("go-proctor").click()
    proctor.locator("tr", has_text="LAB-A").get_by_role("link", name="Buka").click()
    proctor.get_by_test_id("open-monitor").click()
    token = proctor.get_by_test_id("session-token").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{4,12}", token), token

    # Both participants take the test with their cards; the monitor shows them done.
    for login_name, password in zip(logins, passwords, strict=True):
        _take_and_submit(open_page(), base, login_name, password, token)
    expect(proctor.locator('[data-status="submitted"]')).to_have_count(2, timeout=30_000)

    # The assessor (limited to "Unit Uji") sees and downloads only that unit's participant.
    assessor = open_page()
    _first_login(assessor, base, "budi.asesor", assessor_once, "Budi-Asesor-2026")
    assessor.goto(f"{base}/assessor/sessions/{session_id}/scores")
    expect(assessor.locator("body")).to_contain_text(NIP_UNIT)
    expect(assessor.locator("body")).not_to_contain_text(NIP_OTHER)
    sheet = assessor.request.get(f"{base}/assessor/sessions/{session_id}/scores.csv")
    assert sheet.status == 200
    assert NIP_UNIT in sheet.text() and NIP_OTHER not in sheet.text()
    assert assessor.request.get(f"{base}/assessor/audit-log").status == 403

    # The admin switches the assessor off: the next page is the login page, and so is a new login.
    deactivate_and_check_locked_out(admin, assessor, base, "budi.asesor", "Budi-Asesor-2026")
