"""A rehearsal of a small lab, as a real one runs it (issue 9, build item 8).

One live server (gunicorn on SQLite, headless Chromium), the shipped question banks imported with
``flask banks import question_banks``, and two days:

* **Preparation.** The admin creates the sessions on the "Buat sesi baru" form: day 1 holds
  BAT-TEK-WP, day 2 one room per other shipped battery (a new battery lands on day 2 by itself).
  Each proctor imports their roster (CSV) and prints the cards on the session page. The proctor
  of day 2 imports the day-1 participant X under a different name: X is enrolled, the name is not
  changed, the page says so. Day 1's proctor reprints the card of Y (lost): Y's old password stops
  working, the new one works, X's cards keep working. The proctor of day 2 cannot open day 1's
  session or monitor (404: a session that is not theirs looks like none, access.py; a 403
  would do as well).
* **Day 1.** X logs in with the day-1 card (printed before day 2's cards), the day-2 token is
  refused and the day-1 token leads to day 1's session; X takes BAT-TEK-WP to its last item in the
  browser with right answers, through every section with "Selesaikan bagian ini", and submits.
  Mid-test the proctor of day 2 resets X's login from day 2's monitor, and tries day 1's
  enrolment with a hand-made request: X's day-1 exam goes on untouched. Y takes it with the HTTP
  client (``tests.builders.Participant``: the app's test client on the server's database; the
  browser adds nothing there), leaving some items blank and some wrong.
* **Day 2.** X's day-1 card still opens day 1 only (its finish page). X logs in with the day-2
  card: day 1's token is refused, day 2's leads to day 2's
  session; X takes BAT-MANAJERIAL (the best option everywhere) to its last item, SK.01 included.
  W takes BAT-INTEGRITAS in the other room. Z stays away.
* **Assessor.** Every session's score sheet (the page) shows a score for every section and every
  competency of its battery for the participant who took it; the CSV (Indonesian Excel: ``;``
  and decimal commas) and the XLSX are read back and equal the scores stored for each person.

The server's clock cannot be moved (gunicorn runs in other processes on the system clock), so
time is moved the other way round: the sessions are created for their real dates (day 1 today
08:00–12:00, day 2 tomorrow), then "it is 08:30 on day 1" shifts every session's window by the
same amount so that day 1 opened 30 minutes ago, and "the next morning" shifts them all back by
another 24 hours (day 1 ended yesterday, day 2 opened 30 minutes ago). Nothing else is touched.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from flask import Flask
from openpyxl import load_workbook
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from cbt_server.accounts.service import create_user
from cbt_server.db import write_transaction
from cbt_server.models import (
    Attempt,
    AttemptItem,
    AttemptScore,
    Enrolment,
    ExamSession,
    LoginSession,
    User,
    db,
)
from tests.builders import Participant, keyed_positions
from tests.e2e.conftest import E2E_SECRET
from tests.e2e.exam_pages import TIMEOUT, VIEWPORT, login, wait_saved
from tests.live import REPO_ROOT, flask_command, server_env

BATTERIES_DIR = REPO_ROOT / "question_banks" / "batteries"
DAY_1_BATTERY = "BAT-TEK-WP"
LAB_ZONE = ZoneInfo("Asia/Jakarta")  # the server's default CBT_TIMEZONE (WIB)
STAFF_PASSWORD = "sandi-staf-lab"
#: the monitor polls every 3 s
MONITOR_TIMEOUT = 10_000


def _shipped() -> dict[str, dict[str, Any]]:
    """Every battery in question_banks/batteries/, by code."""
    found = {}
    for path in sorted(BATTERIES_DIR.glob("*.yaml")):
        definition = yaml.safe_load(path.read_text(encoding="utf-8"))
        found[definition["code"]] = definition
    return found


def _competencies(definition: dict[str, Any]) -> set[str]:
    return {rule["competency"] for s in definition["sections"] for rule in s["select"]}


# ---- the people --------------------------------------------------------------------------------

X_NIP, Y_NIP, Z_NIP, W_NIP = (
    "198703152010012001",
    "199002202015031002",
    "198511112009022003",
    "199107072019031004",
)
X_NAME = "Siti Rahmawati, S.Pd."
ROSTER_HEADER = ["NIP", "Nama", "Jabatan", "Unit Kerja", "Kursi"]
ROSTERS = {
    "day1": [
        [X_NIP, X_NAME, "JF-WP-AP", "LPMP Jawa Barat", "PC-01"],
        [Y_NIP, "Bambang Wijaya", "JF-WP-AM", "LPMP Jawa Barat", "PC-02"],
    ],
    # The proctor of day 2 has X under another name (the takeover attempt): X is enrolled, the
    # name stays.
    "day2": [
        [X_NIP, "Siti Rahma", "JF-WP-AP", "LPMP Jawa Barat", "PC-01"],
        [Z_NIP, "Dewi Lestari", "JF-WP-AP", "BBPMP Jawa Tengah", "PC-02"],
    ],
}
#: who sits each other room of day 2 (W in the first; a battery shipped later gets the next)
OTHER_ROOMS = [
    [W_NIP, "I Made Sutrisna", "JF-WP-AM", "LPMP Bali", "PC-01"],
    *[
        [f"19920808202012{n:04d}", f"Peserta Tambahan {n}", "JF-WP-AP", "LPMP Bali", "PC-01"]
        for n in range(1, 10)
    ],
]


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows([ROSTER_HEADER, *rows])
    return out.getvalue().encode("utf-8")


def _retrying(app: Flask, write: Callable[[], Any]) -> Any:
    """A write of the test's own (seeding, moving the sessions), tried again when SQLite is busy
    with the server's sweeper."""
    for attempt in range(5):
        try:
            with app.app_context():
                return write()
        except sa_exc.OperationalError as error:
            if "locked" not in str(error) or attempt == 4:
                raise
            with app.app_context():
                db.session.rollback()
            time.sleep(0.5)
    raise AssertionError("unreachable")


