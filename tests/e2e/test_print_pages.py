"""The proctor's printouts checked as printed: Chromium prints them to A4 PDF, and lays them out
at the A4 printable width under print media to measure every column and signature.

A4 portrait with the pages' 15 mm margins leaves 180 mm (680 CSS px) by 267 mm. Set
``CBT_SCREENSHOT_DIR`` to keep the PDFs and print-media screenshots for a person to look at.
"""

from __future__ import annotations

import io
import math
import os
import re
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask
from playwright.sync_api import Page, expect
from pypdf import PdfReader
from sqlalchemy import select

from cbt_server.db import write_transaction
from cbt_server.models import Enrolment, ExamSession, User, db
from tests.builders import LabSession, Participant, make_session
from tests.e2e.conftest import LiveServer
from tests.helpers import csrf_token, login

TIMEOUT = 15_000
#: the printable width of A4 portrait with 15 mm margins, in CSS pixels (96 per inch)
PRINTABLE_WIDTH = 180 / 25.4 * 96
#: Tuesday 1 December 2026, 09:00 in the lab (WIB)
SESSION_START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
LONG_NAMES = [
    "Dr. Ir. Raden Roro Sekar Ayu Kusumawardhani Prameswari, S.Pd., M.Pd., M.Si.",
    "Muhammad Ikhsan Nurhidayatullah Syahputra Pangaribuan, S.Kom., M.T.",
]


def _pdf_texts(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def _keep(name: str, data: bytes | None = None, page: Page | None = None) -> None:
    keep = os.environ.get("CBT_SCREENSHOT_DIR")
    if not keep:
        return
    Path(keep).mkdir(parents=True, exist_ok=True)
    if data is not None:
        (Path(keep) / name).write_bytes(data)
    if page is not None:
        page.screenshot(path=str(Path(keep) / name), full_page=True)


def _proctor_page(browser, live_server: LiveServer, lab: LabSession):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="id-ID")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    page.goto(f"{live_server.url}/login")
    page.fill("#login", lab.proctors[0][0])
    page.fill("#password", lab.proctors[0][1])
    page.get_by_role("button", name="Masuk").click()
    expect(page).not_to_have_url(re.compile(r"/login"))
    return context, page


def _as_printed(page: Page) -> None:
    """Lay the page out as the printer does: print media, the printable width of A4."""
    page.set_viewport_size({"width": math.floor(PRINTABLE_WIDTH), "height": 1000})
    page.emulate_media(media="print")


def _outside(page: Page, selector: str) -> list[str]:
    """Elements matching ``selector`` that reach past the printable width (or start left of it)."""
    return page.eval_on_selector_all(
        selector,
        """(els, width) => els.filter(el => {
             const r = el.getBoundingClientRect();
             return r.left < -0.5 || r.right > width + 0.5;
           }).map(el => `${el.tagName} "${el.textContent.trim().slice(0, 30)}" ` +
                        `${Math.round(el.getBoundingClientRect().right)}px`)""",
        PRINTABLE_WIDTH,
    )


def _session_held(app: Flask, participants: int, proctors: int, more_notes: int = 0) -> LabSession:
    """A session that happened on Tuesday 1 December 2026: the last two never came, two notes
    (and ``more_notes``), long names and units, and the NIP of each proctor."""
    lab = make_session(app, participants=participants, proctors=proctors, code="S-CETAK")
    with app.app_context(), write_transaction():
        users = db.session.scalars(
            select(User).where(User.role == "participant").order_by(User.id)
        ).all()
        for user, name in zip(users, LONG_NAMES, strict=False):
            user.full_name = name
        for user in users:
            user.unit = "Bidang Penjaminan Mutu Pendidikan Dasar dan Menengah"
        staff = db.session.scalars(select(User).where(User.role == "proctor").order_by(User.id))
        for n, user in enumerate(staff, start=1):
            user.nip = f"19800101200501{n:04d}"
    people = [Participant(app, *credentials) for credentials in lab.participants]
    for person in people[:-2]:
        person.begin(lab.token)
    client = app.test_client()
    assert login(client, *lab.proctors[0]).status_code == 302
    base = f"/proctor/sessions/{lab.id}"
    notes = ["AC ruangan mati sekitar 10 menit", "Listrik padam 5 menit pukul 09.40"]
    notes += [
        f"Peserta di kursi PC-{n:02d} izin ke toilet, kembali 5 menit kemudian"
        for n in range(more_notes)
    ]
    for text in notes:
        token = csrf_token(client.get(f"{base}/monitor").get_data(as_text=True))
        response = client.post(f"{base}/notes", data={"csrf_token": token, "text": text})
        assert response.status_code in (200, 302)
    with app.app_context(), write_transaction():
        session = db.session.get(ExamSession, lab.id)
        length = session.ends_at - session.starts_at
        session.starts_at, session.ends_at = SESSION_START, SESSION_START + length
    return lab