def _seed_staff(app: Flask, proctors: list[str]) -> None:
    """Staff accounts (there is no page for making them): an admin, one proctor per session and
    an assessor, all with ``STAFF_PASSWORD``."""

    def write() -> None:
        with write_transaction():
            create_user("admin-lab", STAFF_PASSWORD, "admin", "Admin Lab")
            create_user("asesor-lab", STAFF_PASSWORD, "assessor", "Asesor Lab")
            for name in proctors:
                create_user(name, STAFF_PASSWORD, "proctor", f"Pengawas {name[-1].upper()}")

    _retrying(app, write)


def _move_sessions(app: Flask, ids: list[int], delta: timedelta) -> None:
    """Time passes: every session's window moves by ``delta`` (see the module's docstring)."""

    def write() -> None:
        with write_transaction():
            for session in db.session.scalars(select(ExamSession).where(ExamSession.id.in_(ids))):
                session.starts_at += delta
                session.ends_at += delta

    _retrying(app, write)


def _starts_at(app: Flask, session_id: int) -> datetime:
    with app.app_context():
        moment = db.session.get(ExamSession, session_id).starts_at
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# ---- the browser ------------------------------------------------------------------------------


def _context(browser: Browser) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    return context, page


def _staff(browser: Browser, base: str, username: str) -> tuple[BrowserContext, Page]:
    context, page = _context(browser)
    login(page, base, username, STAFF_PASSWORD)
    expect(page).not_to_have_url(re.compile(r"/login"))
    return context, page


def _logs_in(browser: Browser, base: str, username: str, password: str) -> bool:
    """Whether a fresh PC gets past the login page with this card."""
    context, page = _context(browser)
    try:
        login(page, base, username, password)
        page.wait_for_load_state()
        if "/login" in page.url:
            expect(page.locator(".flash-error")).to_contain_text("kata sandi salah")
            return False
        return True
    finally:
        context.close()


def _create_session(
    page: Page, base: str, code: str, battery: str, day: datetime, proctor: str, room: str
) -> int:
    """The admin's "Buat sesi baru" form: 08:00–12:00 on ``day``, the token changed by hand."""
    page.goto(f"{base}/proctor/sessions/new")
    page.fill("#code", code)
    page.fill("#name", f"Uji {battery} {code}")
    value = page.locator("#battery option", has_text=f"({battery} v").first.get_attribute("value")
    page.select_option("#battery", value=value)
    page.fill("#room", room)
    page.fill("#day", day.strftime("%Y-%m-%d"))
    page.fill("#starts", "08:00")
    page.fill("#ends", "12:00")
    page.select_option("#proctors", label=[f"Pengawas {proctor[-1].upper()}"])
    page.fill("#rotate", "0")
    page.get_by_role("button", name="Simpan sesi").click()
    expect(page).to_have_url(re.compile(r"/proctor/sessions/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def _import_roster(page: Page, base: str, session_id: int, name: str, data: bytes) -> None:
    page.goto(f"{base}/proctor/sessions/{session_id}")
    page.set_input_files(
        "#roster-file", files=[{"name": name, "mimeType": "text/csv", "buffer": data}]
    )
    page.get_by_role("button", name="Impor daftar peserta").click()
    expect(page.locator(".flash-ok")).to_contain_text("peserta ditambahkan")


def _read_cards(cards: Page) -> dict[str, tuple[str, str]]:
    """NIP -> (participant number, password) from a cards page."""
    found = {}
    for card in cards.get_by_test_id("exam-card").all():
        nip = card.locator("tr", has_text="NIP").locator("td").inner_text().strip()
        found[nip] = (
            card.get_by_test_id("card-login").inner_text().strip(),
            card.get_by_test_id("card-password").inner_text().strip(),
        )
    return found


def _print_cards(page: Page, base: str, session_id: int) -> dict[str, tuple[str, str]]:
    """ "Buat & cetak kartu peserta": the cards open in a new tab."""
    page.goto(f"{base}/proctor/sessions/{session_id}")
    with page.context.expect_page() as opened:
        page.get_by_test_id("print-cards").click()
    cards = opened.value
    cards.wait_for_load_state()
    found = _read_cards(cards)
    cards.close()
    return found


def _reprint_card(page: Page, base: str, session_id: int, number: str, reason: str):  # type: ignore[no-untyped-def]
    page.goto(f"{base}/proctor/sessions/{session_id}")
    form = page.get_by_test_id("reprint-card")
    option = form.locator("option", has_text=number)
    form.locator("select").select_option(value=option.get_attribute("value"))
    form.locator("#reprint-reason").fill(reason)
    with page.context.expect_page() as opened:
        form.get_by_role("button", name="Cetak ulang kartu").click()
    cards = opened.value
    cards.wait_for_load_state()
    found = _read_cards(cards)
    cards.close()
    return found


def _token(page: Page, base: str, session_id: int) -> str:
    page.goto(f"{base}/proctor/sessions/{session_id}/monitor")
    token = page.get_by_test_id("session-token").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{4,12}", token), token
    return token


def _enter_token(page: Page, token: str) -> None:
    page.fill("#token", token)
    page.get_by_role("button", name="Lanjut").click()


# ---- taking a battery in the browser ----------------------------------------------------------


def _sections(app: Flask, attempt_id: int) -> list[list[int]]:
    with app.app_context():
        rows = db.session.execute(
            select(AttemptItem.position, AttemptItem.section_index)
            .where(AttemptItem.attempt_id == attempt_id)
            .order_by(AttemptItem.position)
        ).all()
    sections: dict[int, list[int]] = {}
    for position, index in rows:
        sections.setdefault(index, []).append(position)
    return [sections[i] for i in sorted(sections)]


def best(truth: dict[str, Any]) -> list[int] | str:
    """The best answer as shown-option indexes (or the text of a short answer): the key, the
    option of the highest weight, "Setuju" on a Likert item."""
    order = truth["order"]
    kind = truth["type"]
    if kind == "short":
        return truth["accept"][0]
    if kind == "weighted":
        weights = truth["weights"]
        return [order.index(max(weights, key=lambda label: weights[label]))]
    if kind == "likert":
        return [min(3, len(order) - 1)]
    return [order.index(label) for label in truth["key"]]


def _answer(page: Page, answer: list[int] | str) -> None:
    if isinstance(answer, str):
        box = page.get_by_test_id("short-answer")
        box.fill(answer)
        box.press("Tab")  # leaving the field sends the answer
        return
    for index in answer:
        option = page.get_by_test_id(f"option-{index}")
        option.click()
        expect(option).to_have_attribute("aria-checked", "true")


def take_to_the_end(
    page: Page,
    app: Flask,
    attempt_id: int,
    choose: Callable[[dict[str, Any]], list[int] | str] = best,
    meanwhile: Callable[[int], None] | None = None,
) -> int:
    """Answer every item of every section with the page's own buttons: each section's
    instructions, "Berikutnya" through the items, "Selesaikan bagian ini" (with its
    confirmation) on the last item of every section but the last; then the review (nothing
    left unanswered) and the submit dialog. ``meanwhile(n)`` runs after the first item of
    section ``n``. Returns the number of items."""
    truth = {t["position"]: t for t in keyed_positions(app, attempt_id)}
    sections = _sections(app, attempt_id)
    assert sum(len(s) for s in sections) == len(truth)
    for n, positions in enumerate(sections):
        start = page.get_by_test_id("btn-start-section")
        expect(start).to_be_visible()
        start.click()
        for i, position in enumerate(positions):
            expect(page.get_by_test_id(f"nav-{position}")).to_have_class(re.compile(r"\bcurrent\b"))
            _answer(page, choose(truth[position]))
            if i == 0 and meanwhile is not None:
                meanwhile(n)
            if i + 1 < len(positions):
                page.get_by_test_id("btn-next").click()
            elif n + 1 < len(sections):
                expect(page.get_by_test_id("btn-next")).to_be_hidden()
                page.get_by_test_id("btn-next-section").click()
                page.get_by_test_id("btn-confirm-finish-section").click()
            else:
                expect(page.get_by_test_id("btn-next-section")).to_be_hidden()
    wait_saved(page)
    page.get_by_test_id("btn-review").click()
    expect(page.get_by_test_id("review-total-answered")).to_have_text(str(len(truth)))
    expect(page.get_by_test_id("review-total-unanswered")).to_have_text("0")
    page.get_by_test_id("btn-submit").click()
    page.get_by_test_id("btn-confirm-submit").click()
    expect(page).to_have_url(re.compile(r"/exam/finish$"))
    return len(truth)


def _start(page: Page) -> int:
    """On the confirmation page: "Mulai ujian"; the attempt's id."""
    page.get_by_test_id("btn-start").click()
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    return int(page.locator("#exam").get_attribute("data-attempt-id") or 0)


# ---- what was stored ------------------------------------------------------------------------


def _attempt(app: Flask, attempt_id: int) -> Attempt:
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        db.session.expunge_all()
        return attempt


def _enrolment_id(app: Flask, session_id: int, nip: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(Enrolment.id)
            .join(User, User.id == Enrolment.user_id)
            .where(Enrolment.session_id == session_id, User.nip == nip)
        )


def _person(app: Flask, nip: str) -> tuple[str, str | None]:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.nip == nip))
        return user.full_name, user.unit