def test_daftar_hadir_keeps_every_column_inside_a4_portrait(live_server: LiveServer, browser):  # type: ignore[no-untyped-def]
    app = live_server.app()
    lab = _session_held(app, participants=30, proctors=2)
    context, page = _proctor_page(browser, live_server, lab)
    page.goto(f"{live_server.url}/proctor/sessions/{lab.id}/attendance")
    pdf = page.pdf(format="A4", print_background=True)
    _keep("daftar-hadir.pdf", pdf)

    _as_printed(page)
    _keep("daftar-hadir-print.png", page=page)
    table = page.locator("table.grid").first
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    assert "Tanda tangan" in headers and "No" in headers
    assert not _outside(page, "table.grid th, table.grid td")
    assert page.locator("table.grid tbody tr").count() == 30
    # Room to sign: each row at least 8 mm high.
    heights = table.locator("tbody tr").evaluate_all(
        "rows => rows.map(r => r.getBoundingClientRect().height)"
    )
    assert min(heights) >= 8 / 25.4 * 96, min(heights)

    pages = _pdf_texts(pdf)
    assert 1 < len(pages) <= 3, len(pages)
    for text in pages:  # the header row again on every sheet
        assert "Tanda tangan" in text
    assert all(name.split(",")[0] in "".join(pages).replace("\n", " ") for name in LONG_NAMES)
    context.close()


def test_berita_acara_prints_on_one_page_with_day_absentees_notes_and_signatures(
    live_server: LiveServer, browser
):  # type: ignore[no-untyped-def]
    app = live_server.app()
    lab = _session_held(app, participants=8, proctors=3)
    with app.app_context():
        absent = db.session.scalars(
            select(User.full_name)
            .join(Enrolment, Enrolment.user_id == User.id)
            .where(Enrolment.session_id == lab.id)
            .order_by(User.id)
        ).all()[-2:]
    context, page = _proctor_page(browser, live_server, lab)
    page.goto(f"{live_server.url}/proctor/sessions/{lab.id}/report")
    pdf = page.pdf(format="A4", print_background=True)
    _keep("berita-acara.pdf", pdf)

    pages = _pdf_texts(pdf)
    assert len(pages) == 1, [len(t) for t in pages]  # no blank second sheet
    text = " ".join(pages[0].split())
    assert "Pada hari ini, Selasa, 1 Desember 2026," in text
    assert "Peserta yang tidak hadir" in text
    for name in absent:
        assert name in text, name
    assert "AC ruangan mati sekitar 10 menit" in text and "Listrik padam 5 menit" in text
    for n in (1, 2, 3):
        assert f"Pengawas {n}" in text and f"19800101200501{n:04d}" in text

    _as_printed(page)
    _keep("berita-acara-print.png", page=page)
    assert page.get_by_test_id("count-registered").inner_text() == "8"
    assert page.get_by_test_id("count-present").inner_text() == "6"
    assert page.get_by_test_id("count-absent").inner_text() == "2"
    assert page.get_by_test_id("absentee").count() == 2
    signatures = page.get_by_test_id("sign-line")
    assert signatures.count() == 3  # one line for every proctor of the session
    assert not _outside(page, "[data-testid=sign-line], table.grid th, table.grid td")
    page.emulate_media(media="screen")
    expect(page.get_by_test_id("print")).to_be_visible()
    context.close()


def test_a_long_berita_acara_keeps_its_signatures_with_the_report(live_server: LiveServer, browser):  # type: ignore[no-untyped-def]
    """More events than a sheet holds: the second sheet carries the last events, the closing
    words and every signature together, never the signatures alone on an otherwise blank page."""
    app = live_server.app()
    lab = _session_held(app, participants=8, proctors=2, more_notes=11)
    context, page = _proctor_page(browser, live_server, lab)
    page.goto(f"{live_server.url}/proctor/sessions/{lab.id}/report")
    pdf = page.pdf(format="A4", print_background=True)
    _keep("berita-acara-panjang.pdf", pdf)
    pages = [" ".join(text.split()) for text in _pdf_texts(pdf)]
    assert len(pages) == 2, [len(t) for t in pages]
    last = pages[-1]
    assert "Demikian berita acara ini dibuat dengan sebenarnya." in last
    for n in (1, 2):
        assert f"Pengawas {n}," in last and f"19800101200501{n:04d}" in last
    assert "izin ke toilet" in last, last  # the last events come along
    context.close()


def test_cards_print_whole_several_to_a_sheet(live_server: LiveServer, browser):  # type: ignore[no-untyped-def]
    app = live_server.app()
    lab = make_session(app, participants=14, code="S-KARTU")
    context, page = _proctor_page(browser, live_server, lab)
    page.goto(f"{live_server.url}/proctor/sessions/{lab.id}")
    with context.expect_page() as opened:
        page.get_by_test_id("print-cards").click()
    cards = opened.value
    cards.set_default_timeout(TIMEOUT)
    cards.wait_for_load_state()
    expect(cards.get_by_test_id("exam-card")).to_have_count(14)

    # A print button in sight, wired to the browser's print.
    button = cards.get_by_test_id("print")
    expect(button).to_be_visible()
    cards.evaluate("window.print = () => { window.printed = true; }")
    button.click()
    assert cards.evaluate("window.printed === true")

    logins = [t.strip() for t in cards.get_by_test_id("card-login").all_inner_texts()]
    passwords = [t.strip() for t in cards.get_by_test_id("card-password").all_inner_texts()]
    pdf = cards.pdf(format="A4", print_background=True)
    _keep("kartu.pdf", pdf)
    pages = ["".join(text.split()) for text in _pdf_texts(pdf)]
    assert len(pages) <= math.ceil(14 / 4), len(pages)  # several cards to a sheet
    # No card is cut: its login and its password are printed on the same sheet.
    for number, password in zip(logins, passwords, strict=True):
        holding = [i for i, text in enumerate(pages) if number in text]
        assert len(holding) == 1, (number, holding)
        assert password in pages[holding[0]], (number, holding)
    _as_printed(cards)
    _keep("kartu-print.png", page=cards)
    expect(button).to_be_hidden()
    assert not _outside(cards, "[data-testid=exam-card]")
    context.close()