def _live_logins(app: Flask, enrolment_id: int) -> int:
    with app.app_context():
        return len(
            db.session.scalars(
                select(LoginSession.id).where(
                    LoginSession.enrolment_id == enrolment_id, LoginSession.revoked_at.is_(None)
                )
            ).all()
        )


def _expected_rows(app: Flask, session_id: int) -> dict[str, dict[str, Any]]:
    """Per NIP, what the score sheet must say: the stored scores, by column label."""
    from cbt_server.proctoring.reports import STATUS_LABELS

    expected: dict[str, dict[str, Any]] = {}
    with app.app_context():
        rows = db.session.execute(
            select(User, Attempt)
            .join(Enrolment, Enrolment.user_id == User.id)
            .outerjoin(Attempt, Attempt.enrolment_id == Enrolment.id)
            .where(Enrolment.session_id == session_id)
        ).all()
        for user, attempt in rows:
            row: dict[str, Any] = {
                "NIP": user.nip,
                "Nama": user.full_name,
                "Status": STATUS_LABELS[attempt.state if attempt else "absent"],
            }
            scores = (
                db.session.scalars(
                    select(AttemptScore).where(AttemptScore.attempt_id == attempt.id)
                ).all()
                if attempt
                else []
            )
            for score in scores:
                if score.scope == "section":
                    row[f"Bagian {score.code}"] = score.score
                elif score.scope == "competency":
                    row[f"{score.code} skor"] = score.score
                    row[f"{score.code} %"] = score.percent
                    if score.code.startswith("INT."):
                        row[f"{score.code} tanda"] = "VALIDITAS" if score.flagged else ""
                    else:
                        # a score that measures nothing (blank, at chance) has no level
                        row[f"{score.code} level"] = score.level if score.quality is None else None
                else:
                    row["Total"], row["Total maks"] = score.score, score.max_score
                    row["Total %"] = score.percent
            expected[user.nip] = row
    return expected


def _number(text: str) -> float:
    assert re.fullmatch(r"-?\d+(,\d{1,4})?", text), f"not an Indonesian number: {text!r}"
    return float(text.replace(",", "."))


def _check_csv(data: bytes, expected: dict[str, dict[str, Any]]) -> None:
    """The Indonesian CSV: BOM, ``;`` between fields, decimal commas, empty for no score."""
    assert data.startswith(b"\xef\xbb\xbf"), "no byte-order mark"
    text = data.decode("utf-8-sig")
    assert csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;").delimiter == ";"
    table = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))
    assert {r["NIP"] for r in table} == set(expected)
    for record in table:
        want = expected[record["NIP"]]
        for label, value in want.items():
            cell = record.get(label)
            assert cell is not None, f"no column {label!r}"
            if isinstance(value, float | int) and not isinstance(value, bool):
                assert abs(_number(cell) - value) < 1e-4, (record["NIP"], label, cell, value)
            else:
                assert cell == (value or ""), (record["NIP"], label, cell, value)
        if want["Status"] == "Tidak hadir":
            assert all(record[k] == "" for k in _score_labels(record)), record


def _score_labels(record: dict[str, Any]) -> list[str]:
    return [
        k
        for k in record
        if k.startswith(("Bagian ", "Total")) or k.endswith((" skor", " %", " level"))
    ]


def _check_xlsx(data: bytes, expected: dict[str, dict[str, Any]]) -> None:
    """The XLSX: title, subtitle, header on row 3; numbers as numbers (a % as its fraction)."""
    sheet = load_workbook(io.BytesIO(data), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert str(rows[0][0]).startswith("Lembar skor sesi")
    header = list(rows[2])
    table = [dict(zip(header, r, strict=False)) for r in rows[3:] if any(r)]
    assert {r["NIP"] for r in table} == set(expected)
    for record in table:
        want = expected[record["NIP"]]
        for label, value in want.items():
            assert label in record, f"no column {label!r}"
            cell = record[label]
            if isinstance(value, float | int) and not isinstance(value, bool):
                stored = value / 100 if label.endswith(" %") else value
                assert isinstance(cell, float | int), (record["NIP"], label, cell)
                assert abs(cell - stored) < 1e-6, (record["NIP"], label, cell, stored)
            else:
                assert (cell or "") == (value or ""), (record["NIP"], label, cell, value)
        if want["Status"] == "Tidak hadir":
            assert all(record[k] is None for k in _score_labels(record)), record


def _download(page: Page, test_id: str) -> bytes:
    with page.expect_download() as download:
        page.get_by_test_id(test_id).click()
    return Path(download.value.path()).read_bytes()


def _score_page(page: Page) -> dict[str, dict[str, str]]:
    """The score sheet on the page: per NIP, cell text by column label."""
    table = page.get_by_test_id("score-sheet")
    header = [th.strip() for th in table.locator("thead th").all_inner_texts()]
    rows = {}
    for tr in table.locator("tbody tr").all():
        cells = [td.strip() for td in tr.locator("td").all_inner_texts()]
        if len(cells) == len(header):
            rows[cells[0]] = dict(zip(header, cells, strict=True))
    return rows


# ---- the rehearsal ---------------------------------------------------------------------------


def test_a_small_lab_over_two_days(live_server, browser):  # type: ignore[no-untyped-def]
    base = live_server.url
    flask_command(
        server_env(live_server.instance, live_server.database_url, E2E_SECRET),
        "banks",
        "import",
        str(REPO_ROOT / "question_banks"),
    )
    app = live_server.app()
    shipped = _shipped()
    assert DAY_1_BATTERY in shipped and len(shipped) >= 3, sorted(shipped)
    day2_batteries = [code for code in sorted(shipped) if code != DAY_1_BATTERY]
    proctors = ["pengawas-a", "pengawas-b"] + [
        f"pengawas-{chr(ord('c') + n)}" for n in range(len(day2_batteries) - 1)
    ]
    _seed_staff(app, proctors)

    # ---- preparation: sessions on their dates, rosters, cards -----------------------------
    admin_context, admin = _staff(browser, base, "admin-lab")
    today = datetime.now(LAB_ZONE)
    s1 = _create_session(admin, base, "H1-TEK", DAY_1_BATTERY, today, proctors[0], "Lab 1")
    day2: dict[str, int] = {}
    for n, battery in enumerate(day2_batteries):
        day2[battery] = _create_session(
            admin,
            base,
            f"H2-R{n + 1}",
            battery,
            today + timedelta(days=1),
            proctors[n + 1],
            f"Lab {n + 1}",
        )
    admin_context.close()
    s2 = day2["BAT-MANAJERIAL"]  # X's day-2 session; X's day 1 is s1
    all_sessions = [s1, *day2.values()]
    proctor_of = {s1: proctors[0], **{sid: proctors[n + 1] for n, sid in enumerate(day2.values())}}

    a_context, proctor_a = _staff(browser, base, proctor_of[s1])
    b_context, proctor_b = _staff(browser, base, proctor_of[s2])
    _import_roster(proctor_a, base, s1, "peserta-hari-1.csv", _csv(ROSTERS["day1"]))
    cards1 = _print_cards(proctor_a, base, s1)
    assert set(cards1) == {X_NIP, Y_NIP}

    # The proctor of day 2 imports X under another name: enrolled, the name not changed.
    proctor_b.goto(f"{base}/proctor/sessions/{s2}")
    proctor_b.set_input_files(
        "#roster-file",
        files=[{"name": "peserta-h2.csv", "mimeType": "text/csv", "buffer": _csv(ROSTERS["day2"])}],
    )
    proctor_b.get_by_role("button", name="Impor daftar peserta").click()
    notices = proctor_b.get_by_test_id("roster-notices")
    expect(notices).to_contain_text(X_NIP)
    expect(notices).to_contain_text("Siti Rahma")
    assert _person(app, X_NIP) == (X_NAME, "LPMP Jawa Barat")
    cards2 = _print_cards(proctor_b, base, s2)  # after day 1's cards
    assert set(cards2) == {X_NIP, Z_NIP}
    assert cards2[X_NIP][0] != cards1[X_NIP][0]  # a card per enrolment
    # The other rooms of day 2: one participant each.
    other_rooms = [sid for sid in day2.values() if sid != s2]
    room_cards: dict[int, tuple[str, tuple[str, str]]] = {}
    for row, sid in zip(OTHER_ROOMS, other_rooms, strict=False):
        c_context, proctor_c = _staff(browser, base, proctor_of[sid])
        _import_roster(proctor_c, base, sid, f"peserta-{sid}.csv", _csv([row]))
        room_cards[sid] = (row[0], _print_cards(proctor_c, base, sid)[row[0]])
        c_context.close()

    # The proctor of day 2 cannot open day 1's session, its monitor or its data.
    for path in ("", "/monitor", "/monitor.json"):
        response = proctor_b.goto(f"{base}/proctor/sessions/{s1}{path}")
        assert response is not None and response.status in (403, 404), (path, response.status)

    # Y's card is lost: reprinted, the old password stops working, the new one works, and
    # nobody else's card changes.
    y_number, y_old = cards1[Y_NIP]
    reprinted = _reprint_card(proctor_a, base, s1, y_number, "Kartu hilang di perjalanan")
    assert list(reprinted) == [Y_NIP]
    y_number_again, y_new = reprinted[Y_NIP]
    assert y_number_again == y_number and y_new != y_old
    assert not _logs_in(browser, base, y_number, y_old)
    assert _logs_in(browser, base, y_number, y_new)
    assert _logs_in(browser, base, *cards2[X_NIP])  # X's day-2 card: untouched

    # ---- day 1, 08:30 -----------------------------------------------------------------------
    _move_sessions(
        app, all_sessions, datetime.now(UTC) - (_starts_at(app, s1) + timedelta(minutes=30))
    )
    token1 = _token(proctor_a, base, s1)
    token2 = _token(proctor_b, base, s2)
    assert token1 != token2

    # X's day-1 card (printed before day 2's) still works, and leads to day 1 only.
    x_context, x_page = _context(browser)
    login(x_page, base, *cards1[X_NIP])
    expect(x_page.locator("main")).to_contain_text("H1-TEK")
    _enter_token(x_page, token2)
    expect(x_page.get_by_role("alert")).to_contain_text("Token salah")
    expect(x_page).not_to_have_url(re.compile(r"/exam/confirm"))
    _enter_token(x_page, token1)
    expect(x_page).to_have_url(re.compile(r"/exam/confirm$"))
    expect(x_page.locator("main")).to_contain_text("H1-TEK")
    expect(x_page.get_by_test_id("who-name")).to_have_text(X_NAME)
    x1 = _start(x_page)
    x1_enrolment = _enrolment_id(app, s1, X_NIP)
    x2_enrolment = _enrolment_id(app, s2, X_NIP)
    assert _live_logins(app, x1_enrolment) == 1

    def takeover(section: int) -> None:
        """While X works on day 1's second section, the proctor of day 2 resets X from day 2's
        monitor and tries day 1's enrolment by hand: X's day-1 login is not touched."""
        if section != 1:
            return
        proctor_b.goto(f"{base}/proctor/sessions/{s2}/monitor")
        seat = proctor_b.get_by_test_id(f"seat-{cards2[X_NIP][0]}")
        expect(seat).to_be_visible(timeout=MONITOR_TIMEOUT)
        seat.get_by_test_id("select").check()
        proctor_b.get_by_test_id("act-reset").click()
        expect(proctor_b.get_by_test_id("act-dialog")).to_be_visible()
        proctor_b.get_by_test_id("act-reason").fill("Pindah PC (percobaan sesi lain)")
        proctor_b.get_by_test_id("dialog-confirm").click()
        # Refused, or done for day 2's enrolment only: either way X's day-1 login stays.
        result = proctor_b.get_by_test_id("act-result")
        expect(result).to_have_text(re.compile(r"\S"))
        expect(result).not_to_have_text(re.compile(r"Mengirim"))
        csrf = proctor_b.locator('input[name="csrf_token"]').first.get_attribute("value") or ""
        for target, wanted in ((s2, 400), (s1, 404)):
            response = proctor_b.request.post(
                f"{base}/proctor/sessions/{target}/act/reset_login",
                form={"csrf_token": csrf, "enrolment_ids": str(x1_enrolment), "reason": "ambil"},
                headers={"Accept": "application/json"},
            )
            assert response.status in (wanted, 403), (target, response.status)
        assert _live_logins(app, x1_enrolment) == 1
        assert _attempt(app, x1).device_hash is not None

    items = take_to_the_end(x_page, app, x1, meanwhile=takeover)
    expect(x_page.get_by_test_id("error-dialog")).to_be_hidden()
    attempt = _attempt(app, x1)
    assert attempt.state == "submitted" and attempt.enrolment_id == x1_enrolment
    assert attempt.total_score == attempt.total_max  # every answer right
    shown = f"{attempt.total_score:.2f}".replace(".", ",")
    expect(x_page.get_by_test_id("score")).to_contain_text(f"{shown} dari {shown}")
    x_context.close()

    # Y takes day 1 with the reprinted card, through the HTTP client: some blank, some wrong.
    y = Participant(app, y_number, y_new)
    y_attempt = y.begin(token1)
    truth = {t["position"]: t for t in keyed_positions(app, y_attempt["id"])}
    sections = _sections(app, y_attempt["id"])
    seq = 0
    for index, positions in enumerate(sections):
        for position in positions:
            t = truth[position]
            if position % 3 == 0:
                continue
            if position % 3 == 1:
                answer = best(t)
            elif t["type"] == "short":
                answer = "tidak tahu"
            else:
                answer = [next(i for i, label in enumerate(t["order"]) if label not in t["key"])]
            seq += 1
            assert y.save(position, answer, seq).status_code == 200
        if index + 1 < len(sections):
            assert y.post(f"/sections/{index}/finish").status_code == 200
    assert y.post("/submit").status_code == 200
    assert _attempt(app, y_attempt["id"]).total_score < attempt.total_score

    # ---- day 2, the next morning --------------------------------------------------------------
    _move_sessions(app, all_sessions, timedelta(days=-1))
    token2 = _token(proctor_b, base, s2)
    # X's day-1 card still opens day 1 only: its finished test, not day 2's token page.
    x_context, x_page = _context(browser)
    login(x_page, base, *cards1[X_NIP])
    expect(x_page).to_have_url(re.compile(r"/exam/finish$"))
    x_context.close()
    x_context, x_page = _context(browser)
    login(x_page, base, *cards2[X_NIP])
    expect(x_page.locator("main")).to_contain_text("Uji BAT-MANAJERIAL")
    _enter_token(x_page, token1)  # yesterday's token: not this session's
    expect(x_page.get_by_role("alert")).to_contain_text("Token salah")
    _enter_token(x_page, token2)
    expect(x_page).to_have_url(re.compile(r"/exam/confirm$"))
    expect(x_page.get_by_test_id("who-name")).to_have_text(X_NAME)  # not "Siti Rahma"
    x2 = _start(x_page)
    assert _attempt(app, x2).enrolment_id == x2_enrolment
    items += take_to_the_end(x_page, app, x2)
    assert _attempt(app, x2).state == "submitted"
    x_context.close()

    # W (and whoever sits a room of a battery shipped later) in the other rooms of day 2.
    for sid, (_nip, card) in room_cards.items():
        c_context, proctor_c = _staff(browser, base, proctor_of[sid])
        room_token = _token(proctor_c, base, sid)
        c_context.close()
        w_context, w_page = _context(browser)
        login(w_page, base, *card)
        _enter_token(w_page, room_token)
        attempt_id = _start(w_page)
        items += take_to_the_end(w_page, app, attempt_id)
        assert _attempt(app, attempt_id).state == "submitted"
        w_context.close()
    a_context.close()
    b_context.close()

    # ---- the assessor: score sheets, then the downloads read back ----------------------------
    taker = {s1: X_NIP, s2: X_NIP, **{sid: nip for sid, (nip, _) in room_cards.items()}}
    assert set(taker) == set(all_sessions)  # every shipped battery was taken
    battery_of = {s1: DAY_1_BATTERY, **{sid: code for code, sid in day2.items()}}
    assessor_context, assessor = _staff(browser, base, "asesor-lab")
    for sid, nip in taker.items():
        definition = shipped[battery_of[sid]]
        assessor.goto(f"{base}/assessor/sessions/{sid}/scores")
        row = _score_page(assessor)[nip]
        assert row["Nama"] == X_NAME or nip != X_NIP
        wanted = [f"Bagian {s['code']}" for s in definition["sections"]]
        wanted += [f"{code} skor" for code in sorted(_competencies(definition))]
        missing = [label for label in wanted if row.get(label, "—") == "—"]
        assert not missing, (battery_of[sid], missing)
        if battery_of[sid] in ("BAT-TEK-WP", "BAT-MANAJERIAL"):  # the best answer everywhere
            levels = {code: row[f"{code} level"] for code in _competencies(definition)}
            assert set(levels.values()) == {"5"}, levels
        expected = _expected_rows(app, sid)
        _check_csv(_download(assessor, "download-csv"), expected)
        _check_xlsx(_download(assessor, "download-xlsx"), expected)
    assessor_context.close()
